// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the event loop (common/loop.c).  alarm() bounds each test. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "loop.h"

struct counts {
	struct loop *loop;
	int calls;
	int other_calls;
	struct loop_watch *victim;
	struct loop_timer *timer;
};

static void on_readable(struct loop_watch *w, uint32_t events)
{
	struct counts *c = w->arg;
	char ch;

	assert_true(events & EPOLLIN);
	assert_int_equal(read(w->fd, &ch, 1), 1);
	c->calls++;
	if (c->victim) {
		loop_watch_del(c->victim);	/* its event is pending in this batch */
		c->victim = NULL;
	}
	if (c->calls + c->other_calls >= 2 || c->other_calls == 0)
		loop_exit(c->loop, 7);
}

static void on_other(struct loop_watch *w, uint32_t events)
{
	struct counts *c = w->arg;

	c->other_calls++;
}

static void test_watch_and_delete_in_batch(void **state)
{
	struct loop *l = loop_new();
	struct loop_watch a, b;
	struct counts c = { .loop = l };
	int p1[2], p2[2];

	alarm(10);
	assert_non_null(l);
	assert_int_equal(pipe(p1), 0);
	assert_int_equal(pipe(p2), 0);
	assert_int_equal(loop_watch_add(l, &a, p1[0], EPOLLIN, on_readable, &c), 0);
	assert_int_equal(loop_watch_add(l, &b, p2[0], EPOLLIN, on_other, &c), 0);
	/* Both readable before the loop runs: one epoll_wait returns both. */
	assert_int_equal(write(p1[1], "x", 1), 1);
	assert_int_equal(write(p2[1], "y", 1), 1);
	c.victim = &b;
	assert_int_equal(loop_run(l), 7);
	/* on_readable may or may not have run first; b must never run after its deletion */
	assert_int_equal(c.calls, 1);
	assert_true(c.other_calls <= 1);
	assert_null(b.loop);
	loop_watch_del(&b);	/* twice is harmless */
	assert_int_equal(loop_watch_add(l, &b, -1, EPOLLIN, on_other, &c), -EBADF);
	loop_watch_del(&a);
	loop_free(l);
	close(p1[0]), close(p1[1]), close(p2[0]), close(p2[1]);
	alarm(0);
}

static void test_watch_mod(void **state)
{
	struct loop *l = loop_new();
	struct loop_watch a;
	struct counts c = { .loop = l };
	int p[2];

	alarm(10);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(loop_watch_add(l, &a, p[1], 0, on_other, &c), 0);
	assert_int_equal(loop_watch_mod(&a, EPOLLOUT), 0);
	assert_int_equal(a.events, EPOLLOUT);
	loop_watch_del(&a);
	assert_int_equal(loop_watch_mod(&a, EPOLLIN), -EINVAL);
	loop_free(l);
	close(p[0]), close(p[1]);
	alarm(0);
}

static void on_timer(struct loop_timer *t)
{
	struct counts *c = t->arg;

	c->calls++;
	if (c->calls == 3)
		loop_exit(c->loop, 0);
}

static void test_timer_periodic(void **state)
{
	struct loop *l = loop_new();
	struct loop_timer t;
	struct counts c = { .loop = l };

	alarm(10);
	assert_int_equal(loop_timer_init(l, &t, on_timer, &c), 0);
	assert_false(t.armed);
	assert_int_equal(loop_timer_arm(&t, 1, 1), 0);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(c.calls, 3);
	assert_true(t.armed);
	loop_timer_disarm(&t);
	assert_false(t.armed);
	loop_timer_free(&t);
	loop_timer_free(&t);
	loop_free(l);
	alarm(0);
}

static void on_oneshot(struct loop_timer *t)
{
	struct counts *c = t->arg;

	assert_false(t->armed);
	c->calls++;
	if (c->calls < 3)
		assert_int_equal(loop_timer_arm(t, 0, 0), 0);	/* re-arm from its own callback */
	else
		loop_exit(c->loop, 3);
}

static void test_timer_oneshot_rearm(void **state)
{
	struct loop *l = loop_new();
	struct loop_timer t;
	struct counts c = { .loop = l };

	alarm(10);
	assert_int_equal(loop_timer_init(l, &t, on_oneshot, &c), 0);
	assert_int_equal(loop_timer_arm(&t, 0, 0), 0);
	assert_int_equal(loop_run(l), 3);
	assert_int_equal(c.calls, 3);
	loop_timer_free(&t);
	loop_free(l);
	alarm(0);
}

/* A timer disarmed by another callback after it expired must not fire. */
static void on_disarm_other(struct loop_watch *w, uint32_t events)
{
	struct counts *c = w->arg;
	char ch;

	assert_int_equal(read(w->fd, &ch, 1), 1);
	loop_timer_disarm(c->timer);
	loop_exit(c->loop, 0);
}

static void test_timer_disarm_pending(void **state)
{
	struct loop *l = loop_new();
	struct loop_timer t;
	struct loop_watch w;
	struct counts c = { .loop = l, .timer = &t };
	int p[2];
	struct pollfd pfd = { .events = POLLIN };

	alarm(10);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(loop_timer_init(l, &t, on_timer, &c), 0);
	assert_int_equal(loop_watch_add(l, &w, p[0], EPOLLIN, on_disarm_other, &c), 0);
	/* The pipe becomes ready first, so epoll hands it out before the timer. */
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(loop_timer_arm(&t, 1, 0), 0);
	pfd.fd = t.watch.fd;
	/* Wait (bounded) until the timer has expired too. */
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(c.calls, 0);
	loop_watch_del(&w);
	loop_timer_free(&t);
	loop_free(l);
	close(p[0]), close(p[1]);
	alarm(0);
}

static void on_signal(struct loop *l, int signo, void *arg)
{
	int *got = arg;

	*got = signo;
	loop_exit(l, 0);
}

static void test_signal(void **state)
{
	struct loop *l = loop_new();
	int got = 0;

	alarm(10);
	assert_int_equal(loop_signal_add(l, SIGUSR1, on_signal, &got), 0);
	assert_int_equal(loop_signal_add(l, SIGUSR2, on_signal, &got), 0);
	assert_int_equal(loop_signal_add(l, 0, on_signal, &got), -EINVAL);
	raise(SIGUSR2);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(got, SIGUSR2);
	loop_free(l);
	alarm(0);
}

static void test_now_monotonic(void **state)
{
	uint64_t a = loop_now_ms(), b = loop_now_ms();

	assert_true(b >= a);
	assert_true(a > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watch_and_delete_in_batch),
		cmocka_unit_test(test_watch_mod),
		cmocka_unit_test(test_timer_periodic),
		cmocka_unit_test(test_timer_oneshot_rearm),
		cmocka_unit_test(test_timer_disarm_pending),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_now_monotonic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
