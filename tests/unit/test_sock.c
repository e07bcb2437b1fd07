// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the socket helpers (common/sock.c), on loopback only. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include "sock.h"

static void test_resolve_and_format(void **state)
{
	struct sock_addr a;
	char s[SOCK_ADDRSTRLEN];
	const char *why = NULL;

	assert_int_equal(sock_resolve("127.0.0.1", 966, &a, NULL), 0);
	assert_string_equal(sock_addr_str(&a, s), "127.0.0.1:966");
	assert_int_equal(sock_resolve("::1", 950, &a, NULL), 0);
	assert_string_equal(sock_addr_str(&a, s), "[::1]:950");
	assert_int_equal(sock_resolve("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, &a, NULL), 0);
	assert_string_equal(sock_addr_str(&a, s), "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	assert_int_equal(sock_resolve("localhost", 4001, &a, NULL), 0);
	assert_true(a.ss.ss_family == AF_INET || a.ss.ss_family == AF_INET6);
	/* Not a host name at all: glibc refuses it without asking DNS (tests
	 * send nothing beyond loopback, so no real name is looked up). */
	assert_int_equal(sock_resolve("bad name!", 1, &a, &why), -EHOSTUNREACH);
	assert_non_null(why);
}

static void test_connect_listen_tune(void **state)
{
	int l = sock_listen("127.0.0.1", 0, 4), c, s, v;
	uint16_t port;
	struct sock_addr a;
	socklen_t len = sizeof(v);
	unsigned int ut;

	assert_true(l >= 0);
	port = sock_local_port(l);
	assert_true(port > 0);
	assert_int_equal(sock_resolve("127.0.0.1", port, &a, NULL), 0);
	c = sock_connect(&a);
	assert_true(c >= 0);
	assert_int_equal(sock_connect_wait(c, 5000), 0);
	assert_int_equal(sock_connect_result(c), 0);
	s = accept(l, NULL, NULL);
	assert_true(s >= 0);

	assert_int_equal(sock_tune(c, 10), 0);
	assert_int_equal(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	assert_int_equal(v, 1);
	assert_int_equal(getsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
	assert_int_equal(v, 1);
	assert_int_equal(getsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len), 0);
	assert_int_equal(v, 10);
	/* no TCP_USER_TIMEOUT: a device holding its output is not dead */
	len = sizeof(ut);
	assert_int_equal(getsockopt(c, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, &len), 0);
	assert_int_equal(ut, 0);
	assert_int_equal(sock_tune(s, 0), 0);
	assert_int_equal(sock_tune(-1, 0), -EBADF);
	/* a peer that answers (tests/integration/test_realcomd_netns.py cuts
	 * a link); not a TCP socket: nothing to say */
	assert_int_equal(write(c, "x", 1), 1);
	assert_false(sock_unanswered(c));
	assert_false(sock_unanswered(-1));
	close(s);
	close(c);

	/* nothing listens there any more: refused, reported through the result */
	close(l);
	c = sock_connect(&a);
	if (c >= 0) {
		assert_int_equal(sock_connect_wait(c, 5000), -ECONNREFUSED);
		close(c);
	} else {
		assert_int_equal(c, -ECONNREFUSED);
	}
	assert_int_equal(sock_listen("bad name!", 0, 1), -EHOSTUNREACH);
	assert_int_equal(sock_local_port(-1), 0);
}

static void test_listen_ipv6(void **state)
{
	int l = sock_listen("::1", 0, 1);

	if (l == -EADDRNOTAVAIL || l == -EAFNOSUPPORT)
		skip();	/* a machine without IPv6 loopback */
	assert_true(l >= 0);
	assert_true(sock_local_port(l) > 0);
	close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_and_format),
		cmocka_unit_test(test_connect_listen_tune),
		cmocka_unit_test(test_listen_ipv6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
