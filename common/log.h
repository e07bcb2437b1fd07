/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one logging module of every program: stderr when in the foreground
 * (a daemon's lines with a UTC timestamp), syslog otherwise, or a writer the
 * program installs (realcomd's journald writer).  log_warn() appends
 * strerror(errno), log_warnx() does not; fatal()/fatalx() log and exit(1).
 * log_limited() is for every line a remote device can trigger: the first
 * occurrence, then at most one line per interval with how many were held
 * back.  Callers never pass secrets here.
 */
#ifndef REALCOM_LOG_H
#define REALCOM_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

/* progname prefixes every line; level is a syslog level (LOG_INFO ...). */
void log_init(const char *progname, bool foreground, int level);
/* Stamp foreground lines with the time (default off: tools print to a
 * user; a daemon turns it on unless a journal, which has its own, reads). */
void log_set_timestamps(bool on);

/*
 * Where lines go instead of stderr/syslog, e.g. sd_journal_send() with
 * fields: tty and peer are "" unless the line is about a port
 * (log_port()).  NULL restores the default.
 */
typedef void log_writer_fn(int level, const char *tty, const char *peer, const char *msg);
void log_set_writer(log_writer_fn *fn);
void log_set_level(int level);
int log_get_level(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like log_warn with an explicit error number (functions return -errno). */
void log_warnc(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, int err, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/* A line about one port: "tty: message", with TTY= and PEER= for a writer. */
void log_port(int level, const char *tty, const char *peer, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * One rate limit per kind of line (zero-initialised; interval_ms 0 means
 * LOG_LIMIT_MS).  log_limit_pass() says whether to log this occurrence now
 * and, when it is, how many were held back since the last one logged.
 * The caller keeps the last held line in level and last; log_limit_due(),
 * called periodically, says when to log how many were held back (so a flood
 * that stops is still counted in the log, within an interval).
 */
#define LOG_LIMIT_MS	10000
struct log_limit {
	uint64_t interval_ms;
	uint64_t last_ms;	/* when the last line was let through */
	unsigned long held;	/* occurrences since, not logged */
	bool seen;
	int level;		/* of the last one held */
	char last[160];		/* its text */
};
bool log_limit_pass(struct log_limit *ll, unsigned long *held);
bool log_limit_due(struct log_limit *ll, unsigned long *held);

__attribute__((noreturn, format(printf, 1, 2))) void fatal(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void fatalx(const char *fmt, ...);

#endif
