// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The RFC 2217 personality of a simulated port (the G2's "RFC 2217" mode):
 * one Telnet connection on TCP 4000+N, option negotiation through
 * common/telnet.c, every COM-PORT-OPTION command answered with the value in
 * force, modem and line state notifications under the client's masks.
 */
#include <string.h>
#include <unistd.h>

#include "aspp.h"
#include "log.h"
#include "rfc2217.h"
#include "sim.h"

#define RF_SIGNATURE	"NPort 6150-G2 (nportsim)"

static void rf_send(struct sim_port *p, const uint8_t *msg, int n)
{
	if (n > 0 && conn_send(&p->data, msg, (size_t)n) < 0)
		log_warnx("port %u: telnet output full: message lost", p->n);
}

static void rf_send_u8(struct sim_port *p, uint8_t code, uint8_t value)
{
	uint8_t msg[RFC2217_MSG_MAX];

	rf_send(p, msg, rfc2217_encode_u8(msg, sizeof(msg), code, value));
}

static bool rf_comport(const struct sim_port *p)
{
	return conn_is_open(&p->data) && telnet_remote_enabled(&p->telnet, TELNET_OPT_COM_PORT);
}

static void rf_modem_changed(struct sim_port *p)
{
	uint8_t d = p->modem_delta, value;

	if (!rf_comport(p))
		return;
	value = (uint8_t)(rfc2217_modem_to_wire(p->modem_in) |
			  (d & SERIAL_MODEM_CTS ? RFC2217_MS_CTS_DELTA : 0) |
			  (d & SERIAL_MODEM_DSR ? RFC2217_MS_DSR_DELTA : 0) |
			  ((d & SERIAL_MODEM_RI) && !(p->modem_in & SERIAL_MODEM_RI) ?
				   RFC2217_MS_RI_TRAIL : 0) |
			  (d & SERIAL_MODEM_DCD ? RFC2217_MS_DCD_DELTA : 0));
	p->modem_delta = 0;
	if (value & p->modemstate_mask)
		rf_send_u8(p, RFC2217_SERVER + RFC2217_NOTIFY_MODEMSTATE, value & p->modemstate_mask);
}

static void rf_line_event(struct sim_port *p, uint8_t events)
{
	uint8_t ls = (uint8_t)((events & ASPP_EV_PARITY ? RFC2217_LS_PARITY : 0) |
			       (events & ASPP_EV_FRAMING ? RFC2217_LS_FRAMING : 0) |
			       (events & (ASPP_EV_HW_OVERRUN | ASPP_EV_SW_OVERRUN) ?
					RFC2217_LS_OVERRUN : 0) |
			       (events & ASPP_EV_BREAK ? RFC2217_LS_BREAK : 0));

	if (rf_comport(p) && (ls & p->linestate_mask))
		rf_send_u8(p, RFC2217_SERVER + RFC2217_NOTIFY_LINESTATE, ls & p->linestate_mask);
}

static bool rf_connected(const struct sim_port *p)
{
	return conn_is_open(&p->data);
}

static size_t rf_rx(struct sim_port *p, const uint8_t *d, size_t n)
{
	static uint8_t out[SIM_NET_BUF];	/* the whole output's room: one send */
	size_t room = conn_send_room(&p->data), used, len;

	if (p->suspended)
		return 0;
	if (room > sizeof(out))
		room = sizeof(out);
	if (!d)
		return room / 2;	/* every byte may double */
	len = telnet_escape(d, n, out, room, &used);
	if (len > 0)	/* as rc_rx: a send of nothing would flush a full output */
		conn_send(&p->data, out, len);
	return used;
}

/*
 * Telnet-decode host bytes into the transmit queue, no more than it holds:
 * in place in the connection's buffer (decoding never grows the data, so n
 * input bytes need n bytes of room), then in one piece to the line.
 */
static void rf_feed(struct sim_port *p)
{
	struct conn *c = &p->data;
	uint8_t *head;
	size_t n, nd;

	if (p->feeding)
		return;
	p->feeding = true;
	/* Until the queue is full: its "room again" is dropped while feeding (--echo). */
	while (conn_is_open(c) && buf_len(&c->in) > 0) {
		n = buf_len(&c->in);
		if (n > buf_room(&p->txq))
			n = buf_room(&p->txq);
		if (n == 0)
			break;
		head = (uint8_t *)buf_head(&c->in);
		telnet_recv(&p->telnet, head, n, head, &nd);
		if (!conn_is_open(c))
			break;
		sim_serial_tx(p, head, nd);
		buf_consume(&c->in, n);
	}
	p->feeding = false;
	if (conn_is_open(c))
		conn_pause(c, buf_len(&c->in) > 0 || p->stalled);
}

static void rf_tx_sent(struct sim_port *p)
{
	if (conn_is_open(&p->data))
		rf_feed(p);
}

static void rf_input(struct conn *c)
{
	rf_feed(c->arg);
}

static void rf_drop(struct sim_port *p, const char *why)
{
	if (p->data.state == CONN_IDLE)
		return;
	log_info("port %u: host %s disconnected: %s", p->n, p->peer[0] ? p->peer : "-", why);
	snprintf(p->last_error, sizeof(p->last_error), "%s", why);
	conn_close(&p->data);
	p->peer[0] = '\0';
	p->suspended = false;
	/* Without a host, serial input is read and dropped: watch the pty again
	 * (a SUSPEND or a full connection may have stopped that). */
	sim_serial_rx_resume(p);
}

/* What the server asks for as soon as a host connects. */
static void rf_offer(struct sim_port *p)
{
	struct telnet *t = &p->telnet;

	telnet_request(t, TELNET_OPT_COM_PORT, false, true);
	telnet_request(t, TELNET_OPT_BINARY, true, true);
	telnet_request(t, TELNET_OPT_BINARY, false, true);
	telnet_request(t, TELNET_OPT_SGA, true, true);
}

static void rf_unstall(struct sim_port *p)
{
	if (conn_is_open(&p->data)) {
		if (p->offer_held) {
			p->offer_held = false;
			rf_offer(p);
		}
		conn_pause(&p->data, false);
		rf_feed(p);
	}
}

static void rf_set_control(struct sim_port *p, uint8_t v)
{
	struct serial_line *l = &p->line;
	uint8_t reply = v;

	switch (v) {
	case RFC2217_CTL_FLOW_QUERY:
		reply = l->flow & SERIAL_FLOW_CTS    ? RFC2217_CTL_FLOW_HARDWARE :
			l->flow & SERIAL_FLOW_IXON   ? RFC2217_CTL_FLOW_XONXOFF :
						       RFC2217_CTL_FLOW_NONE;
		break;
	case RFC2217_CTL_FLOW_NONE:
	case RFC2217_CTL_FLOW_XONXOFF:
	case RFC2217_CTL_FLOW_HARDWARE:
		l->flow &= (uint8_t)~(SERIAL_FLOW_CTS | SERIAL_FLOW_IXON);
		l->flow |= v == RFC2217_CTL_FLOW_XONXOFF  ? SERIAL_FLOW_IXON :
			   v == RFC2217_CTL_FLOW_HARDWARE ? SERIAL_FLOW_CTS : 0;
		break;
	case RFC2217_CTL_BREAK_QUERY:
		reply = p->break_on ? RFC2217_CTL_BREAK_ON : RFC2217_CTL_BREAK_OFF;
		break;
	case RFC2217_CTL_BREAK_ON:
	case RFC2217_CTL_BREAK_OFF:
		sim_serial_set_break(p, v == RFC2217_CTL_BREAK_ON);
		break;
	case RFC2217_CTL_DTR_QUERY:
		reply = l->modem & SERIAL_MODEM_DTR ? RFC2217_CTL_DTR_ON : RFC2217_CTL_DTR_OFF;
		break;
	case RFC2217_CTL_DTR_ON:
	case RFC2217_CTL_DTR_OFF:
		l->modem = v == RFC2217_CTL_DTR_ON ? l->modem | SERIAL_MODEM_DTR :
						     l->modem & ~SERIAL_MODEM_DTR;
		break;
	case RFC2217_CTL_RTS_QUERY:
		reply = l->modem & SERIAL_MODEM_RTS ? RFC2217_CTL_RTS_ON : RFC2217_CTL_RTS_OFF;
		break;
	case RFC2217_CTL_RTS_ON:
	case RFC2217_CTL_RTS_OFF:
		l->modem = v == RFC2217_CTL_RTS_ON ? l->modem | SERIAL_MODEM_RTS :
						     l->modem & ~SERIAL_MODEM_RTS;
		break;
	case RFC2217_CTL_INFLOW_QUERY:
		reply = l->flow & SERIAL_FLOW_RTS     ? RFC2217_CTL_INFLOW_HARDWARE :
			l->flow & SERIAL_FLOW_IXOFF   ? RFC2217_CTL_INFLOW_XONXOFF :
							RFC2217_CTL_INFLOW_NONE;
		break;
	case RFC2217_CTL_INFLOW_NONE:
	case RFC2217_CTL_INFLOW_XONXOFF:
	case RFC2217_CTL_INFLOW_HARDWARE:
		l->flow &= (uint8_t)~(SERIAL_FLOW_RTS | SERIAL_FLOW_IXOFF);
		l->flow |= v == RFC2217_CTL_INFLOW_XONXOFF  ? SERIAL_FLOW_IXOFF :
			   v == RFC2217_CTL_INFLOW_HARDWARE ? SERIAL_FLOW_RTS : 0;
		break;
	case RFC2217_CTL_FLOW_DCD:
	case RFC2217_CTL_FLOW_DTR:
	case RFC2217_CTL_FLOW_DSR:
		/* The G2 has no such flow control: answer with what is in force. */
		rf_set_control(p, RFC2217_CTL_FLOW_QUERY);
		return;
	default:
		return;	/* not in the RFC: no answer */
	}
	rf_send_u8(p, RFC2217_SERVER + RFC2217_SET_CONTROL, reply);
}

/* One COM-PORT-OPTION command from the client, answered with what is in force. */
static void rf_command(struct sim_port *p, const struct rfc2217_msg *m)
{
	struct serial_line *l = &p->line;
	uint8_t msg[64];
	int v;

	if (m->from_server)
		return;	/* a client has no business sending server codes */
	switch (m->cmd) {
	case RFC2217_SIGNATURE:
		if (m->text_len == 0)
			rf_send(p, msg, rfc2217_encode_signature(msg, sizeof(msg),
								  RFC2217_SERVER, RF_SIGNATURE));
		return;
	case RFC2217_SET_BAUDRATE:
		if (m->value >= ASPP_SETBAUD_MIN && m->value <= ASPP_SETBAUD_MAX)
			l->baud = m->value;
		rf_send(p, msg, rfc2217_encode_baud(msg, sizeof(msg),
						    RFC2217_SERVER + RFC2217_SET_BAUDRATE, l->baud));
		return;
	case RFC2217_SET_DATASIZE:
		if (m->value >= 5 && m->value <= 8)
			l->data_bits = (uint8_t)m->value;
		rf_send_u8(p, RFC2217_SERVER + m->cmd, l->data_bits);
		return;
	case RFC2217_SET_PARITY:
		v = rfc2217_parity_from_wire((uint8_t)m->value);
		if (v >= 0)
			l->parity = (uint8_t)v;
		rf_send_u8(p, RFC2217_SERVER + m->cmd, rfc2217_parity_to_wire(l->parity));
		return;
	case RFC2217_SET_STOPSIZE:
		v = rfc2217_stop_from_wire((uint8_t)m->value);
		if (v >= 0)
			l->stop_bits = (uint8_t)v;
		rf_send_u8(p, RFC2217_SERVER + m->cmd, rfc2217_stop_to_wire(l->stop_bits));
		return;
	case RFC2217_SET_CONTROL:
		rf_set_control(p, (uint8_t)m->value);
		return;
	case RFC2217_FLOWCONTROL_SUSPEND:
	case RFC2217_FLOWCONTROL_RESUME:
		p->suspended = m->cmd == RFC2217_FLOWCONTROL_SUSPEND;
		if (!p->suspended)
			sim_serial_rx_resume(p);
		return;
	case RFC2217_SET_LINESTATE_MASK:
		p->linestate_mask = (uint8_t)m->value;
		rf_send_u8(p, RFC2217_SERVER + m->cmd, p->linestate_mask);
		return;
	case RFC2217_SET_MODEMSTATE_MASK:
		p->modemstate_mask = (uint8_t)m->value;
		rf_send_u8(p, RFC2217_SERVER + m->cmd, p->modemstate_mask);
		return;
	case RFC2217_PURGE_DATA:
		if (m->value < RFC2217_PURGE_RX || m->value > RFC2217_PURGE_BOTH)
			return;
		sim_serial_flush(p, m->value & RFC2217_PURGE_RX, m->value & RFC2217_PURGE_TX);
		rf_send_u8(p, RFC2217_SERVER + m->cmd, (uint8_t)m->value);
		return;
	default:
		return;	/* NOTIFY-* come from servers only */
	}
}

static void rf_telnet_send(void *arg, const uint8_t *buf, size_t n)
{
	struct sim_port *p = arg;

	rf_send(p, buf, (int)n);
}

static void rf_telnet_option(void *arg, uint8_t opt, bool local, bool enabled)
{
	struct sim_port *p = arg;

	/* Like ser2net: the modem state as soon as the client agrees to 44. */
	if (opt == TELNET_OPT_COM_PORT && !local && enabled) {
		p->modem_delta = 0;
		rf_send_u8(p, RFC2217_SERVER + RFC2217_NOTIFY_MODEMSTATE,
			   rfc2217_modem_to_wire(p->modem_in) & p->modemstate_mask);
	}
}

static void rf_telnet_subneg(void *arg, uint8_t opt, const uint8_t *val, size_t n)
{
	struct sim_port *p = arg;
	struct rfc2217_msg m;
	uint8_t logged[TELNET_SB_MAX + 1];

	if (opt != TELNET_OPT_COM_PORT)
		return;
	/* The log keeps option byte, code and value (unescaped). */
	logged[0] = opt;
	memcpy(logged + 1, val, n);
	if (rfc2217_decode(val, n, &m) < 0) {
		sim_log_command(p, logged, n + 1, false);
		log_warnx("port %u: ignored a malformed COM-PORT-OPTION (%zu bytes)", p->n, n);
		return;
	}
	sim_log_command(p, logged, n + 1, true);
	p->last_heard_ms = loop_now_ms();
	rf_command(p, &m);
}

static const struct telnet_ops rf_telnet_ops = {
	.send = rf_telnet_send,
	.option = rf_telnet_option,
	.subneg = rf_telnet_subneg,
};

static void rf_ready(struct conn *c)
{
	struct sim_port *p = c->arg;
	struct telnet *t = &p->telnet;

	p->sessions++;
	p->last_error[0] = '\0';
	p->linestate_mask = 0;
	p->modemstate_mask = 0xFF;
	p->suspended = false;
	p->line.modem = SERIAL_MODEM_DTR | SERIAL_MODEM_RTS;
	log_info("port %u: host %s connected", p->n, p->peer);
	telnet_init(t, &rf_telnet_ops, p);
	telnet_allow(t, TELNET_OPT_BINARY, TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE);
	telnet_allow(t, TELNET_OPT_SGA, TELNET_ALLOW_LOCAL | TELNET_ALLOW_REMOTE);
	/* The server side of 44 is DO: a client's DO 44 is refused (docs/rfc2217.md). */
	telnet_allow(t, TELNET_OPT_COM_PORT, TELNET_ALLOW_REMOTE);
	/* A stalled unit neither reads nor says anything, not even its own
	 * offers, until it wakes (a new connection starts unpaused). */
	p->offer_held = p->stalled;
	if (p->stalled)
		conn_pause(&p->data, true);
	else
		rf_offer(p);
	sim_serial_rx_resume(p);
}

static void rf_drained(struct conn *c)
{
	sim_serial_rx_resume(c->arg);
}

static void rf_closed(struct conn *c, int err)
{
	struct sim_port *p = c->arg;

	snprintf(p->last_error, sizeof(p->last_error), "%s", c->err);
	log_info("port %u: host %s disconnected: %s", p->n, p->peer, c->err);
	p->peer[0] = '\0';
	p->suspended = false;
	sim_serial_rx_resume(p);	/* as in rf_drop: drop serial input until the next host */
}

static const struct conn_ops rf_conn_ops = {
	.ready = rf_ready,
	.input = rf_input,
	.drained = rf_drained,
	.closed = rf_closed,
};

static void rf_accept(struct loop_watch *w, uint32_t events)
{
	struct sim_port *p = w->arg;
	char peer[SOCK_ADDRSTRLEN];
	SSL *ssl = NULL;
	int fd = sim_accept(p, w->fd, p->tls == SIM_TLS_ON, &ssl, peer);

	if (fd < 0)
		return;
	if (p->data.state != CONN_IDLE || conn_start(&p->data, fd, false, ssl) < 0) {
		log_warnx("port %u: refused a second connection from %s", p->n, peer);
		SSL_free(ssl);
		close(fd);
		return;
	}
	memcpy(p->peer, peer, sizeof(peer));
	if (!ssl)
		rf_ready(&p->data);
}

static int rf_listen(struct sim_port *p)
{
	return sim_listen_on(p, 0, (uint16_t)(p->sim->opt.tcp_base + p->n), rf_accept);
}

static int rf_init(struct sim_port *p)
{
	/* One connection; the command connection and Real COM's timers stay unused. */
	return conn_init(&p->data, p->sim->loop, &rf_conn_ops, p, SIM_NET_BUF, SIM_NET_BUF);
}

const struct sim_proto sim_rfc2217 = {
	.init = rf_init,
	.listen = rf_listen,
	.rx = rf_rx,
	.modem_changed = rf_modem_changed,
	.line_event = rf_line_event,
	.tx_sent = rf_tx_sent,
	.drop = rf_drop,
	.connected = rf_connected,
	.unstall = rf_unstall,
};
