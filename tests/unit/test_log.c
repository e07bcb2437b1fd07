// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for logging (common/log.c): what reaches stderr, and levels. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_foreground),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_errno_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
