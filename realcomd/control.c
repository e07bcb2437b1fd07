// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * realcomd's control socket (realcomctl talks to it): a UNIX stream socket
 * speaking JSON lines, mode 0660 with control_group (root only without it).
 * {"cmd":"status"} lists every port with its counters (what realcomctl
 * status and metrics print), {"cmd":"reload"} re-reads the configuration
 * and is for root alone (SO_PEERCRED), whoever else can open the socket.
 */
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
	uint8_t in;

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
	/* since the port was created while it never left idle (realcomctl(8)) */
	ADD(o, "state_ms", json_object_new_int64((int64_t)(loop_now_ms() - p->state_since_ms)));
	ADD(o, "state_changed", json_object_new_boolean(p->state_changed));
	ADD(o, "tcp_port", json_object_new_int((int)p->cfg.tcp_port));	/* RFC 2217's */
	ADD(o, "open", json_object_new_boolean(p->app_open));
	ADD(o, "tx_bytes", json_object_new_int64((int64_t)p->stats.tx_bytes));
	ADD(o, "rx_bytes", json_object_new_int64((int64_t)p->stats.rx_bytes));
	ADD(o, "connects", json_object_new_int((int)p->stats.connects));
	ADD(o, "reconnects", json_object_new_int((int)p->stats.reconnects));
	ADD(o, "stale_dropped", json_object_new_int64((int64_t)p->stats.stale_dropped));
	ADD(o, "tls_failures", json_object_new_int64(p->stats.tls_failures));
	ADD(o, "parity_errors", json_object_new_int64(p->stats.parity_errors));
	ADD(o, "framing_errors", json_object_new_int64(p->stats.framing_errors));
	ADD(o, "overruns", json_object_new_int64(p->stats.overruns));
	ADD(o, "breaks", json_object_new_int64(p->stats.breaks));
	ADD(o, "last_error", json_object_new_string(p->last_error));
	/* back-off: the current step, and when the next attempt is (0: none planned) */
	ADD(o, "backoff_ms", json_object_new_int64(p->backoff_ms));
	ADD(o, "next_try_ms", json_object_new_int64(p->next_try_ms > loop_now_ms() ?
						     (int64_t)(p->next_try_ms - loop_now_ms()) : 0));
	/* "path" is the tty: which way to the device is "via" */
	ADD(o, "via", json_object_new_string(p->on_backup ? "backup" : "primary"));
	ADD(o, "backup_host", json_object_new_string(p->cfg.backup_host));
	/* a reload's settings waiting for the running session to drain: their host */
	ADD(o, "pending_host",
	    json_object_new_string(p->renewal ? port_config_wanted(p)->host : ""));
	/* the unit's inputs are known only while a session is up */
	in = p->state == PORT_UP || p->state == PORT_CLOSING ? p->modem_in : 0;
	ADD(m, "cts", json_object_new_boolean(in & SERIAL_MODEM_CTS));
	ADD(m, "dsr", json_object_new_boolean(in & SERIAL_MODEM_DSR));
	ADD(m, "dcd", json_object_new_boolean(in & SERIAL_MODEM_DCD));
	ADD(m, "ri", json_object_new_boolean(in & SERIAL_MODEM_RI));
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
	const char *cmd = json_object_object_get_ex(req, "cmd", &v) &&
				  json_object_is_type(v, json_type_string) ?
			  json_object_get_string(v) : NULL;
	char err[CONF_ERR_MAX] = "";

	if (cmd && strlen(cmd) != (size_t)json_object_get_string_len(v))
		cmd = NULL;	/* a NUL inside: no command of ours */

	if (!cmd) {
		snprintf(err, sizeof(err), "a request is an object with \"cmd\" a string "
			 "(status, reload)");
	} else if (strcmp(cmd, "status") == 0) {
		json_object *a = json_object_new_array();

		for (unsigned int i = 0; i < REALCOM_TTYS_MAX; i++)
			if (ctl.d->ports[i])
				json_object_array_add(a, ctl_port(ctl.d->ports[i]));
		json_object_object_add(reply, "ports", a);
		json_object_object_add(reply, "uptime_ms",
				       json_object_new_int64((int64_t)(loop_now_ms() -
								       ctl.d->started_ms)));
	} else if (strcmp(cmd, "reload") == 0) {
		char summary[256] = "";
		const struct ucred *who = ctlsock_peer(&ctl.sock);

		/* status is for the group; changing what runs is for root */
		if (!who || (who->uid != 0 && who->uid != geteuid()))
			snprintf(err, sizeof(err), "reload: permission denied (root only; uid %d "
				 "may run status and metrics)", who ? (int)who->uid : -1);
		else if (ctl.reload(ctl.d, summary, sizeof(summary), err) == 0)
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

/* control_group may read status: 0660 with that group.  A group that does
 * not exist leaves the socket root's (0600), said once, and realcomd runs. */
static void control_group(const char *path, const char *group)
{
	struct group *gr;
	int r;

	if (!group[0])
		return;
	gr = getgrnam(group);
	if (!gr) {
		log_warnx("control_group %s: no such group; %s stays root-only", group, path);
		return;
	}
	r = ctlsock_set_group(&ctl.sock, gr->gr_gid, 0660);
	if (r < 0)
		log_warnc(r, "control_group %s: %s", group, path);
}

int control_open(struct daemon *d, const char *path, control_reload_fn *reload)
{
	int r;

	ctl.d = d;
	ctl.reload = reload;
	r = ctlsock_open(&ctl.sock, d->loop, path, 0600, ctl_request, NULL);
	if (r < 0)
		return r;	/* said why */
	r = ctlsock_set_idle(&ctl.sock, CTLSOCK_IDLE_MS);
	if (r < 0) {
		log_warnc(r, "control socket %s: idle timer", path);
		return r;
	}
	control_group(path, d->cfg->control_group);
	return 0;
}

void control_close(void)
{
	ctlsock_close(&ctl.sock);
}
