// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * realcomd's control socket (realcomctl talks to it): a UNIX stream socket,
 * mode 0600, speaking JSON lines.  {"cmd":"status"} lists every port,
 * {"cmd":"reload"} re-reads the configuration.
 */
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "ctlsock.h"
#include "log.h"

static struct {
	struct daemon *d;
	struct ctlsock sock;
	control_reload_fn *reload;
} ctl;

static json_object *ctl_port(const struct port *p)
{
	json_object *o = json_object_new_object(), *m = json_object_new_object();
	json_object *l = json_object_new_object();
	const struct serial_line *ln = &p->line;

#define ADD(obj, k, v) json_object_object_add(obj, k, v)
	ADD(o, "tty", json_object_new_string(p->name));
	ADD(o, "path", json_object_new_string(p->path));
	ADD(o, "backend", json_object_new_string(p->backend->name));
	ADD(o, "host", json_object_new_string(p->cfg.host));
	ADD(o, "device_port", json_object_new_int((int)p->cfg.dev_port));
	ADD(o, "peer", json_object_new_string(p->peer));
	ADD(o, "protocol", json_object_new_string(p->proto->name));
	ADD(o, "tls", json_object_new_string(config_tls_names[p->cfg.tls]));
	ADD(o, "tls_info", json_object_new_string(p->tls_info));
	ADD(o, "state", json_object_new_string(port_state_name(p->state)));
	ADD(o, "state_ms", json_object_new_int64((int64_t)(loop_now_ms() - p->state_since_ms)));
	ADD(o, "open", json_object_new_boolean(p->app_open));
	ADD(o, "tx_bytes", json_object_new_int64((int64_t)p->stats.tx_bytes));
	ADD(o, "rx_bytes", json_object_new_int64((int64_t)p->stats.rx_bytes));
	ADD(o, "connects", json_object_new_int((int)p->stats.connects));
	ADD(o, "reconnects", json_object_new_int((int)p->stats.reconnects));
	ADD(o, "last_error", json_object_new_string(p->last_error));
	ADD(o, "stale_dropped", json_object_new_int64((int64_t)p->stats.stale_dropped));
	/* back-off: the current step, and when the next attempt is (0: none planned) */
	ADD(o, "backoff_ms", json_object_new_int64(p->backoff_ms));
	ADD(o, "next_try_ms", json_object_new_int64(p->next_try_ms > loop_now_ms() ?
						     (int64_t)(p->next_try_ms - loop_now_ms()) : 0));
	/* "path" is the tty: which way to the device is "via" */
	ADD(o, "via", json_object_new_string(p->on_backup ? "backup" : "primary"));
	ADD(o, "backup_host", json_object_new_string(p->cfg.backup_host));
	ADD(m, "cts", json_object_new_boolean(p->modem_in & SERIAL_MODEM_CTS));
	ADD(m, "dsr", json_object_new_boolean(p->modem_in & SERIAL_MODEM_DSR));
	ADD(m, "dcd", json_object_new_boolean(p->modem_in & SERIAL_MODEM_DCD));
	ADD(m, "ri", json_object_new_boolean(p->modem_in & SERIAL_MODEM_RI));
	ADD(m, "dtr", json_object_new_boolean(ln->modem & SERIAL_MODEM_DTR));
	ADD(m, "rts", json_object_new_boolean(ln->modem & SERIAL_MODEM_RTS));
	ADD(o, "modem", m);
	ADD(l, "baud", json_object_new_int64(ln->baud));
	ADD(l, "data_bits", json_object_new_int(ln->data_bits));
	ADD(l, "parity", json_object_new_string(serial_parity_name(ln->parity)));
	ADD(l, "stop_bits", ln->stop_bits == SERIAL_STOP_1_5 ? json_object_new_double(1.5) :
							     json_object_new_int(ln->stop_bits));
	ADD(l, "rtscts", json_object_new_boolean(ln->flow & SERIAL_FLOW_CTS));
	ADD(l, "ixon", json_object_new_boolean(ln->flow & SERIAL_FLOW_IXON));
	ADD(l, "ixoff", json_object_new_boolean(ln->flow & SERIAL_FLOW_IXOFF));
	ADD(l, "break", json_object_new_boolean(p->break_held));
	ADD(o, "line", l);
#undef ADD
	return o;
}

static json_object *ctl_handle(json_object *req)
{
	json_object *reply = json_object_new_object(), *v;
	const char *cmd = json_object_object_get_ex(req, "cmd", &v) ? json_object_get_string(v) : "";
	char err[CONF_ERR_MAX] = "";

	if (strcmp(cmd, "status") == 0) {
		json_object *a = json_object_new_array();

		for (unsigned int i = 0; i < REALCOM_TTYS_MAX; i++)
			if (ctl.d->ports[i])
				json_object_array_add(a, ctl_port(ctl.d->ports[i]));
		json_object_object_add(reply, "ports", a);
	} else if (strcmp(cmd, "reload") == 0) {
		char summary[256] = "";

		if (ctl.reload(ctl.d, summary, sizeof(summary), err) == 0)
			json_object_object_add(reply, "summary", json_object_new_string(summary));
	} else {
		snprintf(err, sizeof(err), "unknown cmd '%s' (status, reload)", cmd);
	}
	json_object_object_add(reply, "ok", json_object_new_boolean(!err[0]));
	if (err[0])
		json_object_object_add(reply, "error", json_object_new_string(err));
	return reply;
}

static json_object *ctl_request(void *arg, json_object *req)
{
	return ctl_handle(req);
}

int control_open(struct daemon *d, const char *path, control_reload_fn *reload)
{
	ctl.d = d;
	ctl.reload = reload;
	/* 0600: status shows where every port goes, and reload is for root */
	return ctlsock_open(&ctl.sock, d->loop, path, 0600, ctl_request, NULL);
}

void control_close(void)
{
	ctlsock_close(&ctl.sock);
}
