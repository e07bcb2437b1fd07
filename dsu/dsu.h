/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dsu, the device search utility: what its subcommands share.  api.c holds
 * the management API model (every path, field and the service type, in one
 * place) and the HTTPS client; reply.c makes what devices say safe to show;
 * known.c the trust-on-first-use pins; secret.c passwords; search.c mDNS;
 * map.c realcomd's configuration; audit.c the hardening-guide audit;
 * backup.c and restore.c a unit's configuration export saved and put back.
 * upgrade.c firmware upgrades; apply.c settings from a fleet file.
 */
#ifndef REALCOM_DSU_H
#define REALCOM_DSU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "tls.h"

#define DSU_ERR_MAX	1024
#define DSU_BACKUP_PATH_MAX	8194	/* a directory, then a name: 2 * PATH_MAX + 2 */
#define DSU_HOST_MAX	256

/* ---- the management API model (api.c) ---- */

extern const char dsu_service_type[];	/* "_nport._tcp" */
extern const char dsu_moxa_oui[];	/* "00:90:E8" */

enum api_call {
	API_DEVICE,		/* GET, no auth: identity */
	API_SETUP,		/* POST {username, password} while needs-setup */
	API_LOGIN,		/* POST {username, password} -> {token, expires_in} */
	API_LOGOUT,
	API_PORTS,		/* GET: every serial port's mode and TCP ports */
	/* the settings dsu audit reads (audit.c) */
	API_SERVICES,		/* GET {snmp, wins, ...} booleans */
	API_PASSWORD_POLICY,	/* GET {min_length, digit, mixed_case, special, lifetime_days} */
	API_LOCKOUT,		/* GET {enabled, max_failures, lockout_minutes} */
	API_ALLOWLIST,		/* GET {enabled, entries: [{address, netmask}]} */
	API_CERTIFICATE,	/* GET {pem, sha256}: the unit's HTTPS certificate */
	API_SYSLOG,		/* GET {remote: [{address, port, tls}]} */
	API_SNTP,		/* GET {enabled, servers: [..]} */
	API_DOS_DEFENSE,	/* GET {enabled} */
	API_WEB_SESSIONS,	/* GET {max_sessions} */
	API_CONFIG,		/* GET (admin): the configuration export */
	API_CONFIG_PUT,		/* PUT (admin) {model, settings}: import an export */
	API_FIRMWARE,		/* POST (admin) a firmware image, raw: 202 {firmware} */
	/* the settings dsu apply writes (apply.c): each takes the GET's body */
	API_PUT_SERVICES,
	API_PUT_PASSWORD_POLICY,
	API_PUT_LOCKOUT,
	API_PUT_ALLOWLIST,
	API_PUT_SYSLOG,
	API_PUT_SNTP,
	API_PUT_DOS_DEFENSE,
	API_PUT_WEB_SESSIONS,
	API_LOGIN_MESSAGE,	/* GET {text} */
	API_PUT_LOGIN_MESSAGE,
	API_PUT_PORT,		/* PUT {mode, connection} of port d->n */
	API_REMOTE_CA,		/* GET {sha256}: the CA of encrypted-authenticated ports */
	API_POST_REMOTE_CA,	/* POST {pem} -> 201 {sha256} */
	API_CALLS
};

/* Field names of the model, so no other file spells one. */
struct api_fields {
	const char *model, *serial, *mac, *firmware, *name, *ports, *state;
	const char *username, *password, *token, *retry_after, *error, *message;
	const char *port, *mode, *connection, *data_port, *command_port, *tcp_port;
	const char *txt_vendor, *txt_model, *txt_mac, *txt_serial, *txt_fw, *txt_state, *txt_api;
	/* settings (dsu audit) */
	const char *snmp, *min_length, *digit, *mixed_case, *special, *lifetime_days;
	const char *enabled, *max_failures, *lockout_minutes, *entries, *address, *netmask;
	const char *remote, *tls, *servers, *max_sessions, *pem, *connected;
	/* settings dsu apply writes besides those */
	const char *wins, *moxa_service, *https, *serial_console, *text, *sha256;
	const char *mode_disabled, *conn_unencrypted;	/* values */
};
/* The values of a port's mode and connection, NULL-terminated. */
extern const char *const api_port_modes[];
extern const char *const api_port_connections[];
extern const struct api_fields F;

/* One device's HTTPS endpoint and what we trust it by. */
struct dsu_dev {
	char host[DSU_HOST_MAX];	/* as given: name, IPv4, [IPv6], with :port */
	char key[DSU_HOST_MAX + 8];	/* the known_devices key: host[:port] */
	char url_base[DSU_HOST_MAX + 16];
	unsigned int timeout;		/* seconds for connect and each request */
	bool pinned;			/* pin holds the fingerprint we trust */
	uint8_t pin[TLS_FP_LEN];
	bool seen_set;			/* seen holds what the device showed */
	uint8_t seen[TLS_FP_LEN];
	bool mismatch;			/* the device showed another certificate */
	enum api_call call;		/* the last one made, for messages */
	unsigned int n;			/* fills "{n}" in the next call's path */
	char local_ip[64];		/* our end of the last connection, "" unknown */
	char token[256];
};

/* HOST[:PORT] or [V6]:PORT into d (port 443 by default).  0 or -1 with err. */
int dsu_dev_init(struct dsu_dev *d, const char *host, unsigned int timeout, char *err);

/*
 * One API call.  body may be NULL; d->n fills "{n}" in the path.  Returns
 * the HTTP status (2xx..5xx) with *reply set (may be NULL), or -1 with err
 * saying what failed: no answer, refused, a changed certificate, ...
 */
int api_call(struct dsu_dev *d, enum api_call call, json_object *body, json_object **reply,
	     char *err);

/*
 * The same with a binary body (a firmware image, application/octet-stream)
 * of at most API_IMAGE_MAX bytes.  --timeout bounds the connection and any
 * stall, not the whole upload.  progress (may be NULL) is called as the
 * body goes out, with the bytes sent so far and the total.
 */
#define API_IMAGE_MAX	(32 * 1024 * 1024)	/* the model's bound (413 beyond) */
typedef void api_progress_fn(void *arg, size_t sent, size_t total);
int api_upload(struct dsu_dev *d, enum api_call call, const void *data, size_t len,
	       api_progress_fn *progress, void *arg, json_object **reply, char *err);

/* The call's path and method, for messages. */
const char *api_path(enum api_call call);
const char *api_method(enum api_call call);
/* "Service Unavailable" for 503; "" for a status without common words. */
const char *api_status_text(int status);

/* The device's own words for a refused call: "message (error)". */
void api_error_text(json_object *reply, char *out, size_t len);

/* ---- what devices say (reply.c) ---- */

/*
 * An API answer: exactly one JSON value (nesting bounded), every string in
 * it cut down to printable ASCII (anything else becomes '?').  NULL when it
 * is not that.  text is NUL-terminated after len bytes.
 */
json_object *dsu_reply_parse(const char *text, size_t len);
/* Copy at most len bytes of in as printable ASCII, always terminated; the length. */
size_t dsu_printable(char *out, size_t cap, const char *in, size_t len);
/* A string or integer member of o; "" or dflt when absent or of another type. */
const char *json_str(json_object *o, const char *key);
int64_t json_int(json_object *o, const char *key, int64_t dflt);

/* ---- known devices (known.c) ---- */

/* $XDG_CONFIG_HOME/realcom/known_devices or ~/.config/realcom/known_devices */
int known_path(char *out, size_t len, char *err);
/* The pin for key: 1 found, 0 not, -1 error. */
int known_lookup(const char *key, uint8_t fp[TLS_FP_LEN], char *err);
/* The key of host (as realcom.conf has it, without a port) in known_devices:
 * host itself, else host:PORT, the unit's web service where dsu reached it.
 * 1 with out filled, or 0. */
int known_endpoint(const char *host, char *out, size_t len);
/* mkdir -p for the parent directories of path, each mode 0700; 0 or -1 with err. */
int dsu_mkdirs(char *path, char *err);
/*
 * Files dsu writes are replaced whole: a new file beside path (mode), its
 * name in tmp, written through the FILE and then dsu_file_commit(): flushed,
 * synced, judged by check (NULL: none; it says why in err), renamed over
 * path.  Any failure removes the new file and leaves path as it was.
 */
#define DSU_TMP_MAX	(DSU_BACKUP_PATH_MAX + 32)
FILE *dsu_file_create(const char *path, mode_t mode, char tmp[DSU_TMP_MAX], char *err);
int dsu_file_commit(const char *path, FILE *out, const char *tmp,
		    int (*check)(const char *tmp, const char *path, char *err), char *err);
/* Add or replace key's pin (file 0600, directory 0700). */
int known_store(const char *key, const uint8_t fp[TLS_FP_LEN], char *err);
/* The same in another file of that format (dsu audit's record); header
 * starts a new file. */
int known_lookup_in(const char *path, const char *key, uint8_t fp[TLS_FP_LEN], char *err);
int known_store_in(const char *path, const char *header, const char *key,
		   const uint8_t fp[TLS_FP_LEN], char *err);

/*
 * Trust for d before the first call: --fingerprint if given (and stored once
 * the device shows it), else the known pin, else first use.  After a call,
 * dsu_trust_commit() stores a first-use pin and says so on stderr.
 */
int dsu_trust(struct dsu_dev *d, const char *fingerprint, char *err);
int dsu_trust_commit(struct dsu_dev *d, char *err);

/* ---- secrets (secret.c) ---- */

#define DSU_PASSWORD_MAX	128
#define DSU_MIN_PASSWORD	8	/* the G2's default policy */

/*
 * A password from --password-file FILE, else $DSU_PASSWORD, else the
 * terminal without echo (asked twice when confirm).  0 or -1 with err.
 */
int secret_get(const char *file, bool confirm, char out[DSU_PASSWORD_MAX], char *err);
/* The default policy, checked before anything is sent: NULL or the broken rule. */
const char *secret_policy(const char *password);
void secret_wipe(void *p, size_t n);

/* ---- subcommands (dsu.c, search.c, map.c, backup.c, list.c) ---- */

/* Options the HOST commands share. */
struct dsu_common {
	const char *fingerprint, *user, *password_file;
	unsigned int timeout;
	bool json;
};

enum { O_FP = 256, O_PWFILE, O_JSON, O_TIMEOUT, O_FIRST_OPT };

#define DSU_COMMON_OPTIONS						\
	{ "fingerprint", required_argument, NULL, O_FP },		\
	{ "timeout", required_argument, NULL, O_TIMEOUT },		\
	{ "user", required_argument, NULL, 'u' },			\
	{ "password-file", required_argument, NULL, O_PWFILE },	\
	{ "help", no_argument, NULL, 'h' }

/* Handle one of those (exits on --help or a bad one). */
void dsu_common_opt(struct dsu_common *o, int c, const char *cmd_usage);

int dsu_search(int argc, char **argv);
int dsu_map(int argc, char **argv);
int dsu_audit(int argc, char **argv);
int dsu_unmap(int argc, char **argv);
int dsu_backup(int argc, char **argv);
int dsu_list(int argc, char **argv);
int dsu_restore(int argc, char **argv);
int dsu_replace(int argc, char **argv);
int dsu_upgrade(int argc, char **argv);
int dsu_apply(int argc, char **argv);

/* ---- the hardening guide's numbers: what audit.c checks and apply.c's baseline sets ---- */

#define DSU_GUIDE_MIN_LENGTH	16	/* guide 3.4: "set the Min. Password Length to 16" */
#define DSU_GUIDE_LIFETIME_DAYS	90	/* guide 3.4: its example lifetime */
#define DSU_GUIDE_SESSIONS	4	/* docs/device-model.md: 4 or fewer is "limited" */

/* ---- realcomd's configuration (map.c) ---- */

#define DSU_MAP_CONFIG	"/etc/realcom/realcom.conf"

/* What to map of a unit, and where. */
struct map_opts {
	const char *protocol, *config, *cert, *key;	/* protocol NULL: the unit's */
	bool tls;			/* --tls: the ports must be encrypted */
	bool tls_from_unit;		/* or: TLS as each port has it (dsu apply) */
	int first_tty;			/* -1: the lowest free ones */
	bool want[33];			/* by port number */
	int tty[33];			/* the port's ttyR number, or -1: as first_tty says */
	bool quiet;			/* dsu apply: no question, no ttys printed */
	bool yes;			/* --yes: show the changes, ask nothing */
};

/* For dsu apply: each wanted port's tty now and after, "1:ttyR0 2:-". */
struct dsu_map_plan {
	char now[400], wanted[400];
	bool current;			/* the file has these sections to the letter */
};

/*
 * Map o->want's ports of the unit d (dev: its GET /device, ports: GET
 * /serial/ports, logged in) into o->config.  write: replace the file (checked
 * by realcomd's parser) and have realcomd reload; else only fill plan (may be
 * NULL).  0, or 1 (printed).
 */
int dsu_map_ports(struct dsu_dev *d, const struct map_opts *o, json_object *dev,
		  json_object *ports, bool write, struct dsu_map_plan *plan);

/* $XDG_STATE_HOME/realcom/NAME, else ~/.local/state/realcom/NAME; -1 when
 * neither is set.  "backups" has one "MAC UNIX_SECONDS PATH" line per unit,
 * its last backup (backup.c), which audit.c reads. */
int dsu_state_path(const char *name, char *out, size_t len);

/* ---- backups (backup.c) ---- */


/* "00:90:E8:0A:EA:E0" from in, upper case; false for anything else. */
bool dsu_backup_mac(const char *in, char out[18]);
/*
 * Save a unit's export as dsu backup does: OUT/MAC.json (is_dir) or the file
 * OUT, mode 0600, recorded as its last backup; path is where.  0 or -1 (printed).
 */
int dsu_backup_save(const struct dsu_dev *d, json_object *dev, json_object *config,
		    const char *out, bool is_dir, char path[DSU_BACKUP_PATH_MAX]);
/* A file dsu backup wrote ({format, host, saved_at, unit, config}), or NULL with err. */
json_object *dsu_backup_load(const char *path, char *err);
/*
 * The newest recorded backup whose file says it was read from a host of
 * that known_devices key (the record is by MAC, which a unit that does not
 * answer cannot tell): 1 with its path, MAC and time, 0 none, -1 (err) when
 * the record cannot be read.
 */
int dsu_backup_find(const char *key, char path[DSU_BACKUP_PATH_MAX], char mac[18],
		    int64_t *when, char *err);

/* ---- realcom.conf as dsu edits it (map.c) ---- */

/* realcomd's host for d: the name or address without brackets or :port. */
void dsu_conf_host(const struct dsu_dev *d, char *out, size_t len);
/* The ttys and device ports of the sections of config whose host is host:
 * how many (at most max), or -1 (printed). */
int dsu_conf_sections(const char *config, const char *host, unsigned int tty[],
		      unsigned int port[], size_t max);
/*
 * Point every section of config whose host is old_host at the unit d (its
 * GET /device dev and GET /serial/ports ports): its host, its TCP port
 * numbers, its certificate pin where the section pins one; comments and
 * other keys and sections as they were.  Checked by realcomd's parser,
 * replaced atomically, realcomd reloaded.  0 or 1 (printed).
 */
int dsu_conf_move(const char *config, const char *old_host, const struct dsu_dev *d,
		  json_object *dev, json_object *ports);
/* Ask realcomd to reload config; it not running is said, not an error. */
void dsu_conf_reload(const char *config);

/* realcomd's control socket: the configuration's, else the default (list.c). */
#define DSU_CONTROL_DEFAULT	"/run/realcom/control"
struct realcom_config;
void dsu_control_path(const struct realcom_config *cfg, char *out, size_t len);

/* Set d up for host with the trust of --fingerprint, known_devices or first use. */
int dsu_open(struct dsu_dev *d, const char *host, const char *fingerprint, unsigned int timeout);
/* One call, trust pinned after it: the HTTP status, or -1 (printed). */
int dsu_call(struct dsu_dev *d, enum api_call call, json_object *body, json_object **reply);
/* An unwanted HTTP answer to the last call in words a user can act on; returns 1. */
int dsu_refused(struct dsu_dev *d, int status, json_object *reply, const char *user);
/* 1 (printed, pointing at dsu setup) when dev, GET /device's answer, is a new unit. */
int dsu_needs_setup(const struct dsu_dev *d, json_object *dev);
/* Log in as user with a password from the usual sources; 0 or -1 (printed). */
int dsu_login(struct dsu_dev *d, const char *user, const char *password_file);
/* Log in with a password already read (secret_get()): 0, or -1 with err. */
int dsu_login_with(struct dsu_dev *d, const char *user, const char *password, char *err);
/* What dsu_refused() prints, into out. */
void dsu_refused_text(const struct dsu_dev *d, int status, json_object *reply, const char *user,
		      char *out, size_t len);
void dsu_logout(struct dsu_dev *d);
/* On a terminal, ask question ("Remove 2 sections?" and " [y/N]"): "y" or
 * "yes" goes ahead, anything else prints "dsu: NOTHING".  Elsewhere --yes
 * must: "not on a terminal: add --yes to ACTION".  True to go ahead. */
bool dsu_confirm(const char *question, const char *action, const char *nothing);

/* "dsu: HOST: why" on stderr; returns 1 for the caller's exit status. */
int dsu_fail(const char *host, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
