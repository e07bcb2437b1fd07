// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for common/telnet.c: data and escaping, CR NUL, every split of a mixed stream,
 * the whole RFC 1143 table, loop freedom against naive and Q-method peers, ser2net's opening
 * (docs/rfc2217.md), and bounded sub-negotiations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "telnet.h"

#define IAC	TELNET_IAC
#define SB	TELNET_SB
#define SE	TELNET_SE
#define WILL	TELNET_WILL
#define WONT	TELNET_WONT
#define DO	TELNET_DO
#define DONT	TELNET_DONT
#define BINARY	TELNET_OPT_BINARY
#define ECHO	TELNET_OPT_ECHO
#define SGA	TELNET_OPT_SGA
#define COMPORT	TELNET_OPT_COM_PORT

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
/* A byte array literal and its length, as two arguments. */
#define BYTES(...)                                                                         \
	((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

/* Everything a struct telnet did through its ops. */
struct cap {
	uint8_t sent[4096];
	size_t nsent;
	struct {
		uint8_t opt;
		bool local;
		bool enabled;
	} ev[64];
	size_t nev;
	struct {
		uint8_t opt;
		size_t n;
		uint8_t val[TELNET_SB_MAX];
	} sb[8];
	size_t nsb;
};

static void cap_send(void *arg, const uint8_t *buf, size_t n)
{
	struct cap *c = arg;

	assert_true(n <= sizeof(c->sent) - c->nsent);
	memcpy(c->sent + c->nsent, buf, n);
	c->nsent += n;
}

static void cap_option(void *arg, uint8_t opt, bool local, bool enabled)
{
	struct cap *c = arg;

	assert_true(c->nev < ARRAY_SIZE(c->ev));
	c->ev[c->nev].opt = opt;
	c->ev[c->nev].local = local;
	c->ev[c->nev].enabled = enabled;
	c->nev++;
}

static void cap_subneg(void *arg, uint8_t opt, const uint8_t *val, size_t n)
{
	struct cap *c = arg;

	assert_true(c->nsb < ARRAY_SIZE(c->sb));
	assert_true(n <= TELNET_SB_MAX);
	c->sb[c->nsb].opt = opt;
	c->sb[c->nsb].n = n;
	memcpy(c->sb[c->nsb].val, val, n);
	c->nsb++;
}

static const struct telnet_ops cap_ops = {
	.send = cap_send,
	.option = cap_option,
	.subneg = cap_subneg,
};

static void cap_reset(struct cap *c)
{
	memset(c, 0, sizeof(*c));
}

static void cap_assert_equal(const struct cap *a, const struct cap *b)
{
	assert_int_equal(a->nsent, b->nsent);
	assert_memory_equal(a->sent, b->sent, a->nsent);
	assert_int_equal(a->nev, b->nev);
	for (size_t i = 0; i < a->nev; i++) {
		assert_int_equal(a->ev[i].opt, b->ev[i].opt);
		assert_int_equal(a->ev[i].local, b->ev[i].local);
		assert_int_equal(a->ev[i].enabled, b->ev[i].enabled);
	}
	assert_int_equal(a->nsb, b->nsb);
	for (size_t i = 0; i < a->nsb; i++) {
		assert_int_equal(a->sb[i].opt, b->sb[i].opt);
		assert_int_equal(a->sb[i].n, b->sb[i].n);
		assert_memory_equal(a->sb[i].val, b->sb[i].val, a->sb[i].n);
	}
}

#define assert_sent(c, ...)                                                               \
	do {                                                                              \
		const uint8_t want_[] = { __VA_ARGS__ };                                  \
		assert_int_equal((c)->nsent, sizeof(want_));                              \
		assert_memory_equal((c)->sent, want_, sizeof(want_));                     \
	} while (0)

#define assert_nothing_sent(c)	assert_int_equal((c)->nsent, 0)

static void assert_event(const struct cap *c, size_t i, uint8_t opt, bool local, bool enabled)
{
	assert_true(i < c->nev);
	assert_int_equal(c->ev[i].opt, opt);
	assert_int_equal(c->ev[i].local, local);
	assert_int_equal(c->ev[i].enabled, enabled);
}

/* Feed bytes, return the data count; out must hold n bytes. */
static size_t feed(struct telnet *t, const uint8_t *in, size_t n, uint8_t *out)
{
	size_t nd = (size_t)-1;

	telnet_recv(t, in, n, out, &nd);
	assert_true(nd <= n);
	return nd;
}

/* Feed a command and expect no data out of it. */
static void feed_cmd(struct telnet *t, uint8_t cmd, uint8_t opt)
{
	const uint8_t in[3] = { IAC, cmd, opt };
	uint8_t out[3];

	assert_int_equal(feed(t, in, sizeof(in), out), 0);
}

static void setup(struct telnet *t, struct cap *c)
{
	cap_reset(c);
	telnet_init(t, &cap_ops, c);
}

/* ---- data ---- */

static void test_init_all_off(void **state)
{
	struct telnet t;
	struct cap c;

	setup(&t, &c);
	for (int opt = 0; opt < 256; opt++) {
		assert_false(telnet_local_enabled(&t, opt));
		assert_false(telnet_remote_enabled(&t, opt));
		assert_int_equal(t.allow[opt], 0);
	}
	assert_int_equal(t.sb_dropped, 0);
	telnet_allow(&t, 7, 0xff);
	assert_int_equal(t.allow[7], TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE);
}

static void test_data_passthrough(void **state)
{
	struct telnet t;
	struct cap c;
	uint8_t in[255 + 6], out[sizeof(in)];
	size_t n = 0;

	setup(&t, &c);
	/* Every byte but FF; CR is followed by something other than NUL. */
	for (int b = 0; b < 255; b++)
		in[n++] = b;
	memcpy(in + n, "\r\nx\r\r\n", 6);
	n += 6;
	assert_int_equal(feed(&t, in, n, out), n);
	assert_memory_equal(out, in, n);
	/* A NUL not after CR is data. */
	assert_int_equal(feed(&t, BYTES(0, 'a', 0), out), 3);
	assert_memory_equal(out, "\0a\0", 3);
	assert_nothing_sent(&c);
	assert_int_equal(c.nev + c.nsb, 0);
	/* Empty input. */
	assert_int_equal(feed(&t, in, 0, out), 0);
}

static void test_iac_iac_in_data(void **state)
{
	struct telnet t;
	struct cap c;
	uint8_t out[16];
	size_t used;

	setup(&t, &c);
	assert_int_equal(feed(&t, BYTES('a', IAC, IAC, 'b', IAC, IAC, IAC, IAC), out), 5);
	assert_memory_equal(out, ((uint8_t[]){ 'a', 0xff, 'b', 0xff, 0xff }), 5);
	/* Split inside the pair. */
	assert_int_equal(feed(&t, BYTES('c', IAC), out), 1);
	assert_int_equal(feed(&t, BYTES(IAC, 'd'), out), 2);
	assert_memory_equal(out, ((uint8_t[]){ 0xff, 'd' }), 2);
	assert_nothing_sent(&c);

	/* And the other way. */
	assert_int_equal(telnet_escape(BYTES('a', 0xff, 'b', 0xff), out, sizeof(out), &used), 6);
	assert_int_equal(used, 4);
	assert_memory_equal(out, ((uint8_t[]){ 'a', IAC, IAC, 'b', IAC, IAC }), 6);
	assert_int_equal(telnet_escape(BYTES('x'), out, sizeof(out), &used), 1);
	assert_int_equal(used, 1);
	assert_int_equal(telnet_escape(out, 0, out, sizeof(out), &used), 0);
	assert_int_equal(used, 0);
}

/* Every cap from 0 up: output is a prefix of the full escape, FF pairs are never split. */
static void test_escape_caps(void **state)
{
	const uint8_t in[] = { 0xff, 'a', 0xff, 0xff, 'b', 'c', 0xff };
	const uint8_t full[] = { IAC, IAC, 'a', IAC, IAC, IAC, IAC, 'b', 'c', IAC, IAC };
	/* Input bytes taken for each cap. */
	const size_t taken[] = { 0, 0, 1, 2, 2, 3, 3, 4, 5, 6, 6, 7, 7 };

	for (size_t cap = 0; cap <= sizeof(full) + 1; cap++) {
		uint8_t out[sizeof(full) + 2];
		size_t used = 99, n;

		memset(out, 0xaa, sizeof(out));
		n = telnet_escape(in, sizeof(in), out, cap, &used);
		assert_true(n <= cap);
		assert_int_equal(used, taken[cap]);
		assert_memory_equal(out, full, n);
		for (size_t i = n; i < sizeof(out); i++)
			assert_int_equal(out[i], 0xaa);
		/* n is exactly the escaped length of the bytes taken. */
		size_t want = 0;
		for (size_t i = 0; i < used; i++)
			want += in[i] == 0xff ? 2 : 1;
		assert_int_equal(n, want);
	}
}

static void test_cr_nul(void **state)
{
	struct telnet t;
	struct cap c;
	uint8_t out[32];

	setup(&t, &c);
	assert_int_equal(feed(&t, BYTES('a', '\r', 0, 'b', '\r', '\n', 'c', '\r', '\r', 0), out),
			 8);
	assert_memory_equal(out, "a\rb\r\nc\r\r", 8);
	/* Split between CR and NUL. */
	assert_int_equal(feed(&t, BYTES('x', '\r'), out), 2);
	assert_int_equal(feed(&t, BYTES(0, 'y'), out), 1);
	assert_int_equal(out[0], 'y');
	/* CR IAC IAC: the FF is data, not a NUL to eat. */
	assert_int_equal(feed(&t, BYTES('\r', IAC, IAC, 0), out), 3);
	assert_memory_equal(out, ((uint8_t[]){ '\r', 0xff, 0 }), 3);

	/* Our own BINARY does not matter: NVT rules are about what the peer sends. */
	telnet_allow(&t, BINARY, TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE);
	feed_cmd(&t, DO, BINARY);
	assert_true(telnet_local_enabled(&t, BINARY));
	assert_int_equal(feed(&t, BYTES('\r', 0), out), 1);

	/* The peer in BINARY: CR NUL is two data bytes. */
	feed_cmd(&t, WILL, BINARY);
	assert_true(telnet_remote_enabled(&t, BINARY));
	assert_int_equal(feed(&t, BYTES('a', '\r', 0, '\r', '\n', '\r'), out), 6);
	assert_memory_equal(out, "a\r\0\r\n\r", 6);
	assert_int_equal(feed(&t, BYTES(0), out), 1);
	assert_int_equal(out[0], 0);

	/* And back to NVT once the peer leaves BINARY. */
	feed_cmd(&t, WONT, BINARY);
	assert_false(telnet_remote_enabled(&t, BINARY));
	assert_int_equal(feed(&t, BYTES('\r', 0, 'z'), out), 2);
	assert_memory_equal(out, "\rz", 2);
}

/* ---- every split of a mixed stream ---- */

static const uint8_t mixed[] = {
	'a', 'b', IAC, IAC, 'c', '\r', 0, 'd',		/* data, escaped FF, CR NUL (NVT) */
	IAC, WILL, SGA, IAC, DO, BINARY,		/* negotiation */
	IAC, TELNET_NOP, 'e',
	IAC, SB, COMPORT, 101, 0x00, 0x01, IAC, IAC, 0x00, IAC, SE,	/* SB, escaped FF */
	'\r', '\n', IAC, SE, 'f',			/* IAC SE outside SB */
	IAC, WILL, BINARY, '\r', 0,			/* the peer in BINARY: CR NUL stays */
	IAC, SB, COMPORT, 111, IAC, IAC, IAC, SE, IAC, IAC, 'g', '\r',
	IAC, SB, COMPORT, 1, 2, IAC, WILL, ECHO,	/* broken SB, then a refused option */
	IAC, SB, IAC, IAC, 7, IAC, SE, 'h',		/* option 255, escaped */
	IAC, WONT, SGA, IAC, WONT, BINARY, '\r', 0, 'i', IAC,	/* ends inside a command */
};

static void run_mixed(const size_t *cuts, size_t ncuts, uint8_t *data, size_t *ndata,
		      struct cap *c, uint64_t *dropped)
{
	struct telnet t;
	size_t pos = 0;

	setup(&t, c);
	telnet_allow(&t, BINARY, TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE);
	telnet_allow(&t, SGA, TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE);
	*ndata = 0;
	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : sizeof(mixed);

		*ndata += feed(&t, mixed + pos, end - pos, data + *ndata);
		pos = end;
	}
	*dropped = t.sb_dropped;
}

/* Decoding in place (realcomd decodes into the input buffer itself), cut
 * anywhere: the same data, commands and answers as into another buffer. */
static void test_in_place(void **state)
{
	uint8_t ref[sizeof(mixed)], b[sizeof(mixed)];
	size_t nref, n1, n2;
	struct cap cref, c;
	struct telnet t;
	uint64_t dref;

	(void)state;
	run_mixed(NULL, 0, ref, &nref, &cref, &dref);
	for (size_t i = 0; i <= sizeof(mixed); i++) {
		setup(&t, &c);
		telnet_allow(&t, BINARY, TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE);
		telnet_allow(&t, SGA, TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE);
		memcpy(b, mixed, sizeof(mixed));
		n1 = feed(&t, b, i, b);
		n2 = feed(&t, b + i, sizeof(mixed) - i, b + i);
		memmove(b + n1, b + i, n2);
		assert_int_equal(n1 + n2, nref);
		assert_memory_equal(b, ref, nref);
		assert_int_equal(t.sb_dropped, dref);
		cap_assert_equal(&c, &cref);
	}
}

static void test_split_every_point(void **state)
{
	uint8_t ref[sizeof(mixed)], data[sizeof(mixed)];
	size_t nref, ndata;
	struct cap cref, c;
	uint64_t dref, d;
	const uint8_t want[] = { 'a', 'b', 0xff, 'c', '\r', 'd', 'e', '\r', '\n', 'f', '\r', 0,
				 0xff, 'g', '\r', 'h', '\r', 'i' };

	run_mixed(NULL, 0, ref, &nref, &cref, &dref);
	/* The reference itself, checked by hand. */
	assert_int_equal(nref, sizeof(want));
	assert_memory_equal(ref, want, sizeof(want));
	assert_sent(&cref, IAC, DO, SGA, IAC, WILL, BINARY, IAC, DO, BINARY, IAC, DONT, ECHO,
		    IAC, DONT, SGA, IAC, DONT, BINARY);
	assert_int_equal(cref.nsb, 3);
	assert_int_equal(cref.sb[0].opt, COMPORT);
	assert_int_equal(cref.sb[0].n, 5);
	assert_memory_equal(cref.sb[0].val, ((uint8_t[]){ 101, 0, 1, 0xff, 0 }), 5);
	assert_int_equal(cref.sb[1].n, 2);
	assert_memory_equal(cref.sb[1].val, ((uint8_t[]){ 111, 0xff }), 2);
	assert_int_equal(cref.sb[2].opt, 0xff);
	assert_int_equal(cref.sb[2].n, 1);
	assert_int_equal(cref.sb[2].val[0], 7);
	assert_int_equal(dref, 1);
	assert_int_equal(cref.nev, 5);
	assert_event(&cref, 3, SGA, false, false);

	/* One cut anywhere, then two cuts anywhere. */
	for (size_t i = 0; i <= sizeof(mixed); i++) {
		for (size_t j = i; j <= sizeof(mixed); j++) {
			size_t cuts[2] = { i, j };

			run_mixed(cuts, 2, data, &ndata, &c, &d);
			assert_int_equal(ndata, nref);
			assert_memory_equal(data, ref, nref);
			cap_assert_equal(&c, &cref);
			assert_int_equal(d, dref);
		}
	}

	/* Byte by byte. */
	size_t cuts[sizeof(mixed)];
	for (size_t i = 0; i < sizeof(mixed); i++)
		cuts[i] = i;
	run_mixed(cuts, sizeof(mixed), data, &ndata, &c, &d);
	assert_int_equal(ndata, nref);
	assert_memory_equal(data, ref, nref);
	cap_assert_equal(&c, &cref);
	assert_int_equal(d, dref);
}

/* ---- RFC 1143 ---- */

enum qs { S_NO, S_YES, S_WANTNO, S_WANTNO_OPP, S_WANTYES, S_WANTYES_OPP };

static const char *const qs_name[] = {
	"NO", "YES", "WANTNO/EMPTY", "WANTNO/OPPOSITE", "WANTYES/EMPTY", "WANTYES/OPPOSITE",
};

/* One side of an option: what the peer sends to ask for it on/off, and what we send. */
struct side {
	bool local;
	uint8_t in_yes, in_no, out_yes, out_no;
};

static const struct side side_him = { false, WILL, WONT, DO, DONT };
static const struct side side_us = { true, DO, DONT, WILL, WONT };

static bool side_enabled(const struct telnet *t, const struct side *s, uint8_t opt)
{
	return s->local ? telnet_local_enabled(t, opt) : telnet_remote_enabled(t, opt);
}

/*
 * The Q state of one side of an option, found from behaviour alone: probes run on copies of
 * the struct, each with its own capture, and tell the six states apart.
 */
static enum qs classify(const struct telnet *t, const struct side *s, uint8_t opt)
{
	struct telnet p;
	struct cap c;

	if (side_enabled(t, s, opt))
		return S_YES;

	/* Asking for it is only sent from NO. */
	p = *t;
	p.arg = &c;
	cap_reset(&c);
	telnet_request(&p, opt, s->local, true);
	if (c.nsent) {
		assert_sent(&c, IAC, s->out_yes, opt);
		return S_NO;
	}

	/* A refusal makes WANTNO/OPPOSITE ask again, and the others go quiet to NO. */
	p = *t;
	p.arg = &c;
	cap_reset(&c);
	feed_cmd(&p, s->in_no, opt);
	if (c.nsent) {
		assert_sent(&c, IAC, s->out_yes, opt);
		return S_WANTNO_OPP;
	}
	assert_false(side_enabled(&p, s, opt));

	/* An agreement: WANTYES/OPPOSITE takes it back, WANTYES gets it, WANTNO stays off. */
	p = *t;
	p.arg = &c;
	cap_reset(&c);
	feed_cmd(&p, s->in_yes, opt);
	if (c.nsent) {
		assert_sent(&c, IAC, s->out_no, opt);
		return S_WANTYES_OPP;
	}
	return side_enabled(&p, s, opt) ? S_WANTYES : S_WANTNO;
}

/* Bring one side of opt into state q through the public API, checking what goes out. */
static void q_enter(struct telnet *t, struct cap *c, const struct side *s, uint8_t opt,
		    enum qs q)
{
	switch (q) {
	case S_NO:
		break;
	case S_YES:
		telnet_request(t, opt, s->local, true);
		assert_sent(c, IAC, s->out_yes, opt);
		feed_cmd(t, s->in_yes, opt);
		assert_sent(c, IAC, s->out_yes, opt);
		break;
	case S_WANTNO:
		q_enter(t, c, s, opt, S_YES);
		cap_reset(c);
		telnet_request(t, opt, s->local, false);
		assert_sent(c, IAC, s->out_no, opt);
		break;
	case S_WANTNO_OPP:
		q_enter(t, c, s, opt, S_WANTNO);
		cap_reset(c);
		telnet_request(t, opt, s->local, true);
		assert_nothing_sent(c);
		break;
	case S_WANTYES:
		telnet_request(t, opt, s->local, true);
		assert_sent(c, IAC, s->out_yes, opt);
		break;
	case S_WANTYES_OPP:
		q_enter(t, c, s, opt, S_WANTYES);
		cap_reset(c);
		telnet_request(t, opt, s->local, false);
		assert_nothing_sent(c);
		break;
	}
	assert_int_equal(classify(t, s, opt), q);
	cap_reset(c);
}

enum { R_NONE, R_YES, R_NO };			/* what we send */
enum { E_NONE, E_ON, E_OFF };			/* what ops->option reports */
enum { P_ANY = -1, P_REFUSE = 0, P_ALLOW = 1 };	/* policy the row needs */

struct q_row {
	enum qs from;
	bool in_yes;	/* the peer sends WILL/DO (else WONT/DONT) */
	int policy;
	int reply;
	enum qs to;
	int event;
};

/* RFC 1143, "Upon receipt of WILL" and "Upon receipt of WONT", row by row. */
static const struct q_row recv_table[] = {
	{ S_NO, true, P_ALLOW, R_YES, S_YES, E_ON },
	{ S_NO, true, P_REFUSE, R_NO, S_NO, E_NONE },
	{ S_YES, true, P_ANY, R_NONE, S_YES, E_NONE },
	{ S_WANTNO, true, P_ANY, R_NONE, S_NO, E_NONE },
	{ S_WANTNO_OPP, true, P_ANY, R_NONE, S_YES, E_ON },
	{ S_WANTYES, true, P_ANY, R_NONE, S_YES, E_ON },
	{ S_WANTYES_OPP, true, P_ANY, R_NO, S_WANTNO, E_NONE },
	{ S_NO, false, P_ANY, R_NONE, S_NO, E_NONE },
	{ S_YES, false, P_ANY, R_NO, S_NO, E_OFF },
	{ S_WANTNO, false, P_ANY, R_NONE, S_NO, E_NONE },
	{ S_WANTNO_OPP, false, P_ANY, R_YES, S_WANTYES, E_NONE },
	{ S_WANTYES, false, P_ANY, R_NONE, S_NO, E_NONE },
	{ S_WANTYES_OPP, false, P_ANY, R_NONE, S_NO, E_NONE },
};

static void check_outcome(struct telnet *t, struct cap *c, const struct side *s, uint8_t opt,
			  int reply, enum qs to, int event, const char *ctx)
{
	enum qs got = classify(t, s, opt);

	if (got != to || c->nsent != (reply == R_NONE ? 0 : 3) || c->nev != (event != E_NONE))
		print_error("%s: now %s (want %s), %zu bytes sent, %zu events\n", ctx,
			    qs_name[got], qs_name[to], c->nsent, c->nev);
	if (reply == R_NONE)
		assert_nothing_sent(c);
	else
		assert_sent(c, IAC, reply == R_YES ? s->out_yes : s->out_no, opt);
	if (event == E_NONE) {
		assert_int_equal(c->nev, 0);
	} else {
		assert_int_equal(c->nev, 1);
		assert_event(c, 0, opt, s->local, event == E_ON);
	}
	assert_int_equal(side_enabled(t, s, opt), to == S_YES);
	assert_int_equal(got, to);
}

static void test_q_recv_table(void **state)
{
	const struct side *sides[] = { &side_him, &side_us };
	const uint8_t opt = 5;

	for (size_t si = 0; si < ARRAY_SIZE(sides); si++) {
		const struct side *s = sides[si];

		for (size_t r = 0; r < ARRAY_SIZE(recv_table); r++) {
			const struct q_row *row = &recv_table[r];

			for (int policy = P_REFUSE; policy <= P_ALLOW; policy++) {
				struct telnet t;
				struct cap c;
				uint8_t allow = s->local ? TELNET_ALLOW_LOCAL : TELNET_ALLOW_REMOTE;
				char ctx[80];

				if (row->policy != P_ANY && row->policy != policy)
					continue;
				snprintf(ctx, sizeof(ctx), "%s side, %s received in %s, %s",
					 s->local ? "our" : "his", row->in_yes ? "yes" : "no",
					 qs_name[row->from], policy ? "allowed" : "refused");
				setup(&t, &c);
				/* The other side's bit must not matter. */
				telnet_allow(&t, opt, policy ? allow : allow ^ 3);
				q_enter(&t, &c, s, opt, row->from);
				feed_cmd(&t, row->in_yes ? s->in_yes : s->in_no, opt);
				check_outcome(&t, &c, s, opt, row->reply, row->to, row->event, ctx);
				/* Nothing leaked to the other side or other options. */
				assert_false(s->local ? telnet_remote_enabled(&t, opt) :
							telnet_local_enabled(&t, opt));
				assert_false(side_enabled(&t, s, opt + 1));
			}
		}
	}
}

struct req_row {
	enum qs from;
	bool enable;
	int reply;
	enum qs to;
	int event;
};

/* RFC 1143, "If we decide to ask him to enable / disable", queue bit included. */
static const struct req_row req_table[] = {
	{ S_NO, true, R_YES, S_WANTYES, E_NONE },
	{ S_NO, false, R_NONE, S_NO, E_NONE },
	{ S_YES, true, R_NONE, S_YES, E_NONE },
	{ S_YES, false, R_NO, S_WANTNO, E_OFF },
	{ S_WANTNO, true, R_NONE, S_WANTNO_OPP, E_NONE },
	{ S_WANTNO, false, R_NONE, S_WANTNO, E_NONE },
	{ S_WANTNO_OPP, true, R_NONE, S_WANTNO_OPP, E_NONE },
	{ S_WANTNO_OPP, false, R_NONE, S_WANTNO, E_NONE },
	{ S_WANTYES, true, R_NONE, S_WANTYES, E_NONE },
	{ S_WANTYES, false, R_NONE, S_WANTYES_OPP, E_NONE },
	{ S_WANTYES_OPP, true, R_NONE, S_WANTYES, E_NONE },
	{ S_WANTYES_OPP, false, R_NONE, S_WANTYES_OPP, E_NONE },
};

static void test_q_request_table(void **state)
{
	const struct side *sides[] = { &side_him, &side_us };
	const uint8_t opt = 200;

	for (size_t si = 0; si < ARRAY_SIZE(sides); si++) {
		const struct side *s = sides[si];

		for (size_t r = 0; r < ARRAY_SIZE(req_table); r++) {
			const struct req_row *row = &req_table[r];
			struct telnet t;
			struct cap c;
			char ctx[80];

			snprintf(ctx, sizeof(ctx), "%s side, request %s in %s",
				 s->local ? "our" : "his", row->enable ? "on" : "off",
				 qs_name[row->from]);
			setup(&t, &c);	/* no policy: requests do not consult it */
			q_enter(&t, &c, s, opt, row->from);
			telnet_request(&t, opt, s->local, row->enable);
			check_outcome(&t, &c, s, opt, row->reply, row->to, row->event, ctx);
		}
	}
}

/* A full queued round: on, off and on again while the first answer is under way. */
static void test_q_queue_round(void **state)
{
	struct telnet t;
	struct cap c;

	setup(&t, &c);
	telnet_request(&t, SGA, true, true);
	telnet_request(&t, SGA, true, false);	/* queued: no message */
	assert_sent(&c, IAC, WILL, SGA);
	cap_reset(&c);
	feed_cmd(&t, DO, SGA);			/* granted, and we take it back at once */
	assert_sent(&c, IAC, WONT, SGA);
	assert_int_equal(c.nev, 0);		/* never reported on */
	cap_reset(&c);
	telnet_request(&t, SGA, true, true);	/* queued behind the WONT */
	assert_nothing_sent(&c);
	feed_cmd(&t, DONT, SGA);		/* the WONT acknowledged: ask again */
	assert_sent(&c, IAC, WILL, SGA);
	cap_reset(&c);
	feed_cmd(&t, DO, SGA);
	assert_nothing_sent(&c);
	assert_true(telnet_local_enabled(&t, SGA));
	assert_int_equal(c.nev, 1);
	assert_event(&c, 0, SGA, true, true);
}

static void test_q_refused(void **state)
{
	struct telnet t;
	struct cap c;

	setup(&t, &c);
	for (int opt = 0; opt < 256; opt++) {
		cap_reset(&c);
		feed_cmd(&t, WILL, opt);
		feed_cmd(&t, DO, opt);
		assert_sent(&c, IAC, DONT, opt, IAC, WONT, opt);
		cap_reset(&c);
		/* The peer's acknowledgements of our refusals get no answer. */
		feed_cmd(&t, WONT, opt);
		feed_cmd(&t, DONT, opt);
		assert_nothing_sent(&c);
		assert_int_equal(c.nev, 0);
		assert_false(telnet_local_enabled(&t, opt));
		assert_false(telnet_remote_enabled(&t, opt));
	}

	/* One direction allowed, not the other. */
	setup(&t, &c);
	telnet_allow(&t, COMPORT, TELNET_ALLOW_LOCAL);
	feed_cmd(&t, WILL, COMPORT);
	feed_cmd(&t, DO, COMPORT);
	assert_sent(&c, IAC, DONT, COMPORT, IAC, WILL, COMPORT);
	assert_true(telnet_local_enabled(&t, COMPORT));
	assert_false(telnet_remote_enabled(&t, COMPORT));

	/* A disable is never refused, whatever the policy. */
	cap_reset(&c);
	telnet_allow(&t, COMPORT, 0);
	feed_cmd(&t, DONT, COMPORT);
	assert_sent(&c, IAC, WONT, COMPORT);
	assert_false(telnet_local_enabled(&t, COMPORT));
	assert_event(&c, 0, COMPORT, true, false);
}

/* ---- loops: two ends wired back to back ---- */

struct end {
	struct telnet t;
	bool naive;
	uint8_t naive_allow[256];	/* TELNET_ALLOW_* for the naive end */
	uint8_t naive_in[3];		/* a command split across deliveries */
	size_t naive_nin;
	uint8_t out[1 << 14];
	size_t nout;
	size_t msgs;
};

static void end_send(void *arg, const uint8_t *buf, size_t n)
{
	struct end *e = arg;

	assert_true(n <= sizeof(e->out) - e->nout);
	memcpy(e->out + e->nout, buf, n);
	e->nout += n;
	e->msgs += n / 3;
}

static const struct telnet_ops end_ops = { .send = end_send };

static void end_init(struct end *e, bool naive)
{
	memset(e, 0, sizeof(*e));
	e->naive = naive;
	telnet_init(&e->t, &end_ops, e);
}

static void end_allow(struct end *e, uint8_t opt, uint8_t allow)
{
	if (e->naive)
		e->naive_allow[opt] = allow;
	else
		telnet_allow(&e->t, opt, allow);
}

static void end_cmd(struct end *e, uint8_t cmd, uint8_t opt)
{
	const uint8_t m[3] = { IAC, cmd, opt };

	end_send(e, m, sizeof(m));
}

/*
 * A peer doing what RFC 854 alone seems to say: answer every request, whatever state the
 * option is in.  Two of these acknowledge each other forever.
 */
static void naive_recv(struct end *e, const uint8_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t opt;

		e->naive_in[e->naive_nin++] = in[i];
		if (e->naive_nin < 3)
			continue;
		e->naive_nin = 0;
		opt = e->naive_in[2];
		assert_int_equal(e->naive_in[0], IAC);
		switch (e->naive_in[1]) {
		case WILL:
			end_cmd(e, e->naive_allow[opt] & TELNET_ALLOW_REMOTE ? DO : DONT, opt);
			break;
		case DO:
			end_cmd(e, e->naive_allow[opt] & TELNET_ALLOW_LOCAL ? WILL : WONT, opt);
			break;
		case WONT:
			end_cmd(e, DONT, opt);
			break;
		case DONT:
			end_cmd(e, WONT, opt);
			break;
		default:
			fail_msg("unexpected command %u", e->naive_in[1]);
		}
	}
}

static void end_recv(struct end *e, const uint8_t *in, size_t n)
{
	uint8_t data[sizeof(e->out)];

	if (e->naive)
		naive_recv(e, in, n);
	else
		assert_int_equal(feed(&e->t, in, n, data), 0);
}

/* Move what each end queued to the other, chunk bytes at a time (0: all), until quiet. */
static bool pump(struct end *a, struct end *b, size_t chunk, size_t limit)
{
	uint8_t buf[sizeof(a->out)];

	while (a->nout || b->nout) {
		struct end *from = a->nout ? a : b, *to = from == a ? b : a;
		size_t n = chunk && chunk < from->nout ? chunk : from->nout;

		if (a->msgs + b->msgs > limit)
			return false;
		memcpy(buf, from->out, n);
		memmove(from->out, from->out + n, from->nout - n);
		from->nout -= n;
		end_recv(to, buf, n);
	}
	return true;
}

static void test_naive_pair_loops(void **state)
{
	static struct end a, b;

	/* The harness catches a loop: two naive ends never stop, agreeing or refusing. */
	end_init(&a, true);
	end_init(&b, true);
	end_allow(&a, SGA, 3);
	end_allow(&b, SGA, 3);
	end_cmd(&a, WILL, SGA);
	assert_false(pump(&a, &b, 0, 1000));

	end_init(&a, true);
	end_init(&b, true);
	end_cmd(&a, WILL, ECHO);
	assert_false(pump(&a, &b, 0, 1000));
}

static void client_policy(struct end *e)
{
	end_allow(e, BINARY, TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE);
	end_allow(e, SGA, TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE);
	end_allow(e, COMPORT, TELNET_ALLOW_LOCAL);
}

static void server_policy(struct end *e)
{
	end_allow(e, BINARY, TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE);
	end_allow(e, SGA, TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE);
	end_allow(e, ECHO, TELNET_ALLOW_LOCAL);
	end_allow(e, COMPORT, TELNET_ALLOW_REMOTE);
}

static void test_naive_peer_settles(void **state)
{
	static struct end us, peer;
	const uint8_t opening[][2] = {
		{ WILL, SGA }, { DO, SGA }, { WILL, ECHO }, { DONT, ECHO }, { DO, BINARY },
		{ WILL, BINARY }, { DO, COMPORT }, { WONT, 7 }, { DO, 9 }, { WILL, COMPORT },
	};

	for (size_t chunk = 0; chunk <= 4; chunk++) {
		end_init(&us, false);
		end_init(&peer, true);
		client_policy(&us);
		server_policy(&peer);
		for (size_t i = 0; i < ARRAY_SIZE(opening); i++)
			end_cmd(&peer, opening[i][0], opening[i][1]);
		/* Ours cross theirs on the wire. */
		telnet_request(&us.t, BINARY, true, true);
		telnet_request(&us.t, BINARY, false, true);
		telnet_request(&us.t, COMPORT, true, true);
		telnet_request(&us.t, SGA, false, true);
		telnet_request(&us.t, ECHO, false, true);
		telnet_request(&us.t, ECHO, false, false);	/* queued take-back */
		/* 10 + 6 sent first, 12 answers: 28 messages, whatever the chunking. */
		assert_true(pump(&us, &peer, chunk, 28));

		/* Then toggles with the naive peer echoing everything. */
		telnet_request(&us.t, BINARY, true, false);
		telnet_request(&us.t, BINARY, true, true);
		telnet_request(&us.t, SGA, true, false);
		assert_true(pump(&us, &peer, chunk, 28 + 7));

		assert_true(telnet_local_enabled(&us.t, BINARY));
		assert_true(telnet_remote_enabled(&us.t, BINARY));
		assert_true(telnet_remote_enabled(&us.t, SGA));
		assert_false(telnet_local_enabled(&us.t, SGA));
		assert_true(telnet_local_enabled(&us.t, COMPORT));
		assert_false(telnet_remote_enabled(&us.t, COMPORT));
		assert_false(telnet_remote_enabled(&us.t, ECHO));
		assert_false(telnet_local_enabled(&us.t, ECHO));
		assert_false(telnet_local_enabled(&us.t, 9));
	}
}

static void assert_mirror(const struct end *a, const struct end *b)
{
	for (int opt = 0; opt < 256; opt++) {
		assert_int_equal(telnet_local_enabled(&a->t, opt),
				 telnet_remote_enabled(&b->t, opt));
		assert_int_equal(telnet_remote_enabled(&a->t, opt),
				 telnet_local_enabled(&b->t, opt));
	}
}

static void test_two_telnets_settle(void **state)
{
	static struct end a, b;

	end_init(&a, false);
	end_init(&b, false);
	client_policy(&a);
	server_policy(&b);
	/* Both ask for what they want at once (crossing on the wire), and for what the other
	 * refuses; a takes its SGA request back and renews it while the first is under way. */
	telnet_request(&a.t, BINARY, true, true);
	telnet_request(&a.t, BINARY, false, true);
	telnet_request(&a.t, SGA, true, true);
	telnet_request(&a.t, SGA, false, true);
	telnet_request(&a.t, COMPORT, true, true);
	telnet_request(&a.t, 77, true, true);
	telnet_request(&a.t, 77, false, true);
	telnet_request(&a.t, SGA, true, false);
	telnet_request(&a.t, SGA, true, true);
	telnet_request(&b.t, BINARY, true, true);
	telnet_request(&b.t, BINARY, false, true);
	telnet_request(&b.t, SGA, true, true);
	telnet_request(&b.t, SGA, false, true);
	telnet_request(&b.t, COMPORT, false, true);
	telnet_request(&b.t, ECHO, true, true);
	telnet_request(&b.t, ECHO, false, true);
	assert_true(pump(&a, &b, 0, 18));
	assert_mirror(&a, &b);
	assert_true(telnet_local_enabled(&a.t, BINARY) && telnet_remote_enabled(&a.t, BINARY));
	assert_true(telnet_local_enabled(&a.t, SGA) && telnet_remote_enabled(&a.t, SGA));
	assert_true(telnet_local_enabled(&a.t, COMPORT));
	assert_false(telnet_remote_enabled(&a.t, COMPORT));
	assert_false(telnet_local_enabled(&a.t, ECHO) || telnet_remote_enabled(&a.t, ECHO));
	assert_false(telnet_local_enabled(&a.t, 77) || telnet_remote_enabled(&a.t, 77));

	/* Requests that cross are granted to each other, whatever the policies say. */
	telnet_request(&a.t, 78, true, true);
	telnet_request(&b.t, 78, false, true);
	assert_true(pump(&a, &b, 0, a.msgs + b.msgs + 2));
	assert_true(telnet_local_enabled(&a.t, 78) && telnet_remote_enabled(&b.t, 78));
}

/* Random requests on both ends, delivered in random pieces: always quiet, always mirrored. */
static void test_two_telnets_random(void **state)
{
	static struct end a, b;
	uint32_t seed = 12345;

	for (int round = 0; round < 300; round++) {
		size_t requests = 0;

		end_init(&a, false);
		end_init(&b, false);
		for (int opt = 0; opt < 4; opt++) {
			end_allow(&a, opt, (seed >> 3) & 3);
			end_allow(&b, opt, (seed >> 7) & 3);
			seed = seed * 1103515245 + 12345;
		}
		for (int step = 0; step < 50; step++) {
			struct end *e = seed & 0x10000 ? &a : &b;
			uint8_t opt = (seed >> 17) & 3;

			if ((seed >> 20) & 1) {
				telnet_request(&e->t, opt, (seed >> 21) & 1, (seed >> 22) & 1);
				requests++;
			} else {
				/* deliver a little of what is in flight */
				struct end *from = (seed >> 23) & 1 ? &a : &b;
				struct end *to = from == &a ? &b : &a;
				size_t n = ((seed >> 24) & 7) % (from->nout + 1);
				uint8_t buf[8];

				memcpy(buf, from->out, n);
				memmove(from->out, from->out + n, from->nout - n);
				from->nout -= n;
				end_recv(to, buf, n);
			}
			seed = seed * 1103515245 + 12345;
		}
		/* Each request costs at most a few messages; a loop would blow through this. */
		assert_true(pump(&a, &b, 1 + round % 5, 4 * requests));
		assert_mirror(&a, &b);
	}
}

/* ---- ser2net's opening (docs/rfc2217.md, "What real servers do") ---- */

static const uint8_t ser2net_opening[] = {
	IAC, WILL, SGA, IAC, DO, SGA, IAC, WILL, ECHO, IAC, DONT, ECHO,
	IAC, DO, BINARY, IAC, WILL, BINARY, IAC, DO, COMPORT,
};

static void client_setup(struct telnet *t, struct cap *c)
{
	setup(t, c);
	telnet_allow(t, BINARY, TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE);
	telnet_allow(t, SGA, TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE);
	telnet_allow(t, COMPORT, TELNET_ALLOW_LOCAL);
}

static void test_ser2net_opening(void **state)
{
	struct telnet t;
	struct cap c;
	uint8_t out[sizeof(ser2net_opening)];

	/* A client that waits for the server to speak first. */
	client_setup(&t, &c);
	assert_int_equal(feed(&t, ser2net_opening, sizeof(ser2net_opening), out), 0);
	assert_sent(&c, IAC, DO, SGA, IAC, WILL, SGA, IAC, DONT, ECHO, IAC, WILL, BINARY,
		    IAC, DO, BINARY, IAC, WILL, COMPORT);
	assert_int_equal(c.nev, 5);
	assert_event(&c, 0, SGA, false, true);
	assert_event(&c, 1, SGA, true, true);
	assert_event(&c, 2, BINARY, true, true);
	assert_event(&c, 3, BINARY, false, true);
	assert_event(&c, 4, COMPORT, true, true);
	assert_false(telnet_remote_enabled(&t, ECHO));

	/* A client that asked first: the server's requests are its answers; ECHO is refused. */
	client_setup(&t, &c);
	telnet_request(&t, BINARY, true, true);
	telnet_request(&t, BINARY, false, true);
	telnet_request(&t, SGA, true, true);
	telnet_request(&t, SGA, false, true);
	telnet_request(&t, COMPORT, true, true);
	assert_sent(&c, IAC, WILL, BINARY, IAC, DO, BINARY, IAC, WILL, SGA, IAC, DO, SGA,
		    IAC, WILL, COMPORT);
	cap_reset(&c);
	assert_int_equal(feed(&t, ser2net_opening, sizeof(ser2net_opening), out), 0);
	assert_sent(&c, IAC, DONT, ECHO);
	assert_int_equal(c.nev, 5);
	for (int opt = 0; opt < 256; opt++) {
		bool both = opt == BINARY || opt == SGA;

		assert_int_equal(telnet_local_enabled(&t, opt), both || opt == COMPORT);
		assert_int_equal(telnet_remote_enabled(&t, opt), both);
	}
}

/* The option callback may ask for more; our answer still goes out first. */
static void chain_option(void *arg, uint8_t opt, bool local, bool enabled);

static const struct telnet_ops chain_ops = {
	.send = cap_send, .option = chain_option, .subneg = cap_subneg,
};

struct chain {
	struct cap c;		/* first: cap_send gets a struct chain * as a struct cap * */
	struct telnet *t;
};

static void chain_option(void *arg, uint8_t opt, bool local, bool enabled)
{
	struct chain *ch = arg;

	cap_option(arg, opt, local, enabled);
	if (opt == BINARY && !local && enabled)
		telnet_request(ch->t, BINARY, true, true);
}

static void test_option_callback_reentry(void **state)
{
	struct telnet t;
	struct chain ch;
	uint8_t out[3];

	cap_reset(&ch.c);
	ch.t = &t;
	telnet_init(&t, &chain_ops, &ch);
	telnet_allow(&t, BINARY, TELNET_ALLOW_REMOTE);
	assert_int_equal(feed(&t, BYTES(IAC, WILL, BINARY), out), 0);
	assert_sent(&ch.c, IAC, DO, BINARY, IAC, WILL, BINARY);
	cap_reset(&ch.c);
	feed_cmd(&t, DO, BINARY);
	assert_nothing_sent(&ch.c);
	assert_true(telnet_local_enabled(&t, BINARY));
}

/* ops->option and ops->subneg may be NULL. */
static void test_null_callbacks(void **state)
{
	static const struct telnet_ops send_only = { .send = cap_send };
	struct telnet t;
	struct cap c;
	uint8_t out[16];

	cap_reset(&c);
	telnet_init(&t, &send_only, &c);
	telnet_allow(&t, BINARY, TELNET_ALLOW_REMOTE);
	assert_int_equal(feed(&t, BYTES(IAC, WILL, BINARY, IAC, SB, COMPORT, 1, IAC, SE, 'x'), out),
			 1);
	assert_sent(&c, IAC, DO, BINARY);
	assert_true(telnet_remote_enabled(&t, BINARY));
}

/* ---- sub-negotiation ---- */

static void test_sb_basic(void **state)
{
	struct telnet t;
	struct cap c;
	uint8_t out[32];

	setup(&t, &c);
	assert_int_equal(feed(&t, BYTES(IAC, SB, COMPORT, IAC, SE,
					IAC, SB, COMPORT, 10, IAC, IAC, IAC, SE, 'x'), out), 1);
	assert_int_equal(out[0], 'x');
	assert_int_equal(c.nsb, 2);
	assert_int_equal(c.sb[0].opt, COMPORT);
	assert_int_equal(c.sb[0].n, 0);
	assert_int_equal(c.sb[1].n, 2);
	assert_memory_equal(c.sb[1].val, ((uint8_t[]){ 10, 0xff }), 2);
	/* CR NUL inside SB is not data: left alone. */
	cap_reset(&c);
	assert_int_equal(feed(&t, BYTES(IAC, SB, 0, '\r', 0, IAC, SE), out), 0);
	assert_int_equal(c.nsb, 1);
	assert_int_equal(c.sb[0].n, 2);
	assert_memory_equal(c.sb[0].val, "\r\0", 2);
	assert_int_equal(t.sb_dropped, 0);
	assert_nothing_sent(&c);
}

static void test_sb_over_bound(void **state)
{
	struct telnet t;
	struct cap c;
	uint8_t in[3 + TELNET_SB_MAX + 8], out[sizeof(in)];
	size_t n;

	setup(&t, &c);
	/* Exactly TELNET_SB_MAX, the last byte an escaped FF: kept. */
	n = 0;
	in[n++] = IAC;
	in[n++] = SB;
	in[n++] = COMPORT;
	for (int i = 0; i < TELNET_SB_MAX - 1; i++)
		in[n++] = i & 0x7f;
	in[n++] = IAC;
	in[n++] = IAC;
	in[n++] = IAC;
	in[n++] = SE;
	assert_int_equal(feed(&t, in, n, out), 0);
	assert_int_equal(c.nsb, 1);
	assert_int_equal(c.sb[0].n, TELNET_SB_MAX);
	assert_int_equal(c.sb[0].val[TELNET_SB_MAX - 1], 0xff);
	assert_int_equal(t.sb_dropped, 0);

	/* One byte more: dropped whole, counted, and the parser goes on. */
	cap_reset(&c);
	n -= 2;
	in[n++] = 'z';
	in[n++] = IAC;
	in[n++] = SE;
	in[n++] = 'o';
	in[n++] = 'k';
	assert_int_equal(feed(&t, in, n, out), 2);
	assert_memory_equal(out, "ok", 2);
	assert_int_equal(c.nsb, 0);
	assert_int_equal(t.sb_dropped, 1);

	/* Far over, fed byte by byte, then a good one. */
	assert_int_equal(feed(&t, BYTES(IAC, SB, COMPORT), out), 0);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(feed(&t, BYTES(i & 1 ? 0x55 : 0xaa), out), 0);
	assert_int_equal(feed(&t, BYTES(IAC, SE, IAC, SB, COMPORT, 7, 0x10, IAC, SE, 'y'), out), 1);
	assert_int_equal(t.sb_dropped, 2);
	assert_int_equal(c.nsb, 1);
	assert_int_equal(c.sb[0].n, 2);
	assert_memory_equal(c.sb[0].val, ((uint8_t[]){ 7, 0x10 }), 2);
}

/* IAC then anything but IAC or SE inside SB: the SB is dropped and the byte is a command. */
static void test_sb_broken(void **state)
{
	struct telnet t;
	struct cap c;
	uint8_t out[32];

	setup(&t, &c);
	telnet_allow(&t, SGA, TELNET_ALLOW_REMOTE);
	assert_int_equal(feed(&t, BYTES(IAC, SB, COMPORT, 1, 2, IAC, WILL, SGA, 'a'), out), 1);
	assert_sent(&c, IAC, DO, SGA);
	assert_int_equal(c.nsb, 0);
	assert_int_equal(t.sb_dropped, 1);

	/* IAC SB inside SB restarts it. */
	assert_int_equal(feed(&t, BYTES(IAC, SB, COMPORT, 1, IAC, SB, COMPORT, 2, IAC, SE), out),
			 0);
	assert_int_equal(t.sb_dropped, 2);
	assert_int_equal(c.nsb, 1);
	assert_int_equal(c.sb[0].n, 1);
	assert_int_equal(c.sb[0].val[0], 2);

	/* IAC NOP inside SB: dropped, then back to data. */
	assert_int_equal(feed(&t, BYTES(IAC, SB, COMPORT, 1, IAC, TELNET_NOP, 'b'), out), 1);
	assert_int_equal(out[0], 'b');
	assert_int_equal(t.sb_dropped, 3);

	/* IAC SB IAC SE: no option at all. */
	assert_int_equal(feed(&t, BYTES(IAC, SB, IAC, SE, 'c'), out), 1);
	assert_int_equal(out[0], 'c');
	assert_int_equal(t.sb_dropped, 4);

	/* IAC SB IAC IAC: option 255 (as telnet_encode_sb writes it). */
	assert_int_equal(feed(&t, BYTES(IAC, SB, IAC, IAC, 1, IAC, SE), out), 0);
	assert_int_equal(c.nsb, 2);
	assert_int_equal(c.sb[1].opt, 0xff);
	assert_int_equal(c.sb[1].n, 1);
	assert_int_equal(t.sb_dropped, 4);

	/* A stream cut off inside SB, then resumed: nothing is lost. */
	assert_int_equal(feed(&t, BYTES(IAC, SB, COMPORT, 5), out), 0);
	assert_int_equal(feed(&t, BYTES(3, IAC), out), 0);
	assert_int_equal(feed(&t, BYTES(SE), out), 0);
	assert_int_equal(c.nsb, 3);
	assert_memory_equal(c.sb[2].val, ((uint8_t[]){ 5, 3 }), 2);
}

static void test_commands_ignored(void **state)
{
	struct telnet t;
	struct cap c;
	uint8_t out[32];

	setup(&t, &c);
	/* SE outside SB, NOP, DM, BRK, IP, AO, AYT, EC, EL, GA, and a non-command byte. */
	assert_int_equal(feed(&t, BYTES('a', IAC, SE, 'b', IAC, 241, IAC, 242, IAC, 243, IAC, 244,
					IAC, 245, IAC, 246, IAC, 247, IAC, 248, IAC, 249, IAC, 'Q',
					IAC, 0, 'c'), out), 3);
	assert_memory_equal(out, "abc", 3);
	assert_nothing_sent(&c);
	assert_int_equal(c.nsb + c.nev, 0);
	assert_int_equal(t.sb_dropped, 0);
}

/* ---- encode_sb ---- */

static void test_encode_sb(void **state)
{
	uint8_t out[32];

	assert_int_equal(telnet_encode_sb(out, sizeof(out), COMPORT, BYTES(101, 0, 0, 0xe1, 0)),
			 10);
	assert_memory_equal(out, ((uint8_t[]){ IAC, SB, COMPORT, 101, 0, 0, 0xe1, 0, IAC, SE }),
			    10);
	assert_int_equal(telnet_encode_sb(out, sizeof(out), COMPORT, BYTES(10, 0xff)), 8);
	assert_memory_equal(out, ((uint8_t[]){ IAC, SB, COMPORT, 10, IAC, IAC, IAC, SE }), 8);
	assert_int_equal(telnet_encode_sb(out, sizeof(out), 7, NULL, 0), 5);
	assert_memory_equal(out, ((uint8_t[]){ IAC, SB, 7, IAC, SE }), 5);
	assert_int_equal(telnet_encode_sb(out, sizeof(out), 0xff, BYTES(0xff)), 8);
	assert_memory_equal(out, ((uint8_t[]){ IAC, SB, IAC, IAC, IAC, IAC, IAC, SE }), 8);

	/* Every cap short of the need fails and writes nothing. */
	const uint8_t val[] = { 0xff, 1, 0xff, 0xff };
	for (size_t cap = 0; cap < 12; cap++) {
		memset(out, 0xaa, sizeof(out));
		assert_int_equal(telnet_encode_sb(out, cap, COMPORT, val, sizeof(val)), -ENOSPC);
		for (size_t i = 0; i < sizeof(out); i++)
			assert_int_equal(out[i], 0xaa);
	}
	assert_int_equal(telnet_encode_sb(out, 12, COMPORT, val, sizeof(val)), 12);

	/* What it writes, the parser reads back. */
	struct telnet t;
	struct cap c;
	uint8_t data[12];

	setup(&t, &c);
	assert_int_equal(feed(&t, out, 12, data), 0);
	assert_int_equal(c.nsb, 1);
	assert_int_equal(c.sb[0].n, sizeof(val));
	assert_memory_equal(c.sb[0].val, val, sizeof(val));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_all_off),
		cmocka_unit_test(test_data_passthrough),
		cmocka_unit_test(test_iac_iac_in_data),
		cmocka_unit_test(test_escape_caps),
		cmocka_unit_test(test_cr_nul),
		cmocka_unit_test(test_split_every_point),
		cmocka_unit_test(test_q_recv_table),
		cmocka_unit_test(test_q_request_table),
		cmocka_unit_test(test_q_queue_round),
		cmocka_unit_test(test_q_refused),
		cmocka_unit_test(test_naive_pair_loops),
		cmocka_unit_test(test_naive_peer_settles),
		cmocka_unit_test(test_two_telnets_settle),
		cmocka_unit_test(test_two_telnets_random),
		cmocka_unit_test(test_ser2net_opening),
		cmocka_unit_test(test_option_callback_reentry),
		cmocka_unit_test(test_null_callbacks),
		cmocka_unit_test(test_sb_basic),
		cmocka_unit_test(test_sb_over_bound),
		cmocka_unit_test(test_sb_broken),
		cmocka_unit_test(test_in_place),
		cmocka_unit_test(test_commands_ignored),
		cmocka_unit_test(test_encode_sb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
