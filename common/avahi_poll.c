// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * AvahiPoll over common/loop; see avahi_poll.h.  A watch is a loop_watch, a
 * timeout a loop_timer; avahi's absolute wall-clock deadlines become relative
 * monotonic delays when they are set.  Avahi may free a watch or a timeout
 * from inside its own callback: the loop allows that.
 */
#include <stdlib.h>
#include <sys/time.h>

#include <avahi-common/timeval.h>

#include "avahi_poll.h"

struct AvahiWatch {
	struct loop_watch w;
	AvahiWatchCallback cb;
	void *userdata;
	AvahiWatchEvent revents;	/* during the callback */
};

struct AvahiTimeout {
	struct loop_timer t;
	AvahiTimeoutCallback cb;
	void *userdata;
};

static uint32_t al_epoll_events(AvahiWatchEvent e)
{
	return (e & AVAHI_WATCH_IN ? EPOLLIN : 0) | (e & AVAHI_WATCH_OUT ? EPOLLOUT : 0);
}

static void al_watch_ready(struct loop_watch *lw, uint32_t events)
{
	AvahiWatch *w = lw->arg;

	w->revents = (events & EPOLLIN ? AVAHI_WATCH_IN : 0) |
		     (events & EPOLLOUT ? AVAHI_WATCH_OUT : 0) |
		     (events & EPOLLERR ? AVAHI_WATCH_ERR : 0) |
		     (events & EPOLLHUP ? AVAHI_WATCH_HUP : 0);
	w->cb(w, lw->fd, w->revents, w->userdata);
	/* w may be freed now */
}

static AvahiWatch *al_watch_new(const AvahiPoll *api, int fd, AvahiWatchEvent event,
				AvahiWatchCallback cb, void *userdata)
{
	struct avahi_loop *al = api->userdata;
	AvahiWatch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->cb = cb;
	w->userdata = userdata;
	if (loop_watch_add(al->loop, &w->w, fd, al_epoll_events(event), al_watch_ready, w) < 0) {
		free(w);
		return NULL;
	}
	return w;
}

static void al_watch_update(AvahiWatch *w, AvahiWatchEvent event)
{
	loop_watch_mod(&w->w, al_epoll_events(event));
}

static AvahiWatchEvent al_watch_get_events(AvahiWatch *w)
{
	return w->revents;
}

static void al_watch_free(AvahiWatch *w)
{
	loop_watch_del(&w->w);
	free(w);
}

static void al_timeout_fired(struct loop_timer *t)
{
	AvahiTimeout *to = t->arg;

	to->cb(to, to->userdata);
	/* to may be freed now */
}

static void al_timeout_update(AvahiTimeout *to, const struct timeval *tv)
{
	AvahiUsec left;

	if (!tv) {
		loop_timer_disarm(&to->t);
		return;
	}
	left = -avahi_age(tv);		/* microseconds until tv; negative when past */
	loop_timer_arm(&to->t, left > 0 ? (uint64_t)(left + 999) / 1000 : 0, 0);
}

static AvahiTimeout *al_timeout_new(const AvahiPoll *api, const struct timeval *tv,
				    AvahiTimeoutCallback cb, void *userdata)
{
	struct avahi_loop *al = api->userdata;
	AvahiTimeout *to = calloc(1, sizeof(*to));

	if (!to)
		return NULL;
	to->cb = cb;
	to->userdata = userdata;
	if (loop_timer_init(al->loop, &to->t, al_timeout_fired, to) < 0) {
		free(to);
		return NULL;
	}
	al_timeout_update(to, tv);
	return to;
}

static void al_timeout_free(AvahiTimeout *to)
{
	loop_timer_free(&to->t);
	free(to);
}

void avahi_loop_init(struct avahi_loop *al, struct loop *l)
{
	al->loop = l;
	al->api = (AvahiPoll){
		.userdata = al,
		.watch_new = al_watch_new,
		.watch_update = al_watch_update,
		.watch_get_events = al_watch_get_events,
		.watch_free = al_watch_free,
		.timeout_new = al_timeout_new,
		.timeout_update = al_timeout_update,
		.timeout_free = al_timeout_free,
	};
}
