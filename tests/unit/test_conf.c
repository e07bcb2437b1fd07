// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for table-driven INI loading (common/conf.c), with a schema
 * shaped like realcom.conf. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "tls.h"

struct t_global {
	int backend;
	char pty_dir[64];
};

struct t_port {
	bool used;
	char host[32];
	unsigned int port;
	int protocol;
	bool verify;
	uint8_t fp[TLS_FP_LEN];
	unsigned int keepalive;
	char ca[64];
	uint64_t seen;
};

struct t_conf {
	struct t_global global;
	struct t_port tty[8];
};

static const char *const backends[] = { "auto", "kernel", "pty", NULL };
static const char *const protocols[] = { "realcom", "rfc2217", NULL };

static int parse_fp(const char *value, void *field, char *why, size_t whylen)
{
	if (tls_fingerprint_parse(value, field) == 0)
		return 0;
	snprintf(why, whylen, "expected sha256: and 32 hex bytes");
	return -1;
}

static const struct conf_key global_keys[] = {
	{ "backend", CONF_ENUM, .offset = offsetof(struct t_global, backend), .names = backends },
	{ "pty_dir", CONF_STRING, .offset = offsetof(struct t_global, pty_dir),
	  .size = sizeof(((struct t_global *)0)->pty_dir) },
	{ 0 },
};

static const struct conf_key port_keys[] = {
	{ "host", CONF_STRING, .required = true, .offset = offsetof(struct t_port, host),
	  .size = sizeof(((struct t_port *)0)->host) },
	{ "port", CONF_UINT, .required = true, .offset = offsetof(struct t_port, port), .min = 1,
	  .max = 32 },
	{ "protocol", CONF_ENUM, .offset = offsetof(struct t_port, protocol), .names = protocols },
	{ "tls_verify", CONF_BOOL, .offset = offsetof(struct t_port, verify) },
	{ "tls_fingerprint", CONF_CUSTOM, .offset = offsetof(struct t_port, fp), .parse = parse_fp },
	{ "keepalive", CONF_UINT, .offset = offsetof(struct t_port, keepalive), .min = 1, .max = 3600 },
	{ "ca", CONF_FILE, .offset = offsetof(struct t_port, ca),
	  .size = sizeof(((struct t_port *)0)->ca) },
	{ 0 },
};

static void *open_global(void *ctx, unsigned int number, char *why, size_t whylen)
{
	return &((struct t_conf *)ctx)->global;
}

static void *open_port(void *ctx, unsigned int number, char *why, size_t whylen)
{
	struct t_port *p = &((struct t_conf *)ctx)->tty[number];

	if (p->used) {
		snprintf(why, whylen, "appears twice");
		return NULL;
	}
	p->used = true;
	p->verify = true;
	p->keepalive = 10;
	return p;
}

static int close_port(void *ctx, void *obj, uint64_t seen, char *why, size_t whylen)
{
	struct t_port *p = obj;

	p->seen = seen;
	if (p->protocol == 1 && p->port > 16) {
		snprintf(why, whylen, "rfc2217 needs port <= 16 in this test schema");
		return -1;
	}
	return 0;
}

static const struct conf_section sections[] = {
	{ "global", .keys = global_keys, .open = open_global },
	{ "ttyR", .numbered = true, .max_number = 7, .keys = port_keys, .open = open_port,
	  .close = close_port },
	{ 0 },
};

/* text of len bytes, NULs and all */
static int load_n(const char *text, size_t len, struct t_conf *c, char err[CONF_ERR_MAX])
{
	FILE *f = fmemopen((void *)text, len, "r");
	int r;

	assert_non_null(f);
	memset(c, 0, sizeof(*c));
	r = conf_load_file(f, "test.conf", sections, c, err);
	fclose(f);
	return r;
}

static int load(const char *text, struct t_conf *c, char err[CONF_ERR_MAX])
{
	return load_n(text, strlen(text), c, err);
}

static void test_valid(void **state)
{
	struct t_conf c;
	char err[CONF_ERR_MAX];
	const char *text =
		"; realcom.conf\n"
		"# another comment style\n"
		"[global]\n"
		"backend = pty          ; inline comment\n"
		"pty_dir=/run/realcom\n"
		"\n"
		"[ttyR0]\n"
		"host = 192.0.2.10\n"
		"port = 1\n"
		"\n"
		"[ttyR7]\n"
		"host = ::1\n"
		"port = 32\n"
		"protocol = rfc2217\n"
		"tls_verify = off\n"
		"tls_fingerprint = sha256:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
		"00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff\n"
		"keepalive = 3600\n";

	/* rfc2217 with port 32 fails this schema's close check: fix the port first */
	assert_int_equal(load(text, &c, err), -1);
	assert_string_equal(err, "test.conf:11: [ttyR7]: rfc2217 needs port <= 16 in this test schema");

	char *fixed = strdup(text);
	memcpy(strstr(fixed, "port = 32"), "port = 16", 9);
	assert_int_equal(load(fixed, &c, err), 0);
	free(fixed);
	assert_string_equal(err, "");
	assert_int_equal(c.global.backend, 2);
	assert_string_equal(c.global.pty_dir, "/run/realcom");
	assert_true(c.tty[0].used);
	assert_string_equal(c.tty[0].host, "192.0.2.10");
	assert_int_equal(c.tty[0].port, 1);
	assert_int_equal(c.tty[0].protocol, 0);
	assert_true(c.tty[0].verify);
	assert_int_equal(c.tty[0].keepalive, 10);
	assert_int_equal(c.tty[0].seen, 0x3);
	assert_false(c.tty[1].used);
	assert_string_equal(c.tty[7].host, "::1");
	assert_int_equal(c.tty[7].protocol, 1);
	assert_false(c.tty[7].verify);
	assert_int_equal(c.tty[7].fp[10], 0xAA);
	assert_int_equal(c.tty[7].fp[31], 0xFF);
	assert_int_equal(c.tty[7].keepalive, 3600);
	assert_int_equal(c.tty[7].seen, 0x3f);
}

static void expect_error_n(const char *text, size_t len, const char *want)
{
	struct t_conf c;
	char err[CONF_ERR_MAX];

	assert_int_equal(load_n(text, len, &c, err), -1);
	assert_string_equal(err, want);
}

static void expect_error(const char *text, const char *want)
{
	expect_error_n(text, strlen(text), want);
}

static void test_errors(void **state)
{
	expect_error("[global]\nbakend = pty\n",
		     "test.conf:2: [global]: unknown key 'bakend' (did you mean 'backend'?)");
	expect_error("[global]\nbackend = maybe\n",
		     "test.conf:2: [global]: backend = 'maybe': expected one of auto, kernel, pty");
	expect_error("[ttyR0]\nhost = a\nport = 33\n",
		     "test.conf:3: [ttyR0]: port = '33': expected a whole number from 1 to 32");
	expect_error("[ttyR0]\nhost = a\nport = -1\n",
		     "test.conf:3: [ttyR0]: port = '-1': expected a whole number from 1 to 32");
	expect_error("[ttyR0]\nhost = a\nport = 1x\n",
		     "test.conf:3: [ttyR0]: port = '1x': expected a whole number from 1 to 32");
	expect_error("[ttyR0]\nhost = a\nport = 99999999999999999999\n",
		     "test.conf:3: [ttyR0]: port = '99999999999999999999': "
		     "expected a whole number from 1 to 32");
	expect_error("[ttyR0]\nhost = a\nport = 1\ntls_verify = perhaps\n",
		     "test.conf:4: [ttyR0]: tls_verify = 'perhaps': expected one of off, on, no, "
		     "yes, false, true, 0, 1");
	expect_error("[ttyR0]\nhost = a\nport = 1\ntls_fingerprint = sha256:00\n",
		     "test.conf:4: [ttyR0]: tls_fingerprint = 'sha256:00': "
		     "expected sha256: and 32 hex bytes");
	expect_error("[ttyR0]\nhost = 0123456789012345678901234567890123456789\nport = 1\n",
		     "test.conf:2: [ttyR0]: host = '0123456789012345678901234567890123456789': "
		     "longer than 31 characters");
	expect_error("[ttyR0]\nhost = a\nport = 1\n\n[ttyR0]\nhost = b\nport = 2\n",
		     "test.conf:5: [ttyR0]: appears twice (first on line 1)");
	expect_error("[ttyR0]\nhost = a\nport = 1\nhost = b\n",
		     "test.conf:4: [ttyR0]: key 'host' given twice (first on line 2)");
	expect_error("[ttyR0]\nport = 1\n[global]\n", "test.conf:1: [ttyR0]: missing key 'host'");
	expect_error("[global]\n[ttyR3]\n", "test.conf:2: [ttyR3]: missing key 'host'\n"
		     "test.conf:2: [ttyR3]: missing key 'port'");
	expect_error("[serial]\nhost = a\n", "test.conf:1: unknown section [serial]");
	expect_error("[ttyR8]\n", "test.conf:1: [ttyR8]: the number after 'ttyR' must be 0 to 7");
	expect_error("[ttyR01]\n", "test.conf:1: [ttyR01]: the number after 'ttyR' must be 0 to 7");
	expect_error("[ttyRx]\n", "test.conf:1: [ttyRx]: the number after 'ttyR' must be 0 to 7");
	expect_error("[ttyR]\n", "test.conf:1: unknown section [ttyR] (did you mean [ttyRN]?)");
	expect_error("host = a\n", "test.conf:1: key 'host' outside any section");
	expect_error("[global]\nbackend pty\n",
		     "test.conf:2: expected 'key = value' or '[section]'");
	expect_error("[global\n", "test.conf:1: section header without ']'");
	/* libinih ignores what follows ']': not here */
	expect_error("[global] backend = pty\n",
		     "test.conf:1: text after the section header: 'backend = pty'");
	/* a continuation line is not a second value for the previous key */
	expect_error("[global]\nbackend = pty\n  kernel\n",
		     "test.conf:3: expected 'key = value' or '[section]'");
}

/* NUL bytes, other control bytes and what is not UTF-8 are refused, each
 * line on its own; UTF-8 text, tabs, CRLF and a byte order mark are fine. */
static void test_not_text(void **state)
{
	static const char nuls[8] = { 0 };
	struct t_conf c;
	char err[CONF_ERR_MAX];

	expect_error_n(nuls, sizeof(nuls), "test.conf:1: not text: a NUL byte at column 1");
	expect_error_n("[global]\nbackend = p\0ty\n", 23,
		       "test.conf:2: not text: a NUL byte at column 12");
	expect_error("\x7f\x45LF\x02\x01\x01\n",
		     "test.conf:1: not text: a control character at column 1");
	expect_error("[global]\n; caf\xe9\n",
		     "test.conf:2: not text: bytes that are not UTF-8 at column 6");
	expect_error("; \xc0\xaf overlong\n",
		     "test.conf:1: not text: bytes that are not UTF-8 at column 3");
	expect_error("; \xed\xa0\x80 surrogate\n",
		     "test.conf:1: not text: bytes that are not UTF-8 at column 3");
	expect_error("; cut \xe2\x82",
		     "test.conf:1: not text: bytes that are not UTF-8 at column 7");
	expect_error("[global]\nbackend = pty\x1b[0m\n",
		     "test.conf:2: not text: a control character at column 14");
	/* every such line is named, and the text lines are still checked */
	expect_error("\x01\n[global]\nbackend = pty\n\xff\xfe\nbakend = pty\n",
		     "test.conf:1: not text: a control character at column 1\n"
		     "test.conf:4: not text: bytes that are not UTF-8 at column 1\n"
		     "test.conf:5: [global]: unknown key 'bakend' (did you mean 'backend'?)");
	/* a section with a line that is not text: what it said is unknown, so
	 * no "missing key" follows */
	expect_error_n("[ttyR0]\nhost = a\0\nport = 1\n", 27,
		       "test.conf:2: not text: a NUL byte at column 9");
	/* a binary file: the first few lines named, the others counted */
	expect_error("\x01\n\x02\n\x03\n\x04\n[global]\n\x05\nbakend = pty\n",
		     "test.conf:1: not text: a control character at column 1\n"
		     "test.conf:2: not text: a control character at column 1\n"
		     "test.conf:3: not text: a control character at column 1\n"
		     "test.conf:7: [global]: unknown key 'bakend' (did you mean 'backend'?)\n"
		     "test.conf: 2 more lines that are not text");
	assert_int_equal(load("\xef\xbb\xbf[global]\r\n; caf\xc3\xa9 \xe2\x82\xac "
			      "\xf0\x9f\x94\x8c\r\nbackend =\tkernel\r\n", &c, err), 0);
	assert_string_equal(err, "");
	assert_int_equal(c.global.backend, 1);
}

static void test_empty_value(void **state)
{
	expect_error("[ttyR0]\nhost =\nport = 1\n", "test.conf:2: [ttyR0]: host has no value");
	expect_error("[global]\nbackend = \t \n", "test.conf:2: [global]: backend has no value");
	expect_error("[global]\npty_dir = ; a comment is no value\n",
		     "test.conf:2: [global]: pty_dir has no value");
	expect_error("[global]\n= pty\n", "test.conf:2: expected 'key = value' or '[section]'");
}

static void test_section_twice(void **state)
{
	expect_error("[global]\nbackend = pty\n\n[global]\npty_dir = /run\n",
		     "test.conf:4: [global]: appears twice (first on line 1)");
	expect_error("[ttyR2]\nhost = a\nport = 1\n[global]\n[ttyR2]\nhost = a\nport = 1\n",
		     "test.conf:5: [ttyR2]: appears twice (first on line 1)");
}

static void test_did_you_mean(void **state)
{
	expect_error("[ttyR0]\nhots = a\nport = 1\n",
		     "test.conf:2: [ttyR0]: unknown key 'hots' (did you mean 'host'?)\n"
		     "test.conf:1: [ttyR0]: missing key 'host'");
	expect_error("[ttyR0]\nhost = a\nport = 1\nKeepAlive = 5\n",
		     "test.conf:4: [ttyR0]: unknown key 'KeepAlive' (did you mean 'keepalive'?)");
	expect_error("[ttyR0]\nhost = a\nport = 1\nbackend = pty\n",
		     "test.conf:4: [ttyR0]: unknown key 'backend' (it belongs in [global])");
	expect_error("[global]\nhost = a\n",
		     "test.conf:2: [global]: unknown key 'host' (it belongs in [ttyRN])");
	expect_error("[global]\nhots = a\n",
		     "test.conf:2: [global]: unknown key 'hots' (did you mean 'host', in [ttyRN]?)");
	expect_error("[global]\nfrobnicate = 1\n", "test.conf:2: [global]: unknown key 'frobnicate'");
	expect_error("[globl]\nbackend = pty\n",
		     "test.conf:1: unknown section [globl] (did you mean [global]?)");
	expect_error("[tty3]\nhost = a\n", "test.conf:1: unknown section [tty3] (did you mean [ttyR3]?)");
	expect_error("[TTYR3]\n", "test.conf:1: unknown section [TTYR3] (did you mean [ttyR3]?)");
	expect_error("[serial]\n", "test.conf:1: unknown section [serial]");
}

/* One round finds every problem, each with its line, in file order. */
static void test_every_problem(void **state)
{
	expect_error("[global]\n"
		     "backend = maybe\n"
		     "pty_dir =\n"
		     "\n"
		     "[ttyR0]\n"
		     "host = a\n"
		     "port = 99\n"
		     "tls_verify = perhaps\n"
		     "garbage\n"
		     "[ttyR1]\n"
		     "port = 1\n"
		     "port = 2\n"
		     "[ttyR0]\n"
		     "host = b\n"
		     "[global]\n",
		     "test.conf:2: [global]: backend = 'maybe': expected one of auto, kernel, pty\n"
		     "test.conf:3: [global]: pty_dir has no value\n"
		     "test.conf:7: [ttyR0]: port = '99': expected a whole number from 1 to 32\n"
		     "test.conf:8: [ttyR0]: tls_verify = 'perhaps': expected one of off, on, no, "
		     "yes, false, true, 0, 1\n"
		     "test.conf:9: expected 'key = value' or '[section]'\n"
		     "test.conf:12: [ttyR1]: key 'port' given twice (first on line 11)\n"
		     "test.conf:10: [ttyR1]: missing key 'host'\n"
		     "test.conf:13: [ttyR0]: appears twice (first on line 5)\n"
		     "test.conf:15: [global]: appears twice (first on line 1)");
	/* the section's own check runs only when its keys were right */
	expect_error("[ttyR0]\nhost = a\nport = 20\nprotocol = rfc2217\n[ttyR1]\nhost = a\n"
		     "port = 20\nprotocol = rfc2217\nkeepalive = 0\n",
		     "test.conf:1: [ttyR0]: rfc2217 needs port <= 16 in this test schema\n"
		     "test.conf:9: [ttyR1]: keepalive = '0': expected a whole number from 1 to 3600");
}

/* Too many to list: the list ends saying how many more there were. */
static void test_too_many_problems(void **state)
{
	struct t_conf c;
	char err[CONF_ERR_MAX];
	size_t n = 0;
	char *text = malloc(1000 * 16), *last;
	int listed = 0;

	assert_non_null(text);
	n += (size_t)sprintf(text, "[global]\n");
	for (int i = 0; i < 1000; i++)
		n += (size_t)sprintf(text + n, "bakend = %d\n", i);
	assert_int_equal(load(text, &c, err), -1);
	free(text);
	assert_true(strlen(err) < CONF_ERR_MAX);
	assert_non_null(strstr(err, "test.conf:2: [global]: unknown key 'bakend'"));
	last = strrchr(err, '\n');
	assert_non_null(last);
	assert_non_null(strstr(last, "test.conf: "));
	assert_non_null(strstr(last, " more problems"));
	/* the listed ones and the counted ones are all 1000 */
	for (const char *p = err; (p = strstr(p, "unknown key")); p++)
		listed++;
	assert_true(listed > 10);
	assert_int_equal(listed + atoi(last + strlen("\ntest.conf: ")), 1000);
}

static void test_booleans(void **state)
{
	static const struct { const char *text; bool value; } spellings[] = {
		{ "on", true }, { "off", false }, { "yes", true }, { "no", false },
		{ "true", true }, { "false", false }, { "1", true }, { "0", false },
	};
	struct t_conf c;
	char err[CONF_ERR_MAX], text[128];

	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		snprintf(text, sizeof(text), "[ttyR0]\nhost = a\nport = 1\ntls_verify = %s\n",
			 spellings[i].text);
		assert_int_equal(load(text, &c, err), 0);
		assert_int_equal(c.tty[0].verify, spellings[i].value);
	}
	expect_error("[ttyR0]\nhost = a\nport = 1\ntls_verify = enabled\n",
		     "test.conf:4: [ttyR0]: tls_verify = 'enabled': expected one of off, on, no, "
		     "yes, false, true, 0, 1");
}

/* A file key names a regular file we can read, checked at load. */
static void test_file_key(void **state)
{
	char path[] = "/tmp/test_conf_XXXXXX", text[256], want[512];
	struct t_conf c;
	char err[CONF_ERR_MAX];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	snprintf(text, sizeof(text), "[ttyR0]\nhost = a\nport = 1\nca = %s\n", path);
	assert_int_equal(load(text, &c, err), 0);
	assert_string_equal(c.tty[0].ca, path);
	unlink(path);
	snprintf(want, sizeof(want), "test.conf:4: [ttyR0]: ca = '%s': cannot read it: "
		 "No such file or directory", path);
	expect_error(text, want);
	expect_error("[ttyR0]\nhost = a\nport = 1\nca = /tmp\n",
		     "test.conf:4: [ttyR0]: ca = '/tmp': not a regular file");
	/* a daemon runs in /: what is relative here would not be found there */
	expect_error("[ttyR0]\nhost = a\nport = 1\nca = tmp/ca.pem\n",
		     "test.conf:4: [ttyR0]: ca = 'tmp/ca.pem': a relative path: give it from /");
}

static void test_long_line(void **state)
{
	char text[600];

	snprintf(text, sizeof(text), "[global]\npty_dir = %0500d\n", 7);
	expect_error(text, "test.conf:2: line longer than 198 characters");
}

static void test_missing_file(void **state)
{
	struct t_conf c;
	char err[CONF_ERR_MAX];

	assert_int_equal(conf_load("/nonexistent/realcom.conf", sections, &c, err), -ENOENT);
	assert_string_equal(err, "/nonexistent/realcom.conf: No such file or directory");
}

/* Only a file is read: a FIFO nobody writes would hold -t for ever. */
static void test_not_a_file(void **state)
{
	struct t_conf c;
	char err[CONF_ERR_MAX], dir[] = "/tmp/conf-test-XXXXXX", fifo[64];

	assert_non_null(mkdtemp(dir));
	assert_int_equal(conf_load(dir, sections, &c, err), -EISDIR);
	assert_string_equal(strchr(err, ':'), ": Is a directory");
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(10);
	assert_int_equal(conf_load(fifo, sections, &c, err), -EINVAL);
	alarm(0);
	assert_string_equal(strchr(err, ':'), ": not a regular file");
	unlink(fifo);
	rmdir(dir);
}

static void test_value_parsers(void **state)
{
	char why[128];
	unsigned int u;
	bool b;
	int e;

	assert_int_equal(conf_parse_uint("0", 0, 0, &u, why, sizeof(why)), 0);
	assert_int_equal(u, 0);
	assert_int_equal(conf_parse_uint("4294967295", 0, 4294967295u, &u, why, sizeof(why)), 0);
	assert_int_equal(u, 4294967295u);
	assert_int_equal(conf_parse_uint("4294967296", 0, 4294967295u, &u, why, sizeof(why)), -1);
	assert_int_equal(conf_parse_uint("", 0, 1, &u, why, sizeof(why)), -1);
	assert_int_equal(conf_parse_uint("+1", 0, 1, &u, why, sizeof(why)), -1);
	assert_int_equal(conf_parse_bool("yes", &b, why, sizeof(why)), 0);
	assert_true(b);
	assert_int_equal(conf_parse_bool("0", &b, why, sizeof(why)), 0);
	assert_false(b);
	assert_int_equal(conf_parse_bool("On", &b, why, sizeof(why)), -1);
	assert_int_equal(conf_parse_enum("kernel", backends, &e, why, sizeof(why)), 0);
	assert_int_equal(e, 1);
	/* hosts: names, IPv4, IPv6 with a scope; nothing with spaces, ports,
	 * empty labels or a URL */
	assert_true(conf_is_host("nport-1.plant.example"));
	assert_true(conf_is_host("unit_7"));
	assert_true(conf_is_host("192.0.2.1"));
	assert_true(conf_is_host("2001:db8::1"));
	assert_true(conf_is_host("fe80::1%eth0"));
	assert_false(conf_is_host(""));
	assert_false(conf_is_host("a b c"));
	assert_false(conf_is_host("x..y"));
	assert_false(conf_is_host(".x"));
	assert_false(conf_is_host("192.0.2.1:4001"));
	assert_false(conf_is_host("[2001:db8::1]"));
	assert_false(conf_is_host("fe80::1%"));
	assert_true(conf_is_host("fe80::1%3"));
	assert_false(conf_is_host("fe80::1%a b"));
	assert_false(conf_is_host("fe80::1%\"x\\y"));
	assert_false(conf_is_host("fe80::1%eth0/1"));
	assert_false(conf_is_host("fe80::1%a234567890123456"));
	assert_false(conf_is_host("https://unit"));
	assert_false(conf_is_host("a,b"));
	/* a label of 63 characters, not 64 */
	assert_true(conf_is_host("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b"));
	assert_false(conf_is_host("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b"));
	/* a short why is truncated, never overrun */
	assert_int_equal(conf_parse_enum("x", backends, &e, why, 10), -1);
	assert_int_equal(strlen(why), 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_not_text),
		cmocka_unit_test(test_empty_value),
		cmocka_unit_test(test_section_twice),
		cmocka_unit_test(test_did_you_mean),
		cmocka_unit_test(test_every_problem),
		cmocka_unit_test(test_too_many_problems),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_file_key),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_not_a_file),
		cmocka_unit_test(test_value_parsers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
