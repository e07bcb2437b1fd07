// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The port state machine: idle -> connecting -> init -> up -> closing, and
 * back-off between attempts (capped exponential with jitter; only a session
 * that stays up resets it).  It relays between the backend (the local tty)
 * and the protocol driver, owns the timers (connect deadline, reconnect,
 * keep-alive, tcdrain while down), picks the path (host or backup_host) and
 * keeps application data to the session it was written in.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "aspp.h"
#include "log.h"
#include "port.h"
#include "resolve.h"

#define BACKOFF_FIRST_MS	100
#define BACKOFF_MAX_MS		30000	/* an unreachable unit is tried twice a minute */
/* A session that ends sooner does not reset the back-off: a unit that drops
 * every session at once is not hammered every 100 ms. */
#define STABLE_MS		5000
#define CLOSE_DRAIN_MS		3000	/* the device drains at most ~3 s itself */
#define DRAIN_DOWN_MS		3000	/* the longest a tcdrain waits for a link that is down */

/* A reload's new settings for a port with a session up or closing: they wait
 * for that session to send what it took (port_renew), or to end otherwise
 * (port_disconnect takes them). */
struct port_renewal {
	struct port_config cfg;
	const struct proto_ops *proto;
	void *priv;
	/* Once taken, it holds the old driver instead: freed from the loop
	 * (port_reap), since the old driver may be the caller that ended its
	 * session (a drain's answer, a lost link). */
	struct loop_timer reap;
};

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

static void port_let_go(struct port *p);

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
	return !p->stopping && (p->app_open || p->cfg.connect == CONNECT_ALWAYS);
}

struct port_path port_path(const struct port *p)
{
	const struct port_config *c = &p->cfg;

	if (p->on_backup)
		return (struct port_path){ c->backup_host, c->backup_data_port,
					   c->backup_command_port, c->backup_tcp_port };
	return (struct port_path){ c->host, c->data_port, c->command_port, c->tcp_port };
}

static void port_resolved(void *arg, int err, const struct sock_addr *a, const char *why)
{
	struct port *p = arg;
	char msg[sizeof(p->cfg.host) + 160];
	int r;

	p->resolving = NULL;
	if (err < 0) {
		snprintf(msg, sizeof(msg), "%s: %s", port_path(p).host, why);
		port_proto_down(p, err, msg);
		return;
	}
	p->addr = *a;
	r = p->proto->start(p);
	if (r < 0 && p->state == PORT_CONNECTING)
		port_proto_down(p, r, strerror(-r));
}

static void port_connect(struct port *p)
{
	struct resolve_req *r;

	port_set_state(p, PORT_CONNECTING);
	/* A unit that takes one client per port refuses a new connection while
	 * our last one to it is still closing (a reload's renewal, a reopen
	 * right after a close): it goes first, CONN_LINGER_MS at most.  A close
	 * meanwhile lets the connection decide, as during any attempt. */
	if (p->closing_conns) {
		p->connect_waits = true;
		return;
	}
	if (p->cfg.tls != PORT_TLS_OFF && !p->cfg.tls_verify)
		port_log(p, LOG_WARNING, "tls_verify = off: the device's certificate is not checked");
	/* The whole of name lookup, connect, TLS and line set-up gets keepalive
	 * seconds: a path that cannot be had in that time is dead as one found
	 * so in a session, and the other path is tried. */
	loop_timer_arm(&p->retry, 1000ULL * p->cfg.keepalive, 0);
	snprintf(p->peer, sizeof(p->peer), "%s", port_path(p).host);
	/* A name is looked up off the loop (resolve.c): a slow DNS server holds
	 * this port only, never the others. */
	r = resolve_start(p->d->loop, port_path(p).host, port_resolved, p);
	if (r && p->state == PORT_CONNECTING)
		p->resolving = r;
	else
		resolve_cancel(r);
}

/* A fresh open starts over: the primary path, and no back-off left over
 * from sessions of an earlier open. */
static void port_connect_fresh(struct port *p)
{
	p->on_backup = false;
	p->other_path_tried = false;
	p->backoff_ms = 0;
	p->failures = 0;
	port_connect(p);
}

/*
 * Application data belongs to the open it was written in (realcomd(8), DATA
 * ACROSS SESSIONS): what is left when that open ends without the device
 * having it (the unit unreachable at the last close, or the close's drain
 * timed out) is dropped, counted and logged once, never sent later.
 */
static void port_drop_stale(struct port *p, const char *why)
{
	size_t n = p->backend->discard(p);

	if (n == 0)
		return;
	p->stats.stale_dropped += n;
	port_log_limited(p, PORT_LIMIT_STALE, LOG_WARNING, "dropped %zu byte%s the application wrote: %s",
			 n, n == 1 ? "" : "s", why);
}

/* A tcdrain made while down: answered once the link is up, or failed (bytes
 * remaining) at its deadline; nothing would have left. */
static void port_drain_expired(struct loop_timer *t)
{
	struct port *p = t->arg;

	if (!p->drain_waiting)
		return;
	p->drain_waiting = false;
	p->backend->drained(p, UINT32_MAX - 1);
}

static void port_retry(struct loop_timer *t)
{
	struct port *p = t->arg;

	switch (p->state) {
	case PORT_BACKOFF:
		p->next_try_ms = 0;
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
	case PORT_UP:
		if (p->renewal)		/* the same for a reload's */
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
	/* The back-off stays: only a session that lasts resets it (port_proto_down). */
	p->up_since_ms = loop_now_ms();
	p->other_path_tried = false;
	p->tx_at_up = p->stats.tx_bytes;
	p->last_error[0] = '\0';
	port_set_state(p, PORT_UP);
	p->proto->describe_tls(p, p->tls_info, sizeof(p->tls_info));
	port_log_limited(p, PORT_LIMIT_UP, LOG_INFO, "%s: connected (%s%s%s%s)", p->peer,
			 p->proto->name, p->tls_info[0] ? ", " : "", p->tls_info,
			 p->on_backup ? ", backup path" : "");
	if (p->purge_unit)		/* the protocol's start did, before this */
		port_log_limited(p, PORT_LIMIT_PURGE, LOG_INFO,
				 "purged what the unit may still hold of the last session");
	p->purge_unit = false;
	/* A query at most a quarter after the peer died, answered within half:
	 * found dead within keepalive seconds (proto_ops.keepalive). */
	loop_timer_arm(&p->alive, 250ULL * p->cfg.keepalive, 250ULL * p->cfg.keepalive);
	/* a break the application holds, on every connect; one it let go of
	 * since the unit last heard, ended */
	if (p->break_held || p->unit_break) {
		p->unit_break = p->break_held;
		p->proto->set_break(p, p->break_held ? 0 : UINT32_MAX);
	}
	p->backend->link(p, true);
	p->backend->tx_resume(p);
	if (!port_wants_link(p)) {
		port_let_go(p);	/* closed while we were connecting: now the drain */
		return;
	}
	if (p->drain_waiting && p->state == PORT_UP) {
		p->drain_waiting = false;
		loop_timer_disarm(&p->drain_wait);
		p->proto->drain(p, DRAIN_DOWN_MS);
	}
}

/* Free a driver that is not the port's running one. */
static void port_proto_free(struct port *p, const struct proto_ops *proto, void *priv)
{
	const struct proto_ops *was = p->proto;
	void *was_priv = p->proto_priv;

	p->proto = proto;
	p->proto_priv = priv;
	proto->free(p);
	p->proto = was;
	p->proto_priv = was_priv;
}

static void port_renewal_free(struct port *p, struct port_renewal *r)
{
	port_proto_free(p, r->proto, r->priv);
	loop_timer_free(&r->reap);
	free(r);
}

static void port_reap(struct port *p)
{
	if (p->retired)
		port_renewal_free(p, p->retired);
	p->retired = NULL;
}

static void port_reap_timer(struct loop_timer *t)
{
	port_reap(t->arg);
}

static struct port_renewal *port_renewal_new(struct port *p)
{
	struct port_renewal *r = calloc(1, sizeof(*r));

	if (r && loop_timer_init(p->d->loop, &r->reap, port_reap_timer, p) < 0) {
		free(r);
		r = NULL;
	}
	return r;
}

/* The session is over: the reload's settings and driver become the port's. */
static void port_take_renewal(struct port *p)
{
	struct port_renewal *r = p->renewal;
	const struct proto_ops *old = p->proto;
	void *old_priv = p->proto_priv;

	memcpy(&p->cfg, &r->cfg, sizeof(p->cfg));
	p->proto = r->proto;
	p->proto_priv = r->priv;
	snprintf(p->peer, sizeof(p->peer), "%s", p->cfg.host);
	p->renewal = NULL;
	p->tx_held = false;
	port_reap(p);		/* an earlier one's: its caller has returned */
	r->proto = old;
	r->priv = old_priv;
	p->retired = r;
	loop_timer_arm(&r->reap, 0, 0);
}

/*
 * End the session.  Unless the device has taken everything (why NULL, after
 * a close's drain), what the connection still queues, ours and the kernel's,
 * is dropped with a reset, counted and logged: none of it may reach the unit
 * after the session it was written for.
 */
static void port_disconnect(struct port *p, const char *why)
{
	bool was_up = p->state == PORT_UP || p->state == PORT_CLOSING;
	/* the application's bytes this session took: an attempt took none */
	uint64_t took = was_up ? p->stats.tx_bytes - p->tx_at_up : 0;
	size_t n;

	resolve_cancel(p->resolving);
	p->resolving = NULL;
	p->next_try_ms = 0;
	loop_timer_disarm(&p->alive);
	loop_timer_disarm(&p->retry);
	p->connect_waits = false;
	if (!why) {
		p->purge_unit = false;
		p->closing_conns++;	/* port_proto_closed() when it is gone */
	} else if (took) {
		p->purge_unit = true;
	}
	/* what the unit had not taken, no more than the application gave */
	n = p->proto->stop(p, !why);
	if (n > took)
		n = (size_t)took;
	port_tls_release(p);
	p->tls_info[0] = '\0';
	if (p->renewal)
		port_take_renewal(p);
	if (n == 0)
		return;
	p->stats.stale_dropped += n;
	port_log_limited(p, PORT_LIMIT_DROPPED, LOG_WARNING,
			 "dropped %zu byte%s the unit had not taken: %s", n, n == 1 ? "" : "s", why);
}

/* The next attempt's delay: the other path at once when there is one not
 * tried in this round, else the back-off, doubled, with jitter. */
static unsigned int port_next_delay(struct port *p, const char **switching)
{
	*switching = NULL;
	if (p->cfg.backup_host[0]) {
		if (!p->other_path_tried) {
			/* found dead within keepalive s, on the other path 0.1 s later */
			p->on_backup = !p->on_backup;
			p->other_path_tried = true;
			*switching = p->on_backup ? "backup" : "primary";
			return BACKOFF_FIRST_MS;
		}
		/* both failed: back to the first, later */
		p->other_path_tried = false;
		p->on_backup = false;
	}
	p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : BACKOFF_FIRST_MS;
	if (p->backoff_ms > BACKOFF_MAX_MS)
		p->backoff_ms = BACKOFF_MAX_MS;
	/* jitter: 80-100 % so many ports of one unit do not retry in step */
	return p->backoff_ms - (unsigned int)(random() % (p->backoff_ms / 5 + 1));
}

void port_proto_down(struct port *p, int err, const char *why)
{
	bool was_up = p->state == PORT_UP || p->state == PORT_CLOSING;
	bool stable = was_up && loop_now_ms() - p->up_since_ms >= STABLE_MS;
	const char *switching;
	unsigned int delay;
	char peer[sizeof(p->peer)];

	memcpy(peer, p->peer, sizeof(peer));	/* the one that failed: a reload's may follow */
	/* conn.c fails a TLS handshake with EPROTO, and only a handshake (or
	 * making its session) can fail while still connecting */
	if (err == -EPROTO && p->state == PORT_CONNECTING && p->cfg.tls != PORT_TLS_OFF)
		p->stats.tls_failures++;
	port_disconnect(p, why);
	if (was_up) {
		p->backend->link(p, false);
		/* A tcdrain the session was running: what it waited for went
		 * with it (counted above), and no answer would ever come. */
		if (!p->drain_waiting)
			p->backend->drained(p, UINT32_MAX - 1);
	}
	snprintf(p->last_error, sizeof(p->last_error), "%s", why);
	/* Nobody has the tty open: what it holds is a closed open's, which
	 * waited for this session's drain or this attempt (connect = always
	 * too: the next session is not the one it was written for). */
	if (!p->app_open)
		port_drop_stale(p, "the unit was unreachable when the port was closed");
	if (!port_wants_link(p)) {
		port_set_state(p, PORT_IDLE);
		return;
	}
	if (stable) {
		p->backoff_ms = 0;
		p->failures = 0;
	}
	p->failures++;
	delay = port_next_delay(p, &switching);
	/* An offline unit fails on and on: say so when it changes, then rarely. */
	if (switching)
		/* a change of path is news, and the back-off bounds it */
		port_log(p, LOG_WARNING, "%s: %s; trying the %s path (%s) in %.1f s", peer, why,
			 switching, port_path(p).host, delay / 1000.0);
	else if (p->cfg.backup_host[0] && (p->backoff_ms < BACKOFF_MAX_MS || p->failures % 10 == 0))
		port_log_limited(p, PORT_LIMIT_DOWN, LOG_WARNING,
				 "%s: %s; both paths failed, the primary again in %.1f s",
				 peer, why, delay / 1000.0);
	else if (was_up || p->backoff_ms < BACKOFF_MAX_MS || p->failures % 10 == 0)
		port_log_limited(p, PORT_LIMIT_DOWN, LOG_WARNING, "%s: %s; retry in %.1f s",
				 peer, why, delay / 1000.0);
	port_set_state(p, PORT_BACKOFF);
	p->next_try_ms = loop_now_ms() + delay;
	loop_timer_arm(&p->retry, delay, 0);
}

void port_proto_refused(struct port *p, const char *fmt, ...)
{
	char msg[sizeof(p->last_error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* the keep-alive's answers repeat it: log it once */
	if (strcmp(msg, p->last_error) == 0)
		return;
	memcpy(p->last_error, msg, sizeof(msg));
	port_log_limited(p, PORT_LIMIT_REPLY, LOG_WARNING, "%s", msg);
}

void port_proto_line_applied(struct port *p, const struct serial_line *in_effect)
{
	struct serial_line l = *in_effect;

	l.modem = p->line.modem;
	if (!serial_line_valid(&l) || memcmp(&l, &p->line, sizeof(l)) == 0)
		return;
	/* a server that keeps answering other values must not flood the log */
	port_log_limited(p, PORT_LIMIT_IN_EFFECT, LOG_INFO,
			 "in effect: %u baud, %u data bits, parity %s, %s", l.baud,
			 l.data_bits, serial_parity_name(l.parity),
			 l.stop_bits == SERIAL_STOP_2 ? "2 stop bits" :
			 l.stop_bits == SERIAL_STOP_1_5 ? "1.5 stop bits" : "1 stop bit");
	p->line = l;
	p->backend->line_applied(p);
}

void port_app_open(struct port *p)
{
	p->app_open = true;
	port_log(p, LOG_INFO, "opened by an application");
	if (p->state == PORT_IDLE) {
		port_connect_fresh(p);
	} else if (p->state == PORT_CLOSING) {
		/* Opened again while closing: keep the connection.  With a
		 * reload's settings waiting, the drain goes on (its deadline
		 * too) and the new session sends the line. */
		port_set_state(p, PORT_UP);
		if (!p->renewal) {
			loop_timer_disarm(&p->retry);
			p->proto->set_line(p);
		}
	}
	if (p->renewal && p->state == PORT_UP)
		p->tx_held = true;	/* what it writes waits for the new session */
	else if (p->state == PORT_UP)
		p->backend->tx_resume(p);	/* reading stopped while closing */
}

/* The last close: the device gets what the session took, bounded; then the
 * session ends, or with connect = always stays if the device took it all
 * (port_proto_drained). */
static void port_close_drain(struct port *p)
{
	port_set_state(p, PORT_CLOSING);
	loop_timer_arm(&p->retry, CLOSE_DRAIN_MS, 0);
	p->proto->drain(p, CLOSE_DRAIN_MS);
}

/* Nobody wants the link: let the device send what it holds, bounded, then
 * disconnect and stay idle. */
static void port_let_go(struct port *p)
{
	/* An attempt under way decides, within its deadline: up, what the open
	 * wrote goes and the close's drain follows (port_proto_up); failed, it
	 * is dropped (port_proto_down).  "echo x > ttyR0" closes before any
	 * unit could answer. */
	if ((p->state == PORT_CONNECTING || p->state == PORT_INIT) && !p->stopping)
		return;
	switch (p->state) {
	case PORT_UP:
		port_close_drain(p);
		break;
	case PORT_CONNECTING:
	case PORT_INIT:
	case PORT_BACKOFF:
		port_disconnect(p, "the port was closed");
		port_set_state(p, PORT_IDLE);
		break;
	default:
		break;
	}
}

void port_app_close(struct port *p)
{
	if (p->break_held)
		port_app_break(p, UINT32_MAX);
	p->app_open = false;
	port_log(p, LOG_INFO, "closed by the application");
	if (p->drain_waiting) {
		p->drain_waiting = false;
		loop_timer_disarm(&p->drain_wait);
	}
	/* Unreachable now: what it wrote would reach the device only in some
	 * later session, after the application is gone. */
	if (p->state == PORT_IDLE || p->state == PORT_BACKOFF)
		port_drop_stale(p, "the unit was unreachable when the port was closed");
	/* What it wrote while a reload's settings wait belongs to this open:
	 * the running session takes it, and its drain covers it. */
	if (p->tx_held && p->state == PORT_UP) {
		p->tx_held = false;
		p->backend->tx_resume(p);
	}
	/* What the tty still holds goes as room comes while the drain runs;
	 * what is left when it ends is dropped then (port_proto_drained): not
	 * now, as the close may be old news, with a new open's bytes in the
	 * tty already. */
	if (!port_wants_link(p))
		port_let_go(p);
	else if (p->state == PORT_UP)
		port_close_drain(p);	/* connect = always: the session may stay, this open's data may not */
}

void port_shutdown(struct port *p)
{
	p->app_open = false;
	p->stopping = true;		/* stay down, whatever a reload says */
	port_let_go(p);
}

/*
 * A session ends for a reload's settings (port_disconnect takes them) and the
 * next starts at once, on the primary path with the back-off reset, sending
 * the whole line state.  The backend hears of no link-down: to the kernel
 * backend that is a carrier loss, which hangs up a tty without CLOCAL.
 */
static void port_renew(struct port *p, const char *why)
{
	bool was_up = p->state == PORT_UP || p->state == PORT_CLOSING;

	port_disconnect(p, why);
	p->last_error[0] = '\0';
	if (port_wants_link(p)) {
		port_connect_fresh(p);
		return;
	}
	port_set_state(p, PORT_IDLE);
	if (was_up) {		/* closed meanwhile, and the new settings connect on open */
		p->backend->link(p, false);
		port_drop_stale(p, "not sent before the new settings ended the session");
	}
}

void port_proto_drained(struct port *p, uint32_t remaining)
{
	if (p->state == PORT_UP && p->renewal) {
		loop_timer_disarm(&p->retry);
		if (remaining == UINT32_MAX)
			port_log(p, LOG_WARNING, "new settings: the device did not drain in time");
		/* a tcdrain from before the reload waited on this drain; one made
		 * since waits for the new session (port_app_drain) */
		if (!p->drain_waiting)
			p->backend->drained(p, remaining);
		port_renew(p, remaining ? "the drain before new settings ended first" : NULL);
		return;
	}
	if (p->state != PORT_CLOSING) {
		p->backend->drained(p, remaining);
		return;
	}
	if (remaining == 0 && port_wants_link(p) && !p->renewal) {
		/* connect = always, and the device has all the session took:
		 * the session stays, and takes what the tty still holds (a
		 * drop here could take a new open's first bytes, not yet
		 * known to be a new open's) */
		loop_timer_disarm(&p->retry);
		port_set_state(p, PORT_UP);
		p->backend->tx_resume(p);	/* the backend stopped reading while closing */
		return;
	}
	if (remaining == UINT32_MAX)
		port_log(p, LOG_WARNING, "closing: the device did not drain in time");
	p->proto->flush(p, true, true);
	port_disconnect(p, remaining ? "the close's drain ended first" : NULL);
	p->backend->link(p, false);
	port_set_state(p, PORT_IDLE);
	/* what the tty still holds was written for the session that just ended */
	port_drop_stale(p, "not sent before the close ended the session");
	if (port_wants_link(p))	/* connect = always: afresh, the unit purged first */
		port_connect_fresh(p);
}

/* A session takes data while up, and while a close's drain runs: what the
 * closed open left is sent as room comes (a transmit flush's answer, say),
 * and only what is left when the drain ends is dropped. */
static bool port_takes_data(const struct port *p)
{
	return (p->state == PORT_UP || p->state == PORT_CLOSING) && !p->tx_held;
}

size_t port_app_tx(struct port *p, const uint8_t *d, size_t n)
{
	size_t taken;

	if (!port_takes_data(p))
		return 0;	/* waits in the tty for a session that is up (a new one) */
	taken = p->proto->tx(p, d, n);
	p->stats.tx_bytes += taken;
	return taken;
}

size_t port_app_tx_room(struct port *p)
{
	return port_takes_data(p) ? p->proto->tx(p, NULL, 0) : 0;
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
	if (p->state != PORT_UP)
		return;
	if (ms == 0 || ms == UINT32_MAX)
		p->unit_break = ms == 0;
	p->proto->set_break(p, ms);
}

void port_app_drain(struct port *p, uint32_t timeout_ms)
{
	if (p->state == PORT_UP && !p->tx_held) {
		p->proto->drain(p, timeout_ms);
		return;
	}
	/* No link, or one that takes nothing more (a reload's settings wait):
	 * wait (bounded) for the next, then fail: a drain that answers success
	 * here would tell the application its data is out. */
	p->drain_waiting = true;
	loop_timer_arm(&p->drain_wait, timeout_ms && timeout_ms < DRAIN_DOWN_MS ? timeout_ms :
			DRAIN_DOWN_MS, 0);
}

void port_app_xchar(struct port *p, uint8_t ch)
{
	if (p->state == PORT_UP)
		p->proto->send_xchar(p, ch);
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
	if (port_takes_data(p))
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

		if (q && q != p && q->tls_busy &&
		    strcmp(port_path(q).host, port_path(p).host) == 0) {
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

		if (q && q->tls_waiting && strcmp(port_path(q).host, port_path(p).host) == 0) {
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

static void port_addr_set_port(struct sock_addr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
}

int port_conn_connect(struct port *p, struct conn *c, uint16_t tcp_port, SSL_CTX *tls)
{
	char err[TLS_ERR_MAX];
	struct sock_addr a = p->addr;	/* resolved by port_connect() */
	SSL *ssl = NULL;
	int fd, r;

	port_addr_set_port(&a, tcp_port);
	sock_addr_str(&a, p->peer);
	fd = sock_connect(&a);
	if (fd < 0) {
		port_proto_down(p, fd, strerror(-fd));
		return fd;
	}
	sock_tune(fd, p->cfg.keepalive);
	if (tls) {
		/* the backup verifies exactly like the primary: same CA or pin */
		ssl = tls_session_new(tls, fd, port_path(p).host, err);
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
	    loop_timer_init(d->loop, &p->alive, port_alive, p) < 0 ||
	    loop_timer_init(d->loop, &p->drain_wait, port_drain_expired, p) < 0 ||
	    p->proto->init(p) < 0)
		goto fail;
	if (p->backend->open(p) < 0)
		goto fail;
	if (p->cfg.connect == CONNECT_ALWAYS)
		port_connect_fresh(p);
	return p;
fail:
	port_free(p);
	return NULL;
}

/* The new settings while the connection runs: only the keep-alive's pace
 * (a reload's settings still waiting take it too). */
static void port_reconfigure_live(struct port *p, const struct port_config *cfg)
{
	if (p->renewal) {
		memcpy(&p->renewal->cfg, cfg, sizeof(p->renewal->cfg));
		p->cfg.keepalive = cfg->keepalive;
	} else {
		memcpy(&p->cfg, cfg, sizeof(p->cfg));
	}
	if (p->state == PORT_UP || p->state == PORT_CLOSING)
		loop_timer_arm(&p->alive, 250ULL * p->cfg.keepalive, 250ULL * p->cfg.keepalive);
}

const struct port_config *port_config_wanted(const struct port *p)
{
	return p->renewal ? &p->renewal->cfg : &p->cfg;
}

int port_reconfigure(struct port *p, const struct port_config *cfg, enum port_change change)
{
	struct port_config old;
	const struct proto_ops *old_proto = p->proto, *new_proto;
	void *old_priv = p->proto_priv, *new_priv;
	bool first = !p->renewal;
	int r;

	if (p->renewal && port_config_change(&p->cfg, cfg) <= PORT_CHANGE_LIVE) {
		/* back to what the session runs with: nothing to renew */
		port_renewal_free(p, p->renewal);
		p->renewal = NULL;
		if (p->state == PORT_UP)
			loop_timer_disarm(&p->retry);	/* the drain's deadline */
		change = PORT_CHANGE_LIVE;
	}
	if (change == PORT_CHANGE_LIVE) {
		port_reconfigure_live(p, cfg);
		if (p->tx_held) {
			p->tx_held = false;
			p->backend->tx_resume(p);
		}
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
	if (r == 0 && first && !(p->renewal = port_renewal_new(p))) {
		port_proto_free(p, new_proto, new_priv);
		r = -ENOMEM;
	}
	if (r < 0) {
		port_log(p, LOG_ERR, "new settings not applied: %s", strerror(-r));
		return r;
	}
	if (!first)		/* newer than those still waiting */
		port_proto_free(p, p->renewal->proto, p->renewal->priv);
	memcpy(&p->renewal->cfg, cfg, sizeof(p->renewal->cfg));
	p->renewal->proto = new_proto;
	p->renewal->priv = new_priv;
	switch (p->state) {
	case PORT_UP:
		/* The session sends what it took first, bounded as a close's
		 * drain; what the application writes meanwhile waits in the tty
		 * for the new one. */
		if (first) {
			p->tx_held = true;
			loop_timer_arm(&p->retry, CLOSE_DRAIN_MS, 0);
			p->proto->drain(p, CLOSE_DRAIN_MS);
		}
		break;
	case PORT_CLOSING:
		break;		/* taken when the close's drain ends */
	default:
		port_renew(p, "new settings");
		break;
	}
	return 0;
}

void port_proto_closed(void *port)
{
	struct port *p = port;

	if (p->closing_conns && --p->closing_conns == 0 && p->connect_waits) {
		p->connect_waits = false;
		if (p->state == PORT_CONNECTING)
			port_connect(p);
	}
}

void port_free(struct port *p)
{
	if (!p)
		return;
	conn_finish_forget(p);
	if (p->proto_priv) {
		port_disconnect(p, "the port was removed or realcomd stopped");
		p->proto->free(p);
	}
	if (p->renewal)
		port_renewal_free(p, p->renewal);
	port_reap(p);
	if (p->backend_priv)
		p->backend->close(p);
	loop_timer_free(&p->retry);
	loop_timer_free(&p->alive);
	loop_timer_free(&p->drain_wait);
	resolve_cancel(p->resolving);
	free(p);
}
