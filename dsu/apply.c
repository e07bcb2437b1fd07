// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dsu apply FILE: bring a fleet of units to the settings a file asks for.
 * FILE has one [unit NAME] section per unit: how to reach it (host, user,
 * password_file, mac, fingerprint), "baseline = hardening-guide" for every
 * recommendation of the guide that needs no site input (what dsu audit
 * checks, audit.c), and keys named after the management model's groups and
 * fields (docs/device-model.md) that override the baseline.  The whole file
 * is checked before any unit is contacted.  Each unit is read, its plan
 * printed ("unit: setting: now -> wanted"), and only what differs is written,
 * one PUT of the route's merged body per route (remote_ca: a POST of the
 * PEM when the unit's CA has another fingerprint; map: realcom.conf written
 * by dsu map's own code, map.c); the first refusal stops that unit, which
 * then reports what was applied and what not.  Nothing is retried.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "cli.h"
#include "conf.h"
#include "config.h"
#include "dsu.h"

#define APPLY_UNITS_MAX		256
#define APPLY_SETTINGS_MAX	128
#define APPLY_PORTS_MAX		32
#define APPLY_ALLOW_MAX		16	/* the model's allowlist entries */
#define APPLY_SYSLOG_MAX	4
#define APPLY_SNTP_MAX		4
#define APPLY_MESSAGE_MAX	256
#define APPLY_LINE_MAX		4096
#define APPLY_TIMEOUT		10

static const char help[] =
	"Usage: dsu apply FILE [--dry-run] [--json] [--yes]\n"
	"Bring each [unit NAME] of FILE to the settings it names, or to the hardening\n"
	"guide's baseline (baseline = hardening-guide), writing only what differs.\n"
	"Prints one line per change: \"unit: setting: now -> wanted\".  Asks before\n"
	"changing a unit on a terminal; elsewhere --yes must be given.  --dry-run: the\n"
	"plan only; --json: the result as JSON.  Exit 0: every unit applied or up to\n"
	"date; 1: a unit failed (the others are still processed); 2: a bad FILE.\n"
	"See dsu(1) for the keys.\n";

/* ---- the settings a file may name ---- */

/* The model's routes apply writes, in the order it writes them: the
 * allowlist last, so nothing after it can be cut off by it. */
enum group {
	G_SERVICES, G_POLICY, G_LOCKOUT, G_SYSLOG, G_SNTP, G_DOS, G_SESSIONS, G_MESSAGE,
	G_REMOTE_CA, G_PORT, G_MAP, G_ALLOWLIST, G_GROUPS
};

static const struct {
	const char *name;		/* the key prefix, the model's group */
	enum api_call get, put;
	const char *const *fields[6];	/* the body PUT carries */
} groups[G_GROUPS] = {
	[G_SERVICES] = { "services", API_SERVICES, API_PUT_SERVICES,
			 { &F.snmp, &F.wins, &F.moxa_service, &F.https, &F.serial_console } },
	[G_POLICY] = { "password_policy", API_PASSWORD_POLICY, API_PUT_PASSWORD_POLICY,
		       { &F.min_length, &F.digit, &F.mixed_case, &F.special, &F.lifetime_days } },
	[G_LOCKOUT] = { "login_lockout", API_LOCKOUT, API_PUT_LOCKOUT,
			{ &F.enabled, &F.max_failures, &F.lockout_minutes } },
	[G_SYSLOG] = { "syslog", API_SYSLOG, API_PUT_SYSLOG, { &F.remote } },
	[G_SNTP] = { "sntp", API_SNTP, API_PUT_SNTP, { &F.enabled, &F.servers } },
	[G_DOS] = { "dos_defense", API_DOS_DEFENSE, API_PUT_DOS_DEFENSE, { &F.enabled } },
	[G_SESSIONS] = { "web_sessions", API_WEB_SESSIONS, API_PUT_WEB_SESSIONS,
			 { &F.max_sessions } },
	[G_MESSAGE] = { "login_message", API_LOGIN_MESSAGE, API_PUT_LOGIN_MESSAGE, { &F.text } },
	/* before the ports that may need it */
	[G_REMOTE_CA] = { "remote_ca", API_REMOTE_CA, API_POST_REMOTE_CA, { &F.pem } },
	[G_PORT] = { "port", API_PORTS, API_PUT_PORT, { &F.mode, &F.connection } },
	/* realcom.conf, after the port modes: dsu map's code (map.c) */
	[G_MAP] = { "map", API_PORTS, API_CALLS, { NULL } },
	[G_ALLOWLIST] = { "allowlist", API_ALLOWLIST, API_PUT_ALLOWLIST,
			  { &F.enabled, &F.entries } },
};

enum kind { K_BOOL, K_UINT, K_TEXT, K_ENUM, K_ALLOWLIST, K_SYSLOG, K_SNTP, K_MAP, K_CA };

/* How a wanted number compares with the unit's: the baseline asks a bound. */
enum bound { B_EQUAL, B_AT_LEAST, B_AT_MOST, B_AT_MOST_NONZERO };

static const struct key_def {
	const char *name;		/* the key; "port.N.mode" has N in it */
	enum group group;
	enum kind kind;
	const char *const *field;	/* the one field of K_BOOL .. K_ENUM */
	unsigned int min, max;		/* K_UINT */
	const char *const *values;	/* K_ENUM */
	const char *expect;		/* for errors */
} keys[] = {
	{ "services.snmp", G_SERVICES, K_BOOL, &F.snmp, .expect = "on or off" },
	{ "services.wins", G_SERVICES, K_BOOL, &F.wins, .expect = "on or off" },
	{ "password_policy.min_length", G_POLICY, K_UINT, &F.min_length, 1, DSU_PASSWORD_MAX - 1,
	  .expect = "1 to 127 characters" },
	{ "password_policy.digit", G_POLICY, K_BOOL, &F.digit, .expect = "on or off" },
	{ "password_policy.mixed_case", G_POLICY, K_BOOL, &F.mixed_case, .expect = "on or off" },
	{ "password_policy.special", G_POLICY, K_BOOL, &F.special, .expect = "on or off" },
	{ "password_policy.lifetime_days", G_POLICY, K_UINT, &F.lifetime_days, 0, 3650,
	  .expect = "0 (none) to 3650 days" },
	{ "login_lockout.enabled", G_LOCKOUT, K_BOOL, &F.enabled, .expect = "on or off" },
	{ "login_lockout.max_failures", G_LOCKOUT, K_UINT, &F.max_failures, 1, 100,
	  .expect = "1 to 100 failures" },
	{ "login_lockout.lockout_minutes", G_LOCKOUT, K_UINT, &F.lockout_minutes, 1, 1440,
	  .expect = "1 to 1440 minutes" },
	{ "allowlist", G_ALLOWLIST, K_ALLOWLIST,
	  .expect = "off, or up to 16 IPv4 addresses or ADDRESS/PREFIX networks" },
	{ "syslog", G_SYSLOG, K_SYSLOG,
	  .expect = "none, or up to 4 servers \"IPV4[:PORT] [tls]\" separated by commas" },
	{ "sntp", G_SNTP, K_SNTP, .expect = "off, or up to 4 server names or addresses" },
	{ "dos_defense", G_DOS, K_BOOL, &F.enabled, .expect = "on or off" },
	{ "web_sessions.max_sessions", G_SESSIONS, K_UINT, &F.max_sessions, 1, 10,
	  .expect = "1 to 10 sessions" },
	{ "login_message", G_MESSAGE, K_TEXT, &F.text,
	  .expect = "up to 256 printable ASCII characters" },
	{ "port.N.mode", G_PORT, K_ENUM, &F.mode, .values = api_port_modes,
	  .expect = "realcom, rfc2217, tcp-server or disabled" },
	{ "port.N.connection", G_PORT, K_ENUM, &F.connection, .values = api_port_connections,
	  .expect = "unencrypted, encrypted or encrypted-authenticated" },
	{ "map", G_MAP, K_MAP, .expect = "PORT:ttyRN pairs such as 1:ttyR0 2:ttyR1" },
	{ "remote_ca", G_REMOTE_CA, K_CA, &F.pem, .expect = "a PEM certificate file" },
};

#define KEYS	(sizeof(keys) / sizeof(keys[0]))

/* One setting wanted of a unit: the fields it sets in its route's body. */
struct want {
	char name[32];			/* the key as written, "port.2.mode" */
	const struct key_def *def;
	unsigned int port;		/* G_PORT */
	json_object *frag;		/* {field: value, ...} */
	enum bound bound;
	unsigned int line;
	char sha256[TLS_FP_STRLEN];	/* K_CA: the certificate's fingerprint */
};

struct unit {
	char name[64];
	unsigned int line;
	char *host, *user, *password_file, *mac, *fingerprint, *config;
	bool baseline;
	struct map_opts map;		/* map = ...: want[] set */
	struct want want[APPLY_SETTINGS_MAX];
	size_t wants;
	char password[DSU_PASSWORD_MAX];
};

struct fleet {
	const char *path;
	char dir[4096];			/* for relative password files */
	FILE *f;
	unsigned int line;
	unsigned int section_line;	/* of the last [section] */
	char bad_section[256];
	struct unit *unit[APPLY_UNITS_MAX];
	size_t units;
	unsigned int errors;
};

__attribute__((format(printf, 3, 4)))
static void file_error(struct fleet *fl, unsigned int line, const char *fmt, ...)
{
	va_list ap;

	fl->errors++;
	if (line)
		fprintf(stderr, "dsu: %s:%u: ", fl->path, line);
	else
		fprintf(stderr, "dsu: %s: ", fl->path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- values ---- */

static json_object *frag1(const char *field, json_object *v)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, field, v);
	return o;
}

/* "192.0.2.0/24" or "192.0.2.7" into an entry {address, netmask}. */
static json_object *allow_entry(const char *word)
{
	char addr[INET_ADDRSTRLEN + 4], mask[INET_ADDRSTRLEN];
	const char *slash = strchr(word, '/');
	unsigned int prefix = 32;
	struct in_addr a, m;
	json_object *e;

	if ((slash ? (size_t)(slash - word) : strlen(word)) >= sizeof(addr))
		return NULL;
	snprintf(addr, sizeof(addr), "%.*s", slash ? (int)(slash - word) : (int)strlen(word),
		 word);
	if (inet_pton(AF_INET, addr, &a) != 1)
		return NULL;
	if (slash) {
		char why[64];

		if (conf_parse_uint(slash + 1, 0, 32, &prefix, why, sizeof(why)) < 0)
			return NULL;
	}
	m.s_addr = htonl(prefix ? 0xffffffffu << (32 - prefix) : 0);
	if ((a.s_addr & ~m.s_addr) != 0)
		return NULL;			/* host bits set: a typo, most likely */
	inet_ntop(AF_INET, &m, mask, sizeof(mask));
	e = json_object_new_object();
	json_object_object_add(e, F.address, json_object_new_string(addr));
	json_object_object_add(e, F.netmask, json_object_new_string(mask));
	return e;
}

static bool is_off(const char *v)
{
	return !strcasecmp(v, "off") || !strcasecmp(v, "none");
}

/* The next word of *s separated by blanks or commas, into w: 1, or 0 at the
 * end, or -1 when it does not fit. */
static int next_word(const char **s, char *w, size_t len)
{
	size_t n;

	while (**s == ' ' || **s == '\t' || **s == ',')
		(*s)++;
	n = strcspn(*s, " \t,");
	if (!n)
		return 0;
	if (n >= len)
		return -1;
	snprintf(w, len, "%.*s", (int)n, *s);
	*s += n;
	return 1;
}

/* "off", or words each made an item by item(): {enabled, key: [items]}. */
static json_object *parse_enabled_list(const char *v, const char *key, size_t most,
				       json_object *(*item)(const char *word))
{
	json_object *list, *o;
	char w[256];

	if (is_off(v))
		return frag1(F.enabled, json_object_new_boolean(false));
	list = json_object_new_array();
	while (next_word(&v, w, sizeof(w)) > 0) {
		json_object *e = item(w);

		if (!e || json_object_array_length(list) == most) {
			json_object_put(e);
			json_object_put(list);
			return NULL;
		}
		json_object_array_add(list, e);
	}
	if (*v || json_object_array_length(list) == 0) {
		json_object_put(list);
		return NULL;
	}
	o = frag1(F.enabled, json_object_new_boolean(true));
	json_object_object_add(o, key, list);
	return o;
}

/* "ADDR[:PORT] [tls], ..." into {remote: [{address, port, tls}]}. */
static json_object *parse_syslog(const char *v)
{
	json_object *list = json_object_new_array();
	const char *p = v;

	if (is_off(v))
		return frag1(F.remote, list);
	while (*p) {
		char item[128], addr[INET_ADDRSTRLEN], w[64], why[64];
		size_t n = strcspn(p, ",");
		const char *q = item, *colon;
		unsigned int port = 0;
		struct in_addr a;
		bool tls = false;
		json_object *e;
		int r;

		if (n >= sizeof(item) || json_object_array_length(list) == APPLY_SYSLOG_MAX)
			goto bad;
		snprintf(item, sizeof(item), "%.*s", (int)n, p);
		p += n + (p[n] == ',');
		if (next_word(&q, w, sizeof(w)) <= 0)
			goto bad;
		colon = strchr(w, ':');
		if ((colon ? (size_t)(colon - w) : strlen(w)) >= sizeof(addr))
			goto bad;
		snprintf(addr, sizeof(addr), "%.*s", colon ? (int)(colon - w) : (int)strlen(w), w);
		if (inet_pton(AF_INET, addr, &a) != 1 ||
		    (colon && conf_parse_uint(colon + 1, 1, 65535, &port, why, sizeof(why)) < 0))
			goto bad;
		r = next_word(&q, w, sizeof(w));
		if (r < 0)
			goto bad;
		if (r > 0) {
			if (strcmp(w, "tls") != 0 || next_word(&q, w, sizeof(w)) != 0)
				goto bad;
			tls = true;
		}
		if (!port)
			port = tls ? 6514 : 514;	/* RFC 5425, RFC 5426 */
		e = json_object_new_object();
		json_object_object_add(e, F.address, json_object_new_string(addr));
		json_object_object_add(e, F.port, json_object_new_int((int)port));
		json_object_object_add(e, F.tls, json_object_new_boolean(tls));
		json_object_array_add(list, e);
	}
	if (json_object_array_length(list) == 0)
		goto bad;
	return frag1(F.remote, list);
bad:
	json_object_put(list);
	return NULL;
}

/* An SNTP server: a host name or address, as a JSON string. */
static json_object *sntp_server(const char *h)
{
	return conf_is_host(h) ? json_object_new_string(h) : NULL;
}

/* value as def wants it: the fragment of the route's body, or NULL. */
static json_object *parse_value(const struct key_def *def, const char *value)
{
	char why[128];
	unsigned int n;
	bool b;
	int i;

	switch (def->kind) {
	case K_BOOL:
		if (conf_parse_bool(value, &b, why, sizeof(why)) < 0)
			return NULL;
		return frag1(*def->field, json_object_new_boolean(b));
	case K_UINT:
		if (conf_parse_uint(value, def->min, def->max, &n, why, sizeof(why)) < 0)
			return NULL;
		return frag1(*def->field, json_object_new_int((int)n));
	case K_TEXT:
		if (strlen(value) > APPLY_MESSAGE_MAX)
			return NULL;
		for (const char *p = value; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				return NULL;
		return frag1(*def->field, json_object_new_string(value));
	case K_ENUM:
		for (i = 0; def->values[i] && strcmp(def->values[i], value); i++)
			;
		return def->values[i] ? frag1(*def->field, json_object_new_string(value)) : NULL;
	case K_ALLOWLIST:
		return parse_enabled_list(value, F.entries, APPLY_ALLOW_MAX, allow_entry);
	case K_SYSLOG:
		return parse_syslog(value);
	case K_SNTP:
		return parse_enabled_list(value, F.servers, APPLY_SNTP_MAX, sntp_server);
	case K_MAP:
	case K_CA:
		break;			/* parse_map(), parse_ca(): their own */
	}
	return NULL;
}

/* "1:ttyR0 2:ttyR1" into m's want[] and tty[]; the value as a JSON string. */
static json_object *parse_map(const char *v, struct map_opts *m)
{
	const char *p = v;
	char w[32];
	int r;

	for (int i = 0; i <= 32; i++)
		m->tty[i] = -1;
	while ((r = next_word(&p, w, sizeof(w))) > 0) {
		unsigned int port, tty;
		char *colon = strchr(w, ':'), why[64];

		if (!colon || strncmp(colon + 1, "ttyR", 4) != 0)
			return NULL;
		*colon = '\0';
		if (conf_parse_uint(w, 1, APPLY_PORTS_MAX, &port, why, sizeof(why)) < 0 ||
		    conf_parse_uint(colon + 5, 0, REALCOM_TTYS_MAX - 1, &tty, why, sizeof(why)) < 0 ||
		    m->want[port])
			return NULL;
		for (int i = 1; i <= 32; i++)
			if (m->tty[i] == (int)tty)
				return NULL;
		m->want[port] = true;
		m->tty[port] = (int)tty;
	}
	if (r < 0 || *p)
		return NULL;
	for (int i = 1; i <= 32; i++)
		if (m->want[i])
			return json_object_new_string(v);
	return NULL;
}

#define APPLY_PEM_MAX	(12 * 1024)	/* the model's limit */

/* remote_ca = FILE: {pem} with its fingerprint in sha256, or NULL with why. */
static json_object *parse_ca(const char *path, char sha256[TLS_FP_STRLEN], char *why, size_t len)
{
	uint8_t fp[TLS_FP_LEN];
	char *text = NULL;
	json_object *o;
	size_t n = 0;
	FILE *f;

	if (tls_file_fingerprint(path, fp) < 0) {
		snprintf(why, len, "%s: no PEM certificate there", path);
		return NULL;
	}
	f = fopen(path, "re");
	if (f) {
		text = calloc(1, APPLY_PEM_MAX + 2);
		n = text ? fread(text, 1, APPLY_PEM_MAX + 1, f) : 0;
		fclose(f);
	}
	if (!text || n == 0 || n > APPLY_PEM_MAX) {
		snprintf(why, len, "%s: %s", path, n > APPLY_PEM_MAX ? "larger than 12 KiB" :
			 "cannot read it");
		free(text);
		return NULL;
	}
	tls_fingerprint_format(fp, sha256);
	o = frag1(F.pem, json_object_new_string(text));
	free(text);
	return o;
}

/* ---- the file ---- */

static struct want *want_find(struct unit *u, const char *name)
{
	for (size_t i = 0; i < u->wants; i++)
		if (!strcmp(u->want[i].name, name))
			return &u->want[i];
	return NULL;
}

static struct want *want_add(struct unit *u, const char *name)
{
	struct want *w;

	if (u->wants == APPLY_SETTINGS_MAX)
		return NULL;
	w = &u->want[u->wants++];
	memset(w, 0, sizeof(*w));
	snprintf(w->name, sizeof(w->name), "%s", name);
	return w;
}

/* "port.3.mode" -> the port.N.mode definition and 3. */
static const struct key_def *key_find(const char *name, unsigned int *port)
{
	*port = 0;
	if (!strncmp(name, "port.", 5)) {
		char *end, why[64];
		char num[8];
		size_t n = strcspn(name + 5, ".");

		if (n == 0 || n >= sizeof(num))
			return NULL;
		snprintf(num, sizeof(num), "%.*s", (int)n, name + 5);
		if (conf_parse_uint(num, 1, APPLY_PORTS_MAX, port, why, sizeof(why)) < 0)
			return NULL;
		end = (char *)name + 5 + n;
		for (size_t i = 0; i < KEYS; i++)
			if (keys[i].group == G_PORT && !strcmp(keys[i].name + 6, end))
				return &keys[i];
		return NULL;
	}
	for (size_t i = 0; i < KEYS; i++)
		if (keys[i].group != G_PORT && !strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

static const char *const unit_keys[] = {
	"host", "user", "password_file", "mac", "fingerprint", "config", "baseline",
};

static bool mac_ok(const char *m)
{
	if (strlen(m) != 17)
		return false;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? m[i] != ':' && m[i] != '-' : !strchr("0123456789abcdefABCDEF", m[i]))
			return false;
	return true;
}

static char *dup_or_die(const char *s)
{
	char *p = strdup(s);

	if (!p) {
		fputs("dsu: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

/* A path in the file relative to the file's directory. */
static int fleet_relative(const struct fleet *fl, char **path)
{
	char *p;

	if (!*path || (*path)[0] == '/')
		return 0;
	if (asprintf(&p, "%s/%s", fl->dir, *path) < 0)
		return -1;
	free(*path);
	*path = p;
	return 0;
}

static void unit_key(struct fleet *fl, struct unit *u, const char *name, const char *value)
{
	char **field[] = { &u->host, &u->user, &u->password_file, &u->mac, &u->fingerprint,
			   &u->config, NULL };
	char sha256[TLS_FP_STRLEN] = "";
	const struct key_def *def;
	unsigned int port;
	json_object *frag;
	struct want *w;

	for (size_t i = 0; i < sizeof(unit_keys) / sizeof(unit_keys[0]); i++) {
		if (strcmp(name, unit_keys[i]) != 0)
			continue;
		if (!value[0]) {
			file_error(fl, fl->line, "[unit %s]: %s has no value", u->name, name);
			return;
		}
		if (!field[i]) {	/* baseline */
			if (u->baseline)
				file_error(fl, fl->line, "[unit %s]: baseline given twice", u->name);
			else if (strcmp(value, "hardening-guide") != 0)
				file_error(fl, fl->line, "[unit %s]: baseline = '%s': expected "
					   "hardening-guide", u->name, value);
			u->baseline = true;
			return;
		}
		if (*field[i]) {
			file_error(fl, fl->line, "[unit %s]: %s given twice", u->name, name);
			return;
		}
		if (field[i] == &u->mac && !mac_ok(value)) {
			file_error(fl, fl->line, "[unit %s]: mac = '%s': expected a MAC address "
				   "like 00:90:E8:12:34:56", u->name, value);
			return;
		}
		if (field[i] == &u->fingerprint) {
			uint8_t fp[TLS_FP_LEN];

			if (tls_fingerprint_parse(value, fp) < 0) {
				file_error(fl, fl->line, "[unit %s]: fingerprint = '%s': expected "
					   "sha256:HEX as dsu prints it", u->name, value);
				return;
			}
		}
		*field[i] = dup_or_die(value);
		return;
	}
	def = key_find(name, &port);
	if (!def) {
		const char *words[KEYS + sizeof(unit_keys) / sizeof(unit_keys[0])], *near;
		size_t n = 0;

		for (size_t i = 0; i < sizeof(unit_keys) / sizeof(unit_keys[0]); i++)
			words[n++] = unit_keys[i];
		for (size_t i = 0; i < KEYS; i++)
			words[n++] = keys[i].name;
		near = cli_suggest(name, words, n);
		if (!strncmp(name, "port.", 5) && strchr(name + 5, '.')) {
			char as_one[48];
			unsigned int one;

			snprintf(as_one, sizeof(as_one), "port.1%.32s", strchr(name + 5, '.'));
			if (key_find(as_one, &one)) {
				file_error(fl, fl->line, "[unit %s]: %s: expected a port number 1 "
					   "to %d", u->name, name, APPLY_PORTS_MAX);
				return;
			}
		}
		file_error(fl, fl->line, "[unit %s]: unknown key '%s': %s%s%s", u->name, name,
			   near ? "did you mean '" : "expected a key of dsu(1), \"apply\"",
			   near ? near : "", near ? "'?" : "");
		return;
	}
	if (want_find(u, name)) {
		file_error(fl, fl->line, "[unit %s]: %s given twice", u->name, name);
		return;
	}
	if (def->kind == K_CA) {
		char why[DSU_ERR_MAX], *path = dup_or_die(value);

		frag = fleet_relative(fl, &path) < 0 ? NULL :
		       parse_ca(path, sha256, why, sizeof(why));
		free(path);
		if (!frag) {
			file_error(fl, fl->line, "[unit %s]: remote_ca = '%s': %s", u->name, value,
				   why);
			return;
		}
	} else {
		frag = def->kind == K_MAP ? parse_map(value, &u->map) : parse_value(def, value);
	}
	if (!frag) {
		file_error(fl, fl->line, "[unit %s]: %s = '%s': expected %s", u->name, name, value,
			   def->expect);
		return;
	}
	w = want_add(u, name);
	if (!w) {
		json_object_put(frag);
		file_error(fl, fl->line, "[unit %s]: more than %d settings", u->name,
			   APPLY_SETTINGS_MAX);
		return;
	}
	w->def = def;
	w->port = port;
	w->frag = frag;
	w->line = fl->line;
	memcpy(w->sha256, sha256, sizeof(sha256));
}

static int fleet_handler(void *user, const char *section, const char *name, const char *value)
{
	struct fleet *fl = user;
	struct unit *u = fl->units ? fl->unit[fl->units - 1] : NULL;
	const char *nm = section + 5;

	if (!name)		/* inih built to report a new section */
		return 1;
	if (!section[0]) {
		file_error(fl, fl->line, "key '%s' outside any [unit NAME] section", name);
		return 1;
	}
	if (strncmp(section, "unit ", 5) != 0 || !nm[0] || strlen(nm) >= sizeof(u->name)) {
		if (strcmp(fl->bad_section, section) != 0)
			file_error(fl, fl->line, "[%s]: expected [unit NAME] sections only (NAME "
				   "of 1 to %zu characters)", section, sizeof(u->name) - 1);
		snprintf(fl->bad_section, sizeof(fl->bad_section), "%s", section);
		return 1;
	}
	if (!u || strcmp(u->name, nm) != 0) {
		for (size_t i = 0; i < fl->units; i++)
			if (!strcmp(fl->unit[i]->name, nm)) {
				file_error(fl, fl->line, "[unit %s] appears twice (first on line "
					   "%u)", nm, fl->unit[i]->line);
				return 1;
			}
		if (fl->units == APPLY_UNITS_MAX) {
			file_error(fl, fl->line, "more than %d units", APPLY_UNITS_MAX);
			return 1;
		}
		u = calloc(1, sizeof(*u));
		if (!u)
			return 0;
		snprintf(u->name, sizeof(u->name), "%s", nm);
		u->line = fl->section_line;
		fl->unit[fl->units++] = u;
	}
	unit_key(fl, u, name, value);
	return 1;
}

/* inih's reader: one line at a time, counted; a line too long is an error. */
static char *fleet_reader(char *str, int num, void *stream)
{
	struct fleet *fl = stream;
	char buf[APPLY_LINE_MAX];
	size_t n;

	if (!fgets(buf, sizeof(buf), fl->f))
		return NULL;
	fl->line++;
	n = strlen(buf);
	if (buf[strspn(buf, " \t")] == '[')
		fl->section_line = fl->line;
	if ((n == sizeof(buf) - 1 && buf[n - 1] != '\n') || n >= (size_t)num) {
		int c;

		if (buf[n - 1] != '\n')
			while ((c = fgetc(fl->f)) != EOF && c != '\n')
				;
		file_error(fl, fl->line, "a line longer than %d characters", num - 2);
		snprintf(str, (size_t)num, "\n");
		return str;
	}
	memcpy(str, buf, n + 1);
	return str;
}

/* The baseline's settings that no explicit key names. */
static void baseline_add(struct unit *u)
{
	/* a switch's value, or a number's (value NULL) */
	static const struct {
		const char *key, *value;
		int number;
		enum bound bound;
	} base[] = {
		{ "services.snmp", "off", 0, B_EQUAL },
		{ "services.wins", "off", 0, B_EQUAL },
		{ "password_policy.min_length", NULL, DSU_GUIDE_MIN_LENGTH, B_AT_LEAST },
		{ "password_policy.digit", "on", 0, B_EQUAL },
		{ "password_policy.mixed_case", "on", 0, B_EQUAL },
		{ "password_policy.special", "on", 0, B_EQUAL },
		{ "password_policy.lifetime_days", NULL, DSU_GUIDE_LIFETIME_DAYS, B_AT_MOST_NONZERO },
		{ "login_lockout.enabled", "on", 0, B_EQUAL },
		{ "dos_defense", "on", 0, B_EQUAL },
		{ "web_sessions.max_sessions", NULL, DSU_GUIDE_SESSIONS, B_AT_MOST },
	};
	unsigned int port;

	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		struct want *w;

		if (want_find(u, base[i].key))
			continue;
		w = want_add(u, base[i].key);
		if (!w)
			return;
		w->def = key_find(base[i].key, &port);
		w->frag = base[i].value ? parse_value(w->def, base[i].value) :
			  frag1(*w->def->field, json_object_new_int(base[i].number));
		w->bound = base[i].bound;
	}
}

static int fleet_read(struct fleet *fl)
{
	const char *slash = strrchr(fl->path, '/');
	int r;

	snprintf(fl->dir, sizeof(fl->dir), "%.*s", slash ? (int)(slash - fl->path) : 1,
		 slash ? fl->path : ".");
	if (slash == fl->path)
		snprintf(fl->dir, sizeof(fl->dir), "/");
	fl->f = fopen(fl->path, "re");
	if (!fl->f) {
		file_error(fl, 0, "%s", strerror(errno));
		return -1;
	}
	ini_allow_multiline = false;
	r = ini_parse_stream(fleet_reader, fl, fleet_handler, fl);
	fclose(fl->f);
	if (r > 0 && !fl->errors)
		file_error(fl, (unsigned int)r, "expected 'key = value' or '[unit NAME]'");
	if (r < 0)
		file_error(fl, 0, "cannot read it");
	if (!fl->units && !fl->errors)
		file_error(fl, 0, "no [unit NAME] section");
	for (size_t i = 0; i < fl->units; i++) {
		struct unit *u = fl->unit[i];
		char err[DSU_ERR_MAX];
		struct dsu_dev d;

		if (!u->host)
			file_error(fl, u->line, "[unit %s]: no host", u->name);
		else if (dsu_dev_init(&d, u->host, APPLY_TIMEOUT, err) < 0)
			file_error(fl, u->line, "[unit %s]: host = '%s': %s", u->name, u->host, err);
		if (!u->user)
			file_error(fl, u->line, "[unit %s]: no user", u->name);
		if (u->baseline)
			baseline_add(u);
		if (!u->wants)
			file_error(fl, u->line, "[unit %s]: no setting to apply (baseline = "
				   "hardening-guide, or keys such as services.snmp)", u->name);
		if (fleet_relative(fl, &u->password_file) < 0 || fleet_relative(fl, &u->config) < 0)
			return -1;
		u->map.config = u->config ? u->config : DSU_MAP_CONFIG;
		u->map.first_tty = -1;
		u->map.tls_from_unit = true;
	}
	return fl->errors ? -1 : 0;
}

/* ---- showing values ---- */

/* o's list under key when o is enabled and the list has items; else NULL
 * with out saying "off" or "on, " and none. */
static json_object *show_enabled_list(json_object *o, const char *key, const char *none,
				      char *out, size_t len)
{
	json_object *on, *list;

	out[0] = '\0';
	if (!json_object_object_get_ex(o, F.enabled, &on) || !json_object_get_boolean(on)) {
		snprintf(out, len, "off");
		return NULL;
	}
	if (!json_object_object_get_ex(o, key, &list) ||
	    !json_object_is_type(list, json_type_array) || json_object_array_length(list) == 0) {
		snprintf(out, len, "on, %s", none);
		return NULL;
	}
	return list;
}

static void show_allowlist(json_object *o, char *out, size_t len)
{
	json_object *entries = show_enabled_list(o, F.entries, "no entry", out, len);

	if (!entries)
		return;
	for (size_t i = 0; i < json_object_array_length(entries); i++) {
		json_object *e = json_object_array_get_idx(entries, i);
		struct in_addr m;
		size_t n = strlen(out);
		int prefix = -1;

		if (inet_pton(AF_INET, json_str(e, F.netmask), &m) == 1) {
			uint32_t h = ntohl(m.s_addr);

			prefix = __builtin_popcount(h);
			if (prefix && (h << prefix) != 0)
				prefix = -1;
		}
		if (prefix == 32)
			snprintf(out + n, len - n, "%s%s", n ? " " : "", json_str(e, F.address));
		else if (prefix >= 0)
			snprintf(out + n, len - n, "%s%s/%d", n ? " " : "", json_str(e, F.address),
				 prefix);
		else
			snprintf(out + n, len - n, "%s%s/%s", n ? " " : "", json_str(e, F.address),
				 json_str(e, F.netmask));
	}
}

static void show_syslog(json_object *o, char *out, size_t len)
{
	json_object *list;

	out[0] = '\0';
	if (!json_object_object_get_ex(o, F.remote, &list) ||
	    !json_object_is_type(list, json_type_array)) {
		snprintf(out, len, "(not shown)");
		return;
	}
	if (json_object_array_length(list) == 0)
		snprintf(out, len, "none");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *e = json_object_array_get_idx(list, i), *tls;
		size_t n = strlen(out);

		snprintf(out + n, len - n, "%s%s:%lld%s", n ? ", " : "", json_str(e, F.address),
			 (long long)json_int(e, F.port, 0),
			 json_object_object_get_ex(e, F.tls, &tls) && json_object_get_boolean(tls) ?
			 " tls" : "");
	}
}

static void show_sntp(json_object *o, char *out, size_t len)
{
	json_object *list = show_enabled_list(o, F.servers, "no server", out, len);

	if (!list)
		return;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		size_t n = strlen(out);

		snprintf(out + n, len - n, "%s%s", n ? " " : "",
			 json_object_get_string(json_object_array_get_idx(list, i)));
	}
}

/* A setting's value in o (the unit's body or the wanted fragment), for the plan. */
static void show(const struct want *w, json_object *o, char *out, size_t len)
{
	json_object *v;

	switch (w->def->kind) {
	case K_ALLOWLIST:
		show_allowlist(o, out, len);
		return;
	case K_SYSLOG:
		show_syslog(o, out, len);
		return;
	case K_SNTP:
		show_sntp(o, out, len);
		return;
	case K_CA:
		if (o == w->frag)
			snprintf(out, len, "%s", w->sha256);
		else if (json_str(o, F.sha256)[0])
			snprintf(out, len, "sha256:%s", json_str(o, F.sha256));
		else
			snprintf(out, len, "none");
		return;
	default:
		break;
	}
	if (!json_object_object_get_ex(o, *w->def->field, &v)) {
		snprintf(out, len, "(not shown)");
		return;
	}
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		snprintf(out, len, "%s", json_object_get_boolean(v) ? "on" : "off");
		break;
	case json_type_string:
		snprintf(out, len, w->def->kind == K_TEXT ? "\"%s\"" : "%s",
			 json_object_get_string(v));
		break;
	default:
		snprintf(out, len, "%s", json_object_to_json_string(v));
	}
}

/* ---- one unit ---- */

/* What the plan holds for one setting that differs. */
struct change {
	const struct want *w;
	char now[512], wanted[512];
	bool applied;
};

struct run {
	bool dry_run, yes, json;
};

/* Does the unit's body now already have what w wants? */
static bool satisfied(const struct want *w, json_object *now)
{
	if (w->def->kind == K_CA)	/* the unit shows the fingerprint, not the PEM */
		return strcmp(json_str(now, F.sha256), w->sha256 + strlen("sha256:")) == 0;
	json_object_object_foreach(w->frag, key, val) {
		json_object *have;
		int64_t h, want;

		if (!json_object_object_get_ex(now, key, &have))
			return false;
		if (w->bound == B_EQUAL) {
			if (!json_object_equal(have, val))
				return false;
			continue;
		}
		if (!json_object_is_type(have, json_type_int))
			return false;
		h = json_object_get_int64(have);
		want = json_object_get_int64(val);
		if ((w->bound == B_AT_LEAST && h < want) || (w->bound == B_AT_MOST && h > want) ||
		    (w->bound == B_AT_MOST_NONZERO && (h == 0 || h > want)))
			return false;
	}
	return true;
}

/* The port's entry in GET /serial/ports, or NULL. */
static json_object *port_of(json_object *ports, unsigned int n)
{
	for (size_t i = 0; json_object_is_type(ports, json_type_array) &&
	     i < json_object_array_length(ports); i++) {
		json_object *p = json_object_array_get_idx(ports, i);

		if (json_int(p, F.port, -1) == (int64_t)n)
			return p;
	}
	return NULL;
}

/* The body a setting's route now has (ports: that port's entry). */
static json_object *body_now(json_object *read[G_GROUPS], const struct want *w)
{
	json_object *b = read[w->def->group];

	return w->def->group == G_PORT ? port_of(b, w->port) : b;
}

/* The route's PUT body: its fields as the unit has them, then the wanted ones. */
static json_object *merged_body(json_object *now, const struct change *ch, size_t n, size_t first)
{
	const struct want *w0 = ch[first].w;
	json_object *body = json_object_new_object(), *v;

	for (size_t f = 0; groups[w0->def->group].fields[f]; f++) {
		const char *name = *groups[w0->def->group].fields[f];

		if (json_object_object_get_ex(now, name, &v))
			json_object_object_add(body, name, json_object_get(v));
	}
	for (size_t i = first; i < n; i++) {
		if (ch[i].w->def->group != w0->def->group || ch[i].w->port != w0->port)
			continue;
		json_object_object_foreach(ch[i].w->frag, key, val)
			json_object_object_add(body, key, json_object_get(val));
	}
	return body;
}

/* Does the wanted allowlist let addr in? */
static bool allowlist_admits(json_object *frag, const char *addr)
{
	json_object *on, *entries;
	struct in_addr a;

	if (!json_object_object_get_ex(frag, F.enabled, &on) || !json_object_get_boolean(on))
		return true;
	if (inet_pton(AF_INET, addr, &a) != 1 ||
	    !json_object_object_get_ex(frag, F.entries, &entries))
		return false;
	for (size_t i = 0; i < json_object_array_length(entries); i++) {
		json_object *e = json_object_array_get_idx(entries, i);
		struct in_addr ea, em;

		if (inet_pton(AF_INET, json_str(e, F.address), &ea) == 1 &&
		    inet_pton(AF_INET, json_str(e, F.netmask), &em) == 1 &&
		    (a.s_addr & em.s_addr) == (ea.s_addr & em.s_addr))
			return true;
	}
	return false;
}

/* The password policy rule pw breaks, or NULL. */
static const char *policy_broken(json_object *policy, const char *pw)
{
	bool digit = false, upper = false, lower = false, special = false;
	json_object *v;

	for (const char *p = pw; *p; p++) {
		digit |= *p >= '0' && *p <= '9';
		upper |= *p >= 'A' && *p <= 'Z';
		lower |= *p >= 'a' && *p <= 'z';
		special |= !((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= 'a' && *p <= 'z'));
	}
	if ((int64_t)strlen(pw) < json_int(policy, F.min_length, 0))
		return "it is shorter than min_length";
	if (json_object_object_get_ex(policy, F.digit, &v) && json_object_get_boolean(v) && !digit)
		return "it has no digit";
	if (json_object_object_get_ex(policy, F.mixed_case, &v) && json_object_get_boolean(v) &&
	    !(upper && lower))
		return "it is not mixed case";
	if (json_object_object_get_ex(policy, F.special, &v) && json_object_get_boolean(v) &&
	    !special)
		return "it has no special character";
	return NULL;
}

/* The unit's result for --json: {unit, host, changes, error}. */
static json_object *result_new(const struct unit *u)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "unit", json_object_new_string(u->name));
	json_object_object_add(o, "host", json_object_new_string(u->host));
	json_object_object_add(o, "changes", json_object_new_array());
	json_object_object_add(o, "error", NULL);
	return o;
}

static void result_changes(json_object *res, const struct change *ch, size_t n)
{
	json_object *list;

	json_object_object_get_ex(res, "changes", &list);
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_new_object();

		json_object_object_add(c, "setting", json_object_new_string(ch[i].w->name));
		json_object_object_add(c, "now", json_object_new_string(ch[i].now));
		json_object_object_add(c, "wanted", json_object_new_string(ch[i].wanted));
		json_object_object_add(c, "applied", json_object_new_boolean(ch[i].applied));
		json_object_array_add(list, c);
	}
}

__attribute__((format(printf, 3, 4)))
static int unit_fail(const struct unit *u, json_object *res, const char *fmt, ...)
{
	char text[DSU_ERR_MAX + 600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	dsu_fail(u->name, "%s", text);
	text[strcspn(text, "\n")] = '\0';
	json_object_object_add(res, "error", json_object_new_string(text));
	return 1;
}

/* After a refusal: which settings went in and which not, on stderr. */
static void halfway(const struct unit *u, const struct change *ch, size_t n)
{
	char done[2048] = "", left[2048] = "";

	for (size_t i = 0; i < n; i++) {
		char *to = ch[i].applied ? done : left;
		size_t l = strlen(to);

		snprintf(to + l, sizeof(done) - l, "%s%s", l ? ", " : "", ch[i].w->name);
	}
	fprintf(stderr, "dsu: %s: applied: %s; not applied: %s\n", u->name,
		done[0] ? done : "none", left[0] ? left : "none");
}

/* The map change, if any, into ch (ch->w stays NULL when realcom.conf has
 * it already): judged on the ports as they will be once the port.N keys are
 * applied.  -1 (said) when dsu map's checks refuse it. */
static int plan_map(struct unit *u, struct dsu_dev *d, json_object *dev, json_object *ports,
		    struct change *ch, json_object *res)
{
	json_object *after = NULL;
	struct dsu_map_plan plan;
	struct want *map = want_find(u, "map");
	int r;

	if (json_object_deep_copy(ports, &after, NULL) < 0)
		return unit_fail(u, res, "out of memory"), -1;
	for (size_t i = 0; i < u->wants; i++) {
		json_object *p = port_of(after, u->want[i].port);

		if (u->want[i].def->group != G_PORT || !p)
			continue;
		json_object_object_foreach(u->want[i].frag, key, val)
			json_object_object_add(p, key, json_object_get(val));
	}
	u->map.quiet = true;
	r = dsu_map_ports(d, &u->map, dev, after, false, &plan);
	json_object_put(after);
	if (r != 0) {
		unit_fail(u, res, "map: refused (see above); nothing changed");
		return -1;
	}
	if (plan.current)
		return 0;
	ch->w = map;
	snprintf(ch->now, sizeof(ch->now), "%s", plan.now);
	snprintf(ch->wanted, sizeof(ch->wanted), "%s%s", plan.wanted,
		 strcmp(plan.now, plan.wanted) ? "" : " (sections renewed)");
	return 0;
}

/* Write realcom.conf from the ports as the unit has them now. */
static int apply_map(struct unit *u, struct dsu_dev *d, json_object *dev)
{
	json_object *ports = NULL;
	char err[DSU_ERR_MAX];
	int status = api_call(d, API_PORTS, NULL, &ports, err), r = -1;

	if (status < 0)
		dsu_fail(u->name, "map: %s", err);
	else if (status != 200 || !json_object_is_type(ports, json_type_array))
		dsu_fail(u->name, "map: GET %s: HTTP %d", api_path(API_PORTS), status);
	else
		r = dsu_map_ports(d, &u->map, dev, ports, true, NULL) == 0 ? 0 : -1;
	json_object_put(ports);
	return r;
}

static int unit_apply(struct unit *u, const struct run *run, json_object *res)
{
	json_object *read[G_GROUPS] = { 0 }, *dev = NULL, *reply = NULL;
	struct change *ch = calloc(APPLY_SETTINGS_MAX, sizeof(*ch));
	char err[DSU_ERR_MAX], text[600];
	const char *broken = NULL;
	struct dsu_dev d = { 0 };
	size_t n = 0;
	int status, r = 1;

	if (!ch)
		return unit_fail(u, res, "out of memory");
	if (dsu_dev_init(&d, u->host, APPLY_TIMEOUT, err) < 0 ||
	    dsu_trust(&d, u->fingerprint, err) < 0) {
		unit_fail(u, res, "%s: %s", u->host, err);
		goto out;
	}
	status = api_call(&d, API_DEVICE, NULL, &dev, err);
	if (status < 0 || dsu_trust_commit(&d, err) < 0) {
		unit_fail(u, res, "%s: %s; nothing changed", u->host, err);
		goto out;
	}
	if (status != 200 || !json_object_is_type(dev, json_type_object)) {
		dsu_refused_text(&d, status, dev, "", text, sizeof(text));
		unit_fail(u, res, "%s: %s; nothing changed", u->host, text);
		goto out;
	}
	if (u->mac) {
		char want[18], have[32];

		for (int i = 0; i < 17; i++)
			want[i] = u->mac[i] == '-' ? ':' : (char)toupper((unsigned char)u->mac[i]);
		want[17] = '\0';
		snprintf(have, sizeof(have), "%s", json_str(dev, F.mac));
		for (char *p = have; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		if (strcmp(want, have) != 0) {
			unit_fail(u, res, "%s answers with MAC %s, not %s as the file says: another "
				  "unit; nothing changed", u->host, have[0] ? have : "(none)", want);
			goto out;
		}
	}
	if (strcmp(json_str(dev, F.state), "needs-setup") == 0) {
		unit_fail(u, res, "%s: a new unit, still waiting for its first administrator: "
			  "create it with  dsu setup %s --user NAME; nothing changed", u->host,
			  u->host);
		goto out;
	}
	if (dsu_login_with(&d, u->user, u->password, err) < 0) {
		unit_fail(u, res, "%s: %s; nothing changed", u->host, err);
		goto out;
	}
	/* read each route once */
	for (size_t i = 0; i < u->wants; i++) {
		enum group g = u->want[i].def->group == G_MAP ? G_PORT : u->want[i].def->group;

		if (read[g])
			continue;
		status = api_call(&d, groups[g].get, NULL, &read[g], err);
		if (status < 0) {
			unit_fail(u, res, "%s: not read: %s; nothing changed", u->want[i].name,
				  err);
			goto out;
		}
		if (status != 200 || !read[g] ||
		    json_object_get_type(read[g]) != (g == G_PORT ? json_type_array :
						      json_type_object)) {
			dsu_refused_text(&d, status, read[g], u->user, text, sizeof(text));
			unit_fail(u, res, "%s: not read: %s; nothing changed", u->want[i].name,
				  status == 200 ? "an answer of another shape" : text);
			goto out;
		}
	}
	/* the plan, in the order of writing */
	for (int g = 0; g < G_GROUPS; g++) {
		for (size_t i = 0; i < u->wants; i++) {
			const struct want *w = &u->want[i];
			json_object *now;

			if (w->def->group != (enum group)g)
				continue;
			if (g == G_MAP) {
				if (plan_map(u, &d, dev, read[G_PORT], &ch[n], res) < 0)
					goto out;
				n += ch[n].w != NULL;
				continue;
			}
			now = body_now(read, w);
			if (!now) {
				unit_fail(u, res, "%s: the unit has no serial port %u; nothing "
					  "changed", w->name, w->port);
				goto out;
			}
			if (satisfied(w, now))
				continue;
			ch[n].w = w;
			show(w, now, ch[n].now, sizeof(ch[n].now));
			show(w, w->frag, ch[n].wanted, sizeof(ch[n].wanted));
			n++;
		}
	}
	if (n == 0) {
		if (!run->json)
			printf("%s: up to date\n", u->name);
		r = 0;
		goto out;
	}
	if (!run->json)
		for (size_t i = 0; i < n; i++)
			printf("%s: %s: %s -> %s\n", u->name, ch[i].w->name, ch[i].now,
			       ch[i].wanted);
	fflush(stdout);
	/* safety: the guide's own warning, and a password the new policy breaks */
	for (size_t i = 0; i < n; i++) {
		if (ch[i].w->def->group == G_ALLOWLIST &&
		    !allowlist_admits(ch[i].w->frag, d.local_ip)) {
			unit_fail(u, res, "allowlist: %s would not let in %s, the address dsu "
				  "connects from: refused, nothing changed (add it, or apply from a "
				  "host the allowlist names)", ch[i].wanted,
				  d.local_ip[0] ? d.local_ip : "(unknown)");
			result_changes(res, ch, n);
			goto out;
		}
		if (ch[i].w->def->group == G_POLICY && !broken) {
			json_object *policy = merged_body(read[G_POLICY], ch, n, i);

			broken = policy_broken(policy, u->password);
			json_object_put(policy);
		}
	}
	if (broken)
		fprintf(stderr, "dsu: %s: warning: the password of \"%s\" breaks the new password "
			"policy (%s): it must be changed at the next login%s\n", u->name, u->user,
			broken, run->dry_run ? " once this is applied" : "; change it now");
	if (run->dry_run) {
		if (!run->json)
			printf("%s: dry run: %zu change%s, nothing changed\n", u->name, n,
			       n == 1 ? "" : "s");
		result_changes(res, ch, n);
		r = 0;
		goto out;
	}
	if (!run->yes) {
		char question[128], nothing[96];

		snprintf(question, sizeof(question), "Apply %zu change%s to %s?", n,
			 n == 1 ? "" : "s", u->name);
		snprintf(nothing, sizeof(nothing), "%s: not confirmed, nothing changed", u->name);
		if (!dsu_confirm(question, "apply them", nothing)) {
			json_object_object_add(res, "error", json_object_new_string(nothing));
			result_changes(res, ch, n);
			goto out;
		}
	}
	/* one PUT per route (per port), the first refusal stops the unit */
	for (size_t i = 0; i < n; i++) {
		json_object *body;

		if (ch[i].applied)
			continue;
		if (ch[i].w->def->group == G_MAP) {
			if (apply_map(u, &d, dev) < 0) {
				unit_fail(u, res, "map: %s not written (see above)",
					  u->map.config);
				halfway(u, ch, n);
				result_changes(res, ch, n);
				goto out;
			}
			ch[i].applied = true;
			continue;
		}
		body = merged_body(body_now(read, ch[i].w), ch, n, i);
		d.n = ch[i].w->port;
		status = api_call(&d, groups[ch[i].w->def->group].put, body, &reply, err);
		json_object_put(body);
		if (status < 0 || status < 200 || status > 299) {
			if (status >= 0)
				dsu_refused_text(&d, status, reply, u->user, err, sizeof(err));
			unit_fail(u, res, "%s: %s%s", ch[i].w->name, err,
				  status < 0 ? " (it may or may not have been applied: read the "
				  "unit before trying again)" : "");
			json_object_put(reply);
			reply = NULL;
			halfway(u, ch, n);
			result_changes(res, ch, n);
			goto out;
		}
		json_object_put(reply);
		reply = NULL;
		for (size_t j = i; j < n; j++)
			if (ch[j].w->def->group == ch[i].w->def->group && ch[j].w->port == ch[i].w->port)
				ch[j].applied = true;
	}
	result_changes(res, ch, n);
	if (!run->json)
		printf("%s: applied %zu change%s\n", u->name, n, n == 1 ? "" : "s");
	if (broken)
		fprintf(stderr, "dsu: %s: the password of \"%s\" must now be changed: it breaks "
			"the password policy just applied (%s)\n", u->name, u->user, broken);
	r = 0;
out:
	dsu_logout(&d);
	json_object_put(dev);
	for (int g = 0; g < G_GROUPS; g++)
		json_object_put(read[g]);
	free(ch);
	return r;
}

/* ---- the command ---- */

static void fleet_free(struct fleet *fl)
{
	for (size_t i = 0; i < fl->units; i++) {
		struct unit *u = fl->unit[i];

		for (size_t j = 0; j < u->wants; j++)
			json_object_put(u->want[j].frag);
		free(u->host);
		free(u->user);
		free(u->password_file);
		free(u->mac);
		free(u->fingerprint);
		free(u->config);
		secret_wipe(u->password, sizeof(u->password));
		free(u);
	}
}

/* Every unit's password before any is contacted: files each, the rest
 * DSU_PASSWORD or the terminal, asked once. */
static int fleet_passwords(struct fleet *fl)
{
	char shared[DSU_PASSWORD_MAX], err[DSU_ERR_MAX];
	bool have = false;

	for (size_t i = 0; i < fl->units; i++) {
		struct unit *u = fl->unit[i];

		if (u->password_file) {
			if (secret_get(u->password_file, false, u->password, err) < 0) {
				file_error(fl, u->line, "[unit %s]: password_file: %s", u->name,
					   err + (strncmp(err, "--password-file ", 16) ? 0 : 16));
				return -1;
			}
			continue;
		}
		if (!have && secret_get(NULL, false, shared, err) < 0) {
			/* secret_get() speaks of --password-file, which apply spells otherwise */
			dsu_fail(NULL, "[unit %s]: %s", u->name, strncmp(err, "no password", 11) ? err :
				 "no password: give password_file in the file, DSU_PASSWORD, or run "
				 "dsu on a terminal");
			return -1;
		}
		have = true;
		memcpy(u->password, shared, sizeof(shared));
	}
	secret_wipe(shared, sizeof(shared));
	return 0;
}

int dsu_apply(int argc, char **argv)
{
	enum { O_DRY_RUN = O_FIRST_OPT, O_YES };
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, O_DRY_RUN },
		{ "json", no_argument, NULL, O_JSON },
		{ "yes", no_argument, NULL, O_YES },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fleet fl = { 0 };
	struct run run = { 0 };
	bool failed = false;
	json_object *all;
	int c;

	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (c == '?' || c == ':')
			return cli_option_error(c, argv, longopts);
		if (c == O_DRY_RUN) {
			run.dry_run = true;
		} else if (c == O_YES) {
			run.yes = true;
		} else if (c == O_JSON) {
			run.json = true;
		} else {
			fputs(help, stdout);
			return 0;
		}
	}
	if (optind == argc)
		return cli_usage_error("missing FILE");
	if (optind != argc - 1)
		return cli_unexpected_argument(argv[optind + 1]);
	fl.path = argv[optind];
	if (fleet_read(&fl) < 0) {
		fleet_free(&fl);
		return CLI_EXIT_USAGE;
	}
	if (!run.dry_run && !run.yes && !isatty(STDIN_FILENO)) {
		fleet_free(&fl);
		/* as dsu_confirm() would say, before any unit is contacted */
		dsu_fail(NULL, "not on a terminal: add --yes to apply the changes, or --dry-run to "
			 "see them; nothing changed");
		return 1;
	}
	if (fleet_passwords(&fl) < 0) {
		fleet_free(&fl);
		return CLI_EXIT_USAGE;
	}
	all = json_object_new_array();
	for (size_t i = 0; i < fl.units; i++) {
		json_object *res = result_new(fl.unit[i]);

		failed |= unit_apply(fl.unit[i], &run, res) != 0;
		json_object_array_add(all, res);
	}
	if (run.json)
		puts(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(all);
	fleet_free(&fl);
	return failed ? 1 : 0;
}
