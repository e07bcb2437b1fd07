/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For the guest programs (tty_test, e2e): is a task asleep inside a given
 * system call?  A test that must start something only once another task
 * waits (TIOCMIWAIT, a blocking read) asks this in a loop with a deadline
 * instead of sleeping and hoping.
 */
#ifndef REALCOM_TESTS_VM_BLOCKED_H
#define REALCOM_TESTS_VM_BLOCKED_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/*
 * True when task tid (a process, or a thread of any process) sleeps (state
 * S or D in /proc/TID/stat) inside system call nr (/proc/TID/syscall).
 * *state and *cur get what was read ('?' and -1 when unreadable), for a
 * caller's message.
 */
static inline bool task_blocked_in(pid_t tid, long nr, char *state, long *cur)
{
	char path[64], buf[256];
	FILE *f;

	*state = '?';
	*cur = -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(buf, sizeof(buf), f)) {
			char *p = strrchr(buf, ')');

			if (p && p[1] == ' ')
				*state = p[2];
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)tid);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", cur) != 1)
			*cur = -1;
		fclose(f);
	}
	return (*state == 'S' || *state == 'D') && *cur == nr;
}

#endif
