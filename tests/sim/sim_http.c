// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The management API's transport: libmicrohttpd over HTTPS (TLS 1.2/1.3,
 * the certificate of sim_rest.c given in memory), driven by nportsim's one
 * loop through MHD's epoll descriptor and its timeout; no thread of MHD's
 * own.  Bodies are collected up to their route's bound (SIM_BODY_MAX, or
 * SIM_IMAGE_MAX for a firmware image) and handed to sim_rest.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"
#include "sim.h"

#define HTTP_CONNECTIONS	16
#define HTTP_IDLE_S		30
#define HTTP_MEMORY		(32 * 1024)	/* per connection: headers and buffers */
#define HTTP_DISCARD_MAX	(1024 * 1024)	/* then an oversized body ends the connection */

struct http_req {
	size_t len, seen, max, cap;
	char *body;			/* grows as the body comes, up to max */
};

static enum MHD_Result http_send(struct MHD_Connection *c, struct sim_response *r)
{
	const char *text = r->body ? json_object_to_json_string_ext(r->body, JSON_C_TO_STRING_PLAIN)
				   : "";
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *)text,
								     MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ok;

	json_object_put(r->body);
	r->body = NULL;
	if (!resp)
		return MHD_NO;
	if (r->status != 204)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (r->allow[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	ok = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return ok;
}

/* 400 on the JSON routes (as ever), 413 for a firmware image over its bound. */
static enum MHD_Result http_too_large(struct MHD_Connection *c, size_t max)
{
	struct sim_response r = { .status = max > SIM_BODY_MAX ? 413 : 400,
				  .body = json_object_new_object() };
	char msg[80];

	snprintf(msg, sizeof(msg), "request bodies are limited to %zu bytes here", max);
	json_object_object_add(r.body, "error", json_object_new_string("too_large"));
	json_object_object_add(r.body, "message", json_object_new_string(msg));
	return http_send(c, &r);
}

/* Keep n more bytes of the body: false when out of memory. */
static bool http_keep(struct http_req *q, const char *data, size_t n)
{
	if (q->len + n > q->cap) {
		size_t cap = q->cap ? q->cap : 4096;
		char *p;

		while (cap < q->len + n)
			cap *= 2;
		if (cap > q->max)
			cap = q->max;
		p = malloc(cap);
		if (!p)
			return false;
		if (q->len)
			memcpy(p, q->body, q->len);
		if (q->body)
			OPENSSL_cleanse(q->body, q->len);	/* bodies carry passwords */
		free(q->body);
		q->body = p;
		q->cap = cap;
	}
	memcpy(q->body + q->len, data, n);
	q->len += n;
	return true;
}

static enum MHD_Result http_request(void *cls, struct MHD_Connection *c, const char *url,
				    const char *method, const char *version,
				    const char *upload, size_t *upload_size, void **con_cls)
{
	struct sim *s = cls;
	struct http_req *q = *con_cls;
	struct sim_response r;
	const char *len;

	if (!q) {
		size_t max = sim_rest_body_max(method, url);

		/* A declared length over the bound is refused before any body. */
		len = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						  MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (len && strtoull(len, NULL, 10) > max)
			return http_too_large(c, max);
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		q->max = max;
		*con_cls = q;
		return MHD_YES;
	}
	if (*upload_size) {
		/* A chunked body past the bound is read and dropped, up to a point. */
		q->seen += *upload_size;
		if (q->seen > q->max + HTTP_DISCARD_MAX)
			return MHD_NO;
		if (q->seen <= q->max && !http_keep(q, upload, *upload_size))
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (q->seen > q->max)
		return http_too_large(c, q->max);
	sim_rest_handle(s, method, url,
			MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION),
			q->body, q->len, loop_now_ms(), &r);
	log_debug("https: %s request: %u", method, r.status);
	return http_send(c, &r);
}

static void http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	struct sim_mgmt *m = cls;
	struct http_req *q = *con_cls;

	if (m->renew == HTTP_RENEW_AFTER_REQUEST)
		m->renew = HTTP_RENEW_NOW;	/* its answer is out: see http_run */

	/* bodies carry passwords */
	if (q && q->body)
		OPENSSL_cleanse(q->body, q->len);
	if (q)
		free(q->body);
	free(q);
	*con_cls = NULL;
}

/* Paths go to sim_rest.c as received, so it sees an escaped NUL too. */
static size_t http_no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

__attribute__((format(printf, 2, 0)))
static void http_log(void *cls, const char *fmt, va_list ap)
{
	if (log_get_level() >= LOG_DEBUG)
		log_vmsg(LOG_DEBUG, 0, fmt, ap);
}

static int http_start(struct sim *s);

/* The certificate changed: serve it on the same listening socket, by a new
 * MHD (connections still open end, as when a G2 restarts its web server). */
static void http_restart(struct sim *s)
{
	struct sim_mgmt *m = &s->mgmt;
	MHD_socket fd;

	m->renew = HTTP_RENEW_NO;
	loop_watch_del(&m->http_watch);
	fd = MHD_quiesce_daemon(m->httpd);	/* keeps the listening socket open */
	MHD_stop_daemon(m->httpd);
	m->httpd = NULL;
	m->http_fd = fd;
	if (fd == MHD_INVALID_SOCKET || http_start(s) < 0)
		log_warnx("https: not serving the new certificate; restart nportsim");
	else
		log_info("https: serving the new certificate");
}

/* Let MHD work, then wake it again when its next timeout is due. */
static void http_run(struct sim *s)
{
	struct sim_mgmt *m = &s->mgmt;
	MHD_UNSIGNED_LONG_LONG ms;

	if (!m->httpd)
		return;
	MHD_run(m->httpd);
	if (m->renew == HTTP_RENEW_NOW)
		http_restart(s);
	if (m->httpd && MHD_get_timeout(m->httpd, &ms) == MHD_YES)
		loop_timer_arm(&m->http_timer, ms, 0);
	else
		loop_timer_disarm(&m->http_timer);
}

static void http_ready(struct loop_watch *w, uint32_t events)
{
	http_run(w->arg);
}

static void http_timeout(struct loop_timer *t)
{
	http_run(t->arg);
}

static void http_restarted(struct loop_timer *t)
{
	sim_rest_restarted(t->arg);
}

void sim_http_restart_in(struct sim *s, unsigned int ms)
{
	loop_timer_arm(&s->mgmt.restart_timer, ms, 0);
}

/* MHD on m->http_fd with the certificate of the moment, watched by the loop. */
static int http_start(struct sim *s)
{
	struct sim_mgmt *m = &s->mgmt;
	const union MHD_DaemonInfo *info;
	char *key;
	int r;

	key = tls_key_pem(m->key);
	if (!key) {
		log_warnx("https: cannot write the key");
		return -ENOMEM;
	}
	m->httpd = MHD_start_daemon(
		MHD_USE_TLS | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
		http_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,	/* first, to catch all */
		MHD_OPTION_LISTEN_SOCKET, m->http_fd,
		MHD_OPTION_HTTPS_MEM_CERT, m->cert_pem,
		MHD_OPTION_HTTPS_MEM_KEY, key,
		MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_IDLE_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY,
		MHD_OPTION_NOTIFY_COMPLETED, http_completed, m,
		MHD_OPTION_UNESCAPE_CALLBACK, http_no_unescape, NULL,
		MHD_OPTION_END);
	tls_free_secret(key);
	if (!m->httpd) {
		log_warnx("https: libmicrohttpd did not start");
		return -EIO;
	}
	info = MHD_get_daemon_info(m->httpd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		log_warnx("https: no epoll descriptor from libmicrohttpd");
		return -EIO;
	}
	r = loop_watch_add(s->loop, &m->http_watch, info->epoll_fd, EPOLLIN, http_ready, s);
	if (r < 0)
		log_warnc(r, "https: watch");
	return r;
}

int sim_http_open(struct sim *s)
{
	struct sim_mgmt *m = &s->mgmt;
	int r;

	m->http_fd = sock_listen(s->opt.listen, (uint16_t)s->opt.https_port, 16);
	if (m->http_fd < 0) {
		log_warnc(m->http_fd, "https: listen on %s port %u", s->opt.listen,
			  s->opt.https_port);
		return m->http_fd;
	}
	r = loop_timer_init(s->loop, &m->http_timer, http_timeout, s);
	if (r == 0)
		r = loop_timer_init(s->loop, &m->restart_timer, http_restarted, s);
	if (r < 0) {
		log_warnc(r, "https: timer");
		return r;
	}
	r = http_start(s);
	if (r < 0)
		return r;
	s->opt.https_port = sock_local_port(m->http_fd);	/* 0 took any free one */
	log_info("https: %s port %u, certificate sha256 %s", s->opt.listen, s->opt.https_port,
		 m->cert_sha256);
	return 0;
}

void sim_http_renew(struct sim *s)
{
	s->mgmt.renew = HTTP_RENEW_AFTER_REQUEST;
}

void sim_http_close(struct sim *s)
{
	struct sim_mgmt *m = &s->mgmt;

	loop_watch_del(&m->http_watch);
	loop_timer_free(&m->http_timer);
	loop_timer_free(&m->restart_timer);
	if (m->httpd)
		MHD_stop_daemon(m->httpd);	/* closes the listening socket too */
	else if (m->http_fd >= 0)
		close(m->http_fd);
	m->httpd = NULL;
	m->http_fd = -1;
}
