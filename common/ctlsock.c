// SPDX-License-Identifier: GPL-2.0-or-later
/* JSON-lines control socket server; see ctlsock.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlsock.h"
#include "log.h"

#define CTLSOCK_IN	(64 * 1024)	/* the longest request */
#define CTLSOCK_OUT	(1024 * 1024)	/* the longest reply */

json_object *ctlsock_error(const char *why)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(false));
	json_object_object_add(o, "error", json_object_new_string(why));
	return o;
}

/* One request line: answer it. */
static void ctlsock_answer(struct ctlsock_client *cl, const char *line)
{
	struct ctlsock *cs = cl->cs;
	json_object *req = json_tokener_parse(line), *reply;
	const char *text;
	size_t len;

	cs->peer = &cl->cred;
	if (req && json_object_is_type(req, json_type_object))
		reply = cs->fn(cs->arg, req);
	else
		reply = ctlsock_error("not a JSON object");
	cs->peer = NULL;
	json_object_put(req);
	if (!json_object_object_get_ex(reply, "ok", NULL))
		json_object_object_add(reply, "ok", json_object_new_boolean(true));
	text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
	len = strlen(text);
	if (!conn_is_open(&cl->conn))
		;	/* the client left (a write failed): nobody to answer */
	else if (conn_send_room(&cl->conn) < len + 1) {
		static struct log_limit big;
		unsigned long held;

		if (log_limit_pass(&big, &held))
			log_warnx("control: a reply of %zu bytes does not fit in %d; dropped (%lu "
				  "more since)", len + 1, CTLSOCK_OUT, held);
	} else {
		conn_send(&cl->conn, text, len);
		conn_send(&cl->conn, "\n", 1);
	}
	json_object_put(reply);
}

/*
 * Every complete line gets its answer, in order (a client may pipeline
 * many).  While the replies not yet written fill half the output buffer,
 * reading stops; ctlsock_drained() picks up where this left off.
 */
static void ctlsock_input(struct conn *c)
{
	struct ctlsock_client *cl = c->arg;
	char line[CTLSOCK_IN];

	cl->last_ms = loop_now_ms();
	while (c->state == CONN_OPEN) {
		const uint8_t *nl = memchr(buf_head(&c->in), '\n', buf_len(&c->in));
		size_t len;

		if (!nl) {
			if (buf_room(&c->in) == 0) {
				static struct log_limit longer;
				unsigned long held;

				if (log_limit_pass(&longer, &held))
					log_warnx("control: a request longer than %d bytes; closing "
						  "(%lu more since)", CTLSOCK_IN, held);
				conn_close(c);
			}
			return;
		}
		if (conn_send_room(c) < CTLSOCK_OUT / 2) {
			conn_pause(c, true);
			return;
		}
		len = (size_t)(nl - buf_head(&c->in));
		memcpy(line, buf_head(&c->in), len);
		line[len] = '\0';
		buf_consume(&c->in, len + 1);
		ctlsock_answer(cl, line);
	}
}

static void ctlsock_drained(struct conn *c)
{
	struct ctlsock_client *cl = c->arg;

	cl->last_ms = loop_now_ms();	/* it reads: not idle */
	if (!c->paused)
		return;
	ctlsock_input(c);
	if (c->state == CONN_OPEN && conn_send_room(c) >= CTLSOCK_OUT / 2)
		conn_pause(c, false);
}

static void ctlsock_closed(struct conn *c, int err)
{
}

static const struct conn_ops ctlsock_ops = {
	.input = ctlsock_input,
	.drained = ctlsock_drained,
	.closed = ctlsock_closed,
};

/*
 * A free slot for a new client.  When all are taken, the client idle
 * longest (no request, no reading of its answers: last_ms) yields: programs
 * that connect and wait, or send half a line, must not lock the operator
 * out of status.  Root's clients yield only to root, and to root the others
 * yield first: members of control_group cannot crowd out the operator.
 */
static struct ctlsock_client *ctlsock_slot(struct ctlsock *cs, bool root)
{
	struct ctlsock_client *oldest = NULL;

	for (int i = 0; i < CTLSOCK_CLIENTS; i++) {
		struct ctlsock_client *cl = &cs->client[i];
		bool cl_root = cl->cred.uid == 0;

		if (cl->conn.state == CONN_IDLE)
			return cl;
		if (cl_root && !root)
			continue;
		if (!oldest || cl_root < (oldest->cred.uid == 0) ||
		    (cl_root == (oldest->cred.uid == 0) && cl->last_ms < oldest->last_ms))
			oldest = cl;
	}
	if (oldest) {
		log_debug("control: %d clients: closing the one idle longest (pid %d)",
			  CTLSOCK_CLIENTS, (int)oldest->cred.pid);
		conn_close(&oldest->conn);
	}
	return oldest;
}

static void ctlsock_accept(struct loop_watch *w, uint32_t events)
{
	static struct log_limit full;
	struct ctlsock *cs = w->arg;
	struct ctlsock_client *cl;
	struct ucred cred = { .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t len = sizeof(cred);
	unsigned long held;
	int fd = accept4(cs->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		cred = (struct ucred){ .uid = (uid_t)-1, .gid = (gid_t)-1 };
	cl = ctlsock_slot(cs, cred.uid == 0);
	if (cl && !cl->conn.loop &&
	    conn_init(&cl->conn, cs->loop, &ctlsock_ops, cl, CTLSOCK_IN, CTLSOCK_OUT) < 0)
		cl = NULL;
	if (cl) {
		cl->cred = cred;
		cl->last_ms = loop_now_ms();
		if (conn_start(&cl->conn, fd, false, NULL) == 0)
			return;
	}
	if (log_limit_pass(&full, &held))
		log_warnx("control: cannot take a client (%lu more since)", held);
	close(fd);
}

static void ctlsock_idle_check(struct loop_timer *t)
{
	struct ctlsock *cs = t->arg;
	uint64_t now = loop_now_ms();

	for (int i = 0; i < CTLSOCK_CLIENTS; i++) {
		struct ctlsock_client *cl = &cs->client[i];

		if (cl->conn.state == CONN_OPEN && now - cl->last_ms >= cs->idle_ms)
			conn_close(&cl->conn);
	}
}

/* Remove the socket at path, and nothing else that may be there. */
static int ctlsock_unlink(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	return unlink(path) < 0 ? -errno : 0;
}

int ctlsock_open(struct ctlsock *cs, struct loop *l, const char *path, mode_t mode,
		 ctlsock_fn *fn, void *arg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int r;

	memset(cs, 0, sizeof(*cs));
	cs->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path) || strlen(path) >= sizeof(cs->path)) {
		log_warnx("control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	strcpy(cs->path, path);
	cs->loop = l;
	cs->fn = fn;
	cs->arg = arg;
	for (int i = 0; i < CTLSOCK_CLIENTS; i++)
		cs->client[i].cs = cs;
	r = ctlsock_unlink(path);
	if (r < 0) {
		if (r == -EEXIST)
			log_warnx("control socket %s: something other than a socket is there; "
				  "not replaced", path);
		else
			log_warnc(r, "control socket %s", path);
		return r;
	}
	cs->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (cs->fd < 0) {
		r = -errno;
		log_warnc(r, "control socket %s", path);
		return r;
	}
	old = umask(~mode & 0777);
	r = bind(cs->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(cs->fd, 64) < 0) {
		r = -errno;
		log_warn("control socket %s", path);
		close(cs->fd);
		cs->fd = -1;
		return r;
	}
	r = loop_watch_add(l, &cs->watch, cs->fd, EPOLLIN, ctlsock_accept, cs);
	if (r < 0)
		ctlsock_close(cs);
	return r;
}

int ctlsock_set_idle(struct ctlsock *cs, uint64_t ms)
{
	int r = 0;

	cs->idle_ms = ms;
	if (!cs->idle.watch.loop)
		r = loop_timer_init(cs->loop, &cs->idle, ctlsock_idle_check, cs);
	if (r < 0)
		return r;
	if (!ms) {
		loop_timer_disarm(&cs->idle);
		return 0;
	}
	/* idle clients go within a quarter past the limit */
	return loop_timer_arm(&cs->idle, ms / 4, ms / 4);
}

int ctlsock_set_group(struct ctlsock *cs, gid_t gid, mode_t mode)
{
	if (chown(cs->path, (uid_t)-1, gid) < 0 || chmod(cs->path, mode) < 0)
		return -errno;
	return 0;
}

void ctlsock_close(struct ctlsock *cs)
{
	for (int i = 0; i < CTLSOCK_CLIENTS; i++)
		if (cs->client[i].conn.loop)
			conn_free(&cs->client[i].conn);
	loop_timer_free(&cs->idle);
	if (cs->fd < 0)
		return;
	loop_watch_del(&cs->watch);
	close(cs->fd);
	ctlsock_unlink(cs->path);
	cs->fd = -1;
}

/* Write all of request; 0 or -errno (EPIPE: the server closed first). */
static int ctlsock_write_all(int fd, const char *request, size_t len)
{
	while (len > 0) {
		/* MSG_NOSIGNAL: a server that closes early is an error, not a SIGPIPE */
		ssize_t n = send(fd, request, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		request += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read up to the first newline; bytes read, or -errno. */
static ssize_t ctlsock_read_line(int fd, char *reply, size_t size)
{
	size_t len = 0;

	/* Bounded: one line comes back; stop at EOF or a full buffer. */
	while (len < size - 1 && !memchr(reply, '\n', len)) {
		ssize_t n = read(fd, reply + len, size - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	reply[len] = '\0';
	return (ssize_t)len;
}

json_object *ctlsock_ask(const char *path, const char *request, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CTLSOCK_ASK_MS / 1000 };
	static char reply[1 << 20];
	json_object *o = NULL;
	ssize_t len;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	r = ctlsock_write_all(fd, request, strlen(request));
	if (r < 0) {
		snprintf(err, errlen, "%s: the server closed the connection before taking the "
			 "request (%s)", path, strerror(-r));
		goto out;
	}
	len = ctlsock_read_line(fd, reply, sizeof(reply));
	if (len < 0 && (len == -EAGAIN || len == -EWOULDBLOCK))
		snprintf(err, errlen, "%s: no answer within %d s", path, CTLSOCK_ASK_MS / 1000);
	else if (len < 0 && len != -ECONNRESET)
		snprintf(err, errlen, "%s: reading the answer: %s", path, strerror((int)-len));
	else if (len <= 0)
		snprintf(err, errlen, "%s: the server closed the connection without answering",
			 path);
	else if (!(o = json_tokener_parse(reply)))
		snprintf(err, errlen, "%s: no valid answer", path);
out:
	close(fd);
	return o;
}
