// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Trust on first use: the SHA-256 fingerprint each device showed the first
 * time, one "HOST sha256:AB:..." line per device in known_devices (mode
 * 0600, like ssh's known_hosts).  A changed certificate is refused until the
 * user confirms the new one with --fingerprint.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsu.h"

#define KNOWN_LINE_MAX	512
#define KNOWN_MAX_BYTES	(1024 * 1024)

int known_path(char *out, size_t len, char *err)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (xdg && xdg[0] == '/')
		snprintf(out, len, "%s/realcom/known_devices", xdg);
	else if (home && home[0] == '/')
		snprintf(out, len, "%s/.config/realcom/known_devices", home);
	else {
		snprintf(err, DSU_ERR_MAX, "neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep "
			 "device fingerprints");
		return -1;
	}
	return 0;
}

/* Split a line into key and fingerprint; false for comments and junk. */
static bool known_parse(char *line, char **key, uint8_t fp[TLS_FP_LEN])
{
	char *sp;

	line[strcspn(line, "\r\n")] = '\0';
	if (line[0] == '#' || line[0] == '\0')
		return false;
	sp = strchr(line, ' ');
	if (!sp)
		return false;
	*sp = '\0';
	*key = line;
	return tls_fingerprint_parse(sp + 1, fp) == 0;
}

int known_lookup(const char *key, uint8_t fp[TLS_FP_LEN], char *err)
{
	char path[4096];

	if (known_path(path, sizeof(path), err) < 0)
		return -1;
	return known_lookup_in(path, key, fp, err);
}

int known_lookup_in(const char *path, const char *key, uint8_t fp[TLS_FP_LEN], char *err)
{
	char line[KNOWN_LINE_MAX], *k;
	int found = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, DSU_ERR_MAX, "%.400s: %s", path, strerror(errno));
		return -1;
	}
	for (int n = 0; n < 100000 && fgets(line, sizeof(line), f); n++) {
		if (known_parse(line, &k, fp) && strcmp(k, key) == 0) {
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

int known_endpoint(const char *host, char *out, size_t len)
{
	char path[4096], err[DSU_ERR_MAX], line[KNOWN_LINE_MAX], name[DSU_HOST_MAX + 2], *k;
	uint8_t fp[TLS_FP_LEN];
	size_t n;
	int found = 0;
	FILE *f;

	/* keys are as dsu_dev_init() makes them: an IPv6 address in brackets */
	snprintf(name, sizeof(name), strchr(host, ':') ? "[%s]" : "%s", host);
	n = strlen(name);
	if (known_path(path, sizeof(path), err) < 0 || !(f = fopen(path, "re")))
		return 0;
	for (int i = 0; i < 100000 && found < 2 && fgets(line, sizeof(line), f); i++) {
		if (!known_parse(line, &k, fp) || strncmp(k, name, n) || (k[n] && k[n] != ':'))
			continue;
		/* the default port wins over another one */
		if (!found || !k[n])
			snprintf(out, len, "%s", k);
		found = k[n] ? 1 : 2;
	}
	fclose(f);
	return found > 0;
}

int dsu_mkdirs(char *path, char *err)
{
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			snprintf(err, DSU_ERR_MAX, "cannot create %.400s: %s", path, strerror(errno));
			*s = '/';
			return -1;
		}
		*s = '/';
	}
	return 0;
}

FILE *dsu_file_create(const char *path, mode_t mode, char tmp[DSU_TMP_MAX], char *err)
{
	FILE *out = NULL;
	int fd;

	snprintf(tmp, DSU_TMP_MAX, "%s.dsu-%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0 || !(out = fdopen(fd, "w"))) {
		snprintf(err, DSU_ERR_MAX, "cannot write next to %.400s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	return out;
}

int dsu_file_commit(const char *path, FILE *out, const char *tmp,
		    int (*check)(const char *tmp, const char *path, char *err), char *err)
{
	bool written = !ferror(out) && fflush(out) == 0 && fsync(fileno(out)) == 0;

	if (fclose(out) != 0 || !written) {
		snprintf(err, DSU_ERR_MAX, "cannot write %.400s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (check && check(tmp, path, err) < 0) {
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		snprintf(err, DSU_ERR_MAX, "cannot replace %.400s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int known_store(const char *key, const uint8_t fp[TLS_FP_LEN], char *err)
{
	char path[4096];

	if (known_path(path, sizeof(path), err) < 0)
		return -1;
	return known_store_in(path, "# dsu(1): device certificate fingerprints, trusted on first "
			      "use\n", key, fp, err);
}

int known_store_in(const char *path_in, const char *header, const char *key,
		   const uint8_t fp[TLS_FP_LEN], char *err)
{
	char path[4096], tmp[DSU_TMP_MAX], line[KNOWN_LINE_MAX], copy[KNOWN_LINE_MAX];
	char fps[TLS_FP_STRLEN];
	uint8_t old[TLS_FP_LEN];
	size_t total = 0;
	FILE *in, *out;
	char *k;

	snprintf(path, sizeof(path), "%s", path_in);
	if (dsu_mkdirs(path, err) < 0 || !(out = dsu_file_create(path, 0600, tmp, err)))
		return -1;
	/* every other line as it was, then this device's */
	in = fopen(path, "re");
	while (in && total < KNOWN_MAX_BYTES && fgets(line, sizeof(line), in)) {
		total += strlen(line);
		memcpy(copy, line, sizeof(line));
		if (known_parse(copy, &k, old) && strcmp(k, key) == 0)
			continue;
		fputs(line, out);
		if (!strchr(line, '\n'))
			fputc('\n', out);
	}
	if (in)
		fclose(in);
	else
		fputs(header, out);
	tls_fingerprint_format(fp, fps);
	fprintf(out, "%s %s\n", key, fps);
	return dsu_file_commit(path, out, tmp, NULL, err);
}

int dsu_trust(struct dsu_dev *d, const char *fingerprint, char *err)
{
	int r;

	if (fingerprint) {
		if (tls_fingerprint_parse(fingerprint, d->pin) < 0) {
			snprintf(err, DSU_ERR_MAX, "--fingerprint '%s': expected sha256:AB:CD:... "
				 "(32 bytes in hex)", fingerprint);
			return -1;
		}
		d->pinned = true;
		return 0;
	}
	r = known_lookup(d->key, d->pin, err);
	if (r < 0)
		return -1;
	d->pinned = r == 1;
	return 0;
}

int dsu_trust_commit(struct dsu_dev *d, char *err)
{
	uint8_t known[TLS_FP_LEN];
	char fps[TLS_FP_STRLEN], path[4096];
	int r;

	if (!d->seen_set)
		return 0;
	r = known_lookup(d->key, known, err);
	if (r < 0)
		return -1;
	if (r == 1 && memcmp(known, d->seen, TLS_FP_LEN) == 0)
		return 0;
	if (known_store(d->key, d->seen, err) < 0)
		return -1;
	tls_fingerprint_format(d->seen, fps);
	known_path(path, sizeof(path), err);
	fprintf(stderr, "dsu: %s: certificate %s\ndsu: %s: %s in %s\n", d->key, fps, d->key,
		r == 1 ? "confirmed: replaced the old pin" : "pinned on first use", path);
	memcpy(d->pin, d->seen, TLS_FP_LEN);
	d->pinned = true;
	return 0;
}
