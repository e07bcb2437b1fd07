// SPDX-License-Identifier: GPL-2.0-or-later
/* JSON-lines control socket server; see ctlsock.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

static void ctlsock_input(struct conn *c)
{
	struct ctlsock *cs = c->arg;

	for (int i = 0; i < 64 && c->state == CONN_OPEN; i++) {
		const uint8_t *nl = memchr(buf_head(&c->in), '\n', buf_len(&c->in));
		char line[CTLSOCK_IN];
		json_object *req, *reply;
		const char *text;
		size_t len;

		if (!nl) {
			if (buf_room(&c->in) == 0) {
				log_warnx("control: a request longer than %d bytes; closing",
					  CTLSOCK_IN);
				conn_close(c);
			}
			return;
		}
		len = (size_t)(nl - buf_head(&c->in));
		memcpy(line, buf_head(&c->in), len);
		line[len] = '\0';
		buf_consume(&c->in, len + 1);
		req = json_tokener_parse(line);
		if (req && json_object_is_type(req, json_type_object))
			reply = cs->fn(cs->arg, req);
		else
			reply = ctlsock_error("not a JSON object");
		json_object_put(req);
		if (!json_object_object_get_ex(reply, "ok", NULL))
			json_object_object_add(reply, "ok", json_object_new_boolean(true));
		text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
		if (conn_send(c, text, strlen(text)) < 0 || conn_send(c, "\n", 1) < 0)
			log_warnx("control: a reply larger than %d bytes was dropped", CTLSOCK_OUT);
		json_object_put(reply);
	}
}

static void ctlsock_closed(struct conn *c, int err)
{
}

static const struct conn_ops ctlsock_ops = { .input = ctlsock_input, .closed = ctlsock_closed };

static void ctlsock_accept(struct loop_watch *w, uint32_t events)
{
	struct ctlsock *cs = w->arg;
	int fd = accept4(cs->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < CTLSOCK_CLIENTS; i++) {
		struct conn *c = &cs->client[i];

		if (c->state != CONN_IDLE)
			continue;
		if (!c->loop && conn_init(c, cs->loop, &ctlsock_ops, cs, CTLSOCK_IN, CTLSOCK_OUT) < 0)
			break;
		if (conn_start(c, fd, false, NULL) == 0)
			return;
		break;
	}
	log_warnx("control: more than %d clients", CTLSOCK_CLIENTS);
	close(fd);
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
	cs->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (cs->fd < 0)
		return -errno;
	unlink(path);
	old = umask(~mode & 0777);
	r = bind(cs->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(cs->fd, 8) < 0) {
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

void ctlsock_close(struct ctlsock *cs)
{
	for (int i = 0; i < CTLSOCK_CLIENTS; i++)
		if (cs->client[i].loop)
			conn_free(&cs->client[i]);
	if (cs->fd < 0)
		return;
	loop_watch_del(&cs->watch);
	close(cs->fd);
	unlink(cs->path);
	cs->fd = -1;
}

json_object *ctlsock_ask(const char *path, const char *request, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static char reply[1 << 20];
	size_t len = 0, want = strlen(request);
	json_object *o;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, request, want) != (ssize_t)want) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	/* Bounded: one line comes back; give up at EOF or a full buffer. */
	while (len < sizeof(reply) - 1 && !memchr(reply, '\n', len)) {
		ssize_t n = read(fd, reply + len, sizeof(reply) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	reply[len] = '\0';
	o = json_tokener_parse(reply);
	if (!o)
		snprintf(err, errlen, "%s: no valid answer", path);
	return o;
}
