/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host names resolved without blocking the event loop: getaddrinfo() runs
 * in a short-lived thread of its own per request, and the answer comes back
 * through an eventfd the loop watches, so the callback runs on the loop like
 * every other event.  One slow DNS answer then stalls only the port waiting
 * for it (docs/architecture.md: one loop, nothing in it blocks).
 */
#ifndef REALCOMD_RESOLVE_H
#define REALCOMD_RESOLVE_H

#include "loop.h"
#include "sock.h"

struct resolve_req;

/* err 0 and the address (port 0), or -errno and a reason. */
typedef void resolve_fn(void *arg, int err, const struct sock_addr *a, const char *why);

/*
 * Resolve host.  An IPv4 or IPv6 address needs no lookup: fn runs before this
 * returns, and so it does when the thread cannot be made; both return NULL.
 * Otherwise the request, and fn runs later from the loop.
 */
struct resolve_req *resolve_start(struct loop *l, const char *host, resolve_fn *fn, void *arg);
/* fn will not be called; the thread's answer is thrown away when it comes. */
void resolve_cancel(struct resolve_req *r);

#endif
