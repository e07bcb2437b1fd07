// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the Real COM codec (common/aspp.c).  Every byte example in
 * docs/realcom-protocol.md appears here byte for byte; the stream tests
 * feed replies through an accumulating buffer split at every possible point.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "aspp.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Run an encoder call, written with the names out and cap, three times: with
 * cap exactly the expected length (bytes must match, nothing written past
 * them), with one byte less (-ENOSPC), and with plenty of room.
 */
#define EXPECT_ENCODES(call, ...)						\
	do {									\
		static const uint8_t want_[] = { __VA_ARGS__ };			\
		uint8_t out[ASPP_MSG_MAX + 1];					\
		size_t cap = sizeof(want_);					\
		memset(out, 0xee, sizeof(out));					\
		assert_int_equal((call), sizeof(want_));			\
		assert_memory_equal(out, want_, sizeof(want_));			\
		assert_int_equal(out[sizeof(want_)], 0xee);			\
		cap = sizeof(want_) - 1;					\
		assert_int_equal((call), -ENOSPC);				\
		cap = sizeof(out);						\
		assert_int_equal((call), sizeof(want_));			\
		assert_memory_equal(out, want_, sizeof(want_));			\
	} while (0)

/* An encoder call that must refuse its arguments whatever the room. */
#define EXPECT_EINVAL(call)							\
	do {									\
		uint8_t out[ASPP_MSG_MAX + 1];					\
		size_t cap = sizeof(out);					\
		assert_int_equal((call), -EINVAL);				\
		(void)out;							\
		(void)cap;							\
	} while (0)

static const struct {
	uint32_t baud;
	uint8_t index;
} baud_table[] = {
	{ 300, 0 }, { 600, 1 }, { 1200, 2 }, { 2400, 3 }, { 4800, 4 },
	{ 7200, 5 }, { 9600, 6 }, { 19200, 7 }, { 38400, 8 }, { 57600, 9 },
	{ 115200, 10 }, { 230400, 11 }, { 460800, 12 }, { 921600, 13 }, { 150, 14 },
	{ 134, 15 }, { 110, 16 }, { 75, 17 }, { 50, 18 },
};

/* Host commands and the payload length the device expects ("Commands" table). */
static const struct {
	uint8_t cmd;
	uint8_t len;
} host_commands[] = {
	{ ASPP_IOCTL, 2 }, { ASPP_FLOWCTRL, 4 }, { ASPP_LINECTRL, 2 }, { ASPP_LSTATUS, 0 },
	{ ASPP_FLUSH, 1 }, { ASPP_IQUEUE, 0 }, { ASPP_OQUEUE, 0 }, { ASPP_SETBAUD, 4 },
	{ ASPP_XONXOFF, 2 }, { ASPP_PORT_RESET, 3 }, { ASPP_START_BREAK, 0 },
	{ ASPP_STOP_BREAK, 0 }, { ASPP_BREAKSEND, 2 }, { ASPP_START_NOTIFY, 0 },
	{ ASPP_STOP_NOTIFY, 0 }, { ASPP_ALIVE, 1 }, { ASPP_PORT_INIT, 8 },
	{ ASPP_WAIT_OQUEUE, 4 }, { ASPP_TX_FIFO, 1 }, { ASPP_SETXON, 0 }, { ASPP_SETXOFF, 0 },
	{ ASPP_BREAK_COUNT, 0 }, { ASPP_DATA_STATUS, 0 },
};

/* Answered [cmd] 'O' 'K' or [cmd] 'N' 'A'. */
static const uint8_t setters[] = {
	ASPP_IOCTL, ASPP_FLOWCTRL, ASPP_LINECTRL, ASPP_FLUSH, ASPP_SETBAUD, ASPP_XONXOFF,
	ASPP_PORT_RESET, ASPP_START_BREAK, ASPP_STOP_BREAK, ASPP_BREAKSEND, ASPP_START_NOTIFY,
	ASPP_STOP_NOTIFY, ASPP_TX_FIFO, ASPP_SETXON, ASPP_SETXOFF,
};

/* Answered [cmd][len][data]. */
static const uint8_t queries[] = {
	ASPP_LSTATUS, ASPP_IQUEUE, ASPP_OQUEUE, ASPP_PORT_INIT, ASPP_WAIT_OQUEUE,
	ASPP_BREAK_COUNT, ASPP_DATA_STATUS,
};

static struct serial_line make_line(uint32_t baud, uint8_t data_bits, uint8_t parity,
				    uint8_t stop_bits, uint8_t flow)
{
	struct serial_line line;

	serial_line_default(&line);
	line.baud = baud;
	line.data_bits = data_bits;
	line.parity = parity;
	line.stop_bits = stop_bits;
	line.flow = flow;
	return line;
}

static void test_baud_table(void **state)
{
	static const uint32_t custom[] = { 1800, 200, 250000, 0, 14400, 1000000, 921601, 49 };

	for (size_t i = 0; i < ARRAY_SIZE(baud_table); i++) {
		assert_int_equal(aspp_baud_index(baud_table[i].baud), baud_table[i].index);
		assert_int_equal(aspp_index_baud(baud_table[i].index), baud_table[i].baud);
	}
	for (size_t i = 0; i < ARRAY_SIZE(custom); i++)
		assert_int_equal(aspp_baud_index(custom[i]), ASPP_BAUD_CUSTOM);
	for (unsigned int idx = ARRAY_SIZE(baud_table); idx <= 0xff; idx++)
		assert_int_equal(aspp_index_baud((uint8_t)idx), 0);

	assert_int_equal(aspp_le32((const uint8_t[]){ 0x90, 0xD0, 0x03, 0x00 }), 250000);
	assert_int_equal(aspp_le32((const uint8_t[]){ 0x01, 0x02, 0x03, 0x84 }), 0x84030201u);
	assert_int_equal(aspp_le16((const uint8_t[]){ 0x34, 0x12 }), 0x1234);
}

static void test_mode_byte(void **state)
{
	static const uint8_t parity_bits[] = {
		[SERIAL_PARITY_NONE] = 0x00, [SERIAL_PARITY_EVEN] = 0x08,
		[SERIAL_PARITY_ODD] = 0x10,  [SERIAL_PARITY_MARK] = 0x18,
		[SERIAL_PARITY_SPACE] = 0x20,
	};
	static const uint8_t stops[] = { SERIAL_STOP_1, SERIAL_STOP_2, SERIAL_STOP_1_5 };
	struct serial_line line, back;

	/* The doc's examples: 8N1, 7E1, 8 bits mark parity 2 stop. */
	line = make_line(9600, 8, SERIAL_PARITY_NONE, SERIAL_STOP_1, 0);
	assert_int_equal(aspp_mode_byte(&line), 0x03);
	line = make_line(19200, 7, SERIAL_PARITY_EVEN, SERIAL_STOP_1, 0);
	assert_int_equal(aspp_mode_byte(&line), 0x0A);
	line = make_line(9600, 8, SERIAL_PARITY_MARK, SERIAL_STOP_2, 0);
	assert_int_equal(aspp_mode_byte(&line), 0x1F);

	for (uint8_t bits = 5; bits <= 8; bits++) {
		for (uint8_t parity = 0; parity <= SERIAL_PARITY_SPACE; parity++) {
			for (size_t s = 0; s < ARRAY_SIZE(stops); s++) {
				uint8_t mode;

				line = make_line(9600, bits, parity, stops[s], 0);
				mode = aspp_mode_byte(&line);
				/* 1.5 stop bits has no code of its own: it goes out as two. */
				assert_int_equal(mode, (bits - 5) | parity_bits[parity] |
						       (stops[s] == SERIAL_STOP_1 ? 0 : 0x04));
				back = line;
				back.data_bits = 0;
				back.parity = 0xff;
				back.stop_bits = 0;
				aspp_mode_apply(mode, &back);
				assert_int_equal(back.data_bits, bits);
				assert_int_equal(back.parity, parity);
				assert_int_equal(back.stop_bits, stops[s] == SERIAL_STOP_1
									 ? SERIAL_STOP_1
									 : SERIAL_STOP_2);
			}
		}
	}

	/* Parity codes 28, 30, 38 mean nothing on the wire. */
	aspp_mode_apply(0x28 | 0x03, &back);
	assert_int_equal(back.parity, SERIAL_PARITY_NONE);
	assert_int_equal(back.data_bits, 8);
}

/* "Observed on the wire", "PORT_INIT (2C) payload", "Baud index table", "keep-alive". */
static void test_encode_doc_examples(void **state)
{
	struct serial_line line;
	struct aspp_reply r;

	/* PORT_INIT example: 19200 7E1, DTR+RTS, no flow control. */
	line = make_line(19200, 7, SERIAL_PARITY_EVEN, SERIAL_STOP_1, 0);
	EXPECT_ENCODES(aspp_encode_port_init(out, cap, &line),
		       0x2C, 0x08, 0x07, 0x0A, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00);
	EXPECT_ENCODES(aspp_encode_line(out, cap, &line),
		       0x2C, 0x08, 0x07, 0x0A, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00);

	/* open with default termios: 9600 8N1, IXON; then TX_FIFO 16. */
	line = make_line(9600, 8, SERIAL_PARITY_NONE, SERIAL_STOP_1, SERIAL_FLOW_IXON);
	EXPECT_ENCODES(aspp_encode_line(out, cap, &line),
		       0x2C, 0x08, 0x06, 0x03, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00,
		       0x18, 0x02, 0x11, 0x13);
	EXPECT_ENCODES(aspp_encode_xonxoff(out, cap, 0x11, 0x13), 0x18, 0x02, 0x11, 0x13);
	EXPECT_ENCODES(aspp_encode_tx_fifo(out, cap, 16), 0x30, 0x01, 0x10);

	/* 250000 8N1: index FF, then SETBAUD LE32. */
	line = make_line(250000, 8, SERIAL_PARITY_NONE, SERIAL_STOP_1, 0);
	EXPECT_ENCODES(aspp_encode_port_init(out, cap, &line),
		       0x2C, 0x08, 0xFF, 0x03, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00);
	EXPECT_ENCODES(aspp_encode_setbaud(out, cap, 250000), 0x17, 0x04, 0x90, 0xD0, 0x03, 0x00);
	EXPECT_ENCODES(aspp_encode_line(out, cap, &line),
		       0x2C, 0x08, 0xFF, 0x03, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00,
		       0x17, 0x04, 0x90, 0xD0, 0x03, 0x00);

	/* 9600, 8 bits, mark parity, 2 stop bits. */
	line = make_line(9600, 8, SERIAL_PARITY_MARK, SERIAL_STOP_2, 0);
	EXPECT_ENCODES(aspp_encode_port_init(out, cap, &line),
		       0x2C, 0x08, 0x06, 0x1F, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00);

	/* 115200 8N1 CRTSCTS IXON IXOFF. */
	line = make_line(115200, 8, SERIAL_PARITY_NONE, SERIAL_STOP_1,
			 SERIAL_FLOW_CTS | SERIAL_FLOW_RTS | SERIAL_FLOW_IXON | SERIAL_FLOW_IXOFF);
	EXPECT_ENCODES(aspp_encode_line(out, cap, &line),
		       0x2C, 0x08, 0x0A, 0x03, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
		       0x18, 0x02, 0x11, 0x13);

	/* TIOCMBIC DTR, TIOCMBIS DTR+RTS. */
	EXPECT_ENCODES(aspp_encode_linectrl(out, cap, false, true), 0x12, 0x02, 0x00, 0x01);
	EXPECT_ENCODES(aspp_encode_linectrl(out, cap, true, true), 0x12, 0x02, 0x01, 0x01);

	/* tcsendbreak: START_BREAK, STOP_BREAK. */
	EXPECT_ENCODES(aspp_encode_simple(out, cap, ASPP_START_BREAK), 0x21, 0x00);
	EXPECT_ENCODES(aspp_encode_simple(out, cap, ASPP_STOP_BREAK), 0x22, 0x00);

	/* tcflush(TCIOFLUSH), and close's FLUSH both. */
	EXPECT_ENCODES(aspp_encode_flush(out, cap, ASPP_FLUSH_BOTH), 0x14, 0x01, 0x02);

	/*
	 * WAIT_OQUEUE.  The vendor sent 25 and 7500 kernel ticks; the layout is
	 * the same for our milliseconds: 30 s is 30000 ms.
	 */
	EXPECT_ENCODES(aspp_encode_wait_oqueue(out, cap, 25), 0x2F, 0x04, 0x19, 0x00, 0x00, 0x00);
	EXPECT_ENCODES(aspp_encode_wait_oqueue(out, cap, 7500), 0x2F, 0x04, 0x4C, 0x1D, 0x00, 0x00);
	EXPECT_ENCODES(aspp_encode_wait_oqueue(out, cap, 30000),
		       0x2F, 0x04, 0x30, 0x75, 0x00, 0x00);

	/* PORT_RESET '1' '6' 'a'. */
	EXPECT_ENCODES(aspp_encode_port_reset(out, cap), 0x20, 0x03, '1', '6', 'a');

	/* keep-alive: POLLING 27 01 id is answered with ALIVE 28 01 id. */
	for (unsigned int id = 0; id <= 0xff; id++) {
		const uint8_t poll[] = { 0x27, 0x01, (uint8_t)id };
		uint8_t alive[3];

		assert_int_equal(aspp_parse_reply(poll, sizeof(poll), &r), 3);
		assert_int_equal(r.kind, ASPP_REPLY_POLLING);
		assert_int_equal(r.poll_id, id);
		assert_int_equal(aspp_encode_alive(alive, sizeof(alive), r.poll_id), 3);
		assert_memory_equal(alive, ((const uint8_t[]){ 0x28, 0x01, (uint8_t)id }), 3);
	}
	EXPECT_ENCODES(aspp_encode_alive(out, cap, 0x2A), 0x28, 0x01, 0x2A);
}

static void test_encode_commands(void **state)
{
	struct serial_line line, bad[8];

	/* aspp_encode: only known codes with their exact payload length. */
	EXPECT_ENCODES(aspp_encode(out, cap, ASPP_IOCTL, (const uint8_t[]){ 6, 3 }, 2),
		       0x10, 0x02, 0x06, 0x03);
	EXPECT_ENCODES(aspp_encode(out, cap, ASPP_LSTATUS, NULL, 0), 0x13, 0x00);
	EXPECT_EINVAL(aspp_encode(out, cap, ASPP_LINECTRL, (const uint8_t[]){ 1 }, 1));
	EXPECT_EINVAL(aspp_encode(out, cap, ASPP_LSTATUS, (const uint8_t[]){ 1 }, 1));
	EXPECT_EINVAL(aspp_encode(out, cap, 0x29, NULL, 0));
	EXPECT_EINVAL(aspp_encode(out, cap, 0x01, NULL, 0));
	EXPECT_EINVAL(aspp_encode(out, cap, ASPP_NOTIFY, (const uint8_t[]){ 0, 0, 0 }, 3));
	EXPECT_EINVAL(aspp_encode(out, cap, ASPP_POLLING, (const uint8_t[]){ 1 }, 1));
	EXPECT_EINVAL(aspp_encode(out, cap, ASPP_SETBAUD, (const uint8_t[256]){ 0 }, 256));
	for (size_t i = 0; i < ARRAY_SIZE(host_commands); i++) {
		uint8_t payload[8] = { 0 }, out[16];

		assert_int_equal(aspp_encode(out, sizeof(out), host_commands[i].cmd, payload,
					     host_commands[i].len),
				 2 + host_commands[i].len);
		assert_int_equal(aspp_encode(out, 1 + host_commands[i].len, host_commands[i].cmd,
					     payload, host_commands[i].len),
				 -ENOSPC);
		assert_int_equal(aspp_encode(out, sizeof(out), host_commands[i].cmd, payload,
					     host_commands[i].len + 1),
				 -EINVAL);
	}

	/* PORT_INIT: each flow bit into its own byte, DTR/RTS from modem. */
	line = make_line(9600, 8, SERIAL_PARITY_NONE, SERIAL_STOP_1, SERIAL_FLOW_CTS);
	EXPECT_ENCODES(aspp_encode_port_init(out, cap, &line),
		       0x2C, 0x08, 0x06, 0x03, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00);
	line.flow = SERIAL_FLOW_RTS;
	EXPECT_ENCODES(aspp_encode_port_init(out, cap, &line),
		       0x2C, 0x08, 0x06, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00);
	line.flow = SERIAL_FLOW_IXOFF;
	line.modem = SERIAL_MODEM_RTS;
	EXPECT_ENCODES(aspp_encode_port_init(out, cap, &line),
		       0x2C, 0x08, 0x06, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01);
	line.modem = SERIAL_MODEM_DTR;
	line.stop_bits = SERIAL_STOP_1_5;
	line.data_bits = 5;
	line.parity = SERIAL_PARITY_SPACE;
	line.baud = 50;
	EXPECT_ENCODES(aspp_encode_port_init(out, cap, &line),
		       0x2C, 0x08, 0x12, 0x24, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01);

	/* IOCTL: baud index, mode byte. */
	line = make_line(19200, 7, SERIAL_PARITY_EVEN, SERIAL_STOP_1, 0);
	EXPECT_ENCODES(aspp_encode_ioctl(out, cap, &line), 0x10, 0x02, 0x07, 0x0A);
	line = make_line(250000, 6, SERIAL_PARITY_ODD, SERIAL_STOP_2, 0);
	EXPECT_ENCODES(aspp_encode_ioctl(out, cap, &line), 0x10, 0x02, 0xFF, 0x15);

	/* Lines serial_line_valid() refuses. */
	line = make_line(9600, 8, SERIAL_PARITY_NONE, SERIAL_STOP_1, 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		bad[i] = line;
	bad[0].baud = 0;
	bad[1].data_bits = 4;
	bad[2].data_bits = 9;
	bad[3].parity = SERIAL_PARITY_SPACE + 1;
	bad[4].stop_bits = 0;
	bad[5].stop_bits = SERIAL_STOP_1_5 + 1;
	bad[6].flow = 0x10;
	bad[7].modem = SERIAL_MODEM_CTS;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EINVAL(aspp_encode_port_init(out, cap, &bad[i]));
		EXPECT_EINVAL(aspp_encode_ioctl(out, cap, &bad[i]));
		EXPECT_EINVAL(aspp_encode_line(out, cap, &bad[i]));
	}

	/* SETBAUD: any rate but 0 (the device answers NA outside 50..921600). */
	EXPECT_ENCODES(aspp_encode_setbaud(out, cap, 921600), 0x17, 0x04, 0x00, 0x10, 0x0E, 0x00);
	EXPECT_ENCODES(aspp_encode_setbaud(out, cap, 50), 0x17, 0x04, 0x32, 0x00, 0x00, 0x00);
	EXPECT_ENCODES(aspp_encode_setbaud(out, cap, 0x12345678),
		       0x17, 0x04, 0x78, 0x56, 0x34, 0x12);
	EXPECT_EINVAL(aspp_encode_setbaud(out, cap, 0));

	EXPECT_ENCODES(aspp_encode_xonxoff(out, cap, 0x01, 0xFE), 0x18, 0x02, 0x01, 0xFE);

	/* FLOWCTRL: CTS flow, RTS flow, IXON, IXOFF. */
	EXPECT_ENCODES(aspp_encode_flowctrl(out, cap, 0), 0x11, 0x04, 0x00, 0x00, 0x00, 0x00);
	EXPECT_ENCODES(aspp_encode_flowctrl(out, cap, SERIAL_FLOW_CTS),
		       0x11, 0x04, 0x01, 0x00, 0x00, 0x00);
	EXPECT_ENCODES(aspp_encode_flowctrl(out, cap, SERIAL_FLOW_RTS),
		       0x11, 0x04, 0x00, 0x01, 0x00, 0x00);
	EXPECT_ENCODES(aspp_encode_flowctrl(out, cap, SERIAL_FLOW_IXON),
		       0x11, 0x04, 0x00, 0x00, 0x01, 0x00);
	EXPECT_ENCODES(aspp_encode_flowctrl(out, cap, SERIAL_FLOW_IXOFF),
		       0x11, 0x04, 0x00, 0x00, 0x00, 0x01);
	EXPECT_EINVAL(aspp_encode_flowctrl(out, cap, 0x10));
	EXPECT_EINVAL(aspp_encode_flowctrl(out, cap, 0xff));

	EXPECT_ENCODES(aspp_encode_linectrl(out, cap, false, false), 0x12, 0x02, 0x00, 0x00);
	EXPECT_ENCODES(aspp_encode_linectrl(out, cap, true, false), 0x12, 0x02, 0x01, 0x00);

	EXPECT_ENCODES(aspp_encode_flush(out, cap, ASPP_FLUSH_RX), 0x14, 0x01, 0x00);
	EXPECT_ENCODES(aspp_encode_flush(out, cap, ASPP_FLUSH_TX), 0x14, 0x01, 0x01);
	EXPECT_EINVAL(aspp_encode_flush(out, cap, 3));

	/* BREAKSEND: big-endian milliseconds, 10..1000. */
	EXPECT_ENCODES(aspp_encode_breaksend(out, cap, 10), 0x23, 0x02, 0x00, 0x0A);
	EXPECT_ENCODES(aspp_encode_breaksend(out, cap, 300), 0x23, 0x02, 0x01, 0x2C);
	EXPECT_ENCODES(aspp_encode_breaksend(out, cap, 1000), 0x23, 0x02, 0x03, 0xE8);
	EXPECT_EINVAL(aspp_encode_breaksend(out, cap, 0));
	EXPECT_EINVAL(aspp_encode_breaksend(out, cap, 9));
	EXPECT_EINVAL(aspp_encode_breaksend(out, cap, 1001));
	EXPECT_EINVAL(aspp_encode_breaksend(out, cap, 65536 + 300));

	EXPECT_ENCODES(aspp_encode_wait_oqueue(out, cap, 0), 0x2F, 0x04, 0x00, 0x00, 0x00, 0x00);
	EXPECT_ENCODES(aspp_encode_wait_oqueue(out, cap, 0xFFFFFFFF),
		       0x2F, 0x04, 0xFF, 0xFF, 0xFF, 0xFF);

	EXPECT_ENCODES(aspp_encode_tx_fifo(out, cap, 1), 0x30, 0x01, 0x01);

	/* Commands without payload, and codes that are not such commands. */
	EXPECT_ENCODES(aspp_encode_simple(out, cap, ASPP_LSTATUS), 0x13, 0x00);
	EXPECT_ENCODES(aspp_encode_simple(out, cap, ASPP_IQUEUE), 0x15, 0x00);
	EXPECT_ENCODES(aspp_encode_simple(out, cap, ASPP_OQUEUE), 0x16, 0x00);
	EXPECT_ENCODES(aspp_encode_simple(out, cap, ASPP_START_NOTIFY), 0x24, 0x00);
	EXPECT_ENCODES(aspp_encode_simple(out, cap, ASPP_STOP_NOTIFY), 0x25, 0x00);
	EXPECT_ENCODES(aspp_encode_simple(out, cap, ASPP_SETXON), 0x33, 0x00);
	EXPECT_ENCODES(aspp_encode_simple(out, cap, ASPP_SETXOFF), 0x34, 0x00);
	EXPECT_ENCODES(aspp_encode_simple(out, cap, ASPP_BREAK_COUNT), 0x37, 0x00);
	EXPECT_ENCODES(aspp_encode_simple(out, cap, ASPP_DATA_STATUS), 0x38, 0x00);
	EXPECT_EINVAL(aspp_encode_simple(out, cap, ASPP_IOCTL));
	EXPECT_EINVAL(aspp_encode_simple(out, cap, ASPP_PORT_INIT));
	EXPECT_EINVAL(aspp_encode_simple(out, cap, ASPP_ALIVE));
	EXPECT_EINVAL(aspp_encode_simple(out, cap, ASPP_NOTIFY));
	EXPECT_EINVAL(aspp_encode_simple(out, cap, ASPP_POLLING));
	EXPECT_EINVAL(aspp_encode_simple(out, cap, 0x01));
	EXPECT_EINVAL(aspp_encode_simple(out, cap, 0x29));
	EXPECT_EINVAL(aspp_encode_simple(out, cap, 0xFF));
}

static void test_encode_line(void **state)
{
	struct serial_line line;
	uint8_t buf[ASPP_LINE_MAX + 4];
	int len;

	/* Everything at once: custom rate and IXOFF with own characters. */
	line = make_line(1800, 8, SERIAL_PARITY_ODD, SERIAL_STOP_1, SERIAL_FLOW_IXOFF);
	line.xon = 0x05;
	line.xoff = 0x06;
	line.modem = 0;
	EXPECT_ENCODES(aspp_encode_line(out, cap, &line),
		       0x2C, 0x08, 0xFF, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
		       0x17, 0x04, 0x08, 0x07, 0x00, 0x00,
		       0x18, 0x02, 0x05, 0x06);
	len = aspp_encode_line(buf, sizeof(buf), &line);
	assert_int_equal(len, ASPP_LINE_MAX);
	for (size_t cap = 0; cap < (size_t)len; cap++)
		assert_int_equal(aspp_encode_line(buf, cap, &line), -ENOSPC);

	/* Hardware flow alone sends no XONXOFF. */
	line = make_line(200, 8, SERIAL_PARITY_NONE, SERIAL_STOP_1,
			 SERIAL_FLOW_CTS | SERIAL_FLOW_RTS);
	EXPECT_ENCODES(aspp_encode_line(out, cap, &line),
		       0x2C, 0x08, 0xFF, 0x03, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00,
		       0x17, 0x04, 0xC8, 0x00, 0x00, 0x00);
}

/* One parsed message, copied out of the stream buffer it pointed into. */
struct rec {
	size_t size;
	struct aspp_reply r;
	uint8_t data[255];
};

struct stream {
	uint8_t buf[1024];
	size_t n;
	struct rec recs[64];
	size_t count;
};

static void rec_take(struct rec *rec, const uint8_t *at, size_t size, const struct aspp_reply *r)
{
	rec->size = size;
	rec->r = *r;
	rec->r.data = NULL;
	if (r->kind == ASPP_REPLY_DATA) {
		assert_ptr_equal(r->data, at + 2);
		assert_int_equal(size, 2 + r->len);
		memcpy(rec->data, r->data, r->len);
	} else {
		assert_null(r->data);
	}
}

static void assert_rec_equal(const struct rec *a, const struct rec *b)
{
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->r.kind, b->r.kind);
	assert_int_equal(a->r.cmd, b->r.cmd);
	assert_int_equal(a->r.len, b->r.len);
	assert_memory_equal(a->data, b->data, a->r.len);
	assert_int_equal(a->r.events, b->r.events);
	assert_int_equal(a->r.msr, b->r.msr);
	assert_int_equal(a->r.hold, b->r.hold);
	assert_int_equal(a->r.poll_id, b->r.poll_id);
	assert_int_equal(a->r.modem, b->r.modem);
	assert_int_equal(a->r.value, b->r.value);
}

/* Append bytes as a read() would, then take every complete message. */
static void stream_feed(struct stream *s, const uint8_t *p, size_t n)
{
	struct aspp_reply r;
	size_t off = 0, used;

	assert_true(s->n + n <= sizeof(s->buf));
	memcpy(s->buf + s->n, p, n);
	s->n += n;
	while ((used = aspp_parse_reply(s->buf + off, s->n - off, &r)) > 0) {
		assert_true(used <= s->n - off);
		assert_true(s->count < ARRAY_SIZE(s->recs));
		rec_take(&s->recs[s->count++], s->buf + off, used, &r);
		off += used;
	}
	/* What is left is the start of one message, never a whole one. */
	assert_true(s->n - off < ASPP_MSG_MAX);
	memmove(s->buf, s->buf + off, s->n - off);
	s->n -= off;
}

static void assert_stream_equal(const struct stream *a, const struct stream *b)
{
	assert_int_equal(a->count, b->count);
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->count; i++)
		assert_rec_equal(&a->recs[i], &b->recs[i]);
}

static void test_parse_reply_kinds(void **state)
{
	uint8_t long_reply[300];
	struct aspp_reply r;

	/* OK and NA for every setter; NA is what SETBAUD out of range gets. */
	for (size_t i = 0; i < ARRAY_SIZE(setters); i++) {
		const uint8_t ok[] = { setters[i], 'O', 'K' }, na[] = { setters[i], 'N', 'A' };

		assert_int_equal(aspp_parse_reply(ok, 3, &r), 3);
		assert_int_equal(r.kind, ASPP_REPLY_OK);
		assert_int_equal(r.cmd, setters[i]);
		assert_int_equal(aspp_parse_reply(na, 3, &r), 3);
		assert_int_equal(r.kind, ASPP_REPLY_NA);
		assert_int_equal(r.cmd, setters[i]);
		for (size_t n = 0; n < 3; n++) {
			assert_int_equal(aspp_parse_reply(ok, n, &r), 0);
			assert_int_equal(aspp_parse_reply(na, n, &r), 0);
		}
	}
	assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x17, 'N', 'A' }, 3, &r), 3);
	assert_int_equal(r.kind, ASPP_REPLY_NA);
	assert_int_equal(r.cmd, ASPP_SETBAUD);

	/* Queries, decoded: LSTATUS / PORT_INIT give DSR CTS DCD. */
	{
		const uint8_t in[] = { 0x13, 0x03, 0x01, 0x00, 0x01, 0xAA };

		assert_int_equal(aspp_parse_reply(in, sizeof(in), &r), 5);
		assert_int_equal(r.kind, ASPP_REPLY_DATA);
		assert_int_equal(r.cmd, ASPP_LSTATUS);
		assert_int_equal(r.len, 3);
		assert_ptr_equal(r.data, in + 2);
		assert_int_equal(r.modem, SERIAL_MODEM_DSR | SERIAL_MODEM_DCD);
		for (size_t n = 0; n < 5; n++)
			assert_int_equal(aspp_parse_reply(in, n, &r), 0);
	}
	assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x2C, 0x03, 0x01, 0x01, 0x01 }, 5, &r),
			 5);
	assert_int_equal(r.kind, ASPP_REPLY_DATA);
	assert_int_equal(r.modem, SERIAL_MODEM_DSR | SERIAL_MODEM_CTS | SERIAL_MODEM_DCD);
	assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x2C, 0x03, 0x00, 0x01, 0x00 }, 5, &r),
			 5);
	assert_int_equal(r.modem, SERIAL_MODEM_CTS);

	/* Queue counts are little-endian, BREAK_COUNT big-endian. */
	assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x15, 0x02, 0x34, 0x12 }, 4, &r), 4);
	assert_int_equal(r.value, 0x1234);
	assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x16, 0x02, 0x00, 0x01 }, 4, &r), 4);
	assert_int_equal(r.value, 0x100);
	assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x2F, 0x02, 0x00, 0x00 }, 4, &r), 4);
	assert_int_equal(r.kind, ASPP_REPLY_DATA);
	assert_int_equal(r.value, 0);
	assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x2F, 0x02, 0xFF, 0xFF }, 4, &r), 4);
	assert_int_equal(r.value, 0xFFFF);
	assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x37, 0x02, 0x12, 0x34 }, 4, &r), 4);
	assert_int_equal(r.value, 0x1234);
	assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x38, 0x01, 0x5A }, 3, &r), 3);
	assert_int_equal(r.value, 0x5A);

	/* A length the answer should not have: framed, but nothing decoded. */
	assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x15, 0x01, 0x07 }, 3, &r), 3);
	assert_int_equal(r.kind, ASPP_REPLY_DATA);
	assert_int_equal(r.len, 1);
	assert_int_equal(r.value, 0);
	assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x37, 0x03, 1, 2, 3 }, 5, &r), 5);
	assert_int_equal(r.value, 0);
	assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x38, 0x00 }, 2, &r), 2);
	assert_int_equal(r.kind, ASPP_REPLY_DATA);
	assert_int_equal(r.len, 0);
	assert_int_equal(r.value, 0);
	assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x13, 0x02, 0x01, 0x01 }, 4, &r), 4);
	assert_int_equal(r.modem, 0);
	/* Longer than three: the three line bytes still lead. */
	assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x13, 0x04, 1, 1, 1, 9 }, 6, &r), 6);
	assert_int_equal(r.modem, SERIAL_MODEM_DSR | SERIAL_MODEM_CTS | SERIAL_MODEM_DCD);

	/* A query with length 255 needs all 257 bytes. */
	memset(long_reply, 0x5A, sizeof(long_reply));
	long_reply[0] = ASPP_IQUEUE;
	long_reply[1] = 0xFF;
	for (size_t n = 0; n < ASPP_MSG_MAX; n++)
		assert_int_equal(aspp_parse_reply(long_reply, n, &r), 0);
	assert_int_equal(aspp_parse_reply(long_reply, ASPP_MSG_MAX, &r), ASPP_MSG_MAX);
	assert_int_equal(r.kind, ASPP_REPLY_DATA);
	assert_int_equal(r.len, 255);
	assert_ptr_equal(r.data, long_reply + 2);
	assert_int_equal(r.value, 0);
	assert_int_equal(aspp_parse_reply(long_reply, sizeof(long_reply), &r), ASPP_MSG_MAX);

	/* NOTIFY: 26 events msr hold, no length byte. */
	{
		const uint8_t in[] = { 0x26, 0x21, 0xB1, 0x80 };

		for (size_t n = 0; n < 4; n++)
			assert_int_equal(aspp_parse_reply(in, n, &r), 0);
		assert_int_equal(aspp_parse_reply(in, 4, &r), 4);
		assert_int_equal(r.kind, ASPP_REPLY_NOTIFY);
		assert_int_equal(r.cmd, ASPP_NOTIFY);
		assert_int_equal(r.events, ASPP_EV_MODEM | ASPP_EV_PARITY);
		assert_int_equal(r.msr, ASPP_MSR_DCD | ASPP_MSR_DSR | ASPP_MSR_CTS | ASPP_MSR_DCTS);
		assert_int_equal(r.hold, ASPP_HOLD_ALWAYS);
	}

	/* POLLING: 27 01 id. */
	{
		const uint8_t in[] = { 0x27, 0x01, 0x07 };

		for (size_t n = 0; n < 3; n++)
			assert_int_equal(aspp_parse_reply(in, n, &r), 0);
		assert_int_equal(aspp_parse_reply(in, 3, &r), 3);
		assert_int_equal(r.kind, ASPP_REPLY_POLLING);
		assert_int_equal(r.cmd, ASPP_POLLING);
		assert_int_equal(r.poll_id, 7);
	}
}

/* Parse a whole buffer at once; every byte must end up in some message. */
static void parse_all(const uint8_t *in, size_t n, struct stream *s)
{
	memset(s, 0, sizeof(*s));
	stream_feed(s, in, n);
	assert_int_equal(s->n, 0);
}

static void test_parse_reply_resync(void **state)
{
	static const struct {
		uint8_t in[8];
		size_t n;
		uint8_t kinds[8];	/* one per message, JUNK counts one byte */
		size_t count;
	} cases[] = {
		/* Codes no device sends: unknown, internal 01/02, host-only ALIVE. */
		{ { 0x00 }, 1, { ASPP_REPLY_JUNK }, 1 },
		{ { 0x01, 0x02 }, 2, { ASPP_REPLY_JUNK, ASPP_REPLY_JUNK }, 2 },
		{ { 0x28, 0x01, 0x05 }, 3,
		  { ASPP_REPLY_JUNK, ASPP_REPLY_JUNK, ASPP_REPLY_JUNK }, 3 },
		{ { 0xFF, 0x29, 0x10, 'O', 'K' }, 5,
		  { ASPP_REPLY_JUNK, ASPP_REPLY_JUNK, ASPP_REPLY_OK }, 3 },
		/* A setter code not followed by OK or NA. */
		{ { 0x10, 'O', 'A' }, 3, { ASPP_REPLY_JUNK, ASPP_REPLY_JUNK, ASPP_REPLY_JUNK }, 3 },
		{ { 0x10, 'N', 'K' }, 3, { ASPP_REPLY_JUNK, ASPP_REPLY_JUNK, ASPP_REPLY_JUNK }, 3 },
		{ { 0x10, 0x10, 'O', 'K' }, 4, { ASPP_REPLY_JUNK, ASPP_REPLY_OK }, 2 },
		{ { 0x17, 0x17, 'N', 'A' }, 4, { ASPP_REPLY_JUNK, ASPP_REPLY_NA }, 2 },
		/* POLLING whose second byte is not 01: its id is then junk too. */
		{ { 0x27, 0x02, 0x05 }, 3,
		  { ASPP_REPLY_JUNK, ASPP_REPLY_JUNK, ASPP_REPLY_JUNK }, 3 },
		{ { 0x27, 0x27, 0x01, 0x09 }, 4, { ASPP_REPLY_JUNK, ASPP_REPLY_POLLING }, 2 },
		/* After junk, a NOTIFY and a query are found again. */
		{ { 0x99, 0x26, 0x20, 0x10, 0x80, 0x15, 0x00 }, 7,
		  { ASPP_REPLY_JUNK, ASPP_REPLY_NOTIFY, ASPP_REPLY_DATA }, 3 },
	};
	struct stream s;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t off = 0;

		parse_all(cases[i].in, cases[i].n, &s);
		assert_int_equal(s.count, cases[i].count);
		for (size_t m = 0; m < s.count; m++) {
			assert_int_equal(s.recs[m].r.kind, cases[i].kinds[m]);
			assert_int_equal(s.recs[m].r.cmd, cases[i].in[off]);
			if (s.recs[m].r.kind == ASPP_REPLY_JUNK)
				assert_int_equal(s.recs[m].size, 1);
			off += s.recs[m].size;
		}
	}

	/* A setter code alone at the end of the buffer waits for more. */
	{
		struct aspp_reply r;

		assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x10, 'O' }, 2, &r), 0);
		assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x10, 'N' }, 2, &r), 0);
		assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x10, 'X' }, 2, &r), 1);
		assert_int_equal(r.kind, ASPP_REPLY_JUNK);
		assert_int_equal(aspp_parse_reply((const uint8_t[]){ 0x27, 0x00 }, 2, &r), 1);
		assert_int_equal(r.kind, ASPP_REPLY_JUNK);
	}
}

static void test_parse_reply_stream(void **state)
{
	/* An open, then traffic: replies in request order with NOTIFY/POLLING between. */
	static const uint8_t head[] = {
		0x2C, 0x03, 0x01, 0x01, 0x00,	/* PORT_INIT: DSR CTS */
		0x26, 0x20, 0xB1, 0x80,		/* NOTIFY right after it */
		0x18, 'O', 'K',			/* XONXOFF */
		0x30, 'O', 'K',			/* TX_FIFO */
		0x27, 0x01, 0x07,		/* POLLING */
		0x12, 'O', 'K',			/* LINECTRL */
		0x13, 0x03, 0x00, 0x01, 0x01,	/* LSTATUS: CTS DCD */
		0xFF,				/* junk */
		0x17, 'N', 'A',			/* SETBAUD rejected */
		0x2F, 0x02, 0x00, 0x00,		/* WAIT_OQUEUE: drained */
		0x26, 0x10, 0x30, 0x80,		/* NOTIFY: break */
		0x37, 0x02, 0x00, 0x03,		/* BREAK_COUNT 3 */
		0x38, 0x01, 0x01,		/* DATA_STATUS */
		0x15, 0x02, 0x10, 0x00,		/* IQUEUE 16 */
		0x27, 0x01, 0x08,		/* POLLING */
		0x16, 0x02, 0x00, 0x01,		/* OQUEUE 256 */
		0x14, 'O', 'K',			/* FLUSH */
		0x16, 0xFF,			/* an OQUEUE answer of 255 bytes follows */
	};
	static const struct {
		uint8_t kind, cmd;
		uint32_t value;
	} want[] = {
		{ ASPP_REPLY_DATA, 0x2C, 0 },	 { ASPP_REPLY_NOTIFY, 0x26, 0 },
		{ ASPP_REPLY_OK, 0x18, 0 },	 { ASPP_REPLY_OK, 0x30, 0 },
		{ ASPP_REPLY_POLLING, 0x27, 0 }, { ASPP_REPLY_OK, 0x12, 0 },
		{ ASPP_REPLY_DATA, 0x13, 0 },	 { ASPP_REPLY_JUNK, 0xFF, 0 },
		{ ASPP_REPLY_NA, 0x17, 0 },	 { ASPP_REPLY_DATA, 0x2F, 0 },
		{ ASPP_REPLY_NOTIFY, 0x26, 0 },	 { ASPP_REPLY_DATA, 0x37, 3 },
		{ ASPP_REPLY_DATA, 0x38, 1 },	 { ASPP_REPLY_DATA, 0x15, 16 },
		{ ASPP_REPLY_POLLING, 0x27, 0 }, { ASPP_REPLY_DATA, 0x16, 256 },
		{ ASPP_REPLY_OK, 0x14, 0 },	 { ASPP_REPLY_DATA, 0x16, 0 },
		{ ASPP_REPLY_OK, 0x10, 0 },
	};
	static const uint8_t tail[] = { 0x10, 'O', 'K', 0x13, 0x03, 0x01 };	/* + incomplete */
	static uint8_t in[sizeof(head) + 255 + sizeof(tail)];
	static struct stream whole, split;
	size_t n = 0;

	memcpy(in, head, sizeof(head));
	n += sizeof(head);
	for (int i = 0; i < 255; i++)
		in[n++] = (uint8_t)i;
	memcpy(in + n, tail, sizeof(tail));
	n += sizeof(tail);

	/* All at once. */
	memset(&whole, 0, sizeof(whole));
	stream_feed(&whole, in, n);
	assert_int_equal(whole.count, ARRAY_SIZE(want));
	assert_int_equal(whole.n, 3);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		assert_int_equal(whole.recs[i].r.kind, want[i].kind);
		assert_int_equal(whole.recs[i].r.cmd, want[i].cmd);
		assert_int_equal(whole.recs[i].r.value, want[i].value);
	}
	assert_int_equal(whole.recs[0].r.modem, SERIAL_MODEM_DSR | SERIAL_MODEM_CTS);
	assert_int_equal(whole.recs[4].r.poll_id, 7);
	assert_int_equal(whole.recs[6].r.modem, SERIAL_MODEM_CTS | SERIAL_MODEM_DCD);
	assert_int_equal(whole.recs[10].r.events, ASPP_EV_BREAK);
	assert_int_equal(whole.recs[17].r.len, 255);
	assert_int_equal(whole.recs[17].data[254], 254);

	/* Split into two reads at every point. */
	for (size_t cut = 0; cut <= n; cut++) {
		memset(&split, 0, sizeof(split));
		stream_feed(&split, in, cut);
		stream_feed(&split, in + cut, n - cut);
		assert_stream_equal(&split, &whole);
	}

	/* Byte by byte, and in reads of 2, 3, 5 and 7 bytes. */
	for (size_t step = 1; step <= 7; step++) {
		if (step == 4 || step == 6)
			continue;
		memset(&split, 0, sizeof(split));
		for (size_t off = 0; off < n; off += step)
			stream_feed(&split, in + off, off + step <= n ? step : n - off);
		assert_stream_equal(&split, &whole);
	}
}

static void test_parse_command(void **state)
{
	struct aspp_command c;
	uint8_t in[2 + 255 + 1];

	/* Exactly one length is known for each host command; nothing else is known. */
	for (unsigned int cmd = 0; cmd <= 0xff; cmd++) {
		int want_len = -1, known = 0;

		for (size_t i = 0; i < ARRAY_SIZE(host_commands); i++)
			if (host_commands[i].cmd == cmd)
				want_len = host_commands[i].len;
		for (unsigned int len = 0; len <= 0xff; len++) {
			memset(in, 0xA5, sizeof(in));
			in[0] = (uint8_t)cmd;
			in[1] = (uint8_t)len;
			for (size_t n = 0; n < 2 + len; n++)
				assert_int_equal(aspp_parse_command(in, n, &c), 0);
			assert_int_equal(aspp_parse_command(in, 2 + len, &c), 2 + len);
			assert_int_equal(aspp_parse_command(in, sizeof(in), &c), 2 + len);
			assert_int_equal(c.cmd, cmd);
			assert_int_equal(c.len, len);
			assert_ptr_equal(c.payload, in + 2);
			if (aspp_command_known(&c)) {
				known++;
				assert_int_equal(len, want_len);
			}
		}
		assert_int_equal(known, want_len >= 0 ? 1 : 0);
	}

	/* Device -> host codes are not commands. */
	c = (struct aspp_command){ .cmd = ASPP_NOTIFY, .len = 3, .payload = in };
	assert_false(aspp_command_known(&c));
	c = (struct aspp_command){ .cmd = ASPP_POLLING, .len = 1, .payload = in };
	assert_false(aspp_command_known(&c));

	/* The open sequence in one write, then an unknown command framed all the same. */
	{
		static const uint8_t seq[] = {
			0x2C, 0x08, 0x06, 0x03, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00,
			0x18, 0x02, 0x11, 0x13,
			0x30, 0x01, 0x10,
			0x29, 0x02, 0xAA, 0xBB,
			0x21, 0x00,
			0x28, 0x01, 0x07,
		};
		static const uint8_t cmds[] = { 0x2C, 0x18, 0x30, 0x29, 0x21, 0x28 };
		static const bool known[] = { true, true, true, false, true, true };
		size_t off = 0, used, i = 0;

		while ((used = aspp_parse_command(seq + off, sizeof(seq) - off, &c)) > 0) {
			assert_true(i < ARRAY_SIZE(cmds));
			assert_int_equal(c.cmd, cmds[i]);
			assert_int_equal(aspp_command_known(&c), known[i]);
			off += used;
			i++;
		}
		assert_int_equal(i, ARRAY_SIZE(cmds));
		assert_int_equal(off, sizeof(seq));
	}
}

/* Encode, parse as the device, decode: the same line comes back. */
static void check_port_init_round_trip(const struct serial_line *line)
{
	struct serial_line got;
	struct aspp_command c;
	uint8_t out[16];

	assert_int_equal(aspp_encode_port_init(out, sizeof(out), line), 10);
	assert_int_equal(aspp_parse_command(out, sizeof(out), &c), 10);
	assert_true(aspp_command_known(&c));
	serial_line_default(&got);
	got.baud = 1;
	got.xon = 0x55;
	got.xoff = 0x66;
	assert_int_equal(aspp_decode_port_init(&c, &got), 0);
	/* Index FF: baud stays 0 until the SETBAUD that follows. */
	assert_int_equal(got.baud,
			 aspp_baud_index(line->baud) == ASPP_BAUD_CUSTOM ? 0 : line->baud);
	assert_int_equal(got.data_bits, line->data_bits);
	assert_int_equal(got.parity, line->parity);
	/* One stop-bit flag on the wire: 1.5 comes back as two. */
	assert_int_equal(got.stop_bits,
			 line->stop_bits == SERIAL_STOP_1 ? SERIAL_STOP_1 : SERIAL_STOP_2);
	assert_int_equal(got.flow, line->flow);
	assert_int_equal(got.modem, line->modem);
	/* XON/XOFF characters are not in PORT_INIT. */
	assert_int_equal(got.xon, 0x55);
	assert_int_equal(got.xoff, 0x66);
}

static void test_decode_port_init(void **state)
{
	static const uint8_t stops[] = { SERIAL_STOP_1, SERIAL_STOP_2, SERIAL_STOP_1_5 };
	static const uint32_t bauds[] = { 9600, 250000 };
	struct serial_line line, got;
	struct aspp_command c;

	/* The doc's example. */
	{
		static const uint8_t in[] = {
			0x2C, 0x08, 0x07, 0x0A, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00,
		};

		assert_int_equal(aspp_parse_command(in, sizeof(in), &c), sizeof(in));
		memset(&got, 0, sizeof(got));
		assert_int_equal(aspp_decode_port_init(&c, &got), 0);
		assert_int_equal(got.baud, 19200);
		assert_int_equal(got.data_bits, 7);
		assert_int_equal(got.parity, SERIAL_PARITY_EVEN);
		assert_int_equal(got.stop_bits, SERIAL_STOP_1);
		assert_int_equal(got.flow, 0);
		assert_int_equal(got.modem, SERIAL_MODEM_DTR | SERIAL_MODEM_RTS);
	}

	/* Round trip: every baud index, then every mode, flow and DTR/RTS setting. */
	for (size_t i = 0; i < ARRAY_SIZE(baud_table); i++) {
		line = make_line(baud_table[i].baud, 8, SERIAL_PARITY_NONE, SERIAL_STOP_1, 0);
		check_port_init_round_trip(&line);
	}
	for (size_t b = 0; b < ARRAY_SIZE(bauds); b++)
		for (uint8_t bits = 5; bits <= 8; bits++)
			for (uint8_t parity = 0; parity <= SERIAL_PARITY_SPACE; parity++)
				for (size_t st = 0; st < ARRAY_SIZE(stops); st++)
					for (uint8_t flow = 0; flow <= 0x0f; flow++)
						for (uint8_t modem = 0; modem <= 3; modem++) {
							line = make_line(bauds[b], bits, parity,
									 stops[st], flow);
							line.modem = modem;
							check_port_init_round_trip(&line);
						}

	/* Any non-zero flag byte means on. */
	{
		static const uint8_t in[] = {
			0x2C, 0x08, 0x06, 0x03, 0x02, 0xFF, 0x80, 0x00, 0x10, 0x01,
		};

		assert_int_equal(aspp_parse_command(in, sizeof(in), &c), sizeof(in));
		assert_int_equal(aspp_decode_port_init(&c, &got), 0);
		assert_int_equal(got.modem, SERIAL_MODEM_DTR | SERIAL_MODEM_RTS);
		assert_int_equal(got.flow, SERIAL_FLOW_CTS | SERIAL_FLOW_IXON | SERIAL_FLOW_IXOFF);
	}

	/* Refused, and *line left alone: wrong code or length, bad index, undefined mode bits. */
	{
		static const uint8_t bad[][10] = {
			{ 0x10, 0x08, 0x06, 0x03, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00 },
			{ 0x2C, 0x07, 0x06, 0x03, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00 },
			{ 0x2C, 0x08, 0x13, 0x03, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00 },
			{ 0x2C, 0x08, 0xFE, 0x03, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00 },
			{ 0x2C, 0x08, 0x06, 0x28, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00 },
			{ 0x2C, 0x08, 0x06, 0x38, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00 },
			{ 0x2C, 0x08, 0x06, 0x43, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00 },
			{ 0x2C, 0x08, 0x06, 0x83, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00 },
		};
		struct serial_line before;

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			assert_true(aspp_parse_command(bad[i], sizeof(bad[i]), &c) > 0);
			memset(&got, 0x77, sizeof(got));
			memcpy(&before, &got, sizeof(got));
			assert_int_equal(aspp_decode_port_init(&c, &got), -EINVAL);
			assert_memory_equal(&got, &before, sizeof(got));
		}
	}
}

static void test_encode_replies(void **state)
{
	static uint8_t data[256];
	struct aspp_reply r;

	/* OK / NA only for setters. */
	EXPECT_ENCODES(aspp_encode_ok(out, cap, ASPP_IOCTL), 0x10, 'O', 'K');
	EXPECT_ENCODES(aspp_encode_na(out, cap, ASPP_SETBAUD), 0x17, 'N', 'A');
	for (size_t i = 0; i < ARRAY_SIZE(setters); i++) {
		uint8_t out[3];

		assert_int_equal(aspp_encode_ok(out, sizeof(out), setters[i]), 3);
		assert_int_equal(aspp_parse_reply(out, sizeof(out), &r), 3);
		assert_int_equal(r.kind, ASPP_REPLY_OK);
		assert_int_equal(aspp_encode_na(out, sizeof(out), setters[i]), 3);
		assert_int_equal(aspp_parse_reply(out, sizeof(out), &r), 3);
		assert_int_equal(r.kind, ASPP_REPLY_NA);
	}
	EXPECT_EINVAL(aspp_encode_ok(out, cap, ASPP_LSTATUS));
	EXPECT_EINVAL(aspp_encode_ok(out, cap, ASPP_ALIVE));
	EXPECT_EINVAL(aspp_encode_ok(out, cap, ASPP_NOTIFY));
	EXPECT_EINVAL(aspp_encode_na(out, cap, 0x99));

	/* Query answers: [cmd][n][data]. */
	EXPECT_ENCODES(aspp_encode_answer(out, cap, ASPP_DATA_STATUS, (const uint8_t[]){ 0x5A }, 1),
		       0x38, 0x01, 0x5A);
	EXPECT_ENCODES(aspp_encode_answer(out, cap, ASPP_DATA_STATUS, NULL, 0), 0x38, 0x00);
	for (size_t i = 0; i < ARRAY_SIZE(queries); i++) {
		uint8_t out[4];

		assert_int_equal(aspp_encode_answer(out, sizeof(out), queries[i], data, 2), 4);
		assert_int_equal(aspp_parse_reply(out, sizeof(out), &r), 4);
		assert_int_equal(r.kind, ASPP_REPLY_DATA);
		assert_int_equal(r.cmd, queries[i]);
	}
	for (int i = 0; i < 255; i++)
		data[i] = (uint8_t)(i * 7);
	{
		uint8_t out[ASPP_MSG_MAX];

		assert_int_equal(aspp_encode_answer(out, sizeof(out), ASPP_OQUEUE, data, 255), 257);
		assert_int_equal(out[0], ASPP_OQUEUE);
		assert_int_equal(out[1], 255);
		assert_memory_equal(out + 2, data, 255);
		assert_int_equal(aspp_encode_answer(out, sizeof(out) - 1, ASPP_OQUEUE, data, 255),
				 -ENOSPC);
	}
	EXPECT_EINVAL(aspp_encode_answer(out, cap, ASPP_OQUEUE, data, 256));
	EXPECT_EINVAL(aspp_encode_answer(out, cap, ASPP_IOCTL, data, 1));
	EXPECT_EINVAL(aspp_encode_answer(out, cap, ASPP_NOTIFY, data, 3));
	EXPECT_EINVAL(aspp_encode_answer(out, cap, 0x42, data, 1));

	/* LSTATUS / PORT_INIT: DSR CTS DCD; other modem bits are not on the wire. */
	EXPECT_ENCODES(aspp_encode_lstatus(out, cap, ASPP_LSTATUS,
					   SERIAL_MODEM_DSR | SERIAL_MODEM_CTS | SERIAL_MODEM_DCD),
		       0x13, 0x03, 0x01, 0x01, 0x01);
	EXPECT_ENCODES(aspp_encode_lstatus(out, cap, ASPP_PORT_INIT, SERIAL_MODEM_DCD),
		       0x2C, 0x03, 0x00, 0x00, 0x01);
	EXPECT_ENCODES(aspp_encode_lstatus(out, cap, ASPP_LSTATUS, SERIAL_MODEM_DSR),
		       0x13, 0x03, 0x01, 0x00, 0x00);
	EXPECT_ENCODES(aspp_encode_lstatus(out, cap, ASPP_LSTATUS,
					   SERIAL_MODEM_CTS | SERIAL_MODEM_RI | SERIAL_MODEM_DTR |
						   SERIAL_MODEM_RTS),
		       0x13, 0x03, 0x00, 0x01, 0x00);
	EXPECT_EINVAL(aspp_encode_lstatus(out, cap, ASPP_IQUEUE, 0));
	EXPECT_EINVAL(aspp_encode_lstatus(out, cap, ASPP_LINECTRL, 0));

	/* Queue counts little-endian; BREAK_COUNT big-endian. */
	EXPECT_ENCODES(aspp_encode_queue(out, cap, ASPP_IQUEUE, 0x1234), 0x15, 0x02, 0x34, 0x12);
	EXPECT_ENCODES(aspp_encode_queue(out, cap, ASPP_OQUEUE, 1), 0x16, 0x02, 0x01, 0x00);
	EXPECT_ENCODES(aspp_encode_queue(out, cap, ASPP_WAIT_OQUEUE, 0), 0x2F, 0x02, 0x00, 0x00);
	EXPECT_EINVAL(aspp_encode_queue(out, cap, ASPP_BREAK_COUNT, 0));
	EXPECT_EINVAL(aspp_encode_queue(out, cap, ASPP_LSTATUS, 0));
	EXPECT_EINVAL(aspp_encode_queue(out, cap, ASPP_SETBAUD, 0));
	EXPECT_ENCODES(aspp_encode_break_count(out, cap, 0x1234), 0x37, 0x02, 0x12, 0x34);
	EXPECT_ENCODES(aspp_encode_break_count(out, cap, 3), 0x37, 0x02, 0x00, 0x03);

	EXPECT_ENCODES(aspp_encode_notify(out, cap, ASPP_EV_MODEM, ASPP_MSR_DCD | ASPP_MSR_DDCD,
					  ASPP_HOLD_ALWAYS),
		       0x26, 0x20, 0x88, 0x80);
	EXPECT_ENCODES(aspp_encode_polling(out, cap, 0x07), 0x27, 0x01, 0x07);

	/* What the device encodes, the host decodes to the same values. */
	{
		uint8_t out[8];

		aspp_encode_lstatus(out, sizeof(out), ASPP_PORT_INIT,
				    SERIAL_MODEM_DSR | SERIAL_MODEM_DCD);
		assert_int_equal(aspp_parse_reply(out, sizeof(out), &r), 5);
		assert_int_equal(r.modem, SERIAL_MODEM_DSR | SERIAL_MODEM_DCD);
		for (unsigned int v = 0; v <= 0xffff; v += 257) {
			aspp_encode_queue(out, sizeof(out), ASPP_WAIT_OQUEUE, (uint16_t)v);
			assert_int_equal(aspp_parse_reply(out, sizeof(out), &r), 4);
			assert_int_equal(r.value, v);
			aspp_encode_break_count(out, sizeof(out), (uint16_t)(v + 1));
			assert_int_equal(aspp_parse_reply(out, sizeof(out), &r), 4);
			assert_int_equal(r.value, (uint16_t)(v + 1));
		}
		aspp_encode_notify(out, sizeof(out), 0x1F, 0xF0, 0x9F);
		assert_int_equal(aspp_parse_reply(out, sizeof(out), &r), 4);
		assert_int_equal(r.events, 0x1F);
		assert_int_equal(r.msr, 0xF0);
		assert_int_equal(r.hold, 0x9F);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_baud_table),
		cmocka_unit_test(test_mode_byte),
		cmocka_unit_test(test_encode_doc_examples),
		cmocka_unit_test(test_encode_commands),
		cmocka_unit_test(test_encode_line),
		cmocka_unit_test(test_parse_reply_kinds),
		cmocka_unit_test(test_parse_reply_resync),
		cmocka_unit_test(test_parse_reply_stream),
		cmocka_unit_test(test_parse_command),
		cmocka_unit_test(test_decode_port_init),
		cmocka_unit_test(test_encode_replies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
