// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for common/telnet.c and rfc2217.c: the input, after a first byte that picks a
 * split point, goes through a struct telnet with a permissive policy.  Checked: the split changes
 * nothing, answers are well-formed 3-byte commands, option reports match the state, COM-PORT
 * payloads that decode re-encode to the same bytes, data survives escaping, and a line setup
 * built from the input's first bytes survives encode_line -> parser -> decode.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rfc2217.h"
#include "telnet.h"
#include "fuzz.h"

struct run {
	struct telnet t;
	bool on[2][256];	/* option state as reported through ops->option */
	uint64_t hash;		/* of everything reported, in order */
	size_t nsend, nopt, nsb, nreq;
};

/*
 * The policy: options below 128 are allowed both ways, the others by their low two bits, so
 * that refusals happen too.  Our own requests come from sub-negotiations of option 1 (ECHO
 * defines none): each payload byte asks for option (b & 0x3f) on (bit 6) on our side (bit 7) or
 * the peer's.  They sit at fixed places in the stream, so the split still cannot matter.
 */
#define REQUEST_OPT	TELNET_OPT_ECHO

static uint8_t policy(int opt)
{
	return opt < 128 ? TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE : opt & 3;
}

static void mix(struct run *r, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		r->hash = (r->hash ^ b[i]) * 0x100000001b3ull;
}

static void on_send(void *arg, const uint8_t *buf, size_t n)
{
	struct run *r = arg;

	CHECK(n == 3);
	CHECK(buf[0] == TELNET_IAC);
	CHECK(buf[1] >= TELNET_WILL && buf[1] <= TELNET_DONT);
	r->nsend++;
	mix(r, "S", 1);
	mix(r, buf, n);
}

static void on_option(void *arg, uint8_t opt, bool local, bool enabled)
{
	struct run *r = arg;

	/* Reported only on a change, and the state already says so. */
	CHECK(r->on[local][opt] != enabled);
	r->on[local][opt] = enabled;
	CHECK(enabled == (local ? telnet_local_enabled(&r->t, opt) :
				  telnet_remote_enabled(&r->t, opt)));
	r->nopt++;
	mix(r, "O", 1);
	mix(r, &opt, 1);
	mix(r, &local, 1);
	mix(r, &enabled, 1);
}

/* A payload that decodes must come out of the encoders as the same bytes; one that does not
 * must be refused by them too. */
static void check_com_port(const uint8_t *val, size_t n)
{
	uint8_t enc[2 * TELNET_SB_MAX + 8], ref[2 * TELNET_SB_MAX + 8];
	struct rfc2217_msg m;
	size_t canon = n;	/* payload bytes the encoders reproduce */
	int r, rr;

	if (n == 0) {
		CHECK(rfc2217_decode(val, n, &m) == -EBADMSG);
		return;
	}
	if (rfc2217_decode(val, n, &m) != 0) {
		CHECK(rfc2217_encode(enc, sizeof(enc), val[0], val + 1, n - 1) == -EINVAL);
		return;
	}
	CHECK(m.code == val[0]);
	CHECK(m.from_server == (m.code >= RFC2217_SERVER));
	CHECK(m.cmd == m.code - (m.from_server ? RFC2217_SERVER : 0));
	CHECK(m.cmd <= RFC2217_PURGE_DATA);

	switch (m.cmd) {
	case RFC2217_SIGNATURE:
		CHECK(m.text == val + 1 && m.text_len == n - 1);
		r = rfc2217_encode(enc, sizeof(enc), m.code, m.text, m.text_len);
		break;
	case RFC2217_SET_BAUDRATE:
		if (n == 9) {
			/* sredird's answer: the rate and four zero bytes, which
			 * the encoders leave out */
			CHECK(!(val[5] | val[6] | val[7] | val[8]));
			canon = 5;
			r = rfc2217_encode_baud(enc, sizeof(enc), m.code, m.value);
		} else if (n == 5) {
			r = rfc2217_encode_baud(enc, sizeof(enc), m.code, m.value);
		} else {
			CHECK(n == 2 && m.value == val[1]);
			r = rfc2217_encode_u8(enc, sizeof(enc), m.code, m.value);
		}
		break;
	case RFC2217_FLOWCONTROL_SUSPEND:
	case RFC2217_FLOWCONTROL_RESUME:
		CHECK(n <= 2 && m.value == 0);
		canon = 1;	/* a stray value byte is dropped */
		r = rfc2217_encode(enc, sizeof(enc), m.code, NULL, 0);
		break;
	default:
		CHECK(n == 2 && m.value == val[1]);
		r = rfc2217_encode_u8(enc, sizeof(enc), m.code, m.value);
		break;
	}
	/* The mappings, where the value means something to them. */
	if (m.cmd == RFC2217_NOTIFY_MODEMSTATE)
		CHECK(rfc2217_modem_to_wire(rfc2217_modem_from_wire(m.value)) == (m.value & 0xf0));
	if (m.cmd == RFC2217_SET_PARITY && rfc2217_parity_from_wire(m.value) >= 0)
		CHECK(rfc2217_parity_to_wire(rfc2217_parity_from_wire(m.value)) == m.value);
	if (m.cmd == RFC2217_SET_STOPSIZE && rfc2217_stop_from_wire(m.value) >= 0)
		CHECK(rfc2217_stop_to_wire(rfc2217_stop_from_wire(m.value)) == m.value);

	rr = telnet_encode_sb(ref, sizeof(ref), TELNET_OPT_COM_PORT, val, canon);
	CHECK(rr > 0 && r == rr && memcmp(enc, ref, rr) == 0);
	CHECK(rfc2217_encode(enc, r - 1, m.code, val + 1, canon - 1) == -ENOSPC);
}

static void on_subneg(void *arg, uint8_t opt, const uint8_t *val, size_t n)
{
	struct run *r = arg;

	CHECK(n <= TELNET_SB_MAX);
	r->nsb++;
	mix(r, "N", 1);
	mix(r, &opt, 1);
	mix(r, val, n);
	if (opt == TELNET_OPT_COM_PORT)
		check_com_port(val, n);
	if (opt == REQUEST_OPT) {
		for (size_t i = 0; i < n; i++) {
			telnet_request(&r->t, val[i] & 0x3f, val[i] & 0x80, val[i] & 0x40);
			r->nreq++;
		}
	}
}

static const struct telnet_ops ops = {
	.send = on_send,
	.option = on_option,
	.subneg = on_subneg,
};

/* Feed in[0..n) in pieces ending at cut (cut == n: one piece); returns the data length. */
static size_t run(struct run *r, const uint8_t *in, size_t n, size_t cut, uint8_t *out)
{
	size_t n1, n2;

	memset(r, 0, sizeof(*r));
	telnet_init(&r->t, &ops, r);
	for (int opt = 0; opt < 256; opt++)
		telnet_allow(&r->t, opt, policy(opt));
	telnet_recv(&r->t, in, cut, out, &n1);
	CHECK(n1 <= cut);
	telnet_recv(&r->t, in + cut, n - cut, out + n1, &n2);
	CHECK(n2 <= n - cut);
	/* Every message sent is a request, or the answer to one 3-byte command received. */
	CHECK(r->nsend <= n / 3 + r->nreq);
	for (int opt = 0; opt < 256; opt++) {
		CHECK(r->on[1][opt] == telnet_local_enabled(&r->t, opt));
		CHECK(r->on[0][opt] == telnet_remote_enabled(&r->t, opt));
	}
	return n1 + n2;
}

static size_t escaped_len(const uint8_t *p, size_t n)
{
	size_t len = n;

	for (size_t i = 0; i < n; i++)
		len += p[i] == TELNET_IAC;
	return len;
}

/* Escaping: exact length, prefix cut at any cap without splitting a pair, and back again. */
static void check_escape(const uint8_t *d, size_t nd, size_t cap_seed)
{
	static const struct telnet_ops quiet = { .send = on_send };
	size_t full = escaped_len(d, nd), used, len, cap, nback;
	uint8_t *esc = malloc(full + !full), *back = malloc(full + !full), none[3];
	struct run *r = malloc(sizeof(*r));
	const uint8_t will_binary[3] = { TELNET_IAC, TELNET_WILL, TELNET_OPT_BINARY };

	CHECK(esc && back && r);
	len = telnet_escape(d, nd, esc, full, &used);
	CHECK(len == full && used == nd);

	cap = cap_seed % (full + 1);
	len = telnet_escape(d, nd, esc, cap, &used);
	CHECK(len <= cap && used <= nd && len == escaped_len(d, used));
	if (used < nd)
		CHECK(cap - len < (d[used] == TELNET_IAC ? 2u : 1u));

	/* Through a parser whose peer is in BINARY (no CR NUL rule), data comes back unchanged. */
	len = telnet_escape(d, nd, esc, full, &used);
	memset(r, 0, sizeof(*r));
	telnet_init(&r->t, &quiet, r);
	telnet_allow(&r->t, TELNET_OPT_BINARY, TELNET_ALLOW_REMOTE);
	telnet_recv(&r->t, will_binary, sizeof(will_binary), none, &nback);
	CHECK(nback == 0 && telnet_remote_enabled(&r->t, TELNET_OPT_BINARY));
	telnet_recv(&r->t, esc, len, back, &nback);
	CHECK(nback == nd && memcmp(back, d, nd) == 0);
	free(r);
	free(back);
	free(esc);
}

/* A line setup from the wire, rebuilt by the subneg callback. */
struct rebuild {
	struct serial_line line;
	int msgs;
};

static void rb_send(void *arg, const uint8_t *buf, size_t n)
{
	__builtin_trap();	/* encode_line carries no negotiation */
}

static void rb_subneg(void *arg, uint8_t opt, const uint8_t *val, size_t n)
{
	struct rebuild *rb = arg;
	struct serial_line *l = &rb->line;
	struct rfc2217_msg m;
	int v;

	CHECK(opt == TELNET_OPT_COM_PORT && rfc2217_decode(val, n, &m) == 0 && !m.from_server);
	switch (rb->msgs++) {
	case 0:
		CHECK(m.cmd == RFC2217_SET_BAUDRATE);
		l->baud = m.value;
		break;
	case 1:
		CHECK(m.cmd == RFC2217_SET_DATASIZE);
		l->data_bits = m.value;
		break;
	case 2:
		v = rfc2217_parity_from_wire(m.value);
		CHECK(m.cmd == RFC2217_SET_PARITY && v >= 0);
		CHECK(rfc2217_parity_to_wire(v) == m.value);
		l->parity = v;
		break;
	case 3:
		v = rfc2217_stop_from_wire(m.value);
		CHECK(m.cmd == RFC2217_SET_STOPSIZE && v >= 0);
		CHECK(rfc2217_stop_to_wire(v) == m.value);
		l->stop_bits = v;
		break;
	case 4:
		CHECK(m.cmd == RFC2217_SET_CONTROL);
		l->flow |= m.value == RFC2217_CTL_FLOW_HARDWARE ? SERIAL_FLOW_CTS :
			   m.value == RFC2217_CTL_FLOW_XONXOFF	? SERIAL_FLOW_IXON :
			   m.value == RFC2217_CTL_FLOW_NONE	? 0 : 0xff;
		break;
	case 5:
		CHECK(m.cmd == RFC2217_SET_CONTROL);
		l->flow |= m.value == RFC2217_CTL_INFLOW_HARDWARE ? SERIAL_FLOW_RTS :
			   m.value == RFC2217_CTL_INFLOW_XONXOFF  ? SERIAL_FLOW_IXOFF :
			   m.value == RFC2217_CTL_INFLOW_NONE	  ? 0 : 0xff;
		break;
	case 6:
		CHECK(m.cmd == RFC2217_SET_CONTROL);
		CHECK(m.value == RFC2217_CTL_DTR_ON || m.value == RFC2217_CTL_DTR_OFF);
		l->modem |= m.value == RFC2217_CTL_DTR_ON ? SERIAL_MODEM_DTR : 0;
		break;
	case 7:
		CHECK(m.cmd == RFC2217_SET_CONTROL);
		CHECK(m.value == RFC2217_CTL_RTS_ON || m.value == RFC2217_CTL_RTS_OFF);
		l->modem |= m.value == RFC2217_CTL_RTS_ON ? SERIAL_MODEM_RTS : 0;
		break;
	default:
		__builtin_trap();
	}
}

static void check_line(const uint8_t *p)
{
	static const struct telnet_ops rb_ops = { .send = rb_send, .subneg = rb_subneg };
	struct serial_line line = {
		.baud = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3],
		.data_bits = p[4] & 0x0f,
		.parity = p[5] & 0x07,
		.stop_bits = p[6] & 0x07,
		.flow = p[7] & 0x1f,
		.modem = p[8] & 0x07,
	};
	uint8_t wire[RFC2217_LINE_MAX], none[RFC2217_LINE_MAX];
	struct rebuild *rb = calloc(1, sizeof(*rb));
	struct telnet *t = malloc(sizeof(*t));
	uint8_t flow = line.flow;
	size_t nd;
	int n;

	CHECK(rb && t);
	n = rfc2217_encode_line(wire, sizeof(wire), &line);
	if (!serial_line_valid(&line)) {
		CHECK(n == -EINVAL);
		goto out;
	}
	CHECK(n > 0 && n <= RFC2217_LINE_MAX);
	CHECK(rfc2217_encode_line(wire, n - 1, &line) == -ENOSPC);
	telnet_init(t, &rb_ops, rb);
	telnet_recv(t, wire, n, none, &nd);
	CHECK(nd == 0 && rb->msgs == 8 && t->sb_dropped == 0);
	/* The wire says hardware or XON/XOFF per direction, hardware first. */
	if (flow & SERIAL_FLOW_CTS)
		flow &= ~SERIAL_FLOW_IXON;
	if (flow & SERIAL_FLOW_RTS)
		flow &= ~SERIAL_FLOW_IXOFF;
	CHECK(rb->line.baud == line.baud && rb->line.data_bits == line.data_bits);
	CHECK(rb->line.parity == line.parity && rb->line.stop_bits == line.stop_bits);
	CHECK(rb->line.flow == flow && rb->line.modem == line.modem);
out:
	free(t);
	free(rb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run *split, *whole;
	uint8_t *out1, *out2;
	size_t n, cut, n1, n2, n3, n4;

	if (size < 1)
		return 0;
	n = size - 1;
	cut = data[0] % (n + 1);
	/* Exact-size heap buffers, so that ASan sees any write past n. */
	split = malloc(sizeof(*split));
	whole = malloc(sizeof(*whole));
	out1 = malloc(n + !n);
	out2 = malloc(n + !n);
	CHECK(split && whole && out1 && out2);

	n1 = run(split, data + 1, n, cut, out1);
	n2 = run(whole, data + 1, n, n, out2);
	CHECK(n1 == n2 && memcmp(out1, out2, n1) == 0);
	CHECK(split->hash == whole->hash);
	CHECK(split->nsend == whole->nsend && split->nopt == whole->nopt &&
	      split->nsb == whole->nsb);
	CHECK(split->t.sb_dropped == whole->t.sb_dropped);
	CHECK(memcmp(split->on, whole->on, sizeof(split->on)) == 0);

	/* In place, as realcomd decodes: each piece into itself, then joined. */
	memcpy(out1, data + 1, n);
	memset(split, 0, sizeof(*split));
	telnet_init(&split->t, &ops, split);
	for (int opt = 0; opt < 256; opt++)
		telnet_allow(&split->t, opt, policy(opt));
	telnet_recv(&split->t, out1, cut, out1, &n3);
	telnet_recv(&split->t, out1 + cut, n - cut, out1 + cut, &n4);
	memmove(out1 + n3, out1 + cut, n4);
	CHECK(n3 + n4 == n2 && memcmp(out1, out2, n2) == 0);
	CHECK(split->hash == whole->hash);

	check_escape(out1, n1, data[0] * 131u + n);
	if (n >= 9)
		check_line(data + 1);

	free(out2);
	free(out1);
	free(whole);
	free(split);
	return 0;
}
