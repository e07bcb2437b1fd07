// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Passwords never come from argv: a file (not readable by others), the
 * DSU_PASSWORD environment variable, or the terminal with echo off.  The
 * G2's default policy is checked here before anything goes on the wire.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "dsu.h"

void secret_wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
}

/* Take s (one line, its newline dropped) into out; -1 when it does not fit. */
static int secret_take(const char *s, char out[DSU_PASSWORD_MAX], char *err, const char *from)
{
	size_t n = strcspn(s, "\r\n");

	if (n >= DSU_PASSWORD_MAX) {
		snprintf(err, DSU_ERR_MAX, "the password from %s is longer than %d characters", from,
			 DSU_PASSWORD_MAX - 1);
		return -1;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static int secret_file(const char *file, char out[DSU_PASSWORD_MAX], char *err)
{
	char buf[DSU_PASSWORD_MAX + 2] = "";
	struct stat st;
	ssize_t n;
	int fd, r;

	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, DSU_ERR_MAX, "--password-file %s: %s", file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, DSU_ERR_MAX, "--password-file %s: readable by others (mode %04o): "
			 "chmod 600 it", file, (unsigned int)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		snprintf(err, DSU_ERR_MAX, "--password-file %s: %s", file,
			 n < 0 ? strerror(errno) : "empty");
		return -1;
	}
	buf[n] = '\0';
	r = secret_take(buf, out, err, file);
	secret_wipe(buf, sizeof(buf));
	return r;
}

/* One line from the terminal with echo off. */
static int secret_prompt(FILE *tty, const char *prompt, char out[DSU_PASSWORD_MAX], char *err)
{
	char buf[DSU_PASSWORD_MAX + 2];
	struct termios old, quiet;
	int fd = fileno(tty), r = -1;

	if (tcgetattr(fd, &old) < 0) {
		snprintf(err, DSU_ERR_MAX, "cannot read the terminal: %s", strerror(errno));
		return -1;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	quiet.c_lflag |= ICANON;
	fputs(prompt, tty);
	fflush(tty);
	tcsetattr(fd, TCSAFLUSH, &quiet);
	if (fgets(buf, sizeof(buf), tty))
		r = secret_take(buf, out, err, "the terminal");
	else
		snprintf(err, DSU_ERR_MAX, "no password given");
	tcsetattr(fd, TCSAFLUSH, &old);
	fputs("\n", tty);
	secret_wipe(buf, sizeof(buf));
	return r;
}

int secret_get(const char *file, bool confirm, char out[DSU_PASSWORD_MAX], char *err)
{
	char again[DSU_PASSWORD_MAX];
	const char *env = getenv("DSU_PASSWORD");
	FILE *tty;
	int r;

	if (file)
		return secret_file(file, out, err);
	if (env)
		return secret_take(env, out, err, "DSU_PASSWORD");
	tty = fopen("/dev/tty", "r+e");
	if (!tty) {
		snprintf(err, DSU_ERR_MAX, "no password: give --password-file FILE or DSU_PASSWORD, "
			 "or run dsu on a terminal");
		return -1;
	}
	r = secret_prompt(tty, "Password: ", out, err);
	if (r == 0 && confirm) {
		r = secret_prompt(tty, "Password again: ", again, err);
		if (r == 0 && strcmp(out, again) != 0) {
			snprintf(err, DSU_ERR_MAX, "the two passwords differ");
			r = -1;
		}
		secret_wipe(again, sizeof(again));
	}
	fclose(tty);
	return r;
}

const char *secret_policy(const char *password)
{
	if (strlen(password) < DSU_MIN_PASSWORD)
		return "min_length: at least 8 characters (the G2's default policy)";
	for (const unsigned char *p = (const unsigned char *)password; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "no control characters";
	return NULL;
}
