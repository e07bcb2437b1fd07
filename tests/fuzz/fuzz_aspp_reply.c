// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for aspp_parse_reply(): the input is what a device (or
 * anyone posing as one) sends on the command connection.  Traps when a message
 * runs past the input, when a prefix of the input parses differently (so a TCP
 * split could change the result), or when the device-side encoders do not give
 * back the very bytes that were parsed.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aspp.h"
#include "fuzz.h"

/* Prefixes are parsed from the end of this array, so ASan catches any read past n. */
static uint8_t edge[ASPP_MSG_MAX];

/* The message being checked, and where the encoders write theirs. */
static const uint8_t *msg;
static size_t msg_len;
static uint8_t out[ASPP_MSG_MAX];

/*
 * Split invariance: parsing any prefix of the remaining input either asks for
 * more bytes or gives this very message, and once it gives it, longer prefixes
 * do too.  A real message needs all its bytes; junk is decided by the third
 * byte at the latest.
 */
static void check_prefixes(size_t left, const struct aspp_reply *want)
{
	size_t decided = want->kind == ASPP_REPLY_JUNK ? 3 : msg_len, seen = 0;
	size_t last = left < decided ? left : decided;
	struct aspp_reply r;

	for (size_t k = 0; k <= last; k++) {
		size_t got;

		memcpy(edge + sizeof(edge) - k, msg, k);
		got = aspp_parse_reply(edge + sizeof(edge) - k, k, &r);
		CHECK(got == 0 || (got == msg_len && r.kind == want->kind && r.cmd == want->cmd));
		CHECK(got >= seen);
		seen = got;
	}
	CHECK(seen == msg_len);
}

static bool all_flags(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] > 1)
			return false;
	return true;
}

/* An encoder's result: the bytes of the message being checked. */
static void expect_same(int rc)
{
	CHECK(rc >= 0 && (size_t)rc == msg_len && memcmp(out, msg, msg_len) == 0);
}

/* The decoded fields, encoded again by the device side, give the same bytes. */
static void check_decoded(const struct aspp_reply *r)
{
	switch (r->cmd) {
	case ASPP_LSTATUS:
	case ASPP_PORT_INIT:
		CHECK(r->value == 0);
		if (r->len < 3)
			CHECK(r->modem == 0);
		else if (r->len == 3 && all_flags(r->data, 3))
			expect_same(aspp_encode_lstatus(out, sizeof(out), r->cmd, r->modem));
		break;
	case ASPP_IQUEUE:
	case ASPP_OQUEUE:
	case ASPP_WAIT_OQUEUE:
		CHECK(r->modem == 0);
		if (r->len == 2)
			expect_same(aspp_encode_queue(out, sizeof(out), r->cmd,
						      (uint16_t)r->value));
		else
			CHECK(r->value == 0);
		break;
	case ASPP_BREAK_COUNT:
		CHECK(r->modem == 0);
		if (r->len == 2)
			expect_same(aspp_encode_break_count(out, sizeof(out), (uint16_t)r->value));
		else
			CHECK(r->value == 0);
		break;
	case ASPP_DATA_STATUS:
		CHECK(r->modem == 0);
		CHECK(r->value == (r->len == 1 ? r->data[0] : 0));
		break;
	default:
		__builtin_trap();
	}
}

static void check_message(const struct aspp_reply *r)
{
	CHECK(r->cmd == msg[0]);
	if (r->kind != ASPP_REPLY_DATA)
		CHECK(r->data == NULL && r->len == 0);

	switch (r->kind) {
	case ASPP_REPLY_OK:
		expect_same(aspp_encode_ok(out, sizeof(out), r->cmd));
		break;
	case ASPP_REPLY_NA:
		expect_same(aspp_encode_na(out, sizeof(out), r->cmd));
		break;
	case ASPP_REPLY_DATA:
		CHECK(r->data == msg + 2 && msg_len == 2 + (size_t)r->len);
		expect_same(aspp_encode_answer(out, sizeof(out), r->cmd, r->data, r->len));
		check_decoded(r);
		break;
	case ASPP_REPLY_NOTIFY:
		expect_same(aspp_encode_notify(out, sizeof(out), r->events, r->msr, r->hold));
		break;
	case ASPP_REPLY_POLLING:
		expect_same(aspp_encode_polling(out, sizeof(out), r->poll_id));
		/* The host's answer is a command the device knows. */
		CHECK(aspp_encode_alive(out, sizeof(out), r->poll_id) == 3);
		break;
	case ASPP_REPLY_JUNK:
		CHECK(msg_len == 1);
		break;
	default:
		__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		size_t left = size - off, used;
		struct aspp_reply r;

		used = aspp_parse_reply(data + off, left, &r);
		if (used == 0) {
			/* Only the start of one message can be missing bytes. */
			CHECK(left < ASPP_MSG_MAX);
			break;
		}
		CHECK(used <= left && used <= ASPP_MSG_MAX);
		if (r.kind == ASPP_REPLY_DATA)
			CHECK(r.data >= data && r.data + r.len <= data + size);
		msg = data + off;
		msg_len = used;
		check_prefixes(left, &r);
		check_message(&r);
		off += used;
	}
	return 0;
}
