// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dsu audit: check units against Moxa's "Security Hardening Guide for the
 * NPort 6000-G2 Series" (docs/device-model.md cites it as "guide N.N"), one
 * check per recommendation, each pass, warn, fail or unknown with what was
 * found and what the guide asks.  Read-only: an operator account may audit,
 * and a setting it may not read is unknown.  Every field is the unit's word,
 * so a missing or mistyped one is unknown too, never a guess.  Settings that
 * need the site's own decisions (which subnets, which servers, which ports
 * carry data) warn rather than fail, so a unit set up to the guide's baseline
 * audits with exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cli.h"
#include "dsu.h"

#define AUDIT_DETAIL_MAX	400
#define AUDIT_MIN_LENGTH	DSU_GUIDE_MIN_LENGTH
#define AUDIT_LIFETIME_DAYS	DSU_GUIDE_LIFETIME_DAYS
#define AUDIT_SESSIONS_LIMITED	DSU_GUIDE_SESSIONS
#define AUDIT_BACKUP_DAYS	90	/* guide 4.3 says "periodically": ours, like the lifetime */
#define AUDIT_BACKUP_LINE	4352	/* MAC, seconds and a path */
#define AUDIT_BACKUP_LINES	100000

static const char help[] =
	"Usage: dsu audit HOST... [--user NAME] [--json] [--junit FILE]\n"
	"                 [--password-file FILE] [--fingerprint FP] [--timeout SEC]\n"
	"Check each unit against the NPort 6000-G2 hardening guide: one line per check,\n"
	"pass, warn, fail or unknown.  Without --user only the firmware and the last\n"
	"backup can be checked.  --json: the results as JSON; --junit FILE: also as JUnit\n"
	"XML.  Exit 0: nothing failed; 1: a check failed; 2: a unit could not be audited.\n"
	"--fingerprint takes one HOST only.\n";

enum audit_status { AUDIT_PASS, AUDIT_WARN, AUDIT_FAIL, AUDIT_UNKNOWN, AUDIT_STATUSES };

static const char *const status_name[AUDIT_STATUSES] = { "pass", "warn", "fail", "unknown" };

/* One unit being audited: each answer is read once, whatever checks need it. */
struct audit_unit {
	struct dsu_dev d;
	const char *user;		/* NULL: not logged in */
	json_object *answer[API_CALLS];
	bool read[API_CALLS];
	char why[API_CALLS][DSU_ERR_MAX];	/* for an answer not had */
};

/* A check: answer is the source call's answer (a JSON value of any type). */
typedef enum audit_status audit_fn(struct audit_unit *u, json_object *answer, char *detail);

struct audit_check {
	const char *id;
	const char *title;
	enum api_call source;
	audit_fn *fn;
};

__attribute__((format(printf, 2, 3)))
static void say(char *detail, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, AUDIT_DETAIL_MAX, fmt, ap);
	va_end(ap);
}

/* Append to detail, cut at its end. */
__attribute__((format(printf, 2, 3)))
static void add(char *detail, const char *fmt, ...)
{
	size_t n = strlen(detail);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail + n, AUDIT_DETAIL_MAX - n, fmt, ap);
	va_end(ap);
}

/* ---- typed reads of what a unit says: false when absent or of another type ---- */

static bool get_bool(json_object *o, const char *key, bool *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
		return false;
	*out = json_object_get_boolean(v);
	return true;
}

static bool get_count(json_object *o, const char *key, int64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return *out >= 0;
}

static json_object *get_array(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

static enum audit_status missing(char *detail, enum api_call call, const char *what)
{
	say(detail, "the answer to GET %s has no %s", api_path(call), what);
	return AUDIT_UNKNOWN;
}

/* ---- the checks ---- */

static enum audit_status check_snmp(struct audit_unit *u, json_object *a, char *detail)
{
	bool on;

	if (!get_bool(a, F.snmp, &on))
		return missing(detail, API_SERVICES, "boolean \"snmp\"");
	say(detail, "SNMP agent %s; the guide asks insecure SNMPv1/v2c disabled completely (4.3)",
	    on ? "on" : "off");
	return on ? AUDIT_FAIL : AUDIT_PASS;
}

static enum audit_status check_min_length(struct audit_unit *u, json_object *a, char *detail)
{
	int64_t n;

	if (!get_count(a, F.min_length, &n))
		return missing(detail, API_PASSWORD_POLICY, "number \"min_length\"");
	say(detail, "minimum password length %lld; the guide asks %d (3.4)", (long long)n,
	    AUDIT_MIN_LENGTH);
	return n >= AUDIT_MIN_LENGTH ? AUDIT_PASS : AUDIT_FAIL;
}

static enum audit_status check_strength(struct audit_unit *u, json_object *a, char *detail)
{
	static const struct { const char *const *key; const char *words; } rule[] = {
		{ &F.digit, "a digit" }, { &F.mixed_case, "mixed case" },
		{ &F.special, "a special character" },
	};
	char lacking[96] = "";
	bool on;

	for (size_t i = 0; i < sizeof(rule) / sizeof(rule[0]); i++) {
		if (!get_bool(a, *rule[i].key, &on)) {
			char what[48];

			snprintf(what, sizeof(what), "boolean \"%s\"", *rule[i].key);
			return missing(detail, API_PASSWORD_POLICY, what);
		}
		if (!on)
			snprintf(lacking + strlen(lacking), sizeof(lacking) - strlen(lacking),
				 "%s%s", lacking[0] ? ", " : "", rule[i].words);
	}
	if (!lacking[0]) {
		say(detail, "passwords need a digit, mixed case and a special character, as the "
		    "guide asks (3.4)");
		return AUDIT_PASS;
	}
	say(detail, "passwords need not have %s; the guide asks every strength rule on (3.4)",
	    lacking);
	return AUDIT_FAIL;
}

static enum audit_status check_lifetime(struct audit_unit *u, json_object *a, char *detail)
{
	int64_t days;

	if (!get_count(a, F.lifetime_days, &days))
		return missing(detail, API_PASSWORD_POLICY, "number \"lifetime_days\"");
	if (days == 0) {
		say(detail, "no password lifetime; the guide asks passwords changed periodically, "
		    "a lifetime of %d days (3.4, 4.3)", AUDIT_LIFETIME_DAYS);
		return AUDIT_FAIL;
	}
	say(detail, "password lifetime %lld days; the guide asks %d (3.4)", (long long)days,
	    AUDIT_LIFETIME_DAYS);
	return days <= AUDIT_LIFETIME_DAYS ? AUDIT_PASS : AUDIT_WARN;
}

static enum audit_status check_lockout(struct audit_unit *u, json_object *a, char *detail)
{
	int64_t tries, minutes;
	bool on;

	if (!get_bool(a, F.enabled, &on))
		return missing(detail, API_LOCKOUT, "boolean \"enabled\"");
	if (!on) {
		say(detail, "login failure lockout off; the guide asks it on against brute force "
		    "(3.4)");
		return AUDIT_FAIL;
	}
	say(detail, "login failure lockout on");
	if (get_count(a, F.max_failures, &tries) && get_count(a, F.lockout_minutes, &minutes))
		add(detail, " (%lld failures, %lld min)", (long long)tries, (long long)minutes);
	add(detail, ", as the guide asks (3.4)");
	return AUDIT_PASS;
}

static enum audit_status check_allowlist(struct audit_unit *u, json_object *a, char *detail)
{
	json_object *entries = get_array(a, F.entries);
	bool on;

	if (!get_bool(a, F.enabled, &on))
		return missing(detail, API_ALLOWLIST, "boolean \"enabled\"");
	if (on && !entries)
		return missing(detail, API_ALLOWLIST, "list \"entries\"");
	if (on && json_object_array_length(entries) > 0) {
		say(detail, "allowlist on with %zu entries, as the guide asks (3.5)",
		    json_object_array_length(entries));
		return AUDIT_PASS;
	}
	say(detail, "allowlist %s; the guide asks access limited to the hosts that need the "
	    "unit (2.4, 3.5): which ones is the site's decision", on ? "on but empty" : "off");
	return AUDIT_WARN;
}

/* "address:port" of a syslog server, or false. */
static bool syslog_server(json_object *s, char *out, size_t len)
{
	int64_t port;

	if (!json_object_is_type(s, json_type_object) || !json_str(s, F.address)[0] ||
	    !get_count(s, F.port, &port))
		return false;
	snprintf(out, len, "%.64s:%lld", json_str(s, F.address), (long long)port);
	return true;
}

static enum audit_status check_syslog(struct audit_unit *u, json_object *a, char *detail)
{
	json_object *remote = get_array(a, F.remote);
	char server[96];
	size_t n;

	if (!remote)
		return missing(detail, API_SYSLOG, "list \"remote\"");
	n = json_object_array_length(remote);
	if (n == 0) {
		say(detail, "no remote syslog server; the guide asks the log kept on a remote "
		    "server (3.1, 3.6): which one is the site's decision");
		return AUDIT_WARN;
	}
	say(detail, "remote syslog to");
	for (size_t i = 0; i < n; i++) {
		if (!syslog_server(json_object_array_get_idx(remote, i), server, sizeof(server)))
			return missing(detail, API_SYSLOG, "address and port for each server");
		add(detail, "%s %s", i ? "," : "", server);
	}
	add(detail, ", as the guide asks (3.1, 3.6)");
	return AUDIT_PASS;
}

static enum audit_status check_syslog_tls(struct audit_unit *u, json_object *a, char *detail)
{
	json_object *remote = get_array(a, F.remote);
	char server[96], plain[AUDIT_DETAIL_MAX / 2] = "";
	size_t n;
	bool tls;

	if (!remote)
		return missing(detail, API_SYSLOG, "list \"remote\"");
	n = json_object_array_length(remote);
	if (n == 0) {
		say(detail, "no remote syslog server to check; the guide asks TLS authentication "
		    "of the server when there is one (3.1)");
		return AUDIT_WARN;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(remote, i);

		if (!syslog_server(s, server, sizeof(server)) || !get_bool(s, F.tls, &tls))
			return missing(detail, API_SYSLOG, "address, port and boolean \"tls\" for "
				       "each server");
		if (!tls)
			snprintf(plain + strlen(plain), sizeof(plain) - strlen(plain), "%s%s",
				 plain[0] ? ", " : "", server);
	}
	if (!plain[0]) {
		say(detail, "every remote syslog server over TLS, as the guide asks (3.1)");
		return AUDIT_PASS;
	}
	say(detail, "syslog without TLS to %s; the guide asks TLS authentication of the server "
	    "(3.1)", plain);
	return AUDIT_FAIL;
}

static enum audit_status check_sntp(struct audit_unit *u, json_object *a, char *detail)
{
	json_object *servers = get_array(a, F.servers);
	bool on;

	if (!get_bool(a, F.enabled, &on))
		return missing(detail, API_SNTP, "boolean \"enabled\"");
	if (!on) {
		say(detail, "SNTP off; the guide asks time synchronisation for log tracing (3.1): "
		    "which server is the site's decision");
		return AUDIT_WARN;
	}
	if (!servers)
		return missing(detail, API_SNTP, "list \"servers\"");
	if (json_object_array_length(servers) == 0) {
		say(detail, "SNTP on without a server: the clock is not synchronised; the guide "
		    "asks time synchronisation (3.1)");
		return AUDIT_FAIL;
	}
	say(detail, "SNTP on with %zu servers, as the guide asks (3.1)",
	    json_object_array_length(servers));
	return AUDIT_PASS;
}

/* The enabled ports whose field key is (or is not) value, as "1, 3"; -1 on a bad answer. */
static int ports_where(json_object *ports, const char *key, const char *value, bool bool_key,
		       char *out, size_t len)
{
	int count = 0;

	out[0] = '\0';
	if (!json_object_is_type(ports, json_type_array))
		return -1;
	for (size_t i = 0; i < json_object_array_length(ports); i++) {
		json_object *p = json_object_array_get_idx(ports, i);
		int64_t n = json_int(p, F.port, -1);
		const char *mode = json_str(p, F.mode);
		bool hit, b;

		if (n < 0 || !mode[0])
			return -1;
		if (strcmp(mode, F.mode_disabled) == 0)
			continue;
		if (bool_key) {
			if (!get_bool(p, key, &b))
				return -1;
			hit = !b;
		} else {
			if (!json_str(p, key)[0])
				return -1;
			hit = strcmp(json_str(p, key), value) == 0;
		}
		if (hit) {
			snprintf(out + strlen(out), len - strlen(out), "%s%lld", count ? ", " : "",
				 (long long)n);
			count++;
		}
	}
	return count;
}

static enum audit_status check_encrypted(struct audit_unit *u, json_object *a, char *detail)
{
	char list[128];
	int n = ports_where(a, F.connection, F.conn_unencrypted, false, list, sizeof(list));

	if (n < 0)
		return missing(detail, API_PORTS, "port, mode and connection for each port");
	if (n == 0) {
		say(detail, "every enabled serial port is encrypted (TLS), as the guide asks "
		    "(3.2)");
		return AUDIT_PASS;
	}
	say(detail, "port%s %s unencrypted; the guide asks TLS where serial data must not "
	    "cross the network in plaintext (3.2): the site's decision", n > 1 ? "s" : "", list);
	return AUDIT_WARN;
}

static enum audit_status check_unused(struct audit_unit *u, json_object *a, char *detail)
{
	char list[128];
	int n = ports_where(a, F.connected, NULL, true, list, sizeof(list));

	if (n < 0)
		return missing(detail, API_PORTS, "port, mode and boolean \"connected\" for each "
			       "port");
	if (n == 0) {
		say(detail, "every serial port is disabled or has a host connected, as the guide "
		    "asks (3.2)");
		return AUDIT_PASS;
	}
	say(detail, "port%s %s enabled with no host connected now; the guide asks ports not in "
	    "use disabled (3.2): which are in use is the site's decision", n > 1 ? "s" : "", list);
	return AUDIT_WARN;
}

static enum audit_status check_sessions(struct audit_unit *u, json_object *a, char *detail)
{
	int64_t n;

	if (!get_count(a, F.max_sessions, &n))
		return missing(detail, API_WEB_SESSIONS, "number \"max_sessions\"");
	say(detail, "%lld simultaneous web sessions allowed; the guide asks them limited (4.3), "
	    "which dsu takes as %d or fewer", (long long)n, AUDIT_SESSIONS_LIMITED);
	return n <= AUDIT_SESSIONS_LIMITED ? AUDIT_PASS : AUDIT_FAIL;
}

static enum audit_status check_dos(struct audit_unit *u, json_object *a, char *detail)
{
	bool on;

	if (!get_bool(a, F.enabled, &on))
		return missing(detail, API_DOS_DEFENSE, "boolean \"enabled\"");
	say(detail, "DoS defense %s; the guide asks it on (3.7)", on ? "on" : "off");
	return on ? AUDIT_PASS : AUDIT_FAIL;
}

/* The PEM of an answer: reply.c showed its line breaks as '?', which base64
 * and the BEGIN/END lines never contain, so they are line breaks again. */
static X509 *certificate_parse(const char *pem)
{
	char *text = strdup(pem);
	X509 *x = NULL;
	BIO *b;

	if (!text)
		return NULL;
	for (char *p = text; *p; p++)
		if (*p == '?')
			*p = '\n';
	b = BIO_new_mem_buf(text, -1);
	if (b)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	free(text);
	ERR_clear_error();
	return x;
}

static enum audit_status check_certificate(struct audit_unit *u, json_object *a, char *detail)
{
	X509 *x = json_str(a, F.pem)[0] ? certificate_parse(json_str(a, F.pem)) : NULL;
	char subject[128], issuer[128];
	uint8_t fp[TLS_FP_LEN];
	enum audit_status st;
	EVP_PKEY *key;

	if (!x)
		return missing(detail, API_CERTIFICATE, "PEM certificate \"pem\"");
	if (tls_cert_fingerprint(x, fp) < 0 || !u->d.seen_set ||
	    memcmp(fp, u->d.seen, TLS_FP_LEN) != 0) {
		X509_free(x);
		say(detail, "the certificate GET %s shows is not the one the unit's HTTPS serves",
		    api_path(API_CERTIFICATE));
		return AUDIT_UNKNOWN;
	}
	X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	X509_NAME_oneline(X509_get_issuer_name(x), issuer, sizeof(issuer));
	dsu_printable(subject, sizeof(subject), subject, strlen(subject));
	dsu_printable(issuer, sizeof(issuer), issuer, strlen(issuer));
	key = X509_get0_pubkey(x);
	/* self-signed: its own issuer, and its own key verifies it */
	if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0 && key &&
	    X509_verify(x, key) == 1) {
		say(detail, "self-signed (%s); the guide recommends one from a trusted or the "
		    "organisation's CA (3.3): the site's decision", subject);
		st = AUDIT_WARN;
	} else {
		say(detail, "%s issued by %s, as the guide recommends (3.3)", subject, issuer);
		st = AUDIT_PASS;
	}
	ERR_clear_error();
	X509_free(x);
	return st;
}

/* ---- backup.recent: what dsu backup records ---- */

/* One "MAC UNIX_SECONDS PATH" line: the time when it is for mac. */
static bool backup_parse(const char *line, const char *mac, int64_t *when)
{
	size_t mlen = strcspn(line, " ");
	const char *t = line + mlen;
	char *end;
	long long v;

	if (mlen != strlen(mac) || strncasecmp(line, mac, mlen) != 0 || *t != ' ')
		return false;
	t++;
	if (*t < '0' || *t > '9')
		return false;
	errno = 0;
	v = strtoll(t, &end, 10);
	if (errno || (*end != ' ' && *end != '\n' && *end != '\0'))
		return false;
	*when = v;
	return true;
}

/* The newest backup of mac: 1 found, 0 none (or no file), -1 unreadable (err). */
static int backup_lookup(const char *path, const char *mac, int64_t *when, char *err, size_t len)
{
	char line[AUDIT_BACKUP_LINE];
	bool whole = true;		/* line starts a line of the file */
	int found = 0;
	int64_t t;
	FILE *f = fopen(path, "re");

	if (!f) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		snprintf(err, len, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (unsigned int n = 0; n < AUDIT_BACKUP_LINES && fgets(line, sizeof(line), f); n++) {
		bool starts = whole;

		whole = strchr(line, '\n') != NULL;
		if (starts && backup_parse(line, mac, &t) && (!found || t > *when)) {
			*when = t;
			found = 1;
		}
	}
	fclose(f);
	return found;
}

static enum audit_status check_backup(struct audit_unit *u, json_object *dev, char *detail)
{
	const char *mac = json_str(dev, F.mac);
	char path[4096], err[4200], day[32];
	time_t now = time(NULL), at;
	int64_t when = 0, age;
	struct tm tm;
	int r;

	if (!mac[0] || strlen(mac) > 32)
		return missing(detail, API_DEVICE, "MAC address");
	if (dsu_state_path("backups", path, sizeof(path)) < 0) {
		say(detail, "neither XDG_STATE_HOME nor HOME is set: nowhere to find dsu backup's "
		    "records");
		return AUDIT_UNKNOWN;
	}
	r = backup_lookup(path, mac, &when, err, sizeof(err));
	if (r < 0) {
		say(detail, "%.300s", err);
		return AUDIT_UNKNOWN;
	}
	if (r == 0) {
		say(detail, "never backed up (no record for %.32s in %.200s); the guide asks the "
		    "configuration backed up periodically (4.3): dsu backup", mac, path);
		return AUDIT_WARN;
	}
	if (when > (int64_t)now + 86400) {
		say(detail, "the last backup is recorded in the future (%lld): check the clock",
		    (long long)when);
		return AUDIT_UNKNOWN;
	}
	at = (time_t)when;
	if (!gmtime_r(&at, &tm) || !strftime(day, sizeof(day), "%Y-%m-%d", &tm))
		snprintf(day, sizeof(day), "%lld", (long long)when);
	age = ((int64_t)now - when) / 86400;
	say(detail, "last backed up %s (%lld days ago); the guide asks periodic backups (4.3), "
	    "which dsu takes as within %d days", day, (long long)(age < 0 ? 0 : age),
	    AUDIT_BACKUP_DAYS);
	return age <= AUDIT_BACKUP_DAYS ? AUDIT_PASS : AUDIT_FAIL;
}

/* ---- certificate.pin-unchanged: what the last audit saw ---- */

/*
 * dsu refuses a certificate other than the pinned one, so a change between
 * two audits means someone confirmed a new one (--fingerprint): after a new
 * IP address that is expected (guide 3.3), otherwise it is what an audit is
 * for.  The certificate each audit saw is kept in known_devices' format in
 * the state directory; the change fails once, and the next audit passes.
 */
static enum audit_status check_pin(struct audit_unit *u, json_object *dev, char *detail)
{
	char path[4096], err[DSU_ERR_MAX], was[TLS_FP_STRLEN], now[TLS_FP_STRLEN];
	uint8_t last[TLS_FP_LEN];
	int r;

	if (!u->d.seen_set) {
		say(detail, "no certificate seen");
		return AUDIT_UNKNOWN;
	}
	if (dsu_state_path("audited_certificates", path, sizeof(path)) < 0) {
		say(detail, "neither XDG_STATE_HOME nor HOME is set: nowhere to keep what the last "
		    "audit saw");
		return AUDIT_UNKNOWN;
	}
	r = known_lookup_in(path, u->d.key, last, err);
	if (r == 1 && memcmp(last, u->d.seen, TLS_FP_LEN) == 0) {
		say(detail, "the certificate the last audit saw");
		return AUDIT_PASS;
	}
	if (r < 0 || known_store_in(path, "# dsu audit: the certificate each unit showed at its "
				    "last audit\n", u->d.key, u->d.seen, err) < 0) {
		say(detail, "%.300s", err);
		return AUDIT_UNKNOWN;
	}
	tls_fingerprint_format(u->d.seen, now);
	if (r == 0) {
		say(detail, "first audit from here: %s recorded in %.200s", now, path);
		return AUDIT_PASS;
	}
	tls_fingerprint_format(last, was);
	say(detail, "changed since the last audit: was %s, now %s; expected after a new IP "
	    "address (guide 3.3), else find out who confirmed it", was, now);
	return AUDIT_FAIL;
}

/* ---- firmware.known ---- */

/*
 * The releases dsu knows for the G2 (guide 2.1: firmware 1.1).  advisories:
 * NULL for a good one, else why to replace it (docs/device-model.md).
 */
static const struct {
	const char *version;
	const char *advisories;
} firmware_known[] = {
	{ "1.1", NULL },
	{ "1.0", "CVE-2025-1977, CVE-2025-2026" },
	{ "1.0.0", "CVE-2025-1977, CVE-2025-2026" },
};

/* The series the guide covers: NPort 6100-G2 and 6200-G2 ("NPort 6150-G2" ...). */
static bool model_known(const char *model)
{
	size_t n = strlen(model);

	return (strncmp(model, "NPort 61", 8) == 0 || strncmp(model, "NPort 62", 8) == 0) &&
	       n > 11 && strcmp(model + n - 3, "-G2") == 0;
}

static enum audit_status check_firmware(struct audit_unit *u, json_object *dev, char *detail)
{
	const char *model = json_str(dev, F.model), *fw = json_str(dev, F.firmware);

	if (!fw[0] || !model[0])
		return missing(detail, API_DEVICE, "model and firmware strings");
	if (!model_known(model)) {
		say(detail, "model %.64s is not one of the NPort 6100-G2/6200-G2 series the guide "
		    "covers (2.1)", model);
		return AUDIT_WARN;
	}
	for (size_t i = 0; i < sizeof(firmware_known) / sizeof(firmware_known[0]); i++) {
		if (strcmp(fw, firmware_known[i].version) != 0)
			continue;
		if (firmware_known[i].advisories) {
			say(detail, "firmware %s is affected by %s; the guide asks the latest "
			    "release (4.1, 4.2)", fw, firmware_known[i].advisories);
			return AUDIT_FAIL;
		}
		say(detail, "firmware %s, the release the guide covers (2.1)", fw);
		return AUDIT_PASS;
	}
	say(detail, "firmware %.32s is not a release dsu knows (1.1); check it against Moxa's "
	    "release notes and SHA-512 hash (4.2)", fw);
	return AUDIT_WARN;
}

/* In the order of issue 16's list (with its "pinned certificate changes since
 * the last audit" after the certificate); ids are stable: scripts match on them. */
static const struct audit_check checks[] = {
	{ "services.snmp-off", "SNMP agent off", API_SERVICES, check_snmp },
	{ "password.min-length", "Passwords of at least 16 characters", API_PASSWORD_POLICY,
	  check_min_length },
	{ "password.strength", "Passwords need digits, mixed case and special characters",
	  API_PASSWORD_POLICY, check_strength },
	{ "password.lifetime", "Passwords expire within 90 days", API_PASSWORD_POLICY,
	  check_lifetime },
	{ "lockout.enabled", "Login failure lockout on", API_LOCKOUT, check_lockout },
	{ "allowlist.enabled", "Allowlist limits who may connect", API_ALLOWLIST, check_allowlist },
	{ "syslog.remote", "Remote syslog server", API_SYSLOG, check_syslog },
	{ "syslog.tls", "Remote syslog over TLS", API_SYSLOG, check_syslog_tls },
	{ "sntp.enabled", "Clock synchronised by SNTP", API_SNTP, check_sntp },
	{ "ports.encrypted", "Serial data encrypted (TLS)", API_PORTS, check_encrypted },
	{ "ports.unused-disabled", "Unused serial ports disabled", API_PORTS, check_unused },
	{ "web.sessions-limited", "Web sessions limited", API_WEB_SESSIONS, check_sessions },
	{ "dos-defense.enabled", "DoS defense on", API_DOS_DEFENSE, check_dos },
	{ "certificate.ca-signed", "HTTPS certificate from a CA", API_CERTIFICATE,
	  check_certificate },
	{ "certificate.pin-unchanged", "Pinned certificate unchanged since the last audit",
	  API_DEVICE, check_pin },
	{ "backup.recent", "Configuration backed up recently", API_DEVICE, check_backup },
	{ "firmware.known", "Firmware a known release", API_DEVICE, check_firmware },
};

/* ---- one unit ---- */

/* The answer of call, read once; NULL with u->why[call] when there is none. */
static json_object *audit_read(struct audit_unit *u, enum api_call call)
{
	char *why = u->why[call];
	json_object *reply = NULL;
	int status;

	if (u->read[call])
		return u->answer[call];
	u->read[call] = true;
	if (!u->user) {
		snprintf(why, DSU_ERR_MAX, "not read: GET %s needs a login (--user)",
			 api_path(call));
		return NULL;
	}
	status = api_call(&u->d, call, NULL, &reply, why);
	if (status < 0) {
		why[strcspn(why, "\n")] = '\0';
		return NULL;
	}
	if (status == 403) {
		snprintf(why, DSU_ERR_MAX, "\"%s\" may not read GET %s (HTTP 403): it needs an "
			 "administrator", u->user, api_path(call));
	} else if (status != 200) {
		char text[300];

		api_error_text(reply, text, sizeof(text));
		snprintf(why, DSU_ERR_MAX, "GET %s: HTTP %d: %s", api_path(call), status, text);
	} else if (!reply) {
		snprintf(why, DSU_ERR_MAX, "GET %s: an empty answer", api_path(call));
	} else {
		u->answer[call] = reply;
		return reply;
	}
	json_object_put(reply);
	return NULL;
}

static json_object *audit_result(const struct audit_check *c, enum audit_status st,
				 const char *detail)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(c->id));
	json_object_object_add(o, "title", json_object_new_string(c->title));
	json_object_object_add(o, "status", json_object_new_string(status_name[st]));
	json_object_object_add(o, "detail", json_object_new_string(detail));
	return o;
}

/* Identity and login; 0, or -1 with err: the unit cannot be audited. */
static int audit_start(struct audit_unit *u, const char *host, const struct dsu_common *o,
		       const char *password, char *err)
{
	json_object *dev = NULL;
	int status;

	if (dsu_dev_init(&u->d, host, o->timeout, err) < 0 ||
	    dsu_trust(&u->d, o->fingerprint, err) < 0)
		return -1;
	status = api_call(&u->d, API_DEVICE, NULL, &dev, err);
	if (status < 0 || dsu_trust_commit(&u->d, err) < 0) {
		json_object_put(dev);
		return -1;
	}
	if (status != 200 || !json_object_is_type(dev, json_type_object)) {
		if (status == 200)
			snprintf(err, DSU_ERR_MAX, "GET %s: the answer is not a JSON object",
				 api_path(API_DEVICE));
		else
			dsu_refused_text(&u->d, status, dev, "", err, DSU_ERR_MAX);
		json_object_put(dev);
		return -1;
	}
	u->answer[API_DEVICE] = dev;
	u->read[API_DEVICE] = true;
	if (o->user) {
		if (dsu_login_with(&u->d, o->user, password, err) < 0)
			return -1;
		u->user = o->user;
	}
	return 0;
}

/* Audit host: {unit, mac, model, firmware, checks} (and error when it could not be). */
static json_object *audit_unit(const char *host, const struct dsu_common *o, const char *password)
{
	struct audit_unit *u = calloc(1, sizeof(*u));
	json_object *out = json_object_new_object(), *list = json_object_new_array(), *dev;
	char err[DSU_ERR_MAX], detail[AUDIT_DETAIL_MAX];

	json_object_object_add(out, "unit", json_object_new_string(host));
	if (!u) {
		snprintf(err, sizeof(err), "out of memory");
		goto failed;
	}
	if (audit_start(u, host, o, password, err) < 0)
		goto failed;
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		const struct audit_check *c = &checks[i];
		json_object *a = audit_read(u, c->source);
		enum audit_status st = AUDIT_UNKNOWN;

		detail[0] = '\0';
		if (a)
			st = c->fn(u, a, detail);
		else
			snprintf(detail, sizeof(detail), "%s", u->why[c->source]);
		json_object_array_add(list, audit_result(c, st, detail));
	}
	dsu_logout(&u->d);
	dev = u->answer[API_DEVICE];
	json_object_object_add(out, "mac", json_object_new_string(json_str(dev, F.mac)));
	json_object_object_add(out, "model", json_object_new_string(json_str(dev, F.model)));
	json_object_object_add(out, "firmware", json_object_new_string(json_str(dev, F.firmware)));
	json_object_object_add(out, "checks", list);
	goto done;
failed:
	dsu_fail(host, "not audited: %s", err);
	err[strcspn(err, "\n")] = '\0';
	json_object_object_add(out, "error", json_object_new_string(err));
	json_object_object_add(out, "checks", list);
	if (u)
		dsu_logout(&u->d);
done:
	if (u)
		for (int i = 0; i < API_CALLS; i++)
			json_object_put(u->answer[i]);
	free(u);
	return out;
}

/* ---- output ---- */

/* One unit's table; the host as given, printable. */
static void print_unit(json_object *unit)
{
	json_object *list = get_array(unit, "checks");
	unsigned int count[AUDIT_STATUSES] = { 0 };
	char host[DSU_HOST_MAX];
	const char *unit_name = json_str(unit, "unit");

	dsu_printable(host, sizeof(host), unit_name, strlen(unit_name));
	if (json_str(unit, "error")[0]) {
		printf("%s: not audited: %s\n\n", host, json_str(unit, "error"));
		return;
	}
	printf("%s  %s  %s  firmware %s\n", host, json_str(unit, "model"), json_str(unit, "mac"),
	       json_str(unit, "firmware"));
	printf("  %-25s %-8s %s\n", "CHECK", "STATUS", "DETAIL");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *c = json_object_array_get_idx(list, i);
		const char *st = json_str(c, "status");

		printf("  %-25s %-8s %s\n", json_str(c, "id"), st, json_str(c, "detail"));
		for (int s = 0; s < AUDIT_STATUSES; s++)
			count[s] += strcmp(st, status_name[s]) == 0;
	}
	printf("  %u pass, %u warn, %u fail, %u unknown\n\n", count[AUDIT_PASS],
	       count[AUDIT_WARN], count[AUDIT_FAIL], count[AUDIT_UNKNOWN]);
}

/* XML text and attribute values: the five specials escaped, anything but
 * printable ASCII as '?' (what a unit says is already printable). */
static void xml(FILE *f, const char *s)
{
	static const char special[] = "&<>\"'";
	static const char *const entity[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&apos;" };

	for (; *s; s++) {
		const char *e = strchr(special, *s);

		if (e)
			fputs(entity[e - special], f);
		else
			fputc(*s >= 0x20 && *s < 0x7f ? *s : '?', f);
	}
}

static unsigned int count_status(json_object *list, const char *status)
{
	unsigned int n = 0;

	for (size_t i = 0; i < json_object_array_length(list); i++)
		n += strcmp(json_str(json_object_array_get_idx(list, i), "status"), status) == 0;
	return n;
}

/* One testsuite per unit, one testcase per check: fail is a failure, unknown
 * skipped, warn passes with its detail in system-out; a unit not audited is
 * one testcase "audit" with an error. */
static void junit_unit(FILE *f, json_object *unit)
{
	static const char *const props[] = { "mac", "model", "firmware" };
	json_object *list = get_array(unit, "checks");
	const char *error = json_str(unit, "error");
	size_t n = json_object_array_length(list);

	fputs("  <testsuite name=\"", f);
	xml(f, json_str(unit, "unit"));
	if (error[0]) {
		fputs("\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n"
		      "    <testcase classname=\"", f);
		xml(f, json_str(unit, "unit"));
		fputs("\" name=\"audit\">\n      <error message=\"", f);
		xml(f, error);
		fputs("\"/>\n    </testcase>\n  </testsuite>\n", f);
		return;
	}
	fprintf(f, "\" tests=\"%zu\" failures=\"%u\" errors=\"0\" skipped=\"%u\">\n", n,
		count_status(list, "fail"), count_status(list, "unknown"));
	fputs("    <properties>\n", f);
	for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
		fprintf(f, "      <property name=\"%s\" value=\"", props[i]);
		xml(f, json_str(unit, props[i]));
		fputs("\"/>\n", f);
	}
	fputs("    </properties>\n", f);
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(list, i);
		const char *st = json_str(c, "status");
		bool fail = strcmp(st, "fail") == 0, unknown = strcmp(st, "unknown") == 0;

		fputs("    <testcase classname=\"", f);
		xml(f, json_str(unit, "unit"));
		fputs("\" name=\"", f);
		xml(f, json_str(c, "id"));
		fputs("\">\n", f);
		if (fail)
			fputs("      <failure type=\"fail\" message=\"", f);
		else if (unknown)
			fputs("      <skipped message=\"", f);
		else
			fprintf(f, "      <system-out>%s: ", st);
		xml(f, json_str(c, "detail"));
		fputs(fail || unknown ? "\"/>\n" : "</system-out>\n", f);
		fputs("    </testcase>\n", f);
	}
	fputs("  </testsuite>\n", f);
}

static int junit_write(const char *path, json_object *all)
{
	FILE *f = fopen(path, "we");
	int r;

	if (!f)
		return dsu_fail(NULL, "--junit %s: %s", path, strerror(errno));
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"dsu audit\">\n", f);
	for (size_t i = 0; i < json_object_array_length(all); i++)
		junit_unit(f, json_object_array_get_idx(all, i));
	fputs("</testsuites>\n", f);
	r = ferror(f);
	if (fclose(f) != 0 || r)
		return dsu_fail(NULL, "--junit %s: %s", path, strerror(errno));
	return 0;
}

/* ---- the command ---- */

int dsu_audit(int argc, char **argv)
{
	enum { O_JUNIT = O_FIRST_OPT };
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "junit", required_argument, NULL, O_JUNIT },
		DSU_COMMON_OPTIONS, { NULL, 0, NULL, 0 },
	};
	struct dsu_common o = { .timeout = 10 };
	char pw[DSU_PASSWORD_MAX] = "", err[DSU_ERR_MAX];
	const char *junit = NULL;
	bool failed = false, unaudited = false;
	json_object *all;
	int c;

	while ((c = getopt_long(argc, argv, ":u:h", longopts, NULL)) != -1) {
		if (c == '?' || c == ':')
			return cli_option_error(c, argv, longopts);
		if (c == O_JUNIT)
			junit = optarg;
		else
			dsu_common_opt(&o, c, help);
	}
	if (optind == argc)
		return cli_usage_error("missing HOST");
	if (o.fingerprint && argc - optind > 1)
		return cli_usage_error("--fingerprint pins one unit: give one HOST");
	/* one password for every unit, asked once */
	if (o.user && secret_get(o.password_file, false, pw, err) < 0) {
		dsu_fail(NULL, "%s", err);
		return 2;
	}
	all = json_object_new_array();
	for (int i = optind; i < argc; i++) {
		json_object *unit = audit_unit(argv[i], &o, pw);
		json_object *list = get_array(unit, "checks");

		unaudited |= json_str(unit, "error")[0] != '\0';
		failed |= count_status(list, "fail") > 0;
		if (!o.json)
			print_unit(unit);
		json_object_array_add(all, unit);
	}
	secret_wipe(pw, sizeof(pw));
	if (o.json)
		puts(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	if (junit && junit_write(junit, all))
		unaudited = true;
	json_object_put(all);
	return unaudited ? 2 : failed ? 1 : 0;
}
