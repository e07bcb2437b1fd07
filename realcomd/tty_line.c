// SPDX-License-Identifier: GPL-2.0-or-later
/* termios2 <-> struct serial_line; see tty_line.h. */
#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <errno.h>
#include <stddef.h>

#include "tty_line.h"

int ioctl(int fd, unsigned long request, ...);

int tty_line_get(int fd, struct serial_line *l)
{
	struct termios2 t;

	if (ioctl(fd, TCGETS2, &t) < 0)
		return -errno;
	l->baud = t.c_ospeed;
	switch (t.c_cflag & CSIZE) {
	case CS5: l->data_bits = 5; break;
	case CS6: l->data_bits = 6; break;
	case CS7: l->data_bits = 7; break;
	default: l->data_bits = 8; break;
	}
	if (!(t.c_cflag & PARENB))
		l->parity = SERIAL_PARITY_NONE;
	else if (t.c_cflag & CMSPAR)
		l->parity = t.c_cflag & PARODD ? SERIAL_PARITY_MARK : SERIAL_PARITY_SPACE;
	else
		l->parity = t.c_cflag & PARODD ? SERIAL_PARITY_ODD : SERIAL_PARITY_EVEN;
	l->stop_bits = t.c_cflag & CSTOPB ? SERIAL_STOP_2 : SERIAL_STOP_1;
	l->flow = (uint8_t)((t.c_cflag & CRTSCTS ? SERIAL_FLOW_CTS | SERIAL_FLOW_RTS : 0) |
			    (t.c_iflag & IXON ? SERIAL_FLOW_IXON : 0) |
			    (t.c_iflag & IXOFF ? SERIAL_FLOW_IXOFF : 0));
	l->xon = t.c_cc[VSTART];
	l->xoff = t.c_cc[VSTOP];
	return 0;
}

/* A standard rate's Bnnn, BOTHER for the rest: cfgetospeed() of the
 * classic termios reads the constant, not the rate. */
static tcflag_t tty_line_cbaud(uint32_t baud)
{
	static const struct { uint32_t baud; tcflag_t code; } std[] = {
		{ 50, B50 }, { 75, B75 }, { 110, B110 }, { 134, B134 }, { 150, B150 },
		{ 200, B200 }, { 300, B300 }, { 600, B600 }, { 1200, B1200 },
		{ 1800, B1800 }, { 2400, B2400 }, { 4800, B4800 }, { 9600, B9600 },
		{ 19200, B19200 }, { 38400, B38400 }, { 57600, B57600 },
		{ 115200, B115200 }, { 230400, B230400 }, { 460800, B460800 },
		{ 500000, B500000 }, { 576000, B576000 }, { 921600, B921600 },
		{ 1000000, B1000000 }, { 1152000, B1152000 }, { 1500000, B1500000 },
		{ 2000000, B2000000 }, { 2500000, B2500000 }, { 3000000, B3000000 },
		{ 3500000, B3500000 }, { 4000000, B4000000 },
	};

	for (size_t i = 0; i < sizeof(std) / sizeof(std[0]); i++)
		if (std[i].baud == baud)
			return std[i].code;
	return BOTHER;
}

int tty_line_set(int fd, const struct serial_line *l)
{
	static const tcflag_t sizes[] = { CS5, CS6, CS7, CS8 };
	struct termios2 t;

	if (ioctl(fd, TCGETS2, &t) < 0)
		return -errno;
	t.c_cflag &= ~(tcflag_t)(CBAUD | CSIZE | PARENB | PARODD | CMSPAR | CSTOPB | CRTSCTS);
	t.c_cflag |= tty_line_cbaud(l->baud) | sizes[(l->data_bits - 5) & 3];
	t.c_ispeed = t.c_ospeed = l->baud;
	if (l->parity != SERIAL_PARITY_NONE)
		t.c_cflag |= PARENB;
	if (l->parity == SERIAL_PARITY_ODD || l->parity == SERIAL_PARITY_MARK)
		t.c_cflag |= PARODD;
	if (l->parity == SERIAL_PARITY_MARK || l->parity == SERIAL_PARITY_SPACE)
		t.c_cflag |= CMSPAR;
	if (l->stop_bits != SERIAL_STOP_1)
		t.c_cflag |= CSTOPB;
	if (l->flow & SERIAL_FLOW_CTS)
		t.c_cflag |= CRTSCTS;
	/* c_iflag's IXON/IXOFF and VSTART/VSTOP are the line discipline's:
	 * it acts on them on this side, whatever the device took. */
	return ioctl(fd, TCSETS2, &t) < 0 ? -errno : 0;
}
