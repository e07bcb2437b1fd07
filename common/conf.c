// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * INI loading over libinih; see conf.h.  The file is read whole and handed
 * to libinih a line at a time by our reader, which counts lines, refuses
 * what is not text and spots section headers, so every message carries a
 * line number and sections without keys are still seen.  A problem does not
 * stop the reading: the rest of the file is checked too and every problem
 * is reported, one per line, so a file is fixed in one round.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>

#include "conf.h"

#define CONF_WHY_MAX	256
#define CONF_FILE_MAX	(1 << 20)	/* 256 full port sections take about 250 KiB */
#define CONF_ERR_TAIL	128		/* room kept for "N more ..." */
#define CONF_NOT_TEXT_TOLD	3	/* lines that are not text, named one by one */

struct conf_seen_section {
	char name[64];
	unsigned int line;
};

struct conf_state {
	const char *name;
	const struct conf_section *sections;
	void *ctx;
	char *err;
	size_t err_len;
	unsigned int errors, errors_untold;
	unsigned int not_text;		/* lines; a binary file has many */
	/* the text, and where the reader is in it */
	const char *text;
	size_t len, pos;
	unsigned int line;
	/* every section opened so far, for "appears twice" */
	struct conf_seen_section *opened;
	size_t n_opened;
	/* the section being read; skip: its header was refused, ignore its keys */
	const struct conf_section *sec;
	bool skip;
	char sec_name[64];
	unsigned int sec_line;
	unsigned int sec_errors;	/* s->errors when it was opened */
	bool sec_not_text;		/* a line of it was not text: keys unknown */
	void *obj;
	uint64_t seen;			/* keys stored */
	uint64_t given;			/* keys present, valid or not */
	unsigned int key_line[CONF_KEYS_MAX];
};

static void conf_fail(struct conf_state *s, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Add "FILE:LINE: message" to the list; what does not fit is counted. */
static void conf_fail(struct conf_state *s, unsigned int line, const char *fmt, ...)
{
	char msg[CONF_WHY_MAX * 2];
	va_list ap;
	int n;

	s->errors++;
	n = snprintf(msg, sizeof(msg), "%s%s:%u: ", s->err_len ? "\n" : "", s->name, line);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	n = (int)strlen(msg);
	if (s->errors_untold || s->err_len + (size_t)n + CONF_ERR_TAIL >= CONF_ERR_MAX) {
		s->errors_untold++;
		return;
	}
	memcpy(s->err + s->err_len, msg, (size_t)n + 1);
	s->err_len += (size_t)n;
}

static void conf_fail_more(struct conf_state *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "FILE: N more ..." at the end, in the room conf_fail() kept for it. */
static void conf_fail_more(struct conf_state *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(s->err + s->err_len, CONF_ERR_MAX - s->err_len, "%s%s: ",
		     s->err_len ? "\n" : "", s->name);
	if (n < 0 || (size_t)n >= CONF_ERR_MAX - s->err_len)
		return;
	s->err_len += (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(s->err + s->err_len, CONF_ERR_MAX - s->err_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		s->err_len += (size_t)n < CONF_ERR_MAX - s->err_len ? (size_t)n :
				CONF_ERR_MAX - s->err_len - 1;
}

int conf_parse_uint(const char *value, unsigned int min, unsigned int max, unsigned int *out,
		    char *why, size_t whylen)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (value[0] < '0' || value[0] > '9' || *end || errno || v < min || v > max) {
		snprintf(why, whylen, "expected a whole number from %u to %u", min, max);
		return -1;
	}
	*out = (unsigned int)v;
	return 0;
}

int conf_parse_enum(const char *value, const char *const *names, int *out, char *why,
		    size_t whylen)
{
	size_t n = 0;

	for (int i = 0; names[i]; i++)
		if (strcmp(value, names[i]) == 0) {
			*out = i;
			return 0;
		}
	n = (size_t)snprintf(why, whylen, "expected one of");
	for (int i = 0; names[i] && n < whylen; i++)
		n += (size_t)snprintf(why + n, whylen - n, "%s %s", i ? "," : "", names[i]);
	return -1;
}

int conf_parse_bool(const char *value, bool *out, char *why, size_t whylen)
{
	static const char *const names[] = { "off", "on", "no", "yes", "false", "true", "0", "1",
					     NULL };
	int i;

	if (conf_parse_enum(value, names, &i, why, whylen) < 0)
		return -1;
	*out = i & 1;
	return 0;
}

/* An IPv6 scope: an interface's name (at most IFNAMSIZ - 1 characters) or
 * index, of the characters interface names are made of in practice. */
static bool conf_is_scope(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");

	return n > 0 && n < IFNAMSIZ && s[n] == '\0';
}

bool conf_is_host(const char *h)
{
	unsigned char a6[16];
	char addr[INET6_ADDRSTRLEN];
	size_t n = strlen(h), label = 0;
	const char *pct = strchr(h, '%');

	/* an IPv6 address, with a scope (fe80::1%eth0) if any */
	if (strchr(h, ':')) {
		if ((pct ? (size_t)(pct - h) : n) >= sizeof(addr))
			return false;
		snprintf(addr, sizeof(addr), "%.*s", (int)(pct ? pct - h : (ptrdiff_t)n), h);
		return inet_pton(AF_INET6, addr, a6) == 1 && (!pct || conf_is_scope(pct + 1));
	}
	/* a name, or an IPv4 address: labels of letters, digits, '-' and '_' */
	if (n == 0 || n > 253)
		return false;
	for (const char *c = h; *c; c++) {
		if (*c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			   (*c >= '0' && *c <= '9') || *c == '-' || *c == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return true;
}

/* Checked when the file is loaded, so that -t and a reload refuse a TLS
 * file realcomd could not read at the next connect. */
static int conf_check_file(const char *value, char *why, size_t whylen)
{
	struct stat st;
	int fd;

	if (value[0] != '/') {		/* a daemon runs in / */
		snprintf(why, whylen, "a relative path: give it from /");
		return -1;
	}
	fd = open(value, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(why, whylen, "cannot read it: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(why, whylen, "not a regular file");
		return -1;
	}
	close(fd);
	return 0;
}

static int conf_store(const struct conf_key *k, const char *value, void *field, char *why,
		      size_t whylen)
{
	switch (k->type) {
	case CONF_STRING:
	case CONF_FILE:
		if (strlen(value) >= k->size) {
			snprintf(why, whylen, "longer than %zu characters", k->size - 1);
			return -1;
		}
		if (k->type == CONF_FILE && conf_check_file(value, why, whylen) < 0)
			return -1;
		strcpy(field, value);
		return 0;
	case CONF_UINT:
		return conf_parse_uint(value, k->min, k->max, field, why, whylen);
	case CONF_BOOL:
		return conf_parse_bool(value, field, why, whylen);
	case CONF_ENUM:
		return conf_parse_enum(value, k->names, field, why, whylen);
	case CONF_CUSTOM:
		return k->parse(value, field, why, whylen);
	}
	snprintf(why, whylen, "key of unknown type");
	return -1;
}

/* Edit distance with transpositions ("hots" is one from "host"), ignoring case. */
static size_t conf_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[CONF_WHY_MAX / 4][CONF_WHY_MAX / 4];

	if (la >= CONF_WHY_MAX / 4 || lb >= CONF_WHY_MAX / 4)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = strncasecmp(a + i - 1, b + j - 1, 1) != 0;
			size_t v = d[i - 1][j - 1] + cost;

			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && strncasecmp(a + i - 1, b + j - 2, 1) == 0 &&
			    strncasecmp(a + i - 2, b + j - 1, 1) == 0 && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/* Whether word is a likely misspelling of name: at most two edits, and
 * fewer than half its letters. */
static bool conf_close_to(const char *word, const char *name, size_t *best)
{
	size_t d = conf_distance(word, name);

	if (d > 2 || d * 2 >= strlen(word) || d >= *best)
		return false;
	*best = d;
	return true;
}

/* " (did you mean 'x'?)" or, for a key of another section, where it goes. */
static void conf_suggest_key(const struct conf_state *s, const char *name, char *out, size_t len)
{
	const char *hit = NULL;
	size_t best = SIZE_MAX;

	out[0] = '\0';
	for (const struct conf_section *sec = s->sections; sec->name; sec++)
		for (int i = 0; sec->keys[i].name; i++)
			if (sec != s->sec && strcmp(name, sec->keys[i].name) == 0) {
				snprintf(out, len, " (it belongs in [%s%s])", sec->name,
					 sec->numbered ? "N" : "");
				return;
			}
	for (int i = 0; s->sec->keys[i].name; i++)
		if (conf_close_to(name, s->sec->keys[i].name, &best))
			hit = s->sec->keys[i].name;
	if (hit) {
		snprintf(out, len, " (did you mean '%s'?)", hit);
		return;
	}
	/* a misspelt key of another section: both mistakes at once */
	for (const struct conf_section *sec = s->sections; sec->name; sec++)
		for (int i = 0; sec != s->sec && sec->keys[i].name; i++)
			if (conf_close_to(name, sec->keys[i].name, &best))
				snprintf(out, len, " (did you mean '%s', in [%s%s]?)",
					 sec->keys[i].name, sec->name, sec->numbered ? "N" : "");
}

static void conf_suggest_section(const struct conf_state *s, const char *name, char *out,
				 size_t len)
{
	size_t best = SIZE_MAX, plen = strlen(name);
	const struct conf_section *hit = NULL;
	char prefix[64];

	out[0] = '\0';
	while (plen && name[plen - 1] >= '0' && name[plen - 1] <= '9')
		plen--;
	snprintf(prefix, sizeof(prefix), "%.*s", (int)plen, name);
	for (const struct conf_section *sec = s->sections; sec->name; sec++)
		if (conf_close_to(sec->numbered ? prefix : name, sec->name, &best))
			hit = sec;
	if (hit && hit->numbered)
		snprintf(out, len, " (did you mean [%s%s]?)", hit->name,
			 name[plen] ? name + plen : "N");
	else if (hit)
		snprintf(out, len, " (did you mean [%s]?)", hit->name);
}

/* End the current section: required keys, then the section's own checks
 * (only when its keys were all right, or they would report the same
 * mistake again in other words). */
static void conf_close_section(struct conf_state *s)
{
	char why[CONF_WHY_MAX];

	if (!s->sec || s->skip)
		goto out;
	for (int i = 0; s->sec->keys[i].name && !s->sec_not_text; i++)
		if (s->sec->keys[i].required && !(s->given & (1ULL << i)))
			conf_fail(s, s->sec_line, "[%s]: missing key '%s'", s->sec_name,
				  s->sec->keys[i].name);
	if (s->errors == s->sec_errors && s->sec->close &&
	    s->sec->close(s->ctx, s->obj, s->seen, why, sizeof(why)) < 0)
		conf_fail(s, s->sec_line, "[%s]: %s", s->sec_name, why);
out:
	s->sec = NULL;
	s->obj = NULL;
	s->skip = false;
}

/* A section given twice: the second one is refused (its keys are skipped). */
static bool conf_section_again(struct conf_state *s, const char *name)
{
	struct conf_seen_section *more;

	for (size_t i = 0; i < s->n_opened; i++)
		if (strcmp(s->opened[i].name, name) == 0) {
			conf_fail(s, s->line, "[%s]: appears twice (first on line %u)", name,
				  s->opened[i].line);
			return true;
		}
	more = realloc(s->opened, (s->n_opened + 1) * sizeof(*more));
	if (!more) {
		conf_fail(s, s->line, "[%s]: out of memory", name);
		return true;
	}
	s->opened = more;
	snprintf(s->opened[s->n_opened].name, sizeof(s->opened[0].name), "%s", name);
	s->opened[s->n_opened++].line = s->line;
	return false;
}

static void conf_open_section(struct conf_state *s, const char *name)
{
	char why[CONF_WHY_MAX];

	conf_close_section(s);
	snprintf(s->sec_name, sizeof(s->sec_name), "%s", name);
	s->sec_line = s->line;
	s->sec_errors = s->errors;
	s->seen = s->given = 0;
	s->sec_not_text = false;
	s->skip = true;		/* until a section below takes it */
	for (const struct conf_section *sec = s->sections; sec->name; sec++) {
		size_t plen = strlen(sec->name);
		unsigned int number = 0;

		if (!sec->numbered && strcmp(name, sec->name) != 0)
			continue;
		if (sec->numbered) {
			if (strncmp(name, sec->name, plen) != 0 || !name[plen])
				continue;
			if (conf_parse_uint(name + plen, 0, sec->max_number, &number, why,
					    sizeof(why)) < 0 ||
			    (name[plen] == '0' && name[plen + 1])) {
				conf_fail(s, s->line, "[%s]: the number after '%s' must be 0 to %u",
					  name, sec->name, sec->max_number);
				return;
			}
		}
		if (conf_section_again(s, name))
			return;
		s->obj = sec->open(s->ctx, number, why, sizeof(why));
		if (!s->obj) {
			conf_fail(s, s->line, "[%s]: %s", name, why);
			return;
		}
		s->sec = sec;
		s->skip = false;
		return;
	}
	conf_suggest_section(s, name, why, sizeof(why));
	conf_fail(s, s->line, "unknown section [%s]%s", name, why);
}

/* Why the line is not text, or NULL: NUL and other control bytes (a tab
 * and a final CR aside) and bytes that are not UTF-8. */
static const char *conf_not_text(const unsigned char *t, size_t n, size_t *col)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = t[i];
		size_t more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
		unsigned int cp;

		*col = i + 1;
		if (c == 0)
			return "a NUL byte";
		if ((c < 0x20 && c != '\t' && !(c == '\r' && i + 1 == n)) || c == 0x7f)
			return "a control character";
		if (c < 0x80)
			continue;
		if (c < 0xc2 || c > 0xf4 || i + more >= n)
			return "bytes that are not UTF-8";
		cp = c & (0x3f >> more);
		for (size_t k = 1; k <= more; k++) {
			if ((t[i + k] & 0xc0) != 0x80)
				return "bytes that are not UTF-8";
			cp = cp << 6 | (t[i + k] & 0x3f);
		}
		/* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
		if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return "bytes that are not UTF-8";
		i += more;
	}
	return NULL;
}

/* The checks libinih would stop at, made here so the reading goes on:
 * a header without ']', a line that is neither a header nor key = value;
 * and text after a header's ']', which libinih ignores. */
static void conf_line_shape(struct conf_state *s, char *str)
{
	char *p = str + strspn(str, " \t\r\n"), *end;

	if (!*p || *p == ';' || *p == '#')
		return;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end) {
			conf_fail(s, s->line, "section header without ']'");
			s->skip = true;
			s->sec = NULL;
			strcpy(str, "\n");
			return;
		}
		*end = '\0';
		conf_open_section(s, p + 1);
		*end = ']';
		p = end + 1 + strspn(end + 1, " \t\r\n");
		if (*p && *p != ';' && *p != '#')
			conf_fail(s, s->line, "text after the section header: '%.*s'",
				  (int)strcspn(p, "\r\n"), p);
		return;
	}
	if (!strpbrk(p, "=:")) {
		conf_fail(s, s->line, "expected 'key = value' or '[section]'");
		strcpy(str, "\n");
	}
}

/* Hands libinih one line; a line with a problem is reported and becomes
 * an empty one. */
static char *conf_reader(char *str, int num, void *stream)
{
	struct conf_state *s = stream;
	const char *line = s->text + s->pos, *nl;
	size_t n, col;
	const char *why;

	if (s->pos >= s->len)
		return NULL;
	nl = memchr(line, '\n', s->len - s->pos);
	n = nl ? (size_t)(nl - line) : s->len - s->pos;
	s->pos += n + 1;
	s->line++;
	why = conf_not_text((const unsigned char *)line, n, &col);
	if (why) {
		s->sec_not_text = true;
		if (s->not_text++ < CONF_NOT_TEXT_TOLD)
			conf_fail(s, s->line, "not text: %s at column %zu", why, col);
		else
			s->errors++;
		strcpy(str, "\n");
		return str;
	}
	if (n + 2 > (size_t)num) {
		conf_fail(s, s->line, "line longer than %d characters", num - 2);
		strcpy(str, "\n");
		return str;
	}
	memcpy(str, line, n);
	memcpy(str + n, "\n", 2);
	conf_line_shape(s, str);
	return str;
}

static const struct conf_key *conf_find_key(struct conf_state *s, const char *name, int *idx)
{
	for (int i = 0; s->sec->keys[i].name; i++)
		if (strcmp(s->sec->keys[i].name, name) == 0) {
			*idx = i;
			return &s->sec->keys[i];
		}
	return NULL;
}

static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
	struct conf_state *s = user;
	char why[CONF_WHY_MAX];
	const struct conf_key *k;
	int i;

	if (s->skip)
		return 1;
	if (!s->sec) {
		conf_fail(s, s->line, "key '%s' outside any section", name);
		return 1;
	}
	if (!name[0]) {
		conf_fail(s, s->line, "expected 'key = value' or '[section]'");
		return 1;
	}
	k = conf_find_key(s, name, &i);
	if (!k) {
		conf_suggest_key(s, name, why, sizeof(why));
		conf_fail(s, s->line, "[%s]: unknown key '%s'%s", section, name, why);
		return 1;
	}
	if (s->given & (1ULL << i)) {
		conf_fail(s, s->line, "[%s]: key '%s' given twice (first on line %u)", section,
			  name, s->key_line[i]);
		return 1;
	}
	s->given |= 1ULL << i;
	s->key_line[i] = s->line;
	/* "key =" would mean the default to some readers and "" to others */
	if (!value[0])
		conf_fail(s, s->line, "[%s]: %s has no value", section, name);
	else if (conf_store(k, value, (char *)s->obj + k->offset, why, sizeof(why)) < 0)
		conf_fail(s, s->line, "[%s]: %s = '%s': %s", section, name, value, why);
	else
		s->seen |= 1ULL << i;
	return 1;
}

/* The whole file into s->text; a byte order mark is skipped. */
static int conf_read_all(struct conf_state *s, FILE *f, char **buf)
{
	size_t cap = 4096, n = 0, got;

	*buf = malloc(cap);
	while (*buf && (got = fread(*buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n > CONF_FILE_MAX) {
			conf_fail(s, 0, "larger than %d KiB: not a configuration file",
				  CONF_FILE_MAX >> 10);
			return -1;
		}
		if (n == cap) {
			char *more = realloc(*buf, cap * 2);

			if (!more)
				break;
			*buf = more;
			cap *= 2;
		}
	}
	if (!*buf || ferror(f) || (n == cap && !feof(f))) {
		conf_fail(s, 0, "%s", !*buf || n == cap ? "out of memory" : strerror(errno));
		return -1;
	}
	s->text = *buf;
	s->len = n;
	if (n >= 3 && memcmp(*buf, "\xef\xbb\xbf", 3) == 0)
		s->pos = 3;
	return 0;
}

int conf_load_file(FILE *f, const char *name, const struct conf_section *sections, void *ctx,
		   char err[CONF_ERR_MAX])
{
	struct conf_state s = {
		.name = name, .sections = sections, .ctx = ctx, .err = err,
	};
	char *buf = NULL;
	int r;

	err[0] = '\0';
	if (conf_read_all(&s, f, &buf) == 0) {
		/* A continuation line would reach the handler as the same key again. */
		ini_allow_multiline = false;
		r = ini_parse_stream(conf_reader, &s, conf_handler, &s);
		if (!s.errors && r > 0)
			conf_fail(&s, (unsigned int)r, "expected 'key = value' or '[section]'");
		conf_close_section(&s);
	}
	if (s.not_text > CONF_NOT_TEXT_TOLD)
		conf_fail_more(&s, "%u more line%s that %s not text", s.not_text - CONF_NOT_TEXT_TOLD,
			       s.not_text - CONF_NOT_TEXT_TOLD == 1 ? "" : "s",
			       s.not_text - CONF_NOT_TEXT_TOLD == 1 ? "is" : "are");
	if (s.errors_untold)
		conf_fail_more(&s, "%u more problem%s", s.errors_untold,
			       s.errors_untold == 1 ? "" : "s");
	free(s.opened);
	free(buf);
	return s.errors ? -1 : 0;
}

int conf_load(const char *path, const struct conf_section *sections, void *ctx,
	      char err[CONF_ERR_MAX])
{
	/* Not blocking on a FIFO's open, and only a file is read: a FIFO or a
	 * device could make -t wait for ever. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), r;
	struct stat st;
	FILE *f;

	if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, CONF_ERR_MAX, "%s: %s", path,
			 S_ISDIR(st.st_mode) ? strerror(EISDIR) : "not a regular file");
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f) {
		r = -errno;
		snprintf(err, CONF_ERR_MAX, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	r = conf_load_file(f, path, sections, ctx, err);
	fclose(f);
	return r;
}
