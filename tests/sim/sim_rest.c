// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The management API of docs/device-model.md ("REST over HTTPS"):
 * every path, field name, the DNS-SD service type and the TXT keys live in
 * this file's tables, so a capture from real hardware corrects them here.
 * No I/O: sim_http.c carries requests in and answers out, sim_mdns.c
 * publishes sim_rest_txt().
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "log.h"
#include "sim.h"

#define REST_FIRMWARE		"1.1"	/* without --firmware */
#define REST_IMAGE_LINE		128	/* an image's first line, "MODEL firmware VERSION" */
#define REST_API		"/api/v1"
#define REST_PBKDF2_ITER	1000
#define REST_JSON_DEPTH		8
#define REST_URL_MAX		256
#define REST_PEM_MAX		(12 * 1024)
#define REST_HOST_MAX		253	/* a DNS name */

const char sim_mdns_service_type[] = "_nport._tcp";

/* ---- request bodies: the fields each one may carry ---- */

enum field_kind {
	F_BOOL, F_UINT, F_STRING, F_ENUM, F_IPV4, F_IPV4_OR_EMPTY, F_ARRAY, F_PEM, F_HOSTS,
	F_OBJECT
};

struct rest_field {
	const char *name;
	enum field_kind kind;
	bool required;
	unsigned int min, max;		/* F_UINT: value; F_STRING: length; F_ARRAY, F_HOSTS: items */
	const char *const *values;	/* F_ENUM, NULL-terminated */
	const struct rest_field *items;	/* F_ARRAY: each item, F_OBJECT: it, an object of these */
};

static const char *const ipv4_modes[] = { "manual", "dhcp", NULL };
static const char *const port_modes[] = { "realcom", "rfc2217", "tcp-server", "disabled", NULL };
static const char *const port_connections[] = {
	"unencrypted", "encrypted", "encrypted-authenticated", NULL
};

/* Designated initialisers, so each table row says only what it needs. */
#define BOOL(n)			{ .name = n, .kind = F_BOOL }
#define UINT(n, lo, hi)		{ .name = n, .kind = F_UINT, .min = lo, .max = hi }
#define STRING(n, lo, hi)	{ .name = n, .kind = F_STRING, .required = true, .min = lo, .max = hi }
#define ENUM(n, v)		{ .name = n, .kind = F_ENUM, .values = v }
#define IPV4(n, req)		{ .name = n, .kind = F_IPV4, .required = req }
#define ARRAY(n, most, of)	{ .name = n, .kind = F_ARRAY, .max = most, .items = of }
#define HOSTS(n, most)		{ .name = n, .kind = F_HOSTS, .max = most }
#define OBJECT(n, of, req)	{ .name = n, .kind = F_OBJECT, .items = of, .required = req }
#define TEXT(n, hi)		{ .name = n, .kind = F_STRING, .max = hi }
#define END			{ .name = NULL }

static const struct rest_field credentials_fields[] = {
	STRING("username", 1, SIM_USER_MAX), STRING("password", 1, SIM_PASSWORD_MAX), END,
};
static const struct rest_field ipv4_fields[] = {
	ENUM("mode", ipv4_modes), IPV4("address", false), IPV4("netmask", false),
	{ .name = "gateway", .kind = F_IPV4_OR_EMPTY }, END,
};
static const struct rest_field port_fields[] = {
	ENUM("mode", port_modes), ENUM("connection", port_connections), END,
};
static const struct rest_field services_fields[] = {
	BOOL("snmp"), BOOL("wins"), BOOL("moxa_service"), BOOL("https"), BOOL("serial_console"),
	END,
};
static const struct rest_field policy_fields[] = {
	UINT("min_length", 1, SIM_PASSWORD_MAX), BOOL("digit"), BOOL("mixed_case"),
	BOOL("special"), UINT("lifetime_days", 0, 3650), END,
};
static const struct rest_field lockout_fields[] = {
	BOOL("enabled"), UINT("max_failures", 1, 100), UINT("lockout_minutes", 1, 1440),
	UINT("lockout_seconds", 1, 86400),	/* ours, for tests */
	END,
};
static const struct rest_field address_fields[] = {
	IPV4("address", true), IPV4("netmask", true), END,
};
static const struct rest_field allowlist_fields[] = {
	BOOL("enabled"), ARRAY("entries", 16, address_fields), END,
};
static const struct rest_field remote_fields[] = {
	IPV4("address", true), { .name = "port", .kind = F_UINT, .required = true, .min = 1,
				 .max = 65535 },
	BOOL("tls"), END,
};
static const struct rest_field syslog_fields[] = {
	ARRAY("remote", 4, remote_fields), END,
};
/* The guide's settings the first model lacked (docs/device-model.md, "Model additions"). */
static const struct rest_field sntp_fields[] = {
	BOOL("enabled"), HOSTS("servers", 4), END,
};
static const struct rest_field dos_defense_fields[] = {
	BOOL("enabled"), END,
};
static const struct rest_field web_sessions_fields[] = {
	UINT("max_sessions", 1, 10), END,
};
static const struct rest_field login_message_fields[] = {
	STRING("text", 0, 256), END,
};
static const struct rest_field remote_ca_fields[] = {
	{ .name = "pem", .kind = F_PEM, .required = true, .min = 1, .max = REST_PEM_MAX }, END,
};

/*
 * A configuration export (GET /system/config) as PUT takes it back: identity
 * and time are there to be read, not applied; settings holds each settings
 * route's body under its own name, and the port modes.  No accounts.
 */
static const struct rest_field port_config_fields[] = {
	{ .name = "port", .kind = F_UINT, .required = true, .min = 1, .max = SIM_PORTS_MAX },
	ENUM("mode", port_modes), ENUM("connection", port_connections), END,
};
static const struct rest_field settings_fields[] = {
	{ .name = "name", .kind = F_STRING, .min = 1, .max = SIM_NAME_MAX },
	OBJECT("network", ipv4_fields, false), OBJECT("services", services_fields, false),
	OBJECT("password_policy", policy_fields, false),
	OBJECT("login_lockout", lockout_fields, false),
	OBJECT("allowlist", allowlist_fields, false), OBJECT("syslog", syslog_fields, false),
	OBJECT("sntp", sntp_fields, false), OBJECT("dos_defense", dos_defense_fields, false),
	OBJECT("web_sessions", web_sessions_fields, false),
	OBJECT("login_message", login_message_fields, false),
	ARRAY("serial_ports", SIM_PORTS_MAX, port_config_fields), END,
};
static const struct rest_field config_fields[] = {
	STRING("model", 1, 64), TEXT("firmware", 32), TEXT("mac", 32), TEXT("serial", 64),
	TEXT("exported_at", 64), OBJECT("settings", settings_fields, true), END,
};

/* ---- the routes ---- */

enum rest_auth { AUTH_NONE, AUTH_TOKEN, AUTH_ADMIN };

struct rest_req {
	struct sim *s;
	struct sim_mgmt *m;
	uint64_t now;
	const struct sim_account *who;
	struct sim_session *session;
	json_object *body;
	const char *raw;		/* a binary body (a route with .binary) */
	size_t raw_len;
	unsigned int port;		/* {n} */
	json_object **store;		/* the stored object of a plain settings route */
	const struct rest_field *fields;
	struct sim_response *r;
};

typedef void rest_fn(struct rest_req *q);

struct rest_route {
	const char *method;
	const char *path;		/* "{n}" matches a port number */
	enum rest_auth auth;
	rest_fn *fn;
	const struct rest_field *fields;	/* the body's, or NULL: no body */
	size_t store;			/* offsetof(struct sim_mgmt, ...) or 0 */
	bool binary;			/* the body is bytes up to SIM_IMAGE_MAX, not JSON */
};

static rest_fn get_device, post_setup, post_login, post_logout, get_stored, put_stored, put_ipv4,
	get_ports, get_port, put_port, get_policy, put_policy, get_lockout, put_lockout,
	get_certificate, get_remote_ca, post_remote_ca, get_config, put_config, post_firmware;
static int rest_certificate(struct sim *s, const char *address, char *err, size_t errlen);

/* Does the unit make its own certificate (no --cert/--key given)? */
static bool rest_self_signed(const struct sim *s)
{
	return !(s->opt.cert && s->opt.key);
}

#define ROUTE(m, p, a, f, ...)	{ .method = m, .path = REST_API p, .auth = a, .fn = f, __VA_ARGS__ }
#define BODY(f)			.fields = f
#define STORED(f)		.store = offsetof(struct sim_mgmt, f)

static const struct rest_route routes[] = {
	ROUTE("GET", "/device", AUTH_NONE, get_device),
	ROUTE("POST", "/setup/account", AUTH_NONE, post_setup, BODY(credentials_fields)),
	ROUTE("POST", "/auth/login", AUTH_NONE, post_login, BODY(credentials_fields)),
	ROUTE("POST", "/auth/logout", AUTH_TOKEN, post_logout),
	ROUTE("GET", "/network/ipv4", AUTH_TOKEN, get_stored, STORED(ipv4)),
	ROUTE("PUT", "/network/ipv4", AUTH_ADMIN, put_ipv4, BODY(ipv4_fields), STORED(ipv4)),
	ROUTE("GET", "/serial/ports", AUTH_TOKEN, get_ports),
	ROUTE("GET", "/serial/ports/{n}", AUTH_TOKEN, get_port),
	ROUTE("PUT", "/serial/ports/{n}", AUTH_ADMIN, put_port, BODY(port_fields)),
	ROUTE("GET", "/security/services", AUTH_ADMIN, get_stored, STORED(services)),
	ROUTE("PUT", "/security/services", AUTH_ADMIN, put_stored, BODY(services_fields),
	      STORED(services)),
	ROUTE("GET", "/security/password-policy", AUTH_ADMIN, get_policy),
	ROUTE("PUT", "/security/password-policy", AUTH_ADMIN, put_policy, BODY(policy_fields)),
	ROUTE("GET", "/security/login-lockout", AUTH_ADMIN, get_lockout),
	ROUTE("PUT", "/security/login-lockout", AUTH_ADMIN, put_lockout, BODY(lockout_fields)),
	ROUTE("GET", "/security/allowlist", AUTH_ADMIN, get_stored, STORED(allowlist)),
	ROUTE("PUT", "/security/allowlist", AUTH_ADMIN, put_stored, BODY(allowlist_fields),
	      STORED(allowlist)),
	ROUTE("GET", "/security/certificate", AUTH_TOKEN, get_certificate),
	ROUTE("GET", "/security/remote-ca", AUTH_ADMIN, get_remote_ca),
	ROUTE("POST", "/security/remote-ca", AUTH_ADMIN, post_remote_ca, BODY(remote_ca_fields)),
	ROUTE("GET", "/system/syslog", AUTH_ADMIN, get_stored, STORED(syslog)),
	ROUTE("PUT", "/system/syslog", AUTH_ADMIN, put_stored, BODY(syslog_fields),
	      STORED(syslog)),
	ROUTE("GET", "/system/sntp", AUTH_ADMIN, get_stored, STORED(sntp)),
	ROUTE("PUT", "/system/sntp", AUTH_ADMIN, put_stored, BODY(sntp_fields), STORED(sntp)),
	ROUTE("GET", "/security/dos-defense", AUTH_ADMIN, get_stored, STORED(dos_defense)),
	ROUTE("PUT", "/security/dos-defense", AUTH_ADMIN, put_stored, BODY(dos_defense_fields),
	      STORED(dos_defense)),
	ROUTE("GET", "/security/web-sessions", AUTH_ADMIN, get_stored, STORED(web_sessions)),
	ROUTE("PUT", "/security/web-sessions", AUTH_ADMIN, put_stored, BODY(web_sessions_fields),
	      STORED(web_sessions)),
	ROUTE("GET", "/security/login-message", AUTH_ADMIN, get_stored, STORED(login_message)),
	ROUTE("PUT", "/security/login-message", AUTH_ADMIN, put_stored,
	      BODY(login_message_fields), STORED(login_message)),
	ROUTE("GET", "/system/config", AUTH_ADMIN, get_config),
	ROUTE("PUT", "/system/config", AUTH_ADMIN, put_config, BODY(config_fields)),
	ROUTE("POST", "/system/firmware", AUTH_ADMIN, post_firmware, .binary = true),
};

/* ---- answers ---- */

__attribute__((format(printf, 4, 5)))
static void rest_error(struct sim_response *r, unsigned int status, const char *code,
		       const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_put(r->body);
	r->status = status;
	r->body = json_object_new_object();
	json_object_object_add(r->body, "error", json_object_new_string(code));
	json_object_object_add(r->body, "message", json_object_new_string(msg));
}

static void rest_ok(struct sim_response *r, unsigned int status, json_object *body)
{
	json_object_put(r->body);
	r->status = status;
	r->body = body;
}

/* ---- input checks ---- */

/* Raw bytes: no NUL or other control character except JSON's white space. */
static bool rest_text_ok(const char *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F)
			return false;
	}
	return true;
}

/* A string value or key: no control character at all (PEM: line breaks). */
static bool rest_string_ok(const char *v, size_t n, bool pem)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if ((c < 0x20 && !(pem && (c == '\n' || c == '\r'))) || c == 0x7F)
			return false;
	}
	return true;
}

/* Every key and string in v, at any depth: escaped NULs (\u0000) too. */
static bool rest_json_ok(json_object *v)
{
	if (json_object_is_type(v, json_type_string))
		return rest_string_ok(json_object_get_string(v),
				      (size_t)json_object_get_string_len(v), true);
	if (json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (!rest_json_ok(json_object_array_get_idx(v, i)))
				return false;
	} else if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, key, val) {
			if (!rest_string_ok(key, strlen(key), false) || !rest_json_ok(val))
				return false;
		}
	}
	return true;
}

/* A server name or address: letters, digits, '.', '-' and ':' (IPv6). */
static bool rest_host_ok(const char *s, size_t n)
{
	if (n < 1 || n > REST_HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(".-:", s[i]))
			return false;
	return true;
}

static bool rest_ipv4_ok(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

/* Check obj against fields; on failure fill r (400 or 422) and return false. */
static bool rest_fields_ok(json_object *obj, const struct rest_field *fields, const char *where,
			   struct sim_response *r)
{
	if (!json_object_is_type(obj, json_type_object)) {
		rest_error(r, 400, "bad_request", "%s: expected a JSON object", where);
		return false;
	}
	json_object_object_foreach(obj, key, val) {
		const struct rest_field *f = fields;
		const char *str = json_object_get_string(val);
		size_t len = (size_t)json_object_get_string_len(val);
		int64_t num;

		while (f->name && strcmp(f->name, key) != 0)
			f++;
		if (!f->name) {
			rest_error(r, 422, "unknown_field", "%s: no field \"%s\"", where, key);
			return false;
		}
		switch (f->kind) {
		case F_BOOL:
			if (!json_object_is_type(val, json_type_boolean))
				goto type;
			break;
		case F_UINT:
			if (!json_object_is_type(val, json_type_int))
				goto type;
			num = json_object_get_int64(val);
			if (num < f->min || num > f->max) {
				rest_error(r, 422, "out_of_range", "%s: %s: %u to %u", where, key,
					   f->min, f->max);
				return false;
			}
			break;
		case F_STRING:
		case F_PEM:
		case F_ENUM:
		case F_IPV4:
		case F_IPV4_OR_EMPTY:
			if (!json_object_is_type(val, json_type_string))
				goto type;
			if (!rest_string_ok(str, len, f->kind == F_PEM)) {
				rest_error(r, 400, "control_character",
					   "%s: %s: control characters are not allowed", where, key);
				return false;
			}
			if ((f->kind == F_STRING || f->kind == F_PEM) &&
			    (len < f->min || len > f->max)) {
				rest_error(r, 422, "length", "%s: %s: %u to %u characters", where,
					   key, f->min, f->max);
				return false;
			}
			if (f->kind == F_ENUM) {
				const char *const *v = f->values;

				while (*v && strcmp(*v, str) != 0)
					v++;
				if (!*v) {
					rest_error(r, 422, "invalid_value", "%s: %s: \"%.64s\" is "
						   "not one of the allowed values", where, key, str);
					return false;
				}
			}
			if ((f->kind == F_IPV4 || (f->kind == F_IPV4_OR_EMPTY && len > 0)) &&
			    !rest_ipv4_ok(str)) {
				rest_error(r, 422, "invalid_address", "%s: %s: not an IPv4 "
					   "address", where, key);
				return false;
			}
			break;
		case F_OBJECT:
			if (!json_object_is_type(val, json_type_object))
				goto type;
			if (!rest_fields_ok(val, f->items, key, r))
				return false;
			break;
		case F_ARRAY:
		case F_HOSTS:
			if (!json_object_is_type(val, json_type_array))
				goto type;
			if (json_object_array_length(val) > f->max) {
				rest_error(r, 422, "too_many", "%s: %s: at most %u entries", where,
					   key, f->max);
				return false;
			}
			for (size_t i = 0; i < json_object_array_length(val); i++) {
				json_object *item = json_object_array_get_idx(val, i);

				if (f->kind == F_ARRAY) {
					if (!rest_fields_ok(item, f->items, key, r))
						return false;
					continue;
				}
				if (!json_object_is_type(item, json_type_string))
					goto type;
				if (!rest_host_ok(json_object_get_string(item),
						  (size_t)json_object_get_string_len(item))) {
					rest_error(r, 422, "invalid_address", "%s: %s: not a host "
						   "name or address", where, key);
					return false;
				}
			}
			break;
		}
		continue;
type:
		rest_error(r, 422, "invalid_type", "%s: %s: wrong type", where, key);
		return false;
	}
	for (const struct rest_field *f = fields; f->name; f++) {
		if (f->required && !json_object_object_get_ex(obj, f->name, NULL)) {
			rest_error(r, 422, "missing_field", "%s: \"%s\" is required", where,
				   f->name);
			return false;
		}
	}
	return true;
}

static const char *rest_str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static bool rest_bool(json_object *o, const char *key, bool *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return false;
	*out = json_object_get_boolean(v);
	return true;
}

static bool rest_uint(json_object *o, const char *key, unsigned int *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return false;
	*out = (unsigned int)json_object_get_int64(v);
	return true;
}

/* ---- accounts, sessions, lockout ---- */

static void rest_hash(const char *password, const uint8_t salt[16], uint8_t out[32])
{
	PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, 16, REST_PBKDF2_ITER,
			  EVP_sha256(), 32, out);
}

static int rest_add_account(struct sim_mgmt *m, const char *user, const char *password,
			    bool admin)
{
	struct sim_account *a;

	if (m->accounts == SIM_ACCOUNTS_MAX)
		return -ENOSPC;
	a = &m->account[m->accounts];
	snprintf(a->user, sizeof(a->user), "%s", user);
	a->admin = admin;
	if (RAND_bytes(a->salt, sizeof(a->salt)) != 1)
		return -EIO;
	rest_hash(password, a->salt, a->hash);
	m->accounts++;
	return 0;
}

static bool rest_user_ok(const char *u)
{
	size_t n = strlen(u);

	if (n < 1 || n > SIM_USER_MAX)
		return false;
	for (; *u; u++)
		if (!isalnum((unsigned char)*u) && !strchr("._-", *u))
			return false;
	return true;
}

/* The policy rule a password breaks, or NULL; why says it in words. */
static const char *rest_policy_broken(const struct sim_policy *p, const char *pw, char *why,
				      size_t len)
{
	bool digit = false, lower = false, upper = false, special = false;
	size_t n = strlen(pw);

	for (const char *c = pw; *c; c++) {
		digit |= isdigit((unsigned char)*c) != 0;
		lower |= islower((unsigned char)*c) != 0;
		upper |= isupper((unsigned char)*c) != 0;
		special |= !isalnum((unsigned char)*c);
	}
	if (n < p->min_length) {
		snprintf(why, len, "min_length: the password needs at least %u characters",
			 p->min_length);
		return "min_length";
	}
	if (p->digit && !digit) {
		snprintf(why, len, "digit: the password needs a digit");
		return "digit";
	}
	if (p->mixed_case && !(lower && upper)) {
		snprintf(why, len, "mixed_case: the password needs upper and lower case letters");
		return "mixed_case";
	}
	if (p->special && !special) {
		snprintf(why, len, "special: the password needs a special character");
		return "special";
	}
	return NULL;
}

static struct sim_failures *rest_failures(struct sim_mgmt *m, const char *user, bool create)
{
	struct sim_failures *oldest = &m->failures[0];

	for (unsigned int i = 0; i < SIM_FAILURES_MAX; i++) {
		struct sim_failures *f = &m->failures[i];

		if (f->user[0] && strcmp(f->user, user) == 0)
			return f;
		if (f->last_ms < oldest->last_ms)
			oldest = f;
	}
	if (!create)
		return NULL;
	*oldest = (struct sim_failures){ 0 };
	snprintf(oldest->user, sizeof(oldest->user), "%s", user);
	return oldest;
}

static struct sim_session *rest_session(struct sim_mgmt *m, const char *auth, uint64_t now)
{
	const char *t;

	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return NULL;
	t = auth + 7;
	if (strlen(t) != SIM_TOKEN_BYTES * 2)
		return NULL;
	for (unsigned int i = 0; i < SIM_SESSIONS_MAX; i++) {
		struct sim_session *se = &m->session[i];

		if (!se->token[0])
			continue;
		if (se->expires_ms <= now) {
			se->token[0] = '\0';
			continue;
		}
		if (CRYPTO_memcmp(se->token, t, SIM_TOKEN_BYTES * 2) == 0)
			return se;
	}
	return NULL;
}

/* web-sessions' max_sessions, within the sessions nportsim can hold. */
static unsigned int rest_session_limit(const struct sim_mgmt *m)
{
	json_object *v;
	int64_t n = SIM_SESSIONS_MAX;

	if (json_object_object_get_ex(m->web_sessions, "max_sessions", &v))
		n = json_object_get_int64(v);
	return n >= 1 && n < SIM_SESSIONS_MAX ? (unsigned int)n : SIM_SESSIONS_MAX;
}

/* The slot for a new session: a free one while fewer than the limit are
 * open, else the one that expires first (the oldest login), which ends. */
static struct sim_session *rest_session_slot(struct sim_mgmt *m, uint64_t now)
{
	struct sim_session *free_slot = NULL, *oldest = NULL;
	unsigned int open = 0;

	for (unsigned int i = 0; i < SIM_SESSIONS_MAX; i++) {
		struct sim_session *c = &m->session[i];

		if (!c->token[0] || c->expires_ms <= now) {
			if (!free_slot)
				free_slot = c;
			continue;
		}
		open++;
		if (!oldest || c->expires_ms < oldest->expires_ms)
			oldest = c;
	}
	if (free_slot && open < rest_session_limit(m))
		return free_slot;
	OPENSSL_cleanse(oldest->token, sizeof(oldest->token));
	oldest->token[0] = '\0';
	return oldest;
}

/* ---- handlers ---- */

const char *sim_rest_state(const struct sim *s)
{
	return s->mgmt.needs_setup ? "needs-setup" : "ready";
}

static void get_device(struct rest_req *q)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "model", json_object_new_string(q->m->model));
	json_object_object_add(o, "serial", json_object_new_string(q->m->serial));
	json_object_object_add(o, "mac", json_object_new_string(q->m->mac));
	json_object_object_add(o, "firmware", json_object_new_string(q->m->firmware));
	json_object_object_add(o, "name", json_object_new_string(q->m->name));
	json_object_object_add(o, "ports", json_object_new_int((int)q->s->opt.ports));
	json_object_object_add(o, "state", json_object_new_string(sim_rest_state(q->s)));
	rest_ok(q->r, 200, o);
}

static void post_setup(struct rest_req *q)
{
	const char *user = rest_str(q->body, "username"), *pw = rest_str(q->body, "password");
	const char *rule;
	char why[128];
	json_object *o;

	if (!q->m->needs_setup) {
		rest_error(q->r, 409, "already_set_up", "the unit already has an administrator");
		return;
	}
	if (!rest_user_ok(user)) {
		rest_error(q->r, 422, "policy_violation",
			   "username: 1 to %d letters, digits, '.', '_' or '-'", SIM_USER_MAX);
		json_object_object_add(q->r->body, "rule", json_object_new_string("username"));
		return;
	}
	rule = rest_policy_broken(&q->m->policy, pw, why, sizeof(why));
	if (rule) {
		rest_error(q->r, 422, "policy_violation", "%s", why);
		json_object_object_add(q->r->body, "rule", json_object_new_string(rule));
		return;
	}
	if (rest_add_account(q->m, user, pw, true) < 0) {
		rest_error(q->r, 500, "internal", "cannot store the account");
		return;
	}
	/* The unit "restarts" with Real COM on every port (docs/device-model.md). */
	q->m->needs_setup = false;
	for (unsigned int i = 0; i < q->s->opt.ports; i++) {
		struct sim_port *p = &q->s->port[i];

		sim_port_configure(p, SIM_REALCOM, true, p->tls);
	}
	sim_mdns_update(q->s);
	o = json_object_new_object();
	json_object_object_add(o, "username", json_object_new_string(user));
	json_object_object_add(o, "group", json_object_new_string("admin"));
	json_object_object_add(o, "state", json_object_new_string(sim_rest_state(q->s)));
	rest_ok(q->r, 201, o);
}

static void post_login(struct rest_req *q)
{
	struct sim_mgmt *m = q->m;
	const char *user = rest_str(q->body, "username"), *pw = rest_str(q->body, "password");
	struct sim_failures *f = rest_failures(m, user, false);
	const struct sim_account *a = NULL;
	uint8_t hash[32], raw[SIM_TOKEN_BYTES];
	struct sim_session *se;
	json_object *o;

	if (f && f->locked_until_ms) {
		if (m->lockout_enabled && f->locked_until_ms > q->now) {
			uint64_t left = (f->locked_until_ms - q->now + 999) / 1000;

			m->logins_locked++;
			rest_error(q->r, 423, "locked", "too many failed logins for \"%s\"", user);
			json_object_object_add(q->r->body, "retry_after",
					       json_object_new_int64((int64_t)left));
			return;
		}
		*f = (struct sim_failures){ 0 };	/* the lockout is over */
		f = NULL;
	}
	for (unsigned int i = 0; i < m->accounts; i++)
		if (strcmp(m->account[i].user, user) == 0)
			a = &m->account[i];
	if (a)
		rest_hash(pw, a->salt, hash);
	if (!a || CRYPTO_memcmp(hash, a->hash, sizeof(hash)) != 0) {
		if (m->lockout_enabled) {
			f = rest_failures(m, user, true);
			/* failures count within one lockout period of each other */
			if (f->count && q->now - f->last_ms > m->lockout_seconds * 1000ULL)
				f->count = 0;
			f->count++;
			f->last_ms = q->now;
			if (f->count >= m->lockout_failures)
				f->locked_until_ms = q->now + m->lockout_seconds * 1000ULL;
		}
		rest_error(q->r, 401, "unauthorized", "wrong user name or password");
		return;
	}
	if (f)
		*f = (struct sim_failures){ 0 };
	se = rest_session_slot(m, q->now);
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		rest_error(q->r, 500, "internal", "no random bytes for a token");
		return;
	}
	for (unsigned int i = 0; i < SIM_TOKEN_BYTES; i++)
		sprintf(se->token + 2 * i, "%02x", raw[i]);
	se->expires_ms = q->now + SIM_SESSION_S * 1000ULL;
	se->account = (unsigned int)(a - m->account);
	o = json_object_new_object();
	json_object_object_add(o, "token", json_object_new_string(se->token));
	json_object_object_add(o, "expires_in", json_object_new_int(SIM_SESSION_S));
	json_object_object_add(o, "group", json_object_new_string(a->admin ? "admin" : "operator"));
	rest_ok(q->r, 200, o);
}

static void post_logout(struct rest_req *q)
{
	OPENSSL_cleanse(q->session->token, sizeof(q->session->token));
	q->session->token[0] = '\0';
	rest_ok(q->r, 204, NULL);
}

static void get_stored(struct rest_req *q)
{
	rest_ok(q->r, 200, json_object_get(*q->store));
}

static void put_stored(struct rest_req *q)
{
	/* a partial update: the fields given replace the stored ones */
	json_object_object_foreach(q->body, key, val)
		json_object_object_add(*q->store, key, json_object_get(val));
	rest_ok(q->r, 200, json_object_get(*q->store));
}

/* A G2 makes itself a new certificate when its address changes (docs/device-model.md):
 * every host then sees a new fingerprint.  One given with --cert stays. */
static void put_ipv4(struct rest_req *q)
{
	struct sim *s = q->s;
	json_object *now, *to;
	char err[TLS_ERR_MAX + 32];
	bool moved;

	moved = json_object_object_get_ex(q->body, "address", &to) &&
		json_object_object_get_ex(*q->store, "address", &now) &&
		strcmp(json_object_get_string(to), json_object_get_string(now)) != 0 &&
		rest_self_signed(s);
	if (moved && rest_certificate(s, json_object_get_string(to), err, sizeof(err)) < 0) {
		rest_error(q->r, 500, "internal", "%s", err);
		return;
	}
	put_stored(q);
	if (moved)
		sim_certificate_changed(s);
}

static const char *rest_port_mode(const struct sim_port *p)
{
	return !p->enabled ? "disabled" : p->proto == &sim_realcom ? "realcom" : "rfc2217";
}

static const char *rest_port_connection(const struct sim_port *p)
{
	if (p->tls == SIM_TLS_OFF)
		return "unencrypted";
	return p->sim->opt.client_ca ? "encrypted-authenticated" : "encrypted";
}

static json_object *rest_port(const struct sim_port *p)
{
	const struct sim *s = p->sim;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "port", json_object_new_int((int)p->n));
	json_object_object_add(o, "mode", json_object_new_string(rest_port_mode(p)));
	json_object_object_add(o, "connection", json_object_new_string(rest_port_connection(p)));
	json_object_object_add(o, "data_port", json_object_new_int(sim_data_port(s, p->n)));
	json_object_object_add(o, "command_port", json_object_new_int(sim_command_port(s, p->n)));
	json_object_object_add(o, "tcp_port", json_object_new_int((int)(s->opt.tcp_base + p->n)));
	json_object_object_add(o, "baud", json_object_new_int64(p->line.baud));
	json_object_object_add(o, "data_bits", json_object_new_int(p->line.data_bits));
	json_object_object_add(o, "parity",
			       json_object_new_string(serial_parity_name(p->line.parity)));
	json_object_object_add(o, "stop_bits", p->line.stop_bits == SERIAL_STOP_1_5 ?
			       json_object_new_double(1.5) : json_object_new_int(p->line.stop_bits));
	json_object_object_add(o, "connected", json_object_new_boolean(p->proto->connected(p)));
	return o;
}

static void get_ports(struct rest_req *q)
{
	json_object *a = json_object_new_array();

	for (unsigned int i = 0; i < q->s->opt.ports; i++)
		json_object_array_add(a, rest_port(&q->s->port[i]));
	rest_ok(q->r, 200, a);
}

static void get_port(struct rest_req *q)
{
	rest_ok(q->r, 200, rest_port(&q->s->port[q->port - 1]));
}

static void put_port(struct rest_req *q)
{
	struct sim *s = q->s;
	struct sim_port *p = &s->port[q->port - 1];
	const char *mode = rest_str(q->body, "mode"), *conn = rest_str(q->body, "connection");
	enum sim_mode m = p->proto == &sim_realcom ? SIM_REALCOM : SIM_RFC2217;
	bool enabled = p->enabled;
	enum sim_tls tls = p->tls;
	int r;

	if (mode && strcmp(mode, "tcp-server") == 0) {
		rest_error(q->r, 422, "unsupported", "mode: tcp-server is not simulated");
		return;
	}
	if (mode) {
		enabled = strcmp(mode, "disabled") != 0;
		if (enabled)
			m = strcmp(mode, "realcom") == 0 ? SIM_REALCOM : SIM_RFC2217;
	}
	if (conn && strcmp(conn, "unencrypted") == 0) {
		tls = SIM_TLS_OFF;
	} else if (conn) {
		bool auth = strcmp(conn, "encrypted-authenticated") == 0;

		/* One data TLS context: with --client-ca it asks every host for a
		 * certificate, without it none. */
		if (auth != (s->opt.client_ca != NULL)) {
			rest_error(q->r, 422, "unsupported", "connection: %s needs nportsim %s "
				   "--client-ca", conn, auth ? "started with" : "started without");
			return;
		}
		if (!sim_data_tls(s)) {
			rest_error(q->r, 500, "internal", "connection: no TLS context");
			return;
		}
		tls = SIM_TLS_ON;
	}
	if (m == SIM_RFC2217 && tls == SIM_TLS_DATA_ONLY)
		tls = SIM_TLS_ON;		/* one connection: all of it */
	r = sim_port_configure(p, m, enabled, tls);
	if (r < 0) {
		rest_error(q->r, 500, "internal", "port %u: cannot listen: %s", p->n, strerror(-r));
		return;
	}
	rest_ok(q->r, 200, rest_port(p));
}

static void get_policy(struct rest_req *q)
{
	const struct sim_policy *p = &q->m->policy;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "min_length", json_object_new_int((int)p->min_length));
	json_object_object_add(o, "digit", json_object_new_boolean(p->digit));
	json_object_object_add(o, "mixed_case", json_object_new_boolean(p->mixed_case));
	json_object_object_add(o, "special", json_object_new_boolean(p->special));
	json_object_object_add(o, "lifetime_days", json_object_new_int((int)p->lifetime_days));
	rest_ok(q->r, 200, o);
}

static void put_policy(struct rest_req *q)
{
	struct sim_policy *p = &q->m->policy;

	rest_uint(q->body, "min_length", &p->min_length);
	rest_bool(q->body, "digit", &p->digit);
	rest_bool(q->body, "mixed_case", &p->mixed_case);
	rest_bool(q->body, "special", &p->special);
	rest_uint(q->body, "lifetime_days", &p->lifetime_days);
	get_policy(q);
}

static void get_lockout(struct rest_req *q)
{
	const struct sim_mgmt *m = q->m;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "enabled", json_object_new_boolean(m->lockout_enabled));
	json_object_object_add(o, "max_failures", json_object_new_int((int)m->lockout_failures));
	json_object_object_add(o, "lockout_minutes",
			       json_object_new_int((int)(m->lockout_seconds + 59) / 60));
	json_object_object_add(o, "lockout_seconds", json_object_new_int((int)m->lockout_seconds));
	rest_ok(q->r, 200, o);
}

static void put_lockout(struct rest_req *q)
{
	struct sim_mgmt *m = q->m;
	unsigned int min;

	rest_bool(q->body, "enabled", &m->lockout_enabled);
	rest_uint(q->body, "max_failures", &m->lockout_failures);
	if (rest_uint(q->body, "lockout_minutes", &min))
		m->lockout_seconds = min * 60;
	rest_uint(q->body, "lockout_seconds", &m->lockout_seconds);
	get_lockout(q);
}

static void get_certificate(struct rest_req *q)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "pem", json_object_new_string(q->m->cert_pem ? q->m->cert_pem
										  : ""));
	json_object_object_add(o, "sha256", json_object_new_string(q->m->cert_sha256));
	rest_ok(q->r, 200, o);
}

/* The CA's fingerprint without "sha256:" into out (TLS_FP_STRLEN); -1 when pem is none. */
static int rest_ca_fingerprint(const char *pem, size_t len, char *out)
{
	uint8_t fp[TLS_FP_LEN];
	X509 *x = NULL;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	int r = -1;

	if (b)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	ERR_clear_error();
	if (x && tls_cert_fingerprint(x, fp) == 0) {
		char fps[TLS_FP_STRLEN];

		tls_fingerprint_format(fp, fps);
		snprintf(out, TLS_FP_STRLEN, "%s", fps + 7);
		r = 0;
	}
	X509_free(x);
	return r;
}

/* {sha256} of the CA uploaded, "" when there is none. */
static void get_remote_ca(struct rest_req *q)
{
	char fps[TLS_FP_STRLEN] = "";
	json_object *o = json_object_new_object();

	if (q->m->remote_ca)
		rest_ca_fingerprint(q->m->remote_ca, strlen(q->m->remote_ca), fps);
	json_object_object_add(o, "sha256", json_object_new_string(fps));
	rest_ok(q->r, 200, o);
}

static void post_remote_ca(struct rest_req *q)
{
	char fps[TLS_FP_STRLEN];
	json_object *v, *o;
	const char *pem;

	json_object_object_get_ex(q->body, "pem", &v);
	pem = json_object_get_string(v);
	if (rest_ca_fingerprint(pem, (size_t)json_object_get_string_len(v), fps) < 0) {
		rest_error(q->r, 422, "invalid_certificate", "pem: no PEM certificate");
		return;
	}
	free(q->m->remote_ca);
	q->m->remote_ca = strdup(pem);
	o = json_object_new_object();
	json_object_object_add(o, "sha256", json_object_new_string(fps));
	rest_ok(q->r, 201, o);
}

/* ---- configuration export and import ---- */

/* The settings routes an export carries, by their key in "settings". */
static const struct rest_setting {
	const char *name;
	rest_fn *get, *put;
	size_t store;			/* as the route's STORED(), or 0 */
} rest_settings[] = {
	{ "network", get_stored, put_ipv4, offsetof(struct sim_mgmt, ipv4) },
	{ "services", get_stored, put_stored, offsetof(struct sim_mgmt, services) },
	{ "password_policy", get_policy, put_policy, 0 },
	{ "login_lockout", get_lockout, put_lockout, 0 },
	{ "allowlist", get_stored, put_stored, offsetof(struct sim_mgmt, allowlist) },
	{ "syslog", get_stored, put_stored, offsetof(struct sim_mgmt, syslog) },
	{ "sntp", get_stored, put_stored, offsetof(struct sim_mgmt, sntp) },
	{ "dos_defense", get_stored, put_stored, offsetof(struct sim_mgmt, dos_defense) },
	{ "web_sessions", get_stored, put_stored, offsetof(struct sim_mgmt, web_sessions) },
	{ "login_message", get_stored, put_stored, offsetof(struct sim_mgmt, login_message) },
};

/* Run one settings route's handler on body (NULL: its GET); its answer. */
static json_object *rest_setting_call(struct rest_req *q, const struct rest_setting *st,
				      rest_fn *fn, json_object *body, unsigned int *status)
{
	struct sim_response r = { 0 };
	struct rest_req sub = *q;
	json_object *out;

	sub.r = &r;
	sub.body = body;
	sub.store = st->store ? (json_object **)((char *)q->m + st->store) : NULL;
	fn(&sub);
	*status = r.status;
	out = r.body;
	return out;
}

static void get_config(struct rest_req *q)
{
	json_object *o = json_object_new_object(), *set = json_object_new_object();
	json_object *ports = json_object_new_array();
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	unsigned int st;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	json_object_object_add(o, "model", json_object_new_string(q->m->model));
	json_object_object_add(o, "firmware", json_object_new_string(q->m->firmware));
	json_object_object_add(o, "mac", json_object_new_string(q->m->mac));
	json_object_object_add(o, "serial", json_object_new_string(q->m->serial));
	json_object_object_add(o, "exported_at", json_object_new_string(when));
	json_object_object_add(set, "name", json_object_new_string(q->m->name));
	for (size_t i = 0; i < sizeof(rest_settings) / sizeof(rest_settings[0]); i++)
		json_object_object_add(set, rest_settings[i].name,
				       rest_setting_call(q, &rest_settings[i], rest_settings[i].get,
							 NULL, &st));
	for (unsigned int i = 0; i < q->s->opt.ports; i++) {
		const struct sim_port *p = &q->s->port[i];
		json_object *e = json_object_new_object();

		json_object_object_add(e, "port", json_object_new_int((int)p->n));
		json_object_object_add(e, "mode", json_object_new_string(rest_port_mode(p)));
		json_object_object_add(e, "connection",
				       json_object_new_string(rest_port_connection(p)));
		json_object_array_add(ports, e);
	}
	json_object_object_add(set, "serial_ports", ports);
	json_object_object_add(o, "settings", set);
	rest_ok(q->r, 200, o);
}

/* The ports of an import this unit has, in modes it can take; false with r filled. */
static bool rest_config_ports_ok(struct rest_req *q, json_object *ports)
{
	for (size_t i = 0; ports && i < json_object_array_length(ports); i++) {
		json_object *e = json_object_array_get_idx(ports, i);
		unsigned int n = 0;

		rest_uint(e, "port", &n);
		if (n > q->s->opt.ports) {
			rest_error(q->r, 422, "out_of_range", "settings: serial_ports: the unit has "
				   "no port %u", n);
			return false;
		}
	}
	return true;
}

/*
 * Import: the model must match; identity (MAC, serial) is never taken from
 * the file, the address only when "network" is there.  Each setting goes
 * through its own route's handler, the port modes last; the first refusal
 * stops the import with that route's answer.
 */
static void put_config(struct rest_req *q)
{
	const char *model = rest_str(q->body, "model");
	json_object *set, *v, *ports = NULL;
	unsigned int st;

	json_object_object_get_ex(q->body, "settings", &set);
	if (strcmp(model, q->m->model) != 0) {
		rest_error(q->r, 422, "wrong_model", "model: an export of \"%.64s\" does not fit "
			   "this \"%s\"", model, q->m->model);
		return;
	}
	json_object_object_get_ex(set, "serial_ports", &ports);
	if (!rest_config_ports_ok(q, ports))
		return;
	if (json_object_object_get_ex(set, "name", &v))
		snprintf(q->m->name, sizeof(q->m->name), "%s", json_object_get_string(v));
	for (size_t i = 0; i < sizeof(rest_settings) / sizeof(rest_settings[0]); i++) {
		const struct rest_setting *rs = &rest_settings[i];
		json_object *answer;

		if (!json_object_object_get_ex(set, rs->name, &v))
			continue;
		answer = rest_setting_call(q, rs, rs->put, v, &st);
		if (st >= 300) {
			rest_ok(q->r, st, answer);
			return;
		}
		json_object_put(answer);
	}
	for (size_t i = 0; ports && i < json_object_array_length(ports); i++) {
		json_object *e = json_object_array_get_idx(ports, i), *one = json_object_new_object();
		const struct sim_port *p;
		struct rest_req sub = *q;
		unsigned int n = 0;
		bool same;

		rest_uint(e, "port", &n);
		p = &q->s->port[n - 1];
		/* a port is reconfigured (and its host dropped) only when it changes */
		same = (!rest_str(e, "mode") || !strcmp(rest_str(e, "mode"), rest_port_mode(p))) &&
		       (!rest_str(e, "connection") ||
			!strcmp(rest_str(e, "connection"), rest_port_connection(p)));
		json_object_object_foreach(e, key, val)
			if (strcmp(key, "port") != 0)
				json_object_object_add(one, key, json_object_get(val));
		sub.body = one;
		sub.port = n;
		if (!same)
			put_port(&sub);
		json_object_put(one);
		if (!same && q->r->status >= 300)
			return;
	}
	rest_ok(q->r, 204, NULL);
}

/* ---- firmware ---- */

/*
 * An image (our model's format, docs/device-model.md): a first line
 * "MODEL firmware VERSION", then any bytes.  Accepted for this model, it
 * ends every session and the unit restarts: 503 for --restart-seconds, then
 * the new version.  Nothing is flashed: the version is all there is.
 */
static void post_firmware(struct rest_req *q)
{
	const char *nl = memchr(q->raw, '\n', q->raw_len < REST_IMAGE_LINE ? q->raw_len
								    : REST_IMAGE_LINE);
	char line[REST_IMAGE_LINE + 1], *sep, *version;
	json_object *o;
	size_t n;

	q->m->firmware_requests++;
	if (!q->raw_len) {
		rest_error(q->r, 422, "bad_image", "no image: send it as the body "
			   "(application/octet-stream)");
		return;
	}
	n = nl ? (size_t)(nl - q->raw) : 0;
	if (n && q->raw[n - 1] == '\r')
		n--;
	if (n)
		memcpy(line, q->raw, n);
	line[n] = '\0';
	sep = n && rest_string_ok(line, n, false) ? strstr(line, " firmware ") : NULL;
	version = sep ? sep + strlen(" firmware ") : NULL;
	if (!sep || sep == line || !version[0] || strlen(version) > SIM_FW_MAX ||
	    strspn(version, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-_") !=
	    strlen(version)) {
		rest_error(q->r, 422, "bad_image", "not a firmware image: its first line is not "
			   "\"MODEL firmware VERSION\"");
		return;
	}
	*sep = '\0';
	if (strcmp(line, q->m->model) != 0) {
		rest_error(q->r, 422, "wrong_model", "the image is for %.40s, this unit is %s", line,
			   q->m->model);
		return;
	}
	snprintf(q->m->pending_firmware, sizeof(q->m->pending_firmware), "%s", version);
	q->m->firmware_uploads++;
	/* every session ends with the restart; the answer is already ours */
	OPENSSL_cleanse(q->m->session, sizeof(q->m->session));
	q->m->restarting = true;
	sim_http_restart_in(q->s, q->s->opt.restart_ms);
	sim_reboot(q->s, q->s->opt.restart_ms);	/* the serial side restarts too */
	o = json_object_new_object();
	json_object_object_add(o, "firmware", json_object_new_string(version));
	json_object_object_add(o, "restart_seconds",
			       json_object_new_int((int)((q->s->opt.restart_ms + 999) / 1000)));
	rest_ok(q->r, 202, o);
}

void sim_rest_restarted(struct sim *s)
{
	struct sim_mgmt *m = &s->mgmt;

	m->restarting = false;
	if (!s->opt.keep_firmware)
		snprintf(m->firmware, sizeof(m->firmware), "%s", m->pending_firmware);
	log_info("https: restarted with firmware %s", m->firmware);
	sim_mdns_update(s);
}

/* ---- routing ---- */

/* Does url match pattern?  "{n}" takes 1 or 2 digits into *n. */
static bool rest_match(const char *pattern, const char *url, unsigned int *n)
{
	const char *brace = strstr(pattern, "{n}");
	size_t pre = brace ? (size_t)(brace - pattern) : strlen(pattern);

	if (strncmp(pattern, url, pre) != 0)
		return false;
	if (!brace)
		return url[pre] == '\0';
	url += pre;
	if (!isdigit((unsigned char)url[0]))
		return false;
	*n = (unsigned int)(url[0] - '0');
	if (isdigit((unsigned char)url[1])) {
		*n = *n * 10 + (unsigned int)(url[1] - '0');
		url++;
	}
	return strcmp(url + 1, brace + 3) == 0;
}

/* Does the route of method and url take a binary body? */
static bool rest_binary(const char *method, const char *url)
{
	unsigned int n;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (routes[i].binary && strcmp(routes[i].method, method) == 0 &&
		    rest_match(routes[i].path, url, &n))
			return true;
	return false;
}

size_t sim_rest_body_max(const char *method, const char *url)
{
	return rest_binary(method, url) ? SIM_IMAGE_MAX : SIM_BODY_MAX;
}

void sim_rest_handle(struct sim *s, const char *method, const char *url, const char *auth,
		     const char *body, size_t len, uint64_t now_ms, struct sim_response *r)
{
	struct rest_req q = { .s = s, .m = &s->mgmt, .now = now_ms, .r = r };
	const struct rest_route *route = NULL;
	char allow[sizeof(r->allow)] = "";
	size_t url_len = strnlen(url, REST_URL_MAX + 1);
	bool binary;

	*r = (struct sim_response){ 0 };
	/* a firmware restart: the web server is not back yet */
	if (s->mgmt.restarting) {
		rest_error(r, 503, "restarting", "the unit is restarting");
		return;
	}
	/* CVE-2025-2026: NUL or control characters anywhere are refused first. */
	if (url_len > REST_URL_MAX) {
		rest_error(r, 400, "bad_request", "path longer than %d bytes", REST_URL_MAX);
		return;
	}
	binary = rest_binary(method, url);
	if (!rest_string_ok(url, url_len, false) || strstr(url, "%0") || strstr(url, "%1") ||
	    strcasestr(url, "%7f") || (auth && !rest_string_ok(auth, strlen(auth), false)) ||
	    (!binary && !rest_text_ok(body, len))) {
		rest_error(r, 400, "control_character", "control characters are not allowed");
		return;
	}
	if (len > (binary ? SIM_IMAGE_MAX : SIM_BODY_MAX)) {
		if (binary)
			rest_error(r, 413, "too_large", "an image is at most %d bytes",
				   SIM_IMAGE_MAX);
		else
			rest_error(r, 400, "too_large", "request bodies are limited to %d bytes",
				   SIM_BODY_MAX);
		return;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		unsigned int n = 0;

		if (!rest_match(routes[i].path, url, &n))
			continue;
		if (routes[i].path[strlen(routes[i].path) - 1] == '}' &&
		    (n < 1 || n > s->opt.ports)) {
			rest_error(r, 404, "not_found", "no serial port %u", n);
			return;
		}
		if (strcmp(routes[i].method, method) == 0) {
			route = &routes[i];
			q.port = n;
			break;
		}
		snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
			 allow[0] ? ", " : "", routes[i].method);
	}
	if (!route && allow[0]) {
		rest_error(r, 405, "method_not_allowed", "%s is not allowed here (%s)", method,
			   allow);
		snprintf(r->allow, sizeof(r->allow), "%s", allow);
		return;
	}
	if (!route) {
		rest_error(r, 404, "not_found", "no such resource");
		return;
	}
	if (route->auth != AUTH_NONE) {
		q.session = rest_session(&s->mgmt, auth, now_ms);
		if (!q.session) {
			rest_error(r, 401, "unauthorized", "log in first (Authorization: Bearer "
				   "<token>)");
			return;
		}
		q.who = &s->mgmt.account[q.session->account];
		if (route->auth == AUTH_ADMIN && !q.who->admin) {
			rest_error(r, 403, "forbidden", "administrators only");
			return;
		}
	}
	if (route->fields) {
		json_tokener *tok = json_tokener_new_ex(REST_JSON_DEPTH);

		if (!tok) {
			rest_error(r, 500, "internal", "out of memory");
			return;
		}
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
		q.body = len ? json_tokener_parse_ex(tok, body, (int)len) : NULL;
		if (!q.body || json_tokener_get_error(tok) != json_tokener_success ||
		    json_tokener_get_parse_end(tok) != len) {
			rest_error(r, 400, "bad_json", "the body is not one JSON object");
			json_object_put(q.body);
			json_tokener_free(tok);
			return;
		}
		json_tokener_free(tok);
		if (!rest_json_ok(q.body)) {
			rest_error(r, 400, "control_character", "control characters are not allowed");
			json_object_put(q.body);
			return;
		}
		if (!rest_fields_ok(q.body, route->fields, "body", r)) {
			json_object_put(q.body);
			return;
		}
	}
	if (route->store)
		q.store = (json_object **)((char *)&s->mgmt + route->store);
	if (route->binary) {
		q.raw = body;
		q.raw_len = len;
	}
	route->fn(&q);
	json_object_put(q.body);
}

/* ---- identity, settings, the mDNS record, status ---- */

unsigned int sim_rest_txt(const struct sim *s, char txt[][80], unsigned int n)
{
	const struct sim_mgmt *m = &s->mgmt;
	unsigned int i = 0;

#define TXT(...) do { if (i < n) snprintf(txt[i++], 80, __VA_ARGS__); } while (0)
	TXT("vendor=Moxa");
	TXT("model=%s", m->model);
	TXT("mac=%s", m->mac);
	TXT("serial=%s", m->serial);
	TXT("fw=%s", m->firmware);
	TXT("state=%s", sim_rest_state(s));
	TXT("api=%s", REST_API);
#undef TXT
	return i;
}

json_object *sim_rest_status(const struct sim *s, uint64_t now_ms)
{
	const struct sim_mgmt *m = &s->mgmt;
	json_object *o = json_object_new_object(), *users = json_object_new_array();
	json_object *locked = json_object_new_array(), *lk = json_object_new_object();
	unsigned int sessions = 0;

	for (unsigned int i = 0; i < m->accounts; i++) {
		json_object *u = json_object_new_object();

		json_object_object_add(u, "username", json_object_new_string(m->account[i].user));
		json_object_object_add(u, "group", json_object_new_string(
			m->account[i].admin ? "admin" : "operator"));
		json_object_array_add(users, u);
	}
	for (unsigned int i = 0; i < SIM_SESSIONS_MAX; i++)
		sessions += m->session[i].token[0] && m->session[i].expires_ms > now_ms;
	for (unsigned int i = 0; i < SIM_FAILURES_MAX; i++) {
		const struct sim_failures *f = &m->failures[i];
		json_object *e;

		if (!f->user[0] || f->locked_until_ms <= now_ms)
			continue;
		e = json_object_new_object();
		json_object_object_add(e, "username", json_object_new_string(f->user));
		json_object_object_add(e, "retry_after", json_object_new_int64(
			(int64_t)(f->locked_until_ms - now_ms + 999) / 1000));
		json_object_array_add(locked, e);
	}
	json_object_object_add(o, "state", json_object_new_string(sim_rest_state(s)));
	json_object_object_add(o, "https_port", json_object_new_int((int)s->opt.https_port));
	json_object_object_add(o, "name", json_object_new_string(m->name));
	json_object_object_add(o, "mac", json_object_new_string(m->mac));
	json_object_object_add(o, "firmware", json_object_new_string(m->firmware));
	json_object_object_add(o, "firmware_uploads", json_object_new_int((int)m->firmware_uploads));
	json_object_object_add(o, "firmware_requests",
			       json_object_new_int((int)m->firmware_requests));
	json_object_object_add(o, "restarting", json_object_new_boolean(m->restarting));
	json_object_object_add(o, "accounts", json_object_new_int((int)m->accounts));
	json_object_object_add(o, "users", users);
	json_object_object_add(o, "sessions", json_object_new_int((int)sessions));
	json_object_object_add(lk, "enabled", json_object_new_boolean(m->lockout_enabled));
	json_object_object_add(lk, "max_failures", json_object_new_int((int)m->lockout_failures));
	json_object_object_add(lk, "lockout_seconds", json_object_new_int((int)m->lockout_seconds));
	json_object_object_add(lk, "refused", json_object_new_int((int)m->logins_locked));
	json_object_object_add(lk, "locked", locked);
	json_object_object_add(o, "lockout", lk);
	json_object_object_add(o, "certificate_sha256", json_object_new_string(m->cert_sha256));
	json_object_object_add(o, "mdns", json_object_new_boolean(m->mdns != NULL));
	return o;
}

static int rest_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char end;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
				      &b[4], &b[5], &end) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

/* --accounts: "user:password:admin|operator" per line, readable by its owner only. */
static int rest_read_accounts(struct sim_mgmt *m, const char *path, char *err, size_t errlen)
{
	char line[SIM_USER_MAX + SIM_PASSWORD_MAX + 32];
	unsigned int lineno = 0;
	struct stat st;
	int r = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) < 0 || (st.st_mode & 077)) {
		snprintf(err, errlen, "%s: readable by others (mode %03o): chmod 600 it", path,
			 (unsigned int)(st.st_mode & 0777));
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *user = line, *pw, *group, *nl = strchr(line, '\n');

		lineno++;
		if (!nl && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line too long", path, lineno);
			r = -1;
			break;
		}
		if (nl)
			*nl = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		pw = strchr(user, ':');
		group = pw ? strrchr(pw + 1, ':') : NULL;
		if (!group) {
			snprintf(err, errlen, "%s:%u: expected user:password:admin|operator", path,
				 lineno);
			r = -1;
			break;
		}
		*pw++ = '\0';
		*group++ = '\0';
		if (!rest_user_ok(user) || !*pw ||
		    (strcmp(group, "admin") != 0 && strcmp(group, "operator") != 0)) {
			snprintf(err, errlen, "%s:%u: bad user name, empty password or a group "
				 "other than admin or operator", path, lineno);
			r = -1;
			break;
		}
		if (rest_add_account(m, user, pw, strcmp(group, "admin") == 0) < 0) {
			snprintf(err, errlen, "%s:%u: at most %d accounts", path, lineno,
				 SIM_ACCOUNTS_MAX);
			r = -1;
			break;
		}
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	return r;
}

/* The device certificate: the data TLS one when given (it stays), else the
 * device's own, self-signed for address; replaces the one before. */
static int rest_certificate(struct sim *s, const char *address, char *err, size_t errlen)
{
	struct sim_mgmt *m = &s->mgmt;
	char e[TLS_ERR_MAX], fp[TLS_FP_STRLEN];
	uint8_t raw[TLS_FP_LEN];
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	char *pem = NULL;
	int r;

	if (rest_self_signed(s))
		r = tls_self_signed(m->name, address, 3650, &cert, &key, e);
	else
		r = tls_load_pem(s->opt.cert, s->opt.key, &cert, &key, e);
	if (r < 0 || !(pem = tls_cert_pem(cert)) || tls_cert_fingerprint(cert, raw) < 0) {
		snprintf(err, errlen, "HTTPS certificate: %s", r < 0 ? e : "out of memory");
		X509_free(cert);
		EVP_PKEY_free(key);
		free(pem);
		return -1;
	}
	X509_free(m->cert);
	EVP_PKEY_free(m->key);
	free(m->cert_pem);
	m->cert = cert;
	m->key = key;
	m->cert_pem = pem;
	tls_fingerprint_format(raw, fp);
	snprintf(m->cert_sha256, sizeof(m->cert_sha256), "%s", fp + 7);
	return 0;
}

int sim_rest_init(struct sim *s, char *err, size_t errlen)
{
	struct sim_mgmt *m = &s->mgmt;
	const struct sim_options *o = &s->opt;
	uint8_t mac[6] = { 0x00, 0x90, 0xE8 }, h[32];
	const char *digits;
	char seed[128];
	size_t nd;

	snprintf(m->model, sizeof(m->model), "%s", o->model ? o->model : "NPort 6150-G2");
	snprintf(m->firmware, sizeof(m->firmware), "%s", o->firmware ? o->firmware : REST_FIRMWARE);
	if (o->mac) {
		if (rest_parse_mac(o->mac, mac) < 0) {
			snprintf(err, errlen, "--mac %s: expected XX:XX:XX:XX:XX:XX", o->mac);
			return -1;
		}
	} else {
		/* deterministic: the same options give the same unit */
		snprintf(seed, sizeof(seed), "%s|%s|%u|%u", o->serial ? o->serial : "",
			 o->listen, o->data_base, o->tcp_base);
		SHA256((const uint8_t *)seed, strlen(seed), h);
		memcpy(mac + 3, h, 3);
	}
	snprintf(m->mac, sizeof(m->mac), "%02X:%02X:%02X:%02X:%02X:%02X", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
	if (o->serial)
		snprintf(m->serial, sizeof(m->serial), "%s", o->serial);
	else
		snprintf(m->serial, sizeof(m->serial), "SIM%02X%02X%02X", mac[3], mac[4], mac[5]);
	digits = m->model + strcspn(m->model, "0123456789");
	nd = strspn(digits, "0123456789");
	if (o->name)
		snprintf(m->name, sizeof(m->name), "%s", o->name);
	else
		snprintf(m->name, sizeof(m->name), "NPort-%.*s-%02X%02X%02X", (int)nd, digits,
			 mac[3], mac[4], mac[5]);
	m->policy = (struct sim_policy){ .min_length = o->min_password };
	m->lockout_enabled = true;
	m->lockout_failures = o->lockout_failures;
	m->lockout_seconds = o->lockout_seconds;
	m->needs_setup = o->factory;
	m->ipv4 = json_object_new_object();
	json_object_object_add(m->ipv4, "mode", json_object_new_string("manual"));
	json_object_object_add(m->ipv4, "address", json_object_new_string(
		rest_ipv4_ok(o->listen) ? o->listen : "0.0.0.0"));
	json_object_object_add(m->ipv4, "netmask", json_object_new_string("255.255.255.0"));
	json_object_object_add(m->ipv4, "gateway", json_object_new_string(""));
	m->services = json_object_new_object();
	json_object_object_add(m->services, "snmp", json_object_new_boolean(false));
	json_object_object_add(m->services, "wins", json_object_new_boolean(false));
	json_object_object_add(m->services, "moxa_service", json_object_new_boolean(true));
	json_object_object_add(m->services, "https", json_object_new_boolean(true));
	json_object_object_add(m->services, "serial_console", json_object_new_boolean(true));
	m->allowlist = json_object_new_object();
	json_object_object_add(m->allowlist, "enabled", json_object_new_boolean(false));
	json_object_object_add(m->allowlist, "entries", json_object_new_array());
	m->syslog = json_object_new_object();
	json_object_object_add(m->syslog, "remote", json_object_new_array());
	/* the guide's defaults: SNTP off (3.1), DoS defense on (3.7); ten web
	 * sessions and no login message are our model's */
	m->sntp = json_object_new_object();
	json_object_object_add(m->sntp, "enabled", json_object_new_boolean(false));
	json_object_object_add(m->sntp, "servers", json_object_new_array());
	m->dos_defense = json_object_new_object();
	json_object_object_add(m->dos_defense, "enabled", json_object_new_boolean(true));
	m->web_sessions = json_object_new_object();
	json_object_object_add(m->web_sessions, "max_sessions", json_object_new_int(10));
	m->login_message = json_object_new_object();
	json_object_object_add(m->login_message, "text", json_object_new_string(""));
	if (o->accounts && rest_read_accounts(m, o->accounts, err, errlen) < 0)
		return -1;
	return o->mgmt ? rest_certificate(s, o->listen, err, errlen) : 0;
}

void sim_rest_free(struct sim *s)
{
	struct sim_mgmt *m = &s->mgmt;

	json_object_put(m->ipv4);
	json_object_put(m->services);
	json_object_put(m->allowlist);
	json_object_put(m->syslog);
	json_object_put(m->sntp);
	json_object_put(m->dos_defense);
	json_object_put(m->web_sessions);
	json_object_put(m->login_message);
	free(m->remote_ca);
	free(m->cert_pem);
	X509_free(m->cert);
	EVP_PKEY_free(m->key);
	OPENSSL_cleanse(m->account, sizeof(m->account));
	OPENSSL_cleanse(m->session, sizeof(m->session));
	m->ipv4 = m->services = m->allowlist = m->syslog = NULL;
	m->sntp = m->dos_defense = m->web_sessions = m->login_message = NULL;
	m->remote_ca = m->cert_pem = NULL;
	m->cert = NULL;
	m->key = NULL;
}
