// SPDX-License-Identifier: GPL-2.0-or-later
/* Serial line settings shared by the codecs: defaults and validation. */
#include "serial.h"

void serial_line_default(struct serial_line *line)
{
	*line = (struct serial_line){
		.baud = 9600,
		.data_bits = 8,
		.parity = SERIAL_PARITY_NONE,
		.stop_bits = SERIAL_STOP_1,
		.flow = 0,
		.xon = SERIAL_XON_DEFAULT,
		.xoff = SERIAL_XOFF_DEFAULT,
		.modem = SERIAL_MODEM_DTR | SERIAL_MODEM_RTS,
	};
}

bool serial_line_valid(const struct serial_line *line)
{
	return line->baud > 0 &&
	       line->data_bits >= 5 && line->data_bits <= 8 &&
	       line->parity <= SERIAL_PARITY_SPACE &&
	       line->stop_bits >= SERIAL_STOP_1 && line->stop_bits <= SERIAL_STOP_1_5 &&
	       (line->flow & ~(SERIAL_FLOW_CTS | SERIAL_FLOW_RTS |
			       SERIAL_FLOW_IXON | SERIAL_FLOW_IXOFF)) == 0 &&
	       (line->modem & ~(SERIAL_MODEM_DTR | SERIAL_MODEM_RTS)) == 0;
}

const char *serial_parity_name(uint8_t parity)
{
	static const char *const names[] = { "none", "odd", "even", "mark", "space" };

	return parity <= SERIAL_PARITY_SPACE ? names[parity] : "?";
}
