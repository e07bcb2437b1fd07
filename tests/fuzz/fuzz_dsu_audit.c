// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for dsu audit (dsu/audit.c) against a hostile unit: every
 * answer the audit asks for comes from the input, through the same parser
 * as a real answer (dsu_reply_parse, as api.c does), and the whole command
 * runs: `dsu audit --user fuzz --json --junit FILE unit`.  Traps when the
 * exit status is not 0, 1 or 2, or when the JUnit file holds a byte that
 * is neither printable ASCII nor a line break (a unit's words must not
 * reach a CI dashboard raw).
 *
 * Input: answers separated by NUL bytes, one per API call in the order of
 * enum api_call (dsu/dsu.h); an answer that starts with three digits and a
 * space has that HTTP status, else 200.  A missing answer is a 404.
 *
 * The calls to the unit are the only thing replaced (-Wl,--wrap=api_call);
 * login, trust and host state are stubs: no file is read or written but the
 * JUnit file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsu.h"
#include "fuzz.h"

int __wrap_api_call(struct dsu_dev *d, enum api_call call, json_object *body,
		    json_object **reply, char *err);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const uint8_t *input;
static size_t input_len;
static char junit[64];

int __wrap_api_call(struct dsu_dev *d, enum api_call call, json_object *body,
		    json_object **reply, char *err)
{
	const uint8_t *p = input, *end = input + input_len;
	int status = 200;
	size_t len;

	d->call = call;
	*reply = NULL;
	for (unsigned int i = 0; i < (unsigned int)call; i++) {
		const uint8_t *nul = memchr(p, '\0', (size_t)(end - p));

		if (!nul)
			return 404;
		p = nul + 1;
	}
	len = (size_t)((const uint8_t *)(memchr(p, '\0', (size_t)(end - p)) ?: end) - p);
	if (len >= 4 && p[0] >= '1' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' &&
	    p[2] >= '0' && p[2] <= '9' && p[3] == ' ') {
		status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		p += 4;
		len -= 4;
	}
	if (len) {
		char *text = malloc(len + 1);	/* NUL-terminated, as api.c reads it */

		if (!text)
			return 500;
		memcpy(text, p, len);
		text[len] = '\0';
		*reply = dsu_reply_parse(text, len);
		free(text);
		if (!*reply && status < 300) {
			snprintf(err, DSU_ERR_MAX, "HTTP %d with an answer that is not JSON", status);
			return -1;
		}
	}
	return status;
}

/* ---- what dsu.c, known.c and backup.c would do: nothing outside ---- */

void dsu_common_opt(struct dsu_common *o, int c, const char *cmd_usage)
{
	if (c == 'u')
		o->user = optarg;
	else if (c == O_JSON)
		o->json = true;
	else
		CHECK(0);
}

int dsu_fail(const char *host, const char *fmt, ...)
{
	return 1;
}

int dsu_login_with(struct dsu_dev *d, const char *user, const char *password, char *err)
{
	return 0;
}

void dsu_logout(struct dsu_dev *d)
{
}

void dsu_refused_text(const struct dsu_dev *d, int status, json_object *reply, const char *user,
		      char *out, size_t len)
{
	snprintf(out, len, "HTTP %d", status);
}

int dsu_trust(struct dsu_dev *d, const char *fingerprint, char *err)
{
	return 0;
}

int dsu_trust_commit(struct dsu_dev *d, char *err)
{
	return 0;
}

int known_lookup_in(const char *path, const char *key, uint8_t fp[TLS_FP_LEN], char *err)
{
	return 0;
}

int known_store_in(const char *path, const char *header, const char *key,
		   const uint8_t fp[TLS_FP_LEN], char *err)
{
	return 0;
}

int dsu_state_path(const char *name, char *out, size_t len)
{
	return -1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(junit, sizeof(junit), "/tmp/fuzz-dsu-audit-%d.xml", (int)getpid());
	setenv("DSU_PASSWORD", "fuzz", 1);
	if (!freopen("/dev/null", "w", stdout))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *args[] = { "audit", "--user", "fuzz", "--json", "--junit", junit, "unit", NULL };
	char buf[4096];
	size_t n;
	FILE *f;
	int r;

	input = data;
	input_len = size;
	optind = 0;
	r = dsu_audit(7, args);
	CHECK(r >= 0 && r <= 2);
	f = fopen(junit, "r");
	if (!f)
		return 0;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		for (size_t i = 0; i < n; i++)
			CHECK((buf[i] >= 0x20 && buf[i] < 0x7f) || buf[i] == '\n');
	fclose(f);
	unlink(junit);
	return 0;
}
