// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A loop-driven TCP/TLS connection; see conn.h.  Level-triggered: the epoll
 * mask is recomputed after every step from what the connection waits for.
 * Callbacks may close the connection; every path re-checks the state after
 * calling out.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <openssl/err.h>

#include "conn.h"
#include "sock.h"

static void conn_event(struct loop_watch *w, uint32_t events);

int conn_init(struct conn *c, struct loop *l, const struct conn_ops *ops, void *arg,
	      size_t in_size, size_t out_size)
{
	*c = (struct conn){ .loop = l, .ops = ops, .arg = arg, .fd = -1 };
	if (buf_init(&c->in, in_size) < 0 || buf_init(&c->out, out_size) < 0) {
		buf_free(&c->in);
		return -ENOMEM;
	}
	return 0;
}

void conn_free(struct conn *c)
{
	conn_close(c);
	buf_free(&c->in);
	buf_free(&c->out);
}

/* Records written and not yet given to the socket (the socket was full). */
static size_t conn_tls_gathered(const struct conn *c)
{
	return c->ssl && c->state == CONN_OPEN ? (size_t)BIO_wpending(SSL_get_wbio(c->ssl)) : 0;
}

void conn_close(struct conn *c)
{
	if (c->state == CONN_IDLE)
		return;
	loop_watch_del(&c->watch);
	if (c->ssl) {
		if (c->state == CONN_OPEN)
			SSL_shutdown(c->ssl);	/* close_notify, best effort */
		SSL_free(c->ssl);
		c->ssl = NULL;
		ERR_clear_error();
	}
	close(c->fd);
	c->fd = -1;
	c->state = CONN_IDLE;
	c->tls_held = 0;
	c->reading = false;
	buf_clear(&c->in);
	buf_clear(&c->out);
}

/* A socket conn_finish() keeps until its peer closes: a list, so that
 * conn_finish_all() finds them. */
struct conn_linger {
	struct loop_watch watch;
	struct loop_timer timer;
	int fd;
	void (*done)(void *arg);
	void *arg;
	struct conn_linger *next;
};

static struct conn_linger *lingering;

static void conn_linger_end(struct conn_linger *l)
{
	struct conn_linger **pp = &lingering;
	void (*done)(void *arg) = l->done;
	void *arg = l->arg;

	while (*pp != l)
		pp = &(*pp)->next;
	*pp = l->next;
	loop_watch_del(&l->watch);
	loop_timer_free(&l->timer);
	close(l->fd);
	free(l);
	if (done)
		done(arg);
}

static void conn_linger_read(struct loop_watch *w, uint32_t events)
{
	struct conn_linger *l = w->arg;
	char junk[4096];
	ssize_t n = 0;

	(void)events;
	for (int i = 0; i < 16; i++) {
		n = read(l->fd, junk, sizeof(junk));
		if (n <= 0)
			break;
	}
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return;		/* more to come: epoll says when */
	conn_linger_end(l);	/* the peer closed (or reset) */
}

static void conn_linger_expired(struct loop_timer *t)
{
	conn_linger_end(t->arg);
}

void conn_finish(struct conn *c, void (*done)(void *arg), void *arg)
{
	struct conn_linger *l;
	int fd;

	if (c->state != CONN_OPEN) {
		conn_close(c);
		if (done)
			done(arg);
		return;
	}
	/* the socket outlives the conn through a second descriptor */
	fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
	conn_close(c);
	if (fd < 0) {
		if (done)
			done(arg);
		return;
	}
	l = calloc(1, sizeof(*l));
	if (!l || shutdown(fd, SHUT_WR) < 0 ||
	    loop_timer_init(c->loop, &l->timer, conn_linger_expired, l) < 0)
		goto fail;
	l->fd = fd;
	l->done = done;
	l->arg = arg;
	if (loop_watch_add(c->loop, &l->watch, fd, EPOLLIN | EPOLLRDHUP, conn_linger_read, l) < 0)
		goto fail;
	l->next = lingering;
	lingering = l;
	loop_timer_arm(&l->timer, CONN_LINGER_MS, 0);
	return;
fail:
	if (l)
		loop_timer_free(&l->timer);	/* safe on a zeroed timer */
	free(l);
	close(fd);
	if (done)
		done(arg);
}

void conn_finish_forget(const void *arg)
{
	for (struct conn_linger *l = lingering; l; l = l->next)
		if (l->arg == arg)
			l->done = NULL;
}

void conn_finish_all(void)
{
	for (struct conn_linger *l = lingering; l; l = l->next)
		l->done = NULL;
	while (lingering)
		conn_linger_end(lingering);
}

size_t conn_abort(struct conn *c)
{
	struct linger now = { .l_onoff = 1, .l_linger = 0 };
	int queued = 0;
	size_t n;

	if (c->state == CONN_IDLE)
		return 0;
	n = conn_tls_gathered(c);
	if (ioctl(c->fd, SIOCOUTQ, &queued) == 0 && queued > 0)
		n += (size_t)queued;
	/* TLS made records of it: back to the bytes given, in the proportion
	 * of this connection (a record of one byte takes some 23) */
	if (c->ssl) {
		uint64_t made = BIO_number_written(SSL_get_wbio(c->ssl));

		n = made ? (size_t)((double)n * (double)c->bytes_out / (double)made) : 0;
	}
	n += buf_len(&c->out);
	/* A reset: the kernel drops what it holds and sends nothing more, and
	 * the peer hears an error, not an end of data after which it would
	 * still read what it had taken and not yet read. */
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &now, sizeof(now));
	SSL_free(c->ssl);	/* no close_notify before it */
	c->ssl = NULL;
	ERR_clear_error();
	conn_close(c);
	return n;
}

static void conn_fail(struct conn *c, int err, const char *why)
{
	if (why && why != c->err)
		snprintf(c->err, sizeof(c->err), "%s", why);
	conn_close(c);
	if (c->ops->closed)
		c->ops->closed(c, err);
}

static void conn_update(struct conn *c)
{
	uint32_t ev = 0;

	switch (c->state) {
	case CONN_IDLE:
		return;
	case CONN_CONNECTING:
		ev = EPOLLOUT;
		break;
	case CONN_HANDSHAKE:
		ev = c->tls_want;
		break;
	case CONN_OPEN:
		if (!c->paused && buf_room(&c->in) > 0)
			ev |= EPOLLIN;
		if (buf_len(&c->out) > 0 || conn_tls_gathered(c) > 0)
			ev |= EPOLLOUT;
		break;
	}
	loop_watch_mod(&c->watch, ev);
}

int conn_start(struct conn *c, int fd, bool connecting, SSL *ssl)
{
	int r;

	conn_close(c);
	c->fd = fd;
	c->ssl = ssl;
	c->err[0] = '\0';
	c->paused = false;
	c->bytes_in = c->bytes_out = 0;
	c->tls_held = 0;
	c->ahead_end = 0;
	c->state = connecting ? CONN_CONNECTING : ssl ? CONN_HANDSHAKE : CONN_OPEN;
	c->tls_want = EPOLLOUT;
	r = loop_watch_add(c->loop, &c->watch, fd, 0, conn_event, c);
	if (r < 0) {
		c->state = CONN_IDLE;
		return r;
	}
	conn_update(c);
	return 0;
}

/* Handshake step; true when the connection became (or already is) open. */
static bool conn_handshake(struct conn *c)
{
	int r = tls_handshake(c->ssl, &c->tls_want, c->err);

	if (r == -EAGAIN) {
		conn_update(c);
		return false;
	}
	if (r < 0) {
		conn_fail(c, -EPROTO, NULL);
		return false;
	}
	c->state = CONN_OPEN;
	conn_update(c);
	if (c->ops->ready)
		c->ops->ready(c);
	return c->state == CONN_OPEN;
}

/* One read (or SSL_read) into c->in: bytes read, 0 when it would block,
 * -1 when the connection ended (closed and reported). */
static ssize_t conn_read_once(struct conn *c)
{
	size_t avail;
	uint8_t *dst = buf_tail(&c->in, (buf_room(&c->in) + 1) / 2, &avail);
	ssize_t n;

	if (!c->ssl) {
		n = read(c->fd, dst, avail);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0) {
			int err = errno;

			conn_fail(c, -err, strerror(err));
			return -1;
		}
		if (n == 0) {
			conn_fail(c, 0, "closed by the peer");
			return -1;
		}
		return n;
	}
	n = SSL_read(c->ssl, dst, (int)(avail > INT32_MAX ? INT32_MAX : avail));
	if (n > 0)
		return n;

	int e = SSL_get_error(c->ssl, (int)n);
	int err = errno;
	unsigned long oe;

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	if (e == SSL_ERROR_ZERO_RETURN) {
		conn_fail(c, 0, "closed by the peer");
		return -1;
	}
	oe = ERR_get_error();
	if (oe)
		snprintf(c->err, sizeof(c->err), "TLS: %s", ERR_reason_error_string(oe));
	else
		snprintf(c->err, sizeof(c->err), "%s",
			 e == SSL_ERROR_SYSCALL && err ? strerror(err) : "closed by the peer");
	conn_fail(c, e == SSL_ERROR_SYSCALL && err ? -err : 0, NULL);
	return -1;
}

/* Bytes waiting in the socket itself (FIONREAD), 0 on error. */
static size_t conn_socket_unread(const struct conn *c)
{
	int n = 0;

	if (c->state == CONN_IDLE || ioctl(c->fd, FIONREAD, &n) < 0 || n < 0)
		return 0;
	return (size_t)n;
}

/*
 * Fill c->in until the socket would block or the buffer is full, and hand
 * it to the owner; again while TLS still holds bytes, which epoll cannot
 * announce.  Bounded so one busy connection cannot starve the rest: after
 * CONN_READ_ROUNDS rounds it stops when the socket holds more (epoll calls
 * again), and goes on only through what OpenSSL holds while the socket is
 * empty (nothing else would), at most CONN_READ_ROUNDS_MAX in all.
 */
#define CONN_READ_ROUNDS	16
#define CONN_READ_ROUNDS_MAX	64

static void conn_read(struct conn *c)
{
	c->reading = true;
	for (int round = 0; round < CONN_READ_ROUNDS_MAX; round++) {
		bool got = false, more = false;

		while (!c->paused && buf_room(&c->in) > 0) {
			ssize_t n = conn_read_once(c);

			if (n < 0)
				return;	/* closed: conn_close() ended the reading */
			if (n == 0) {
				more = false;	/* what OpenSSL holds is no whole record */
				break;
			}
			buf_commit(&c->in, (size_t)n);
			c->bytes_in += (uint64_t)n;
			got = true;
			/* Nothing left in OpenSSL's hands: the watch is level-triggered
			 * and announces what the socket still holds, so skip the read
			 * that would only say EAGAIN. */
			more = c->ssl && SSL_has_pending(c->ssl);
			if (!more)
				break;
		}
		if (got && c->ops->input) {
			c->ops->input(c);
			if (c->state != CONN_OPEN)
				return;
		}
		if (!more || c->paused || buf_room(&c->in) == 0)
			break;
		if (round >= CONN_READ_ROUNDS - 1 && conn_socket_unread(c) > 0)
			break;
	}
	c->reading = false;
	conn_update(c);
}

/* Write what the socket takes. 0, or -1 when the connection failed. */
static int conn_flush(struct conn *c)
{
	while (buf_len(&c->out) > 0) {
		ssize_t n;

		if (c->ssl) {
			size_t len = buf_len(&c->out);

			n = SSL_write(c->ssl, buf_head(&c->out), (int)(len > INT32_MAX ? INT32_MAX : len));
			if (n <= 0) {
				int e = SSL_get_error(c->ssl, (int)n);

				/* a retry must offer the record made of the head again
				 * (SSL_MODE_ENABLE_PARTIAL_WRITE: one record at most) */
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
					if (!c->tls_held)
						c->tls_held = len < SSL3_RT_MAX_PLAIN_LENGTH ?
							      len : SSL3_RT_MAX_PLAIN_LENGTH;
					break;
				}
				snprintf(c->err, sizeof(c->err), "TLS write failed");
				conn_fail(c, -EIO, NULL);
				return -1;
			}
		} else {
			n = write(c->fd, buf_head(&c->out), buf_len(&c->out));
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				int err = errno;
				conn_fail(c, -err, strerror(err));
				return -1;
			}
		}
		buf_consume(&c->out, (size_t)n);
		c->bytes_out += (uint64_t)n;
		c->tls_held = 0;
	}
	/* The records just made go out in one write() (tls_session_new()). */
	errno = 0;
	if (conn_tls_gathered(c) > 0 && BIO_flush(SSL_get_wbio(c->ssl)) <= 0 &&
	    !BIO_should_retry(SSL_get_wbio(c->ssl))) {
		int err = errno;

		conn_fail(c, err ? -err : -EIO, err ? strerror(err) : "TLS write failed");
		return -1;
	}
	return 0;
}

/* Bytes were queued: out now if open, else when it opens. */
static int conn_queued(struct conn *c, bool was_empty)
{
	if (c->state != CONN_OPEN)
		return 0;
	if (conn_flush(c) < 0)
		return 0;	/* closed; the owner hears through ops->closed */
	if (was_empty != (buf_len(&c->out) == 0))
		conn_update(c);
	return 0;
}

int conn_send(struct conn *c, const void *p, size_t n)
{
	bool was_empty = buf_len(&c->out) == 0;

	if (c->state == CONN_IDLE)
		return -ENOTCONN;
	if (buf_room(&c->out) < n)
		return -ENOBUFS;
	/* Nothing queued, no TLS: write from the caller's memory and queue only
	 * what the socket did not take (one copy less; the buffer's pages stay
	 * untouched while the socket keeps up). */
	if (was_empty && !c->ssl && c->state == CONN_OPEN && n > 0) {
		ssize_t w = write(c->fd, p, n);

		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			int err = errno;

			conn_fail(c, -err, strerror(err));
			return 0;	/* closed; the owner hears through ops->closed */
		}
		if (w > 0) {
			c->bytes_out += (uint64_t)w;
			p = (const uint8_t *)p + w;
			n -= (size_t)w;
		}
		if (n > 0) {
			buf_put(&c->out, p, n);
			conn_update(c);
		}
		return 0;
	}
	buf_put(&c->out, p, n);
	return conn_queued(c, was_empty);
}

int conn_queue(struct conn *c, const void *p, size_t n)
{
	if (c->state == CONN_IDLE)
		return -ENOTCONN;
	if (buf_room(&c->out) < n)
		return -ENOBUFS;
	buf_put(&c->out, p, n);
	return 0;
}

void conn_push(struct conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	if (conn_flush(c) < 0)
		return;	/* closed; the owner hears through ops->closed */
	conn_update(c);
}

int conn_send_ahead(struct conn *c, const void *p, size_t n, size_t at)
{
	bool was_empty = buf_len(&c->out) == 0;
	size_t len = buf_len(&c->out);

	if (c->state == CONN_IDLE)
		return -ENOTCONN;
	if (at < conn_tls_held(c) || at > len)
		return -EINVAL;
	if (c->ahead_end > c->bytes_out && c->ahead_end - c->bytes_out > at)
		at = c->ahead_end - c->bytes_out > len ? len : (size_t)(c->ahead_end - c->bytes_out);
	if (buf_insert(&c->out, at, p, n) != n)
		return -ENOBUFS;
	c->ahead_end = c->bytes_out + at + n;
	return conn_queued(c, was_empty);
}

void conn_pause(struct conn *c, bool pause)
{
	if (c->paused == pause) {
		/* Not paused, yet the owner may have made room in a buffer that was
		 * full (no EPOLLIN then) or can take what TLS holds. */
		if (!pause)
			conn_resume(c);
		return;
	}
	c->paused = pause;
	if (pause)
		conn_update(c);
	else
		conn_resume(c);
}

void conn_resume(struct conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	/* TLS may hold bytes that epoll will never announce; inside conn_read()
	 * (the owner's input callback) its own loop reads them. */
	if (c->ssl && SSL_has_pending(c->ssl) && !c->paused && !c->reading)
		conn_read(c);
	else
		conn_update(c);
}

size_t conn_unread(const struct conn *c)
{
	size_t n = conn_socket_unread(c);

	if (c->ssl) {
		/* With read-ahead (a client), bytes OpenSSL holds undecrypted
		 * count as one: a lower bound there. */
		int held = SSL_pending(c->ssl);

		n += held > 0 ? (size_t)held : (size_t)SSL_has_pending(c->ssl);
	}
	return n;
}

static void conn_event(struct loop_watch *w, uint32_t events)
{
	struct conn *c = w->arg;
	int r;

	switch (c->state) {
	case CONN_IDLE:
		return;
	case CONN_CONNECTING:
		r = sock_connect_result(c->fd);
		if (r < 0) {
			conn_fail(c, r, strerror(-r));
			return;
		}
		if (c->ssl) {
			c->state = CONN_HANDSHAKE;
			conn_handshake(c);
			return;
		}
		c->state = CONN_OPEN;
		conn_update(c);
		if (c->ops->ready)
			c->ops->ready(c);
		return;
	case CONN_HANDSHAKE:
		if (!conn_handshake(c))
			return;
		break;
	case CONN_OPEN:
		break;
	}
	if (events & EPOLLERR) {
		r = sock_connect_result(c->fd);	/* SO_ERROR */
		conn_fail(c, r < 0 ? r : -EIO, strerror(r < 0 ? -r : EIO));
		return;
	}
	if ((events & EPOLLHUP) && (c->paused || buf_room(&c->in) == 0)) {
		/* Level-triggered HUP cannot be masked: end it instead of spinning. */
		conn_fail(c, -ECONNRESET, "connection lost");
		return;
	}
	if (events & EPOLLOUT) {
		bool had = buf_len(&c->out) > 0;

		if (conn_flush(c) < 0)
			return;
		if (had && buf_len(&c->out) == 0 && c->ops->drained) {
			c->ops->drained(c);
			if (c->state != CONN_OPEN)
				return;
		}
	}
	if (events & (EPOLLIN | EPOLLHUP))
		conn_read(c);
	else
		conn_update(c);
}
