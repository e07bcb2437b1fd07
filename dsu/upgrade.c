// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dsu upgrade: put a firmware image on units, one after another.  Before
 * anything is sent the image must have the SHA-512 Moxa publishes beside it
 * (--sha512) and name each unit's model on its first line ("MODEL firmware
 * VERSION", docs/device-model.md); the plan is shown and confirmed.  Each
 * unit then gets the image (POST /api/v1/system/firmware), restarts, and
 * must come back within --wait reporting the new version.  The first
 * failure stops the run; the units after it are named as not attempted.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cli.h"
#include "conf.h"
#include "dsu.h"

#define UPGRADE_LINE_MAX	128	/* an image's first line */
#define UPGRADE_VERSION_MAX	31
#define UPGRADE_POLL_MS		500	/* between GET /device while a unit restarts */
#define UPGRADE_HEX		(EVP_MAX_MD_SIZE * 2 + 1)

static const char help[] =
	"Usage: dsu upgrade HOST... IMAGE --sha512 HEX --user NAME [--yes] [--wait SEC]\n"
	"                   [--password-file FILE] [--fingerprint FP] [--timeout SEC]\n"
	"Put the firmware IMAGE on each unit, one after another: refused before anything\n"
	"is sent unless IMAGE has the SHA-512 given (the hash Moxa publishes beside it) and\n"
	"its first line names each unit's model.  Asks on a terminal; --yes goes ahead\n"
	"without one.  Each unit must come back within --wait SEC (default 300) with the\n"
	"new version; the first failure stops the run.\n"
	"Exit status: 0 every unit upgraded, 1 a failure, 2 a usage error.\n";

/* The image: its bytes and what its first line says. */
struct image {
	char *data;
	size_t len;
	char model[UPGRADE_LINE_MAX], version[UPGRADE_VERSION_MAX + 1];
};

/* One unit of the run. */
struct unit {
	const char *host;
	struct dsu_dev d;
	char model[64], firmware[64];
	bool current;			/* runs the image's version already: skipped */
};

static int upgrade_read(const char *path, struct image *im)
{
	struct stat st;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return dsu_fail(NULL, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return dsu_fail(NULL, "%s: not a regular file", path);
	}
	if (st.st_size > API_IMAGE_MAX || st.st_size == 0) {
		close(fd);
		return dsu_fail(NULL, "%s: %lld bytes: an image has 1 byte to %d MiB", path,
				(long long)st.st_size, API_IMAGE_MAX / (1024 * 1024));
	}
	im->data = malloc((size_t)st.st_size);
	while (im->data && got < (size_t)st.st_size) {
		ssize_t n = read(fd, im->data + got, (size_t)st.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!im->data || got != (size_t)st.st_size)
		return dsu_fail(NULL, "%s: cannot read it", path);
	im->len = got;
	return 0;
}

/* SHA-512 of the image in lower-case hex, against --sha512 in either case. */
static int upgrade_check_hash(const char *path, const struct image *im, const char *want)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char hex[UPGRADE_HEX];

	if (!EVP_Digest(im->data, im->len, md, &n, EVP_sha512(), NULL))
		return dsu_fail(NULL, "%s: cannot compute its SHA-512", path);
	for (unsigned int i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (strcasecmp(hex, want) != 0)
		return dsu_fail(NULL, "%s: its SHA-512 is not the one given: nothing sent\n"
				"  given (--sha512): %s\n  the image's:      %s\n"
				"A damaged download or another image: fetch it again and compare "
				"with the hash Moxa publishes beside it.", path, want, hex);
	return 0;
}

/* "MODEL firmware VERSION" on the first line, as the units read it. */
static int upgrade_parse(const char *path, struct image *im)
{
	const char *nl = memchr(im->data, '\n', im->len < UPGRADE_LINE_MAX ? im->len
									  : UPGRADE_LINE_MAX);
	char line[UPGRADE_LINE_MAX], *sep;
	size_t n = nl ? (size_t)(nl - im->data) : 0;

	if (n && im->data[n - 1] == '\r')
		n--;
	memcpy(line, im->data, n);
	line[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!isprint((unsigned char)line[i]))
			n = 0;
	sep = n ? strstr(line, " firmware ") : NULL;
	if (!sep || sep == line || strlen(sep + 10) == 0 ||
	    strlen(sep + 10) > UPGRADE_VERSION_MAX || strchr(sep + 10, ' '))
		return dsu_fail(NULL, "%s: not a firmware image: its first line is not \"MODEL "
				"firmware VERSION\"", path);
	snprintf(im->version, sizeof(im->version), "%s", sep + 10);
	*sep = '\0';
	snprintf(im->model, sizeof(im->model), "%s", line);
	return 0;
}

/* GET /device: the unit's model and version, and that it is set up; 0 or 1. */
static int upgrade_survey(struct unit *u, const struct dsu_common *c, const struct image *im)
{
	json_object *dev = NULL;
	int status, r = 1;

	if (dsu_open(&u->d, u->host, c->fingerprint, c->timeout))
		return 1;
	status = dsu_call(&u->d, API_DEVICE, NULL, &dev);
	if (status != 200) {
		if (status > 0)
			dsu_refused(&u->d, status, dev, c->user);
		goto out;
	}
	if (dsu_needs_setup(&u->d, dev))
		goto out;
	snprintf(u->model, sizeof(u->model), "%s", json_str(dev, F.model));
	snprintf(u->firmware, sizeof(u->firmware), "%s", json_str(dev, F.firmware));
	if (strcmp(u->model, im->model) != 0) {
		dsu_fail(u->d.host, "the image is for %s, this unit is %s: refused, nothing sent",
			 im->model, u->model[0] ? u->model : "of an unknown model");
		goto out;
	}
	u->current = strcmp(u->firmware, im->version) == 0;
	r = 0;
out:
	json_object_put(dev);
	return r;
}

/* One line on the terminal, rewritten as the image goes out. */
struct progress {
	const char *host;
	bool tty;			/* shown on stderr */
	int shown;			/* percent, -1: nothing yet */
	size_t sent;			/* bytes of the image out so far */
};

static void upgrade_progress(void *arg, size_t sent, size_t total)
{
	struct progress *p = arg;
	int pct = total ? (int)(sent * 100 / total) : 100;

	p->sent = sent;
	if (!p->tty || pct == p->shown)
		return;
	p->shown = pct;
	fprintf(stderr, "\rdsu: %s: sending the image: %3d%% of %zu KiB", p->host, pct,
		(total + 1023) / 1024);
	fflush(stderr);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Poll GET /device until the unit reports the new version (never its old
 * one: upgrade_survey() skips a unit that runs it), within wait_s.  A unit
 * that went away (no answer, 503) and is back with another version has
 * failed the upgrade; one that never seemed to go away is given until the
 * deadline.  0 or 1 (printed).
 */
static int upgrade_wait(struct unit *u, const struct image *im, unsigned int wait_s,
			unsigned int timeout)
{
	uint64_t deadline = now_ms() + (uint64_t)wait_s * 1000;
	bool away = false, tty = isatty(STDERR_FILENO);
	char err[DSU_ERR_MAX], last[DSU_ERR_MAX] = "no answer yet";

	if (tty)
		fprintf(stderr, "dsu: %s: restarting; waiting up to %u s\n", u->d.host, wait_s);
	for (;;) {
		uint64_t now = now_ms(), left;
		json_object *dev = NULL;
		int status;

		if (now >= deadline)
			break;
		left = (deadline - now + 999) / 1000;
		u->d.timeout = left < timeout ? (unsigned int)left : timeout;
		status = api_call(&u->d, API_DEVICE, NULL, &dev, err);
		if (status == 200) {
			const char *fw = json_str(dev, F.firmware);

			if (strcmp(fw, im->version) == 0) {
				printf("%s: firmware %s -> %s\n", u->d.host, u->firmware, fw);
				json_object_put(dev);
				return 0;
			}
			if (away) {
				dsu_fail(u->d.host, "came back with firmware %.40s, not %s: the upgrade "
					 "did not take", fw[0] ? fw : "(none reported)", im->version);
				json_object_put(dev);
				return 1;
			}
			snprintf(last, sizeof(last), "still firmware %.40s", fw);
		} else if (status > 0) {
			away = away || status == 503;
			snprintf(last, sizeof(last), "GET %s: %d %s", api_path(API_DEVICE), status,
				 api_status_text(status));
		} else {
			away = away || !u->d.mismatch;
			snprintf(last, sizeof(last), "%s", err);
			if (u->d.mismatch) {
				/* another certificate: not ours to accept here */
				json_object_put(dev);
				return dsu_fail(u->d.host, "%s", err);
			}
		}
		json_object_put(dev);
		now = now_ms();
		if (now + UPGRADE_POLL_MS >= deadline)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = UPGRADE_POLL_MS * 1000000L }, NULL);
	}
	return dsu_fail(u->d.host, "not back with firmware %s within %u s (%s)", im->version,
			wait_s, last);
}

/* Log in, send the image, wait for the unit: 0 or 1 (printed). */
static int upgrade_one(struct unit *u, const struct dsu_common *c, const char *password,
		       const struct image *im, unsigned int wait_s)
{
	struct progress p = { .host = u->d.host, .tty = isatty(STDERR_FILENO), .shown = -1 };
	json_object *reply = NULL;
	char err[DSU_ERR_MAX];
	int status;

	if (dsu_login_with(&u->d, c->user, password, err) < 0)
		return dsu_fail(u->d.host, "%s", err);
	status = api_upload(&u->d, API_FIRMWARE, im->data, im->len, upgrade_progress, &p, &reply,
			    err);
	if (p.tty && p.shown >= 0)
		fputc('\n', stderr);
	if (status < 0) {
		dsu_logout(&u->d);
		if (p.sent < im->len)
			return dsu_fail(u->d.host, "the image broke off after %zu of %zu KiB (%s): "
					"the unit cannot have taken it and keeps firmware %s",
					p.sent / 1024, (im->len + 1023) / 1024, err, u->firmware);
		return dsu_fail(u->d.host, "the image went out but no answer came (%s): the unit "
				"may be restarting with it; see  dsu info %s", err, u->d.host);
	}
	if (status != 202 && status != 200) {
		if (status == 422) {
			api_error_text(reply, err, sizeof(err));
			dsu_fail(u->d.host, "the unit refused the image: %s", err);
		} else {
			dsu_refused(&u->d, status, reply, c->user);
		}
		json_object_put(reply);
		dsu_logout(&u->d);
		return 1;
	}
	json_object_put(reply);
	/* the unit ends every session as it restarts: nothing to log out of */
	secret_wipe(u->d.token, sizeof(u->d.token));
	return upgrade_wait(u, im, wait_s, c->timeout);
}

/* "WHAT; not attempted: A, B" for units from .. n-1. */
static void upgrade_not_attempted(const char *what, const struct unit *units, int from, int n)
{
	char list[1024] = "";

	if (from >= n)
		return;
	for (int i = from; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 i > from ? ", " : "", units[i].host);
	dsu_fail(NULL, "%s; not attempted: %s", what, list);
}

int dsu_upgrade(int argc, char **argv)
{
	enum { O_SHA512 = O_FIRST_OPT, O_YES, O_WAIT };
	static const struct option longopts[] = {
		{ "sha512", required_argument, NULL, O_SHA512 },
		{ "yes", no_argument, NULL, O_YES },
		{ "wait", required_argument, NULL, O_WAIT },
		DSU_COMMON_OPTIONS, { NULL, 0, NULL, 0 },
	};
	struct dsu_common c = { .timeout = 10 };
	const char *sha512 = NULL, *path;
	char pw[DSU_PASSWORD_MAX], err[DSU_ERR_MAX], why[128];
	unsigned int wait_s = 300;
	struct image im = { 0 };
	struct unit *units = NULL;
	bool yes = false;
	int ch, n, r = 1, done = 0, todo = 0;

	while ((ch = getopt_long(argc, argv, ":u:h", longopts, NULL)) != -1) {
		switch (ch) {
		case O_SHA512:
			sha512 = optarg;
			break;
		case O_YES:
			yes = true;
			break;
		case O_WAIT:
			if (conf_parse_uint(optarg, 1, 3600, &wait_s, why, sizeof(why)) < 0)
				return cli_usage_error("--wait '%s': expected 1 to 3600 seconds",
						       optarg);
			break;
		case '?':
		case ':':
			return cli_option_error(ch, argv, longopts);
		default:
			dsu_common_opt(&c, ch, help);
		}
	}
	n = argc - optind - 1;
	if (n < 1)
		return cli_usage_error(n < 0 ? "missing HOST and IMAGE" : "missing IMAGE (after "
				       "the hosts)");
	if (!sha512)
		return cli_usage_error("missing --sha512 HEX: the hash Moxa publishes beside the "
				       "image");
	if (strlen(sha512) != 128 || strspn(sha512, "0123456789abcdefABCDEF") != 128)
		return cli_usage_error("--sha512: expected 128 hexadecimal digits");
	if (!c.user)
		return cli_usage_error("missing --user NAME: upgrades need an administrator");
	path = argv[argc - 1];

	/* nothing goes out before the image is the one published, and for these units */
	if (upgrade_read(path, &im) || upgrade_check_hash(path, &im, sha512) ||
	    upgrade_parse(path, &im))
		goto out;
	units = calloc((size_t)n, sizeof(*units));
	if (!units) {
		dsu_fail(NULL, "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++)
		units[i].host = argv[optind + i];
	for (int i = 0; i < n; i++) {
		if (upgrade_survey(&units[i], &c, &im)) {
			upgrade_not_attempted("stopped before sending anything", units, 0, n);
			goto out;
		}
	}
	printf("Upgrading to %s firmware %s:\n", im.model, im.version);
	for (int i = 0; i < n; i++) {
		if (units[i].current)
			printf("  %s: %s firmware %s already: skipped\n", units[i].d.host,
			       units[i].model, units[i].firmware);
		else
			printf("  %s: %s firmware %s -> %s\n", units[i].d.host, units[i].model,
			       units[i].firmware[0] ? units[i].firmware : "?", im.version);
		todo += !units[i].current;
	}
	fflush(stdout);
	if (!todo) {
		r = 0;
		goto out;
	}
	if (!yes) {
		char question[64];

		snprintf(question, sizeof(question), "Upgrade %d unit%s?", todo, todo == 1 ? "" : "s");
		if (!dsu_confirm(question, todo == 1 ? "upgrade it" : "upgrade them", "nothing sent"))
			goto out;
	}
	if (secret_get(c.password_file, false, pw, err) < 0) {
		dsu_fail(NULL, "%s", err);
		goto out;
	}
	for (done = 0; done < n; done++) {
		if (units[done].current)
			continue;
		if (todo > 1 && isatty(STDERR_FILENO))
			fprintf(stderr, "dsu: upgrading %s\n", units[done].host);
		if (upgrade_one(&units[done], &c, pw, &im, wait_s))
			break;
	}
	secret_wipe(pw, sizeof(pw));
	if (done < n) {
		upgrade_not_attempted("stopped", units, done + 1, n);
		goto out;
	}
	r = 0;
out:
	free(units);
	free(im.data);
	return r;
}
