// SPDX-License-Identifier: GPL-2.0-or-later
/* Bounded contiguous byte queue; see buf.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

int buf_init(struct buf *b, size_t cap)
{
	*b = (struct buf){ .data = malloc(cap), .cap = cap };
	return b->data ? 0 : -ENOMEM;
}

void buf_free(struct buf *b)
{
	free(b->data);
	*b = (struct buf){ 0 };
}

uint8_t *buf_tail(struct buf *b, size_t want, size_t *avail)
{
	if (b->cap - b->tail < want && b->head > 0) {
		size_t len = buf_len(b);

		memmove(b->data, b->data + b->head, len);
		b->head = 0;
		b->tail = len;
	}
	*avail = b->cap - b->tail;
	return b->data + b->tail;
}

void buf_commit(struct buf *b, size_t n)
{
	b->tail += n;
}

size_t buf_put(struct buf *b, const void *p, size_t n)
{
	size_t avail;
	uint8_t *dst = buf_tail(b, n, &avail);

	if (n > avail)
		n = avail;
	memcpy(dst, p, n);
	b->tail += n;
	return n;
}

size_t buf_insert(struct buf *b, size_t at, const void *p, size_t n)
{
	size_t avail;
	uint8_t *tail;

	if (at > buf_len(b) || n > buf_room(b))
		return 0;
	tail = buf_tail(b, n, &avail);
	memmove(tail - (buf_len(b) - at) + n, tail - (buf_len(b) - at), buf_len(b) - at);
	memcpy(tail - (buf_len(b) - at), p, n);
	b->tail += n;
	return n;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= buf_len(b)) {
		b->head = b->tail = 0;
		return;
	}
	b->head += n;
}

void buf_clear(struct buf *b)
{
	b->head = b->tail = 0;
}

void buf_truncate(struct buf *b, size_t n)
{
	if (n < buf_len(b))
		b->tail = b->head + n;
}

ssize_t buf_read_fd(struct buf *b, int fd)
{
	size_t avail;
	/* Compact only when the tail holds less than half the free room. */
	uint8_t *dst = buf_tail(b, (buf_room(b) + 1) / 2, &avail);
	ssize_t n;

	if (avail == 0)
		return -ENOBUFS;
	n = read(fd, dst, avail);
	if (n < 0)
		return -errno;
	b->tail += (size_t)n;
	return n;
}

ssize_t buf_write_fd(struct buf *b, int fd)
{
	ssize_t n;

	if (buf_len(b) == 0)
		return 0;
	n = write(fd, buf_head(b), buf_len(b));
	if (n < 0)
		return -errno;
	buf_consume(b, (size_t)n);
	return n;
}
