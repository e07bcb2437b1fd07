// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the shared line settings (common/serial.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "serial.h"

static void test_default(void **state)
{
	struct serial_line l;

	serial_line_default(&l);
	assert_int_equal(l.baud, 9600);
	assert_int_equal(l.data_bits, 8);
	assert_int_equal(l.parity, SERIAL_PARITY_NONE);
	assert_int_equal(l.stop_bits, SERIAL_STOP_1);
	assert_int_equal(l.flow, 0);
	assert_int_equal(l.xon, 0x11);
	assert_int_equal(l.xoff, 0x13);
	assert_int_equal(l.modem, SERIAL_MODEM_DTR | SERIAL_MODEM_RTS);
	assert_true(serial_line_valid(&l));
}

static void test_invalid(void **state)
{
	struct serial_line l;

	serial_line_default(&l);
	l.baud = 0;
	assert_false(serial_line_valid(&l));
	serial_line_default(&l);
	l.data_bits = 4;
	assert_false(serial_line_valid(&l));
	l.data_bits = 9;
	assert_false(serial_line_valid(&l));
	serial_line_default(&l);
	l.parity = SERIAL_PARITY_SPACE + 1;
	assert_false(serial_line_valid(&l));
	serial_line_default(&l);
	l.stop_bits = 0;
	assert_false(serial_line_valid(&l));
	l.stop_bits = SERIAL_STOP_1_5 + 1;
	assert_false(serial_line_valid(&l));
	serial_line_default(&l);
	l.flow = 0x10;
	assert_false(serial_line_valid(&l));
	serial_line_default(&l);
	l.modem = SERIAL_MODEM_CTS;	/* an input line cannot be driven */
	assert_false(serial_line_valid(&l));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
