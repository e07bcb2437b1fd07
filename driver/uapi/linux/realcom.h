/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * realcom: the interface between realcom.ko and realcomd.
 *
 * /dev/realcom is a misc device.  Each open file stands for one port: after
 * REALCOM_IOC_BIND the kernel creates /dev/ttyR<index>, and closing the file
 * hangs up that tty and removes it.  Then read() and write() carry framed
 * messages, a struct realcom_hdr followed by hdr.len payload bytes.  read()
 * returns whole messages only (as many as fit); write() takes whole messages
 * only.
 *
 * Control is state (REALCOM_FEAT_CTRL_STATE, docs/uapi.md): the kernel keeps
 * the latest wanted line settings, modem lines, break, flush and XON/XOFF,
 * and each read() starts with every item that changed since the last one,
 * in the order of enum realcom_msg_type's comments below (CLOSE, OPEN,
 * FLUSH, MODEM, BREAK, XCHAR, LINE), then TX data.  Control never waits
 * behind queued data and costs nothing while the daemon does not read; a
 * DTR pulse or a break switched on and off before the daemon read reaches it
 * as two messages.  A DRAIN comes after the data it waits for.  TX_HOLD
 * (REALCOM_FEAT_TX_HOLD) asks for control only while the device takes no
 * data.  poll(): POLLIN when messages wait, POLLOUT when the
 * tty can take received data.  Multi-byte fields are in host byte order.
 * Reserved fields and padding must be zero; the kernel refuses them
 * otherwise (-EINVAL), so they can be given meaning later.
 *
 * A read() returns at most 16 KiB and needs room for at least the next
 * message; TX_DATA may be split anywhere.  A short write() return means the
 * messages before that point were applied.  After OPEN the kernel sends
 * LINE and MODEM with the full current state.  The device's output queue
 * (OQUEUE, and DRAIN_DONE's remaining) counts in TIOCOUTQ and keeps close
 * and tcdrain waiting while non-zero: the daemon reports 0 once it is empty.
 */
#ifndef _UAPI_LINUX_REALCOM_H
#define _UAPI_LINUX_REALCOM_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * REALCOM_IOC_VERSION is the handshake: api_version changes only when a
 * message or field changes meaning (a daemon refuses a version it was not
 * built for); everything added later is announced by a bit in features, and
 * a daemon checks the bits it needs and uses the ones it knows.  A newer
 * kernel keeps the bits it had, so an older daemon keeps working.  Version 2
 * is the first with feature bits and this ioctl magic.
 */
#define REALCOM_API_VERSION	2
#define REALCOM_MAX_PORTS	256
#define REALCOM_MAX_PAYLOAD	4096

/* REALCOM_IOC_VERSION */
struct realcom_version {
	__u32 api_version;	/* REALCOM_API_VERSION */
	__u32 features;		/* REALCOM_FEAT_*; unknown bits are to be ignored */
	__u32 reserved[6];
};

/* the kernel hands control over as state, ahead of queued data */
#define REALCOM_FEAT_CTRL_STATE	0x00000001u
/* REALCOM_MSG_TX_HOLD is understood */
#define REALCOM_FEAT_TX_HOLD	0x00000002u
/* tcsendbreak() comes as one BREAK with its duration, not as on/off */
#define REALCOM_FEAT_TIMED_BREAK	0x00000004u
/* REALCOM_MSG_LINE_APPLIED is understood: refused settings show in termios */
#define REALCOM_FEAT_LINE_APPLIED	0x00000008u

/* REALCOM_IOC_BIND */
#define REALCOM_LABEL_SIZE	64

struct realcom_bind {
	__u32 index;		/* N of /dev/ttyR<N>, below REALCOM_MAX_PORTS */
	__u32 flags;		/* none yet: 0 */
	/*
	 * The tty's sysfs attribute "label" (udev names the port by it):
	 * [A-Za-z0-9._-], NUL-terminated and zero-filled; empty for none.
	 */
	char label[REALCOM_LABEL_SIZE];
	__u32 reserved[6];
};

/*
 * 0xE7: free in Documentation/userspace-api/ioctl/ioctl-number.rst (6.1) and
 * in 6.12's uapi headers.  Version 1 used 0xE5, which is FUSE's.
 */
#define REALCOM_IOC_MAGIC	0xE7
#define REALCOM_IOC_VERSION	_IOR(REALCOM_IOC_MAGIC, 0x00, struct realcom_version)
#define REALCOM_IOC_BIND	_IOW(REALCOM_IOC_MAGIC, 0x01, struct realcom_bind)

struct realcom_hdr {
	__u16 type;		/* enum realcom_msg_type */
	__u16 len;		/* payload bytes after the header, <= REALCOM_MAX_PAYLOAD */
};

enum realcom_msg_type {
	/* kernel -> daemon */
	REALCOM_MSG_TX_DATA = 0x01,	/* bytes the application wrote */
	REALCOM_MSG_OPEN = 0x02,	/* first open of the tty; no payload */
	REALCOM_MSG_CLOSE = 0x03,	/* last close; no payload */
	REALCOM_MSG_LINE = 0x04,	/* struct realcom_line: termios changed */
	REALCOM_MSG_MODEM = 0x05,	/* struct realcom_modem: DTR/RTS to set */
	REALCOM_MSG_BREAK = 0x06,	/* struct realcom_break */
	REALCOM_MSG_FLUSH = 0x07,	/* struct realcom_flush */
	REALCOM_MSG_DRAIN = 0x08,	/* struct realcom_drain: tcdrain() waits for DRAIN_DONE */
	REALCOM_MSG_XCHAR = 0x09,	/* struct realcom_xchar: send XON/XOFF now */

	/* daemon -> kernel */
	REALCOM_MSG_RX_DATA = 0x81,	/* bytes for the application */
	REALCOM_MSG_MODEM_STATUS = 0x82, /* struct realcom_modem: CTS/DSR/DCD/RI */
	REALCOM_MSG_LINE_EVENT = 0x83,	/* struct realcom_line_event */
	REALCOM_MSG_DRAIN_DONE = 0x84,	/* struct realcom_drain_done */
	REALCOM_MSG_LINK = 0x85,	/* struct realcom_link */
	REALCOM_MSG_OQUEUE = 0x86,	/* struct realcom_oqueue: bytes the device holds */
	REALCOM_MSG_TX_HOLD = 0x87,	/* struct realcom_tx_hold: control only, or all */
	REALCOM_MSG_LINE_APPLIED = 0x88, /* struct realcom_line: what is in effect */
};

#define REALCOM_PARITY_NONE	0
#define REALCOM_PARITY_ODD	1
#define REALCOM_PARITY_EVEN	2
#define REALCOM_PARITY_MARK	3
#define REALCOM_PARITY_SPACE	4

#define REALCOM_STOP_1		1
#define REALCOM_STOP_2		2

#define REALCOM_FLOW_CTS	0x01	/* obey CTS */
#define REALCOM_FLOW_RTS	0x02	/* drive RTS by the receive buffer */
#define REALCOM_FLOW_IXON	0x04
#define REALCOM_FLOW_IXOFF	0x08

/* Our own line settings, never struct ktermios. */
struct realcom_line {
	__u32 baud;		/* bits per second, any value */
	__u8 data_bits;		/* 5..8 */
	__u8 parity;		/* REALCOM_PARITY_* */
	__u8 stop_bits;		/* REALCOM_STOP_* */
	__u8 flow;		/* REALCOM_FLOW_* */
	__u8 xon;
	__u8 xoff;
	__u8 pad[2];
};

#define REALCOM_MODEM_DTR	0x01
#define REALCOM_MODEM_RTS	0x02
#define REALCOM_MODEM_CTS	0x10
#define REALCOM_MODEM_DSR	0x20
#define REALCOM_MODEM_RI	0x40
#define REALCOM_MODEM_DCD	0x80

struct realcom_modem {
	__u8 lines;		/* REALCOM_MODEM_*: outputs in MODEM, inputs in MODEM_STATUS */
	__u8 pad[3];
};

#define REALCOM_BREAK_ON	0		/* hold break until BREAK_OFF */
#define REALCOM_BREAK_OFF	0xFFFFFFFFu

struct realcom_break {
	__u32 ms;		/* REALCOM_BREAK_ON, _OFF, or a timed break in ms (TIMED_BREAK) */
};

#define REALCOM_FLUSH_RX	0x01
#define REALCOM_FLUSH_TX	0x02

struct realcom_flush {
	__u8 which;		/* REALCOM_FLUSH_* */
	__u8 pad[3];
};

struct realcom_drain {
	__u32 cookie;		/* echoed in DRAIN_DONE */
	__u32 timeout_ms;
};

struct realcom_xchar {
	__u8 ch;
	__u8 pad[3];
};

#define REALCOM_EV_PARITY	0x01
#define REALCOM_EV_FRAMING	0x02
#define REALCOM_EV_OVERRUN	0x04
#define REALCOM_EV_BREAK	0x10	/* delivered to the tty as a NUL with TTY_BREAK */

struct realcom_line_event {
	__u8 events;		/* REALCOM_EV_* */
	__u8 pad[3];
};

struct realcom_drain_done {
	__u32 cookie;
	__u32 remaining;	/* bytes the device still held; 0: drained */
};

struct realcom_link {
	__u8 up;		/* 0: the device is unreachable (ttys without CLOCAL hang up) */
	__u8 pad[3];
};

struct realcom_oqueue {
	__u32 bytes;
};

struct realcom_tx_hold {
	__u8 hold;		/* 1: read() returns control messages only; 0: TX data too */
	__u8 pad[3];
};

#endif /* _UAPI_LINUX_REALCOM_H */
