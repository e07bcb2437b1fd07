/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one logging module of every program: stderr when in the foreground,
 * syslog otherwise.  log_warn() appends strerror(errno), log_warnx() does
 * not; fatal()/fatalx() log and exit(1).  Callers never pass secrets here.
 */
#ifndef REALCOM_LOG_H
#define REALCOM_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

/* progname prefixes every line; level is a syslog level (LOG_INFO ...). */
void log_init(const char *progname, bool foreground, int level);
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

__attribute__((noreturn, format(printf, 1, 2))) void fatal(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void fatalx(const char *fmt, ...);

#endif
