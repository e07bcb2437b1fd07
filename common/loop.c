// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * epoll event loop; see loop.h.  A watch removed while its events are still
 * pending in the current batch is struck out of the batch, so callbacks
 * never see freed watches.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

#define LOOP_BATCH	64

struct loop_sig {
	loop_signal_fn *fn;
	void *arg;
};

struct loop {
	int epfd;
	bool running;
	int exit_code;
	struct epoll_event batch[LOOP_BATCH];
	int batch_len;
	int batch_pos;
	struct loop_watch sig_watch;
	sigset_t sigs;
	struct loop_sig sig[NSIG];
};

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	l->sig_watch.fd = -1;
	sigemptyset(&l->sigs);
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	if (l->sig_watch.fd >= 0) {
		loop_watch_del(&l->sig_watch);
		close(l->sig_watch.fd);
		sigprocmask(SIG_UNBLOCK, &l->sigs, NULL);
	}
	close(l->epfd);
	free(l);
}

int loop_watch_add(struct loop *l, struct loop_watch *w, int fd, uint32_t events,
		   loop_fd_fn *fn, void *arg)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	*w = (struct loop_watch){ .loop = l, .fd = fd, .events = events, .fn = fn, .arg = arg };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		w->loop = NULL;
		return -errno;
	}
	return 0;
}

int loop_watch_mod(struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (!w->loop)
		return -EINVAL;
	if (events == w->events)
		return 0;
	if (epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		return -errno;
	w->events = events;
	return 0;
}

void loop_watch_del(struct loop_watch *w)
{
	struct loop *l = w->loop;

	if (!l)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	for (int i = l->batch_pos; i < l->batch_len; i++)
		if (l->batch[i].data.ptr == w)
			l->batch[i].data.ptr = NULL;
	w->loop = NULL;
}

static void loop_timer_ready(struct loop_watch *w, uint32_t events)
{
	struct loop_timer *t = w->arg;
	uint64_t expirations;

	if (read(w->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	if (!t->armed)
		return;
	/* One-shot timers are disarmed before the callback so it may re-arm. */
	if (!t->interval_ms)
		t->armed = false;
	t->fn(t);
}

int loop_timer_init(struct loop *l, struct loop_timer *t, loop_timer_fn *fn, void *arg)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	*t = (struct loop_timer){ .fn = fn, .arg = arg };
	r = loop_watch_add(l, &t->watch, fd, EPOLLIN, loop_timer_ready, t);
	if (r < 0) {
		close(fd);
		t->watch.fd = -1;
	}
	return r;
}

static struct timespec ms_to_ts(uint64_t ms)
{
	return (struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
}

int loop_timer_arm(struct loop_timer *t, uint64_t ms, uint64_t interval_ms)
{
	/* it_value 0 would disarm: the shortest real delay is 1 ns. */
	struct itimerspec its = {
		.it_value = ms ? ms_to_ts(ms) : (struct timespec){ .tv_nsec = 1 },
		.it_interval = ms_to_ts(interval_ms),
	};

	if (timerfd_settime(t->watch.fd, 0, &its, NULL) < 0)
		return -errno;
	t->interval_ms = interval_ms;
	t->armed = true;
	return 0;
}

void loop_timer_disarm(struct loop_timer *t)
{
	struct itimerspec its = { 0 };

	if (t->watch.loop)
		timerfd_settime(t->watch.fd, 0, &its, NULL);
	t->armed = false;
}

void loop_timer_free(struct loop_timer *t)
{
	if (!t->watch.loop)
		return;
	loop_timer_disarm(t);
	loop_watch_del(&t->watch);
	close(t->watch.fd);
	t->watch.fd = -1;
}

static void loop_signal_ready(struct loop_watch *w, uint32_t events)
{
	struct loop *l = w->arg;
	struct signalfd_siginfo si;

	/* Bounded: one batch of pending signals per wake-up. */
	for (int i = 0; i < 16; i++) {
		if (read(w->fd, &si, sizeof(si)) != sizeof(si))
			return;
		if (si.ssi_signo < NSIG && l->sig[si.ssi_signo].fn)
			l->sig[si.ssi_signo].fn(l, (int)si.ssi_signo, l->sig[si.ssi_signo].arg);
	}
}

int loop_signal_add(struct loop *l, int signo, loop_signal_fn *fn, void *arg)
{
	int fd;

	if (signo <= 0 || signo >= NSIG)
		return -EINVAL;
	sigaddset(&l->sigs, signo);
	if (sigprocmask(SIG_BLOCK, &l->sigs, NULL) < 0)
		return -errno;
	fd = signalfd(l->sig_watch.fd, &l->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (l->sig_watch.fd < 0) {
		int r = loop_watch_add(l, &l->sig_watch, fd, EPOLLIN, loop_signal_ready, l);
		if (r < 0) {
			close(fd);
			return r;
		}
	}
	l->sig[signo] = (struct loop_sig){ .fn = fn, .arg = arg };
	return 0;
}

int loop_run(struct loop *l)
{
	l->running = true;
	while (l->running) {
		int n = epoll_wait(l->epfd, l->batch, LOOP_BATCH, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		l->batch_len = n;
		for (l->batch_pos = 0; l->batch_pos < l->batch_len; l->batch_pos++) {
			struct epoll_event *ev = &l->batch[l->batch_pos];
			struct loop_watch *w = ev->data.ptr;

			if (w)
				w->fn(w, ev->events);
		}
		l->batch_len = 0;
	}
	return l->exit_code;
}

void loop_exit(struct loop *l, int code)
{
	l->running = false;
	l->exit_code = code;
}

uint64_t loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
