// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What a device says, made safe to show and to write into realcom.conf:
 * every string of an API answer and every mDNS TXT value or instance name is
 * cut down to printable ASCII before dsu looks at it, so a unit (or whoever
 * answers before its certificate is pinned) cannot move the cursor, clear
 * the terminal or add lines to the configuration.  No curl or avahi here:
 * tests/fuzz/fuzz_dsu_reply.c runs it on its own.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsu.h"

/* Deeper than any answer of the model (object, array, object). */
#define REPLY_DEPTH	8

static bool printable(char c)
{
	return c >= 0x20 && c < 0x7f;
}

size_t dsu_printable(char *out, size_t cap, const char *in, size_t len)
{
	size_t n = 0;

	if (cap == 0)
		return 0;
	for (; in && n < len && n < cap - 1; n++)
		out[n] = printable(in[n]) ? in[n] : '?';
	out[n] = '\0';
	return n;
}

static bool reply_clean(json_object *o, int depth)
{
	if (depth > REPLY_DEPTH)
		return false;
	switch (json_object_get_type(o)) {
	case json_type_object: {
		json_object_object_foreach(o, key, v) {
			(void)key;
			if (!reply_clean(v, depth + 1))
				return false;
		}
		return true;
	}
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (!reply_clean(json_object_array_get_idx(o, i), depth + 1))
				return false;
		return true;
	case json_type_string: {
		const char *s = json_object_get_string(o);
		size_t len = (size_t)json_object_get_string_len(o), i;
		char *copy;

		for (i = 0; i < len && printable(s[i]); i++)
			;
		if (i == len)
			return true;
		copy = malloc(len + 1);
		if (!copy)
			return false;
		dsu_printable(copy, len + 1, s, len);
		json_object_set_string(o, copy);
		free(copy);
		return true;
	}
	default:
		return true;
	}
}

json_object *dsu_reply_parse(const char *text, size_t len)
{
	json_tokener *tok = json_tokener_new_ex(REPLY_DEPTH);
	json_object *o;

	if (!tok || len > INT32_MAX) {
		json_tokener_free(tok);
		return NULL;
	}
	o = json_tokener_parse_ex(tok, text, (int)len);
	/* one complete value and nothing after it but white space */
	if (o && (json_tokener_get_error(tok) != json_tokener_success ||
		  strspn(text + json_tokener_get_parse_end(tok), " \t\r\n") !=
		  len - json_tokener_get_parse_end(tok))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	if (o && !reply_clean(o, 0)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

const char *json_str(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

int64_t json_int(json_object *o, const char *key, int64_t dflt)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return dflt;
	return json_object_get_int64(v);
}
