// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Telnet stream codec (RFC 854) with option negotiation by the RFC 1143 Q method.
 * A byte-at-a-time state machine: data out to the caller's buffer, commands through
 * telnet_ops.  No I/O, no allocation, no knowledge of any option's meaning: what
 * COM-PORT-OPTION carries is rfc2217.c's business, when to ask for what the driver's.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "telnet.h"

/* Parser states (struct telnet.state); 0 is plain data so telnet_init's memset starts there. */
enum {
	TS_DATA = 0,
	TS_CR,		/* data; the last byte was a CR and the peer is not in BINARY */
	TS_IAC,
	TS_WILL,
	TS_WONT,
	TS_DO,
	TS_DONT,
	TS_SB,		/* IAC SB seen, the option byte is next */
	TS_SB_OPT_IAC,	/* IAC SB IAC: an escaped option 255, or a broken SB */
	TS_SB_DATA,
	TS_SB_IAC,
};

/*
 * RFC 1143 state of one side of one option (q_us[], q_him[]): the state in the low bits, the
 * queue bit on top.  NO with an empty queue is 0, so a zeroed struct has every option off.
 */
enum {
	Q_NO = 0,
	Q_YES = 1,
	Q_WANTNO = 2,
	Q_WANTYES = 3,
};
#define Q_STATE		0x03
#define Q_OPPOSITE	0x04

#define CR	0x0d
#define NUL	0x00

void telnet_init(struct telnet *t, const struct telnet_ops *ops, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->ops = ops;
	t->arg = arg;
}

void telnet_allow(struct telnet *t, uint8_t opt, uint8_t allow)
{
	t->allow[opt] = allow & (TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE);
}

bool telnet_local_enabled(const struct telnet *t, uint8_t opt)
{
	return (t->q_us[opt] & Q_STATE) == Q_YES;
}

bool telnet_remote_enabled(const struct telnet *t, uint8_t opt)
{
	return (t->q_him[opt] & Q_STATE) == Q_YES;
}

static void send_cmd(struct telnet *t, uint8_t cmd, uint8_t opt)
{
	const uint8_t buf[3] = { TELNET_IAC, cmd, opt };

	t->ops->send(t->arg, buf, sizeof(buf));
}

/*
 * Move one side of an option to state q, then send cmd (0: nothing), then tell the user if the
 * option went on or off.  The state is stored before anything is called, so a callback may
 * itself call telnet_request(); the answer goes out before whatever the callback sends.
 */
static void q_set(struct telnet *t, uint8_t opt, bool local, uint8_t q, uint8_t cmd)
{
	uint8_t *qp = local ? &t->q_us[opt] : &t->q_him[opt];
	bool was = (*qp & Q_STATE) == Q_YES;
	bool is = (q & Q_STATE) == Q_YES;

	*qp = q;
	if (cmd)
		send_cmd(t, cmd, opt);
	if (was != is && t->ops->option)
		t->ops->option(t->arg, opt, local, is);
}

/*
 * The peer asks for the option on (WILL for his side, DO for ours), or agrees to our asking.
 * RFC 1143 "Upon receipt of WILL"; the same table serves DO with the roles swapped.
 */
static void q_recv_yes(struct telnet *t, uint8_t opt, bool local)
{
	uint8_t q = local ? t->q_us[opt] : t->q_him[opt];
	uint8_t yes = local ? TELNET_WILL : TELNET_DO;
	uint8_t no = local ? TELNET_WONT : TELNET_DONT;
	uint8_t want = local ? TELNET_ALLOW_LOCAL : TELNET_ALLOW_REMOTE;

	switch (q & Q_STATE) {
	case Q_NO:
		if (t->allow[opt] & want)
			q_set(t, opt, local, Q_YES, yes);
		else
			send_cmd(t, no, opt);
		break;
	case Q_YES:
		break;		/* already on: answering again is what makes peers loop */
	case Q_WANTNO:
		/*
		 * A protocol error by the peer: our "no" answered by "yes".  Empty queue: stay
		 * off, say nothing.  Queued "yes": take it as granted.  (RFC 1143; no reply.)
		 */
		q_set(t, opt, local, q & Q_OPPOSITE ? Q_YES : Q_NO, 0);
		break;
	case Q_WANTYES:
		if (q & Q_OPPOSITE)
			q_set(t, opt, local, Q_WANTNO, no);
		else
			q_set(t, opt, local, Q_YES, 0);
		break;
	}
}

/* The peer asks for the option off (WONT, DONT), or refuses our asking: RFC 1143 "WONT". */
static void q_recv_no(struct telnet *t, uint8_t opt, bool local)
{
	uint8_t q = local ? t->q_us[opt] : t->q_him[opt];
	uint8_t yes = local ? TELNET_WILL : TELNET_DO;
	uint8_t no = local ? TELNET_WONT : TELNET_DONT;

	switch (q & Q_STATE) {
	case Q_NO:
		break;				/* already off: say nothing */
	case Q_YES:
		q_set(t, opt, local, Q_NO, no);	/* a disable cannot be refused */
		break;
	case Q_WANTNO:
		if (q & Q_OPPOSITE)
			q_set(t, opt, local, Q_WANTYES, yes);
		else
			q_set(t, opt, local, Q_NO, 0);
		break;
	case Q_WANTYES:
		q_set(t, opt, local, Q_NO, 0);	/* refused; a queued "no" is moot */
		break;
	}
}

/*
 * Our side of RFC 1143: ask for the option on or off.  With a negotiation under way the wish
 * goes into the queue bit instead, and is sent when the answer comes back.  The allow policy
 * governs the peer's requests only; asking is the caller's explicit choice.
 */
void telnet_request(struct telnet *t, uint8_t opt, bool local, bool enable)
{
	uint8_t q = local ? t->q_us[opt] : t->q_him[opt];
	uint8_t yes = local ? TELNET_WILL : TELNET_DO;
	uint8_t no = local ? TELNET_WONT : TELNET_DONT;

	switch (q & Q_STATE) {
	case Q_NO:
		if (enable)
			q_set(t, opt, local, Q_WANTYES, yes);
		break;
	case Q_YES:
		if (!enable)
			q_set(t, opt, local, Q_WANTNO, no);
		break;
	case Q_WANTNO:
		/* Queue the opposite (enable), or cancel a queued one (disable). */
		q_set(t, opt, local, enable ? Q_WANTNO | Q_OPPOSITE : Q_WANTNO, 0);
		break;
	case Q_WANTYES:
		q_set(t, opt, local, enable ? Q_WANTYES : Q_WANTYES | Q_OPPOSITE, 0);
		break;
	}
}

static void sb_put(struct telnet *t, uint8_t c)
{
	if (t->sb_len < TELNET_SB_MAX)
		t->sb_buf[t->sb_len++] = c;
	else
		t->sb_overflow = true;
}

static void sb_start(struct telnet *t, uint8_t opt)
{
	t->sb_opt = opt;
	t->sb_len = 0;
	t->sb_overflow = false;
	t->state = TS_SB_DATA;
}

/*
 * IAC SE: hand the payload up, whether or not the option was negotiated; the user knows the
 * option states and decides what to heed.  Over-long payloads were cut, so they are dropped.
 */
static void sb_end(struct telnet *t)
{
	t->state = TS_DATA;
	if (t->sb_overflow)
		t->sb_dropped++;
	else if (t->ops->subneg)
		t->ops->subneg(t->arg, t->sb_opt, t->sb_buf, t->sb_len);
}

/* The byte after an IAC outside a sub-negotiation.  Returns true when it is a data byte (FF). */
static bool iac_cmd(struct telnet *t, uint8_t c)
{
	t->state = TS_DATA;
	switch (c) {
	case TELNET_IAC:
		return true;
	case TELNET_WILL:
		t->state = TS_WILL;
		break;
	case TELNET_WONT:
		t->state = TS_WONT;
		break;
	case TELNET_DO:
		t->state = TS_DO;
		break;
	case TELNET_DONT:
		t->state = TS_DONT;
		break;
	case TELNET_SB:
		t->state = TS_SB;
		break;
	default:
		/* SE outside SB, NOP, DM, BRK, IP, AO, AYT, EC, EL, GA, non-commands: ignored. */
		break;
	}
	return false;
}

/*
 * The peer's sub-negotiation broke off: IAC followed by something other than IAC or SE inside
 * SB.  RFC 854 leaves this undefined; we drop what we have, count it, and read the byte as the
 * command it looks like (IAC SB restarts, IAC WILL negotiates, ...).  This resynchronises after
 * a lost IAC SE without guessing where the payload really ended.
 */
static void sb_abort(struct telnet *t, uint8_t c)
{
	t->sb_dropped++;
	iac_cmd(t, c);
}

void telnet_recv(struct telnet *t, const uint8_t *in, size_t n, uint8_t *data, size_t *ndata)
{
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = in[i];

		if (t->state == TS_CR) {
			t->state = TS_DATA;
			if (c == NUL)	/* NVT "CR NUL" stands for a bare CR (RFC 854) */
				continue;
		}

		if (t->state == TS_DATA && c != TELNET_IAC && c != CR) {
			/* a run of plain data: copied at once up to the next IAC or CR */
			const uint8_t *p = in + i, *stop = memchr(p, TELNET_IAC, n - i);
			size_t run = stop ? (size_t)(stop - p) : n - i;

			stop = memchr(p, CR, run);
			if (stop)
				run = (size_t)(stop - p);
			memmove(data + out, p, run);
			out += run;
			i += run - 1;
			continue;
		}

		switch (t->state) {
		case TS_DATA:
			if (c == TELNET_IAC) {
				t->state = TS_IAC;
				break;
			}
			data[out++] = c;
			if (c == CR && !telnet_remote_enabled(t, TELNET_OPT_BINARY))
				t->state = TS_CR;
			break;
		case TS_IAC:
			if (iac_cmd(t, c))
				data[out++] = c;
			break;
		case TS_WILL:
			t->state = TS_DATA;
			q_recv_yes(t, c, false);
			break;
		case TS_WONT:
			t->state = TS_DATA;
			q_recv_no(t, c, false);
			break;
		case TS_DO:
			t->state = TS_DATA;
			q_recv_yes(t, c, true);
			break;
		case TS_DONT:
			t->state = TS_DATA;
			q_recv_no(t, c, true);
			break;
		case TS_SB:
			if (c == TELNET_IAC)
				t->state = TS_SB_OPT_IAC;
			else
				sb_start(t, c);
			break;
		case TS_SB_OPT_IAC:
			if (c == TELNET_IAC)
				sb_start(t, c);
			else
				sb_abort(t, c);
			break;
		case TS_SB_DATA:
			if (c == TELNET_IAC)
				t->state = TS_SB_IAC;
			else
				sb_put(t, c);
			break;
		case TS_SB_IAC:
			if (c == TELNET_IAC) {
				sb_put(t, c);
				t->state = TS_SB_DATA;
			} else if (c == TELNET_SE) {
				sb_end(t);
			} else {
				sb_abort(t, c);
			}
			break;
		default:	/* not reachable: state is only written here */
			t->state = TS_DATA;
			break;
		}
	}
	*ndata = out;
}

size_t telnet_escape(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *used)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (in[i] != TELNET_IAC && o < cap) {
			/* a run without IAC: copied at once, as far as out has room */
			const uint8_t *stop = memchr(in + i, TELNET_IAC, n - i);
			size_t run = stop ? (size_t)(stop - (in + i)) : n - i;

			if (run > cap - o)
				run = cap - o;
			memcpy(out + o, in + i, run);
			o += run;
			i += run - 1;
			continue;
		}
		if (in[i] == TELNET_IAC) {
			if (cap - o < 2)	/* never split an FF pair */
				break;
			out[o++] = TELNET_IAC;
		} else if (o == cap) {
			break;
		}
		out[o++] = in[i];
	}
	*used = i;
	return o;
}

int telnet_encode_sb(uint8_t *out, size_t cap, uint8_t opt, const uint8_t *val, size_t n)
{
	size_t need = 5 + (opt == TELNET_IAC);
	size_t o = 0, used;

	for (size_t i = 0; i < n; i++)
		need += val[i] == TELNET_IAC ? 2 : 1;
	if (need > cap || need > INT_MAX)
		return -ENOSPC;

	out[o++] = TELNET_IAC;
	out[o++] = TELNET_SB;
	if (opt == TELNET_IAC)
		out[o++] = TELNET_IAC;
	out[o++] = opt;
	o += telnet_escape(val, n, out + o, cap - o, &used);
	out[o++] = TELNET_IAC;
	out[o++] = TELNET_SE;
	return (int)o;
}
