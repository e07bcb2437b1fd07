// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for what dsu reads from a device (dsu/reply.c): an API
 * answer through dsu_reply_parse() and a TXT value or instance name through
 * dsu_printable().  Traps when a string dsu would show or write into
 * realcom.conf holds anything but printable ASCII, when the nesting is deeper
 * than the bound, or when a copy is not terminated within its buffer.
 * Input: the whole of it is the answer; its first byte also sizes the
 * buffer the printable copy goes into.
 */
#include <stdlib.h>
#include <string.h>

#include "dsu.h"
#include "fuzz.h"

static void check_printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		CHECK(s[i] >= 0x20 && s[i] < 0x7f);
}

static void walk(json_object *o, int depth)
{
	CHECK(depth <= 8);
	switch (json_object_get_type(o)) {
	case json_type_object: {
		json_object_object_foreach(o, key, v) {
			(void)key;
			walk(v, depth + 1);
		}
		break;
	}
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			walk(json_object_array_get_idx(o, i), depth + 1);
		break;
	case json_type_string:
		check_printable(json_object_get_string(o), (size_t)json_object_get_string_len(o));
		CHECK(strlen(json_object_get_string(o)) == (size_t)json_object_get_string_len(o));
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), out[80];
	size_t cap = size ? data[0] % sizeof(out) : 0, n;
	json_object *o;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	o = dsu_reply_parse(text, size);
	if (o) {
		const char *name = json_str(o, "name");

		walk(o, 0);
		check_printable(name, strlen(name));
		(void)json_int(o, "ports", -1);
		json_object_put(o);
	}
	memset(out, 'X', sizeof(out));
	n = dsu_printable(out, cap, text, size);
	if (cap) {
		CHECK(n < cap && out[n] == '\0' && n == (size < cap - 1 ? size : cap - 1));
		check_printable(out, n);
	}
	CHECK(cap == sizeof(out) || out[cap] == 'X' || cap == 0);
	free(text);
	return 0;
}
