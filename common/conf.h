/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Table-driven INI loading over libinih: each section kind lists its keys
 * with a type, bounds and where the value goes in the caller's struct.
 * Every error names the file, the line, the section and the key, and every
 * problem in a file is reported, not only the first.  What the sections
 * mean (realcom.conf and others) is the callers' business.
 */
#ifndef REALCOM_CONF_H
#define REALCOM_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONF_ERR_MAX	4096	/* every problem, one a line */
#define CONF_KEYS_MAX	64

enum conf_type {
	CONF_STRING,	/* char[size], must fit with its NUL */
	CONF_FILE,	/* CONF_STRING naming a regular file we can read */
	CONF_UINT,	/* unsigned int within [min, max] */
	CONF_BOOL,	/* bool: on/off, yes/no, true/false, 1/0 */
	CONF_ENUM,	/* int: index into names[] */
	CONF_CUSTOM,	/* parse() decides */
};

struct conf_key {
	const char *name;
	enum conf_type type;
	bool required;
	size_t offset;			/* of the field in the section's struct */
	size_t size;			/* CONF_STRING: the array's size */
	unsigned int min, max;		/* CONF_UINT */
	const char *const *names;	/* CONF_ENUM: NULL-terminated */
	/* CONF_CUSTOM: store value in field, or return -1 with why filled. */
	int (*parse)(const char *value, void *field, char *why, size_t whylen);
};

struct conf_section {
	const char *name;	/* exact name, or the prefix of [nameN] when numbered */
	bool numbered;
	unsigned int max_number;
	const struct conf_key *keys;	/* ends with a { NULL } entry */
	/* The struct this section's keys fill, or NULL with why filled
	 * (e.g. "[ttyR3] appears twice").  number is N of [nameN]. */
	void *(*open)(void *ctx, unsigned int number, char *why, size_t whylen);
	/* Checks across keys once the section is read; seen has bit i set for
	 * keys[i] given.  Return 0 or -1 with why filled.  May be NULL. */
	int (*close)(void *ctx, void *obj, uint64_t seen, char *why, size_t whylen);
};

/*
 * Load path (or f, named name in messages) against sections.  Returns 0, or
 * -1 with err holding every problem found, one a line, each as
 * "FILE:LINE: [section]: key = 'value': what is wrong" (a list too long for
 * err ends with "FILE: N more problems"), or -errno when the file cannot be
 * opened.  The file must be UTF-8 text: NUL and control bytes are problems
 * (a tab and CRLF line ends aside), and so are empty values ("key =") and
 * a section given twice.  On -1, what reached the caller's structs is
 * partial: use none of it.
 */
int conf_load(const char *path, const struct conf_section *sections, void *ctx,
	      char err[CONF_ERR_MAX]);
int conf_load_file(FILE *f, const char *name, const struct conf_section *sections, void *ctx,
		   char err[CONF_ERR_MAX]);

/* The value parsers behind the types, for callers with their own syntax
 * (command-line options).  0, or -1 with why filled. */
int conf_parse_uint(const char *value, unsigned int min, unsigned int max, unsigned int *out,
		    char *why, size_t whylen);
int conf_parse_bool(const char *value, bool *out, char *why, size_t whylen);
/* A host name (letters, digits, '-' and '_' in dot-separated labels, 253
 * characters at most), an IPv4 address, or an IPv6 address with or without
 * a %scope: what may be looked up, never a URL, a port or a list. */
bool conf_is_host(const char *h);
int conf_parse_enum(const char *value, const char *const *names, int *out, char *why,
		    size_t whylen);

#endif
