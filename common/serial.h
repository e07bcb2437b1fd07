/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Serial line settings and modem line bits, in our own terms.
 * Both protocol codecs (aspp, rfc2217) translate to and from these, and the
 * daemon's backends fill them from termios or the kernel uAPI.  Nothing here
 * knows about any wire format.
 */
#ifndef REALCOM_SERIAL_H
#define REALCOM_SERIAL_H

#include <stdbool.h>
#include <stdint.h>

enum serial_parity {
	SERIAL_PARITY_NONE = 0,
	SERIAL_PARITY_ODD,
	SERIAL_PARITY_EVEN,
	SERIAL_PARITY_MARK,
	SERIAL_PARITY_SPACE,
};

enum serial_stop {
	SERIAL_STOP_1 = 1,
	SERIAL_STOP_2 = 2,
	SERIAL_STOP_1_5 = 3,	/* RFC 2217 only; Real COM has no such code */
};

/* struct serial_line.flow bits */
#define SERIAL_FLOW_CTS		0x01	/* obey CTS (hardware output flow) */
#define SERIAL_FLOW_RTS		0x02	/* drive RTS (hardware input flow) */
#define SERIAL_FLOW_IXON	0x04	/* obey XON/XOFF received */
#define SERIAL_FLOW_IXOFF	0x08	/* send XON/XOFF */

/* Modem lines: outputs (DTR, RTS) and inputs (CTS, DSR, DCD, RI). */
#define SERIAL_MODEM_DTR	0x01
#define SERIAL_MODEM_RTS	0x02
#define SERIAL_MODEM_CTS	0x10
#define SERIAL_MODEM_DSR	0x20
#define SERIAL_MODEM_RI		0x40
#define SERIAL_MODEM_DCD	0x80

#define SERIAL_XON_DEFAULT	0x11
#define SERIAL_XOFF_DEFAULT	0x13

struct serial_line {
	uint32_t baud;		/* bits per second, any value */
	uint8_t data_bits;	/* 5..8 */
	uint8_t parity;		/* enum serial_parity */
	uint8_t stop_bits;	/* enum serial_stop */
	uint8_t flow;		/* SERIAL_FLOW_* */
	uint8_t xon;
	uint8_t xoff;
	uint8_t modem;		/* SERIAL_MODEM_DTR | SERIAL_MODEM_RTS wanted */
};

/* 9600 8N1, no flow control, DTR and RTS on: what a UART opens with. */
void serial_line_default(struct serial_line *line);

/* "none", "odd", "even", "mark", "space" */
const char *serial_parity_name(uint8_t parity);

/* Whether every field holds a value the codecs can encode. */
bool serial_line_valid(const struct serial_line *line);

#endif
