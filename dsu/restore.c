// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dsu restore: put a file of dsu backup back into a unit (PUT
 * /api/v1/system/config, docs/device-model.md) after showing what it changes,
 * one line per setting.  dsu replace: the hardening guide's decommissioning
 * (5) in one go: OLD's configuration (a fresh backup, or its last one when
 * OLD no longer answers) restored into NEW, then OLD's realcomd sections
 * moved to NEW (map.c) and realcomd reloaded.
 *
 * Identity (MAC, serial, firmware, time of export) is never sent, nor the
 * address (settings.network) unless restore is told --network: a
 * replacement keeps its own address, and a unit taking another's address
 * would make a new certificate and be cut off from us mid-way.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "dsu.h"

#define RESTORE_NETWORK	"network"	/* the settings member of the address */
#define RESTORE_PATH_MAX	256		/* "settings.serial_ports[1].mode" */

static const char restore_help[] =
	"Usage: dsu restore HOST FILE --user NAME [--network] [--force] [--dry-run] [--yes]\n"
	"                   [--password-file FILE] [--fingerprint FP] [--timeout SEC]\n"
	"Import FILE, made by dsu backup, into the unit: shows each setting it changes,\n"
	"asks on a terminal (--yes goes ahead without one), then sends it.  MAC, serial,\n"
	"firmware and the time of export are never sent; the address only with --network.\n"
	"--force: a backup of another model, sent as one of this unit's (it still checks\n"
	"each setting).  --dry-run: show the changes and stop.\n";

static const char replace_help[] =
	"Usage: dsu replace OLD NEW --user NAME [-o DIR] [--config FILE] [--force] [--yes]\n"
	"                   [--password-file FILE] [--fingerprint FP] [--timeout SEC]\n"
	"Back up OLD into DIR (default: the current directory) as dsu backup does, or, when\n"
	"OLD does not answer, take its last recorded backup; restore it into NEW except\n"
	"its address; move every section of FILE (default /etc/realcom/realcom.conf) whose\n"
	"host is OLD to NEW with NEW's TCP ports and certificate pin; reload realcomd.\n"
	"--fingerprint is NEW's.  The same password logs in to both units.\n";

static int key_order(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void show_value(json_object *v)
{
	fputs(v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
						 JSON_C_TO_STRING_NOSLASHESCAPE) : "(none)", stdout);
}

/*
 * Print "path: now -> want" for each setting of want that differs from now,
 * objects by their keys in order, arrays by index; how many.
 */
static int restore_diff(const char *path, json_object *now, json_object *want)
{
	char sub[RESTORE_PATH_MAX];
	int n = 0;

	if (json_object_is_type(want, json_type_object) &&
	    json_object_is_type(now, json_type_object)) {
		const char **keys = calloc((size_t)json_object_object_length(want) + 1,
					   sizeof(*keys));
		size_t k = 0;

		if (!keys)
			abort();	/* a few dozen pointers */
		json_object_object_foreach(want, key, val) {
			(void)val;
			keys[k++] = key;
		}
		qsort(keys, k, sizeof(keys[0]), key_order);
		for (size_t i = 0; i < k; i++) {
			snprintf(sub, sizeof(sub), "%s.%s", path, keys[i]);
			n += restore_diff(sub, json_object_object_get(now, keys[i]),
					  json_object_object_get(want, keys[i]));
		}
		free(keys);
		return n;
	}
	if (json_object_is_type(want, json_type_array) &&
	    json_object_is_type(now, json_type_array)) {
		size_t a = json_object_array_length(now), b = json_object_array_length(want);

		for (size_t i = 0; i < (a > b ? a : b); i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			n += restore_diff(sub, i < a ? json_object_array_get_idx(now, i) : NULL,
					  i < b ? json_object_array_get_idx(want, i) : NULL);
		}
		return n;
	}
	if (now && want && json_object_equal(now, want))
		return 0;
	printf("%s: ", path);
	show_value(now);
	fputs(" -> ", stdout);
	show_value(want);
	putchar('\n');
	return 1;
}

/*
 * What to send d for the export config (of a backup): refused (1, printed)
 * for another model than dev's unless force ("FROM \"MODEL\", this unit is
 * an ..."); else the body, {model,
 * settings} without identity nor, unless network, the address, and the
 * changes against the unit's export now printed, their number in *changes.
 */
static int restore_prepare(struct dsu_dev *d, json_object *dev, json_object *config,
			   const char *from, const char *user, bool force, bool network,
			   json_object **body, int *changes)
{
	const char *model = json_str(config, F.model), *unit = json_str(dev, F.model);
	json_object *settings = json_object_object_get(config, "settings"), *send, *now = NULL;
	int status;

	*body = NULL;
	if (strcmp(model, unit) != 0 && !force)
		return dsu_fail(d->host, "%s \"%s\", this unit is an \"%s\": add --force to "
				"import it anyway", from, model, unit);
	status = dsu_call(d, API_CONFIG, NULL, &now);
	if (status != 200 || !json_object_is_type(json_object_object_get(now, "settings"),
						  json_type_object)) {
		if (status == 200)
			dsu_fail(d->host, "the answer to GET %s is not a configuration export",
				 api_path(API_CONFIG));
		else if (status > 0)
			dsu_refused(d, status, now, user);
		json_object_put(now);
		return 1;
	}
	send = json_object_new_object();
	json_object_object_foreach(settings, key, val)
		if (network || strcmp(key, RESTORE_NETWORK) != 0)
			json_object_object_add(send, key, json_object_get(val));
	*changes = restore_diff("settings", json_object_object_get(now, "settings"), send);
	json_object_put(now);
	*body = json_object_new_object();
	/* --force: the unit checks each setting, not the name of the model */
	json_object_object_add(*body, F.model, json_object_new_string(force ? unit : model));
	json_object_object_add(*body, "settings", send);
	return 0;
}

/* Send body (restore_prepare()): 0, or 1 with the unit's answer printed. */
static int restore_put(struct dsu_dev *d, json_object *body, const char *user)
{
	json_object *reply = NULL;
	int status = dsu_call(d, API_CONFIG_PUT, body, &reply);

	if (status == 200 || status == 204) {
		json_object_put(reply);
		return 0;
	}
	if (status > 0)
		dsu_refused(d, status, reply, user);
	json_object_put(reply);
	return 1;
}

enum { O_NETWORK = O_FIRST_OPT, O_FORCE, O_DRY, O_YES, O_CONFIG };

/* The options of restore and replace (each longopts has its own of them). */
struct restore_opts {
	struct dsu_common c;
	const char *out, *config;
	bool network, force, dry, yes;
};

/*
 * Parse argv up to the two arguments named in args ("HOST", "FILE"), --user
 * required (why: what needs it).  0, or the usage error's exit status.
 */
static int restore_options(int argc, char **argv, const struct option *longopts,
			   const char *help, const char *const args[2], const char *why,
			   struct restore_opts *o)
{
	int ch;

	while ((ch = getopt_long(argc, argv, ":o:u:h", longopts, NULL)) != -1) {
		if (ch == '?' || ch == ':')
			return cli_option_error(ch, argv, longopts);
		if (ch == 'o')
			o->out = optarg;
		else if (ch == O_CONFIG)
			o->config = optarg;
		else if (ch == O_NETWORK)
			o->network = true;
		else if (ch == O_FORCE)
			o->force = true;
		else if (ch == O_DRY)
			o->dry = true;
		else if (ch == O_YES)
			o->yes = true;
		else
			dsu_common_opt(&o->c, ch, help);
	}
	if (argc - optind < 2)
		return optind == argc ? cli_usage_error("missing %s and %s", args[0], args[1]) :
					cli_usage_error("missing %s", args[1]);
	if (argc - optind > 2)
		return cli_unexpected_argument(argv[optind + 2]);
	if (!o->c.user)
		return cli_usage_error("missing --user NAME: %s needs an administrator", why);
	return 0;
}

/* GET /device: 0 with dev, or 1 (printed); a new unit is refused. */
static int restore_device(struct dsu_dev *d, const char *user, json_object **dev)
{
	int status = dsu_call(d, API_DEVICE, NULL, dev);

	if (status == 200)
		return dsu_needs_setup(d, *dev);
	if (status > 0)
		dsu_refused(d, status, *dev, user);
	return 1;
}

int dsu_restore(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "network", no_argument, NULL, O_NETWORK },
		{ "force", no_argument, NULL, O_FORCE },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "yes", no_argument, NULL, O_YES },
		DSU_COMMON_OPTIONS, { NULL, 0, NULL, 0 },
	};
	static const char *const args[] = { "HOST", "FILE" };
	struct restore_opts ro = { .c.timeout = 10 };
	struct dsu_common c;
	json_object *backup, *dev = NULL, *body = NULL;
	char err[DSU_ERR_MAX], from[DSU_BACKUP_PATH_MAX + 32];
	const char *file;
	struct dsu_dev d;
	int changes = 0, r;

	r = restore_options(argc, argv, longopts, restore_help, args, "a restore", &ro);
	if (r)
		return r;
	r = 1;
	c = ro.c;
	file = argv[optind + 1];
	backup = dsu_backup_load(file, err);
	if (!backup)
		return dsu_fail(NULL, "%s", err);
	if (dsu_open(&d, argv[optind], c.fingerprint, c.timeout)) {
		json_object_put(backup);
		return 1;
	}
	if (restore_device(&d, c.user, &dev) || dsu_login(&d, c.user, c.password_file) < 0)
		goto out;
	printf("Restoring %s into %s:\n", file, d.host);
	snprintf(from, sizeof(from), "%s is a backup of an", file);
	if (restore_prepare(&d, dev, json_object_object_get(backup, "config"), from, c.user, ro.force,
			    ro.network, &body, &changes))
		goto out;
	if (!changes) {
		printf("nothing to change\n");
		r = 0;
		goto out;
	}
	if (ro.dry || (!ro.yes && !dsu_confirm("Change these settings?", "change them", "nothing changed"))) {
		r = ro.dry ? 0 : 1;
		goto out;
	}
	if (restore_put(&d, body, c.user))
		goto out;
	printf("%s: %d setting%s restored\n", d.host, changes, changes == 1 ? "" : "s");
	r = 0;
out:
	dsu_logout(&d);
	json_object_put(backup);
	json_object_put(dev);
	json_object_put(body);
	return r;
}

/* ---- dsu replace ---- */

/* OLD, what is known of it: its export, from itself or from its last backup. */
struct replace_old {
	struct dsu_dev d;
	bool reachable;
	json_object *dev;		/* GET /device, when reachable */
	json_object *backup;		/* the file, when not */
	json_object *config;		/* the export to restore (owned by one of those) */
	char mac[18];
	char path[DSU_BACKUP_PATH_MAX];	/* the backup used, when not reachable */
	int64_t when;
};

/*
 * OLD answers: log in and read its export.  It does not: its last backup,
 * found in the record by the host it was saved from (the record is by MAC,
 * which an unreachable unit cannot tell).  0, or 1 (printed).
 */
static int replace_read_old(struct replace_old *o, const char *host, const struct dsu_common *c,
			    const char *password)
{
	char err[DSU_ERR_MAX];
	int status;

	if (dsu_open(&o->d, host, NULL, c->timeout))
		return 1;
	status = dsu_call(&o->d, API_DEVICE, NULL, &o->dev);
	if (status > 0) {
		o->reachable = true;
		if (status != 200)
			return dsu_refused(&o->d, status, o->dev, c->user);
		if (dsu_needs_setup(&o->d, o->dev))
			return 1;
		if (!dsu_backup_mac(json_str(o->dev, F.mac), o->mac))
			return dsu_fail(o->d.host, "the unit gives no usable MAC address");
		if (dsu_login_with(&o->d, c->user, password, err) < 0)
			return dsu_fail(o->d.host, "%s", err);
		status = dsu_call(&o->d, API_CONFIG, NULL, &o->config);
		if (status == 200 && json_object_is_type(json_object_object_get(o->config,
								"settings"), json_type_object))
			return 0;
		if (status == 200)
			return dsu_fail(o->d.host, "the answer to GET %s is not a configuration "
					"export", api_path(API_CONFIG));
		return status > 0 ? dsu_refused(&o->d, status, o->config, c->user) : 1;
	}
	status = dsu_backup_find(o->d.key, o->path, o->mac, &o->when, err);
	if (status < 0)
		return dsu_fail(o->d.host, "%s", err);
	if (status == 0)
		return dsu_fail(o->d.host, "does not answer, and no backup of it is recorded (dsu "
				"backup saves one while it answers): nothing changed");
	o->backup = dsu_backup_load(o->path, err);
	if (!o->backup)
		return dsu_fail(o->d.host, "its last backup: %s", err);
	o->config = json_object_get(json_object_object_get(o->backup, "config"));
	return 0;
}

/* The plan, before anything is done. */
static void replace_plan(const struct replace_old *o, const struct dsu_dev *d, const char *mac,
			 const char *out, const char *config, const char *old_host,
			 const char *new_host, const unsigned int tty[], const unsigned int port[],
			 int n)
{
	char day[32];
	time_t at = (time_t)o->when;
	struct tm tm;

	printf("Replacing %s (%s) by %s (%s):\n", o->d.host, o->mac, d->host, mac);
	if (o->reachable) {
		char dir[PATH_MAX];

		printf("- back up %s into %s\n", o->d.host, realpath(out, dir) ? dir : out);
	} else {
		if (!gmtime_r(&at, &tm) || !strftime(day, sizeof(day), "%Y-%m-%d %H:%M UTC", &tm))
			snprintf(day, sizeof(day), "%lld", (long long)o->when);
		printf("- %s does not answer: its last backup, %s of %s\n", o->d.host, o->path, day);
	}
	printf("- restore it into %s, its address excepted\n", d->host);
	if (!n)
		printf("- nothing in %s maps %s\n", config, old_host);
	for (int i = 0; i < n; i++)
		printf("- %s: ttyR%u (port %u): host %s -> %s\n", config, tty[i], port[i], old_host,
		       new_host);
}

int dsu_replace(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "force", no_argument, NULL, O_FORCE },
		{ "yes", no_argument, NULL, O_YES },
		DSU_COMMON_OPTIONS, { NULL, 0, NULL, 0 },
	};
	static const char *const args[] = { "OLD", "NEW" };
	struct restore_opts ro = { .c.timeout = 10, .out = ".",
				   .config = "/etc/realcom/realcom.conf" };
	struct dsu_common c;
	const char *config, *out;
	struct replace_old o = { 0 };
	json_object *dev = NULL, *body = NULL, *ports = NULL;
	char pw[DSU_PASSWORD_MAX], err[DSU_ERR_MAX], mac[18], path[DSU_BACKUP_PATH_MAX];
	char old_host[DSU_HOST_MAX], new_host[DSU_HOST_MAX];
	char from[DSU_BACKUP_PATH_MAX + DSU_HOST_MAX + 32];
	unsigned int tty[REALCOM_TTYS_MAX], port[REALCOM_TTYS_MAX];
	bool have_pw = false;
	struct dsu_dev d = { 0 };
	struct stat st;
	int n, changes = 0, status, r;

	r = restore_options(argc, argv, longopts, replace_help, args, "a replacement", &ro);
	if (r)
		return r;
	r = 1;
	c = ro.c;
	config = ro.config;
	out = ro.out;
	if (strchr(out, '\n'))
		return cli_usage_error("-o: a path with a line break cannot be recorded");
	if (stat(out, &st) < 0 || !S_ISDIR(st.st_mode))
		return cli_usage_error("-o %s: no such directory", out);
	if (dsu_open(&d, argv[optind + 1], c.fingerprint, c.timeout))
		return 1;
	dsu_conf_host(&d, new_host, sizeof(new_host));
	if (dsu_dev_init(&o.d, argv[optind], c.timeout, err) < 0)
		return dsu_fail(argv[optind], "%s", err);
	if (strcmp(o.d.key, d.key) == 0)
		return cli_usage_error("OLD and NEW are the same host: %s", d.key);
	dsu_conf_host(&o.d, old_host, sizeof(old_host));
	n = dsu_conf_sections(config, old_host, tty, port, REALCOM_TTYS_MAX);
	if (n < 0)
		return 1;

	if (restore_device(&d, c.user, &dev))
		goto out;
	if (!dsu_backup_mac(json_str(dev, F.mac), mac)) {
		dsu_fail(d.host, "the unit gives no usable MAC address");
		goto out;
	}
	if (secret_get(c.password_file, false, pw, err) < 0) {
		dsu_fail(NULL, "%s", err);
		goto out;
	}
	have_pw = true;
	if (replace_read_old(&o, argv[optind], &c, pw))
		goto out;
	if (strcmp(o.mac, mac) == 0) {
		dsu_fail(d.host, "has the MAC address of %s (%s): that is the same unit, not a "
			 "replacement", o.d.host, mac);
		goto out;
	}
	if (dsu_login_with(&d, c.user, pw, err) < 0) {
		dsu_fail(d.host, "%s", err);
		goto out;
	}
	secret_wipe(pw, sizeof(pw));
	have_pw = false;
	replace_plan(&o, &d, mac, out, config, old_host, new_host, tty, port, n);
	printf("Settings of %s that change:\n", d.host);
	if (o.reachable)
		snprintf(from, sizeof(from), "%s is an", o.d.host);
	else
		snprintf(from, sizeof(from), "%s, the backup of %s, is of an", o.path, o.d.host);
	if (restore_prepare(&d, dev, o.config, from, c.user, ro.force, false, &body, &changes))
		goto out;
	if (!changes)
		printf("none\n");
	if (!ro.yes && !dsu_confirm("Go ahead?", "replace the unit", "nothing changed"))
		goto out;

	if (o.reachable) {
		if (dsu_backup_save(&o.d, o.dev, o.config, out, true, path) < 0)
			goto out;
		printf("%s\t%s\t%s\n", o.d.host, o.mac, path);
	}
	if (changes && restore_put(&d, body, c.user))
		goto out;
	if (changes)
		printf("%s: %d setting%s restored\n", d.host, changes, changes == 1 ? "" : "s");
	if (n) {
		/* its name and port modes as restored, and NEW's TCP ports for them */
		json_object_put(dev);
		dev = NULL;
		if (restore_device(&d, c.user, &dev))
			goto moved;
		status = dsu_call(&d, API_PORTS, NULL, &ports);
		if (status != 200 || !json_object_is_type(ports, json_type_array)) {
			if (status == 200)
				dsu_fail(d.host, "the answer to GET %s is not a list of ports",
					 api_path(API_PORTS));
			else if (status > 0)
				dsu_refused(&d, status, ports, c.user);
			goto moved;
		}
		if (dsu_conf_move(config, old_host, &d, dev, ports))
			goto out;
	}
	r = 0;
	goto out;
moved:
	fprintf(stderr, "dsu: %s is restored, but %s still maps %s\n", d.host, config, old_host);
out:
	if (have_pw)
		secret_wipe(pw, sizeof(pw));
	dsu_logout(&d);
	dsu_logout(&o.d);
	json_object_put(dev);
	json_object_put(body);
	json_object_put(ports);
	json_object_put(o.dev);
	json_object_put(o.backup);
	json_object_put(o.config);
	return r;
}
