// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for loop-driven connections (common/conn.c): connect, data both
 * ways, back-pressure, peer close, refusal, and the same over TLS with
 * certificates from tests/lib/mkcerts.sh ($MKCERTS).  Loopback only; alarm()
 * bounds every test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "sock.h"
#include "testcerts.h"

struct side {
	struct conn c;
	int ready, closed, drained, close_err;
	size_t want;		/* exit the loop once this many bytes arrived */
	uint8_t got[200000];
	size_t got_len;
	bool consume;
};

struct pair {
	struct loop *loop;
	struct side a, b;	/* a connects, b is accepted */
	int listen_fd;
	struct loop_watch lw;
	SSL_CTX *sctx;
};

static void on_ready(struct conn *c)
{
	struct side *s = c->arg;

	s->ready++;
	loop_exit(c->loop, 0);
}

static void on_input(struct conn *c)
{
	struct side *s = c->arg;
	size_t n = buf_len(&c->in);

	if (!s->consume)
		return;
	if (n > sizeof(s->got) - s->got_len)
		n = sizeof(s->got) - s->got_len;
	memcpy(s->got + s->got_len, buf_head(&c->in), n);
	s->got_len += n;
	buf_consume(&c->in, n);
	if (s->want && s->got_len >= s->want)
		loop_exit(c->loop, 0);
}

static void on_drained(struct conn *c)
{
	((struct side *)c->arg)->drained++;
}

static void on_closed(struct conn *c, int err)
{
	struct side *s = c->arg;

	s->closed++;
	s->close_err = err;
	loop_exit(c->loop, 0);
}

static const struct conn_ops ops = { on_ready, on_input, on_drained, on_closed };

static void on_accept(struct loop_watch *w, uint32_t events)
{
	struct pair *p = w->arg;
	char err[TLS_ERR_MAX];
	int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	SSL *ssl = NULL;

	assert_true(fd >= 0);
	if (p->sctx)
		assert_non_null(ssl = tls_session_new(p->sctx, fd, NULL, err));
	assert_int_equal(conn_start(&p->b.c, fd, false, ssl), 0);
	if (!ssl)
		p->b.ready++;
}

static void run(struct pair *p)
{
	assert_int_equal(loop_run(p->loop), 0);
}

static void pair_open(struct pair *p, bool tls)
{
	struct sock_addr a;
	char err[TLS_ERR_MAX];
	SSL *ssl = NULL;
	SSL_CTX *cctx = NULL;
	int fd;

	memset(p, 0, sizeof(*p));
	p->loop = loop_new();
	assert_int_equal(conn_init(&p->a.c, p->loop, &ops, &p->a, 4096, 4096), 0);
	assert_int_equal(conn_init(&p->b.c, p->loop, &ops, &p->b, 4096, 65536), 0);
	p->a.consume = p->b.consume = true;
	p->listen_fd = sock_listen("127.0.0.1", 0, 4);
	assert_true(p->listen_fd >= 0);
	assert_int_equal(loop_watch_add(p->loop, &p->lw, p->listen_fd, EPOLLIN, on_accept, p), 0);
	if (tls) {
		struct tls_config cc = { .verify = true, .ca_file = testcerts_path("ca.pem") };
		struct tls_config sc = { .server = true, .cert_file = testcerts_path("server.pem"),
					 .key_file = testcerts_path("server.key") };
		assert_non_null(cctx = tls_ctx_new(&cc, err));
		assert_non_null(p->sctx = tls_ctx_new(&sc, err));
	}
	assert_int_equal(sock_resolve("127.0.0.1", sock_local_port(p->listen_fd), &a, NULL), 0);
	fd = sock_connect(&a);
	assert_true(fd >= 0);
	if (tls)
		assert_non_null(ssl = tls_session_new(cctx, fd, "localhost", err));
	SSL_CTX_free(cctx);	/* the session keeps its own reference */
	assert_int_equal(conn_start(&p->a.c, fd, true, ssl), 0);
	for (int i = 0; i < 10 && (!p->a.ready || !p->b.ready); i++)
		run(p);
	assert_int_equal(p->a.ready, 1);
	assert_int_equal(p->b.ready, 1);
	assert_true(conn_is_open(&p->a.c));
}

static void pair_close(struct pair *p)
{
	conn_free(&p->a.c);
	conn_free(&p->b.c);
	loop_watch_del(&p->lw);
	close(p->listen_fd);
	SSL_CTX_free(p->sctx);
	loop_free(p->loop);
}

static void exchange(bool tls)
{
	struct pair p;
	static uint8_t big[65536];

	alarm(20);
	pair_open(&p, tls);
	/* small message a -> b */
	p.b.want = 5;
	assert_int_equal(conn_send(&p.a.c, "hello", 5), 0);
	run(&p);
	assert_memory_equal(p.b.got, "hello", 5);
	/* every byte value, b -> a, more than a's input buffer holds at once */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + i / 256);
	p.a.want = 60000;
	assert_int_equal(conn_send(&p.b.c, big, 60000), 0);
	size_t queued = buf_len(&p.b.c.out);
	assert_int_equal(conn_send(&p.b.c, big, 65536 - queued + 1), -ENOBUFS);
	assert_int_equal(buf_len(&p.b.c.out), queued);	/* no room: nothing queued */
	for (int i = 0; i < 1000 && p.a.got_len < 60000; i++)
		run(&p);
	assert_int_equal(p.a.got_len, 60000);
	assert_memory_equal(p.a.got, big, 60000);
	assert_true(p.a.c.bytes_in == 60000 && p.b.c.bytes_out == 60000);
	assert_true(p.b.drained >= 1 || buf_len(&p.b.c.out) == 0);
	/* back-pressure: a paused reader takes nothing; resumed, everything */
	p.a.got_len = 0;
	conn_pause(&p.a.c, true);
	assert_int_equal(conn_send(&p.b.c, big, 1000), 0);
	p.a.want = 1000;
	conn_pause(&p.a.c, false);
	for (int i = 0; i < 100 && p.a.got_len < 1000; i++)
		run(&p);
	assert_int_equal(p.a.got_len, 1000);
	/* peer closes: the other side hears err 0 */
	conn_close(&p.b.c);
	run(&p);
	assert_int_equal(p.a.closed, 1);
	assert_int_equal(p.a.close_err, 0);
	assert_false(conn_is_open(&p.a.c));
	assert_int_equal(conn_send(&p.a.c, "x", 1), -ENOTCONN);
	pair_close(&p);
	alarm(0);
}

static void test_plain(void **state)
{
	exchange(false);
}

static void test_tls(void **state)
{
	exchange(true);
}

static void test_refused(void **state)
{
	struct loop *l = loop_new();
	struct side s = { 0 };
	struct sock_addr a;
	int lfd = sock_listen("127.0.0.1", 0, 1), fd;

	alarm(10);
	assert_int_equal(sock_resolve("127.0.0.1", sock_local_port(lfd), &a, NULL), 0);
	close(lfd);
	assert_int_equal(conn_init(&s.c, l, &ops, &s, 64, 64), 0);
	fd = sock_connect(&a);
	assert_true(fd >= 0);
	assert_int_equal(conn_start(&s.c, fd, true, NULL), 0);
	assert_int_equal(conn_send(&s.c, "queued", 6), 0);	/* sent once connected */
	run(&(struct pair){ .loop = l });
	assert_int_equal(s.closed, 1);
	assert_int_equal(s.close_err, -ECONNREFUSED);
	assert_string_equal(s.c.err, "Connection refused");
	conn_free(&s.c);
	loop_free(l);
	alarm(0);
}

/* XON/XOFF ahead of queued output (conn_send_ahead): in front of the data,
 * in the order sent, never inside what a TLS write holds. */
static void test_send_ahead(void **state)
{
	struct loop *l = loop_new();
	struct side s = { 0 };
	struct sock_addr a;
	int lfd = sock_listen("127.0.0.1", 0, 1), fd;
	struct conn *c = &s.c;

	alarm(10);
	assert_int_equal(sock_resolve("127.0.0.1", sock_local_port(lfd), &a, NULL), 0);
	assert_int_equal(conn_init(c, l, &ops, &s, 64, 64), 0);
	fd = sock_connect(&a);
	assert_true(fd >= 0);
	assert_int_equal(conn_start(c, fd, true, NULL), 0);	/* connecting: all stays queued */
	assert_int_equal(conn_send(c, "abc", 3), 0);
	assert_int_equal(conn_send_ahead(c, "X", 1, 0), 0);
	assert_int_equal(conn_send(c, "def", 3), 0);
	assert_int_equal(conn_send_ahead(c, "Y", 1, 0), 0);	/* behind X, not before it */
	assert_int_equal(buf_len(&c->out), 8);
	assert_memory_equal(buf_head(&c->out), "XYabcdef", 8);
	assert_int_equal(conn_send_ahead(c, "Z", 1, 9), -EINVAL);
	/* a TLS record made of the first 4 bytes stays as it is */
	c->tls_held = 4;
	assert_int_equal(conn_send_ahead(c, "Z", 1, 3), -EINVAL);
	assert_int_equal(conn_send_ahead(c, "Z", 1, 4), 0);
	assert_memory_equal(buf_head(&c->out), "XYabZcdef", 9);
	/* no room: nothing queued */
	assert_int_equal(conn_send(c, (char[55]){ 0 }, 55), 0);
	assert_int_equal(conn_send_ahead(c, "W", 1, 4), -ENOBUFS);
	assert_int_equal(buf_len(&c->out), 64);
	conn_free(c);
	close(lfd);
	loop_free(l);
	alarm(0);
}

/* Records OpenSSL made while the socket was full wait in front of it
 * (tls_session_new()) and go out when it has room, with nothing more sent;
 * more than that buffer holds waits in the connection's own, in order. */
static void test_tls_socket_full(void **state)
{
	struct pair p;
	static uint8_t big[180000];
	size_t sent = 0;
	int small = 4096;
	BIO *out;

	alarm(20);
	pair_open(&p, true);
	out = SSL_get_wbio(p.a.c.ssl);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13 + i / 256);
	assert_int_equal(setsockopt(p.a.c.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	assert_int_equal(setsockopt(p.b.c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	conn_pause(&p.b.c, true);
	while (sent < sizeof(big) && BIO_wpending(out) == 0) {
		assert_int_equal(conn_send(&p.a.c, big + sent, 1000), 0);
		sent += 1000;
	}
	assert_true(BIO_wpending(out) > 0);	/* the socket took no more */
	assert_int_equal(buf_len(&p.a.c.out), 0);
	/* that buffer full too: OpenSSL waits, the rest is queued */
	while (sent + 1000 <= sizeof(big) && conn_send(&p.a.c, big + sent, 1000) == 0)
		sent += 1000;
	assert_true(buf_len(&p.a.c.out) > 0);
	assert_true(sent < sizeof(big));	/* it stopped on a full queue */
	p.b.want = sent;
	conn_pause(&p.b.c, false);
	for (int i = 0; i < 1000 && p.b.got_len < sent; i++)
		run(&p);
	assert_int_equal(p.b.got_len, sent);
	assert_memory_equal(p.b.got, big, sent);
	assert_int_equal(BIO_wpending(out), 0);
	pair_close(&p);
	alarm(0);
}

static void test_unread(void **state)
{
	struct pair p;

	alarm(10);
	pair_open(&p, false);
	conn_pause(&p.b.c, true);
	assert_int_equal(conn_send(&p.a.c, "12345", 5), 0);
	/* wait (bounded) until the kernel shows the bytes on b's socket */
	struct pollfd pfd = { .fd = p.b.c.fd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(conn_unread(&p.b.c), 5);
	pair_close(&p);
	alarm(0);
}

static int finished;

static void on_finished(void *loop)
{
	finished++;
	loop_exit(loop, 0);
}

/* Ending with the peer's bytes unread: conn_close() resets (the peer may
 * drop what it had received), conn_finish() ends with a FIN behind our last
 * bytes, and the socket stays until the peer closes too: then its done is
 * called. */
static void finish(bool graceful)
{
	struct pair p;

	alarm(10);
	pair_open(&p, false);
	conn_pause(&p.a.c, true);
	assert_int_equal(conn_send(&p.b.c, "an answer", 9), 0);
	struct pollfd pfd = { .fd = p.a.c.fd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 5000), 1);	/* unread on a's socket */
	assert_int_equal(conn_send(&p.a.c, "last words", 10), 0);
	if (graceful)
		conn_finish(&p.a.c, on_finished, p.loop);
	else
		conn_close(&p.a.c);
	assert_false(conn_is_open(&p.a.c));
	p.b.want = 10;
	for (int i = 0; i < 100 && !p.b.closed; i++)
		run(&p);
	assert_int_equal(p.b.closed, 1);
	if (graceful) {
		assert_int_equal(p.b.got_len, 10);
		assert_memory_equal(p.b.got, "last words", 10);
		assert_int_equal(p.b.close_err, 0);
		finished = 0;
		run(&p);	/* b's close ends what a kept */
		assert_int_equal(finished, 1);
	} else {
		assert_int_equal(p.b.close_err, -ECONNRESET);
	}
	conn_finish_all();	/* before the loop goes */
	pair_close(&p);
	alarm(0);
}

/* conn_abort() counts what it drops in bytes given to conn_send(): TLS made
 * a record of each byte sent alone, some 23 bytes on the wire. */
static void test_abort_counts_bytes_given(void **state)
{
	struct pair p;
	size_t given = 0, dropped;

	alarm(20);
	pair_open(&p, true);
	conn_pause(&p.b.c, true);	/* b reads nothing: its socket fills, then a's */
	for (int i = 0; i < 1000000 && conn_send(&p.a.c, "x", 1) == 0; i++)
		given++;
	assert_true(given < 1000000);	/* it backed up */
	dropped = conn_abort(&p.a.c);
	assert_true(dropped > 0);
	assert_true(dropped <= given);
	pair_close(&p);
	alarm(0);
}

static void test_finish(void **state)
{
	finish(true);
}

static void test_close_resets(void **state)
{
	finish(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_tls_socket_full),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_unread),
		cmocka_unit_test(test_abort_counts_bytes_given),
		cmocka_unit_test(test_finish),
		cmocka_unit_test(test_close_resets),
		cmocka_unit_test(test_send_ahead),
	};

	return cmocka_run_group_tests(tests, testcerts_setup, testcerts_teardown);
}
