// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Real COM personality of a simulated port: a data and a command
 * connection, every ASPP command answered by the device's rules
 * (docs/realcom-protocol.md, "Device-side behaviour"), NOTIFY, the POLLING
 * keep-alive and the deferred WAIT_OQUEUE reply.  One host per port.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "aspp.h"
#include "log.h"
#include "sim.h"

static void rc_process(struct sim_port *p);

static void rc_reply(struct sim_port *p, const uint8_t *msg, int n)
{
	if (n > 0 && conn_send(&p->cmd, msg, (size_t)n) < 0)
		log_warnx("port %u: command reply lost: output full", p->n);
}

/* A confused or hostile unit: "OK" to a FLUSH that was never asked for,
 * as many as fit in the command connection's output now. */
unsigned int sim_realcom_unsolicited(struct sim_port *p, unsigned int count)
{
	uint8_t msg[8];
	int n = aspp_encode_ok(msg, sizeof(msg), ASPP_FLUSH);
	unsigned int i;

	if (n <= 0 || !conn_is_open(&p->cmd))
		return 0;
	for (i = 0; i < count && conn_send_room(&p->cmd) >= (size_t)n; i++)
		conn_send(&p->cmd, msg, (size_t)n);
	return i;
}

static uint8_t rc_msr(const struct sim_port *p)
{
	/* Our SERIAL_MODEM_{CTS,DSR,RI,DCD} are the msr state bits; the changed
	 * bits are the same lines one nibble lower. */
	return (uint8_t)(p->modem_in | (p->modem_delta >> 4));
}

static uint8_t rc_hold(const struct sim_port *p)
{
	uint8_t hold = ASPP_HOLD_ALWAYS;

	if ((p->line.flow & SERIAL_FLOW_CTS) && !(p->modem_in & SERIAL_MODEM_CTS))
		hold |= ASPP_HOLD_CTS;
	if (p->tx_held)
		hold |= ASPP_HOLD_XOFF_RCVD;
	return hold;
}

static void rc_notify(struct sim_port *p, uint8_t events)
{
	uint8_t msg[4];

	if (!p->notify || !conn_is_open(&p->cmd))
		return;
	if (p->modem_delta)
		events |= ASPP_EV_MODEM;
	rc_reply(p, msg, aspp_encode_notify(msg, sizeof(msg), events, rc_msr(p), rc_hold(p)));
	p->modem_delta = 0;
}

static void rc_modem_changed(struct sim_port *p)
{
	rc_notify(p, 0);
}

static void rc_line_event(struct sim_port *p, uint8_t events)
{
	rc_notify(p, events);
}

static bool rc_connected(const struct sim_port *p)
{
	return conn_is_open(&p->data);
}

static size_t rc_rx(struct sim_port *p, const uint8_t *d, size_t n)
{
	size_t room = conn_send_room(&p->data);

	if (!d)
		return room;
	if (n > room)
		n = room;
	/* Nothing fits: leave the output alone, so it stays full and its
	 * EPOLLOUT brings the room back (a send of nothing would flush it). */
	if (n > 0)
		conn_send(&p->data, d, n);
	return n;
}

/* Bytes the device still has to send: its queue and what waits in TCP. */
static size_t rc_outstanding(const struct sim_port *p)
{
	size_t n = sim_serial_txq(p) + buf_len(&p->data.in) + conn_unread(&p->data);

	return n > p->discard ? n - p->discard : 0;
}

static void rc_wait_done(struct sim_port *p)
{
	uint8_t msg[4];
	size_t left = rc_outstanding(p);

	p->wait_pending = false;
	loop_timer_disarm(&p->wait_timer);
	rc_reply(p, msg, aspp_encode_queue(msg, sizeof(msg), ASPP_WAIT_OQUEUE,
					   (uint16_t)(left > 0xFFFF ? 0xFFFF : left)));
	conn_pause(&p->cmd, p->stalled);
	rc_process(p);
}

static void rc_wait_timeout(struct loop_timer *t)
{
	rc_wait_done(t->arg);
}

static void rc_feed(struct sim_port *p);

static void rc_tx_sent(struct sim_port *p)
{
	/* Room again: take what the host sent meanwhile. */
	if (conn_is_open(&p->data))
		rc_feed(p);
	else if (p->wait_pending && rc_outstanding(p) == 0)
		rc_wait_done(p);
}

static void rc_drop(struct sim_port *p, const char *why)
{
	if (!conn_is_open(&p->data) && !conn_is_open(&p->cmd) && p->data.state == CONN_IDLE &&
	    p->cmd.state == CONN_IDLE)
		return;
	log_info("port %u: host %s disconnected: %s", p->n, p->peer[0] ? p->peer : "-", why);
	snprintf(p->last_error, sizeof(p->last_error), "%s", why);
	/* The device closes both connections together. */
	conn_close(&p->data);
	conn_close(&p->cmd);
	p->notify = p->polling = p->wait_pending = false;
	p->discard = 0;
	loop_timer_disarm(&p->poll_timer);
	loop_timer_disarm(&p->wait_timer);
	p->peer[0] = '\0';
	/* Data already queued still drains onto the line (docs/realcom-protocol.md). */
}

static void rc_poll(struct loop_timer *t)
{
	struct sim_port *p = t->arg;
	const struct sim_options *o = &p->sim->opt;
	uint64_t idle = loop_now_ms() - p->last_heard_ms;
	uint8_t msg[3];

	if (!p->polling)
		return;
	if (idle < o->poll_idle_ms && p->polls_unanswered == 0) {
		loop_timer_arm(t, o->poll_idle_ms - idle, 0);
		return;
	}
	if (p->polls_unanswered >= o->poll_max) {
		rc_drop(p, "no answer to POLLING");
		return;
	}
	p->poll_id++;
	p->polls_unanswered++;
	p->polls_sent++;
	rc_reply(p, msg, aspp_encode_polling(msg, sizeof(msg), p->poll_id));
	loop_timer_arm(t, o->poll_interval_ms, 0);
}

static void rc_modem_reply(struct sim_port *p, uint8_t cmd)
{
	uint8_t msg[8];

	rc_reply(p, msg, aspp_encode_lstatus(msg, sizeof(msg), cmd, p->modem_in));
	if (p->modem_delta)
		rc_notify(p, 0);	/* allowed right after the reply */
}

/* Act on one command the way the device does.  Returns false to stop
 * reading commands for now (WAIT_OQUEUE deferred). */
static bool rc_command(struct sim_port *p, const struct aspp_command *c)
{
	const uint8_t *a = c->payload;
	uint8_t msg[8];
	uint32_t v;
	bool ok = true;

	if (c->cmd != ASPP_ALIVE)
		p->last_heard_ms = loop_now_ms();
	switch (c->cmd) {
	case ASPP_PORT_INIT:
		v = p->line.baud;
		aspp_decode_port_init(c, &p->line);
		/* SETBAUD follows; until it is taken the rate stays (also when it is
		 * refused: docs/realcom-protocol.md) */
		if (a[0] == ASPP_BAUD_CUSTOM)
			p->line.baud = v ? v : 9600;
		p->notify = true;
		if (!p->polling) {
			p->polling = true;
			p->polls_unanswered = 0;
			loop_timer_arm(&p->poll_timer, p->sim->opt.poll_idle_ms, 0);
		}
		rc_modem_reply(p, c->cmd);
		sim_serial_set_held(p, p->tx_held);
		if (p->drop_after_init) {
			p->drop_now = true;	/* rc_process drops once this is consumed */
			return false;
		}
		return true;
	case ASPP_IOCTL:
		if (a[0] != ASPP_BAUD_CUSTOM && !aspp_index_baud(a[0])) {
			ok = false;
			break;
		}
		if (a[0] != ASPP_BAUD_CUSTOM)
			p->line.baud = aspp_index_baud(a[0]);
		aspp_mode_apply(a[1], &p->line);
		break;
	case ASPP_FLOWCTRL:
		p->line.flow = (uint8_t)((a[0] ? SERIAL_FLOW_CTS : 0) | (a[1] ? SERIAL_FLOW_RTS : 0) |
					 (a[2] ? SERIAL_FLOW_IXON : 0) | (a[3] ? SERIAL_FLOW_IXOFF : 0));
		break;
	case ASPP_LINECTRL:
		p->line.modem = (uint8_t)((a[0] ? SERIAL_MODEM_DTR : 0) | (a[1] ? SERIAL_MODEM_RTS : 0));
		break;
	case ASPP_LSTATUS:
		rc_modem_reply(p, c->cmd);
		return true;
	case ASPP_FLUSH:
		if (a[0] > ASPP_FLUSH_BOTH) {
			ok = false;
			break;
		}
		if (a[0] != ASPP_FLUSH_TX)
			sim_serial_flush(p, true, false);
		if (a[0] != ASPP_FLUSH_RX) {
			/* tx and both also discard what waits unread in TCP */
			sim_serial_flush(p, false, true);
			buf_clear(&p->data.in);
			p->discard = conn_unread(&p->data);
			/* the queue had filled up and paused the data connection */
			if (conn_is_open(&p->data))
				rc_feed(p);
		}
		break;
	case ASPP_IQUEUE:
		rc_reply(p, msg, aspp_encode_queue(msg, sizeof(msg), c->cmd,
						   (uint16_t)buf_len(&p->data.out)));
		return true;
	case ASPP_OQUEUE:
		v = (uint32_t)rc_outstanding(p);
		rc_reply(p, msg, aspp_encode_queue(msg, sizeof(msg), c->cmd,
						   (uint16_t)(v > 0xFFFF ? 0xFFFF : v)));
		return true;
	case ASPP_SETBAUD:
		v = aspp_le32(a);
		ok = v >= ASPP_SETBAUD_MIN && v <= ASPP_SETBAUD_MAX;
		if (ok)
			p->line.baud = v;
		break;
	case ASPP_XONXOFF:
		p->line.xon = a[0];
		p->line.xoff = a[1];
		break;
	case ASPP_PORT_RESET:
		ok = memcmp(a, ASPP_PORT_RESET_MAGIC, 3) == 0;
		if (ok)
			sim_serial_reset(p);
		break;
	case ASPP_START_BREAK:
	case ASPP_STOP_BREAK:
		sim_serial_set_break(p, c->cmd == ASPP_START_BREAK);
		break;
	case ASPP_BREAKSEND:
		v = (uint32_t)(a[0] << 8 | a[1]);
		ok = v >= ASPP_BREAKSEND_MIN_MS && v <= ASPP_BREAKSEND_MAX_MS;
		if (ok)
			p->breaks_sent++;
		break;
	case ASPP_START_NOTIFY:
		p->notify = true;
		rc_reply(p, msg, aspp_encode_ok(msg, sizeof(msg), c->cmd));
		if (p->modem_delta)
			rc_notify(p, 0);
		return true;
	case ASPP_STOP_NOTIFY:
		p->notify = false;
		break;
	case ASPP_ALIVE:
		if (a[0] == p->poll_id)
			p->polls_unanswered = 0;
		return true;	/* no reply */
	case ASPP_WAIT_OQUEUE:
		if (rc_outstanding(p) == 0) {
			rc_reply(p, msg, aspp_encode_queue(msg, sizeof(msg), c->cmd, 0));
			return true;
		}
		p->wait_pending = true;
		loop_timer_arm(&p->wait_timer, aspp_le32(a), 0);
		return false;
	case ASPP_TX_FIFO:
		p->fifo = a[0];
		break;
	case ASPP_SETXON:
		sim_serial_set_held(p, false);
		break;
	case ASPP_SETXOFF:
		sim_serial_set_held(p, true);
		break;
	case ASPP_BREAK_COUNT:
		rc_reply(p, msg, aspp_encode_break_count(msg, sizeof(msg),
							 (uint16_t)p->breaks_received));
		return true;
	case ASPP_DATA_STATUS:
		/* The meaning of its bits is not known (docs/realcom-protocol.md): 0. */
		rc_reply(p, msg, aspp_encode_answer(msg, sizeof(msg), c->cmd, (uint8_t[]){ 0 }, 1));
		return true;
	}
	rc_reply(p, msg, ok ? aspp_encode_ok(msg, sizeof(msg), c->cmd) :
			      aspp_encode_na(msg, sizeof(msg), c->cmd));
	return true;
}

static void rc_process(struct sim_port *p)
{
	struct aspp_command c;
	size_t n;

	/* Bounded by the buffer: each round consumes at least two bytes. */
	while (!p->wait_pending && !p->stalled && conn_is_open(&p->cmd) &&
	       (n = aspp_parse_command(buf_head(&p->cmd.in), buf_len(&p->cmd.in), &c)) > 0) {
		bool known = aspp_command_known(&c);
		bool more = true;

		sim_log_command(p, buf_head(&p->cmd.in), n, known);
		if (known)
			more = rc_command(p, &c);
		else
			log_warnx("port %u: ignored command %02X with %u payload bytes", p->n, c.cmd,
				  c.len);
		buf_consume(&p->cmd.in, n);
		if (!more) {
			conn_pause(&p->cmd, true);
			break;
		}
	}
	if (p->drop_now) {
		p->drop_now = false;
		rc_drop(p, "fault: dropped after PORT_INIT");
		return;
	}
	if (conn_is_open(&p->cmd))
		conn_resume(&p->cmd);
}

static void rc_cmd_input(struct conn *c)
{
	rc_process(c->arg);
}

/*
 * Move host data into the transmit queue; what does not fit waits in TCP.
 * With --echo the queue drains inside sim_serial_tx(), and its "room again"
 * comes back here while feeding is set and is dropped: so go by the queue
 * itself, feeding while it has room, and pause only when it is full.  Full
 * means the echo found no room in the data connection's output, which then
 * holds data and its EPOLLOUT brings the room back (rc_drained).
 */
static void rc_feed(struct sim_port *p)
{
	struct conn *c = &p->data;
	size_t n;

	if (p->feeding)
		return;	/* reached again from the queue draining inside */
	p->feeding = true;
	while (buf_len(&c->in) > 0 && buf_room(&p->txq) > 0) {
		n = buf_len(&c->in);
		if (p->discard) {
			size_t d = n < p->discard ? n : p->discard;

			buf_consume(&c->in, d);
			p->discard -= d;
			n -= d;
		}
		buf_consume(&c->in, sim_serial_tx(p, buf_head(&c->in), n));
	}
	p->feeding = false;
	conn_pause(c, buf_len(&c->in) > 0 || p->stalled);
	if (p->wait_pending && rc_outstanding(p) == 0)
		rc_wait_done(p);
}

static void rc_data_input(struct conn *c)
{
	struct sim_port *p = c->arg;

	p->last_heard_ms = loop_now_ms();
	rc_feed(p);
}

static void rc_data_ready(struct conn *c)
{
	struct sim_port *p = c->arg;

	p->sessions++;
	p->last_heard_ms = loop_now_ms();
	p->last_error[0] = '\0';
	/* The first data connection opens the UART and raises DTR and RTS. */
	p->line.modem = SERIAL_MODEM_DTR | SERIAL_MODEM_RTS;
	log_info("port %u: host %s connected", p->n, p->peer);
	/* Commands are read only once a data connection exists. */
	if (conn_is_open(&p->cmd) && !p->stalled)
		conn_pause(&p->cmd, false);
	sim_serial_rx_resume(p);
}

static void rc_cmd_ready(struct conn *c)
{
	struct sim_port *p = c->arg;

	conn_pause(c, !conn_is_open(&p->data) || p->stalled);
}

static void rc_drained(struct conn *c)
{
	struct sim_port *p = c->arg;

	if (c == &p->data)
		sim_serial_rx_resume(p);
}

static void rc_closed(struct conn *c, int err)
{
	struct sim_port *p = c->arg;

	rc_drop(p, c->err[0] ? c->err : "connection closed");
}

static void rc_unstall(struct sim_port *p)
{
	if (conn_is_open(&p->data))
		rc_feed(p);
	if (conn_is_open(&p->cmd) && conn_is_open(&p->data) && !p->wait_pending) {
		conn_pause(&p->cmd, false);
		rc_process(p);
	}
}

static const struct conn_ops rc_data_ops = {
	.ready = rc_data_ready,
	.input = rc_data_input,
	.drained = rc_drained,
	.closed = rc_closed,
};

static const struct conn_ops rc_cmd_ops = {
	.ready = rc_cmd_ready,
	.input = rc_cmd_input,
	.drained = rc_drained,
	.closed = rc_closed,
};

static void rc_accept(struct loop_watch *w, uint32_t events)
{
	struct sim_port *p = w->arg;
	bool is_data = w == &p->lwatch[0];
	struct conn *c = is_data ? &p->data : &p->cmd;
	enum sim_tls tls = p->tls;
	SSL *ssl = NULL;
	int fd;

	char peer[SOCK_ADDRSTRLEN];

	fd = sim_accept(p, w->fd, is_data ? tls != SIM_TLS_OFF : tls == SIM_TLS_ON, &ssl, peer);
	if (fd < 0)
		return;
	if (c->state != CONN_IDLE) {
		/* One host per port ("max connection" 1). */
		log_warnx("port %u: refused a second %s connection", p->n,
			  is_data ? "data" : "command");
		SSL_free(ssl);
		close(fd);
		return;
	}
	if (conn_start(c, fd, false, ssl) < 0) {
		SSL_free(ssl);
		close(fd);
		return;
	}
	if (is_data)
		memcpy(p->peer, peer, sizeof(peer));
	if (!ssl)
		c->ops->ready(c);
}

static int rc_listen(struct sim_port *p)
{
	int r = sim_listen_on(p, 0, sim_data_port(p->sim, p->n), rc_accept);

	return r < 0 ? r : sim_listen_on(p, 1, sim_command_port(p->sim, p->n), rc_accept);
}

static int rc_init(struct sim_port *p)
{
	int r = conn_init(&p->data, p->sim->loop, &rc_data_ops, p, SIM_NET_BUF, SIM_NET_BUF);

	if (r == 0)
		r = conn_init(&p->cmd, p->sim->loop, &rc_cmd_ops, p, 4096, 4096);
	if (r == 0)
		r = loop_timer_init(p->sim->loop, &p->poll_timer, rc_poll, p);
	if (r == 0)
		r = loop_timer_init(p->sim->loop, &p->wait_timer, rc_wait_timeout, p);
	return r;
}

const struct sim_proto sim_realcom = {
	.init = rc_init,
	.listen = rc_listen,
	.rx = rc_rx,
	.modem_changed = rc_modem_changed,
	.line_event = rc_line_event,
	.tx_sent = rc_tx_sent,
	.drop = rc_drop,
	.connected = rc_connected,
	.unstall = rc_unstall,
};
