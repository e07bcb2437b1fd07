// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dsu backup: save each unit's configuration export (GET /api/v1/system/config,
 * docs/device-model.md) with the unit's identity and the time, in a file only
 * its owner may read (the export may hold secrets), and record it as the
 * unit's last backup: one "MAC UNIX_SECONDS PATH" line per unit in
 * $XDG_STATE_HOME/realcom/backups, which dsu audit reads for backup.recent.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dsu.h"

#define BACKUP_RECORD_MAX	(1024 * 1024)
#define BACKUP_FORMAT		"realcom-dsu-backup-1"
#define BACKUP_FILE_MAX		(1024 * 1024)

static const char help[] =
	"Usage: dsu backup HOST... --user NAME [-o FILE|DIR] [--password-file FILE]\n"
	"                  [--fingerprint FP] [--timeout SEC]\n"
	"Save each unit's configuration export (mode 0600) as DIR/MAC.json (DIR defaults\n"
	"to the current directory; -o FILE for one unit) and record it as the unit's last\n"
	"backup in $XDG_STATE_HOME/realcom/backups.\n";

int dsu_state_path(const char *name, char *out, size_t len)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (xdg && xdg[0] == '/')
		snprintf(out, len, "%s/realcom/%s", xdg, name);
	else if (home && home[0] == '/')
		snprintf(out, len, "%s/.local/state/realcom/%s", home, name);
	else
		return -1;
	return 0;
}

/* "00:90:E8:0A:EA:E0" from the device, upper case; false for anything else. */
bool dsu_backup_mac(const char *in, char out[18])
{
	if (strlen(in) != 17)
		return false;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2 ? in[i] != ':' : !isxdigit((unsigned char)in[i]))
			return false;
		out[i] = (char)toupper((unsigned char)in[i]);
	}
	out[17] = '\0';
	return true;
}

/* text into path through a new file of mode 0600 beside it and a rename. */
static int backup_write(const char *path, const char *text, char *err)
{
	char tmp[DSU_TMP_MAX];
	FILE *out = dsu_file_create(path, 0600, tmp, err);

	if (!out)
		return -1;
	fputs(text, out);
	return dsu_file_commit(path, out, tmp, NULL, err);
}

/* Replace mac's line in the record with "MAC SECONDS PATH", keep the others. */
static int backup_record(const char *mac, time_t when, const char *saved, char *err)
{
	char path[PATH_MAX], line[DSU_BACKUP_PATH_MAX + 64];
	size_t total = 0, len = 0, cap = 4096;
	char *text;
	FILE *in;
	int r;

	if (dsu_state_path("backups", path, sizeof(path)) < 0) {
		snprintf(err, DSU_ERR_MAX, "neither XDG_STATE_HOME nor HOME is set: nowhere to "
			 "record backups");
		return -1;
	}
	if (dsu_mkdirs(path, err) < 0)
		return -1;
	text = malloc(cap);
	if (!text) {
		snprintf(err, DSU_ERR_MAX, "out of memory");
		return -1;
	}
	text[0] = '\0';
	in = fopen(path, "re");
	while (in && total < BACKUP_RECORD_MAX && fgets(line, sizeof(line), in)) {
		size_t n = strlen(line);

		total += n;
		if (strncmp(line, mac, 17) == 0 && line[17] == ' ')
			continue;
		if (len + n + 2 > cap) {
			char *more = realloc(text, cap * 2 + n);

			if (!more)
				break;
			text = more;
			cap = cap * 2 + n;
		}
		memcpy(text + len, line, n);
		len += n;
		if (line[n - 1] != '\n')
			text[len++] = '\n';
		text[len] = '\0';
	}
	if (in)
		fclose(in);
	snprintf(line, sizeof(line), "%s %lld %s\n", mac, (long long)when, saved);
	if (len + strlen(line) + 1 > cap) {
		char *more = realloc(text, len + strlen(line) + 1);

		if (!more) {
			free(text);
			snprintf(err, DSU_ERR_MAX, "out of memory");
			return -1;
		}
		text = more;
	}
	strcpy(text + len, line);
	r = backup_write(path, text, err);
	free(text);
	return r;
}

/* The file for this unit: -o FILE, or DIR/MAC.json; absolute, for the record. */
static int backup_target(const char *out, bool is_dir, const char *mac,
			 char path[DSU_BACKUP_PATH_MAX], char *err)
{
	char name[PATH_MAX], cwd[PATH_MAX];

	if (is_dir) {
		char file[18];

		snprintf(file, sizeof(file), "%s", mac);
		for (char *c = file; *c; c++)
			if (*c == ':')
				*c = '-';
		snprintf(name, sizeof(name), "%s/%s.json", out, file);
	} else {
		snprintf(name, sizeof(name), "%s", out);
	}
	if (name[0] == '/') {
		snprintf(path, DSU_BACKUP_PATH_MAX, "%s", name);
		return 0;
	}
	if (!getcwd(cwd, sizeof(cwd))) {
		snprintf(err, DSU_ERR_MAX, "cannot tell the current directory: %s", strerror(errno));
		return -1;
	}
	snprintf(path, DSU_BACKUP_PATH_MAX, "%s/%s", strcmp(cwd, "/") ? cwd : "", name);
	if (strlen(path) >= PATH_MAX) {
		snprintf(err, DSU_ERR_MAX, "%.100s...: path too long", path);
		return -1;
	}
	return 0;
}

/* The file's text: what dsu knows of the unit, the time, the export as given. */
static char *backup_text(const struct dsu_dev *d, json_object *dev, json_object *config,
			 time_t when)
{
	json_object *o = json_object_new_object(), *unit = json_object_new_object();
	const char *keys[] = { F.name, F.model, F.serial, F.mac, F.firmware };
	char *text;

	json_object_object_add(o, "format", json_object_new_string(BACKUP_FORMAT));
	json_object_object_add(o, "host", json_object_new_string(d->host));
	json_object_object_add(o, "saved_at", json_object_new_int64((int64_t)when));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		json_object_object_add(unit, keys[i], json_object_new_string(json_str(dev, keys[i])));
	json_object_object_add(o, "unit", unit);
	json_object_object_add(o, "config", json_object_get(config));
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

int dsu_backup_save(const struct dsu_dev *d, json_object *dev, json_object *config,
		    const char *out, bool is_dir, char path[DSU_BACKUP_PATH_MAX])
{
	char mac[18], err[DSU_ERR_MAX], *text;
	time_t when = time(NULL);

	if (!dsu_backup_mac(json_str(dev, F.mac), mac)) {
		dsu_fail(d->host, "the unit gives no usable MAC address (\"%.40s\")",
			 json_str(dev, F.mac));
		return -1;
	}
	text = backup_text(d, dev, config, when);
	if (!text || backup_target(out, is_dir, mac, path, err) < 0 ||
	    backup_write(path, text, err) < 0) {
		dsu_fail(d->host, "%s", text ? err : "out of memory");
		free(text);
		return -1;
	}
	free(text);
	if (backup_record(mac, when, path, err) < 0) {
		dsu_fail(d->host, "saved to %s, but not recorded: %s", path, err);
		return -1;
	}
	return 0;
}

/* One unit: 0, or 1 with the reason printed. */
static int backup_one(const char *host, const struct dsu_common *c, const char *out, bool is_dir)
{
	json_object *dev = NULL, *config = NULL;
	char mac[18], path[DSU_BACKUP_PATH_MAX];
	struct dsu_dev d;
	int r = 1, status;

	if (dsu_open(&d, host, c->fingerprint, c->timeout))
		return 1;
	status = dsu_call(&d, API_DEVICE, NULL, &dev);
	if (status != 200) {
		if (status > 0)
			dsu_refused(&d, status, dev, c->user);
		goto out;
	}
	if (!dsu_backup_mac(json_str(dev, F.mac), mac)) {
		dsu_fail(d.host, "the unit gives no usable MAC address (\"%.40s\")",
			 json_str(dev, F.mac));
		goto out;
	}
	if (dsu_needs_setup(&d, dev) || dsu_login(&d, c->user, c->password_file) < 0)
		goto out;
	status = dsu_call(&d, API_CONFIG, NULL, &config);
	if (status > 0 && status != 200) {
		dsu_refused(&d, status, config, c->user);
		goto out;
	}
	if (status < 0)
		goto out;
	if (!json_object_is_type(config, json_type_object)) {
		dsu_fail(d.host, "the answer to GET %s is not a configuration export",
			 api_path(API_CONFIG));
		goto out;
	}
	if (dsu_backup_save(&d, dev, config, out, is_dir, path) < 0)
		goto out;
	printf("%s\t%s\t%s\n", d.host, mac, path);
	r = 0;
out:
	dsu_logout(&d);
	json_object_put(dev);
	json_object_put(config);
	return r;
}

int dsu_backup(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		DSU_COMMON_OPTIONS, { NULL, 0, NULL, 0 },
	};
	struct dsu_common c = { .timeout = 10 };
	const char *out = NULL;
	bool is_dir = true, progress;
	struct stat st;
	int ch, n, failed = 0;

	while ((ch = getopt_long(argc, argv, ":o:u:h", longopts, NULL)) != -1) {
		if (ch == '?' || ch == ':')
			return cli_option_error(ch, argv, longopts);
		if (ch == 'o')
			out = optarg;
		else
			dsu_common_opt(&c, ch, help);
	}
	n = argc - optind;
	if (n < 1)
		return cli_usage_error("missing HOST");
	if (!c.user)
		return cli_usage_error("missing --user NAME: backups need an administrator");
	if (out && strchr(out, '\n'))
		return cli_usage_error("-o: a path with a line break cannot be recorded");
	if (out && stat(out, &st) == 0 && !S_ISDIR(st.st_mode) && n > 1)
		return cli_usage_error("-o %s: with several units, a directory (one file per unit)",
				       out);
	if (out && (stat(out, &st) < 0 || !S_ISDIR(st.st_mode))) {
		if (n > 1)
			return cli_usage_error("-o %s: no such directory", out);
		is_dir = false;
	}
	if (!out)
		out = ".";
	/* several units: which one is being saved, on a terminal only */
	progress = n > 1 && isatty(STDERR_FILENO);
	for (int i = 0; i < n; i++) {
		if (progress)
			fprintf(stderr, "dsu: backup %d of %d: %s\n", i + 1, n, argv[optind + i]);
		failed += backup_one(argv[optind + i], &c, out, is_dir);
	}
	if (failed && n > 1)
		dsu_fail(NULL, "%d of %d units not saved", failed, n);
	return failed ? 1 : 0;
}

json_object *dsu_backup_load(const char *path, char *err)
{
	json_object *o, *config, *settings;
	char *text = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		snprintf(err, DSU_ERR_MAX, "%.400s: %s", path, strerror(errno));
		return NULL;
	}
	text = malloc(BACKUP_FILE_MAX + 1);
	if (text)
		len = fread(text, 1, BACKUP_FILE_MAX + 1, f);
	fclose(f);
	if (!text || len > BACKUP_FILE_MAX) {
		snprintf(err, DSU_ERR_MAX, "%.400s: %s", path, text ? "too large for a backup" :
			 "out of memory");
		free(text);
		return NULL;
	}
	text[len] = '\0';
	o = dsu_reply_parse(text, len);
	free(text);
	if (!o || strcmp(json_str(o, "format"), BACKUP_FORMAT) != 0 ||
	    !json_object_object_get_ex(o, "config", &config) ||
	    !json_object_object_get_ex(config, "settings", &settings) ||
	    !json_object_is_type(settings, json_type_object) || !json_str(config, F.model)[0]) {
		snprintf(err, DSU_ERR_MAX, "%.400s: not a backup made by dsu backup (%s)", path,
			 BACKUP_FORMAT);
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* "MAC SECONDS PATH\n" into its parts; false for anything else. */
static bool backup_line(char *line, char mac[18], int64_t *when, char **path)
{
	char *end;

	line[strcspn(line, "\n")] = '\0';
	if (strlen(line) < 20 || line[17] != ' ')
		return false;
	line[17] = '\0';
	if (!dsu_backup_mac(line, mac) || line[18] < '0' || line[18] > '9')
		return false;
	errno = 0;
	*when = strtoll(line + 18, &end, 10);
	if (errno || *end != ' ' || end[1] != '/')
		return false;
	*path = end + 1;
	return true;
}

int dsu_backup_find(const char *key, char path[DSU_BACKUP_PATH_MAX], char mac[18],
		    int64_t *when, char *err)
{
	char record[PATH_MAX], line[DSU_BACKUP_PATH_MAX + 64], m[18], *p;
	int found = 0;
	int64_t t;
	FILE *in;

	if (dsu_state_path("backups", record, sizeof(record)) < 0) {
		snprintf(err, DSU_ERR_MAX, "neither XDG_STATE_HOME nor HOME is set: no record of "
			 "backups");
		return -1;
	}
	in = fopen(record, "re");
	if (!in) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		snprintf(err, DSU_ERR_MAX, "%.400s: %s", record, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), in)) {
		char why[DSU_ERR_MAX];
		json_object *o;
		struct dsu_dev d;
		bool hit;

		if (!backup_line(line, m, &t, &p) || (found && t <= *when))
			continue;
		o = dsu_backup_load(p, why);
		hit = o && dsu_dev_init(&d, json_str(o, "host"), 1, why) == 0 &&
		      strcmp(d.key, key) == 0;
		json_object_put(o);
		if (hit) {
			snprintf(path, DSU_BACKUP_PATH_MAX, "%s", p);
			memcpy(mac, m, 18);
			*when = t;
			found = 1;
		}
	}
	fclose(in);
	return found;
}
