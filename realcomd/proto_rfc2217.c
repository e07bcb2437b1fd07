// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The RFC 2217 protocol driver (docs/rfc2217.md): one Telnet connection carrying
 * the data and, in band, the COM-PORT-OPTION commands.  The port is up once
 * the server agrees to option 44 and the line set-up is queued: real servers
 * leave some commands unanswered, so nothing ever waits for an answer, and a
 * baud-rate query is the keep-alive.  Telnet and COM-PORT-OPTION framing are
 * telnet.c's and rfc2217.c's; what to send when is this file's.
 */
#include <errno.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "aspp.h"
#include "log.h"
#include "port.h"
#include "rfc2217.h"
#include "sock.h"
#include "tls.h"

#define RF_BUF			(64 * 1024)	/* each way */
#define RF_CHUNK		4096
#define RF_CTL_RESERVE		1024	/* output room kept for commands behind data */
#define RF_DRAIN_POLL_MS	10
/* Line errors the application hears of; the server's mask starts at 0 (docs/rfc2217.md). */
#define RF_LINESTATE_MASK	(RFC2217_LS_BREAK | RFC2217_LS_FRAMING | RFC2217_LS_PARITY | \
				 RFC2217_LS_OVERRUN)
#define RF_SIGNATURE		"realcomd " REALCOM_VERSION
/* Line set-ups out without an answer, at most: further changes wait (rf_defer) */
#define RF_SETS_MAX		8

struct rf {
	struct port *p;
	struct conn c;
	struct telnet t;
	SSL_CTX *tls;
	struct loop_timer brk;		/* ends a timed break */
	struct loop_timer drain;	/* polls a drain */

	bool comport;			/* option 44 on our side: the server heeds commands */
	bool probing, probe_sent;	/* see rf_comport_refused() */
	bool suspended;			/* the server sent FLOWCONTROL-SUSPEND */
	bool feeding;			/* in rf_feed(): telnet_recv() must not nest */
	bool ending;			/* in rf_stop(): the session is ending already */

	size_t rx_ready;		/* decoded bytes at the head of c.in, not taken yet */
	size_t rx_discard;		/* input bytes whose data a flush dropped */
	unsigned int rx_flushes;

	uint64_t ctl_end;		/* output stream offset just past the last command */
	bool drain_wanted;
	uint64_t drain_deadline_ms;
	bool query_out;			/* nothing heard since the keep-alive query */
	uint64_t query_tx;		/* the port's tx_bytes when the query went out */
	uint64_t heard_tx;		/* ... when the last one answered went out: taken */
	unsigned int unanswered;	/* keep-alive ticks in a row TCP got no answer */
	bool query_before_set;		/* a query's answer may still carry the old rate */
	/* set-ups sent whose answer has not come, by SET-BAUDRATE..SET-STOPSIZE:
	 * an answer with more behind it is about a line since replaced */
	unsigned int sets_out[RFC2217_SET_STOPSIZE + 1];
	unsigned int deferred;		/* enum proto_deferred, waiting (rf_defer) */
	uint64_t query_ms;		/* when it went out (or output last held it back) */
};

static const char *const rf_cmd_names[] = {
	"SIGNATURE", "SET-BAUDRATE", "SET-DATASIZE", "SET-PARITY", "SET-STOPSIZE",
	"SET-CONTROL", "NOTIFY-LINESTATE", "NOTIFY-MODEMSTATE", "FLOWCONTROL-SUSPEND",
	"FLOWCONTROL-RESUME", "SET-LINESTATE-MASK", "SET-MODEMSTATE-MASK", "PURGE-DATA",
};

static struct rf *rf_of(struct port *p)
{
	return p->proto_priv;
}

/* Queue Telnet commands (negotiation or COM-PORT-OPTION) behind the data sent so far. */
static void rf_send(struct rf *rf, const uint8_t *msg, int n)
{
	struct conn *c = &rf->c;

	if (n <= 0) {
		port_log(rf->p, LOG_ERR, "cannot encode a command (%d)", n);
		return;
	}
	if (!conn_is_open(c))
		return;		/* ended under a callback; the port knows already */
	if (conn_send(c, msg, (size_t)n) < 0) {
		port_proto_down(rf->p, -ENOBUFS, "connection: output full");
		return;
	}
	rf->ctl_end = c->bytes_out + buf_len(&c->out);
}

static void rf_send_u8(struct rf *rf, uint8_t code, uint8_t value)
{
	uint8_t msg[RFC2217_MSG_MAX];

	rf_send(rf, msg, rfc2217_encode_u8(msg, sizeof(msg), code, value));
}

/* Bytes the socket holds that the server has not acknowledged (SIOCOUTQ),
 * or that it has not even sent, the server's window being closed
 * (SIOCOUTQNSD). */
static size_t rf_outq(const struct rf *rf, unsigned long which)
{
	int n = 0;

	if (!conn_is_open(&rf->c) || ioctl(rf->c.fd, which, &n) < 0 || n < 0)
		return 0;
	return (size_t)n;
}

/*
 * The line set-up, the line-state mask and a signature request in one write.
 * SET-CONTROLs for DTR and RTS go back to back, there being no atomic form
 * (docs/rfc2217.md).  The modem-state mask is left at its initial 255: no mask
 * short of 255 reports every change on servers that send only when
 * (state & mask) != 0, and 255 itself goes out as FF FF, which sredird
 * does not undo: it writes the SE that follows to the serial line.
 */
/* RFC 2217 has no command for XON/XOFF characters: other ones are said,
 * once (last_error), not silently left out. */
static void rf_xchars_unsent(struct port *p)
{
	if ((p->line.flow & (SERIAL_FLOW_IXON | SERIAL_FLOW_IXOFF)) &&
	    (p->line.xon != 0x11 || p->line.xoff != 0x13))
		port_proto_refused(p, "XON/XOFF characters %02X/%02X: RFC 2217 cannot set them, "
				   "the server uses its own (11/13)", p->line.xon, p->line.xoff);
}

static void rf_send_setup(struct rf *rf, bool connecting)
{
	struct port *p = rf->p;
	uint8_t msg[RFC2217_LINE_MAX + 2 * RFC2217_MSG_MAX];
	int n = rfc2217_encode_line(msg, sizeof(msg), &p->line), r;
	size_t len;

	if (n < 0) {
		port_log(p, LOG_WARNING, "line settings cannot be sent (baud %u)", p->line.baud);
		n = 0;
	}
	if (!connecting)
		rf_xchars_unsent(p);	/* a session's start says it once up */
	len = (size_t)n;
	rf->query_before_set = rf->query_out;
	for (unsigned int code = RFC2217_SET_BAUDRATE; n > 0 && code <= RFC2217_SET_STOPSIZE; code++)
		rf->sets_out[code]++;
	if (connecting) {
		r = rfc2217_encode_u8(msg + len, sizeof(msg) - len, RFC2217_SET_LINESTATE_MASK,
				      RF_LINESTATE_MASK);
		len += r > 0 ? (size_t)r : 0;
		r = rfc2217_encode_signature(msg + len, sizeof(msg) - len, RFC2217_SIGNATURE, "");
		len += r > 0 ? (size_t)r : 0;
	}
	if (len)
		rf_send(rf, msg, (int)len);
}

/*
 * Whether the server turned our WILL 44 down.  telnet.c reports options that
 * go on or off, not a request refused (WANTYES -> NO is silent), so ask again
 * with the output held back: by the Q method, something is sent only when the
 * option is off with no request under way, i.e. refused.  The connection ends
 * right after a refusal, so the state the unsent request leaves does not matter.
 */
static bool rf_comport_refused(struct rf *rf)
{
	rf->probing = true;
	rf->probe_sent = false;
	telnet_request(&rf->t, TELNET_OPT_COM_PORT, true, true);
	rf->probing = false;
	return rf->probe_sent;
}

/* Hand decoded data to the application; true when all of it went. */
static bool rf_deliver(struct rf *rf)
{
	size_t taken;

	if (rf->rx_ready == 0)
		return true;
	taken = port_proto_rx(rf->p, buf_head(&rf->c.in), rf->rx_ready);
	buf_consume(&rf->c.in, taken);
	rf->rx_ready -= taken;
	return rf->rx_ready == 0;
}

/*
 * Decode the server's bytes in place, no more at a time than the application
 * can take, so nothing is lost when it is full: the rest waits in c->in and
 * in TCP.  Decoding never grows data: the data of n bytes is moved up to end
 * where they ended, and what is left of c->in is that data (rx_ready bytes)
 * and the bytes not decoded yet.  Commands behind data wait too; that is the
 * price of in-band signalling.
 */
static void rf_feed(struct rf *rf)
{
	struct conn *c = &rf->c;

	if (rf->feeding)
		return;
	rf->feeding = true;
	while (conn_is_open(c) && rf_deliver(rf) && buf_len(&c->in) > 0) {
		unsigned int flushes = rf->rx_flushes;
		size_t n = buf_len(&c->in), nd;
		uint8_t *head = (uint8_t *)buf_head(&c->in);

		if (rf->rx_discard > 0) {
			if (n > rf->rx_discard)
				n = rf->rx_discard;
		} else {
			size_t room = port_proto_rx(rf->p, NULL, 0);

			if (n > room)
				n = room;
			if (n == 0)
				break;
		}
		telnet_recv(&rf->t, head, n, head, &nd);
		if (!conn_is_open(c))
			break;	/* a callback ended the connection */
		/* Data from before a flush (also one from a callback just now) is dropped. */
		if (rf->rx_discard > 0 || rf->rx_flushes != flushes) {
			rf->rx_discard -= n < rf->rx_discard ? n : rf->rx_discard;
			nd = 0;
		}
		memmove(head + n - nd, head, nd);
		buf_consume(&c->in, n - nd);
		rf->rx_ready = nd;
		if (!rf->comport && rf_comport_refused(rf)) {
			port_proto_down(rf->p, -EPROTONOSUPPORT,
					"the server refused COM-PORT-OPTION (RFC 2217)");
			break;
		}
	}
	rf->feeding = false;
	if (conn_is_open(c))
		conn_pause(c, buf_len(&c->in) > 0);
}

static void rf_rx_resume(struct port *p)
{
	rf_feed(rf_of(p));
}

/* The room left for data, every byte of which may double. */
static size_t rf_tx_room(const struct rf *rf)
{
	size_t room = conn_send_room(&rf->c);

	if (!conn_is_open(&rf->c) || rf->suspended || room <= RF_CTL_RESERVE)
		return 0;
	return room - RF_CTL_RESERVE;
}

static size_t rf_tx(struct port *p, const uint8_t *d, size_t n)
{
	struct rf *rf = rf_of(p);
	size_t room = rf_tx_room(rf), done = 0;
	uint8_t out[2 * RF_CHUNK];

	if (!d)
		return room / 2;
	while (done < n && conn_is_open(&rf->c)) {
		size_t used, len = telnet_escape(d + done, n - done, out,
						 room < sizeof(out) ? room : sizeof(out), &used);

		if (used == 0 || conn_queue(&rf->c, out, len) < 0)
			break;
		room -= len;
		done += used;
	}
	if (done)
		conn_push(&rf->c);	/* every chunk in one write */
	return done;
}

/*
 * tcdrain: RFC 2217 has no transmitter-empty answer (docs/rfc2217.md), so this
 * waits for our buffer and the socket to empty, i.e. for the server to
 * have everything, and for a timed break to end (a close right after
 * tcsendbreak() gets the whole break, as on a UART).
 */
static void rf_drain_check(struct rf *rf)
{
	struct port *p = rf->p;
	size_t left;

	if (!rf->drain_wanted)
		return;
	left = buf_len(&rf->c.out) + rf_outq(rf, SIOCOUTQ);
	if ((left > 0 || rf->brk.armed) && loop_now_ms() < rf->drain_deadline_ms) {
		if (!rf->drain.armed)
			loop_timer_arm(&rf->drain, RF_DRAIN_POLL_MS, RF_DRAIN_POLL_MS);
		return;
	}
	rf->drain_wanted = false;
	loop_timer_disarm(&rf->drain);
	if (left > 0)
		port_log(p, LOG_WARNING, "drain: %zu bytes not taken by the server in time", left);
	port_proto_drained(p, left < UINT32_MAX ? (uint32_t)left : UINT32_MAX - 1);
}

static void rf_drain_poll(struct loop_timer *t)
{
	rf_drain_check(t->arg);
}

static void rf_drain(struct port *p, uint32_t timeout_ms)
{
	struct rf *rf = rf_of(p);

	rf->drain_wanted = true;
	rf->drain_deadline_ms = loop_now_ms() + timeout_ms;
	rf_drain_check(rf);
}

/*
 * Where queued application data may be cut: behind the last command and
 * behind the first keep bytes (what TLS may hold of the head for a write it
 * retries), only between whole escaped bytes: a command or an FF FF pair cut
 * short would garble the stream.  A run of FFs in escaped data has an even
 * length, so an odd run at the head means its first FF ends a pair already
 * written.  An offset from the head, at most the queued length.
 */
static size_t rf_data_cut(const struct rf *rf, size_t keep)
{
	const struct buf *b = &rf->c.out;
	const uint8_t *q = buf_head(b);
	size_t len = buf_len(b), cut = 0, run = 0;

	if (rf->ctl_end > rf->c.bytes_out)
		cut = (size_t)(rf->ctl_end - rf->c.bytes_out);
	if (cut >= len)
		return len;
	while (cut + run < len && q[cut + run] == TELNET_IAC)
		run++;
	cut += run & 1;
	while (cut < keep && cut < len)
		cut += q[cut] == TELNET_IAC ? 2 : 1;
	return cut < len ? cut : len;
}

/* Drop the application data still queued behind the last command. */
static void rf_drop_output(struct rf *rf)
{
	struct buf *b = &rf->c.out;
	size_t len = buf_len(b);
	size_t cut = rf_data_cut(rf, rf->c.ssl ? SSL3_RT_MAX_PLAIN_LENGTH : 0);

	if (cut < len) {
		buf_truncate(b, cut);
		if (rf->c.ahead_end > rf->c.bytes_out + cut)
			rf->c.ahead_end = rf->c.bytes_out + cut;
		port_log(rf->p, LOG_DEBUG, "flush: dropped %zu bytes not sent yet", len - cut);
	}
}

/*
 * XON/XOFF from the tty: data (escaped, should it be FF), but ahead of the
 * data queued behind the last command, and also while the server has
 * suspended output (a UART sends it while output is stopped, too).
 */
static void rf_send_xchar(struct port *p, uint8_t ch)
{
	struct rf *rf = rf_of(p);
	uint8_t esc[2];
	size_t used, n = telnet_escape(&ch, 1, esc, sizeof(esc), &used);
	int r = conn_is_open(&rf->c) ? conn_send_ahead(&rf->c, esc, n,
						       rf_data_cut(rf, conn_tls_held(&rf->c))) :
				       -ENOTCONN;

	if (r < 0)
		port_log_limited(p, PORT_LIMIT_SERVER, LOG_WARNING, "XON/XOFF %02X not sent: %s",
				 ch, strerror(-r));
}

static bool rf_sets_busy(const struct rf *rf)
{
	for (unsigned int code = RFC2217_SET_BAUDRATE; code <= RFC2217_SET_STOPSIZE; code++)
		if (rf->sets_out[code] >= RF_SETS_MAX)
			return true;
	return false;
}

/* Commands behind data have used half the room kept for them. */
static bool rf_ctl_full(const struct rf *rf)
{
	return conn_send_room(&rf->c) < RF_CTL_RESERVE / 2;
}

/*
 * An application that sets termios, modem lines or break in a loop must not
 * fill the output (that ends the session) nor outrun the answers we count
 * (an answer would then be taken for a refusal): while RF_SETS_MAX set-ups
 * are unanswered, or commands fill half their reserve, a change waits and
 * rf_catch_up() sends what stands then, once.  Once something waits, later
 * changes wait too, in order.
 */
static bool rf_defer(struct rf *rf, unsigned int what)
{
	if (rf->p->state != PORT_UP ||
	    (!rf->deferred && !rf_ctl_full(rf) && (!(what & DEFER_LINE) || !rf_sets_busy(rf))))
		return false;
	rf->deferred |= what;
	return true;
}

static void rf_send_purge(struct rf *rf, bool rx, bool tx)
{
	rf_send_u8(rf, RFC2217_PURGE_DATA, rx && tx ? RFC2217_PURGE_BOTH :
				  rx ? RFC2217_PURGE_RX : RFC2217_PURGE_TX);
}

static void rf_flush(struct port *p, bool rx, bool tx)
{
	struct rf *rf = rf_of(p);

	if (rx) {
		/* never inside rf_feed()'s decoding: rx_ready is 0 there */
		buf_consume(&rf->c.in, rf->rx_ready);
		rf->rx_ready = 0;
		rf->rx_discard = buf_len(&rf->c.in);
		rf->rx_flushes++;
	}
	if (tx)
		rf_drop_output(rf);
	/*
	 * Closing, the server may still hold data for the line that there was no
	 * way to wait for (no transmitter-empty answer): a PURGE would lose it.
	 */
	if (p->state != PORT_CLOSING && (rx || tx) &&
	    !rf_defer(rf, (rx ? DEFER_FLUSH_RX : 0) | (tx ? DEFER_FLUSH_TX : 0)))
		rf_send_purge(rf, rx, tx);
	if (rx)
		rf_feed(rf);	/* commands in the dropped input still count */
	rf_drain_check(rf);
}

static void rf_set_line(struct port *p)
{
	struct rf *rf = rf_of(p);

	if (!rf_defer(rf, DEFER_LINE))
		rf_send_setup(rf, false);
}

static void rf_set_modem(struct port *p)
{
	struct rf *rf = rf_of(p);
	uint8_t msg[2 * RFC2217_MSG_MAX];

	if (rf_defer(rf, DEFER_MODEM))
		return;
	int n = rfc2217_encode_u8(msg, sizeof(msg), RFC2217_SET_CONTROL,
				  p->line.modem & SERIAL_MODEM_DTR ? RFC2217_CTL_DTR_ON :
								     RFC2217_CTL_DTR_OFF);
	int r;

	if (n < 0) {
		rf_send(rf, msg, n);
		return;
	}
	r = rfc2217_encode_u8(msg + n, sizeof(msg) - (size_t)n, RFC2217_SET_CONTROL,
			      p->line.modem & SERIAL_MODEM_RTS ? RFC2217_CTL_RTS_ON :
								 RFC2217_CTL_RTS_OFF);
	rf_send(rf, msg, r < 0 ? r : n + r);
}

static void rf_break_end(struct loop_timer *t)
{
	struct rf *rf = t->arg;

	rf_send_u8(rf, RFC2217_SET_CONTROL, RFC2217_CTL_BREAK_OFF);
	rf->p->unit_break = rf->p->break_held;
	rf_drain_check(rf);
}

static void rf_set_break(struct port *p, uint32_t ms)
{
	struct rf *rf = rf_of(p);

	loop_timer_disarm(&rf->brk);
	if ((ms == 0 || ms == UINT32_MAX) && rf_defer(rf, DEFER_BREAK))
		return;		/* p->break_held says which */
	if (ms == UINT32_MAX) {
		rf_send_u8(rf, RFC2217_SET_CONTROL, RFC2217_CTL_BREAK_OFF);
		return;
	}
	rf_send_u8(rf, RFC2217_SET_CONTROL, RFC2217_CTL_BREAK_ON);
	if (ms > 0) {
		p->unit_break = true;	/* until rf_break_end() */
		loop_timer_arm(&rf->brk, ms, 0);
	}
}

/*
 * What waited (rf_defer), once the output has room and fewer than
 * RF_SETS_MAX set-ups are unanswered; anyway (the keep-alive's beat), also
 * while they are: a server that leaves set-ups unanswered still gets the line.
 */
static void rf_catch_up(struct rf *rf, bool anyway)
{
	struct port *p = rf->p;
	unsigned int d = rf->deferred;

	if (!d || !conn_is_open(&rf->c) || rf_ctl_full(rf) ||
	    (!anyway && (d & DEFER_LINE) && rf_sets_busy(rf)))
		return;
	rf->deferred = 0;
	if (d & DEFER_LINE)
		rf_send_setup(rf, false);
	if (d & DEFER_MODEM)
		rf_set_modem(p);
	if (d & DEFER_BREAK)
		rf_set_break(p, p->break_held ? 0 : UINT32_MAX);
	if (d & (DEFER_FLUSH_RX | DEFER_FLUSH_TX))
		rf_send_purge(rf, d & DEFER_FLUSH_RX, d & DEFER_FLUSH_TX);
}

/* How long the line needs for n bytes, at 12 bits a character (8E2, the
 * longest) and 300 baud at least. */
static uint64_t rf_line_ms(const struct port *p, uint64_t n)
{
	return n * 12 * 1000 / (p->line.baud > 300 ? p->line.baud : 300);
}

/* The keep-alive's query was answered: the server has read what went before
 * it.  Any SET-BAUDRATE answer counts, and a COM-PORT message that does not
 * decode (sredird answers the query in 8 bytes). */
static void rf_query_answered(struct rf *rf)
{
	if (rf->query_out)
		rf->heard_tx = rf->query_tx;
	rf->query_out = false;
}

/*
 * Liveness: a baud-rate query (0) makes the server answer (rf_query_answered);
 * anything else it sends shows it alive, and the wait starts again, but not
 * that it has read up to the query (data it relays may be older).  The query
 * may wait behind data, as long as the server's TCP answers
 * (sock_unanswered(), two ticks in a row: a link that drops what it is sent):
 * - behind output the server's TCP does not take (its window closed: a line
 *   held by flow control, or a server that hangs with its socket full):
 *   the wait starts again.  Output sent and not acknowledged yet is no
 *   such sign: a hung server's kernel acknowledges a trickle for ever;
 * - behind what it took since the last answered query, in its socket and
 *   queue: the wait is longer by the time the line needs for that.
 * Answered within half of keepalive, sent at most a quarter after the
 * server stopped: found dead within keepalive seconds, as Real COM.
 * No TCP_USER_TIMEOUT (sock_tune()): Linux applies it to a peer that
 * answers window probes too, and it ended connections held by flow control.
 */
static void rf_keepalive(struct port *p)
{
	struct rf *rf = rf_of(p);
	struct conn *c = &rf->c;
	uint64_t now = loop_now_ms(), limit = 500ULL * p->cfg.keepalive;
	uint8_t msg[RFC2217_MSG_MAX];

	if (!conn_is_open(c))
		return;
	rf_catch_up(rf, true);
	if (buf_len(&c->in) > 0 || (c->paused && conn_unread(c) > 0)) {
		/* It talks, and back-pressure keeps us from reading: no question now.
		 * Not paused, bytes waiting are no sign of life: a TLS record cut
		 * off by a dead link stays in OpenSSL's hands for good. */
		rf->query_out = false;
		return;
	}
	if (rf->query_out) {
		rf->unanswered = sock_unanswered(c->fd) ? rf->unanswered + 1 : 0;
		if (rf->unanswered < 2) {
			if (buf_len(&c->out) > 0 || rf_outq(rf, SIOCOUTQNSD) > 0)
				rf->query_ms = now;
			else
				limit += rf_line_ms(p, rf->query_tx - rf->heard_tx);
		}
		if (now - rf->query_ms >= limit)
			port_proto_down(p, -ETIMEDOUT, "no answer from the server");
		return;
	}
	rf->query_out = true;
	rf->query_ms = now;
	rf->query_tx = p->stats.tx_bytes;
	rf->unanswered = 0;
	rf_send(rf, msg, rfc2217_encode_baud(msg, sizeof(msg), RFC2217_SET_BAUDRATE, 0));
}

/* NOTIFY-LINESTATE bits -> ASPP_EV_* (the backends' terms). */
static const struct {
	uint8_t wire, ev;
} rf_line_events[] = {
	{ RFC2217_LS_PARITY, ASPP_EV_PARITY },
	{ RFC2217_LS_FRAMING, ASPP_EV_FRAMING },
	{ RFC2217_LS_OVERRUN, ASPP_EV_HW_OVERRUN },
	{ RFC2217_LS_BREAK, ASPP_EV_BREAK },
};

static void rf_linestate(struct rf *rf, uint8_t value)
{
	uint8_t ev = 0;

	for (size_t i = 0; i < sizeof(rf_line_events) / sizeof(rf_line_events[0]); i++)
		if (value & rf_line_events[i].wire)
			ev |= rf_line_events[i].ev;
	if (ev)
		port_proto_line_event(rf->p, ev);
}

/*
 * The line in effect when the server answered a setting with value, not
 * what was asked: p->line with that one field changed.  False when the
 * value means nothing we can show.
 */
static bool rf_in_effect(const struct port *p, uint8_t cmd, uint32_t value,
			 struct serial_line *l)
{
	int v;

	*l = p->line;
	switch (cmd) {
	case RFC2217_SET_BAUDRATE:
		l->baud = value;
		return value > 0;
	case RFC2217_SET_DATASIZE:
		l->data_bits = (uint8_t)value;
		return value >= 5 && value <= 8;
	case RFC2217_SET_PARITY:
		v = rfc2217_parity_from_wire((uint8_t)value);
		l->parity = (uint8_t)v;
		return v >= 0 && value <= UINT8_MAX;
	case RFC2217_SET_STOPSIZE:
		v = rfc2217_stop_from_wire((uint8_t)value);
		l->stop_bits = (uint8_t)v;
		return v >= 0 && value <= UINT8_MAX;
	default:
		return false;
	}
}

/*
 * Whether an answer to a line setting is about the line the application has
 * now: not when a newer set-up is out (its answer follows) or waits to go
 * (rf_defer), nor when it answers the keep-alive's query sent before the set-up.
 */
static bool rf_answer_current(struct rf *rf, uint8_t cmd)
{
	if (cmd == RFC2217_SET_BAUDRATE && rf->query_before_set) {
		rf->query_before_set = false;
		return false;
	}
	if (rf->sets_out[cmd] > 0)
		rf->sets_out[cmd]--;
	return rf->sets_out[cmd] == 0 && !(rf->deferred & DEFER_LINE);
}

/*
 * An answer to a command: liveness, and a line setting the server did not
 * take (a rate it cannot do) is what is in effect: the port's last_error,
 * and the application's termios (port_proto_line_applied).  Other
 * differences are logged and otherwise ignored: sredird answers a DTR set
 * with another value, ser2net always says break is on (docs/rfc2217.md).
 */
static void rf_answer(struct rf *rf, const struct rfc2217_msg *m)
{
	struct port *p = rf->p;
	const struct serial_line *l = &p->line;
	struct serial_line now;
	bool setting = true;
	uint32_t asked;

	switch (m->cmd) {
	case RFC2217_SET_BAUDRATE:
	case RFC2217_SET_DATASIZE:
	case RFC2217_SET_PARITY:
	case RFC2217_SET_STOPSIZE:
		if (!rf_answer_current(rf, m->cmd))
			return;
		asked = m->cmd == RFC2217_SET_BAUDRATE ? l->baud :
			m->cmd == RFC2217_SET_DATASIZE ? l->data_bits :
			m->cmd == RFC2217_SET_PARITY ? rfc2217_parity_to_wire(l->parity) :
						       rfc2217_stop_to_wire(l->stop_bits);
		break;
	case RFC2217_SET_CONTROL:
		if (m->value >= RFC2217_CTL_DTR_QUERY && m->value <= RFC2217_CTL_DTR_OFF)
			asked = l->modem & SERIAL_MODEM_DTR ? RFC2217_CTL_DTR_ON :
							      RFC2217_CTL_DTR_OFF;
		else if (m->value >= RFC2217_CTL_RTS_QUERY && m->value <= RFC2217_CTL_RTS_OFF)
			asked = l->modem & SERIAL_MODEM_RTS ? RFC2217_CTL_RTS_ON :
							      RFC2217_CTL_RTS_OFF;
		else
			asked = m->value;	/* flow and break answers are not checked */
		setting = false;
		break;
	case RFC2217_SET_LINESTATE_MASK:
		asked = RF_LINESTATE_MASK;
		setting = false;
		break;
	default:
		asked = m->value;
		break;
	}
	if (m->value == asked)
		return;
	if (!setting) {
		port_log_limited(p, PORT_LIMIT_SERVER, LOG_DEBUG,
				 "the server answered %s with %u, not %u (ignored)",
				 rf_cmd_names[m->cmd], m->value, asked);
		return;
	}
	port_proto_refused(p, "the server answered %s with %u, not %u", rf_cmd_names[m->cmd],
			   m->value, asked);
	if (rf_in_effect(p, m->cmd, m->value, &now))
		port_proto_line_applied(p, &now);
}

static void rf_send_signature(struct rf *rf)
{
	uint8_t msg[RFC2217_MSG_MAX + sizeof(RF_SIGNATURE)];

	rf_send(rf, msg, rfc2217_encode_signature(msg, sizeof(msg), RFC2217_SIGNATURE,
						  RF_SIGNATURE));
}

static void rf_telnet_subneg(void *arg, uint8_t opt, const uint8_t *val, size_t n)
{
	struct rf *rf = arg;
	struct port *p = rf->p;
	struct rfc2217_msg m;

	if (opt != TELNET_OPT_COM_PORT || !conn_is_open(&rf->c))
		return;
	if (rfc2217_decode(val, n, &m) < 0 || !m.from_server) {
		port_log_limited(p, PORT_LIMIT_SERVER, LOG_DEBUG,
				 "ignored a malformed COM-PORT-OPTION message (%zu bytes)", n);
		rf_query_answered(rf);	/* sredird's answer to it does not decode */
		return;
	}
	if (m.cmd == RFC2217_SET_BAUDRATE)
		rf_query_answered(rf);
	switch (m.cmd) {
	case RFC2217_NOTIFY_MODEMSTATE:
		/* Delta bits vary between servers: port_proto_modem() compares states. */
		port_proto_modem(p, rfc2217_modem_from_wire((uint8_t)m.value));
		break;
	case RFC2217_NOTIFY_LINESTATE:
		rf_linestate(rf, (uint8_t)m.value);
		break;
	case RFC2217_SIGNATURE:
		if (m.text_len > 0)
			port_log_limited(p, PORT_LIMIT_SERVER, LOG_DEBUG, "server: %.*s",
					 (int)m.text_len, m.text);
		else
			rf_send_signature(rf);	/* the server asks for ours */
		break;
	case RFC2217_FLOWCONTROL_SUSPEND:
		rf->suspended = true;
		break;
	case RFC2217_FLOWCONTROL_RESUME:
		rf->suspended = false;
		port_proto_tx_resume(p);
		break;
	default:
		rf_answer(rf, &m);
		break;
	}
}

static void rf_telnet_send(void *arg, const uint8_t *buf, size_t n)
{
	struct rf *rf = arg;

	if (rf->probing) {
		rf->probe_sent = true;
		return;
	}
	rf_send(rf, buf, (int)n);
}

static void rf_telnet_option(void *arg, uint8_t opt, bool local, bool enabled)
{
	struct rf *rf = arg;
	struct port *p = rf->p;

	if (!conn_is_open(&rf->c))
		return;
	port_log_limited(p, PORT_LIMIT_SERVER, LOG_DEBUG, "telnet: %s %s option %u",
			 enabled ? "enabled" : "disabled", local ? "our" : "the server's", opt);
	if (opt == TELNET_OPT_BINARY && !enabled)
		port_log_limited(p, PORT_LIMIT_SERVER, LOG_WARNING,
				 "the server turned BINARY off: CR bytes may be altered");
	if (opt != TELNET_OPT_COM_PORT || !local)
		return;
	if (!enabled) {
		rf->comport = false;
		port_proto_down(p, -EPROTONOSUPPORT, "the server turned COM-PORT-OPTION off");
		return;
	}
	rf->comport = true;
	/* in the stream before any data of this session */
	if (p->purge_unit)
		rf_send_purge(rf, false, true);
	rf_send_setup(rf, true);
	/* Up now: waiting for answers some servers never send gains nothing. */
	if (conn_is_open(&rf->c) && p->state == PORT_INIT) {
		port_proto_up(p);
		rf_xchars_unsent(p);
	}
}

static const struct telnet_ops rf_telnet_ops = {
	.send = rf_telnet_send,
	.option = rf_telnet_option,
	.subneg = rf_telnet_subneg,
};

static void rf_input(struct conn *c)
{
	struct rf *rf = c->arg;

	/* It is alive; whether it has read up to the query, only its answer
	 * says (rf_query_answered): data it relays may come from before. */
	if (rf->query_out)
		rf->query_ms = loop_now_ms();
	rf_feed(rf);
	rf_catch_up(rf, false);
}

static void rf_drained(struct conn *c)
{
	struct rf *rf = c->arg;

	rf_drain_check(rf);
	rf_catch_up(rf, false);
	if (conn_is_open(c))
		port_proto_tx_resume(rf->p);
}

static void rf_closed(struct conn *c, int err)
{
	struct rf *rf = c->arg;
	char why[320];

	if (rf->ending)
		return;
	snprintf(why, sizeof(why), "connection: %s", c->err[0] ? c->err : "closed");
	port_proto_down(rf->p, err ? err : -ECONNRESET, why);
}

/* Per-connection state back to a fresh start. */
static void rf_reset(struct rf *rf)
{
	loop_timer_disarm(&rf->brk);
	loop_timer_disarm(&rf->drain);
	rf->comport = rf->probing = rf->suspended = false;
	rf->rx_ready = rf->rx_discard = 0;
	rf->ctl_end = 0;
	rf->drain_wanted = false;
	rf->query_out = false;
	rf->heard_tx = rf->p->stats.tx_bytes;
	rf->query_before_set = false;
	memset(rf->sets_out, 0, sizeof(rf->sets_out));
	rf->deferred = 0;
}

static void rf_ready(struct conn *c)
{
	struct rf *rf = c->arg;
	struct port *p = rf->p;
	struct telnet *t = &rf->t;

	port_tls_release(p);
	if (p->state != PORT_CONNECTING)
		return;
	rf_reset(rf);
	port_proto_connected(p);
	/*
	 * BINARY and SGA both ways, ECHO refused, 44 on our side only.  Some
	 * servers send DO 44 first, others wait for our WILL; none need our DO 44
	 * (ser2net and Moxa refuse it), so it is never asked (docs/rfc2217.md).
	 */
	telnet_init(t, &rf_telnet_ops, rf);
	telnet_allow(t, TELNET_OPT_BINARY, TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE);
	telnet_allow(t, TELNET_OPT_SGA, TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE);
	telnet_allow(t, TELNET_OPT_COM_PORT, TELNET_ALLOW_LOCAL);
	telnet_request(t, TELNET_OPT_COM_PORT, true, true);
	telnet_request(t, TELNET_OPT_BINARY, true, true);
	telnet_request(t, TELNET_OPT_BINARY, false, true);
	telnet_request(t, TELNET_OPT_SGA, true, true);
}

static const struct conn_ops rf_conn_ops = {
	.ready = rf_ready,
	.input = rf_input,
	.drained = rf_drained,
	.closed = rf_closed,
};

static bool rf_tls_on(const struct port *p)
{
	return p->cfg.tls != PORT_TLS_OFF;	/* config.c allows only "on" for rfc2217 */
}

static void rf_connect(struct rf *rf)
{
	struct port *p = rf->p;

	port_conn_connect(p, &rf->c, (uint16_t)port_path(p).tcp_port, rf_tls_on(p) ? rf->tls : NULL);
}

static void rf_tls_slot(struct port *p)
{
	rf_connect(rf_of(p));
}

static int rf_start(struct port *p)
{
	struct rf *rf = rf_of(p);

	rf_reset(rf);
	if (rf_tls_on(p) && !port_tls_acquire(p))
		return 0;	/* rf_tls_slot starts it */
	/* Failures are reported through port_proto_down() already. */
	rf_connect(rf);
	return 0;
}

static size_t rf_stop(struct port *p, bool graceful)
{
	struct rf *rf = rf_of(p);
	size_t dropped = 0;

	/* A timed break still on (a drain cut short) ends with the session, as
	 * a UART's shutdown ends one: what the socket takes now (a failure is
	 * no news to the port).  Else p->unit_break has the next session end
	 * it (port_proto_up). */
	if (graceful) {
		if (rf->brk.armed && conn_is_open(&rf->c)) {
			uint8_t msg[RFC2217_MSG_MAX];
			int n = rfc2217_encode_u8(msg, sizeof(msg), RFC2217_SET_CONTROL,
						  RFC2217_CTL_BREAK_OFF);

			rf->ending = true;
			if (n > 0 && conn_send(&rf->c, msg, (size_t)n) == 0 && conn_is_open(&rf->c))
				p->unit_break = p->break_held;
			rf->ending = false;
		}
		conn_finish(&rf->c, port_proto_closed, p);
	} else {
		/* What our buffer and the socket held is the wire's: IAC doubled,
		 * commands among the data.  The application's share of it, in the
		 * session's proportion (exact for data of one kind). */
		uint64_t stream = rf->c.bytes_out + buf_len(&rf->c.out);
		double data = (double)(p->stats.tx_bytes - p->tx_at_up);
		size_t wire = conn_abort(&rf->c);

		dropped = stream ? (size_t)((double)wire * data / (double)stream) : 0;
	}
	rf_reset(rf);
	return dropped;
}

static void rf_describe_tls(struct port *p, char *out, size_t len)
{
	struct rf *rf = rf_of(p);

	out[0] = '\0';
	if (rf->c.ssl)
		tls_describe(rf->c.ssl, out, len);
}

static int rf_init(struct port *p)
{
	struct rf *rf = calloc(1, sizeof(*rf));
	int r;

	if (!rf)
		return -ENOMEM;
	rf->p = p;
	p->proto_priv = rf;
	if (conn_init(&rf->c, p->d->loop, &rf_conn_ops, rf, RF_BUF, RF_BUF) < 0)
		return -ENOMEM;
	r = loop_timer_init(p->d->loop, &rf->brk, rf_break_end, rf);
	if (r == 0)
		r = loop_timer_init(p->d->loop, &rf->drain, rf_drain_poll, rf);
	if (r < 0) {
		port_log(p, LOG_ERR, "timer: %s", strerror(-r));
		return r;
	}
	if (rf_tls_on(p)) {
		rf->tls = port_tls_ctx(p);
		if (!rf->tls)
			return -EINVAL;
	}
	return 0;
}

static void rf_free(struct port *p)
{
	struct rf *rf = rf_of(p);

	if (!rf)
		return;
	conn_free(&rf->c);
	loop_timer_free(&rf->brk);
	loop_timer_free(&rf->drain);
	SSL_CTX_free(rf->tls);
	free(rf);
	p->proto_priv = NULL;
}

const struct proto_ops proto_rfc2217 = {
	.name = "rfc2217",
	.init = rf_init,
	.free = rf_free,
	.start = rf_start,
	.stop = rf_stop,
	.tx = rf_tx,
	.set_line = rf_set_line,
	.send_xchar = rf_send_xchar,
	.set_modem = rf_set_modem,
	.set_break = rf_set_break,
	.flush = rf_flush,
	.rx_resume = rf_rx_resume,
	.tls_slot = rf_tls_slot,
	.drain = rf_drain,
	.keepalive = rf_keepalive,
	.describe_tls = rf_describe_tls,
};
