// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the byte queue (common/buf.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"

static void test_put_consume(void **state)
{
	struct buf b;
	uint8_t big[20];

	assert_int_equal(buf_init(&b, 8), 0);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(buf_room(&b), 8);
	assert_int_equal(buf_put(&b, "abcde", 5), 5);
	assert_memory_equal(buf_head(&b), "abcde", 5);
	buf_consume(&b, 2);
	assert_memory_equal(buf_head(&b), "cde", 3);
	/* 5 more only fit after compaction; the rest is refused, not lost silently */
	memset(big, 'x', sizeof(big));
	assert_int_equal(buf_put(&b, big, sizeof(big)), 5);
	assert_int_equal(buf_len(&b), 8);
	assert_int_equal(buf_room(&b), 0);
	assert_memory_equal(buf_head(&b), "cdexxxxx", 8);
	assert_int_equal(buf_put(&b, "y", 1), 0);
	buf_consume(&b, 100);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(buf_room(&b), 8);
	buf_free(&b);
}

static void test_tail_commit(void **state)
{
	struct buf b;
	size_t avail;
	uint8_t *p;

	assert_int_equal(buf_init(&b, 16), 0);
	buf_put(&b, "0123456789", 10);
	buf_consume(&b, 8);
	/* 6 free at the tail: asking for 4 does not move anything */
	p = buf_tail(&b, 4, &avail);
	assert_int_equal(avail, 6);
	assert_ptr_equal(p, b.data + 10);
	/* asking for 10 compacts the 2 remaining bytes to the front */
	p = buf_tail(&b, 10, &avail);
	assert_int_equal(avail, 14);
	assert_ptr_equal(p, b.data + 2);
	memcpy(p, "ab", 2);
	buf_commit(&b, 2);
	assert_memory_equal(buf_head(&b), "89ab", 4);
	buf_truncate(&b, 10);	/* longer than what is there: nothing changes */
	assert_int_equal(buf_len(&b), 4);
	buf_truncate(&b, 1);
	assert_memory_equal(buf_head(&b), "8", 1);
	assert_int_equal(buf_len(&b), 1);
	buf_clear(&b);
	assert_int_equal(buf_len(&b), 0);
	buf_free(&b);
}

static void test_fd_io(void **state)
{
	struct buf b;
	int sv[2];
	uint8_t out[4];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(buf_init(&b, 4), 0);
	assert_int_equal(buf_read_fd(&b, sv[0]), -EAGAIN);
	assert_int_equal(write(sv[1], "hello", 5), 5);
	assert_int_equal(buf_read_fd(&b, sv[0]), 4);
	assert_int_equal(buf_read_fd(&b, sv[0]), -ENOBUFS);
	assert_int_equal(buf_write_fd(&b, sv[0]), 4);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(read(sv[1], out, sizeof(out)), 4);
	assert_memory_equal(out, "hell", 4);
	assert_int_equal(buf_read_fd(&b, sv[0]), 1);
	assert_int_equal(buf_write_fd(&b, -1), -EBADF);
	assert_int_equal(buf_len(&b), 1);
	close(sv[1]);
	buf_consume(&b, 1);
	assert_int_equal(buf_read_fd(&b, sv[0]), 0);
	assert_int_equal(buf_write_fd(&b, sv[0]), 0);
	close(sv[0]);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_consume),
		cmocka_unit_test(test_tail_commit),
		cmocka_unit_test(test_fd_io),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
