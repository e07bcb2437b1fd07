// SPDX-License-Identifier: GPL-2.0-or-later
/* Logging to stderr or syslog; see log.h.  Not thread-safe: nothing here has threads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static const char *log_prog = "realcom";
static bool log_foreground = true;
static bool log_stamps;
static int log_level = LOG_INFO;
static log_writer_fn *log_writer;

void log_init(const char *progname, bool foreground, int level)
{
	log_prog = progname;
	log_foreground = foreground;
	log_level = level;
	if (!foreground)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_timestamps(bool on)
{
	log_stamps = on;
}

void log_set_writer(log_writer_fn *fn)
{
	log_writer = fn;
}

void log_set_level(int level)
{
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

/* "2026-12-05T14:04:31.123Z ": a log read later needs to say when. */
static void log_stamp(char *out, size_t len)
{
	struct timespec ts;
	struct tm tm;

	out[0] = '\0';
	if (!log_stamps || clock_gettime(CLOCK_REALTIME, &ts) < 0 || !gmtime_r(&ts.tv_sec, &tm))
		return;
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 ts.tv_nsec / 1000000);
}

static void log_write(int level, const char *tty, const char *peer, const char *msg)
{
	char stamp[96];

	if (log_writer) {
		log_writer(level, tty, peer, msg);
	} else if (log_foreground) {
		log_stamp(stamp, sizeof(stamp));
		fprintf(stderr, "%s%s: %s%s%s\n", stamp, log_prog, tty, tty[0] ? ": " : "", msg);
	} else {
		syslog(level, "%s%s%s", tty, tty[0] ? ": " : "", msg);
	}
}

void log_vmsg(int level, int err, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	if (err)
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(err));
	log_write(level, "", "", msg);
}

void log_port(int level, const char *tty, const char *peer, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_write(level, tty, peer, msg);
}

static uint64_t log_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool log_limit_pass(struct log_limit *ll, unsigned long *held)
{
	uint64_t now = log_now_ms();
	uint64_t interval = ll->interval_ms ? ll->interval_ms : LOG_LIMIT_MS;

	if (ll->seen && now - ll->last_ms < interval) {
		ll->held++;
		return false;
	}
	*held = ll->held;
	ll->held = 0;
	ll->last_ms = now;
	ll->seen = true;
	return true;
}

bool log_limit_due(struct log_limit *ll, unsigned long *held)
{
	uint64_t interval = ll->interval_ms ? ll->interval_ms : LOG_LIMIT_MS;

	if (!ll->held || log_now_ms() - ll->last_ms < interval)
		return false;
	return log_limit_pass(ll, held);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, 0, fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_WARNING, err, fmt, ap);
	va_end(ap);
	errno = err;
}

void log_warnc(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_WARNING, err < 0 ? -err : err, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, err, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
