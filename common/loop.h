/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one event loop: epoll over fd watches, timers (one timerfd each) and
 * signals (one signalfd).  Single-threaded; callbacks run from loop_run().
 * Watches and timers live in the caller's structs: nothing is allocated per
 * watch, and a watch may be removed from inside any callback.
 */
#ifndef REALCOM_LOOP_H
#define REALCOM_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct loop;
struct loop_watch;
struct loop_timer;

typedef void loop_fd_fn(struct loop_watch *w, uint32_t events);
typedef void loop_timer_fn(struct loop_timer *t);
typedef void loop_signal_fn(struct loop *l, int signo, void *arg);

struct loop_watch {
	struct loop *loop;
	int fd;
	uint32_t events;
	loop_fd_fn *fn;
	void *arg;
};

struct loop_timer {
	struct loop_watch watch;	/* over the timerfd */
	loop_timer_fn *fn;
	void *arg;
	uint64_t interval_ms;
	bool armed;
};

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Watch fd for events (EPOLLIN, EPOLLOUT, EPOLLET ...); w must stay valid
 * until loop_watch_del().  Return 0 or -errno. */
int loop_watch_add(struct loop *l, struct loop_watch *w, int fd, uint32_t events,
		   loop_fd_fn *fn, void *arg);
int loop_watch_mod(struct loop_watch *w, uint32_t events);
/* Stop watching; the fd is not closed.  Safe on a watch never added. */
void loop_watch_del(struct loop_watch *w);

int loop_timer_init(struct loop *l, struct loop_timer *t, loop_timer_fn *fn, void *arg);
/* Fire once after ms (0 fires at once), then every interval_ms if non-zero. */
int loop_timer_arm(struct loop_timer *t, uint64_t ms, uint64_t interval_ms);
void loop_timer_disarm(struct loop_timer *t);
/* Disarm, stop watching and close the timerfd.  Safe on a zeroed timer. */
void loop_timer_free(struct loop_timer *t);

/* Deliver signo through the loop instead of asynchronously (blocks it). */
int loop_signal_add(struct loop *l, int signo, loop_signal_fn *fn, void *arg);

/* Run until loop_exit(); returns the code given to it, or -errno. */
int loop_run(struct loop *l);
void loop_exit(struct loop *l, int code);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t loop_now_ms(void);

#endif
