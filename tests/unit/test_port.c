// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the port state machine (realcomd/port.c) alone.  The clock,
 * the loop's timers, name lookup and random() are replaced at link time
 * (-Wl,--wrap=, tests/unit/meson.build): time moves only when a test calls
 * advance(), which fires the timers that fall due in order, so back-off,
 * deadlines and session lengths are exact and nothing sleeps.  The backend
 * and both protocol drivers are fake tables that count their calls; the test
 * plays the driver's part (port_proto_connected, _up, _down).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "port.h"
#include "resolve.h"

#define HOST		"192.0.2.10"
#define HOST_NEW	"192.0.2.20"
#define BACKUP		"192.0.2.11"

/* --- time and timers (wrapped) --- */

#define FAKE_TIMERS	8

struct fake_timer {
	struct loop_timer *t;
	uint64_t due;
	uint64_t armed_ms;	/* the delay of the last arm */
};

/* What the fakes saw, reset before each test. */
static struct {
	uint64_t now;
	struct fake_timer timers[FAKE_TIMERS];
	long random_value;

	/* resolve_start */
	unsigned int resolves, resolve_cancels;
	char resolve_host[256];
	bool resolve_pending;		/* answer only when resolve_finish() says */
	resolve_fn *resolve_fn;
	void *resolve_arg;

	/* proto_ops, by driver: [0] realcom, [1] rfc2217 */
	struct {
		unsigned int init, free, start, stop, tx, set_line, set_modem, set_break, flush,
			     drain, keepalive, rx_resume, xchar;
		uint32_t drain_ms, break_ms;
		uint8_t xchar_last;
	} proto[2];
	int init_result;
	size_t stop_drops;		/* what stop says it dropped, when not graceful */
	bool stop_lingers;		/* a graceful stop's connection stays, closing */
	bool stop_graceful;		/* how the last stop was asked */
	unsigned int inits;		/* both drivers: the order of init and stop */
	unsigned int stop_at_init;	/* inits when the last stop came */
	char start_host[256];
	struct serial_line start_line;	/* p->line when start ran */

	/* backend_ops */
	unsigned int opens, closes, links_up, links_down, tx_resumes, drained, discards,
		     lines_applied;
	uint32_t drained_remaining;
	size_t held;			/* bytes the tty holds, not yet taken */
	bool tx_full;			/* the driver takes no data now */

	/* log lines containing "dropped" */
	unsigned int dropped_lines;
	char dropped_line[256];
} fx;

uint64_t __wrap_loop_now_ms(void);
int __wrap_loop_timer_init(struct loop *l, struct loop_timer *t, loop_timer_fn *fn, void *arg);
int __wrap_loop_timer_arm(struct loop_timer *t, uint64_t ms, uint64_t interval_ms);
void __wrap_loop_timer_disarm(struct loop_timer *t);
void __wrap_loop_timer_free(struct loop_timer *t);
struct resolve_req *__wrap_resolve_start(struct loop *l, const char *host, resolve_fn *fn,
					 void *arg);
void __wrap_resolve_cancel(struct resolve_req *r);
long __wrap_random(void);

uint64_t __wrap_loop_now_ms(void)
{
	return fx.now;
}

static struct fake_timer *fake_timer(const struct loop_timer *t)
{
	for (unsigned int i = 0; i < FAKE_TIMERS; i++)
		if (fx.timers[i].t == t)
			return &fx.timers[i];
	fail_msg("timer %p was never initialised", (const void *)t);
	return NULL;
}

int __wrap_loop_timer_init(struct loop *l, struct loop_timer *t, loop_timer_fn *fn, void *arg)
{
	for (unsigned int i = 0; i < FAKE_TIMERS; i++) {
		if (!fx.timers[i].t) {
			*t = (struct loop_timer){ .fn = fn, .arg = arg };
			t->watch.loop = l;
			fx.timers[i] = (struct fake_timer){ .t = t };
			return 0;
		}
	}
	fail_msg("more than %d timers", FAKE_TIMERS);
	return -ENOMEM;
}

int __wrap_loop_timer_arm(struct loop_timer *t, uint64_t ms, uint64_t interval_ms)
{
	struct fake_timer *ft = fake_timer(t);

	ft->due = fx.now + ms;
	ft->armed_ms = ms;
	t->interval_ms = interval_ms;
	t->armed = true;
	return 0;
}

void __wrap_loop_timer_disarm(struct loop_timer *t)
{
	t->armed = false;
}

void __wrap_loop_timer_free(struct loop_timer *t)
{
	for (unsigned int i = 0; i < FAKE_TIMERS; i++)
		if (fx.timers[i].t == t)
			fx.timers[i] = (struct fake_timer){ 0 };
	t->armed = false;
}

/* Move the clock by ms, firing every timer that falls due on the way, the
 * earliest first, each at its own time (as the loop would). */
static void advance(uint64_t ms)
{
	uint64_t end = fx.now + ms;

	for (unsigned int fired = 0;; fired++) {
		struct fake_timer *next = NULL;

		assert_true(fired < 100000);	/* a timer that re-arms at 0 for ever */
		for (unsigned int i = 0; i < FAKE_TIMERS; i++) {
			struct fake_timer *ft = &fx.timers[i];

			if (!ft->t || !ft->t->armed || ft->due > end)
				continue;
			if (!next || ft->due < next->due)
				next = ft;
		}
		if (!next)
			break;
		fx.now = next->due;
		if (next->t->interval_ms)
			next->due += next->t->interval_ms;
		else
			next->t->armed = false;
		next->t->fn(next->t);
	}
	fx.now = end;
}

/* The delay the timer was last armed with, asserting it is armed. */
static uint64_t armed_ms(const struct loop_timer *t)
{
	assert_true(t->armed);
	return fake_timer(t)->armed_ms;
}

/* --- name lookup (wrapped): the address at once, or when the test says --- */

static struct resolve_req *const pending_req = (struct resolve_req *)&fx.resolve_fn;

static void resolve_answer(resolve_fn *fn, void *arg, int err)
{
	struct sock_addr a = { .len = sizeof(struct sockaddr_in) };
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;

	sin->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, fx.resolve_host, &sin->sin_addr), 1);
	fn(arg, err, err ? NULL : &a, err ? "Name or service not known" : NULL);
}

struct resolve_req *__wrap_resolve_start(struct loop *l, const char *host, resolve_fn *fn,
					 void *arg)
{
	fx.resolves++;
	snprintf(fx.resolve_host, sizeof(fx.resolve_host), "%s", host);
	if (!fx.resolve_pending) {
		resolve_answer(fn, arg, 0);	/* like resolve.c for an address */
		return NULL;
	}
	fx.resolve_fn = fn;
	fx.resolve_arg = arg;
	return pending_req;
}

void __wrap_resolve_cancel(struct resolve_req *r)
{
	if (!r)
		return;
	assert_ptr_equal(r, pending_req);
	fx.resolve_cancels++;
	fx.resolve_fn = NULL;
}

static void resolve_finish(int err)
{
	resolve_fn *fn = fx.resolve_fn;

	assert_non_null(fn);
	fx.resolve_fn = NULL;
	resolve_answer(fn, fx.resolve_arg, err);
}

/* The back-off's jitter: 0 gives the full delay. */
long __wrap_random(void)
{
	return fx.random_value;
}

/* --- the protocol drivers (fake tables) --- */

static int fake_which(const struct port *p)
{
	return p->proto == &proto_rfc2217;
}

static int fake_init(struct port *p)
{
	fx.proto[fake_which(p)].init++;
	fx.inits++;
	/* something to free, so ASan sees a driver state leaked or freed twice */
	p->proto_priv = malloc(16);
	assert_non_null(p->proto_priv);
	return fx.init_result;
}

static void fake_free(struct port *p)
{
	fx.proto[fake_which(p)].free++;
	free(p->proto_priv);
	p->proto_priv = NULL;
}

static int fake_start(struct port *p)
{
	fx.proto[fake_which(p)].start++;
	snprintf(fx.start_host, sizeof(fx.start_host), "%s", port_path(p).host);
	fx.start_line = p->line;
	return 0;
}

static size_t fake_stop(struct port *p, bool graceful)
{
	fx.proto[fake_which(p)].stop++;
	fx.stop_at_init = fx.inits;
	fx.stop_graceful = graceful;
	if (graceful && !fx.stop_lingers)
		port_proto_closed(p);	/* conn_finish() with nothing to keep */
	return graceful ? 0 : fx.stop_drops;
}

static size_t fake_tx(struct port *p, const uint8_t *d, size_t n)
{
	fx.proto[fake_which(p)].tx++;
	if (fx.tx_full)
		return 0;
	return d ? n : 4096;
}

static void fake_set_line(struct port *p)
{
	fx.proto[fake_which(p)].set_line++;
}

static void fake_set_modem(struct port *p)
{
	fx.proto[fake_which(p)].set_modem++;
}

static void fake_set_break(struct port *p, uint32_t ms)
{
	fx.proto[fake_which(p)].set_break++;
	fx.proto[fake_which(p)].break_ms = ms;
}

static void fake_flush(struct port *p, bool rx, bool tx)
{
	fx.proto[fake_which(p)].flush++;
}

static void fake_rx_resume(struct port *p)
{
	fx.proto[fake_which(p)].rx_resume++;
}

static void fake_send_xchar(struct port *p, uint8_t ch)
{
	fx.proto[fake_which(p)].xchar++;
	fx.proto[fake_which(p)].xchar_last = ch;
}

static void fake_tls_slot(struct port *p)
{
}

static void fake_drain(struct port *p, uint32_t timeout_ms)
{
	fx.proto[fake_which(p)].drain++;
	fx.proto[fake_which(p)].drain_ms = timeout_ms;
}

static void fake_keepalive(struct port *p)
{
	fx.proto[fake_which(p)].keepalive++;
}

static void fake_describe_tls(struct port *p, char *out, size_t len)
{
	snprintf(out, len, "%s", "");
}

#define FAKE_PROTO(n) { .name = n, .init = fake_init, .free = fake_free, .start = fake_start, \
	.stop = fake_stop, .tx = fake_tx, .set_line = fake_set_line, .set_modem = fake_set_modem, \
	.send_xchar = fake_send_xchar, .set_break = fake_set_break, .flush = fake_flush, .rx_resume = fake_rx_resume, \
	.tls_slot = fake_tls_slot, .drain = fake_drain, .keepalive = fake_keepalive, \
	.describe_tls = fake_describe_tls }

/* port.c picks the driver by cfg.protocol from these two names. */
const struct proto_ops proto_realcom = FAKE_PROTO("realcom");
const struct proto_ops proto_rfc2217 = FAKE_PROTO("rfc2217");

/* --- the backend (a fake table): a tty holding fx.held bytes --- */

static int fake_open(struct port *p)
{
	fx.opens++;
	p->backend_priv = &fx;
	return 0;
}

static void fake_close(struct port *p)
{
	fx.closes++;
	p->backend_priv = NULL;
}

static size_t fake_rx(struct port *p, const uint8_t *d, size_t n)
{
	return d ? n : 4096;
}

static void fake_modem(struct port *p)
{
}

static void fake_line_event(struct port *p, uint8_t events)
{
}

static void fake_link(struct port *p, bool up)
{
	if (up)
		fx.links_up++;
	else
		fx.links_down++;
}

static void fake_drained(struct port *p, uint32_t remaining)
{
	fx.drained++;
	fx.drained_remaining = remaining;
}

/* as a backend does: what the tty holds goes to the driver, if it takes it */
static void fake_tx_resume(struct port *p)
{
	static const uint8_t d[64];

	fx.tx_resumes++;
	while (fx.held > 0) {
		size_t n = port_app_tx(p, d, fx.held < sizeof(d) ? fx.held : sizeof(d));

		if (n == 0)
			break;
		fx.held -= n;
	}
}

static void fake_line_applied(struct port *p)
{
	fx.lines_applied++;
}

static size_t fake_discard(struct port *p)
{
	size_t n = fx.held;

	fx.discards++;
	fx.held = 0;
	return n;
}

static const struct backend_ops fake_backend = {
	.name = "fake", .open = fake_open, .close = fake_close, .rx = fake_rx,
	.modem = fake_modem, .line_event = fake_line_event, .link = fake_link,
	.drained = fake_drained, .tx_resume = fake_tx_resume, .discard = fake_discard,
	.line_applied = fake_line_applied,
};

static void log_catch(int level, const char *tty, const char *peer, const char *msg)
{
	if (!strstr(msg, "dropped"))
		return;
	fx.dropped_lines++;
	snprintf(fx.dropped_line, sizeof(fx.dropped_line), "%s", msg);
}

/* --- fixtures --- */

static struct realcom_config rcfg;	/* only for d.cfg */
static struct daemon daemon_ = { .backend = &fake_backend, .cfg = &rcfg };

/* What realcom.conf's defaults make of "[ttyR0] host = HOST" (realcomd/config.c). */
static struct port_config cfg_default(void)
{
	struct port_config c;

	memset(&c, 0, sizeof(c));	/* padding too: port_config_change compares it */
	c.used = true;
	c.index = 0;
	snprintf(c.host, sizeof(c.host), "%s", HOST);
	c.dev_port = 1;
	c.protocol = PROTO_REALCOM;
	c.data_port = 950;
	c.command_port = 966;
	c.tcp_port = 4001;
	c.tls = PORT_TLS_OFF;
	c.tls_verify = true;
	c.connect = CONNECT_ON_OPEN;
	c.keepalive = 10;
	c.backup_data_port = 950;
	c.backup_command_port = 966;
	c.backup_tcp_port = 4001;
	return c;
}

static int setup(void **state)
{
	memset(&fx, 0, sizeof(fx));
	fx.now = 1000000;	/* the monotonic clock is far from 0 */
	memset(daemon_.ports, 0, sizeof(daemon_.ports));
	log_init("test_port", true, LOG_INFO);
	log_set_writer(log_catch);
	return 0;
}

static struct port *new_port(const struct port_config *c)
{
	struct port *p = port_new(&daemon_, c);

	assert_non_null(p);
	daemon_.ports[c->index] = p;
	return p;
}

static void free_port(struct port *p)
{
	daemon_.ports[p->cfg.index] = NULL;
	port_free(p);
	/* every driver state made was freed: inits == frees */
	assert_int_equal(fx.proto[0].init + fx.proto[1].init, fx.proto[0].free + fx.proto[1].free);
	assert_int_equal(fx.opens, fx.closes);
}

/* Open by an application and connected: the driver's part played through. */
static struct port *port_up(const struct port_config *c)
{
	struct port *p = new_port(c);

	port_app_open(p);
	port_proto_connected(p);
	port_proto_up(p);
	assert_int_equal(p->state, PORT_UP);
	return p;
}

/* The attempt a close left under way fails: nobody wants another. */
static void fail_attempt_closed(struct port *p)
{
	assert_int_equal(p->state, PORT_CONNECTING);
	port_proto_down(p, -ECONNREFUSED, "Connection refused");
	assert_int_equal(p->state, PORT_IDLE);
	assert_false(p->retry.armed);
}

/* The attempt under way fails: the delay until the next one. */
static uint64_t fail_attempt(struct port *p)
{
	assert_true(p->state == PORT_CONNECTING || p->state == PORT_UP);
	port_proto_down(p, -ECONNREFUSED, "Connection refused");
	assert_int_equal(p->state, PORT_BACKOFF);
	assert_int_equal(p->next_try_ms, fx.now + armed_ms(&p->retry));
	return armed_ms(&p->retry);
}

/* Nothing happens before the delay is over; the next attempt at its end. */
static void wait_next_attempt(struct port *p, uint64_t delay)
{
	unsigned int starts = fx.proto[0].start;

	advance(delay - 1);
	assert_int_equal(p->state, PORT_BACKOFF);
	assert_int_equal(fx.proto[0].start, starts);
	advance(1);
	assert_int_equal(p->state, PORT_CONNECTING);
	assert_int_equal(fx.proto[0].start, starts + 1);
}

/* --- open: idle -> connecting -> init -> up --- */

static void test_open_connects(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = new_port(&c);
	uint8_t byte = 'x';

	assert_int_equal(p->state, PORT_IDLE);
	assert_string_equal(p->name, "ttyR0");
	assert_int_equal(fx.opens, 1);
	assert_int_equal(fx.proto[0].init, 1);
	assert_int_equal(fx.resolves, 0);	/* on-open: nothing before the open */

	fx.resolve_pending = true;
	port_app_open(p);
	assert_int_equal(p->state, PORT_CONNECTING);
	assert_int_equal(fx.resolves, 1);
	assert_string_equal(fx.resolve_host, HOST);
	/* lookup, connect, TLS and set-up together get keepalive seconds */
	assert_int_equal(armed_ms(&p->retry), 10000);
	assert_int_equal(fx.proto[0].start, 0);
	assert_int_equal(port_app_tx(p, &byte, 1), 0);	/* waits in the tty */
	assert_int_equal(port_app_tx_room(p), 0);
	assert_int_equal(fx.proto[0].tx, 0);

	resolve_finish(0);
	assert_int_equal(fx.proto[0].start, 1);
	assert_string_equal(fx.start_host, HOST);
	assert_int_equal(p->state, PORT_CONNECTING);

	advance(5000);
	port_proto_connected(p);
	assert_int_equal(p->state, PORT_INIT);
	assert_int_equal(fx.links_up, 0);

	port_proto_up(p);
	assert_int_equal(p->state, PORT_UP);
	assert_false(p->retry.armed);		/* the connect deadline is off */
	assert_int_equal(fx.links_up, 1);
	assert_int_equal(fx.tx_resumes, 1);	/* what the tty held may go now */
	assert_int_equal(p->stats.connects, 1);
	assert_int_equal(p->stats.reconnects, 0);
	assert_int_equal(p->up_since_ms, fx.now);
	assert_int_equal(port_app_tx(p, &byte, 1), 1);
	assert_int_equal(p->stats.tx_bytes, 1);

	/* keep-alive every keepalive/4 s while up, and only then */
	assert_int_equal(armed_ms(&p->alive), 2500);
	advance(10000);
	assert_int_equal(fx.proto[0].keepalive, 4);
	/* the old connect deadline would have fired by now: it did not */
	assert_int_equal(p->state, PORT_UP);
	free_port(p);
}

static void test_connect_deadline(void **state)
{
	struct port_config c = cfg_default();
	struct port *p;

	c.keepalive = 1;	/* the attempt's deadline: lookup to line set-up */
	p = new_port(&c);
	port_app_open(p);
	assert_int_equal(fx.proto[0].start, 1);
	port_proto_connected(p);
	advance(999);
	assert_int_equal(p->state, PORT_INIT);
	advance(1);
	assert_int_equal(p->state, PORT_BACKOFF);
	assert_string_equal(p->last_error, "no answer in time");
	assert_int_equal(fx.proto[0].stop, 1);
	assert_int_equal(fx.links_down, 0);	/* it never was up */
	free_port(p);
}

static void test_lookup_failure_backs_off(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = new_port(&c);

	fx.resolve_pending = true;
	port_app_open(p);
	resolve_finish(-ENOENT);
	assert_int_equal(p->state, PORT_BACKOFF);
	assert_int_equal(fx.proto[0].start, 0);
	assert_non_null(strstr(p->last_error, HOST));
	assert_int_equal(armed_ms(&p->retry), 100);
	/* a close while the lookup runs: the attempt decides what becomes
	 * of the open's bytes ("echo x > ttyR0"), within its deadline */
	advance(100);
	assert_int_equal(p->state, PORT_CONNECTING);
	fx.held = 2;
	port_app_close(p);
	assert_int_equal(fx.resolve_cancels, 0);
	assert_int_equal(p->state, PORT_CONNECTING);
	assert_int_equal(fx.discards, 0);
	resolve_finish(-ENOENT);	/* failed: dropped, and no retry */
	assert_int_equal(p->state, PORT_IDLE);
	assert_int_equal(p->stats.stale_dropped, 2);
	assert_false(p->retry.armed);
	free_port(p);
}

/* --- down: back-off --- */

static void test_backoff_grows_to_cap(void **state)
{
	static const uint64_t want[] = { 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600,
					 30000, 30000, 30000 };
	struct port_config c = cfg_default();
	struct port *p = new_port(&c);

	port_app_open(p);
	for (unsigned int i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint64_t delay = fail_attempt(p);

		assert_int_equal(delay, want[i]);
		assert_int_equal(p->failures, i + 1);
		wait_next_attempt(p, delay);
	}
	assert_int_equal(fx.proto[0].stop, 12);
	assert_int_equal(p->stats.connects, 0);
	port_app_close(p);
	free_port(p);
}

static void test_backoff_jitter(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = new_port(&c);
	uint64_t backoff = 100;

	port_app_open(p);
	/* Jitter takes at most a fifth off, never more, and never waits longer:
	 * the most random() can make of it, and an arbitrary large value. */
	for (unsigned int i = 0; i < 12; i++) {
		uint64_t delay;

		fx.random_value = i % 2 ? 0x7fffffff : (long)(backoff / 5);
		delay = fail_attempt(p);
		if (i % 2 == 0)
			assert_int_equal(delay, backoff - backoff / 5);
		assert_in_range(delay, backoff - backoff / 5, backoff);
		wait_next_attempt(p, delay);
		backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
	}
	port_app_close(p);
	free_port(p);
}

/* A session that dies within STABLE_MS (5 s) does not reset the back-off. */
static void test_short_sessions_keep_backoff(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = port_up(&c);
	uint64_t delay = 100;

	for (unsigned int i = 0; i < 5; i++) {
		advance(4999);
		assert_int_equal(fail_attempt(p), delay);
		assert_int_equal(fx.links_down, i + 1);
		wait_next_attempt(p, delay);
		port_proto_connected(p);
		port_proto_up(p);
		delay *= 2;
	}
	assert_int_equal(p->stats.connects, 6);
	assert_int_equal(p->stats.reconnects, 5);
	port_app_close(p);
	free_port(p);
}

static void test_stable_session_resets_backoff(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = port_up(&c);

	advance(1000);
	assert_int_equal(fail_attempt(p), 100);
	wait_next_attempt(p, 100);
	assert_int_equal(fail_attempt(p), 200);
	wait_next_attempt(p, 200);
	assert_int_equal(fail_attempt(p), 400);
	wait_next_attempt(p, 400);
	port_proto_connected(p);
	port_proto_up(p);
	assert_int_equal(p->backoff_ms, 400);	/* being up alone resets nothing */
	advance(5000);
	assert_int_equal(fail_attempt(p), 100);
	assert_int_equal(p->failures, 1);
	port_app_close(p);
	free_port(p);
}

static void test_backup_path(void **state)
{
	struct port_config c = cfg_default();
	struct port *p;

	snprintf(c.backup_host, sizeof(c.backup_host), "%s", BACKUP);
	p = new_port(&c);
	port_app_open(p);
	assert_string_equal(fx.start_host, HOST);
	/* the other path at once, then both failed: back off, from the primary */
	assert_int_equal(fail_attempt(p), 100);
	wait_next_attempt(p, 100);
	assert_string_equal(fx.start_host, BACKUP);
	assert_string_equal(fx.resolve_host, BACKUP);
	assert_int_equal(fail_attempt(p), 100);
	wait_next_attempt(p, 100);
	assert_string_equal(fx.start_host, HOST);
	assert_int_equal(fail_attempt(p), 100);
	wait_next_attempt(p, 100);
	assert_string_equal(fx.start_host, BACKUP);
	assert_int_equal(fail_attempt(p), 200);
	wait_next_attempt(p, 200);
	assert_string_equal(fx.start_host, HOST);
	/* up on the backup; it dies: the primary at once; that fails too:
	 * both failed, and the next round starts with the primary again */
	assert_int_equal(fail_attempt(p), 100);
	wait_next_attempt(p, 100);
	assert_string_equal(fx.start_host, BACKUP);
	port_proto_connected(p);
	port_proto_up(p);
	assert_int_equal(fail_attempt(p), 100);
	wait_next_attempt(p, 100);
	assert_string_equal(fx.start_host, HOST);
	fail_attempt(p);
	wait_next_attempt(p, armed_ms(&p->retry));
	assert_string_equal(fx.start_host, HOST);
	port_app_close(p);
	fail_attempt_closed(p);
	/* a new open starts on the primary with no back-off left */
	port_app_open(p);
	assert_string_equal(fx.start_host, HOST);
	assert_int_equal(p->backoff_ms, 0);
	port_app_close(p);
	free_port(p);
}

/* --- data across sessions: stale bytes dropped at a close while down --- */

static void test_close_while_down_drops_stale(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = port_up(&c);
	unsigned int starts;

	advance(1000);
	fail_attempt(p);
	fx.held = 7;		/* written while the unit is unreachable */
	port_app_close(p);
	assert_int_equal(fx.discards, 1);
	assert_int_equal(p->stats.stale_dropped, 7);
	assert_int_equal(fx.dropped_lines, 1);
	assert_non_null(strstr(fx.dropped_line, "dropped 7 bytes"));
	assert_int_equal(p->state, PORT_IDLE);
	/* and no reconnect for a port nobody has open */
	starts = fx.proto[0].start;
	advance(60000);
	assert_int_equal(fx.proto[0].start, starts);
	assert_int_equal(p->state, PORT_IDLE);

	/* the next open's bytes wait for the link and go when it comes */
	port_app_open(p);
	fail_attempt(p);
	fx.held = 3;
	wait_next_attempt(p, 100);
	port_proto_connected(p);
	port_proto_up(p);
	assert_int_equal(fx.tx_resumes, 2);
	fx.held = 0;		/* the tty sent them */
	port_app_close(p);
	assert_int_equal(p->stats.stale_dropped, 7);
	assert_int_equal(fx.dropped_lines, 1);
	free_port(p);
}

static void test_close_while_up_drains(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = port_up(&c);

	fx.held = 5;		/* still in the tty at the close: the driver had no room */
	port_app_close(p);
	assert_int_equal(p->state, PORT_CLOSING);
	assert_int_equal(fx.proto[0].drain, 1);
	assert_int_equal(fx.proto[0].drain_ms, 3000);
	/* the drain covers what the session took; the rest is dropped when it
	 * ends, not at the close (a new open may have written already) */
	assert_int_equal(fx.discards, 0);
	/* the device does not drain: the close ends the session at 3 s anyway */
	advance(2999);
	assert_int_equal(p->state, PORT_CLOSING);
	advance(1);
	assert_int_equal(p->state, PORT_IDLE);
	assert_int_equal(fx.proto[0].stop, 1);
	assert_int_equal(fx.links_down, 1);
	assert_int_equal(p->stats.stale_dropped, 5);
	assert_int_equal(fx.dropped_lines, 1);

	assert_false(fx.stop_graceful);		/* what the socket holds goes too */

	/* drained in time: nothing to drop, the session ends as usual */
	port_app_open(p);
	port_proto_connected(p);
	port_proto_up(p);
	port_app_close(p);
	port_proto_drained(p, 0);
	assert_int_equal(p->state, PORT_IDLE);
	assert_true(fx.stop_graceful);
	assert_int_equal(p->stats.stale_dropped, 5);
	assert_int_equal(fx.dropped_lines, 1);
	free_port(p);
}

/* A session that ends (lost, or renewed) with bytes queued toward the unit,
 * in the driver or the socket: dropped, counted, logged; never sent later. */
static void test_session_end_drops_queued(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = port_up(&c);
	uint8_t d[3000] = { 0 };

	assert_int_equal(port_app_tx(p, d, sizeof(d)), sizeof(d));
	assert_int_equal(port_app_tx(p, d, sizeof(d)), sizeof(d));
	fx.stop_drops = 4096;
	port_proto_down(p, -ETIMEDOUT, "no answer from the device");
	assert_false(fx.stop_graceful);
	assert_int_equal(p->stats.stale_dropped, 4096);
	assert_int_equal(fx.dropped_lines, 1);
	assert_string_equal(fx.dropped_line, "dropped 4096 bytes the unit had not taken: no answer "
			    "from the device");
	free_port(p);
}

/* What the protocol could not send is counted as the application's bytes:
 * no more than the session took of them (RFC 2217's wire doubles IAC and
 * carries commands), none for a session that took none. */
static void test_dropped_no_more_than_written(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = port_up(&c);
	uint8_t d[100] = { 0 };

	fx.stop_drops = 4096;
	port_proto_down(p, -ETIMEDOUT, "no answer from the device");
	assert_int_equal(p->stats.stale_dropped, 0);
	assert_int_equal(fx.dropped_lines, 0);
	advance(1000);
	port_proto_connected(p);
	port_proto_up(p);
	assert_int_equal(port_app_tx(p, d, sizeof(d)), sizeof(d));
	port_proto_down(p, -ETIMEDOUT, "no answer from the device");
	assert_int_equal(p->stats.stale_dropped, 100);
	free_port(p);
}

/* A reopen right after a drained close: the next connection waits for the
 * last one to be gone (a unit that takes one client per port refuses it
 * meanwhile), and a close while it waits lets it decide. */
static void test_connect_waits_for_the_last_close(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = port_up(&c);

	fx.stop_lingers = true;
	port_app_close(p);
	port_proto_drained(p, 0);
	assert_int_equal(p->state, PORT_IDLE);
	assert_true(fx.stop_graceful);
	port_app_open(p);
	assert_int_equal(p->state, PORT_CONNECTING);
	assert_int_equal(fx.proto[0].start, 1);		/* not yet */
	port_app_close(p);
	assert_int_equal(p->state, PORT_CONNECTING);	/* it decides */
	port_proto_closed(p);
	assert_int_equal(fx.proto[0].start, 2);
	port_proto_connected(p);
	port_proto_up(p);
	assert_int_equal(p->state, PORT_CLOSING);	/* and the close's drain follows */
	port_proto_drained(p, 0);
	assert_int_equal(p->state, PORT_IDLE);
	/* stopping while it waits: no connection after */
	port_app_open(p);
	assert_int_equal(p->state, PORT_CONNECTING);
	port_shutdown(p);
	assert_int_equal(p->state, PORT_IDLE);
	port_proto_closed(p);
	port_proto_closed(p);
	assert_int_equal(fx.proto[0].start, 2);
	free_port(p);
}

static void test_reopen_while_closing(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = port_up(&c);

	port_app_close(p);
	assert_int_equal(p->state, PORT_CLOSING);
	port_app_open(p);
	assert_int_equal(p->state, PORT_UP);
	assert_false(p->retry.armed);		/* the close's deadline is off */
	assert_int_equal(fx.proto[0].set_line, 1);
	advance(10000);
	assert_int_equal(p->state, PORT_UP);
	assert_int_equal(fx.proto[0].stop, 0);
	port_app_close(p);
	free_port(p);
}

/* connect = always: the last close drains as on-open's does; the session
 * stays when the device took everything, and is made again when it did not,
 * so nothing of the open reaches the unit later. */
static void test_always_close_drains(void **state)
{
	struct port_config c = cfg_default();
	struct port *p;
	uint8_t d[4] = "data";

	c.connect = CONNECT_ALWAYS;
	p = port_up(&c);
	fx.held = 5;
	port_app_close(p);
	assert_int_equal(p->state, PORT_CLOSING);
	assert_int_equal(fx.proto[0].drain, 1);
	port_proto_drained(p, 0);
	assert_int_equal(p->state, PORT_UP);
	assert_false(p->retry.armed);
	assert_int_equal(fx.proto[0].stop, 0);
	assert_int_equal(fx.links_down, 0);
	/* the session stays, and takes what the tty held at the close */
	assert_int_equal(fx.held, 0);
	assert_int_equal(p->stats.stale_dropped, 0);

	/* the next open writes; the device takes nothing in the close's 3 s */
	port_app_open(p);
	assert_int_equal(port_app_tx(p, d, sizeof(d)), sizeof(d));
	fx.held = 7;
	port_app_close(p);
	advance(3000);
	assert_int_equal(fx.proto[0].stop, 1);
	assert_false(fx.stop_graceful);
	assert_int_equal(p->stats.stale_dropped, 7);
	assert_true(p->purge_unit);		/* what the unit holds of it, too */
	assert_int_equal(p->state, PORT_CONNECTING);
	assert_int_equal(fx.proto[0].start, 2);
	port_shutdown(p);
	free_port(p);
}

/* While a close's drain runs, the session takes what the tty still holds as
 * room comes (Real COM: the answer to a transmit flush made just before the
 * close); only what is left when it ends is dropped. */
static void test_close_drain_takes_the_rest(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = port_up(&c);

	fx.held = 9;
	fx.tx_full = true;		/* a flush's answer due */
	port_app_close(p);
	assert_int_equal(p->state, PORT_CLOSING);
	assert_int_equal(fx.held, 9);
	fx.tx_full = false;
	port_proto_tx_resume(p);
	assert_int_equal(fx.held, 0);
	port_proto_drained(p, 0);
	assert_int_equal(p->state, PORT_IDLE);
	assert_int_equal(p->stats.stale_dropped, 0);
	free_port(p);
}

/* "echo x > ttyR0": the close comes while connecting.  The attempt goes on
 * (within its deadline) and, up, sends what the open wrote and drains; a
 * close while backing off drops at once (the unit is unreachable). */
static void test_close_while_connecting(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = new_port(&c);

	port_app_open(p);
	fx.held = 6;
	port_app_close(p);
	assert_int_equal(p->state, PORT_CONNECTING);
	assert_int_equal(fx.proto[0].stop, 0);
	port_proto_connected(p);
	port_proto_up(p);
	assert_int_equal(fx.held, 0);		/* taken by the session */
	assert_int_equal(p->state, PORT_CLOSING);
	port_proto_drained(p, 0);
	assert_int_equal(p->state, PORT_IDLE);
	assert_true(fx.stop_graceful);
	assert_int_equal(p->stats.stale_dropped, 0);

	/* no answer within the attempt's deadline: dropped, no retry */
	port_app_open(p);
	fx.held = 4;
	port_app_close(p);
	advance(1000ULL * c.keepalive);
	assert_int_equal(p->state, PORT_IDLE);
	assert_int_equal(p->stats.stale_dropped, 4);
	assert_false(p->retry.armed);

	/* backing off: dropped at the close */
	port_app_open(p);
	fail_attempt(p);
	fx.held = 3;
	port_app_close(p);
	assert_int_equal(p->state, PORT_IDLE);
	assert_int_equal(p->stats.stale_dropped, 7);
	free_port(p);
}

/* A held break is sent on every connect; one let go of while the link was
 * down is ended by the next session (the unit may keep its line in break),
 * and after that a connect sends nothing about break. */
static void test_break_released_while_down(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = port_up(&c);

	port_app_break(p, 0);
	assert_int_equal(fx.proto[0].set_break, 1);
	assert_int_equal(fx.proto[0].break_ms, 0);
	wait_next_attempt(p, fail_attempt(p));
	port_proto_connected(p);
	port_proto_up(p);
	assert_int_equal(fx.proto[0].set_break, 2);	/* held: on again */
	assert_int_equal(fx.proto[0].break_ms, 0);
	wait_next_attempt(p, fail_attempt(p));
	port_app_break(p, UINT32_MAX);			/* let go of while down */
	assert_int_equal(fx.proto[0].set_break, 2);
	port_proto_connected(p);
	port_proto_up(p);
	assert_int_equal(fx.proto[0].set_break, 3);	/* ended */
	assert_int_equal(fx.proto[0].break_ms, UINT32_MAX);
	wait_next_attempt(p, fail_attempt(p));
	port_proto_connected(p);
	port_proto_up(p);
	assert_int_equal(fx.proto[0].set_break, 3);	/* nothing more */
	port_app_close(p);
	free_port(p);
}

/* A tcdrain the session runs when the link is lost is answered, as failed:
 * no answer would come from a driver whose session is gone. */
static void test_drain_link_lost(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = port_up(&c);

	port_app_drain(p, 0);
	assert_int_equal(fx.proto[0].drain, 1);
	assert_int_equal(fx.drained, 0);
	port_proto_down(p, -ECONNRESET, "connection: reset");
	assert_int_equal(fx.drained, 1);
	assert_int_equal(fx.drained_remaining, UINT32_MAX - 1);
	port_app_close(p);
	free_port(p);
}

static void test_drain_while_down(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = new_port(&c);

	port_app_open(p);
	fail_attempt(p);
	/* no link: a tcdrain waits for one, bounded, then fails */
	port_app_drain(p, 0);
	advance(2999);
	assert_int_equal(fx.drained, 0);
	advance(1);
	assert_int_equal(fx.drained, 1);
	assert_int_equal(fx.drained_remaining, UINT32_MAX - 1);
	/* the link comes first: the device drains */
	port_app_drain(p, 1000);
	advance(100);
	port_proto_connected(p);
	port_proto_up(p);
	assert_int_equal(fx.proto[0].drain, 1);
	advance(5000);
	assert_int_equal(fx.drained, 1);
	port_app_close(p);
	free_port(p);
}

/* --- reload: keepalive live, everything else a new session, same tty --- */

static void test_reconfigure_keepalive_live(void **state)
{
	struct port_config c = cfg_default(), n;
	struct port *p = port_up(&c);

	memcpy(&n, &c, sizeof(n));	/* padding too: port_config_change compares it */
	n.keepalive = 4;
	assert_int_equal(port_config_change(&c, &n), PORT_CHANGE_LIVE);
	assert_int_equal(port_reconfigure(p, &n, PORT_CHANGE_LIVE), 0);
	assert_int_equal(p->state, PORT_UP);
	assert_int_equal(fx.proto[0].stop, 0);
	assert_int_equal(fx.proto[0].init, 1);
	assert_int_equal(p->cfg.keepalive, 4);
	assert_int_equal(armed_ms(&p->alive), 1000);
	advance(4000);
	assert_int_equal(fx.proto[0].keepalive, 4);
	assert_int_equal(p->stats.connects, 1);
	port_app_close(p);
	free_port(p);
}

static void test_reconfigure_renews_session(void **state)
{
	struct port_config c = cfg_default(), n;
	struct serial_line line;
	struct port *p = port_up(&c);

	serial_line_default(&line);
	line.baud = 57600;
	port_app_line(p, &line);
	advance(1000);
	fail_attempt(p);
	wait_next_attempt(p, 100);
	fail_attempt(p);	/* back-off 200 now */
	memcpy(&n, &c, sizeof(n));	/* padding too: port_config_change compares it */
	snprintf(n.host, sizeof(n.host), "%s", HOST_NEW);
	n.protocol = PROTO_RFC2217;
	assert_int_equal(port_config_change(&c, &n), PORT_CHANGE_SESSION);
	assert_int_equal(port_reconfigure(p, &n, PORT_CHANGE_SESSION), 0);
	/* the new driver made before the old one stopped; the old one freed
	 * from the loop (it may be what called) */
	assert_int_equal(fx.proto[1].init, 1);
	assert_int_equal(fx.stop_at_init, 2);
	assert_int_equal(fx.proto[0].free, 0);
	advance(0);
	assert_int_equal(fx.proto[0].free, 1);
	/* at once, to the new host, the line state replayed, back-off fresh */
	assert_int_equal(p->state, PORT_CONNECTING);
	assert_int_equal(fx.proto[1].start, 1);
	assert_string_equal(fx.start_host, HOST_NEW);
	assert_int_equal(fx.start_line.baud, 57600);
	assert_int_equal(p->backoff_ms, 0);
	/* under the same tty, which heard of no carrier loss */
	assert_string_equal(p->name, "ttyR0");
	assert_int_equal(fx.opens, 1);
	assert_int_equal(fx.closes, 0);
	assert_int_equal(fx.links_down, 1);	/* the first session's end only */
	assert_true(p->app_open);
	port_proto_connected(p);
	port_proto_up(p);
	assert_int_equal(p->stats.reconnects, 1);
	port_app_close(p);
	free_port(p);
}

/* Up: the session first sends what it took (a close's drain), taking no
 * more from the tty; then it ends gracefully and the new one starts. */
static void test_reconfigure_up_renews(void **state)
{
	struct port_config c = cfg_default(), n;
	struct port *p = port_up(&c);
	uint8_t d[4] = "data";

	memcpy(&n, &c, sizeof(n));	/* padding too: port_config_change compares it */
	n.dev_port = 2;
	n.data_port = 951;
	n.command_port = 967;
	assert_int_equal(port_reconfigure(p, &n, PORT_CHANGE_SESSION), 0);
	assert_int_equal(p->state, PORT_UP);
	assert_int_equal(fx.proto[0].drain, 1);
	assert_int_equal(fx.proto[0].stop, 0);
	assert_int_equal(port_config_wanted(p)->data_port, 951);
	/* what the application writes now waits for the new session */
	assert_int_equal(port_app_tx(p, d, sizeof(d)), 0);
	assert_int_equal(port_app_tx_room(p), 0);
	port_proto_drained(p, 0);
	assert_int_equal(fx.proto[0].stop, 1);
	assert_true(fx.stop_graceful);
	/* not freed under the driver that answered: from the loop */
	assert_int_equal(fx.proto[0].free, 0);
	advance(0);
	assert_int_equal(fx.proto[0].free, 1);
	assert_false(p->purge_unit);
	assert_int_equal(fx.proto[0].init, 2);
	assert_int_equal(fx.proto[0].start, 2);
	assert_int_equal(p->state, PORT_CONNECTING);
	assert_int_equal(fx.links_down, 0);	/* no hang-up for the application */
	assert_int_equal(port_path(p).data_port, 951);
	assert_int_equal(p->stats.stale_dropped, 0);
	port_app_close(p);
	free_port(p);
}

/* The drain is bounded: at its deadline the session is reset, what it held
 * dropped and counted, and the unit purged by the next. */
static void test_reconfigure_up_drain_bounded(void **state)
{
	struct port_config c = cfg_default(), n;
	struct port *p = port_up(&c);

	p->stats.tx_bytes += 100;	/* the session sent data */
	memcpy(&n, &c, sizeof(n));
	snprintf(n.host, sizeof(n.host), "%s", HOST_NEW);
	assert_int_equal(port_reconfigure(p, &n, PORT_CHANGE_SESSION), 0);
	/* a second reload while the first waits: the newest settings win, no
	 * new deadline */
	n.data_port = 951;
	assert_int_equal(port_config_change(port_config_wanted(p), &n), PORT_CHANGE_SESSION);
	advance(2000);
	assert_int_equal(port_reconfigure(p, &n, PORT_CHANGE_SESSION), 0);
	assert_int_equal(fx.proto[0].free, 1);	/* the first reload's driver */
	assert_int_equal(fx.proto[0].drain, 1);
	fx.stop_drops = 7;
	advance(999);
	assert_int_equal(p->state, PORT_UP);
	advance(1);
	assert_false(fx.stop_graceful);
	assert_int_equal(p->stats.stale_dropped, 7);
	assert_true(p->purge_unit);
	assert_int_equal(p->state, PORT_CONNECTING);
	assert_string_equal(fx.start_host, HOST_NEW);
	assert_int_equal(port_path(p).data_port, 951);
	assert_int_equal(fx.links_down, 0);
	fx.stop_drops = 0;
	port_app_close(p);
	free_port(p);
}

/* The session dies while the drain runs: the new settings take over. */
static void test_reconfigure_up_session_dies(void **state)
{
	struct port_config c = cfg_default(), n;
	struct port *p = port_up(&c);

	memcpy(&n, &c, sizeof(n));
	snprintf(n.host, sizeof(n.host), "%s", HOST_NEW);
	assert_int_equal(port_reconfigure(p, &n, PORT_CHANGE_SESSION), 0);
	port_proto_down(p, -ECONNRESET, "reset by peer");
	assert_null(p->renewal);
	assert_string_equal(p->cfg.host, HOST_NEW);
	assert_int_equal(p->state, PORT_BACKOFF);
	wait_next_attempt(p, 100);
	assert_string_equal(fx.start_host, HOST_NEW);
	port_app_close(p);
	free_port(p);
}

static void test_reconfigure_failure_keeps_port(void **state)
{
	struct port_config c = cfg_default(), n;
	struct port *p = port_up(&c);

	memcpy(&n, &c, sizeof(n));	/* padding too: port_config_change compares it */
	n.protocol = PROTO_RFC2217;
	n.tls = PORT_TLS_ON;
	fx.init_result = -ENOENT;	/* e.g. a certificate file gone */
	assert_int_equal(port_reconfigure(p, &n, PORT_CHANGE_SESSION), -ENOENT);
	assert_int_equal(fx.proto[1].free, 1);	/* what its init made */
	assert_int_equal(p->state, PORT_UP);
	assert_ptr_equal(p->proto, &proto_realcom);
	assert_int_equal(p->cfg.protocol, PROTO_REALCOM);
	assert_int_equal(p->cfg.tls, PORT_TLS_OFF);
	assert_int_equal(fx.proto[0].stop, 0);
	assert_int_equal(p->stats.connects, 1);
	fx.init_result = 0;
	port_app_close(p);
	free_port(p);
}

static struct port_config cfg_new_host(const struct port_config *c)
{
	struct port_config n;

	memcpy(&n, c, sizeof(n));	/* padding too: port_config_change compares it */
	snprintf(n.host, sizeof(n.host), "%s", HOST_NEW);
	return n;
}

/* The application closes while the drain runs: what it wrote since the
 * reload belongs to its open, and goes with the running session's drain. */
static void test_reconfigure_close_during_drain(void **state)
{
	struct port_config c = cfg_default(), n = cfg_new_host(&c);
	struct port *p = port_up(&c);

	assert_int_equal(port_reconfigure(p, &n, PORT_CHANGE_SESSION), 0);
	fx.held = 25;			/* written after the reload: held */
	port_app_close(p);
	assert_int_equal(fx.held, 0);	/* taken by the running session */
	assert_int_equal(p->state, PORT_CLOSING);
	port_proto_drained(p, 0);
	assert_int_equal(p->state, PORT_IDLE);
	assert_int_equal(p->stats.stale_dropped, 0);
	assert_true(fx.stop_graceful);
	assert_string_equal(p->cfg.host, HOST_NEW);
	free_port(p);
}

/* ... and when the new settings say connect = always, the port connects. */
static void test_reconfigure_always_after_close(void **state)
{
	struct port_config c = cfg_default(), n = cfg_new_host(&c);
	struct port *p = port_up(&c);

	n.connect = CONNECT_ALWAYS;
	assert_int_equal(port_reconfigure(p, &n, PORT_CHANGE_SESSION), 0);
	port_app_close(p);
	port_proto_drained(p, 0);
	assert_int_equal(p->state, PORT_CONNECTING);
	assert_string_equal(fx.start_host, HOST_NEW);
	port_shutdown(p);
	free_port(p);
}

/* From connect = always to on-open, closed during the drain: the open's
 * data goes with that session or is dropped, never to the next open's. */
static void test_reconfigure_always_to_on_open(void **state)
{
	struct port_config c = cfg_default(), n;
	struct port *p;

	c.connect = CONNECT_ALWAYS;
	p = port_up(&c);
	n = cfg_new_host(&c);
	n.connect = CONNECT_ON_OPEN;
	assert_int_equal(port_reconfigure(p, &n, PORT_CHANGE_SESSION), 0);
	fx.proto[0].tx = 0;
	fx.held = 13;
	port_app_close(p);		/* the old settings keep the link */
	assert_int_equal(fx.held, 0);
	assert_true(fx.proto[0].tx > 0);
	port_proto_drained(p, 0);
	assert_int_equal(p->state, PORT_IDLE);
	assert_int_equal(fx.links_down, 1);
	free_port(p);
}

/* Reopened while the drain runs (connect = always kept the session): what
 * the new open writes waits for the new session again. */
static void test_reconfigure_reopen_during_drain(void **state)
{
	struct port_config c = cfg_default(), n;
	struct port *p;
	uint8_t d[4] = "data";

	c.connect = CONNECT_ALWAYS;
	p = port_up(&c);
	n = cfg_new_host(&c);
	assert_int_equal(port_reconfigure(p, &n, PORT_CHANGE_SESSION), 0);
	fx.held = 10;		/* written while the new settings wait */
	port_app_close(p);
	assert_int_equal(fx.held, 0);		/* the old session took the rest */
	assert_int_equal(p->state, PORT_CLOSING);
	port_app_open(p);
	assert_int_equal(p->state, PORT_UP);
	assert_int_equal(port_app_tx(p, d, sizeof(d)), 0);
	port_proto_drained(p, 0);
	assert_int_equal(p->state, PORT_CONNECTING);
	assert_string_equal(fx.start_host, HOST_NEW);
	port_shutdown(p);
	free_port(p);
}

/* A session that never came up sent nothing: no purge for the next. */
static void test_reconfigure_refused_attempt_purges_nothing(void **state)
{
	struct port_config c = cfg_default(), n = cfg_new_host(&c);
	struct port *p = port_up(&c);

	p->stats.tx_bytes += 1000;
	assert_int_equal(port_reconfigure(p, &n, PORT_CHANGE_SESSION), 0);
	port_proto_drained(p, 0);	/* all out: graceful */
	assert_false(p->purge_unit);
	port_proto_down(p, -ECONNREFUSED, "Connection refused");
	assert_false(p->purge_unit);
	port_app_close(p);
	free_port(p);
}

/* Back to the running settings while the drain runs: nothing renewed, the
 * tty's data flows again. */
static void test_reconfigure_back_cancels(void **state)
{
	struct port_config c = cfg_default(), n = cfg_new_host(&c), k;
	struct port *p = port_up(&c);

	assert_int_equal(port_reconfigure(p, &n, PORT_CHANGE_SESSION), 0);
	fx.held = 9;
	memcpy(&k, &c, sizeof(k));
	k.keepalive = 5;		/* the old settings, but for the pace */
	assert_int_equal(port_config_change(port_config_wanted(p), &k), PORT_CHANGE_SESSION);
	assert_int_equal(port_reconfigure(p, &k, PORT_CHANGE_SESSION), 0);
	assert_null(p->renewal);
	assert_int_equal(fx.held, 0);
	assert_false(p->retry.armed);
	assert_int_equal(p->cfg.keepalive, 5);
	port_proto_drained(p, 0);	/* the drain asked for answers: nothing more */
	advance(5000);
	assert_int_equal(p->state, PORT_UP);
	assert_int_equal(fx.proto[0].stop, 0);
	port_app_close(p);
	free_port(p);
}

/* Stopping: a reload renews nothing into a new connection. */
static void test_reconfigure_while_stopping(void **state)
{
	struct port_config c = cfg_default(), n;
	struct port *p;

	c.connect = CONNECT_ALWAYS;
	p = port_up(&c);
	port_shutdown(p);
	port_proto_drained(p, 0);
	assert_int_equal(p->state, PORT_IDLE);
	assert_int_equal(port_config_change(port_config_wanted(p), &c), PORT_CHANGE_NONE);
	n = cfg_new_host(&c);
	assert_int_equal(port_reconfigure(p, &n, PORT_CHANGE_SESSION), 0);
	assert_int_equal(p->state, PORT_IDLE);
	assert_int_equal(fx.proto[0].start, 1);
	free_port(p);
}

/* Closing, with no application left: renewed settings leave it down, as
 * the close would have. */
static void test_reconfigure_while_closing(void **state)
{
	struct port_config c = cfg_default(), n;
	struct port *p = port_up(&c);

	port_app_close(p);
	assert_int_equal(p->state, PORT_CLOSING);
	memcpy(&n, &c, sizeof(n));
	snprintf(n.host, sizeof(n.host), "%s", HOST_NEW);
	assert_int_equal(port_reconfigure(p, &n, PORT_CHANGE_SESSION), 0);
	/* taken when the close's drain ends */
	assert_int_equal(p->state, PORT_CLOSING);
	assert_int_equal(fx.proto[0].stop, 0);
	port_proto_drained(p, 0);
	assert_int_equal(p->state, PORT_IDLE);
	assert_int_equal(fx.links_down, 1);
	assert_int_equal(fx.proto[0].stop, 1);
	assert_false(p->retry.armed);
	assert_string_equal(p->peer, HOST_NEW);
	free_port(p);
}

static void test_reconfigure_idle_stays_idle(void **state)
{
	struct port_config c = cfg_default(), n;
	struct port *p = new_port(&c);

	memcpy(&n, &c, sizeof(n));	/* padding too: port_config_change compares it */
	snprintf(n.host, sizeof(n.host), "%s", HOST_NEW);
	assert_int_equal(port_reconfigure(p, &n, PORT_CHANGE_SESSION), 0);
	assert_int_equal(p->state, PORT_IDLE);
	assert_int_equal(fx.resolves, 0);
	port_app_open(p);
	assert_string_equal(fx.start_host, HOST_NEW);
	/* connect = always: the renewed session connects with nobody open */
	port_app_close(p);
	n.connect = CONNECT_ALWAYS;
	assert_int_equal(port_reconfigure(p, &n, PORT_CHANGE_SESSION), 0);
	assert_int_equal(p->state, PORT_CONNECTING);
	port_shutdown(p);
	assert_int_equal(p->state, PORT_IDLE);
	free_port(p);
}

/* --- what the device did with the line, and XON/XOFF ahead of data --- */

static void test_line_applied(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = port_up(&c);
	struct serial_line in_effect;

	p->line = (struct serial_line){ .baud = 4800, .data_bits = 8, .stop_bits = SERIAL_STOP_1,
				       .modem = SERIAL_MODEM_DTR };
	in_effect = p->line;
	in_effect.baud = 9600;
	in_effect.modem = 0;		/* the answer says nothing of DTR/RTS */
	port_proto_line_applied(p, &in_effect);
	assert_int_equal(fx.lines_applied, 1);
	assert_int_equal(p->line.baud, 9600);
	assert_int_equal(p->line.modem, SERIAL_MODEM_DTR);
	/* the same answer again changes nothing: the tty is not told twice */
	port_proto_line_applied(p, &in_effect);
	assert_int_equal(fx.lines_applied, 1);
	/* nor is an answer that is no line at all */
	in_effect.data_bits = 3;
	port_proto_line_applied(p, &in_effect);
	assert_int_equal(fx.lines_applied, 1);
	assert_int_equal(p->line.data_bits, 8);
	port_shutdown(p);
	free_port(p);
}

static void test_xchar_only_while_up(void **state)
{
	struct port_config c = cfg_default();
	struct port *p = port_up(&c);

	port_app_xchar(p, 0x13);
	assert_int_equal(fx.proto[0].xchar, 1);
	assert_int_equal(fx.proto[0].xchar_last, 0x13);
	fail_attempt(p);
	port_app_xchar(p, 0x11);	/* no link: nothing to send it on */
	assert_int_equal(fx.proto[0].xchar, 1);
	port_shutdown(p);
	free_port(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_open_connects, setup),
		cmocka_unit_test_setup(test_connect_deadline, setup),
		cmocka_unit_test_setup(test_lookup_failure_backs_off, setup),
		cmocka_unit_test_setup(test_backoff_grows_to_cap, setup),
		cmocka_unit_test_setup(test_backoff_jitter, setup),
		cmocka_unit_test_setup(test_short_sessions_keep_backoff, setup),
		cmocka_unit_test_setup(test_stable_session_resets_backoff, setup),
		cmocka_unit_test_setup(test_backup_path, setup),
		cmocka_unit_test_setup(test_close_while_down_drops_stale, setup),
		cmocka_unit_test_setup(test_close_while_up_drains, setup),
		cmocka_unit_test_setup(test_session_end_drops_queued, setup),
		cmocka_unit_test_setup(test_dropped_no_more_than_written, setup),
		cmocka_unit_test_setup(test_connect_waits_for_the_last_close, setup),
		cmocka_unit_test_setup(test_reopen_while_closing, setup),
		cmocka_unit_test_setup(test_always_close_drains, setup),
		cmocka_unit_test_setup(test_close_while_connecting, setup),
		cmocka_unit_test_setup(test_close_drain_takes_the_rest, setup),
		cmocka_unit_test_setup(test_drain_while_down, setup),
		cmocka_unit_test_setup(test_drain_link_lost, setup),
		cmocka_unit_test_setup(test_break_released_while_down, setup),
		cmocka_unit_test_setup(test_reconfigure_keepalive_live, setup),
		cmocka_unit_test_setup(test_reconfigure_renews_session, setup),
		cmocka_unit_test_setup(test_reconfigure_up_renews, setup),
		cmocka_unit_test_setup(test_reconfigure_up_drain_bounded, setup),
		cmocka_unit_test_setup(test_reconfigure_up_session_dies, setup),
		cmocka_unit_test_setup(test_reconfigure_close_during_drain, setup),
		cmocka_unit_test_setup(test_reconfigure_always_after_close, setup),
		cmocka_unit_test_setup(test_reconfigure_always_to_on_open, setup),
		cmocka_unit_test_setup(test_reconfigure_reopen_during_drain, setup),
		cmocka_unit_test_setup(test_reconfigure_refused_attempt_purges_nothing, setup),
		cmocka_unit_test_setup(test_reconfigure_back_cancels, setup),
		cmocka_unit_test_setup(test_reconfigure_while_stopping, setup),
		cmocka_unit_test_setup(test_reconfigure_failure_keeps_port, setup),
		cmocka_unit_test_setup(test_reconfigure_while_closing, setup),
		cmocka_unit_test_setup(test_reconfigure_idle_stays_idle, setup),
		cmocka_unit_test_setup(test_line_applied, setup),
		cmocka_unit_test_setup(test_xchar_only_while_up, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
