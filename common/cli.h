/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one voice of realcomd, realcomctl, dsu and nportsim on the command
 * line when the user got it wrong: every usage error is "PROG: message" and
 * "Try 'PROG --help'." on stderr, and exit status 2 (CLI_EXIT_USAGE).
 * Parsing stays with getopt_long(); this module only reports what it
 * rejected, and looks subcommands up with a "did you mean" for a typo.  It
 * is not for errors of the program's work (those are 1, from each program).
 */
#ifndef REALCOM_CLI_H
#define REALCOM_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#define CLI_EXIT_USAGE	2

/* The name that starts every message, e.g. "realcomctl"; once in main(). */
void cli_init(const char *prog);

/*
 * From here on the errors are about subcommand cmd: "PROG: CMD: message".
 * With own_help the hint is "Try 'PROG CMD --help'." (dsu's commands take
 * --help), else the program's.  NULL goes back to the program.
 */
void cli_set_command(const char *cmd, bool own_help);

/* "PROG: [CMD: ]message" and the hint on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, then exit(CLI_EXIT_USAGE). */
void cli_usage_exit(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Only the hint, after a message someone else printed; returns CLI_EXIT_USAGE. */
int cli_usage_hint(void);

/*
 * What getopt_long() rejected, in our words: an unknown option (with "did
 * you mean" from longopts), an ambiguous abbreviation, a missing argument or
 * an argument to an option that takes none.  c is what getopt_long()
 * returned ('?' or ':'); argv the vector it parses; longopts may be NULL.
 * The optstring must start with ':' (after a '+' if any) so that a missing
 * argument comes back as ':', and opterr is set to 0 by cli_init() so that
 * getopt prints nothing itself.  Returns CLI_EXIT_USAGE.
 */
int cli_option_error(int c, char *const argv[], const struct option *longopts);

/* The first of argv that is left when options are done. */
int cli_unexpected_argument(const char *arg);

/* A subcommand: argv[0] is its name. */
struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
};

/*
 * The command called name, or NULL after "unknown command 'NAME' (did you
 * mean 'NEAR'?)" (the nearest by edit distance, if near enough).  A NULL
 * name (no words left) is "missing command (A, B or C)".
 */
const struct cli_command *cli_command_find(const struct cli_command *cmds, size_t n,
					   const char *name);

/*
 * The optimal string alignment distance: insertions, deletions,
 * substitutions and swaps of two neighbours each cost 1 ("stauts" is 1 from
 * "status").  Words longer than CLI_WORD_MAX count as far from everything.
 */
#define CLI_WORD_MAX	64
unsigned int cli_edit_distance(const char *a, const char *b);

/*
 * Of the n words, the one the user probably meant by word: one that word
 * begins, else the nearest within 1 edit (words of up to 3 letters) or 2;
 * the first of equals.  NULL when none is near enough.
 */
const char *cli_suggest(const char *word, const char *const *words, size_t n);

#endif
