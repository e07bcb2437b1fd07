// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for nportsim's management API (tests/sim/sim_rest.c):
 * routing, the control-character checks, the JSON body and every field
 * check, and the handlers behind them, on a fresh unit per input.  Traps when
 * an answer is not one of the statuses the API uses or an error lacks its
 * {error, message} body.  Input: a flags byte, the path up to '\n', the
 * Authorization header up to '\n', then the body.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "sim.h"

/* What sim_rest.c needs from the rest of nportsim, without sockets. */
static bool stub_connected(const struct sim_port *p)
{
	return false;
}

const struct sim_proto sim_realcom = { .connected = stub_connected };
const struct sim_proto sim_rfc2217 = { .connected = stub_connected };

uint16_t sim_data_port(const struct sim *s, unsigned int n)
{
	return (uint16_t)(950 + n - 1);
}

uint16_t sim_command_port(const struct sim *s, unsigned int n)
{
	return (uint16_t)(966 + n - 1);
}

int sim_port_configure(struct sim_port *p, enum sim_mode mode, bool enabled, enum sim_tls tls)
{
	p->proto = mode == SIM_REALCOM ? &sim_realcom : &sim_rfc2217;
	p->enabled = enabled;
	p->tls = tls;
	return 0;
}

SSL_CTX *sim_data_tls(struct sim *s)
{
	return NULL;
}

void sim_mdns_update(struct sim *s)
{
}

void sim_certificate_changed(struct sim *s)
{
}

/* A firmware image taken: the unit would restart. */
void sim_reboot(struct sim *s, unsigned int ms)
{
}

void sim_http_restart_in(struct sim *s, unsigned int ms)
{
}

void log_info(const char *fmt, ...)
{
}

static struct sim s;

/* A unit set up with an administrator (token "00...") and an operator ("11..."). */
static void fuzz_accounts(struct sim_mgmt *m)
{
	m->needs_setup = false;
	m->accounts = 2;
	strcpy(m->account[0].user, "admin");
	m->account[0].admin = true;
	strcpy(m->account[1].user, "op");
	for (unsigned int i = 0; i < 2; i++) {
		memset(m->session[i].token, '0' + (int)i, SIM_TOKEN_BYTES * 2);
		m->session[i].token[SIM_TOKEN_BYTES * 2] = '\0';
		m->session[i].expires_ms = UINT64_MAX;
		m->session[i].account = i;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "DELETE" };
	static char err[256];
	char url[300], auth[100];
	const uint8_t *p = data, *end = data + size, *nl;
	struct sim_response r;
	uint8_t flags;
	size_t n;

	if (size < 1)
		return 0;
	flags = *p++;
	nl = memchr(p, '\n', (size_t)(end - p));
	n = nl ? (size_t)(nl - p) : (size_t)(end - p);
	if (n >= sizeof(url))
		return 0;
	memcpy(url, p, n);
	url[n] = '\0';		/* as MHD hands it over: up to a NUL */
	p += n + (nl != NULL);
	nl = memchr(p, '\n', (size_t)(end - p));
	n = nl ? (size_t)(nl - p) : 0;
	if (n >= sizeof(auth))
		return 0;
	memcpy(auth, p, n);
	auth[n] = '\0';
	p += n + (nl != NULL);

	memset(&s, 0, sizeof(s));
	s.opt = (struct sim_options){
		.ports = 2, .listen = "127.0.0.1", .factory = !(flags & 1), .lockout_failures = 2,
		.lockout_seconds = 60, .tcp_base = 4000,
	};
	for (unsigned int i = 0; i < s.opt.ports; i++)
		s.port[i] = (struct sim_port){ .sim = &s, .n = i + 1, .proto = &sim_realcom,
					      .enabled = !s.opt.factory };
	CHECK(sim_rest_init(&s, err, sizeof(err)) == 0);
	if (flags & 1)
		fuzz_accounts(&s.mgmt);
	/* the same request twice: state changes (setup, lockout) take effect */
	for (int i = 0; i < 2; i++) {
		sim_rest_handle(&s, methods[(flags >> 1) & 3], url, (flags & 8) ? auth : NULL,
				(const char *)p, (size_t)(end - p), 1000 + (uint64_t)i, &r);
		switch (r.status) {
		case 200: case 201:
			CHECK(r.body != NULL);
			break;
		case 204:
			CHECK(r.body == NULL);
			break;
		case 400: case 401: case 403: case 404: case 405: case 409: case 422: case 423:
		case 500: {
			json_object *e, *m;

			CHECK(r.body && json_object_object_get_ex(r.body, "error", &e) &&
			      json_object_object_get_ex(r.body, "message", &m) &&
			      json_object_is_type(e, json_type_string) &&
			      json_object_is_type(m, json_type_string));
			CHECK(r.status != 405 || r.allow[0]);
			break;
		}
		default:
			CHECK(0);
		}
		CHECK(json_object_to_json_string(r.body) != NULL || !r.body);
		json_object_put(r.body);
	}
	sim_rest_free(&s);
	return 0;
}
