// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the usage-error helper (common/cli.c): the edit distance
 * and "did you mean", and the exact messages for what getopt_long() rejects,
 * read back from stderr (redirected to a file for each case).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const struct option opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "pidfile", required_argument, NULL, 'p' },
	{ "poll-idle", required_argument, NULL, 256 },
	{ "poll-max", required_argument, NULL, 257 },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int cmd_ok(int argc, char **argv)
{
	return 0;
}

static const struct cli_command cmds[] = {
	{ "status", cmd_ok }, { "metrics", cmd_ok }, { "reload", cmd_ok }, { "line", cmd_ok },
};

/* stderr goes to a temporary file while a case runs */
static FILE *err_file;
static int saved_fd = -1;

static void err_begin(void)
{
	err_file = tmpfile();
	assert_non_null(err_file);
	fflush(stderr);
	saved_fd = dup(STDERR_FILENO);
	assert_true(saved_fd >= 0);
	assert_true(dup2(fileno(err_file), STDERR_FILENO) >= 0);
}

/* What was written since err_begin(), checked against want. */
static void err_end(const char *want)
{
	char got[512];
	size_t n;

	fflush(stderr);
	assert_true(dup2(saved_fd, STDERR_FILENO) >= 0);
	close(saved_fd);
	rewind(err_file);
	n = fread(got, 1, sizeof(got) - 1, err_file);
	got[n] = '\0';
	fclose(err_file);
	assert_string_equal(got, want);
}

/* getopt_long over args (a NULL-terminated list after the program name)
 * until it fails; then what cli_option_error() printed must be want. */
static void expect_option_error(const char *optstring, const char *want, ...)
{
	char *argv[16] = { "prog" };
	int argc = 1, c, status = 0;
	va_list ap;

	va_start(ap, want);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	optind = 0;		/* glibc: start over, state included */
	err_begin();
	while ((c = getopt_long(argc, argv, optstring, opts, NULL)) != -1)
		if (c == '?' || c == ':') {
			status = cli_option_error(c, argv, opts);
			break;
		}
	err_end(want);
	assert_int_equal(status, CLI_EXIT_USAGE);
}

static int setup(void **state)
{
	cli_init("prog");
	return 0;
}

static void test_edit_distance(void **state)
{
	assert_int_equal(cli_edit_distance("", ""), 0);
	assert_int_equal(cli_edit_distance("status", "status"), 0);
	assert_int_equal(cli_edit_distance("stauts", "status"), 1);	/* a swap is one */
	assert_int_equal(cli_edit_distance("serch", "search"), 1);
	assert_int_equal(cli_edit_distance("mpa", "map"), 1);
	assert_int_equal(cli_edit_distance("kitten", "sitting"), 3);
	assert_int_equal(cli_edit_distance("", "line"), 4);
	assert_int_equal(cli_edit_distance("line", ""), 4);
	assert_int_equal(cli_edit_distance("ca", "abc"), 3);	/* OSA, not Damerau */
}

static void test_edit_distance_long_words(void **state)
{
	char big[CLI_WORD_MAX + 2];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(cli_edit_distance(big, "a"), CLI_WORD_MAX + 1);
	big[CLI_WORD_MAX] = '\0';
	assert_int_equal(cli_edit_distance(big, big), 0);
}

static void test_suggest(void **state)
{
	static const char *const words[] = { "search", "info", "setup", "map" };

	assert_string_equal(cli_suggest("serch", words, 4), "search");
	assert_string_equal(cli_suggest("mpa", words, 4), "map");
	assert_string_equal(cli_suggest("inof", words, 4), "info");
	/* a beginning is enough, however short */
	assert_string_equal(cli_suggest("set", words, 4), "setup");
	assert_string_equal(cli_suggest("se", words, 4), "search");
	/* short words get one edit, longer ones two */
	assert_null(cli_suggest("xyz", words, 4));
	assert_null(cli_suggest("mxx", words, 4));
	assert_string_equal(cli_suggest("sxtxp", words, 4), "setup");
	assert_null(cli_suggest("sxtxx", words, 4));
	assert_null(cli_suggest("", words, 4));
	assert_null(cli_suggest("map", words, 0));
}

static void test_command_find(void **state)
{
	err_begin();
	assert_ptr_equal(cli_command_find(cmds, 4, "reload"), &cmds[2]);
	err_end("");
	err_begin();
	assert_null(cli_command_find(cmds, 4, "stauts"));
	err_end("prog: unknown command 'stauts' (did you mean 'status'?)\nTry 'prog --help'.\n");
	err_begin();
	assert_null(cli_command_find(cmds, 4, "frobnicate"));
	err_end("prog: unknown command 'frobnicate'\nTry 'prog --help'.\n");
	err_begin();
	assert_null(cli_command_find(cmds, 4, NULL));
	err_end("prog: missing command (status, metrics, reload or line)\nTry 'prog --help'.\n");
	err_begin();
	assert_null(cli_command_find(cmds, 1, NULL));
	err_end("prog: missing command (status)\nTry 'prog --help'.\n");
	/* an option where a command belongs is not a misspelt command */
	err_begin();
	assert_null(cli_command_find(cmds, 4, "-line"));
	err_end("prog: unknown command '-line'\nTry 'prog --help'.\n");
}

static void test_unknown_option(void **state)
{
	expect_option_error(":c:fp:h", "prog: unknown option '--bogus'\nTry 'prog --help'.\n",
			    "--bogus", NULL);
	expect_option_error(":c:fp:h", "prog: unknown option '-Z'\nTry 'prog --help'.\n",
			    "-Z", NULL);
	/* inside a group, after a long option */
	expect_option_error(":c:fp:h", "prog: unknown option '-Z'\nTry 'prog --help'.\n",
			    "--foreground", "-fZf", NULL);
	expect_option_error(":c:fp:h", "prog: unknown option '--foregorund' (did you mean "
			    "'--foreground'?)\nTry 'prog --help'.\n", "--foregorund", NULL);
	expect_option_error(":c:fp:h", "prog: unknown option '--confgi' (did you mean "
			    "'--config'?)\nTry 'prog --help'.\n", "--confgi=x", NULL);
	expect_option_error("+:c:fp:h", "prog: ambiguous option '--po' (--poll-idle, "
			    "--poll-max)\nTry 'prog --help'.\n", "--po", "1", NULL);
}

static void test_missing_argument(void **state)
{
	expect_option_error(":c:fp:h", "prog: option '--config' needs an argument\n"
			    "Try 'prog --help'.\n", "-f", "--config", NULL);
	/* an abbreviation is named in full */
	expect_option_error(":c:fp:h", "prog: option '--config' needs an argument\n"
			    "Try 'prog --help'.\n", "--conf", NULL);
	expect_option_error(":c:fp:h", "prog: option '-c' needs an argument\n"
			    "Try 'prog --help'.\n", "--foreground", "-fc", NULL);
	expect_option_error(":c:fp:h", "prog: option '--poll-max' needs an argument\n"
			    "Try 'prog --help'.\n", "--poll-max", NULL);
}

static void test_no_argument_wanted(void **state)
{
	expect_option_error(":c:fp:h", "prog: option '--foreground' takes no argument\n"
			    "Try 'prog --help'.\n", "--fore=yes", NULL);
}

static void test_usage_error_and_command(void **state)
{
	err_begin();
	assert_int_equal(cli_unexpected_argument("x"), CLI_EXIT_USAGE);
	err_end("prog: unexpected argument 'x'\nTry 'prog --help'.\n");
	cli_set_command("info", true);
	err_begin();
	assert_int_equal(cli_usage_error("missing HOST"), CLI_EXIT_USAGE);
	err_end("prog: info: missing HOST\nTry 'prog info --help'.\n");
	cli_set_command("status", false);
	err_begin();
	assert_int_equal(cli_unexpected_argument("--jsno"), CLI_EXIT_USAGE);
	err_end("prog: status: unexpected argument '--jsno'\nTry 'prog --help'.\n");
	cli_set_command(NULL, false);
	err_begin();
	assert_int_equal(cli_usage_hint(), CLI_EXIT_USAGE);
	err_end("Try 'prog --help'.\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edit_distance),
		cmocka_unit_test(test_edit_distance_long_words),
		cmocka_unit_test(test_suggest),
		cmocka_unit_test(test_command_find),
		cmocka_unit_test(test_unknown_option),
		cmocka_unit_test(test_missing_argument),
		cmocka_unit_test(test_no_argument_wanted),
		cmocka_unit_test(test_usage_error_and_command),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
