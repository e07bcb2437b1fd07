// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for common/conf.c: the input is a whole configuration
 * file, loaded against a schema shaped like realcom.conf (every key type
 * but CONF_FILE, which would open whatever path the input names).
 * Checked: the answer is 0 with no message or -1 with one, it fits its
 * buffer, and every line of it names the file.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"

struct f_port {
	bool used;
	char host[64];
	unsigned int port;
	int protocol;
	bool verify;
};

struct f_conf {
	int backend;
	char dir[32];
	struct f_port tty[16];
};

static const char *const backends[] = { "auto", "kernel", "pty", NULL };
static const char *const protocols[] = { "realcom", "rfc2217", NULL };

static int parse_even(const char *value, void *field, char *why, size_t whylen)
{
	if (strlen(value) % 2 == 0)
		return 0;
	snprintf(why, whylen, "odd");
	return -1;
}

static const struct conf_key global_keys[] = {
	{ "backend", CONF_ENUM, .offset = offsetof(struct f_conf, backend), .names = backends },
	{ "pty_dir", CONF_STRING, .offset = offsetof(struct f_conf, dir),
	  .size = sizeof(((struct f_conf *)0)->dir) },
	{ 0 },
};

static const struct conf_key port_keys[] = {
	{ "host", CONF_STRING, .required = true, .offset = offsetof(struct f_port, host),
	  .size = sizeof(((struct f_port *)0)->host) },
	{ "port", CONF_UINT, .offset = offsetof(struct f_port, port), .min = 1, .max = 32 },
	{ "protocol", CONF_ENUM, .offset = offsetof(struct f_port, protocol), .names = protocols },
	{ "tls_verify", CONF_BOOL, .offset = offsetof(struct f_port, verify) },
	{ "even", CONF_CUSTOM, .parse = parse_even },
	{ 0 },
};

static void *open_global(void *ctx, unsigned int number, char *why, size_t whylen)
{
	return ctx;
}

static void *open_port(void *ctx, unsigned int number, char *why, size_t whylen)
{
	struct f_port *p = &((struct f_conf *)ctx)->tty[number];

	p->used = true;
	return p;
}

static int close_port(void *ctx, void *obj, uint64_t seen, char *why, size_t whylen)
{
	struct f_port *p = obj;

	if (p->protocol == 1 && p->port > 16) {
		snprintf(why, whylen, "rfc2217 needs port <= 16");
		return -1;
	}
	return 0;
}

static const struct conf_section sections[] = {
	{ "global", .keys = global_keys, .open = open_global },
	{ "ttyR", .numbered = true, .max_number = 15, .keys = port_keys, .open = open_port,
	  .close = close_port },
	{ 0 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char err[CONF_ERR_MAX + 1];
	struct f_conf c = { 0 };
	FILE *f = size ? fmemopen((void *)data, size, "r") : fopen("/dev/null", "r");
	int r;

	if (!f)
		return 0;
	err[CONF_ERR_MAX] = 'X';	/* never written */
	r = conf_load_file(f, "f", sections, &c, err);
	fclose(f);
	CHECK(err[CONF_ERR_MAX] == 'X');
	CHECK(strnlen(err, CONF_ERR_MAX) < CONF_ERR_MAX);
	CHECK((r == 0) == (err[0] == '\0'));
	CHECK(r == 0 || r == -1);
	for (const char *p = err; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "")
		CHECK(strncmp(p, "f:", 2) == 0);
	return 0;
}
