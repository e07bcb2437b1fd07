// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket: a UNIX stream socket speaking JSON lines, one request
 * object per line and one reply object per line.  Tests read each port's
 * applied settings and the exact bytes of every command received, set the
 * modem inputs, inject line errors and faults.  The format is in nportsim(1).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "aspp.h"
#include "ctlsock.h"
#include "log.h"
#include "sim.h"

static json_object *ctl_port(const struct sim_port *p)
{
	const struct sim *s = p->sim;
	const struct serial_line *l = &p->line;
	json_object *o = json_object_new_object(), *flow = json_object_new_object();

#define ADD(k, v) json_object_object_add(o, k, v)
	ADD("port", json_object_new_int((int)p->n));
	ADD("pty", json_object_new_string(p->link));
	ADD("mode", json_object_new_string(!p->enabled ? "disabled" :
					   p->proto == &sim_realcom ? "realcom" : "rfc2217"));
	ADD("tls", json_object_new_boolean(p->tls != SIM_TLS_OFF));
	if (p->proto == &sim_realcom) {
		ADD("data_port", json_object_new_int(sim_data_port(s, p->n)));
		ADD("command_port", json_object_new_int(sim_command_port(s, p->n)));
	} else {
		ADD("tcp_port", json_object_new_int((int)(s->opt.tcp_base + p->n)));
		ADD("linestate_mask", json_object_new_int(p->linestate_mask));
		ADD("modemstate_mask", json_object_new_int(p->modemstate_mask));
		ADD("suspended", json_object_new_boolean(p->suspended));
	}
	ADD("baud", json_object_new_int64(l->baud));
	ADD("data_bits", json_object_new_int(l->data_bits));
	ADD("parity", json_object_new_string(serial_parity_name(l->parity)));
	ADD("stop_bits", l->stop_bits == SERIAL_STOP_1_5 ? json_object_new_double(1.5) :
							   json_object_new_int(l->stop_bits));
	json_object_object_add(flow, "cts", json_object_new_boolean(l->flow & SERIAL_FLOW_CTS));
	json_object_object_add(flow, "rts", json_object_new_boolean(l->flow & SERIAL_FLOW_RTS));
	json_object_object_add(flow, "ixon", json_object_new_boolean(l->flow & SERIAL_FLOW_IXON));
	json_object_object_add(flow, "ixoff", json_object_new_boolean(l->flow & SERIAL_FLOW_IXOFF));
	ADD("flow", flow);
	ADD("xon", json_object_new_int(l->xon));
	ADD("xoff", json_object_new_int(l->xoff));
	ADD("dtr", json_object_new_boolean(l->modem & SERIAL_MODEM_DTR));
	ADD("rts", json_object_new_boolean(l->modem & SERIAL_MODEM_RTS));
	ADD("cts", json_object_new_boolean(p->modem_in & SERIAL_MODEM_CTS));
	ADD("dsr", json_object_new_boolean(p->modem_in & SERIAL_MODEM_DSR));
	ADD("dcd", json_object_new_boolean(p->modem_in & SERIAL_MODEM_DCD));
	ADD("ri", json_object_new_boolean(p->modem_in & SERIAL_MODEM_RI));
	ADD("break", json_object_new_boolean(p->break_on));
	ADD("breaks_sent", json_object_new_int((int)p->breaks_sent));
	ADD("breaks_received", json_object_new_int((int)p->breaks_received));
	ADD("held", json_object_new_boolean(p->tx_held));
	ADD("stalled", json_object_new_boolean(p->stalled));
	ADD("fifo", json_object_new_int((int)p->fifo));
	ADD("tx_queue", json_object_new_int64((int64_t)sim_serial_txq(p)));
	/* the data connection's own buffers, for a test that finds data stuck */
	ADD("data_in", json_object_new_int64((int64_t)buf_len(&p->data.in)));
	ADD("data_out", json_object_new_int64((int64_t)buf_len(&p->data.out)));
	ADD("data_paused", json_object_new_boolean(p->data.paused));
	ADD("to_serial", json_object_new_int64((int64_t)p->to_serial));
	ADD("from_serial", json_object_new_int64((int64_t)p->from_serial));
	ADD("connected", json_object_new_boolean(p->proto->connected(p)));
	ADD("peer", json_object_new_string(p->peer));
	ADD("sessions", json_object_new_int((int)p->sessions));
	ADD("notify", json_object_new_boolean(p->notify));
	ADD("polling", json_object_new_boolean(p->polling));
	ADD("polls_sent", json_object_new_int((int)p->polls_sent));
	ADD("commands", json_object_new_int64((int64_t)p->log_total));
	ADD("last_error", json_object_new_string(p->last_error));
#undef ADD
	return o;
}

static json_object *ctl_log(struct sim_port *p, bool clear)
{
	json_object *a = json_object_new_array();
	unsigned int first = (p->log_next + SIM_LOG_MAX - p->log_len) % SIM_LOG_MAX;

	for (unsigned int i = 0; i < p->log_len; i++) {
		const struct sim_log_entry *e = &p->log[(first + i) % SIM_LOG_MAX];
		json_object *o = json_object_new_object();
		char hex[sizeof(e->bytes) * 2 + 1];

		for (unsigned int j = 0; j < e->len; j++)
			sprintf(hex + 2 * j, "%02x", e->bytes[j]);
		hex[2 * e->len] = '\0';
		json_object_object_add(o, "t_ms", json_object_new_int64((int64_t)e->t_ms));
		json_object_object_add(o, "hex", json_object_new_string(hex));
		json_object_object_add(o, "known", json_object_new_boolean(e->known));
		json_object_array_add(a, o);
	}
	if (clear)
		p->log_len = 0;
	return a;
}

static bool ctl_bool(json_object *req, const char *key, bool *out)
{
	json_object *v;

	if (!json_object_object_get_ex(req, key, &v))
		return false;
	*out = json_object_get_boolean(v);
	return true;
}

static int64_t ctl_int(json_object *req, const char *key, int64_t def)
{
	json_object *v;

	return json_object_object_get_ex(req, key, &v) ? json_object_get_int64(v) : def;
}

/* Handle one request; returns the reply (ok or error). */
static json_object *ctl_handle(struct sim *s, json_object *req)
{
	json_object *reply = json_object_new_object(), *v;
	const char *cmd = NULL;
	struct sim_port *p = NULL;
	int64_t n = ctl_int(req, "port", 0);
	const char *err = NULL;

	if (json_object_object_get_ex(req, "cmd", &v))
		cmd = json_object_get_string(v);
	if (n >= 1 && n <= s->opt.ports)
		p = &s->port[n - 1];
	if (!cmd) {
		err = "request without \"cmd\"";
	} else if (strcmp(cmd, "status") == 0) {
		json_object *a = json_object_new_array();

		for (unsigned int i = 0; i < s->opt.ports; i++)
			json_object_array_add(a, ctl_port(&s->port[i]));
		json_object_object_add(reply, "mode", json_object_new_string(
			s->opt.mode == SIM_REALCOM ? "realcom" : "rfc2217"));
		json_object_object_add(reply, "rebooting", json_object_new_boolean(s->rebooting));
		json_object_object_add(reply, "ports", a);
		if (s->opt.mgmt)
			json_object_object_add(reply, "management",
					       sim_rest_status(s, loop_now_ms()));
	} else if (strcmp(cmd, "reboot") == 0) {
		sim_reboot(s, (unsigned int)ctl_int(req, "ms", 1000));
	} else if (strcmp(cmd, "refuse-tls") == 0) {
		s->refuse_tls = (unsigned int)ctl_int(req, "count", 1);
	} else if (!p) {
		err = "no such port (\"port\": 1 to the number of ports)";
	} else if (strcmp(cmd, "port") == 0) {
		json_object_object_add(reply, "port", ctl_port(p));
	} else if (strcmp(cmd, "log") == 0) {
		bool clear = false;

		ctl_bool(req, "clear", &clear);
		json_object_object_add(reply, "total", json_object_new_int64((int64_t)p->log_total));
		json_object_object_add(reply, "log", ctl_log(p, clear));
	} else if (strcmp(cmd, "modem") == 0) {
		static const struct { const char *key; uint8_t bit; } lines[] = {
			{ "cts", SERIAL_MODEM_CTS }, { "dsr", SERIAL_MODEM_DSR },
			{ "dcd", SERIAL_MODEM_DCD }, { "ri", SERIAL_MODEM_RI },
		};
		uint8_t m = p->modem_in;
		bool on;

		for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
			if (ctl_bool(req, lines[i].key, &on))
				m = on ? m | lines[i].bit : m & ~lines[i].bit;
		sim_serial_set_modem(p, m);
	} else if (strcmp(cmd, "inject") == 0) {
		static const struct { const char *name; uint8_t ev; } kinds[] = {
			{ "parity", ASPP_EV_PARITY }, { "framing", ASPP_EV_FRAMING },
			{ "overrun", ASPP_EV_HW_OVERRUN }, { "break", ASPP_EV_BREAK },
		};
		uint8_t ev = 0;

		if (json_object_object_get_ex(req, "events", &v) &&
		    json_object_is_type(v, json_type_array)) {
			for (size_t i = 0; i < json_object_array_length(v); i++) {
				const char *k = json_object_get_string(json_object_array_get_idx(v, i));
				size_t j;

				for (j = 0; k && j < sizeof(kinds) / sizeof(kinds[0]); j++)
					if (strcmp(k, kinds[j].name) == 0)
						break;
				if (!k || j == sizeof(kinds) / sizeof(kinds[0])) {
					err = "events: parity, framing, overrun or break";
					break;
				}
				ev |= kinds[j].ev;
			}
		}
		if (!ev && !err)
			err = "inject needs \"events\": [\"parity\" | \"framing\" | \"overrun\" | \"break\"]";
		if (!err)
			sim_line_event(p, ev);
	} else if (strcmp(cmd, "unsolicited") == 0) {
		int64_t count = ctl_int(req, "count", 1);

		if (p->proto != &sim_realcom || count < 0 || count > 1000000)
			err = "unsolicited: Real COM ports, \"count\" 0 to 1000000";
		else
			json_object_object_add(reply, "sent", json_object_new_int(
				(int)sim_realcom_unsolicited(p, (unsigned int)count)));
	} else if (strcmp(cmd, "drop") == 0) {
		p->proto->drop(p, "dropped by the control socket");
	} else if (strcmp(cmd, "drop-after-init") == 0) {
		bool on = true;

		ctl_bool(req, "on", &on);
		p->drop_after_init = on;
	} else if (strcmp(cmd, "stall") == 0) {
		sim_stall(p, (unsigned int)ctl_int(req, "ms", 1000));
	} else {
		err = "unknown cmd";
	}
	json_object_object_add(reply, "ok", json_object_new_boolean(!err));
	if (err)
		json_object_object_add(reply, "error", json_object_new_string(err));
	return reply;
}

static json_object *ctl_request(void *arg, json_object *req)
{
	return ctl_handle(arg, req);
}

int sim_control_open(struct sim *s)
{
	return ctlsock_open(&s->control, s->loop, s->opt.control, 0600, ctl_request, s);
}

void sim_control_close(struct sim *s)
{
	ctlsock_close(&s->control);
}
