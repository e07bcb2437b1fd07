// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Usage errors of every program in one wording (cli.h), in the manner of
 * libgpiod's tools-common.c: getopt_long() is told to stay quiet and the
 * programs hand what it rejected to cli_option_error().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CLI_NAMES_MAX	128	/* options or commands looked at for a suggestion */

static const char *cli_prog = "realcom";
static const char *cli_cmd;
static bool cli_cmd_help;

void cli_init(const char *prog)
{
	cli_prog = prog;
	cli_cmd = NULL;
	/* getopt's own messages differ for short and long options and carry
	 * argv[0] (a path, or "info" under dsu): we say it ourselves */
	opterr = 0;
}

void cli_set_command(const char *cmd, bool own_help)
{
	cli_cmd = cmd;
	cli_cmd_help = own_help;
}

int cli_usage_hint(void)
{
	if (cli_cmd && cli_cmd_help)
		fprintf(stderr, "Try '%s %s --help'.\n", cli_prog, cli_cmd);
	else
		fprintf(stderr, "Try '%s --help'.\n", cli_prog);
	return CLI_EXIT_USAGE;
}

__attribute__((format(printf, 1, 0))) static int cli_vusage_error(const char *fmt, va_list ap)
{
	if (cli_cmd)
		fprintf(stderr, "%s: %s: ", cli_prog, cli_cmd);
	else
		fprintf(stderr, "%s: ", cli_prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	return cli_usage_hint();
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cli_vusage_error(fmt, ap);
	va_end(ap);
	return r;
}

void cli_usage_exit(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vusage_error(fmt, ap);
	va_end(ap);
	exit(CLI_EXIT_USAGE);
}

unsigned int cli_edit_distance(const char *a, const char *b)
{
	/* three rows of the table: i-2, i-1 and i */
	unsigned int row[3][CLI_WORD_MAX + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > CLI_WORD_MAX || lb > CLI_WORD_MAX)
		return CLI_WORD_MAX + 1;
	for (size_t j = 0; j <= lb; j++)
		row[0][j] = (unsigned int)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned int *cur = row[i % 3], *up = row[(i - 1) % 3], *up2 = row[(i - 2) % 3];

		cur[0] = (unsigned int)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned int cost = a[i - 1] != b[j - 1], d = up[j - 1] + cost;

			if (up[j] + 1 < d)
				d = up[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    up2[j - 2] + 1 < d)
				d = up2[j - 2] + 1;
			cur[j] = d;
		}
	}
	return row[la % 3][lb];
}

const char *cli_suggest(const char *word, const char *const *words, size_t n)
{
	size_t len = strlen(word);
	unsigned int best = len <= 3 ? 1 : 2;
	const char *near = NULL;

	if (!len)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(words[i], word, len))
			return words[i];
	for (size_t i = 0; i < n; i++) {
		unsigned int d = cli_edit_distance(word, words[i]);

		if (d <= best && (!near || d < best)) {
			near = words[i];
			best = d;
		}
	}
	return near;
}

/* "missing command (status, metrics, reload or line)": from the table, so
 * a command added to it is named here too. */
static const struct cli_command *cli_missing_command(const struct cli_command *cmds, size_t n)
{
	char list[256] = "";
	size_t used = 0;

	for (size_t i = 0; i < n && used < sizeof(list); i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
					 !i ? "" : i + 1 < n ? ", " : " or ", cmds[i].name);
	cli_usage_error("missing command (%s)", list);
	return NULL;
}

const struct cli_command *cli_command_find(const struct cli_command *cmds, size_t n,
					   const char *name)
{
	const char *names[CLI_NAMES_MAX], *near;
	size_t k = 0;

	if (!name)
		return cli_missing_command(cmds, n);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	for (size_t i = 0; i < n && k < CLI_NAMES_MAX; i++)
		names[k++] = cmds[i].name;
	near = name[0] == '-' ? NULL : cli_suggest(name, names, k);
	if (near)
		cli_usage_error("unknown command '%s' (did you mean '%s'?)", name, near);
	else
		cli_usage_error("unknown command '%s'", name);
	return NULL;
}

/*
 * The long option that name (its first len bytes) abbreviates as getopt
 * takes it: the exact one, the only one, or the first of several that do
 * the same; NULL if none or ambiguous (*count says which).
 */
static const struct option *cli_long_find(const struct option *longopts, const char *name,
					  size_t len, size_t *count)
{
	const struct option *first = NULL;
	bool same = true;

	*count = 0;
	for (const struct option *o = longopts; o && o->name; o++) {
		if (strncmp(o->name, name, len))
			continue;
		if (strlen(o->name) == len) {
			*count = 1;
			return o;
		}
		if (first && (o->has_arg != first->has_arg || o->flag != first->flag ||
			      o->val != first->val))
			same = false;
		first = first ? first : o;
		(*count)++;
	}
	return same ? first : NULL;
}

/* "ambiguous option '--po' (--ports, --poll-idle, ...)" */
static int cli_ambiguous(const struct option *longopts, const char *name, size_t len)
{
	char list[256] = "";
	size_t used = 0;

	for (const struct option *o = longopts; o->name && used < sizeof(list); o++)
		if (!strncmp(o->name, name, len))
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s--%s",
						 used ? ", " : "", o->name);
	return cli_usage_error("ambiguous option '--%.*s' (%s)", (int)len, name, list);
}

/* "unknown option '--foregorund' (did you mean '--foreground'?)" */
static int cli_unknown_long(const struct option *longopts, const char *name, size_t len)
{
	const char *names[CLI_NAMES_MAX], *near = NULL;
	char word[CLI_WORD_MAX + 1];
	size_t n = 0;

	for (const struct option *o = longopts; o && o->name && n < CLI_NAMES_MAX; o++)
		names[n++] = o->name;
	if (len <= CLI_WORD_MAX) {
		snprintf(word, sizeof(word), "%.*s", (int)len, name);
		near = cli_suggest(word, names, n);
	}
	if (near)
		return cli_usage_error("unknown option '--%.*s' (did you mean '--%s'?)", (int)len,
				       name, near);
	return cli_usage_error("unknown option '--%.*s'", (int)len, name);
}

int cli_option_error(int c, char *const argv[], const struct option *longopts)
{
	/* getopt_long() has moved optind past the element it rejected, except
	 * for an unknown short option inside a group (-Zv), which optopt names */
	const char *arg = optind > 0 ? argv[optind - 1] : "", *name = "";
	const struct option *o = NULL;
	size_t len = 0, count = 0;

	if (!strncmp(arg, "--", 2) && arg[2]) {
		name = arg + 2;
		len = strcspn(name, "=");
		o = cli_long_find(longopts, name, len, &count);
	}
	if (c == ':')
		return o ? cli_usage_error("option '--%s' needs an argument", o->name) :
		       len ? cli_usage_error("option '--%.*s' needs an argument", (int)len, name) :
			     cli_usage_error("option '-%c' needs an argument", optopt);
	if (c != '?')
		return cli_usage_error("option parsing failed");
	/* '?' with optopt set: an unknown short option, or a long one given
	 * "=value" that takes none (optopt is then its val) */
	if (optopt && o && o->val == optopt && o->has_arg == no_argument && name[len] == '=')
		return cli_usage_error("option '--%s' takes no argument", o->name);
	if (optopt)
		return cli_usage_error("unknown option '-%c'", optopt);
	if (len && count > 1 && !o)
		return cli_ambiguous(longopts, name, len);
	if (len)
		return cli_unknown_long(longopts, name, len);
	return cli_usage_error("unknown option '%s'", arg);
}

int cli_unexpected_argument(const char *arg)
{
	return cli_usage_error("unexpected argument '%s'", arg);
}
