/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A JSON-lines control socket server: a UNIX stream socket whose clients
 * send one JSON object per line and get one object back per line.  Used by
 * realcomd (realcomctl's socket) and nportsim (the tests' socket); what the
 * requests mean is the handler's business.
 */
#ifndef REALCOM_CTLSOCK_H
#define REALCOM_CTLSOCK_H

#include <sys/types.h>

#include <json-c/json.h>

#include "conn.h"
#include "loop.h"

#define CTLSOCK_CLIENTS	8

/* Answer one request; the returned object is sent and released.  "ok" is
 * added when the handler did not set it. */
typedef json_object *ctlsock_fn(void *arg, json_object *req);

struct ctlsock {
	struct loop *loop;
	int fd;
	char path[108];
	struct loop_watch watch;
	ctlsock_fn *fn;
	void *arg;
	struct conn client[CTLSOCK_CLIENTS];
};

/* Listen on path (an old socket there is replaced) with the given mode. */
int ctlsock_open(struct ctlsock *cs, struct loop *l, const char *path, mode_t mode,
		 ctlsock_fn *fn, void *arg);
void ctlsock_close(struct ctlsock *cs);

/* {"ok": false, "error": why} */
json_object *ctlsock_error(const char *why);

/*
 * The client side: send one request line to the socket at path and return
 * the reply object (the caller puts it), or NULL with err saying why
 * (e.g. "No such file or directory" when nothing listens there).
 */
json_object *ctlsock_ask(const char *path, const char *request, char *err, size_t errlen);

#endif
