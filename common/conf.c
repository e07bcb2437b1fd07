// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * INI loading over libinih; see conf.h.  libinih splits lines into
 * key = value; our reader counts lines and spots section headers, so every
 * message carries a line number and sections without keys are still seen.
 */
#include <errno.h>
#include <stdarg.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

struct conf_state {
	FILE *f;
	const char *name;
	const struct conf_section *sections;
	void *ctx;
	char *err;
	bool failed;
	unsigned int line;
	/* the section being read */
	const struct conf_section *sec;
	char sec_name[64];
	unsigned int sec_line;
	void *obj;
	uint64_t seen;
	unsigned int key_line[CONF_KEYS_MAX];
};

static void conf_fail(struct conf_state *s, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void conf_fail(struct conf_state *s, unsigned int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->failed)
		return;
	s->failed = true;
	n = snprintf(s->err, CONF_ERR_MAX, "%s:%u: ", s->name, line);
	if (n < 0 || n >= CONF_ERR_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(s->err + n, CONF_ERR_MAX - (size_t)n, fmt, ap);
	va_end(ap);
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

static int conf_store(const struct conf_key *k, const char *value, void *field, char *why,
		      size_t whylen)
{
	switch (k->type) {
	case CONF_STRING:
		if (strlen(value) >= k->size) {
			snprintf(why, whylen, "longer than %zu characters", k->size - 1);
			return -1;
		}
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

/* End the current section: required keys, then the section's own checks. */
static void conf_close_section(struct conf_state *s)
{
	char why[CONF_ERR_MAX];

	if (!s->sec || s->failed)
		goto out;
	for (int i = 0; s->sec->keys[i].name; i++)
		if (s->sec->keys[i].required && !(s->seen & (1ULL << i))) {
			conf_fail(s, s->sec_line, "[%s]: missing key '%s'", s->sec_name,
				  s->sec->keys[i].name);
			goto out;
		}
	if (s->sec->close && s->sec->close(s->ctx, s->obj, s->seen, why, sizeof(why)) < 0)
		conf_fail(s, s->sec_line, "[%s]: %s", s->sec_name, why);
out:
	s->sec = NULL;
	s->obj = NULL;
}

static void conf_open_section(struct conf_state *s, const char *name)
{
	char why[CONF_ERR_MAX];

	conf_close_section(s);
	if (s->failed)
		return;
	snprintf(s->sec_name, sizeof(s->sec_name), "%s", name);
	s->sec_line = s->line;
	s->seen = 0;
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
		s->obj = sec->open(s->ctx, number, why, sizeof(why));
		if (!s->obj) {
			conf_fail(s, s->line, "[%s]: %s", name, why);
			return;
		}
		s->sec = sec;
		return;
	}
	conf_fail(s, s->line, "unknown section [%s]", name);
}

/* Reads one line for libinih, counting lines and catching section headers. */
static char *conf_reader(char *str, int num, void *stream)
{
	struct conf_state *s = stream;
	size_t len;
	char *p, *end;

	if (s->failed || !fgets(str, num, s->f))
		return NULL;
	s->line++;
	len = strlen(str);
	if (len == (size_t)num - 1 && str[len - 1] != '\n' && !feof(s->f)) {
		conf_fail(s, s->line, "line longer than %d characters", num - 3);
		return NULL;
	}
	p = str + strspn(str, " \t");
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end) {
			conf_fail(s, s->line, "section header without ']'");
			return NULL;
		}
		*end = '\0';
		conf_open_section(s, p + 1);
		*end = ']';
	}
	return str;
}

static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
	struct conf_state *s = user;
	char why[CONF_ERR_MAX];

	if (s->failed)
		return 0;
	if (!s->sec) {
		conf_fail(s, s->line, "key '%s' outside any section", name);
		return 0;
	}
	for (int i = 0; s->sec->keys[i].name; i++) {
		const struct conf_key *k = &s->sec->keys[i];

		if (strcmp(k->name, name) != 0)
			continue;
		if (s->seen & (1ULL << i)) {
			conf_fail(s, s->line, "[%s]: key '%s' given twice (first on line %u)",
				  section, name, s->key_line[i]);
			return 0;
		}
		if (conf_store(k, value, (char *)s->obj + k->offset, why, sizeof(why)) < 0) {
			conf_fail(s, s->line, "[%s]: %s = '%s': %s", section, name, value, why);
			return 0;
		}
		s->seen |= 1ULL << i;
		s->key_line[i] = s->line;
		return 1;
	}
	conf_fail(s, s->line, "[%s]: unknown key '%s'", section, name);
	return 0;
}

int conf_load_file(FILE *f, const char *name, const struct conf_section *sections, void *ctx,
		   char err[CONF_ERR_MAX])
{
	struct conf_state s = {
		.f = f, .name = name, .sections = sections, .ctx = ctx, .err = err,
	};
	int r;

	/* A continuation line would reach the handler as the same key again. */
	ini_allow_multiline = false;
	err[0] = '\0';
	r = ini_parse_stream(conf_reader, &s, conf_handler, &s);
	if (!s.failed && r > 0)
		conf_fail(&s, (unsigned int)r, "expected 'key = value' or '[section]'");
	if (!s.failed && ferror(f))
		conf_fail(&s, s.line, "read error");
	conf_close_section(&s);
	return s.failed ? -1 : 0;
}

int conf_load(const char *path, const struct conf_section *sections, void *ctx,
	      char err[CONF_ERR_MAX])
{
	FILE *f = fopen(path, "re");
	int r;

	if (!f) {
		r = -errno;
		snprintf(err, CONF_ERR_MAX, "%s: %s", path, strerror(errno));
		return r;
	}
	r = conf_load_file(f, path, sections, ctx, err);
	fclose(f);
	return r;
}
