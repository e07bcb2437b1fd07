/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Real COM (ASPP) command codec, both roles: the host's encoders and reply
 * parser, and the device's command parser and reply encoders (nportsim).
 * Wire facts: docs/realcom-protocol.md.  No I/O, no allocation:
 * encoders write into caller-owned buffers and parsers read from them.
 */
#ifndef REALCOM_ASPP_H
#define REALCOM_ASPP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serial.h"

enum aspp_cmd {
	ASPP_IOCTL = 0x10,
	ASPP_FLOWCTRL = 0x11,
	ASPP_LINECTRL = 0x12,
	ASPP_LSTATUS = 0x13,
	ASPP_FLUSH = 0x14,
	ASPP_IQUEUE = 0x15,
	ASPP_OQUEUE = 0x16,
	ASPP_SETBAUD = 0x17,
	ASPP_XONXOFF = 0x18,
	ASPP_PORT_RESET = 0x20,
	ASPP_START_BREAK = 0x21,
	ASPP_STOP_BREAK = 0x22,
	ASPP_BREAKSEND = 0x23,
	ASPP_START_NOTIFY = 0x24,
	ASPP_STOP_NOTIFY = 0x25,
	ASPP_NOTIFY = 0x26,
	ASPP_POLLING = 0x27,
	ASPP_ALIVE = 0x28,
	ASPP_PORT_INIT = 0x2C,
	ASPP_WAIT_OQUEUE = 0x2F,
	ASPP_TX_FIFO = 0x30,
	ASPP_SETXON = 0x33,
	ASPP_SETXOFF = 0x34,
	ASPP_BREAK_COUNT = 0x37,
	ASPP_DATA_STATUS = 0x38,
};

/* PORT_INIT / IOCTL mode byte */
#define ASPP_MODE_CS5		0x00
#define ASPP_MODE_CS6		0x01
#define ASPP_MODE_CS7		0x02
#define ASPP_MODE_CS8		0x03
#define ASPP_MODE_CSIZE		0x03
#define ASPP_MODE_STOP2		0x04
#define ASPP_MODE_PARITY_NONE	0x00
#define ASPP_MODE_PARITY_EVEN	0x08
#define ASPP_MODE_PARITY_ODD	0x10
#define ASPP_MODE_PARITY_MARK	0x18
#define ASPP_MODE_PARITY_SPACE	0x20
#define ASPP_MODE_PARITY	0x38

/* FLUSH argument */
#define ASPP_FLUSH_RX		0
#define ASPP_FLUSH_TX		1
#define ASPP_FLUSH_BOTH		2

/* NOTIFY events byte */
#define ASPP_EV_PARITY		0x01
#define ASPP_EV_FRAMING		0x02
#define ASPP_EV_HW_OVERRUN	0x04
#define ASPP_EV_SW_OVERRUN	0x08
#define ASPP_EV_BREAK		0x10
#define ASPP_EV_MODEM		0x20

/* NOTIFY msr byte: high nibble state, low nibble changed */
#define ASPP_MSR_CTS		0x10
#define ASPP_MSR_DSR		0x20
#define ASPP_MSR_RI		0x40
#define ASPP_MSR_DCD		0x80
#define ASPP_MSR_DCTS		0x01
#define ASPP_MSR_DDSR		0x02
#define ASPP_MSR_DRI		0x04
#define ASPP_MSR_DDCD		0x08

/* NOTIFY hold byte */
#define ASPP_HOLD_CTS		0x01
#define ASPP_HOLD_DSR		0x02
#define ASPP_HOLD_DCD		0x04
#define ASPP_HOLD_XOFF_RCVD	0x08
#define ASPP_HOLD_XOFF_SENT	0x10
#define ASPP_HOLD_ALWAYS	0x80

#define ASPP_BAUD_CUSTOM	0xFF	/* index meaning "a SETBAUD follows" */
#define ASPP_SETBAUD_MIN	50
#define ASPP_SETBAUD_MAX	921600
#define ASPP_BREAKSEND_MIN_MS	10
#define ASPP_BREAKSEND_MAX_MS	1000
#define ASPP_PORT_RESET_MAGIC	"16a"

/* Longest single message either way: code, length byte, 255 payload bytes. */
#define ASPP_MSG_MAX		257
/* Longest output of aspp_encode_line(): PORT_INIT + SETBAUD + XONXOFF. */
#define ASPP_LINE_MAX		(10 + 6 + 4)

/* Baud rate <-> table index; aspp_baud_index() returns ASPP_BAUD_CUSTOM when
 * the rate is not in the table, aspp_index_baud() 0 for an unknown index. */
uint8_t aspp_baud_index(uint32_t baud);
uint32_t aspp_index_baud(uint8_t index);

/* The PORT_INIT mode byte for a line, and back. */
uint8_t aspp_mode_byte(const struct serial_line *line);
void aspp_mode_apply(uint8_t mode, struct serial_line *line);

/*
 * Host -> device encoders.  Each writes one command into out[0..cap) and
 * returns its length, or -ENOSPC when cap is too small, or -EINVAL for a
 * value the wire cannot carry (e.g. BREAKSEND outside 10..1000 ms).
 */
int aspp_encode(uint8_t *out, size_t cap, uint8_t cmd, const uint8_t *payload, size_t n);
int aspp_encode_port_init(uint8_t *out, size_t cap, const struct serial_line *line);
int aspp_encode_ioctl(uint8_t *out, size_t cap, const struct serial_line *line);
int aspp_encode_setbaud(uint8_t *out, size_t cap, uint32_t baud);
int aspp_encode_xonxoff(uint8_t *out, size_t cap, uint8_t xon, uint8_t xoff);
int aspp_encode_flowctrl(uint8_t *out, size_t cap, uint8_t flow);
int aspp_encode_linectrl(uint8_t *out, size_t cap, bool dtr, bool rts);
int aspp_encode_flush(uint8_t *out, size_t cap, uint8_t which);
int aspp_encode_port_reset(uint8_t *out, size_t cap);
int aspp_encode_breaksend(uint8_t *out, size_t cap, unsigned int ms);
int aspp_encode_wait_oqueue(uint8_t *out, size_t cap, uint32_t timeout_ms);
int aspp_encode_tx_fifo(uint8_t *out, size_t cap, uint8_t size);
int aspp_encode_alive(uint8_t *out, size_t cap, uint8_t id);
/* Commands without payload: LSTATUS, IQUEUE, OQUEUE, START/STOP_BREAK,
 * START/STOP_NOTIFY, SETXON, SETXOFF, BREAK_COUNT, DATA_STATUS. */
int aspp_encode_simple(uint8_t *out, size_t cap, uint8_t cmd);
/* The open / termios-change sequence: PORT_INIT, then SETBAUD when the rate
 * is not in the table, then XONXOFF when IXON or IXOFF is set. */
int aspp_encode_line(uint8_t *out, size_t cap, const struct serial_line *line);

/* Device -> host messages, as the host's parser returns them. */
enum aspp_reply_kind {
	ASPP_REPLY_OK,		/* setter accepted: [cmd] 'O' 'K' */
	ASPP_REPLY_NA,		/* setter rejected: [cmd] 'N' 'A' */
	ASPP_REPLY_DATA,	/* query answer: [cmd][len][data] */
	ASPP_REPLY_NOTIFY,	/* 26 events msr hold */
	ASPP_REPLY_POLLING,	/* 27 01 id */
	ASPP_REPLY_JUNK,	/* one byte that starts no known message, skipped */
};

struct aspp_reply {
	uint8_t kind;		/* enum aspp_reply_kind */
	uint8_t cmd;
	uint8_t len;		/* ASPP_REPLY_DATA: bytes in data */
	const uint8_t *data;	/* points into the parsed buffer */
	/* decoded for convenience */
	uint8_t events, msr, hold;	/* NOTIFY */
	uint8_t poll_id;		/* POLLING */
	uint8_t modem;			/* LSTATUS, PORT_INIT: SERIAL_MODEM_{DSR,CTS,DCD} */
	uint32_t value;			/* IQUEUE, OQUEUE, WAIT_OQUEUE (LE16), BREAK_COUNT (BE16), DATA_STATUS */
};

/*
 * Parse one device -> host message from the front of in[0..n).  Returns the
 * number of bytes it took (> 0) and fills *r, or 0 when in holds only the
 * start of a message (call again with more bytes).  Never reads past n;
 * a message is at most ASPP_MSG_MAX bytes.
 */
size_t aspp_parse_reply(const uint8_t *in, size_t n, struct aspp_reply *r);

/* Host -> device commands, as the device's parser returns them. */
struct aspp_command {
	uint8_t cmd;
	uint8_t len;
	const uint8_t *payload;	/* points into the parsed buffer */
};

/*
 * Parse one host -> device command from in[0..n): returns bytes taken (> 0)
 * or 0 when incomplete.  Every command is [cmd][len][payload], so the
 * framing holds even for codes the device does not know.
 */
size_t aspp_parse_command(const uint8_t *in, size_t n, struct aspp_command *c);

/* Whether a real device acts on this command: a known code with the length
 * it expects (others get no reply at all). */
bool aspp_command_known(const struct aspp_command *c);

/* Device side helpers: decode payloads. */
int aspp_decode_port_init(const struct aspp_command *c, struct serial_line *line);
uint32_t aspp_le32(const uint8_t *p);
uint16_t aspp_le16(const uint8_t *p);

/* Device -> host encoders. */
int aspp_encode_ok(uint8_t *out, size_t cap, uint8_t cmd);
int aspp_encode_na(uint8_t *out, size_t cap, uint8_t cmd);
int aspp_encode_answer(uint8_t *out, size_t cap, uint8_t cmd, const uint8_t *data, size_t n);
int aspp_encode_lstatus(uint8_t *out, size_t cap, uint8_t cmd, uint8_t modem);
int aspp_encode_queue(uint8_t *out, size_t cap, uint8_t cmd, uint16_t count);
int aspp_encode_break_count(uint8_t *out, size_t cap, uint16_t count);
int aspp_encode_notify(uint8_t *out, size_t cap, uint8_t events, uint8_t msr, uint8_t hold);
int aspp_encode_polling(uint8_t *out, size_t cap, uint8_t id);

#endif
