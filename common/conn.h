/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One TCP connection, plain or TLS, driven by the event loop: non-blocking
 * connect, the TLS handshake, buffered reads and writes with back-pressure
 * (reading stops while the input buffer is full or the owner pauses it).
 * What the bytes mean is the owner's business; it hears through conn_ops.
 */
#ifndef REALCOM_CONN_H
#define REALCOM_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "buf.h"
#include "loop.h"
#include "tls.h"

struct conn;

struct conn_ops {
	/* Connected, and the TLS handshake (if any) done. */
	void (*ready)(struct conn *c);
	/* New bytes wait in c->in: consume what can be used. */
	void (*input)(struct conn *c);
	/* Everything queued has been written (optional). */
	void (*drained)(struct conn *c);
	/* The connection failed or ended (err 0: closed by the peer); it is
	 * already closed when this runs, c->err says why. */
	void (*closed)(struct conn *c, int err);
};

enum conn_state {
	CONN_IDLE,
	CONN_CONNECTING,
	CONN_HANDSHAKE,
	CONN_OPEN,
};

struct conn {
	struct loop *loop;
	struct loop_watch watch;
	const struct conn_ops *ops;
	void *arg;
	int fd;
	SSL *ssl;
	enum conn_state state;
	uint32_t tls_want;	/* what the handshake waits for */
	bool paused;
	bool reading;		/* in conn_read(): a resume is left to its loop */
	struct buf in, out;
	uint64_t bytes_in, bytes_out;
	/* the head bytes a TLS write that must be retried holds (a record) */
	size_t tls_held;
	/* output stream offset just past the last bytes conn_send_ahead() queued */
	uint64_t ahead_end;
	char err[TLS_ERR_MAX];
};

int conn_init(struct conn *c, struct loop *l, const struct conn_ops *ops, void *arg,
	      size_t in_size, size_t out_size);
/* Release the buffers (closes first if needed). */
void conn_free(struct conn *c);

/*
 * Take over fd: connecting is true while a non-blocking connect is under
 * way (sock_connect()); ssl, if set, is a session from tls_session_new()
 * over fd whose handshake runs next.  Returns 0 or -errno.
 */
int conn_start(struct conn *c, int fd, bool connecting, SSL *ssl);

/* Queue bytes and write what the socket takes now.  Returns 0, or -ENOBUFS
 * (nothing queued) when the output buffer lacks room for all n bytes. */
int conn_send(struct conn *c, const void *p, size_t n);
/* conn_send() in pieces: conn_queue() queues without writing (same returns),
 * conn_push() writes what is queued, so several pieces go in one write. */
int conn_queue(struct conn *c, const void *p, size_t n);
void conn_push(struct conn *c);
/*
 * Queue n bytes ahead of queued output (an XON/XOFF a UART sends before its
 * FIFO): after the first at queued bytes, which the owner picks so no
 * sequence of its protocol is cut, and never before conn_tls_held() bytes
 * (a TLS record already made of them) nor before bytes sent ahead earlier,
 * which keep their order.  Returns 0, -EINVAL for an at inside what TLS
 * holds, or -ENOBUFS (nothing queued) without room for n bytes.
 */
int conn_send_ahead(struct conn *c, const void *p, size_t n, size_t at);
static inline size_t conn_tls_held(const struct conn *c)
{
	return c->tls_held < buf_len(&c->out) ? c->tls_held : buf_len(&c->out);
}
static inline size_t conn_send_room(const struct conn *c)
{
	return buf_room(&c->out);
}
static inline bool conn_is_open(const struct conn *c)
{
	return c->state == CONN_OPEN;
}

/* Stop or restart reading (back-pressure from the owner).  Restarting also
 * delivers input TLS had already decrypted. */
void conn_pause(struct conn *c, bool pause);
/* Call after consuming from c->in outside the input callback. */
void conn_resume(struct conn *c);

/* Close now, without calling ops->closed; queued output is dropped. */
void conn_close(struct conn *c);
/*
 * End a connection whose peer has had everything (a drain finished): our side
 * is shut (after TLS's close_notify, a FIN behind all data) and the socket is
 * kept, what comes in read and thrown away, until the peer closes too or
 * CONN_LINGER_MS pass.  A plain close with input unread would send a reset
 * instead, and a peer that sees one may drop what it has received but not yet
 * passed on (its serial line's data).  The conn itself is closed at once.
 * done(arg), when not NULL, is called when the socket is gone: at once when
 * nothing is kept, else from the loop (a unit that takes one client per port
 * refuses the next connection until then).
 */
#define CONN_LINGER_MS	3000
void conn_finish(struct conn *c, void (*done)(void *arg), void *arg);
/* done is not called for arg any more (its owner goes). */
void conn_finish_forget(const void *arg);
/* Close what conn_finish() keeps (at exit), calling nothing. */
void conn_finish_all(void);
/* Close with a reset: what is still queued, ours and the kernel's (not yet
 * acknowledged by the peer), is dropped and none of it reaches the peer
 * later.  Returns the bytes dropped, as given to conn_send() (what TLS made
 * of them counted back in the connection's proportion). */
size_t conn_abort(struct conn *c);

/* Bytes the peer has sent that are not read yet (socket and TLS buffers;
 * on a TLS client, records not yet decrypted count as one byte). */
size_t conn_unread(const struct conn *c);

#endif
