// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for aspp_parse_command() and aspp_decode_port_init(): the
 * input is what a host sends to the device (nportsim).  Traps when a command
 * runs past the input, when aspp_encode() and aspp_command_known() disagree,
 * when a known command does not encode back to its own bytes, or when the
 * device's answer does not parse as the kind the command calls for.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aspp.h"
#include "fuzz.h"

/* Prefixes are parsed from the end of this array, so ASan catches any read past n. */
static uint8_t edge[ASPP_MSG_MAX];

/* The command being checked, and where the encoders write theirs. */
static const uint8_t *msg;
static size_t msg_len;
static uint8_t out[ASPP_MSG_MAX];

/* Every proper prefix asks for more bytes; the command alone is taken whole. */
static void check_prefixes(void)
{
	struct aspp_command c;

	for (size_t k = 0; k <= msg_len; k++) {
		memcpy(edge + sizeof(edge) - k, msg, k);
		CHECK(aspp_parse_command(edge + sizeof(edge) - k, k, &c) ==
		      (k < msg_len ? 0 : msg_len));
	}
}

static bool all_flags(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] > 1)
			return false;
	return true;
}

static bool mode_defined(uint8_t mode)
{
	return (mode & ~(ASPP_MODE_CSIZE | ASPP_MODE_STOP2 | ASPP_MODE_PARITY)) == 0 &&
	       (mode & ASPP_MODE_PARITY) <= ASPP_MODE_PARITY_SPACE;
}

/* An encoder's result: the bytes of the command being checked when want, else -EINVAL. */
static void expect_same_if(bool want, int rc)
{
	if (want)
		CHECK(rc >= 0 && (size_t)rc == msg_len && memcmp(out, msg, msg_len) == 0);
	else
		CHECK(rc == -EINVAL);
}

static void expect_same(int rc)
{
	expect_same_if(true, rc);
}

/* Device side: decode, then the host encoder gives back the same command. */
static void check_port_init(const struct aspp_command *c)
{
	const uint8_t *p = c->payload;
	struct serial_line line, before;
	bool valid;
	int rc;

	serial_line_default(&line);
	line.xon = 0x05;
	line.xoff = 0x06;
	memcpy(&before, &line, sizeof(line));
	rc = aspp_decode_port_init(c, &line);
	valid = c->len == 8 && (aspp_index_baud(p[0]) || p[0] == ASPP_BAUD_CUSTOM) &&
		mode_defined(p[1]);
	if (!valid) {
		CHECK(rc == -EINVAL && memcmp(&line, &before, sizeof(line)) == 0);
		return;
	}
	CHECK(rc == 0 && line.xon == 0x05 && line.xoff == 0x06);
	CHECK((line.baud == 0) == (p[0] == ASPP_BAUD_CUSTOM));
	if (line.baud == 0)
		line.baud = 250000;	/* what the SETBAUD that follows would set */
	CHECK(serial_line_valid(&line));
	/* Flag bytes come back as 0/1; the rest byte for byte. */
	rc = aspp_encode_port_init(out, sizeof(out), &line);
	CHECK(rc >= 0 && (size_t)rc == msg_len && memcmp(out, msg, 4) == 0);
	for (size_t i = 4; i < msg_len; i++)
		CHECK(out[i] == !!msg[i]);
	rc = aspp_encode_ioctl(out, sizeof(out), &line);
	CHECK(rc == 4 && out[2] == p[0] && out[3] == p[1]);
}

/* Each typed encoder, fed what the device decodes, gives the same bytes. */
static void check_typed(const struct aspp_command *c)
{
	const uint8_t *p = c->payload;
	struct serial_line line;
	uint8_t flow;
	uint32_t v;

	switch (c->cmd) {
	case ASPP_PORT_INIT:
		check_port_init(c);
		break;
	case ASPP_IOCTL:
		if (!aspp_index_baud(p[0]) || !mode_defined(p[1]))
			break;
		serial_line_default(&line);
		line.baud = aspp_index_baud(p[0]);
		aspp_mode_apply(p[1], &line);
		expect_same(aspp_encode_ioctl(out, sizeof(out), &line));
		break;
	case ASPP_SETBAUD:
		v = aspp_le32(p);
		expect_same_if(v != 0, aspp_encode_setbaud(out, sizeof(out), v));
		break;
	case ASPP_WAIT_OQUEUE:
		expect_same(aspp_encode_wait_oqueue(out, sizeof(out), aspp_le32(p)));
		break;
	case ASPP_BREAKSEND:
		v = (uint32_t)p[0] << 8 | p[1];
		expect_same_if(v >= ASPP_BREAKSEND_MIN_MS && v <= ASPP_BREAKSEND_MAX_MS,
			       aspp_encode_breaksend(out, sizeof(out), v));
		break;
	case ASPP_XONXOFF:
		expect_same(aspp_encode_xonxoff(out, sizeof(out), p[0], p[1]));
		break;
	case ASPP_LINECTRL:
		if (all_flags(p, 2))
			expect_same(aspp_encode_linectrl(out, sizeof(out), p[0], p[1]));
		break;
	case ASPP_FLOWCTRL:
		if (!all_flags(p, 4))
			break;
		flow = (p[0] ? SERIAL_FLOW_CTS : 0) | (p[1] ? SERIAL_FLOW_RTS : 0) |
		       (p[2] ? SERIAL_FLOW_IXON : 0) | (p[3] ? SERIAL_FLOW_IXOFF : 0);
		expect_same(aspp_encode_flowctrl(out, sizeof(out), flow));
		break;
	case ASPP_FLUSH:
		expect_same_if(p[0] <= ASPP_FLUSH_BOTH, aspp_encode_flush(out, sizeof(out), p[0]));
		break;
	case ASPP_PORT_RESET:
		if (memcmp(p, ASPP_PORT_RESET_MAGIC, 3) == 0)
			expect_same(aspp_encode_port_reset(out, sizeof(out)));
		break;
	case ASPP_TX_FIFO:
		expect_same(aspp_encode_tx_fifo(out, sizeof(out), p[0]));
		break;
	case ASPP_ALIVE:
		expect_same(aspp_encode_alive(out, sizeof(out), p[0]));
		break;
	default:
		expect_same_if(c->len == 0, aspp_encode_simple(out, sizeof(out), c->cmd));
		break;
	}
}

/* What a device answers parses on the host as the kind the command calls for. */
static void check_answer(const struct aspp_command *c)
{
	uint8_t answer[ASPP_MSG_MAX];
	struct aspp_reply r;
	int ok, data;

	ok = aspp_encode_ok(answer, sizeof(answer), c->cmd);
	if (ok > 0)
		CHECK(aspp_parse_reply(answer, (size_t)ok, &r) == 3 && r.kind == ASPP_REPLY_OK &&
		      r.cmd == c->cmd);
	data = aspp_encode_answer(answer, sizeof(answer), c->cmd, c->payload, c->len);
	if (data > 0)
		CHECK(aspp_parse_reply(answer, (size_t)data, &r) == (size_t)data &&
		      r.kind == ASPP_REPLY_DATA && r.cmd == c->cmd && r.len == c->len);
	/* A setter or a query, or ALIVE, which gets no answer at all. */
	CHECK((ok > 0) + (data > 0) == (c->cmd == ASPP_ALIVE ? 0 : 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		size_t left = size - off, used;
		struct aspp_command c;
		bool known;

		used = aspp_parse_command(data + off, left, &c);
		if (used == 0) {
			CHECK(left < 2 || left < 2 + (size_t)data[off + 1]);
			break;
		}
		CHECK(used <= left && used == 2 + (size_t)c.len && used <= ASPP_MSG_MAX);
		CHECK(c.cmd == data[off] && c.payload == data + off + 2);
		CHECK(c.payload + c.len <= data + size);
		msg = data + off;
		msg_len = used;
		check_prefixes();

		/* The generic encoder takes exactly what a device acts on. */
		known = aspp_command_known(&c);
		expect_same_if(known, aspp_encode(out, sizeof(out), c.cmd, c.payload, c.len));
		if (known) {
			check_typed(&c);
			check_answer(&c);
		} else if (c.cmd == ASPP_PORT_INIT) {
			check_port_init(&c);
		}
		off += used;
	}
	return 0;
}
