// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Real COM protocol driver (docs/realcom-protocol.md): a command and a data
 * connection per port, opened in that order; the open, termios, modem,
 * break, flush, drain and keep-alive sequences; POLLING answered at once.
 * Replies are matched to requests in order, which is also how a silent
 * device is noticed within keepalive seconds.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aspp.h"
#include "log.h"
#include "port.h"
#include "tls.h"

#define RC_DATA_BUF	(64 * 1024)
#define RC_CMD_BUF	4096
#define RC_PENDING	32	/* replies we wait for */
/* With this many replies due, changes of the line, modem lines, break and
 * flushes wait and go out together, as they stand then (rc_defer). */
#define RC_BUSY		(RC_PENDING / 2)
#define RC_TX_FIFO	16
/* data connection output kept free for XON/XOFF (rc_send_xchar) */
#define RC_XCHAR_ROOM	16

struct rc_pending {
	uint8_t cmd;
	bool holds_tx;			/* a FLUSH of the transmit side */
	uint64_t deadline_ms;
	struct serial_line line;	/* p->line when it went out */
};

struct rc {
	struct port *p;
	struct conn cmd, data;
	SSL_CTX *tls;
	struct rc_pending pending[RC_PENDING];
	unsigned int npending;
	struct serial_line line_sent;	/* in the last PORT_INIT */
	/*
	 * The line the device last took (PORT_INIT answered, SETBAUD OK): in
	 * effect after an NA.  It outlives sessions, as the unit keeps its
	 * settings; until the unit took one, 9600 8N1, a UART's default.
	 */
	struct serial_line accepted;
	unsigned int deferred;		/* enum proto_deferred, waiting for replies */
	/* FLUSHes of the transmit side not answered yet: the unit drops what it
	 * has not read from TCP when it flushes, so new data waits for them */
	unsigned int tx_flushes;
	bool drain_wanted;		/* WAIT_OQUEUE once local data is out */
	/* One WAIT_OQUEUE out at a time: a drain asked for meanwhile (closes
	 * and opens in a loop) is asked again when its answer comes */
	bool wait_out, wait_again;
	uint32_t drain_timeout_ms;
	uint64_t junk;
};

static struct rc *rc_of(struct port *p)
{
	return p->proto_priv;
}

/* Send command bytes; expect a reply to cmd (0: none) within wait_ms. */
static void rc_send(struct rc *rc, const uint8_t *msg, int n, uint8_t expect, uint64_t wait_ms)
{
	struct port *p = rc->p;

	if (n <= 0) {
		port_log(p, LOG_ERR, "cannot encode a command (%d)", n);
		return;
	}
	if (conn_send(&rc->cmd, msg, (size_t)n) < 0) {
		port_proto_down(p, -ENOBUFS, "command connection: output full");
		return;
	}
	if (!expect)
		return;
	if (rc->npending == RC_PENDING) {
		port_proto_down(p, -EPROTO, "the device stopped answering commands");
		return;
	}
	rc->pending[rc->npending++] = (struct rc_pending){
		.cmd = expect, .deadline_ms = loop_now_ms() + wait_ms, .line = p->line,
	};
}

static uint64_t rc_wait_ms(const struct port *p)
{
	return 1000ULL * p->cfg.keepalive;
}

static void rc_send_line(struct rc *rc)
{
	struct port *p = rc->p;
	uint8_t msg[ASPP_LINE_MAX];
	size_t off = 0;
	int n = aspp_encode_line(msg, sizeof(msg), &p->line);

	if (n < 0) {
		port_log(p, LOG_WARNING, "line settings cannot be sent (baud %u)", p->line.baud);
		return;
	}
	rc->line_sent = p->line;
	/* PORT_INIT answers with the modem state; the others with OK. */
	while (off < (size_t)n) {
		uint8_t cmd = msg[off], len = msg[off + 1];

		rc_send(rc, msg + off, 2 + len, cmd, rc_wait_ms(p));
		off += 2u + len;
	}
}

/*
 * An application that sets termios or modem lines in a loop must not fill
 * the replies we wait for (that ends the session): with RC_BUSY replies due,
 * a change waits, and rc_catch_up() sends what stands then, once, as the
 * replies come in.  Once something waits, later changes wait too, in order.
 */
static bool rc_defer(struct rc *rc, unsigned int what)
{
	if ((rc->npending < RC_BUSY && !rc->deferred) || rc->p->state != PORT_UP)
		return false;	/* closing: the close's FLUSH goes now */
	rc->deferred |= what;
	return true;
}

static void rc_set_line(struct port *p)
{
	struct rc *rc = rc_of(p);

	if (!rc_defer(rc, DEFER_LINE))
		rc_send_line(rc);
}

static void rc_set_modem(struct port *p)
{
	struct rc *rc = rc_of(p);
	uint8_t msg[4];

	if (rc_defer(rc, DEFER_MODEM))
		return;
	/* DTR and RTS together: boards that reset on an edge care. */
	rc_send(rc, msg, aspp_encode_linectrl(msg, sizeof(msg), p->line.modem & SERIAL_MODEM_DTR,
					       p->line.modem & SERIAL_MODEM_RTS),
		ASPP_LINECTRL, rc_wait_ms(p));
}

static void rc_set_break(struct port *p, uint32_t ms)
{
	struct rc *rc = rc_of(p);
	uint8_t msg[4];

	if ((ms == 0 || ms == UINT32_MAX) && rc_defer(rc, DEFER_BREAK))
		return;		/* p->break_held says which */
	if (ms == 0)
		rc_send(rc, msg, aspp_encode_simple(msg, sizeof(msg), ASPP_START_BREAK),
			ASPP_START_BREAK, rc_wait_ms(p));
	else if (ms == UINT32_MAX)
		rc_send(rc, msg, aspp_encode_simple(msg, sizeof(msg), ASPP_STOP_BREAK),
			ASPP_STOP_BREAK, rc_wait_ms(p));
	else
		rc_send(rc, msg, aspp_encode_breaksend(msg, sizeof(msg),
						       ms < ASPP_BREAKSEND_MIN_MS ? ASPP_BREAKSEND_MIN_MS :
						       ms > ASPP_BREAKSEND_MAX_MS ? ASPP_BREAKSEND_MAX_MS : ms),
			ASPP_BREAKSEND, rc_wait_ms(p) + ms);
}

static void rc_send_flush(struct rc *rc, bool rx, bool tx)
{
	unsigned int was = rc->npending;
	uint8_t msg[4];

	rc_send(rc, msg, aspp_encode_flush(msg, sizeof(msg), rx && tx ? ASPP_FLUSH_BOTH :
							      tx ? ASPP_FLUSH_TX : ASPP_FLUSH_RX),
		ASPP_FLUSH, rc_wait_ms(rc->p));
	if (tx && rc->npending == was + 1) {
		rc->pending[was].holds_tx = true;
		rc->tx_flushes++;
	}
}

static void rc_flush(struct port *p, bool rx, bool tx)
{
	struct rc *rc = rc_of(p);

	if (rx)
		buf_clear(&rc->data.in);
	if (tx) {
		buf_clear(&rc->data.out);
		rc->data.ahead_end = rc->data.bytes_out;
	}
	if (!rc_defer(rc, (rx ? DEFER_FLUSH_RX : 0) | (tx ? DEFER_FLUSH_TX : 0)))
		rc_send_flush(rc, rx, tx);
}

static void rc_send_wait(struct rc *rc)
{
	struct port *p = rc->p;
	uint8_t msg[8];

	rc->drain_wanted = false;
	if (rc->wait_out) {
		rc->wait_again = true;
		return;
	}
	rc->wait_out = true;
	rc_send(rc, msg, aspp_encode_wait_oqueue(msg, sizeof(msg), rc->drain_timeout_ms),
		ASPP_WAIT_OQUEUE, rc->drain_timeout_ms + rc_wait_ms(p));
}

static void rc_drain(struct port *p, uint32_t timeout_ms)
{
	struct rc *rc = rc_of(p);

	/* The device counts only what it holds: push ours out first. */
	rc->drain_timeout_ms = timeout_ms;
	rc->drain_wanted = true;
	if (buf_len(&rc->data.out) == 0)
		rc_send_wait(rc);
}

static void rc_keepalive(struct port *p)
{
	struct rc *rc = rc_of(p);
	uint64_t now = loop_now_ms();
	uint8_t msg[4];

	if (rc->npending > 0) {
		if (now > rc->pending[0].deadline_ms)
			port_proto_down(p, -ETIMEDOUT, "no answer from the device");
		return;	/* an answer is due anyway */
	}
	/* The device ignores unknown commands: ask a real question. */
	rc_send(rc, msg, aspp_encode_simple(msg, sizeof(msg), ASPP_LSTATUS), ASPP_LSTATUS,
		rc_wait_ms(p) / 2);
}

static size_t rc_tx(struct port *p, const uint8_t *d, size_t n)
{
	struct rc *rc = rc_of(p);
	size_t room = conn_send_room(&rc->data);

	room = room > RC_XCHAR_ROOM ? room - RC_XCHAR_ROOM : 0;
	if (rc->tx_flushes || (rc->deferred & DEFER_FLUSH_TX))
		room = 0;	/* the data written after a tcflush waits for it */

	if (!d)
		return room;
	if (n > room)
		n = room;
	if (n && conn_send(&rc->data, d, n) < 0)
		return 0;
	return n;
}

/*
 * XON/XOFF from the tty: a data byte (Real COM has no command that sends
 * one), but ahead of the data still queued here, as a UART sends it ahead
 * of its buffer.  What the socket and the unit hold already stays ahead.
 */
static void rc_send_xchar(struct port *p, uint8_t ch)
{
	struct rc *rc = rc_of(p);
	int r = conn_send_ahead(&rc->data, &ch, 1, conn_tls_held(&rc->data));

	if (r < 0)
		port_log_limited(p, PORT_LIMIT_REPLY, LOG_WARNING, "XON/XOFF %02X not sent: %s",
				 ch, strerror(-r));
}

static void rc_deliver(struct rc *rc)
{
	struct port *p = rc->p;
	size_t n = buf_len(&rc->data.in), taken;

	if (n == 0)
		return;
	taken = port_proto_rx(p, buf_head(&rc->data.in), n);
	buf_consume(&rc->data.in, taken);
	/* The tty is full: the rest waits here and in TCP (back-pressure). */
	conn_pause(&rc->data, taken < n);
}

static void rc_rx_resume(struct port *p)
{
	struct rc *rc = rc_of(p);

	rc_deliver(rc);
	if (buf_len(&rc->data.in) == 0)
		conn_pause(&rc->data, false);
}

/* A reply to the oldest request: check it is the one we wait for (*out). */
static bool rc_pop(struct rc *rc, uint8_t cmd, struct rc_pending *out)
{
	if (rc->npending == 0 || rc->pending[0].cmd != cmd) {
		port_log_limited(rc->p, PORT_LIMIT_REPLY, LOG_WARNING,
				 "unexpected reply %02X from the device", cmd);
		return false;
	}
	*out = rc->pending[0];
	memmove(rc->pending, rc->pending + 1, --rc->npending * sizeof(rc->pending[0]));
	if (cmd == ASPP_WAIT_OQUEUE)
		rc->wait_out = false;
	if (out->holds_tx && --rc->tx_flushes == 0)
		port_proto_tx_resume(rc->p);	/* the unit flushed: data moves again */
	return true;
}

/* Whether a and b are the same line settings, DTR/RTS aside. */
static bool rc_same_line(const struct serial_line *a, const struct serial_line *b)
{
	return memcmp(a, b, offsetof(struct serial_line, modem)) == 0;
}

/* The device took a settings command of the line in *pd. */
static void rc_accepted(struct rc *rc, const struct rc_pending *pd)
{
	uint32_t baud = rc->accepted.baud;

	switch (pd->cmd) {
	case ASPP_PORT_INIT:
		rc->accepted = pd->line;
		/* a rate out of the table is the SETBAUD's, which follows */
		if (aspp_baud_index(pd->line.baud) == ASPP_BAUD_CUSTOM)
			rc->accepted.baud = baud;
		break;
	case ASPP_SETBAUD:
		rc->accepted.baud = pd->line.baud;
		break;
	default:
		break;
	}
}

/*
 * NA to a settings command: the device keeps what it had, so that is what
 * the application is shown (port_proto_line_applied).  When the application
 * set a newer line since, that line's own answers follow: nothing to say.
 */
static void rc_refused(struct rc *rc, const struct rc_pending *pd)
{
	struct port *p = rc->p;

	if (pd->cmd == ASPP_SETBAUD)
		port_proto_refused(p, "the device refused %u baud", pd->line.baud);
	else
		port_proto_refused(p, "the device refused command %02X", pd->cmd);
	if ((pd->cmd == ASPP_SETBAUD || pd->cmd == ASPP_PORT_INIT) &&
	    rc_same_line(&pd->line, &p->line))
		port_proto_line_applied(p, &rc->accepted);
}

static void rc_reply(struct rc *rc, const struct aspp_reply *r)
{
	struct port *p = rc->p;
	uint8_t msg[4];
	uint8_t inputs = SERIAL_MODEM_DSR | SERIAL_MODEM_CTS | SERIAL_MODEM_DCD;
	struct rc_pending pd;

	switch (r->kind) {
	case ASPP_REPLY_POLLING:
		rc_send(rc, msg, aspp_encode_alive(msg, sizeof(msg), r->poll_id), 0, 0);
		return;
	case ASPP_REPLY_NOTIFY:
		port_proto_modem(p, r->msr & (inputs | SERIAL_MODEM_RI));
		if (r->events & ~ASPP_EV_MODEM)
			port_proto_line_event(p, r->events & ~ASPP_EV_MODEM);
		return;
	case ASPP_REPLY_JUNK:
		rc->junk++;
		port_log_limited(p, PORT_LIMIT_JUNK, LOG_DEBUG, "skipped byte %02X from the device",
				 r->cmd);
		return;
	case ASPP_REPLY_NA:
		if (rc_pop(rc, r->cmd, &pd))
			rc_refused(rc, &pd);
		return;
	case ASPP_REPLY_OK:
		if (rc_pop(rc, r->cmd, &pd))
			rc_accepted(rc, &pd);
		return;
	case ASPP_REPLY_DATA:
		if (!rc_pop(rc, r->cmd, &pd))
			return;
		rc_accepted(rc, &pd);
		break;
	}
	switch (r->cmd) {
	case ASPP_PORT_INIT:
	case ASPP_LSTATUS:
		if (r->len >= 3)
			port_proto_modem(p, (uint8_t)((p->modem_in & ~inputs) | r->modem));
		if (r->cmd == ASPP_PORT_INIT && p->state == PORT_INIT) {
			/* what the application changed while PORT_INIT was out,
			 * before data moves */
			port_proto_line_since(p, &rc->line_sent);
			port_proto_up(p);
		}
		break;
	case ASPP_WAIT_OQUEUE:
		if (rc->wait_again) {	/* a newer drain: its own answer */
			rc->wait_again = false;
			rc_drain(p, rc->drain_timeout_ms);
			break;
		}
		port_proto_drained(p, r->value);
		break;
	default:
		break;
	}
}

/* What waited for replies (rc_defer), once they are fewer than RC_BUSY. */
static void rc_catch_up(struct rc *rc)
{
	struct port *p = rc->p;
	unsigned int d = rc->deferred;

	if (!d || rc->npending >= RC_BUSY || !conn_is_open(&rc->cmd))
		return;
	rc->deferred = 0;
	if (d & DEFER_LINE)
		rc_send_line(rc);
	if (d & DEFER_MODEM)
		rc_set_modem(p);
	if (d & DEFER_BREAK)
		rc_set_break(p, p->break_held ? 0 : UINT32_MAX);
	if (d & (DEFER_FLUSH_RX | DEFER_FLUSH_TX))
		rc_send_flush(rc, d & DEFER_FLUSH_RX, d & DEFER_FLUSH_TX);
}

static void rc_cmd_input(struct conn *c)
{
	struct rc *rc = c->arg;
	struct aspp_reply r;
	size_t n;

	while (c->state == CONN_OPEN &&
	       (n = aspp_parse_reply(buf_head(&c->in), buf_len(&c->in), &r)) > 0) {
		rc_reply(rc, &r);
		if (c->state == CONN_OPEN)	/* rc_reply may have closed it */
			buf_consume(&c->in, n);
	}
	rc_catch_up(rc);
}

static void rc_data_input(struct conn *c)
{
	rc_deliver(c->arg);
}

static void rc_data_drained(struct conn *c)
{
	struct rc *rc = c->arg;

	if (rc->drain_wanted)
		rc_send_wait(rc);
	port_proto_tx_resume(rc->p);
}

static void rc_closed(struct conn *c, int err)
{
	struct rc *rc = c->arg;
	char why[320];

	snprintf(why, sizeof(why), "%s connection: %s", c == &rc->cmd ? "command" : "data",
		 c->err[0] ? c->err : "closed");
	port_proto_down(rc->p, err ? err : -ECONNRESET, why);
}

static int rc_connect(struct rc *rc, struct conn *c, uint16_t tcp_port, bool tls);

static void rc_cmd_ready(struct conn *c)
{
	struct rc *rc = c->arg;
	struct port *p = rc->p;

	port_tls_release(p);
	/* Then the data connection (Moxa's order). */
	if (p->cfg.tls != PORT_TLS_OFF && !port_tls_acquire(p))
		return;	/* rc_tls_slot continues */
	rc_connect(rc, &rc->data, (uint16_t)port_path(p).data_port, p->cfg.tls != PORT_TLS_OFF);
}

static void rc_data_ready(struct conn *c)
{
	struct rc *rc = c->arg;
	struct port *p = rc->p;
	uint8_t msg[4];

	port_tls_release(p);
	if (p->state != PORT_CONNECTING)
		return;
	/* open / reconnect: the whole line state again (PORT_INIT, SETBAUD,
	 * XONXOFF), then TX_FIFO; up once PORT_INIT is answered.  A purge goes
	 * first: the device answers in order, so it is done before any data. */
	port_proto_connected(p);
	if (p->purge_unit)
		rc_send_flush(rc, false, true);
	rc_send_line(rc);
	rc_send(rc, msg, aspp_encode_tx_fifo(msg, sizeof(msg), RC_TX_FIFO), ASPP_TX_FIFO,
		rc_wait_ms(p));
}

static void rc_tls_slot(struct port *p)
{
	struct rc *rc = rc_of(p);

	if (rc->cmd.state == CONN_IDLE)
		rc_connect(rc, &rc->cmd, (uint16_t)port_path(p).command_port, true);
	else
		rc_connect(rc, &rc->data, (uint16_t)port_path(p).data_port, true);
}

static const struct conn_ops rc_cmd_ops = {
	.ready = rc_cmd_ready, .input = rc_cmd_input, .closed = rc_closed,
};

static const struct conn_ops rc_data_ops = {
	.ready = rc_data_ready, .input = rc_data_input, .drained = rc_data_drained,
	.closed = rc_closed,
};

static int rc_connect(struct rc *rc, struct conn *c, uint16_t tcp_port, bool tls)
{
	return port_conn_connect(rc->p, c, tcp_port, tls ? rc->tls : NULL);
}

static int rc_start(struct port *p)
{
	struct rc *rc = rc_of(p);

	rc->npending = 0;
	rc->deferred = 0;
	rc->tx_flushes = 0;
	rc->drain_wanted = rc->wait_out = rc->wait_again = false;
	if (p->cfg.tls == PORT_TLS_ON && !port_tls_acquire(p))
		return 0;	/* rc_tls_slot starts it */
	/* Failures are reported through port_proto_down() already. */
	rc_connect(rc, &rc->cmd, (uint16_t)port_path(p).command_port, p->cfg.tls == PORT_TLS_ON);
	return 0;
}

static size_t rc_stop(struct port *p, bool graceful)
{
	struct rc *rc = rc_of(p);
	size_t dropped = 0;

	conn_close(&rc->cmd);	/* commands: the device resets the port with it */
	if (graceful)
		conn_finish(&rc->data, port_proto_closed, p);
	else
		dropped = conn_abort(&rc->data);
	rc->npending = 0;
	rc->deferred = 0;
	rc->tx_flushes = 0;
	rc->drain_wanted = rc->wait_out = rc->wait_again = false;
	return dropped;
}

static void rc_describe_tls(struct port *p, char *out, size_t len)
{
	struct rc *rc = rc_of(p);

	out[0] = '\0';
	if (rc->data.ssl)
		tls_describe(rc->data.ssl, out, len);
	if (rc->data.ssl && !rc->cmd.ssl)
		strncat(out, "; command connection not encrypted", len - strlen(out) - 1);
}

static int rc_init(struct port *p)
{
	struct rc *rc = calloc(1, sizeof(*rc));

	if (!rc)
		return -ENOMEM;
	rc->p = p;
	p->proto_priv = rc;
	serial_line_default(&rc->accepted);
	if (conn_init(&rc->cmd, p->d->loop, &rc_cmd_ops, rc, RC_CMD_BUF, RC_CMD_BUF) < 0 ||
	    conn_init(&rc->data, p->d->loop, &rc_data_ops, rc, RC_DATA_BUF, RC_DATA_BUF) < 0)
		return -ENOMEM;
	if (p->cfg.tls != PORT_TLS_OFF) {
		rc->tls = port_tls_ctx(p);
		if (!rc->tls)
			return -EINVAL;
	}
	return 0;
}

static void rc_free(struct port *p)
{
	struct rc *rc = rc_of(p);

	if (!rc)
		return;
	conn_free(&rc->cmd);
	conn_free(&rc->data);
	SSL_CTX_free(rc->tls);
	free(rc);
	p->proto_priv = NULL;
}

const struct proto_ops proto_realcom = {
	.name = "realcom",
	.init = rc_init,
	.free = rc_free,
	.start = rc_start,
	.stop = rc_stop,
	.tx = rc_tx,
	.set_line = rc_set_line,
	.send_xchar = rc_send_xchar,
	.set_modem = rc_set_modem,
	.set_break = rc_set_break,
	.flush = rc_flush,
	.rx_resume = rc_rx_resume,
	.tls_slot = rc_tls_slot,
	.drain = rc_drain,
	.keepalive = rc_keepalive,
	.describe_tls = rc_describe_tls,
};
