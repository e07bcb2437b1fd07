/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * avahi-client's AvahiPoll API over the one event loop (common/loop), so a
 * program publishes (nportsim) or browses (dsu) mDNS without a second loop
 * or a thread.  Only the adapter: what is published or browsed is the
 * caller's business.
 */
#ifndef REALCOM_AVAHI_POLL_H
#define REALCOM_AVAHI_POLL_H

#include <avahi-common/watch.h>

#include "loop.h"

struct avahi_loop {
	AvahiPoll api;		/* pass &api to avahi_client_new() */
	struct loop *loop;
};

void avahi_loop_init(struct avahi_loop *al, struct loop *l);

#endif
