// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Real COM (ASPP) codec for both ends of the command connection, driven by one
 * table of codes.  It only moves bytes between caller-owned buffers: no I/O, no
 * allocation, no state between calls (the caller keeps the stream buffer).
 * Wire facts and section names cited below: docs/realcom-protocol.md.
 */
#include <errno.h>
#include <string.h>

#include "aspp.h"

/* How a code travels ("Command framing"). */
enum aspp_kind {
	KIND_UNKNOWN = 0,	/* not on the wire: the device ignores it, the host skips it */
	KIND_SETTER,		/* host command, answered [cmd] 'O' 'K' or [cmd] 'N' 'A' */
	KIND_QUERY,		/* host command, answered [cmd][len][data] */
	KIND_SILENT,		/* host command, never answered (ALIVE) */
	KIND_NOTIFY,		/* device only: 26 events msr hold */
	KIND_POLLING,		/* device only: 27 01 id */
};

/* What a query's answer carries ("Commands" table). */
enum aspp_answer {
	ANSWER_NONE = 0,
	ANSWER_MODEM,		/* DSR CTS DCD, one 0/1 byte each */
	ANSWER_LE16,		/* lo hi: a queue count */
	ANSWER_BE16,		/* hi lo: BREAK_COUNT, an exception to little-endian */
	ANSWER_BYTE,
};

struct aspp_code {
	uint8_t kind;		/* enum aspp_kind */
	uint8_t len;		/* host command: the only payload length the device accepts */
	uint8_t answer;		/* KIND_QUERY: enum aspp_answer */
};

#define SETTER(n)	{ .kind = KIND_SETTER, .len = (n) }
#define QUERY(n, a)	{ .kind = KIND_QUERY, .len = (n), .answer = (a) }

/* The one source of truth for the parsers, aspp_command_known() and the encoders. */
static const struct aspp_code aspp_codes[256] = {
	[ASPP_IOCTL]		= SETTER(2),
	[ASPP_FLOWCTRL]		= SETTER(4),
	[ASPP_LINECTRL]		= SETTER(2),
	[ASPP_LSTATUS]		= QUERY(0, ANSWER_MODEM),
	[ASPP_FLUSH]		= SETTER(1),
	[ASPP_IQUEUE]		= QUERY(0, ANSWER_LE16),
	[ASPP_OQUEUE]		= QUERY(0, ANSWER_LE16),
	[ASPP_SETBAUD]		= SETTER(4),
	[ASPP_XONXOFF]		= SETTER(2),
	[ASPP_PORT_RESET]	= SETTER(3),
	[ASPP_START_BREAK]	= SETTER(0),
	[ASPP_STOP_BREAK]	= SETTER(0),
	[ASPP_BREAKSEND]	= SETTER(2),
	[ASPP_START_NOTIFY]	= SETTER(0),
	[ASPP_STOP_NOTIFY]	= SETTER(0),
	[ASPP_NOTIFY]		= { .kind = KIND_NOTIFY },
	[ASPP_POLLING]		= { .kind = KIND_POLLING },
	[ASPP_ALIVE]		= { .kind = KIND_SILENT, .len = 1 },
	[ASPP_PORT_INIT]	= QUERY(8, ANSWER_MODEM),
	[ASPP_WAIT_OQUEUE]	= QUERY(4, ANSWER_LE16),
	[ASPP_TX_FIFO]		= SETTER(1),
	[ASPP_SETXON]		= SETTER(0),
	[ASPP_SETXOFF]		= SETTER(0),
	[ASPP_BREAK_COUNT]	= QUERY(0, ANSWER_BE16),
	[ASPP_DATA_STATUS]	= QUERY(0, ANSWER_BYTE),
};

/* "Baud index table": the position is the index. */
static const uint32_t aspp_bauds[] = {
	300, 600, 1200, 2400, 4800, 7200, 9600, 19200, 38400, 57600,
	115200, 230400, 460800, 921600, 150, 134, 110, 75, 50,
};

/* The mode byte's parity field by enum serial_parity, and back by (mode & PARITY) >> 3. */
static const uint8_t aspp_parity_bits[] = {
	[SERIAL_PARITY_NONE] = ASPP_MODE_PARITY_NONE,
	[SERIAL_PARITY_ODD] = ASPP_MODE_PARITY_ODD,
	[SERIAL_PARITY_EVEN] = ASPP_MODE_PARITY_EVEN,
	[SERIAL_PARITY_MARK] = ASPP_MODE_PARITY_MARK,
	[SERIAL_PARITY_SPACE] = ASPP_MODE_PARITY_SPACE,
};
static const uint8_t aspp_parity_of_bits[] = {
	SERIAL_PARITY_NONE, SERIAL_PARITY_EVEN, SERIAL_PARITY_ODD,
	SERIAL_PARITY_MARK, SERIAL_PARITY_SPACE,
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

uint8_t aspp_baud_index(uint32_t baud)
{
	for (size_t i = 0; i < ARRAY_SIZE(aspp_bauds); i++)
		if (aspp_bauds[i] == baud)
			return (uint8_t)i;
	return ASPP_BAUD_CUSTOM;
}

uint32_t aspp_index_baud(uint8_t index)
{
	return index < ARRAY_SIZE(aspp_bauds) ? aspp_bauds[index] : 0;
}

uint8_t aspp_mode_byte(const struct serial_line *line)
{
	uint8_t mode = (uint8_t)(line->data_bits - 5) & ASPP_MODE_CSIZE;

	/*
	 * One stop-bit flag on the wire ("PORT_INIT (2C) payload"), so 1.5 goes
	 * out as two; at 5 data bits, where 1.5 is used, a 16550 sends 1.5 for it.
	 */
	if (line->stop_bits == SERIAL_STOP_2 || line->stop_bits == SERIAL_STOP_1_5)
		mode |= ASPP_MODE_STOP2;
	if (line->parity < ARRAY_SIZE(aspp_parity_bits))
		mode |= aspp_parity_bits[line->parity];
	return mode;
}

/* Undefined parity codes (28, 30, 38) read as none; aspp_decode_port_init() rejects them. */
void aspp_mode_apply(uint8_t mode, struct serial_line *line)
{
	unsigned int parity = (mode & ASPP_MODE_PARITY) >> 3;

	line->data_bits = 5 + (mode & ASPP_MODE_CSIZE);
	line->stop_bits = mode & ASPP_MODE_STOP2 ? SERIAL_STOP_2 : SERIAL_STOP_1;
	line->parity = parity < ARRAY_SIZE(aspp_parity_of_bits) ? aspp_parity_of_bits[parity]
								: SERIAL_PARITY_NONE;
}

static bool aspp_mode_valid(uint8_t mode)
{
	return (mode & ~(ASPP_MODE_CSIZE | ASPP_MODE_STOP2 | ASPP_MODE_PARITY)) == 0 &&
	       (mode & ASPP_MODE_PARITY) <= ASPP_MODE_PARITY_SPACE;
}

uint32_t aspp_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint16_t aspp_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint16_t aspp_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = v & 0xff;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* Copy a whole message out, or nothing. */
static int put_bytes(uint8_t *out, size_t cap, const uint8_t *bytes, size_t n)
{
	if (cap < n)
		return -ENOSPC;
	memcpy(out, bytes, n);
	return (int)n;
}

/* [cmd][n][data]: the framing of every host command and of every query answer. */
static int put_framed(uint8_t *out, size_t cap, uint8_t cmd, const uint8_t *data, size_t n)
{
	if (n > UINT8_MAX)
		return -EINVAL;
	if (cap < n + 2)
		return -ENOSPC;
	out[0] = cmd;
	out[1] = (uint8_t)n;
	if (n)
		memcpy(out + 2, data, n);
	return (int)n + 2;
}

static bool aspp_host_command(uint8_t kind)
{
	return kind == KIND_SETTER || kind == KIND_QUERY || kind == KIND_SILENT;
}

/* Host -> device */

/* Only what a device acts on: anything else would be silently ignored ("Command framing"). */
int aspp_encode(uint8_t *out, size_t cap, uint8_t cmd, const uint8_t *payload, size_t n)
{
	const struct aspp_code *code = &aspp_codes[cmd];

	if (!aspp_host_command(code->kind) || n != code->len)
		return -EINVAL;
	return put_framed(out, cap, cmd, payload, n);
}

/* CTS flow, RTS flow, IXON, IXOFF: the tail of PORT_INIT and all of FLOWCTRL. */
static void put_flow(uint8_t *p, uint8_t flow)
{
	p[0] = !!(flow & SERIAL_FLOW_CTS);
	p[1] = !!(flow & SERIAL_FLOW_RTS);
	p[2] = !!(flow & SERIAL_FLOW_IXON);
	p[3] = !!(flow & SERIAL_FLOW_IXOFF);
}

/*
 * Moxa's driver fills CTS flow and RTS flow together from CRTSCTS ("PORT_INIT
 * (2C) payload"); each has its own byte, so we send each of our two bits.
 */
int aspp_encode_port_init(uint8_t *out, size_t cap, const struct serial_line *line)
{
	uint8_t p[8];

	if (!serial_line_valid(line))
		return -EINVAL;
	p[0] = aspp_baud_index(line->baud);
	p[1] = aspp_mode_byte(line);
	p[2] = !!(line->modem & SERIAL_MODEM_DTR);
	p[3] = !!(line->modem & SERIAL_MODEM_RTS);
	put_flow(p + 4, line->flow);
	return aspp_encode(out, cap, ASPP_PORT_INIT, p, sizeof(p));
}

int aspp_encode_ioctl(uint8_t *out, size_t cap, const struct serial_line *line)
{
	uint8_t p[2];

	if (!serial_line_valid(line))
		return -EINVAL;
	p[0] = aspp_baud_index(line->baud);
	p[1] = aspp_mode_byte(line);
	return aspp_encode(out, cap, ASPP_IOCTL, p, sizeof(p));
}

/* Any rate but 0 goes out; the device answers NA outside 50..921600. */
int aspp_encode_setbaud(uint8_t *out, size_t cap, uint32_t baud)
{
	uint8_t p[4];

	if (baud == 0)
		return -EINVAL;
	put_le32(p, baud);
	return aspp_encode(out, cap, ASPP_SETBAUD, p, sizeof(p));
}

int aspp_encode_xonxoff(uint8_t *out, size_t cap, uint8_t xon, uint8_t xoff)
{
	return aspp_encode(out, cap, ASPP_XONXOFF, (const uint8_t[]){ xon, xoff }, 2);
}

int aspp_encode_flowctrl(uint8_t *out, size_t cap, uint8_t flow)
{
	uint8_t p[4];

	if (flow & ~(SERIAL_FLOW_CTS | SERIAL_FLOW_RTS | SERIAL_FLOW_IXON | SERIAL_FLOW_IXOFF))
		return -EINVAL;
	put_flow(p, flow);
	return aspp_encode(out, cap, ASPP_FLOWCTRL, p, sizeof(p));
}

int aspp_encode_linectrl(uint8_t *out, size_t cap, bool dtr, bool rts)
{
	return aspp_encode(out, cap, ASPP_LINECTRL, (const uint8_t[]){ dtr, rts }, 2);
}

int aspp_encode_flush(uint8_t *out, size_t cap, uint8_t which)
{
	if (which > ASPP_FLUSH_BOTH)
		return -EINVAL;
	return aspp_encode(out, cap, ASPP_FLUSH, &which, 1);
}

int aspp_encode_port_reset(uint8_t *out, size_t cap)
{
	return aspp_encode(out, cap, ASPP_PORT_RESET, (const uint8_t *)ASPP_PORT_RESET_MAGIC, 3);
}

/* The duration is big-endian, unlike everything else ("Command framing"). */
int aspp_encode_breaksend(uint8_t *out, size_t cap, unsigned int ms)
{
	uint8_t p[2];

	if (ms < ASPP_BREAKSEND_MIN_MS || ms > ASPP_BREAKSEND_MAX_MS)
		return -EINVAL;
	put_be16(p, (uint16_t)ms);
	return aspp_encode(out, cap, ASPP_BREAKSEND, p, sizeof(p));
}

/* Milliseconds, not the kernel ticks Moxa's driver sends ("Sequences the host performs"). */
int aspp_encode_wait_oqueue(uint8_t *out, size_t cap, uint32_t timeout_ms)
{
	uint8_t p[4];

	put_le32(p, timeout_ms);
	return aspp_encode(out, cap, ASPP_WAIT_OQUEUE, p, sizeof(p));
}

int aspp_encode_tx_fifo(uint8_t *out, size_t cap, uint8_t size)
{
	return aspp_encode(out, cap, ASPP_TX_FIFO, &size, 1);
}

int aspp_encode_alive(uint8_t *out, size_t cap, uint8_t id)
{
	return aspp_encode(out, cap, ASPP_ALIVE, &id, 1);
}

int aspp_encode_simple(uint8_t *out, size_t cap, uint8_t cmd)
{
	return aspp_encode(out, cap, cmd, NULL, 0);
}

int aspp_encode_line(uint8_t *out, size_t cap, const struct serial_line *line)
{
	int len, n;

	len = aspp_encode_port_init(out, cap, line);
	if (len < 0)
		return len;
	if (aspp_baud_index(line->baud) == ASPP_BAUD_CUSTOM) {
		n = aspp_encode_setbaud(out + len, cap - (size_t)len, line->baud);
		if (n < 0)
			return n;
		len += n;
	}
	if (line->flow & (SERIAL_FLOW_IXON | SERIAL_FLOW_IXOFF)) {
		n = aspp_encode_xonxoff(out + len, cap - (size_t)len, line->xon, line->xoff);
		if (n < 0)
			return n;
		len += n;
	}
	return len;
}

/* Device -> host, as the host parses it */

static uint8_t modem_from_bytes(const uint8_t *p)
{
	return (p[0] ? SERIAL_MODEM_DSR : 0) | (p[1] ? SERIAL_MODEM_CTS : 0) |
	       (p[2] ? SERIAL_MODEM_DCD : 0);
}

/* The convenience fields: left 0 when the length is not the answer's (modem: under 3). */
static void decode_answer(struct aspp_reply *r)
{
	switch (aspp_codes[r->cmd].answer) {
	case ANSWER_MODEM:
		if (r->len >= 3)
			r->modem = modem_from_bytes(r->data);
		break;
	case ANSWER_LE16:
		if (r->len == 2)
			r->value = aspp_le16(r->data);
		break;
	case ANSWER_BE16:
		if (r->len == 2)
			r->value = aspp_be16(r->data);
		break;
	case ANSWER_BYTE:
		if (r->len == 1)
			r->value = r->data[0];
		break;
	}
}

/*
 * Each case below decides "junk" from the bytes it has seen, never from how
 * many have arrived, so the messages that come out do not depend on where
 * TCP split the stream.  A junk code byte is skipped alone and parsing
 * resumes at the next byte.
 */
size_t aspp_parse_reply(const uint8_t *in, size_t n, struct aspp_reply *r)
{
	size_t seen;

	*r = (struct aspp_reply){ .kind = ASPP_REPLY_JUNK };
	if (n == 0)
		return 0;
	r->cmd = in[0];

	switch (aspp_codes[in[0]].kind) {
	case KIND_SETTER:
		seen = n < 3 ? n - 1 : 2;
		if (memcmp(in + 1, "OK", seen) == 0)
			r->kind = ASPP_REPLY_OK;
		else if (memcmp(in + 1, "NA", seen) == 0)
			r->kind = ASPP_REPLY_NA;
		else
			return 1;
		return n < 3 ? 0 : 3;

	case KIND_QUERY:
		if (n < 2 || n - 2 < in[1])
			return 0;
		r->kind = ASPP_REPLY_DATA;
		r->len = in[1];
		r->data = in + 2;
		decode_answer(r);
		return 2 + (size_t)r->len;

	case KIND_NOTIFY:
		if (n < 4)
			return 0;
		r->kind = ASPP_REPLY_NOTIFY;
		r->events = in[1];
		r->msr = in[2];
		r->hold = in[3];
		return 4;

	case KIND_POLLING:
		if (n >= 2 && in[1] != 1)
			return 1;
		if (n < 3)
			return 0;
		r->kind = ASPP_REPLY_POLLING;
		r->poll_id = in[2];
		return 3;

	default:
		return 1;
	}
}

/* Host -> device, as the device parses it */

size_t aspp_parse_command(const uint8_t *in, size_t n, struct aspp_command *c)
{
	if (n < 2 || n - 2 < in[1])
		return 0;
	c->cmd = in[0];
	c->len = in[1];
	c->payload = in + 2;
	return 2 + (size_t)c->len;
}

bool aspp_command_known(const struct aspp_command *c)
{
	const struct aspp_code *code = &aspp_codes[c->cmd];

	return aspp_host_command(code->kind) && c->len == code->len;
}

/*
 * PORT_INIT carries everything but the XON/XOFF characters, which are left as
 * they are.  Index FF leaves baud 0: the SETBAUD that follows sets it.
 * *line is untouched on error.
 */
int aspp_decode_port_init(const struct aspp_command *c, struct serial_line *line)
{
	const uint8_t *p = c->payload;
	struct serial_line l = *line;

	if (c->cmd != ASPP_PORT_INIT || !aspp_command_known(c) || !aspp_mode_valid(p[1]))
		return -EINVAL;
	l.baud = aspp_index_baud(p[0]);
	if (l.baud == 0 && p[0] != ASPP_BAUD_CUSTOM)
		return -EINVAL;
	aspp_mode_apply(p[1], &l);
	l.modem = (p[2] ? SERIAL_MODEM_DTR : 0) | (p[3] ? SERIAL_MODEM_RTS : 0);
	l.flow = (p[4] ? SERIAL_FLOW_CTS : 0) | (p[5] ? SERIAL_FLOW_RTS : 0) |
		 (p[6] ? SERIAL_FLOW_IXON : 0) | (p[7] ? SERIAL_FLOW_IXOFF : 0);
	*line = l;
	return 0;
}

/* Device -> host encoders: each emits only what aspp_parse_reply() reads back as it. */

int aspp_encode_ok(uint8_t *out, size_t cap, uint8_t cmd)
{
	if (aspp_codes[cmd].kind != KIND_SETTER)
		return -EINVAL;
	return put_bytes(out, cap, (const uint8_t[]){ cmd, 'O', 'K' }, 3);
}

int aspp_encode_na(uint8_t *out, size_t cap, uint8_t cmd)
{
	if (aspp_codes[cmd].kind != KIND_SETTER)
		return -EINVAL;
	return put_bytes(out, cap, (const uint8_t[]){ cmd, 'N', 'A' }, 3);
}

int aspp_encode_answer(uint8_t *out, size_t cap, uint8_t cmd, const uint8_t *data, size_t n)
{
	if (aspp_codes[cmd].kind != KIND_QUERY)
		return -EINVAL;
	return put_framed(out, cap, cmd, data, n);
}

int aspp_encode_lstatus(uint8_t *out, size_t cap, uint8_t cmd, uint8_t modem)
{
	uint8_t p[3];

	if (aspp_codes[cmd].answer != ANSWER_MODEM)
		return -EINVAL;
	p[0] = !!(modem & SERIAL_MODEM_DSR);
	p[1] = !!(modem & SERIAL_MODEM_CTS);
	p[2] = !!(modem & SERIAL_MODEM_DCD);
	return put_framed(out, cap, cmd, p, sizeof(p));
}

int aspp_encode_queue(uint8_t *out, size_t cap, uint8_t cmd, uint16_t count)
{
	uint8_t p[2];

	if (aspp_codes[cmd].answer != ANSWER_LE16)
		return -EINVAL;
	put_le16(p, count);
	return put_framed(out, cap, cmd, p, sizeof(p));
}

/* Big-endian, unlike everything else ("Command framing"). */
int aspp_encode_break_count(uint8_t *out, size_t cap, uint16_t count)
{
	uint8_t p[2];

	put_be16(p, count);
	return put_framed(out, cap, ASPP_BREAK_COUNT, p, sizeof(p));
}

int aspp_encode_notify(uint8_t *out, size_t cap, uint8_t events, uint8_t msr, uint8_t hold)
{
	return put_bytes(out, cap, (const uint8_t[]){ ASPP_NOTIFY, events, msr, hold }, 4);
}

int aspp_encode_polling(uint8_t *out, size_t cap, uint8_t id)
{
	return put_bytes(out, cap, (const uint8_t[]){ ASPP_POLLING, 1, id }, 3);
}
