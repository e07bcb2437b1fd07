// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for common/rfc2217.c: byte-exact vectors from docs/rfc2217.md, FF doubling
 * in values, every code both ways, size errors, short buffers, the serial_line mappings, and a
 * full line setup carried through the Telnet parser and decoded back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "rfc2217.h"
#include "telnet.h"

#define IAC	0xff
#define SB	0xfa
#define SE	0xf0
#define CPO	0x2c	/* COM-PORT-OPTION */

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define BYTES(...)                                                                         \
	((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

#define assert_bytes(buf, len, ...)                                                        \
	do {                                                                               \
		const uint8_t want_[] = { __VA_ARGS__ };                                   \
		assert_int_equal((len), sizeof(want_));                                    \
		assert_memory_equal((buf), want_, sizeof(want_));                          \
	} while (0)

/* The unescaped payload of one encoded message (between the option byte and IAC SE). */
static size_t payload_of(const uint8_t *msg, size_t n, uint8_t *out)
{
	size_t o = 0;

	assert_true(n >= 5);
	assert_int_equal(msg[0], IAC);
	assert_int_equal(msg[1], SB);
	assert_int_equal(msg[2], CPO);
	assert_int_equal(msg[n - 2], IAC);
	assert_int_equal(msg[n - 1], SE);
	for (size_t i = 3; i < n - 2; i++) {
		if (msg[i] == IAC) {
			assert_int_equal(msg[++i], IAC);
		}
		out[o++] = msg[i];
	}
	return o;
}

/* ---- vectors from docs/rfc2217.md ---- */

static void test_baud_57600_from_server(void **state)
{
	uint8_t out[RFC2217_MSG_MAX];
	int n = rfc2217_encode_baud(out, sizeof(out), 101, 57600);

	assert_bytes(out, n, 0xff, 0xfa, 0x2c, 0x65, 0x00, 0x00, 0xe1, 0x00, 0xff, 0xf0);
}

struct vec {
	uint8_t code;
	uint8_t val[8];
	size_t n;
	uint8_t wire[RFC2217_MSG_MAX];
	size_t wire_len;
	uint32_t value;		/* decoded */
};

#define VEC(code, value, val, wire)                                                        \
	{ code, { UNPAREN val }, sizeof((uint8_t[]){ 0, UNPAREN val }) - 1,                \
	  { IAC, SB, CPO, code, UNPAREN wire, IAC, SE },                                   \
	  sizeof((uint8_t[]){ 0, UNPAREN wire }) - 1 + 6, value }
#define UNPAREN(...)	__VA_ARGS__
/* For the value-less codes. */
#define VEC0(code)	{ code, { 0 }, 0, { IAC, SB, CPO, code, IAC, SE }, 6, 0 }

/* One request per client code and one answer per server code, as they go on the wire. */
static const struct vec vectors[] = {
	VEC0(0),						/* SIGNATURE, empty: asks */
	VEC(1, 9600, (0, 0, 0x25, 0x80), (0, 0, 0x25, 0x80)),
	VEC(2, 8, (8), (8)),
	VEC(3, 1, (1), (1)),
	VEC(4, 1, (1), (1)),
	VEC(5, 3, (3), (3)),
	VEC(6, 0x60, (0x60), (0x60)),
	VEC(7, 0xb0, (0xb0), (0xb0)),
	VEC0(8),
	VEC0(9),
	VEC(10, 0, (0), (0)),
	VEC(11, 255, (0xff), (0xff, 0xff)),
	VEC(12, 3, (3), (3)),
	VEC(12, 2, (2), (2)),					/* a session's start after one cut off */
	VEC(101, 57600, (0, 0, 0xe1, 0), (0, 0, 0xe1, 0)),
	VEC(102, 7, (7), (7)),
	VEC(103, 3, (3), (3)),
	VEC(104, 2, (2), (2)),
	VEC(105, 5, (5), (5)),
	VEC(106, 0x61, (0x61), (0x61)),
	VEC(107, 0x80, (0x80), (0x80)),
	VEC0(108),
	VEC0(109),
	VEC(110, 0xff, (0xff), (0xff, 0xff)),
	VEC(111, 0x88, (0x88), (0x88)),
	VEC(112, 1, (1), (1)),
};

static void test_every_code_vectors(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		const struct vec *v = &vectors[i];
		uint8_t out[RFC2217_MSG_MAX], pl[RFC2217_MSG_MAX];
		struct rfc2217_msg m;
		size_t pn;
		int n;

		n = rfc2217_encode(out, sizeof(out), v->code, v->val, v->n);
		assert_int_equal(n, v->wire_len);
		assert_memory_equal(out, v->wire, v->wire_len);
		/* The typed encoders give the same bytes. */
		if (v->code % RFC2217_SERVER == RFC2217_SET_BAUDRATE)
			n = rfc2217_encode_baud(out, sizeof(out), v->code, v->value);
		else if (v->n == 1)
			n = rfc2217_encode_u8(out, sizeof(out), v->code, v->value);
		else if (v->code % RFC2217_SERVER == RFC2217_SIGNATURE)
			n = rfc2217_encode_signature(out, sizeof(out), v->code, "");
		assert_int_equal(n, v->wire_len);
		assert_memory_equal(out, v->wire, v->wire_len);

		pn = payload_of(out, n, pl);
		assert_int_equal(rfc2217_decode(pl, pn, &m), 0);
		assert_int_equal(m.code, v->code);
		assert_int_equal(m.cmd, v->code % RFC2217_SERVER);
		assert_int_equal(m.from_server, v->code >= RFC2217_SERVER);
		assert_int_equal(m.value, v->value);
	}
}

static void test_ff_doubling(void **state)
{
	uint8_t out[RFC2217_MSG_MAX];
	int n;

	n = rfc2217_encode_u8(out, sizeof(out), RFC2217_SET_LINESTATE_MASK, 255);
	assert_bytes(out, n, 0xff, 0xfa, 0x2c, 0x0a, 0xff, 0xff, 0xff, 0xf0);
	/* 130816 = 0x0001FF00 */
	n = rfc2217_encode_baud(out, sizeof(out), RFC2217_SET_BAUDRATE, 130816);
	assert_bytes(out, n, IAC, SB, CPO, 0x01, 0x00, 0x01, 0xff, 0xff, 0x00, IAC, SE);
	/* The longest message there is fits RFC2217_MSG_MAX exactly. */
	n = rfc2217_encode_baud(out, sizeof(out), 101, 0xffffffff);
	assert_int_equal(n, RFC2217_MSG_MAX);
	assert_bytes(out, n, IAC, SB, CPO, 101, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		     IAC, SE);

	struct rfc2217_msg m;
	uint8_t pl[8];
	size_t pn = payload_of(out, n, pl);

	assert_int_equal(pn, 5);
	assert_int_equal(rfc2217_decode(pl, pn, &m), 0);
	assert_int_equal(m.value, 0xffffffff);
}

static void test_cisco_baud(void **state)
{
	struct rfc2217_msg m;
	uint8_t out[RFC2217_MSG_MAX];

	/* A pre-RFC server's answer: the 1-byte index, passed on as is. */
	assert_int_equal(rfc2217_decode(BYTES(101, 5), &m), 0);
	assert_int_equal(m.cmd, RFC2217_SET_BAUDRATE);
	assert_true(m.from_server);
	assert_int_equal(m.value, 5);
	assert_int_equal(rfc2217_decode(BYTES(1, 0xff), &m), 0);
	assert_false(m.from_server);
	assert_int_equal(m.value, 255);
	/* sredird's answer: the rate, then four zero bytes (docs/rfc2217.md) */
	assert_int_equal(rfc2217_decode(BYTES(101, 0, 0, 0x25, 0x80, 0, 0, 0, 0), &m), 0);
	assert_int_equal(m.value, 9600);
	assert_int_equal(rfc2217_decode(BYTES(101, 0, 0, 0x25, 0x80, 0, 0, 0, 1), &m), -EBADMSG);
	assert_int_equal(rfc2217_encode(out, sizeof(out), 101,
					(const uint8_t[]){ 0, 0, 0x25, 0x80, 0, 0, 0, 0 }, 8),
			 -EINVAL);
	/* And a server echoing one, as ser2net does. */
	assert_int_equal(rfc2217_encode_u8(out, sizeof(out), 101, 5), 7);
	assert_bytes(out, 7, IAC, SB, CPO, 101, 5, IAC, SE);
}

static void test_signature(void **state)
{
	uint8_t out[4 + TELNET_SB_MAX * 2 + 2];
	struct rfc2217_msg m;
	int n;

	n = rfc2217_encode_signature(out, sizeof(out), RFC2217_SIGNATURE, "");
	assert_bytes(out, n, IAC, SB, CPO, 0x00, IAC, SE);
	n = rfc2217_encode_signature(out, sizeof(out), RFC2217_SIGNATURE, NULL);
	assert_bytes(out, n, IAC, SB, CPO, 0x00, IAC, SE);
	n = rfc2217_encode_signature(out, sizeof(out), 100, "ser2net");
	assert_bytes(out, n, IAC, SB, CPO, 100, 's', 'e', 'r', '2', 'n', 'e', 't', IAC, SE);

	assert_int_equal(rfc2217_decode(BYTES(100, 's', 'e', 'r', '2', 'n', 'e', 't'), &m), 0);
	assert_int_equal(m.cmd, RFC2217_SIGNATURE);
	assert_true(m.from_server);
	assert_int_equal(m.text_len, 7);
	assert_memory_equal(m.text, "ser2net", 7);
	assert_int_equal(m.value, 0);
	assert_int_equal(rfc2217_decode(BYTES(0), &m), 0);
	assert_false(m.from_server);
	assert_int_equal(m.text_len, 0);
	/* Text with an FF in it is escaped like any value. */
	n = rfc2217_encode_signature(out, sizeof(out), 0, "a\xff");
	assert_bytes(out, n, IAC, SB, CPO, 0, 'a', 0xff, 0xff, IAC, SE);

	/* Bounded: the longest text that fits one sub-negotiation, and one more. */
	char text[TELNET_SB_MAX + 1];

	memset(text, 'x', sizeof(text));
	text[TELNET_SB_MAX - 1] = '\0';
	assert_int_equal(rfc2217_encode_signature(out, sizeof(out), 0, text), TELNET_SB_MAX + 5);
	text[TELNET_SB_MAX - 1] = 'x';
	text[TELNET_SB_MAX] = '\0';
	assert_int_equal(rfc2217_encode_signature(out, sizeof(out), 0, text), -EINVAL);
	memset(text, 'x', sizeof(text));	/* not even terminated within the bound */
	assert_int_equal(rfc2217_encode_signature(out, sizeof(out), 0, text), -EINVAL);
	/* Wrong code. */
	assert_int_equal(rfc2217_encode_signature(out, sizeof(out), 1, "x"), -EINVAL);
}

/* ---- decoding ---- */

static void test_decode_every_code(void **state)
{
	for (int code = 0; code < 256; code++) {
		bool known = code <= 12 || (code >= 100 && code <= 112);
		uint8_t cmd = code >= 100 ? code - 100 : code;
		uint8_t buf[8] = { code, 0x12, 0x34, 0x56, 0x78, 0x9a };
		struct rfc2217_msg m;

		for (size_t len = 0; len <= 5; len++) {
			bool ok;

			switch (cmd) {
			case RFC2217_SIGNATURE:
				ok = true;
				break;
			case RFC2217_SET_BAUDRATE:
				ok = len == 4 || len == 1;
				break;
			case RFC2217_FLOWCONTROL_SUSPEND:
			case RFC2217_FLOWCONTROL_RESUME:
				ok = len <= 1;
				break;
			default:
				ok = len == 1;
				break;
			}
			ok = ok && known;
			memset(&m, 0xa5, sizeof(m));
			assert_int_equal(rfc2217_decode(buf, 1 + len, &m), ok ? 0 : -EBADMSG);
			if (!ok)
				continue;
			assert_int_equal(m.code, code);
			assert_int_equal(m.cmd, cmd);
			assert_int_equal(m.from_server, code >= 100);
			if (cmd == RFC2217_SIGNATURE) {
				assert_ptr_equal(m.text, buf + 1);
				assert_int_equal(m.text_len, len);
				assert_int_equal(m.value, 0);
			} else if (cmd == RFC2217_SET_BAUDRATE) {
				assert_int_equal(m.value, len == 4 ? 0x12345678 : 0x12);
			} else if (cmd == RFC2217_FLOWCONTROL_SUSPEND ||
				   cmd == RFC2217_FLOWCONTROL_RESUME) {
				assert_int_equal(m.value, 0);	/* a stray byte is ignored */
			} else {
				assert_int_equal(m.value, 0x12);
			}
			if (cmd != RFC2217_SIGNATURE) {
				assert_null(m.text);
				assert_int_equal(m.text_len, 0);
			}
		}
	}
	/* Nothing at all. */
	struct rfc2217_msg m;
	uint8_t none = 0;

	assert_int_equal(rfc2217_decode(&none, 0, &m), -EBADMSG);
}

static void test_decode_wrong_sizes(void **state)
{
	struct rfc2217_msg m;

	assert_int_equal(rfc2217_decode(BYTES(1), &m), -EBADMSG);
	assert_int_equal(rfc2217_decode(BYTES(101, 0, 0), &m), -EBADMSG);
	assert_int_equal(rfc2217_decode(BYTES(101, 0, 0, 0xe1), &m), -EBADMSG);
	assert_int_equal(rfc2217_decode(BYTES(101, 0, 0, 0xe1, 0, 0), &m), -EBADMSG);
	assert_int_equal(rfc2217_decode(BYTES(2), &m), -EBADMSG);
	assert_int_equal(rfc2217_decode(BYTES(102, 8, 8), &m), -EBADMSG);
	assert_int_equal(rfc2217_decode(BYTES(105, 1, 2, 3), &m), -EBADMSG);
	assert_int_equal(rfc2217_decode(BYTES(108, 0, 0), &m), -EBADMSG);
	assert_int_equal(rfc2217_decode(BYTES(13, 0), &m), -EBADMSG);
	assert_int_equal(rfc2217_decode(BYTES(99, 0), &m), -EBADMSG);
	assert_int_equal(rfc2217_decode(BYTES(113, 0), &m), -EBADMSG);
	assert_int_equal(rfc2217_decode(BYTES(255, 0), &m), -EBADMSG);
	/* Values are not judged: an odd answer is the driver's to interpret (sredird). */
	assert_int_equal(rfc2217_decode(BYTES(102, 42), &m), 0);
	assert_int_equal(m.value, 42);
}

/* ---- encoding errors ---- */

static void test_encode_einval(void **state)
{
	uint8_t out[64];
	const uint8_t v4[4] = { 0 };

	for (int code = 0; code < 256; code++) {
		bool known = code <= 12 || (code >= 100 && code <= 112);
		uint8_t cmd = code >= 100 ? code - 100 : code;
		bool is_baud = known && cmd == RFC2217_SET_BAUDRATE;
		bool no_value = known && (cmd == 8 || cmd == 9);

		assert_int_equal(rfc2217_encode_u8(out, sizeof(out), code, 1) < 0,
				 !known || no_value);
		assert_int_equal(rfc2217_encode_baud(out, sizeof(out), code, 9600) < 0, !is_baud);
		assert_int_equal(rfc2217_encode(out, sizeof(out), code, NULL, 0) < 0,
				 !known || !(cmd == 0 || no_value));
		assert_int_equal(rfc2217_encode(out, sizeof(out), code, v4, 4) < 0,
				 !(is_baud || (known && cmd == 0)));
		if (!known)
			assert_int_equal(rfc2217_encode(out, sizeof(out), code, v4, 1), -EINVAL);
	}
	/* Sizes we send are the RFC's: no stray byte after SUSPEND, no 2-byte baud. */
	assert_int_equal(rfc2217_encode(out, sizeof(out), 8, v4, 1), -EINVAL);
	assert_int_equal(rfc2217_encode(out, sizeof(out), 1, v4, 2), -EINVAL);
	assert_int_equal(rfc2217_encode(out, sizeof(out), 5, v4, 2), -EINVAL);
	assert_int_equal(rfc2217_encode(out, sizeof(out), 5, NULL, 0), -EINVAL);
}

/* Every cap short of the need is -ENOSPC, and nothing is written past the cap. */
static void check_enospc(int (*enc)(uint8_t *, size_t, const void *), const void *arg)
{
	uint8_t full[RFC2217_LINE_MAX + 16], out[sizeof(full)];
	int need = enc(full, RFC2217_LINE_MAX, arg);

	assert_true(need > 0);
	for (size_t cap = 0; cap < (size_t)need; cap++) {
		memset(out, 0xa5, sizeof(out));
		assert_int_equal(enc(out, cap, arg), -ENOSPC);
		for (size_t i = cap; i < sizeof(out); i++)
			assert_int_equal(out[i], 0xa5);
	}
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(enc(out, need, arg), need);
	assert_memory_equal(out, full, need);
	assert_int_equal(out[need], 0xa5);
}

static int enc_baud_ff(uint8_t *out, size_t cap, const void *arg)
{
	return rfc2217_encode_baud(out, cap, 1, 0x00ff00ff);
}

static int enc_mask_ff(uint8_t *out, size_t cap, const void *arg)
{
	return rfc2217_encode_u8(out, cap, 111, 0xff);
}

static int enc_suspend(uint8_t *out, size_t cap, const void *arg)
{
	return rfc2217_encode(out, cap, 8, NULL, 0);
}

static int enc_signature(uint8_t *out, size_t cap, const void *arg)
{
	return rfc2217_encode_signature(out, cap, 100, arg);
}

static int enc_line(uint8_t *out, size_t cap, const void *arg)
{
	return rfc2217_encode_line(out, cap, arg);
}

static void test_enospc(void **state)
{
	struct serial_line line;

	check_enospc(enc_baud_ff, NULL);
	check_enospc(enc_mask_ff, NULL);
	check_enospc(enc_suspend, NULL);
	check_enospc(enc_signature, "ser2net");
	check_enospc(enc_signature, "");
	serial_line_default(&line);
	check_enospc(enc_line, &line);
	line.baud = 0xffffffff;
	check_enospc(enc_line, &line);
}

/* ---- line setup ---- */

static void test_line_9600_8n1(void **state)
{
	struct serial_line line;
	uint8_t out[RFC2217_LINE_MAX];
	int n;

	serial_line_default(&line);
	n = rfc2217_encode_line(out, sizeof(out), &line);
	assert_bytes(out, n,
		     IAC, SB, CPO, 1, 0x00, 0x00, 0x25, 0x80, IAC, SE,
		     IAC, SB, CPO, 2, 8, IAC, SE,
		     IAC, SB, CPO, 3, 1, IAC, SE,
		     IAC, SB, CPO, 4, 1, IAC, SE,
		     IAC, SB, CPO, 5, 1, IAC, SE,
		     IAC, SB, CPO, 5, 14, IAC, SE,
		     IAC, SB, CPO, 5, 8, IAC, SE,
		     IAC, SB, CPO, 5, 11, IAC, SE);
}

static void test_line_115200_7e2_hw_dtr_off(void **state)
{
	struct serial_line line;
	uint8_t out[RFC2217_LINE_MAX];
	int n;

	serial_line_default(&line);
	line.baud = 115200;
	line.data_bits = 7;
	line.parity = SERIAL_PARITY_EVEN;
	line.stop_bits = SERIAL_STOP_2;
	line.flow = SERIAL_FLOW_CTS | SERIAL_FLOW_RTS;
	line.modem = SERIAL_MODEM_RTS;
	n = rfc2217_encode_line(out, sizeof(out), &line);
	assert_bytes(out, n,
		     IAC, SB, CPO, 1, 0x00, 0x01, 0xc2, 0x00, IAC, SE,
		     IAC, SB, CPO, 2, 7, IAC, SE,
		     IAC, SB, CPO, 3, 3, IAC, SE,
		     IAC, SB, CPO, 4, 2, IAC, SE,
		     IAC, SB, CPO, 5, 3, IAC, SE,
		     IAC, SB, CPO, 5, 16, IAC, SE,
		     IAC, SB, CPO, 5, 9, IAC, SE,
		     IAC, SB, CPO, 5, 11, IAC, SE);
}

static void test_line_variants(void **state)
{
	struct serial_line line;
	uint8_t out[RFC2217_LINE_MAX];

	/* 5M1.5, XON/XOFF both ways, both modem lines off. */
	serial_line_default(&line);
	line.baud = 300;
	line.data_bits = 5;
	line.parity = SERIAL_PARITY_MARK;
	line.stop_bits = SERIAL_STOP_1_5;
	line.flow = SERIAL_FLOW_IXON | SERIAL_FLOW_IXOFF;
	line.modem = 0;
	assert_bytes(out, rfc2217_encode_line(out, sizeof(out), &line),
		     IAC, SB, CPO, 1, 0x00, 0x00, 0x01, 0x2c, IAC, SE,
		     IAC, SB, CPO, 2, 5, IAC, SE,
		     IAC, SB, CPO, 3, 4, IAC, SE,
		     IAC, SB, CPO, 4, 3, IAC, SE,
		     IAC, SB, CPO, 5, 2, IAC, SE,
		     IAC, SB, CPO, 5, 15, IAC, SE,
		     IAC, SB, CPO, 5, 9, IAC, SE,
		     IAC, SB, CPO, 5, 12, IAC, SE);

	/* Space parity, 6 bits; hardware wins over XON/XOFF in each direction separately. */
	line.data_bits = 6;
	line.parity = SERIAL_PARITY_SPACE;
	line.stop_bits = SERIAL_STOP_1;
	line.flow = SERIAL_FLOW_CTS | SERIAL_FLOW_IXON | SERIAL_FLOW_IXOFF;
	line.modem = SERIAL_MODEM_DTR;
	assert_bytes(out + 10, rfc2217_encode_line(out, sizeof(out), &line) - 10,
		     IAC, SB, CPO, 2, 6, IAC, SE,
		     IAC, SB, CPO, 3, 5, IAC, SE,
		     IAC, SB, CPO, 4, 1, IAC, SE,
		     IAC, SB, CPO, 5, 3, IAC, SE,
		     IAC, SB, CPO, 5, 15, IAC, SE,
		     IAC, SB, CPO, 5, 8, IAC, SE,
		     IAC, SB, CPO, 5, 12, IAC, SE);
	line.parity = SERIAL_PARITY_ODD;
	line.flow = SERIAL_FLOW_IXON | SERIAL_FLOW_RTS;
	assert_int_equal(rfc2217_encode_line(out, sizeof(out), &line), 10 + 7 * 7);
	assert_memory_equal(out + 17, ((uint8_t[]){ IAC, SB, CPO, 3, 2, IAC, SE }), 7);
	assert_memory_equal(out + 31, ((uint8_t[]){ IAC, SB, CPO, 5, 2, IAC, SE }), 7);
	assert_memory_equal(out + 38, ((uint8_t[]){ IAC, SB, CPO, 5, 16, IAC, SE }), 7);
}

static void test_line_invalid(void **state)
{
	struct serial_line good, line;
	uint8_t out[RFC2217_LINE_MAX];

	serial_line_default(&good);
	line = good;
	line.baud = 0;
	assert_int_equal(rfc2217_encode_line(out, sizeof(out), &line), -EINVAL);
	line = good;
	line.data_bits = 4;
	assert_int_equal(rfc2217_encode_line(out, sizeof(out), &line), -EINVAL);
	line.data_bits = 9;
	assert_int_equal(rfc2217_encode_line(out, sizeof(out), &line), -EINVAL);
	line = good;
	line.parity = SERIAL_PARITY_SPACE + 1;
	assert_int_equal(rfc2217_encode_line(out, sizeof(out), &line), -EINVAL);
	line = good;
	line.stop_bits = 0;
	assert_int_equal(rfc2217_encode_line(out, sizeof(out), &line), -EINVAL);
	line.stop_bits = 4;
	assert_int_equal(rfc2217_encode_line(out, sizeof(out), &line), -EINVAL);
	line = good;
	line.flow = 0x10;
	assert_int_equal(rfc2217_encode_line(out, sizeof(out), &line), -EINVAL);
	line = good;
	line.modem |= SERIAL_MODEM_CTS;
	assert_int_equal(rfc2217_encode_line(out, sizeof(out), &line), -EINVAL);
	/* Invalid beats short: the line is checked first. */
	line.baud = 0;
	assert_int_equal(rfc2217_encode_line(out, 0, &line), -EINVAL);
}

/* ---- mappings ---- */

static void test_parity_mapping(void **state)
{
	const uint8_t wire[] = { 1, 2, 3, 4, 5 };

	assert_int_equal(rfc2217_parity_to_wire(SERIAL_PARITY_NONE), RFC2217_PARITY_NONE);
	assert_int_equal(rfc2217_parity_to_wire(SERIAL_PARITY_ODD), RFC2217_PARITY_ODD);
	assert_int_equal(rfc2217_parity_to_wire(SERIAL_PARITY_EVEN), RFC2217_PARITY_EVEN);
	assert_int_equal(rfc2217_parity_to_wire(SERIAL_PARITY_MARK), RFC2217_PARITY_MARK);
	assert_int_equal(rfc2217_parity_to_wire(SERIAL_PARITY_SPACE), RFC2217_PARITY_SPACE);
	for (int p = SERIAL_PARITY_NONE; p <= SERIAL_PARITY_SPACE; p++) {
		assert_int_equal(rfc2217_parity_to_wire(p), wire[p]);
		assert_int_equal(rfc2217_parity_from_wire(wire[p]), p);
	}
	/* Out of range: the query value, never a setting. */
	assert_int_equal(rfc2217_parity_to_wire(5), RFC2217_PARITY_QUERY);
	assert_int_equal(rfc2217_parity_to_wire(255), RFC2217_PARITY_QUERY);
	assert_int_equal(rfc2217_parity_from_wire(0), -EINVAL);
	assert_int_equal(rfc2217_parity_from_wire(6), -EINVAL);
	assert_int_equal(rfc2217_parity_from_wire(255), -EINVAL);
}

static void test_stop_mapping(void **state)
{
	assert_int_equal(rfc2217_stop_to_wire(SERIAL_STOP_1), 1);
	assert_int_equal(rfc2217_stop_to_wire(SERIAL_STOP_2), 2);
	assert_int_equal(rfc2217_stop_to_wire(SERIAL_STOP_1_5), 3);
	assert_int_equal(rfc2217_stop_from_wire(1), SERIAL_STOP_1);
	assert_int_equal(rfc2217_stop_from_wire(2), SERIAL_STOP_2);
	assert_int_equal(rfc2217_stop_from_wire(3), SERIAL_STOP_1_5);
	assert_int_equal(rfc2217_stop_to_wire(0), RFC2217_STOP_QUERY);
	assert_int_equal(rfc2217_stop_to_wire(4), RFC2217_STOP_QUERY);
	assert_int_equal(rfc2217_stop_from_wire(0), -EINVAL);
	assert_int_equal(rfc2217_stop_from_wire(4), -EINVAL);
	assert_int_equal(rfc2217_stop_from_wire(255), -EINVAL);
}

static void test_modem_mapping(void **state)
{
	assert_int_equal(rfc2217_modem_to_wire(SERIAL_MODEM_CTS), 0x10);
	assert_int_equal(rfc2217_modem_to_wire(SERIAL_MODEM_DSR), 0x20);
	assert_int_equal(rfc2217_modem_to_wire(SERIAL_MODEM_RI), 0x40);
	assert_int_equal(rfc2217_modem_to_wire(SERIAL_MODEM_DCD), 0x80);
	/* Outputs are not modem-state bits. */
	assert_int_equal(rfc2217_modem_to_wire(SERIAL_MODEM_DTR | SERIAL_MODEM_RTS), 0);
	assert_int_equal(rfc2217_modem_to_wire(0xff), 0xf0);
	assert_int_equal(rfc2217_modem_from_wire(0x10), SERIAL_MODEM_CTS);
	assert_int_equal(rfc2217_modem_from_wire(0x20), SERIAL_MODEM_DSR);
	assert_int_equal(rfc2217_modem_from_wire(0x40), SERIAL_MODEM_RI);
	assert_int_equal(rfc2217_modem_from_wire(0x80), SERIAL_MODEM_DCD);
	/* Delta bits are dropped (docs/rfc2217.md: compute edges from successive states). */
	assert_int_equal(rfc2217_modem_from_wire(0x0f), 0);
	assert_int_equal(rfc2217_modem_from_wire(0xff),
			 SERIAL_MODEM_CTS | SERIAL_MODEM_DSR | SERIAL_MODEM_RI | SERIAL_MODEM_DCD);
	for (int v = 0; v < 256; v++)
		assert_int_equal(rfc2217_modem_to_wire(rfc2217_modem_from_wire(v)), v & 0xf0);
}

/* ---- end to end: encode_line -> Telnet parser -> decode ---- */

struct rebuild {
	struct serial_line line;
	unsigned msgs;
	unsigned seen;		/* bit per message kind */
};

static void rb_send(void *arg, const uint8_t *buf, size_t n)
{
	fail_msg("nothing should be sent");
}

static void rb_subneg(void *arg, uint8_t opt, const uint8_t *val, size_t n)
{
	struct rebuild *rb = arg;
	struct serial_line *l = &rb->line;
	struct rfc2217_msg m;

	assert_int_equal(opt, TELNET_OPT_COM_PORT);
	assert_int_equal(rfc2217_decode(val, n, &m), 0);
	assert_false(m.from_server);
	rb->msgs++;
	switch (m.cmd) {
	case RFC2217_SET_BAUDRATE:
		l->baud = m.value;
		break;
	case RFC2217_SET_DATASIZE:
		l->data_bits = m.value;
		break;
	case RFC2217_SET_PARITY:
		assert_true(rfc2217_parity_from_wire(m.value) >= 0);
		l->parity = rfc2217_parity_from_wire(m.value);
		break;
	case RFC2217_SET_STOPSIZE:
		assert_true(rfc2217_stop_from_wire(m.value) >= 0);
		l->stop_bits = rfc2217_stop_from_wire(m.value);
		break;
	case RFC2217_SET_CONTROL:
		switch (m.value) {
		case RFC2217_CTL_FLOW_NONE:
			break;
		case RFC2217_CTL_FLOW_XONXOFF:
			l->flow |= SERIAL_FLOW_IXON;
			break;
		case RFC2217_CTL_FLOW_HARDWARE:
			l->flow |= SERIAL_FLOW_CTS;
			break;
		case RFC2217_CTL_INFLOW_NONE:
			break;
		case RFC2217_CTL_INFLOW_XONXOFF:
			l->flow |= SERIAL_FLOW_IXOFF;
			break;
		case RFC2217_CTL_INFLOW_HARDWARE:
			l->flow |= SERIAL_FLOW_RTS;
			break;
		case RFC2217_CTL_DTR_ON:
			l->modem |= SERIAL_MODEM_DTR;
			break;
		case RFC2217_CTL_DTR_OFF:
			break;
		case RFC2217_CTL_RTS_ON:
			l->modem |= SERIAL_MODEM_RTS;
			break;
		case RFC2217_CTL_RTS_OFF:
			break;
		default:
			fail_msg("unexpected SET-CONTROL %u", m.value);
		}
		break;
	default:
		fail_msg("unexpected command %u", m.cmd);
	}
}

static const struct telnet_ops rb_ops = { .send = rb_send, .subneg = rb_subneg };

static void round_trip(const struct serial_line *in, size_t chunk)
{
	uint8_t wire[RFC2217_LINE_MAX], data[RFC2217_LINE_MAX];
	struct rebuild rb = { 0 };
	struct telnet t;
	size_t nd;
	int n = rfc2217_encode_line(wire, sizeof(wire), in);

	assert_true(n > 0);
	telnet_init(&t, &rb_ops, &rb);
	for (int pos = 0; pos < n; pos += chunk) {
		size_t len = (size_t)(n - pos) < chunk ? (size_t)(n - pos) : chunk;

		telnet_recv(&t, wire + pos, len, data, &nd);
		assert_int_equal(nd, 0);
	}
	assert_int_equal(rb.msgs, 8);
	assert_int_equal(t.sb_dropped, 0);
	assert_int_equal(rb.line.baud, in->baud);
	assert_int_equal(rb.line.data_bits, in->data_bits);
	assert_int_equal(rb.line.parity, in->parity);
	assert_int_equal(rb.line.stop_bits, in->stop_bits);
	assert_int_equal(rb.line.modem, in->modem);
	/* Hardware flow wins over XON/XOFF per direction: that much is what the wire can say. */
	uint8_t flow = in->flow;
	if (flow & SERIAL_FLOW_CTS)
		flow &= ~SERIAL_FLOW_IXON;
	if (flow & SERIAL_FLOW_RTS)
		flow &= ~SERIAL_FLOW_IXOFF;
	assert_int_equal(rb.line.flow, flow);
}

static void test_end_to_end(void **state)
{
	const uint32_t bauds[] = {
		1, 50, 9600, 57600, 115200, 130816, 921600, 0xff00ff, 0xffffffff,
	};
	struct serial_line line;
	unsigned cases = 0;

	serial_line_default(&line);
	for (size_t b = 0; b < ARRAY_SIZE(bauds); b++) {
		line.baud = bauds[b];
		for (int bits = 5; bits <= 8; bits++) {
			line.data_bits = bits;
			for (int p = SERIAL_PARITY_NONE; p <= SERIAL_PARITY_SPACE; p++) {
				line.parity = p;
				for (int s = SERIAL_STOP_1; s <= SERIAL_STOP_1_5; s++) {
					line.stop_bits = s;
					line.flow = (b + bits + p + s) & 0x0f;
					line.modem = (b + p) & 3;
					assert_true(serial_line_valid(&line));
					round_trip(&line, 1 + cases % 11);
					cases++;
				}
			}
		}
	}
	/* Every flow and modem combination, whole and byte by byte. */
	serial_line_default(&line);
	for (int f = 0; f < 16; f++) {
		for (int mo = 0; mo < 4; mo++) {
			line.flow = f;
			line.modem = mo;
			round_trip(&line, RFC2217_LINE_MAX);
			round_trip(&line, 1);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_baud_57600_from_server),
		cmocka_unit_test(test_every_code_vectors),
		cmocka_unit_test(test_ff_doubling),
		cmocka_unit_test(test_cisco_baud),
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_decode_every_code),
		cmocka_unit_test(test_decode_wrong_sizes),
		cmocka_unit_test(test_encode_einval),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_line_9600_8n1),
		cmocka_unit_test(test_line_115200_7e2_hw_dtr_off),
		cmocka_unit_test(test_line_variants),
		cmocka_unit_test(test_line_invalid),
		cmocka_unit_test(test_parity_mapping),
		cmocka_unit_test(test_stop_mapping),
		cmocka_unit_test(test_modem_mapping),
		cmocka_unit_test(test_end_to_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
