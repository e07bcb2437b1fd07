/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A bounded byte queue: bytes are appended at the tail and consumed from the
 * head, and the unconsumed bytes are always contiguous so the codecs can
 * parse them in place.  Space is reclaimed by moving the remainder to the
 * front only when the tail runs out.  One read()/write() per call.
 */
#ifndef REALCOM_BUF_H
#define REALCOM_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf {
	uint8_t *data;
	size_t cap;
	size_t head;	/* first unconsumed byte */
	size_t tail;	/* one past the last */
};

int buf_init(struct buf *b, size_t cap);
void buf_free(struct buf *b);

static inline size_t buf_len(const struct buf *b)
{
	return b->tail - b->head;
}

static inline const uint8_t *buf_head(const struct buf *b)
{
	return b->data + b->head;
}

/* Bytes that can still be appended (after compaction). */
static inline size_t buf_room(const struct buf *b)
{
	return b->cap - buf_len(b);
}

/* Contiguous free space at the tail, compacting first when less than want
 * is left there; *avail receives its size.  Follow with buf_commit(). */
uint8_t *buf_tail(struct buf *b, size_t want, size_t *avail);
void buf_commit(struct buf *b, size_t n);

/* Append as much of p[0..n) as fits; returns the count taken. */
size_t buf_put(struct buf *b, const void *p, size_t n);
void buf_consume(struct buf *b, size_t n);
void buf_clear(struct buf *b);
/* Put p[0..n) between the first at unconsumed bytes and the rest (at is
 * at most buf_len); returns n, or 0 when it does not fit. */
size_t buf_insert(struct buf *b, size_t at, const void *p, size_t n);
/* Keep only the first n unconsumed bytes. */
void buf_truncate(struct buf *b, size_t n);

/* One read() into the free space: bytes read, 0 at EOF, -errno (-EAGAIN
 * included), or -ENOBUFS when the buffer is full. */
ssize_t buf_read_fd(struct buf *b, int fd);
/* One write() of queued bytes: bytes written (consumed) or -errno. */
ssize_t buf_write_fd(struct buf *b, int fd);

#endif
