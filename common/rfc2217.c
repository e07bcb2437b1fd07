// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * RFC 2217 COM-PORT-OPTION messages: encoders for every command, the decoder for payloads that
 * telnet.c hands up, and wire <-> struct serial_line mappings.  Framing and FF doubling are
 * telnet_encode_sb()'s.  Values are checked for size, not meaning: what an answer means, and
 * whether to trust it (docs/rfc2217.md, "What real servers do"), is the protocol driver's call.
 */
#include <errno.h>
#include <string.h>

#include "rfc2217.h"
#include "telnet.h"

#define CODE_MAX	RFC2217_PURGE_DATA

static bool code_valid(uint8_t code)
{
	return code <= CODE_MAX || (code >= RFC2217_SERVER && code <= RFC2217_SERVER + CODE_MAX);
}

static uint8_t code_cmd(uint8_t code)
{
	return code >= RFC2217_SERVER ? code - RFC2217_SERVER : code;
}

/*
 * How many value bytes a command takes.  strict is what we send, otherwise what we accept:
 * - SIGNATURE: any text that fits a sub-negotiation (TELNET_SB_MAX counts the code byte too).
 * - SET-BAUDRATE: 4 bytes, or 1 byte for Cisco's pre-RFC index form, which a server may
 *   answer with (ser2net echoes a 1-byte request in 1 byte, docs/rfc2217.md).
 * - FLOWCONTROL-SUSPEND/RESUME: no value; a received stray byte is tolerated and ignored.
 * - everything else: exactly 1 byte.
 */
static bool value_size_ok(uint8_t cmd, size_t n, bool strict)
{
	switch (cmd) {
	case RFC2217_SIGNATURE:
		return n < TELNET_SB_MAX;
	case RFC2217_SET_BAUDRATE:
		/* 8: sredird's answer, the rate and four zero bytes */
		return n == 4 || n == 1 || (!strict && n == 8);
	case RFC2217_FLOWCONTROL_SUSPEND:
	case RFC2217_FLOWCONTROL_RESUME:
		return n == 0 || (!strict && n == 1);
	default:
		return n == 1;
	}
}

int rfc2217_encode(uint8_t *out, size_t cap, uint8_t code, const uint8_t *val, size_t n)
{
	uint8_t payload[TELNET_SB_MAX];

	if (!code_valid(code) || !value_size_ok(code_cmd(code), n, true))
		return -EINVAL;
	payload[0] = code;
	if (n)
		memcpy(payload + 1, val, n);
	return telnet_encode_sb(out, cap, TELNET_OPT_COM_PORT, payload, n + 1);
}

int rfc2217_encode_u8(uint8_t *out, size_t cap, uint8_t code, uint8_t value)
{
	return rfc2217_encode(out, cap, code, &value, 1);
}

int rfc2217_encode_baud(uint8_t *out, size_t cap, uint8_t code, uint32_t baud)
{
	const uint8_t be[4] = { baud >> 24, baud >> 16, baud >> 8, baud };

	if (code_cmd(code) != RFC2217_SET_BAUDRATE)
		return -EINVAL;
	return rfc2217_encode(out, cap, code, be, sizeof(be));
}

int rfc2217_encode_signature(uint8_t *out, size_t cap, uint8_t code, const char *text)
{
	size_t n = text ? strnlen(text, TELNET_SB_MAX) : 0;

	if (code_cmd(code) != RFC2217_SIGNATURE)
		return -EINVAL;
	/* Too long a text fails the size check rather than being cut short. */
	return rfc2217_encode(out, cap, code, (const uint8_t *)text, n);
}

int rfc2217_decode(const uint8_t *val, size_t n, struct rfc2217_msg *m)
{
	const uint8_t *v = val + 1;
	size_t len;

	memset(m, 0, sizeof(*m));
	if (n < 1 || !code_valid(val[0]))
		return -EBADMSG;
	len = n - 1;
	m->code = val[0];
	m->cmd = code_cmd(m->code);
	m->from_server = m->code >= RFC2217_SERVER;
	if (!value_size_ok(m->cmd, len, false))
		return -EBADMSG;

	switch (m->cmd) {
	case RFC2217_SIGNATURE:
		m->text = v;
		m->text_len = len;
		break;
	case RFC2217_SET_BAUDRATE:
		if (len == 8 && (v[4] | v[5] | v[6] | v[7]))
			return -EBADMSG;
		if (len >= 4)
			m->value = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 |
				   (uint32_t)v[2] << 8 | v[3];
		else
			m->value = v[0];	/* Cisco's index, passed on as is */
		break;
	case RFC2217_FLOWCONTROL_SUSPEND:
	case RFC2217_FLOWCONTROL_RESUME:
		break;				/* a stray value byte is ignored */
	default:
		m->value = v[0];
		break;
	}
	return 0;
}

/* For an unknown serial value the *_to_wire helpers return 0, the query: never a setting. */
uint8_t rfc2217_parity_to_wire(uint8_t serial_parity)
{
	switch (serial_parity) {
	case SERIAL_PARITY_NONE:
		return RFC2217_PARITY_NONE;
	case SERIAL_PARITY_ODD:
		return RFC2217_PARITY_ODD;
	case SERIAL_PARITY_EVEN:
		return RFC2217_PARITY_EVEN;
	case SERIAL_PARITY_MARK:
		return RFC2217_PARITY_MARK;
	case SERIAL_PARITY_SPACE:
		return RFC2217_PARITY_SPACE;
	default:
		return RFC2217_PARITY_QUERY;
	}
}

int rfc2217_parity_from_wire(uint8_t value)
{
	switch (value) {
	case RFC2217_PARITY_NONE:
		return SERIAL_PARITY_NONE;
	case RFC2217_PARITY_ODD:
		return SERIAL_PARITY_ODD;
	case RFC2217_PARITY_EVEN:
		return SERIAL_PARITY_EVEN;
	case RFC2217_PARITY_MARK:
		return SERIAL_PARITY_MARK;
	case RFC2217_PARITY_SPACE:
		return SERIAL_PARITY_SPACE;
	default:
		return -EINVAL;
	}
}

uint8_t rfc2217_stop_to_wire(uint8_t serial_stop)
{
	switch (serial_stop) {
	case SERIAL_STOP_1:
		return RFC2217_STOP_1;
	case SERIAL_STOP_2:
		return RFC2217_STOP_2;
	case SERIAL_STOP_1_5:
		return RFC2217_STOP_1_5;
	default:
		return RFC2217_STOP_QUERY;
	}
}

int rfc2217_stop_from_wire(uint8_t value)
{
	switch (value) {
	case RFC2217_STOP_1:
		return SERIAL_STOP_1;
	case RFC2217_STOP_2:
		return SERIAL_STOP_2;
	case RFC2217_STOP_1_5:
		return SERIAL_STOP_1_5;
	default:
		return -EINVAL;
	}
}

/*
 * Input lines only; the delta bits are dropped: edges come from successive
 * states (docs/rfc2217.md, "What the client does").
 */
static const struct {
	uint8_t serial;
	uint8_t wire;
} modem_map[] = {
	{ SERIAL_MODEM_CTS, RFC2217_MS_CTS },
	{ SERIAL_MODEM_DSR, RFC2217_MS_DSR },
	{ SERIAL_MODEM_RI, RFC2217_MS_RI },
	{ SERIAL_MODEM_DCD, RFC2217_MS_CD },
};

uint8_t rfc2217_modem_to_wire(uint8_t serial_modem)
{
	uint8_t v = 0;

	for (size_t i = 0; i < sizeof(modem_map) / sizeof(modem_map[0]); i++)
		if (serial_modem & modem_map[i].serial)
			v |= modem_map[i].wire;
	return v;
}

uint8_t rfc2217_modem_from_wire(uint8_t value)
{
	uint8_t m = 0;

	for (size_t i = 0; i < sizeof(modem_map) / sizeof(modem_map[0]); i++)
		if (value & modem_map[i].wire)
			m |= modem_map[i].serial;
	return m;
}

/* SET-CONTROL for each flow direction: hardware first, then XON/XOFF, else none. */
static uint8_t ctl_outflow(uint8_t flow)
{
	if (flow & SERIAL_FLOW_CTS)
		return RFC2217_CTL_FLOW_HARDWARE;
	if (flow & SERIAL_FLOW_IXON)
		return RFC2217_CTL_FLOW_XONXOFF;
	return RFC2217_CTL_FLOW_NONE;
}

static uint8_t ctl_inflow(uint8_t flow)
{
	if (flow & SERIAL_FLOW_RTS)
		return RFC2217_CTL_INFLOW_HARDWARE;
	if (flow & SERIAL_FLOW_IXOFF)
		return RFC2217_CTL_INFLOW_XONXOFF;
	return RFC2217_CTL_INFLOW_NONE;
}

int rfc2217_encode_line(uint8_t *out, size_t cap, const struct serial_line *line)
{
	struct {
		uint8_t code, value;
	} msg[] = {
		{ RFC2217_SET_DATASIZE, line->data_bits },
		{ RFC2217_SET_PARITY, rfc2217_parity_to_wire(line->parity) },
		{ RFC2217_SET_STOPSIZE, rfc2217_stop_to_wire(line->stop_bits) },
		{ RFC2217_SET_CONTROL, ctl_outflow(line->flow) },
		{ RFC2217_SET_CONTROL, ctl_inflow(line->flow) },
		/* No atomic DTR+RTS: the two go back to back (docs/rfc2217.md). */
		{ RFC2217_SET_CONTROL,
		  line->modem & SERIAL_MODEM_DTR ? RFC2217_CTL_DTR_ON : RFC2217_CTL_DTR_OFF },
		{ RFC2217_SET_CONTROL,
		  line->modem & SERIAL_MODEM_RTS ? RFC2217_CTL_RTS_ON : RFC2217_CTL_RTS_OFF },
	};
	size_t o;
	int r;

	if (!serial_line_valid(line))
		return -EINVAL;
	r = rfc2217_encode_baud(out, cap, RFC2217_SET_BAUDRATE, line->baud);
	if (r < 0)
		return r;
	o = r;
	for (size_t i = 0; i < sizeof(msg) / sizeof(msg[0]); i++) {
		r = rfc2217_encode_u8(out + o, cap - o, msg[i].code, msg[i].value);
		if (r < 0)
			return r;
		o += r;
	}
	return (int)o;
}
