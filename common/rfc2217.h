/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RFC 2217 COM-PORT-OPTION codec, client and server roles: encoders for every
 * command and a decoder for sub-negotiation payloads handed up by telnet.c.
 * Behaviour of real servers (ser2net, sredird) is in docs/rfc2217.md;
 * deciding what to send when is the protocol driver's job, not this file's.
 */
#ifndef REALCOM_RFC2217_H
#define REALCOM_RFC2217_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serial.h"

enum rfc2217_cmd {
	RFC2217_SIGNATURE = 0,
	RFC2217_SET_BAUDRATE = 1,
	RFC2217_SET_DATASIZE = 2,
	RFC2217_SET_PARITY = 3,
	RFC2217_SET_STOPSIZE = 4,
	RFC2217_SET_CONTROL = 5,
	RFC2217_NOTIFY_LINESTATE = 6,
	RFC2217_NOTIFY_MODEMSTATE = 7,
	RFC2217_FLOWCONTROL_SUSPEND = 8,
	RFC2217_FLOWCONTROL_RESUME = 9,
	RFC2217_SET_LINESTATE_MASK = 10,
	RFC2217_SET_MODEMSTATE_MASK = 11,
	RFC2217_PURGE_DATA = 12,
};

/* A server's code is the client's plus this. */
#define RFC2217_SERVER	100

#define RFC2217_PARITY_QUERY	0
#define RFC2217_PARITY_NONE	1
#define RFC2217_PARITY_ODD	2
#define RFC2217_PARITY_EVEN	3
#define RFC2217_PARITY_MARK	4
#define RFC2217_PARITY_SPACE	5

#define RFC2217_STOP_QUERY	0
#define RFC2217_STOP_1		1
#define RFC2217_STOP_2		2
#define RFC2217_STOP_1_5	3

/* SET-CONTROL values */
#define RFC2217_CTL_FLOW_QUERY		0
#define RFC2217_CTL_FLOW_NONE		1
#define RFC2217_CTL_FLOW_XONXOFF	2
#define RFC2217_CTL_FLOW_HARDWARE	3
#define RFC2217_CTL_BREAK_QUERY		4
#define RFC2217_CTL_BREAK_ON		5
#define RFC2217_CTL_BREAK_OFF		6
#define RFC2217_CTL_DTR_QUERY		7
#define RFC2217_CTL_DTR_ON		8
#define RFC2217_CTL_DTR_OFF		9
#define RFC2217_CTL_RTS_QUERY		10
#define RFC2217_CTL_RTS_ON		11
#define RFC2217_CTL_RTS_OFF		12
#define RFC2217_CTL_INFLOW_QUERY	13
#define RFC2217_CTL_INFLOW_NONE		14
#define RFC2217_CTL_INFLOW_XONXOFF	15
#define RFC2217_CTL_INFLOW_HARDWARE	16
#define RFC2217_CTL_FLOW_DCD		17
#define RFC2217_CTL_FLOW_DTR		18
#define RFC2217_CTL_FLOW_DSR		19

/* NOTIFY-LINESTATE bits */
#define RFC2217_LS_TIMEOUT	0x80
#define RFC2217_LS_TSR_EMPTY	0x40
#define RFC2217_LS_THR_EMPTY	0x20
#define RFC2217_LS_BREAK	0x10
#define RFC2217_LS_FRAMING	0x08
#define RFC2217_LS_PARITY	0x04
#define RFC2217_LS_OVERRUN	0x02
#define RFC2217_LS_DATA_READY	0x01

/* NOTIFY-MODEMSTATE bits */
#define RFC2217_MS_CD		0x80
#define RFC2217_MS_RI		0x40
#define RFC2217_MS_DSR		0x20
#define RFC2217_MS_CTS		0x10
#define RFC2217_MS_DCD_DELTA	0x08
#define RFC2217_MS_RI_TRAIL	0x04
#define RFC2217_MS_DSR_DELTA	0x02
#define RFC2217_MS_CTS_DELTA	0x01

/* PURGE-DATA values */
#define RFC2217_PURGE_RX	1	/* server's receive buffer (serial -> network) */
#define RFC2217_PURGE_TX	2	/* server's transmit buffer (network -> serial) */
#define RFC2217_PURGE_BOTH	3

/* One COM-PORT-OPTION message in the longest form we send: IAC SB 44 code,
 * a 4-byte value with every byte doubled, IAC SE. */
#define RFC2217_MSG_MAX		(4 + 8 + 2)

/*
 * Encoders: each writes IAC SB 44 <code> <value> IAC SE into out[0..cap) with
 * every FF in the value doubled, and returns the length, or -ENOSPC, or
 * -EINVAL for a code or value outside the RFC.  code is the client's (0..12)
 * or the server's (100..112).
 */
int rfc2217_encode(uint8_t *out, size_t cap, uint8_t code, const uint8_t *val, size_t n);
int rfc2217_encode_u8(uint8_t *out, size_t cap, uint8_t code, uint8_t value);
int rfc2217_encode_baud(uint8_t *out, size_t cap, uint8_t code, uint32_t baud);
int rfc2217_encode_signature(uint8_t *out, size_t cap, uint8_t code, const char *text);

/* A decoded COM-PORT-OPTION message. */
struct rfc2217_msg {
	uint8_t code;		/* as on the wire: 0..12 or 100..112 */
	uint8_t cmd;		/* enum rfc2217_cmd: code without the server offset */
	bool from_server;
	uint32_t value;		/* numeric value (baud: 4-byte big-endian, or 1-byte Cisco form) */
	const uint8_t *text;	/* SIGNATURE: the text, not NUL-terminated */
	size_t text_len;
};

/*
 * Decode a sub-negotiation payload of option 44 (the bytes after the option
 * byte, already unescaped).  Returns 0, or -EBADMSG for an unknown code or a
 * value of the wrong size.
 */
int rfc2217_decode(const uint8_t *val, size_t n, struct rfc2217_msg *m);

/* Wire values <-> struct serial_line terms; the *_from_wire helpers return
 * -EINVAL for a value outside the RFC (0, the query, included). */
uint8_t rfc2217_parity_to_wire(uint8_t serial_parity);
int rfc2217_parity_from_wire(uint8_t value);
uint8_t rfc2217_stop_to_wire(uint8_t serial_stop);
int rfc2217_stop_from_wire(uint8_t value);
uint8_t rfc2217_modem_to_wire(uint8_t serial_modem);	/* CTS/DSR/RI/DCD state bits */
uint8_t rfc2217_modem_from_wire(uint8_t value);

/*
 * A client's full line setup: SET-BAUDRATE, SET-DATASIZE, SET-PARITY,
 * SET-STOPSIZE, outbound flow and inbound flow SET-CONTROLs, then DTR and
 * RTS SET-CONTROLs back to back (there is no atomic form, docs/rfc2217.md).
 * Returns the total length, -EINVAL for a line serial_line_valid() refuses,
 * or -ENOSPC.
 */
#define RFC2217_LINE_MAX	(8 * RFC2217_MSG_MAX)
int rfc2217_encode_line(uint8_t *out, size_t cap, const struct serial_line *line);

#endif
