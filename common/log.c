// SPDX-License-Identifier: GPL-2.0-or-later
/* Logging to stderr or syslog; see log.h.  Not thread-safe: nothing here has threads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *log_prog = "realcom";
static bool log_foreground = true;
static int log_level = LOG_INFO;

void log_init(const char *progname, bool foreground, int level)
{
	log_prog = progname;
	log_foreground = foreground;
	log_level = level;
	if (!foreground)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(int level)
{
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

void log_vmsg(int level, int err, const char *fmt, va_list ap)
{
	char msg[1024];

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_foreground) {
		if (err)
			fprintf(stderr, "%s: %s: %s\n", log_prog, msg, strerror(err));
		else
			fprintf(stderr, "%s: %s\n", log_prog, msg);
	} else {
		if (err)
			syslog(level, "%s: %s", msg, strerror(err));
		else
			syslog(level, "%s", msg);
	}
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
