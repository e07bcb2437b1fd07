// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The port state machine: idle -> connecting -> init -> up -> closing, and
 * back-off between attempts (capped exponential with jitter).  It relays
 * between the backend (the local tty) and the protocol driver and owns the
 * timers: connect deadline, reconnect, keep-alive.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aspp.h"
#include "log.h"
#include "port.h"

#define BACKOFF_FIRST_MS	100
#define BACKOFF_MAX_MS		1000	/* back within a second of the device */
#define CLOSE_DRAIN_MS		3000	/* the device drains at most ~3 s itself */

static const char *const state_names[] = {
	[PORT_IDLE] = "idle", [PORT_CONNECTING] = "connecting", [PORT_INIT] = "initialising",
	[PORT_UP] = "up", [PORT_CLOSING] = "closing", [PORT_BACKOFF] = "waiting to reconnect",
};

const char *port_state_name(enum port_state s)
{
	return s <= PORT_BACKOFF ? state_names[s] : "?";
}

void port_log(struct port *p, int level, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_port(level, p->name, p->peer, "%s", msg);
}

void port_log_limited(struct port *p, enum port_limit kind, int level, const char *fmt, ...)
{
	struct log_limit *ll = &p->limit[kind];
	unsigned long held;
	char msg[768];
	va_list ap;

	if (level > log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!log_limit_pass(ll, &held)) {
		size_t n = strnlen(msg, sizeof(ll->last) - 1);

		ll->level = level;
		memcpy(ll->last, msg, n);	/* truncated: it stands for many */
		ll->last[n] = '\0';
		return;
	}
	if (held)
		log_port(level, p->name, p->peer, "%s (and %lu more like it in the last %u s)", msg,
			 held, LOG_LIMIT_MS / 1000);
	else
		log_port(level, p->name, p->peer, "%s", msg);
}

void port_log_flush(struct port *p)
{
	for (unsigned int k = 0; k < PORT_LIMIT_N; k++) {
		struct log_limit *ll = &p->limit[k];
		unsigned long held;

		if (log_limit_due(ll, &held))
			log_port(ll->level, p->name, p->peer, "%lu more like \"%s\" in the last %u s",
				 held, ll->last, LOG_LIMIT_MS / 1000);
	}
}

static void port_set_state(struct port *p, enum port_state s)
{
	if (p->state == s)
		return;
	log_debug("%s: %s -> %s", p->name, port_state_name(p->state), port_state_name(s));
	p->state = s;
	p->state_since_ms = loop_now_ms();
	p->state_changed = true;
}

static bool port_wants_link(const struct port *p)
{
	return p->app_open || p->cfg.connect == CONNECT_ALWAYS;
}

static void port_connect(struct port *p)
{
	int r;

	port_set_state(p, PORT_CONNECTING);
	if (p->cfg.tls != PORT_TLS_OFF && !p->cfg.tls_verify)
		port_log(p, LOG_WARNING, "tls_verify = off: the device's certificate is not checked");
	/* The whole of connect, TLS and line set-up gets keepalive seconds (3 at least). */
	loop_timer_arm(&p->retry, 1000ULL * (p->cfg.keepalive < 3 ? 3 : p->cfg.keepalive), 0);
	r = p->proto->start(p);
	if (r < 0 && p->state == PORT_CONNECTING)
		port_proto_down(p, r, strerror(-r));
}

static void port_retry(struct loop_timer *t)
{
	struct port *p = t->arg;

	switch (p->state) {
	case PORT_BACKOFF:
		port_connect(p);
		break;
	case PORT_CONNECTING:
	case PORT_INIT:
		port_proto_down(p, -ETIMEDOUT, "no answer in time");
		break;
	case PORT_CLOSING:
		/* The drain did not finish in time: close anyway. */
		port_proto_drained(p, UINT32_MAX);
		break;
	default:
		break;
	}
}

static void port_alive(struct loop_timer *t)
{
	struct port *p = t->arg;

	if (p->state == PORT_UP || p->state == PORT_CLOSING)
		p->proto->keepalive(p);
}

void port_proto_connected(struct port *p)
{
	port_set_state(p, PORT_INIT);
}

void port_proto_up(struct port *p)
{
	loop_timer_disarm(&p->retry);
	if (p->stats.connects > 0)
		p->stats.reconnects++;
	p->stats.connects++;
	p->backoff_ms = 0;
	p->last_error[0] = '\0';
	port_set_state(p, PORT_UP);
	p->proto->describe_tls(p, p->tls_info, sizeof(p->tls_info));
	port_log_limited(p, PORT_LIMIT_UP, LOG_INFO, "%s: connected (%s%s%s)", p->peer,
			 p->proto->name, p->tls_info[0] ? ", " : "", p->tls_info);
	/* A query at most a quarter after the peer died, answered within half:
	 * found dead within keepalive seconds (proto_ops.keepalive). */
	loop_timer_arm(&p->alive, 250ULL * p->cfg.keepalive, 250ULL * p->cfg.keepalive);
	if (p->break_held)
		p->proto->set_break(p, 0);
	p->backend->link(p, true);
	if (!p->app_open && p->cfg.connect == CONNECT_ON_OPEN) {
		port_app_close(p);	/* closed while we were connecting */
		return;
	}
	p->backend->tx_resume(p);
}

static void port_disconnect(struct port *p)
{
	loop_timer_disarm(&p->alive);
	loop_timer_disarm(&p->retry);
	p->proto->stop(p);
	port_tls_release(p);
	p->tls_info[0] = '\0';
}

void port_proto_down(struct port *p, int err, const char *why)
{
	bool was_up = p->state == PORT_UP || p->state == PORT_CLOSING;
	unsigned int delay;

	/* conn.c fails a TLS handshake with EPROTO, and only a handshake (or
	 * making its session) can fail while still connecting */
	if (err == -EPROTO && p->state == PORT_CONNECTING && p->cfg.tls != PORT_TLS_OFF)
		p->stats.tls_failures++;
	port_disconnect(p);
	if (was_up)
		p->backend->link(p, false);
	snprintf(p->last_error, sizeof(p->last_error), "%s", why);
	if (!port_wants_link(p)) {
		port_set_state(p, PORT_IDLE);
		return;
	}
	p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : BACKOFF_FIRST_MS;
	if (p->backoff_ms > BACKOFF_MAX_MS)
		p->backoff_ms = BACKOFF_MAX_MS;
	/* jitter: 80-100 % so many ports of one unit do not retry in step */
	delay = p->backoff_ms - (unsigned int)(random() % (p->backoff_ms / 5 + 1));
	/* An offline unit fails every second: say so when it changes, then rarely. */
	if (was_up || p->backoff_ms < BACKOFF_MAX_MS || (p->stats.connects % 60) == 0)
		port_log_limited(p, PORT_LIMIT_DOWN, LOG_WARNING, "%s: %s; retry in %.1f s", p->peer,
				 why, delay / 1000.0);
	port_set_state(p, PORT_BACKOFF);
	loop_timer_arm(&p->retry, delay, 0);
}

void port_app_open(struct port *p)
{
	p->app_open = true;
	port_log(p, LOG_INFO, "opened by an application");
	if (p->state == PORT_IDLE)
		port_connect(p);
	else if (p->state == PORT_CLOSING) {
		/* Opened again while closing: keep the connection. */
		loop_timer_disarm(&p->retry);
		port_set_state(p, PORT_UP);
		p->proto->set_line(p);
	}
}

void port_app_close(struct port *p)
{
	if (p->break_held)
		port_app_break(p, UINT32_MAX);
	p->app_open = false;
	port_log(p, LOG_INFO, "closed by the application");
	if (p->cfg.connect == CONNECT_ALWAYS)
		return;
	port_shutdown(p);
}

void port_shutdown(struct port *p)
{
	p->app_open = false;
	p->cfg.connect = CONNECT_ON_OPEN;	/* stay down */
	switch (p->state) {
	case PORT_UP:
		/* Let the device send what it holds, bounded, then disconnect. */
		port_set_state(p, PORT_CLOSING);
		loop_timer_arm(&p->retry, CLOSE_DRAIN_MS, 0);
		p->proto->drain(p, CLOSE_DRAIN_MS);
		break;
	case PORT_CONNECTING:
	case PORT_INIT:
	case PORT_BACKOFF:
		port_disconnect(p);
		port_set_state(p, PORT_IDLE);
		break;
	default:
		break;
	}
}

void port_proto_drained(struct port *p, uint32_t remaining)
{
	if (p->state != PORT_CLOSING) {
		p->backend->drained(p, remaining);
		return;
	}
	if (remaining == UINT32_MAX)
		port_log(p, LOG_WARNING, "closing: the device did not drain in time");
	p->proto->flush(p, true, true);
	port_disconnect(p);
	p->backend->link(p, false);
	port_set_state(p, PORT_IDLE);
}

size_t port_app_tx(struct port *p, const uint8_t *d, size_t n)
{
	size_t taken;

	if (p->state != PORT_UP)
		return 0;	/* waits in the tty until the link is up */
	taken = p->proto->tx(p, d, n);
	p->stats.tx_bytes += taken;
	return taken;
}

size_t port_app_tx_room(struct port *p)
{
	return p->state == PORT_UP ? p->proto->tx(p, NULL, 0) : 0;
}

void port_proto_line_since(struct port *p, const struct serial_line *was)
{
	if (memcmp(was, &p->line, offsetof(struct serial_line, modem)) != 0)
		p->proto->set_line(p);
	else if (was->modem != p->line.modem)
		p->proto->set_modem(p);
}

void port_app_line(struct port *p, const struct serial_line *line)
{
	struct serial_line was = p->line;

	p->line = *line;
	/* not up: sent with the connection's set-up, or once it is up */
	if (p->state == PORT_UP)
		port_proto_line_since(p, &was);
}

void port_app_flush(struct port *p, bool rx, bool tx)
{
	if (p->state == PORT_UP)
		p->proto->flush(p, rx, tx);
}

void port_app_break(struct port *p, uint32_t ms)
{
	if (ms == 0)
		p->break_held = true;
	else if (ms == UINT32_MAX)
		p->break_held = false;
	if (p->state == PORT_UP)
		p->proto->set_break(p, ms);
}

void port_app_drain(struct port *p, uint32_t timeout_ms)
{
	if (p->state == PORT_UP)
		p->proto->drain(p, timeout_ms);
	else
		p->backend->drained(p, 0);	/* no link: nothing more will leave */
}

void port_app_rx_resume(struct port *p)
{
	if (p->state == PORT_UP || p->state == PORT_CLOSING)
		p->proto->rx_resume(p);
}

size_t port_proto_rx(struct port *p, const uint8_t *d, size_t n)
{
	size_t taken;

	if (!d)
		return p->backend->rx(p, NULL, 0);
	taken = p->backend->rx(p, d, n);
	p->stats.rx_bytes += taken;
	return taken;
}

void port_proto_modem(struct port *p, uint8_t modem_in)
{
	if (modem_in == p->modem_in)
		return;
	p->modem_in = modem_in;
	p->backend->modem(p);
}

void port_proto_line_event(struct port *p, uint8_t events)
{
	p->stats.parity_errors += !!(events & ASPP_EV_PARITY);
	p->stats.framing_errors += !!(events & ASPP_EV_FRAMING);
	p->stats.overruns += !!(events & (ASPP_EV_HW_OVERRUN | ASPP_EV_SW_OVERRUN));
	p->stats.breaks += !!(events & ASPP_EV_BREAK);
	p->backend->line_event(p, events);
}

void port_proto_tx_resume(struct port *p)
{
	if (p->state == PORT_UP)
		p->backend->tx_resume(p);
}

bool port_is_down(const struct port *p)
{
	return p->state == PORT_IDLE;
}

bool port_tls_acquire(struct port *p)
{
	for (unsigned int i = 0; i < REALCOM_TTYS_MAX; i++) {
		struct port *q = p->d->ports[i];

		if (q && q != p && q->tls_busy && strcmp(q->cfg.host, p->cfg.host) == 0) {
			p->tls_waiting = true;
			return false;
		}
	}
	p->tls_busy = true;
	p->tls_waiting = false;
	return true;
}

void port_tls_release(struct port *p)
{
	p->tls_waiting = false;
	if (!p->tls_busy)
		return;
	p->tls_busy = false;
	for (unsigned int i = 0; i < REALCOM_TTYS_MAX; i++) {
		struct port *q = p->d->ports[i];

		if (q && q->tls_waiting && strcmp(q->cfg.host, p->cfg.host) == 0) {
			q->tls_waiting = false;
			q->tls_busy = true;
			q->proto->tls_slot(q);
			return;
		}
	}
}

SSL_CTX *port_tls_ctx(struct port *p)
{
	struct tls_config tc = {
		.verify = p->cfg.tls_verify,
		.ca_file = p->cfg.tls_ca[0] ? p->cfg.tls_ca : NULL,
		.pinned = p->cfg.pinned,
		.cert_file = p->cfg.tls_cert[0] ? p->cfg.tls_cert : NULL,
		.key_file = p->cfg.tls_key[0] ? p->cfg.tls_key : NULL,
	};
	char err[TLS_ERR_MAX];
	SSL_CTX *ctx;

	memcpy(tc.fingerprint, p->cfg.fingerprint, TLS_FP_LEN);
	ctx = tls_ctx_new(&tc, err);
	if (!ctx)
		port_log(p, LOG_ERR, "TLS: %s", err);
	return ctx;
}

int port_conn_connect(struct port *p, struct conn *c, uint16_t tcp_port, SSL_CTX *tls)
{
	char err[TLS_ERR_MAX + sizeof(p->cfg.host)];
	const char *why = NULL;
	struct sock_addr a;
	SSL *ssl = NULL;
	int fd, r;

	r = sock_resolve(p->cfg.host, tcp_port, &a, &why);
	if (r < 0) {
		snprintf(err, sizeof(err), "%s: %s", p->cfg.host, why ? why : "cannot resolve");
		port_proto_down(p, r, err);
		return r;
	}
	sock_addr_str(&a, p->peer);
	fd = sock_connect(&a);
	if (fd < 0) {
		port_proto_down(p, fd, strerror(-fd));
		return fd;
	}
	sock_tune(fd, p->cfg.keepalive);
	if (tls) {
		ssl = tls_session_new(tls, fd, p->cfg.host, err);
		if (!ssl) {
			close(fd);
			port_proto_down(p, -EPROTO, err);
			return -EPROTO;
		}
	}
	r = conn_start(c, fd, true, ssl);
	if (r < 0) {
		SSL_free(ssl);
		close(fd);
		port_proto_down(p, r, strerror(-r));
	}
	return r;
}

struct port *port_new(struct daemon *d, const struct port_config *cfg)
{
	struct port *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->d = d;
	p->cfg = *cfg;
	snprintf(p->name, sizeof(p->name), "ttyR%u", cfg->index);
	snprintf(p->peer, sizeof(p->peer), "%s", cfg->host);
	serial_line_default(&p->line);
	p->state_since_ms = loop_now_ms();	/* idle since created */
	p->backend = d->backend;
	p->proto = cfg->protocol == PROTO_RFC2217 ? &proto_rfc2217 : &proto_realcom;
	if (loop_timer_init(d->loop, &p->retry, port_retry, p) < 0 ||
	    loop_timer_init(d->loop, &p->alive, port_alive, p) < 0 || p->proto->init(p) < 0)
		goto fail;
	if (p->backend->open(p) < 0)
		goto fail;
	if (p->cfg.connect == CONNECT_ALWAYS)
		port_connect(p);
	return p;
fail:
	port_free(p);
	return NULL;
}

/* The new settings while the connection runs: only the keep-alive's pace. */
static void port_reconfigure_live(struct port *p, const struct port_config *cfg)
{
	memcpy(&p->cfg, cfg, sizeof(p->cfg));
	if (p->state == PORT_UP || p->state == PORT_CLOSING)
		loop_timer_arm(&p->alive, 250ULL * p->cfg.keepalive, 250ULL * p->cfg.keepalive);
}

int port_reconfigure(struct port *p, const struct port_config *cfg, enum port_change change)
{
	struct port_config old;
	const struct proto_ops *old_proto = p->proto, *new_proto;
	void *old_priv = p->proto_priv, *new_priv;
	bool was_closing = p->state == PORT_CLOSING;
	int r;

	if (change == PORT_CHANGE_LIVE) {
		port_reconfigure_live(p, cfg);
		return 0;
	}
	/* The new driver first, beside the running one: when it cannot be made
	 * (a TLS file that does not load), the port goes on as it was. */
	memcpy(&old, &p->cfg, sizeof(old));
	memcpy(&p->cfg, cfg, sizeof(p->cfg));
	new_proto = cfg->protocol == PROTO_RFC2217 ? &proto_rfc2217 : &proto_realcom;
	p->proto = new_proto;
	p->proto_priv = NULL;
	r = new_proto->init(p);
	new_priv = p->proto_priv;
	if (r < 0)
		new_proto->free(p);	/* what init made of p->proto_priv */
	memcpy(&p->cfg, &old, sizeof(p->cfg));
	p->proto = old_proto;
	p->proto_priv = old_priv;
	if (r < 0) {
		port_log(p, LOG_ERR, "new settings not applied: %s", strerror(-r));
		return r;
	}
	/* The old session ends under the old settings (its TLS slot is its
	 * host's); bytes still in flight are lost, as in any reconnect.  The
	 * backend hears of no link-down: to the kernel backend that is a
	 * carrier loss, which hangs up a tty without CLOCAL.  Closing, with
	 * no application left, the port goes down as a close would take it. */
	port_disconnect(p);
	old_proto->free(p);
	if (was_closing)
		p->backend->link(p, false);
	memcpy(&p->cfg, cfg, sizeof(p->cfg));
	p->proto = new_proto;
	p->proto_priv = new_priv;
	snprintf(p->peer, sizeof(p->peer), "%s", cfg->host);
	p->backoff_ms = 0;
	p->last_error[0] = '\0';
	/* A new session at once, which sends the whole line state again. */
	if (port_wants_link(p))
		port_connect(p);
	else
		port_set_state(p, PORT_IDLE);
	return 0;
}

void port_free(struct port *p)
{
	if (!p)
		return;
	if (p->proto_priv) {
		port_disconnect(p);
		p->proto->free(p);
	}
	if (p->backend_priv)
		p->backend->close(p);
	loop_timer_free(&p->retry);
	loop_timer_free(&p->alive);
	free(p);
}
