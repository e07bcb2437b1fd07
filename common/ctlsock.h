/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A JSON-lines control socket server: a UNIX stream socket whose clients
 * send one JSON object per line and get one object back per line.  Used by
 * realcomd (realcomctl's socket) and nportsim (the tests' socket); what the
 * requests mean is the handler's business.
 */
#ifndef REALCOM_CTLSOCK_H
#define REALCOM_CTLSOCK_H

#include <sys/socket.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "conn.h"
#include "loop.h"

/* Clients at once; one more makes the one idle longest yield its place. */
#define CTLSOCK_CLIENTS	16
/* What a daemon gives ctlsock_set_idle(): long enough for a person. */
#define CTLSOCK_IDLE_MS	30000

/* Answer one request; the returned object is sent and released.  "ok" is
 * added when the handler did not set it. */
typedef json_object *ctlsock_fn(void *arg, json_object *req);

struct ctlsock;

struct ctlsock_client {
	struct ctlsock *cs;
	struct conn conn;
	uint64_t last_ms;		/* accepted, or its last request */
	struct ucred cred;		/* SO_PEERCRED at accept */
};

struct ctlsock {
	struct loop *loop;
	int fd;
	char path[108];
	struct loop_watch watch;
	struct loop_timer idle;
	uint64_t idle_ms;		/* 0: idle clients stay (until one more comes) */
	ctlsock_fn *fn;
	void *arg;
	const struct ucred *peer;	/* who sent the request fn is answering */
	struct ctlsock_client client[CTLSOCK_CLIENTS];
};

/* Listen on path with the given mode: an old socket there is replaced,
 * anything else is left alone (-EEXIST).  Failures are logged. */
int ctlsock_open(struct ctlsock *cs, struct loop *l, const char *path, mode_t mode,
		 ctlsock_fn *fn, void *arg);
void ctlsock_close(struct ctlsock *cs);
/* Close clients that send nothing for ms (a tool's long-lived client, as
 * the tests keep to nportsim, wants none: the default).  0 or -errno. */
int ctlsock_set_idle(struct ctlsock *cs, uint64_t ms);
/* Hand the socket to group gid with mode (e.g. 0660); 0 or -errno. */
int ctlsock_set_group(struct ctlsock *cs, gid_t gid, mode_t mode);
/* For the handler: the credentials of the client whose request it answers. */
static inline const struct ucred *ctlsock_peer(const struct ctlsock *cs)
{
	return cs->peer;
}

/* {"ok": false, "error": why} */
json_object *ctlsock_error(const char *why);

/*
 * The client side: send one request line to the socket at path and return
 * the reply object (the caller puts it), or NULL with err saying why
 * (e.g. "No such file or directory" when nothing listens there, or that the
 * server closed the connection before answering).  Never dies of SIGPIPE;
 * gives up after CTLSOCK_ASK_MS without an answer.
 */
#define CTLSOCK_ASK_MS	30000
json_object *ctlsock_ask(const char *path, const char *request, char *err, size_t errlen);

#endif
