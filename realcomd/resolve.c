// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Non-blocking name resolution; see resolve.h.  A thread per request rather
 * than getaddrinfo_a(): the same sock_resolve() as everywhere else (with its
 * AI_ADDRCONFIG retry), and no signal to route.  The thread touches only its
 * request's host and answer fields and the done list (under the lock); the
 * callback and cancellation stay on the loop, so they need no lock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "resolve.h"

struct resolve_req {
	struct resolve_req *next;	/* on the done list */
	resolve_fn *fn;			/* NULL: cancelled */
	void *arg;
	char host[256];
	int err;
	struct sock_addr a;
	char why[128];
};

static struct {
	pthread_mutex_t lock;
	struct resolve_req *done;	/* answers the loop has not taken yet */
	int efd;
	struct loop_watch w;
} rs = { .lock = PTHREAD_MUTEX_INITIALIZER, .efd = -1 };

static void resolve_answer(struct resolve_req *r)
{
	if (r->fn)
		r->fn(r->arg, r->err, &r->a, r->why);
	free(r);
}

static void resolve_event(struct loop_watch *w, uint32_t events)
{
	struct resolve_req *list, *r;
	uint64_t n;

	if (read(rs.efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("resolver eventfd");
	pthread_mutex_lock(&rs.lock);
	list = rs.done;
	rs.done = NULL;
	pthread_mutex_unlock(&rs.lock);
	while ((r = list)) {
		list = r->next;
		resolve_answer(r);
	}
}

static void resolve_lookup(struct resolve_req *r)
{
	const char *why = NULL;

	r->err = sock_resolve(r->host, 0, &r->a, &why);
	if (r->err < 0)
		snprintf(r->why, sizeof(r->why), "%s", why ? why : "cannot resolve");
}

static void *resolve_thread(void *arg)
{
	struct resolve_req *r = arg;
	uint64_t one = 1;

	resolve_lookup(r);
	pthread_mutex_lock(&rs.lock);
	r->next = rs.done;
	rs.done = r;
	pthread_mutex_unlock(&rs.lock);
	if (write(rs.efd, &one, sizeof(one)) < 0)
		log_warn("resolver eventfd");
	return NULL;
}

static int resolve_open(struct loop *l)
{
	if (rs.efd >= 0)
		return 0;
	rs.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (rs.efd < 0)
		return -errno;
	if (loop_watch_add(l, &rs.w, rs.efd, EPOLLIN, resolve_event, NULL) < 0) {
		close(rs.efd);
		rs.efd = -1;
		return -EIO;
	}
	return 0;
}

static bool resolve_numeric(const char *host)
{
	uint8_t a[16];

	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

struct resolve_req *resolve_start(struct loop *l, const char *host, resolve_fn *fn, void *arg)
{
	struct resolve_req *r = calloc(1, sizeof(*r));
	pthread_attr_t attr;
	pthread_t t;
	int e;

	if (!r) {
		fn(arg, -ENOMEM, NULL, strerror(ENOMEM));
		return NULL;
	}
	*r = (struct resolve_req){ .fn = fn, .arg = arg };
	snprintf(r->host, sizeof(r->host), "%s", host);
	e = resolve_numeric(host) ? -1 : resolve_open(l);
	if (e == 0 && pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		e = pthread_create(&t, &attr, resolve_thread, r);
		pthread_attr_destroy(&attr);
		if (e == 0)
			return r;
		log_warnx("%s: resolver thread: %s; resolving in the loop", host, strerror(e));
	}
	/* An address, or no thread: at once (an address never waits for DNS). */
	resolve_lookup(r);
	resolve_answer(r);
	return NULL;
}

void resolve_cancel(struct resolve_req *r)
{
	if (r)
		r->fn = NULL;
}
