// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for logging (common/log.c): what reaches stderr, levels,
 * timestamps, a writer with port fields, and the rate limit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Run fn with stderr sent to a pipe; return what it wrote. */
static const char *capture(void (*fn)(void))
{
	static char out[1024];
	int p[2], saved = dup(2);
	ssize_t n;

	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	fflush(stderr);
	dup2(p[1], 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(p[1]);
	n = read(p[0], out, sizeof(out) - 1);
	close(p[0]);
	out[n > 0 ? n : 0] = '\0';
	return out;
}

static void log_some(void)
{
	errno = ECONNREFUSED;
	log_warn("ttyR3: connect %s", "192.0.2.10:966");
	log_warnx("ttyR3: no answer");
	log_warnc(-ETIMEDOUT, "ttyR3: handshake");
	log_info("ready");
	log_debug("not shown at LOG_INFO");
}

static void test_foreground(void **state)
{
	log_init("realcomd", true, LOG_INFO);
	assert_string_equal(capture(log_some),
			    "realcomd: ttyR3: connect 192.0.2.10:966: Connection refused\n"
			    "realcomd: ttyR3: no answer\n"
			    "realcomd: ttyR3: handshake: Connection timed out\n"
			    "realcomd: ready\n");
}

static void test_levels(void **state)
{
	log_init("t", true, LOG_WARNING);
	assert_int_equal(log_get_level(), LOG_WARNING);
	assert_string_equal(capture(log_some),
			    "t: ttyR3: connect 192.0.2.10:966: Connection refused\n"
			    "t: ttyR3: no answer\n"
			    "t: ttyR3: handshake: Connection timed out\n");
	log_set_level(LOG_DEBUG);
	assert_non_null(strstr(capture(log_some), "t: not shown at LOG_INFO\n"));
}

static void test_errno_kept(void **state)
{
	log_init("t", true, LOG_ERR);
	errno = EPIPE;
	log_warn("quiet");
	assert_int_equal(errno, EPIPE);
}

static void log_port_line(void)
{
	log_port(LOG_WARNING, "ttyR1", "192.0.2.10:966", "unexpected reply %02X", 0x14);
}

static void test_timestamps(void **state)
{
	regex_t re;

	log_init("realcomd", true, LOG_INFO);
	log_set_timestamps(true);
	assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
				 "\\.[0-9]{3}Z realcomd: ttyR1: unexpected reply 14\n$",
				 REG_EXTENDED), 0);
	assert_int_equal(regexec(&re, capture(log_port_line), 0, NULL, 0), 0);
	regfree(&re);
	log_set_timestamps(false);
	assert_string_equal(capture(log_port_line), "realcomd: ttyR1: unexpected reply 14\n");
}

static char seen[256];

static void writer(int level, const char *tty, const char *peer, const char *msg)
{
	snprintf(seen, sizeof(seen), "%d|%s|%s|%s", level, tty, peer, msg);
}

static void test_writer_gets_fields(void **state)
{
	log_init("realcomd", true, LOG_INFO);
	log_set_writer(writer);
	assert_string_equal(capture(log_port_line), "");
	assert_string_equal(seen, "4|ttyR1|192.0.2.10:966|unexpected reply 14");
	log_warnx("plain");
	assert_string_equal(seen, "4|||plain");
	log_set_writer(NULL);
}

static void test_limit(void **state)
{
	struct log_limit ll = { .interval_ms = 3600 * 1000 };
	unsigned long held = 99;

	assert_true(log_limit_pass(&ll, &held));	/* the first: logged */
	assert_int_equal(held, 0);
	for (int i = 0; i < 1000; i++)
		assert_false(log_limit_pass(&ll, &held));
	assert_false(log_limit_due(&ll, &held));	/* the interval is not over */
	ll.last_ms -= ll.interval_ms;			/* now it is */
	assert_true(log_limit_due(&ll, &held));
	assert_int_equal(held, 1000);
	assert_false(log_limit_due(&ll, &held));	/* counted once */
	assert_false(log_limit_pass(&ll, &held));	/* a new interval began */
	ll.last_ms -= ll.interval_ms;
	assert_true(log_limit_pass(&ll, &held));	/* the next one says the count */
	assert_int_equal(held, 1);
	ll.last_ms -= ll.interval_ms;
	assert_false(log_limit_due(&ll, &held));	/* nothing held: nothing to say */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_foreground),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_errno_kept),
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_writer_gets_fields),
		cmocka_unit_test(test_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
