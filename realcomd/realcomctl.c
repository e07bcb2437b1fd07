// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * realcomctl: talk to a running realcomd (status, metrics, reload) and look
 * at a mapped port the way an application sees it (line).  One subcommand
 * per function below, in the style of wg(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "ctlsock.h"
#include "serial.h"
#include "tty_line.h"

#ifndef REALCOM_VERSION
#define REALCOM_VERSION "unknown"
#endif
#define SOCKET_DEFAULT	"/run/realcom/control"

static const char usage[] =
	"Usage: realcomctl [-s SOCKET] COMMAND [ARG]...\n"
	"Control realcomd and look at mapped ports.\n"
	"\n"
	"Commands:\n"
	"  status [--json]   every port: state, next try, peer, path, protocol, TLS, bytes,\n"
	"                    errors, modem lines\n"
	"  metrics           the same counters in Prometheus text format (node_exporter)\n"
	"  reload            re-read realcom.conf: a changed port keeps its tty (its\n"
	"                    connection is renewed); a file with errors changes nothing\n"
	"  line TTY          open TTY (ttyR<N> or a path) and show what an application sees\n"
	"\n"
	"Options:\n"
	"  -s, --socket PATH  realcomd's control socket (default " SOCKET_DEFAULT ")\n"
	"  -h, --help         show this help\n"
	"  -V, --version      show the version\n";

static const char *socket_path = SOCKET_DEFAULT;

/* A word a subcommand does not take (they parse their few without getopt). */
static int bad_argument(const char *arg)
{
	if (arg[0] == '-' && arg[1])
		return cli_usage_error("unknown option '%s'", arg);
	return cli_unexpected_argument(arg);
}

/* One request, one reply; NULL (with a message printed) on failure. */
static json_object *ask(const char *request)
{
	char err[256];
	json_object *o = ctlsock_ask(socket_path, request, err, sizeof(err));

	if (!o)
		fprintf(stderr, "realcomctl: %s%s\n", err,
			strstr(err, strerror(ENOENT)) || strstr(err, strerror(ECONNREFUSED)) ?
			" (is realcomd running?)" : "");
	return o;
}

static const char *str(json_object *o, const char *key)
{
	json_object *v;
	const char *s = json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;

	return s ? s : "";	/* a JSON null too */
}

/* The reply's ports: an array of objects, or NULL said on stderr. */
static json_object *ports_of(json_object *o)
{
	json_object *ports;

	if (json_object_object_get_ex(o, "ports", &ports) &&
	    json_object_is_type(ports, json_type_array)) {
		size_t n = json_object_array_length(ports), i;

		for (i = 0; i < n; i++)
			if (!json_object_is_type(json_object_array_get_idx(ports, i), json_type_object))
				break;
		if (i == n)
			return ports;
	}
	fprintf(stderr, "realcomctl: %s: the reply has no list of ports (is this realcomd's "
		"socket?)\n", socket_path);
	return NULL;
}

/* Everything printed reached stdout: 0, or 1 said on stderr. */
static int printed(const char *what)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "realcomctl: writing %s: %s\n", what, strerror(errno));
		return 1;
	}
	return 0;
}

static int64_t num(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static bool flag(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

/* An error, each of its lines (a refused reload lists every problem) on
 * its own, prefixed. */
static int failed(json_object *o)
{
	const char *err = str(o, "error");

	if (flag(o, "ok"))
		return 0;
	if (!err[0])
		err = "the reply is neither ok nor an error (is this realcomd's socket?)";
	do {
		size_t n = strcspn(err, "\n");

		fprintf(stderr, "realcomctl: %.*s\n", (int)n, err);
		err += n + (err[n] == '\n');
	} while (*err);
	return 1;
}

/* 42s, 3m07s, 2h05m, 4d03h: the two largest units are enough to read. */
static void fmt_age(char *out, size_t len, int64_t ms)
{
	int64_t t = ms / 1000;

	if (t < 60)
		snprintf(out, len, "%llds", (long long)t);
	else if (t < 3600)
		snprintf(out, len, "%lldm%02llds", (long long)(t / 60), (long long)(t % 60));
	else if (t < 86400)
		snprintf(out, len, "%lldh%02lldm", (long long)(t / 3600), (long long)(t % 3600 / 60));
	else
		snprintf(out, len, "%lldd%02lldh", (long long)(t / 86400),
			 (long long)(t % 86400 / 3600));
}

/* Where the port goes, as configured: the unit and its serial port for Real
 * COM (192.0.2.10 port 1), host:port for an RFC 2217 server. */
static void fmt_peer(char *out, size_t len, json_object *p)
{
	if (strcmp(str(p, "protocol"), "rfc2217") == 0)
		snprintf(out, len, "%s:%lld", str(p, "host"), (long long)num(p, "tcp_port"));
	else
		snprintf(out, len, "%s port %lld", str(p, "host"), (long long)num(p, "device_port"));
}

enum { COL_TTY, COL_STATE, COL_SINCE, COL_NEXT, COL_PEER, COL_PROTO, COL_TLS, COL_OPEN, COL_TX, COL_RX,
       COL_RECONN, COL_MODEM, COL_ERROR, COLS };
#define CELL	300

static void status_row(json_object *p, char row[COLS][CELL])
{
	json_object *m = json_object_object_get(p, "modem");
	const char *err = str(p, "last_error");

	snprintf(row[COL_TTY], CELL, "%s", str(p, "tty"));
	snprintf(row[COL_STATE], CELL, "%s", str(p, "state"));
	fmt_age(row[COL_SINCE], CELL, num(p, "state_ms"));
	/* the next connect attempt while backing off */
	if (num(p, "next_try_ms") > 0)
		snprintf(row[COL_NEXT], CELL, "%.1fs", (double)num(p, "next_try_ms") / 1000.0);
	else
		snprintf(row[COL_NEXT], CELL, "-");
	fmt_peer(row[COL_PEER], CELL, p);
	snprintf(row[COL_PROTO], CELL, "%s", str(p, "protocol"));
	snprintf(row[COL_TLS], CELL, "%s", str(p, "tls"));
	snprintf(row[COL_OPEN], CELL, "%s", flag(p, "open") ? "yes" : "no");
	snprintf(row[COL_TX], CELL, "%lld", (long long)num(p, "tx_bytes"));
	snprintf(row[COL_RX], CELL, "%lld", (long long)num(p, "rx_bytes"));
	snprintf(row[COL_RECONN], CELL, "%lld", (long long)num(p, "reconnects"));
	snprintf(row[COL_MODEM], CELL, "%s%s%s%s", flag(m, "cts") ? "CTS " : "",
		 flag(m, "dsr") ? "DSR " : "", flag(m, "dcd") ? "DCD " : "",
		 flag(m, "ri") ? "RI" : "");
	if (!row[COL_MODEM][0])
		snprintf(row[COL_MODEM], CELL, "-");
	snprintf(row[COL_ERROR], CELL, "%s", err[0] ? err : "-");
}

/* Columns as wide as their widest cell: a state like "waiting to
 * reconnect" or a long host name never shifts the rest. */
static void status_table(json_object *ports)
{
	static const char *const head[COLS] = {
		"TTY", "STATE", "SINCE", "NEXT", "PEER", "PROTOCOL", "TLS", "OPEN", "TX", "RX", "RECONN",
		"MODEM", "LAST ERROR",
	};
	static const bool right[COLS] = { [COL_TX] = true, [COL_RX] = true, [COL_RECONN] = true };
	size_t n = json_object_array_length(ports);
	char (*rows)[COLS][CELL] = calloc(n + 1, sizeof(*rows));
	int width[COLS] = { 0 };

	if (!rows) {
		fprintf(stderr, "realcomctl: out of memory\n");
		return;
	}
	for (int c = 0; c < COLS; c++)
		snprintf(rows[0][c], CELL, "%s", head[c]);
	for (size_t i = 0; i < n; i++)
		status_row(json_object_array_get_idx(ports, i), rows[i + 1]);
	for (size_t i = 0; i <= n; i++)
		for (int c = 0; c < COLS; c++)
			if ((int)strlen(rows[i][c]) > width[c])
				width[c] = (int)strlen(rows[i][c]);
	for (size_t i = 0; i <= n; i++) {
		json_object *p = i ? json_object_array_get_idx(ports, i - 1) : NULL;

		for (int c = 0; c < COLS - 1; c++)
			printf(right[c] ? "%*s  " : "%-*s  ", width[c], rows[i][c]);
		printf("%s\n", rows[i][COLS - 1]);
		if (p && str(p, "tls_info")[0])
			printf("%*s%s\n", width[COL_TTY] + 2, "", str(p, "tls_info"));
		if (p && strcmp(str(p, "via"), "backup") == 0)
			printf("%*son the backup path (backup_host %s)\n", width[COL_TTY] + 2, "",
			       str(p, "backup_host"));
		if (p && str(p, "pending_host")[0])
			printf("%*snew settings (host %s) once this session has drained\n",
			       width[COL_TTY] + 2, "", str(p, "pending_host"));
	}
	free(rows);
}

static int cmd_status(int argc, char **argv)
{
	bool as_json = argc > 1 && strcmp(argv[1], "--json") == 0;
	json_object *o, *ports = NULL;
	int r;

	if (argc > 2 || (argc == 2 && !as_json))
		return bad_argument(argv[as_json ? 2 : 1]);
	o = ask("{\"cmd\":\"status\"}\n");
	if (!o)
		return 1;
	r = failed(o);
	if (r == 0 && !(ports = ports_of(o)))
		r = 1;
	if (r == 0 && as_json)
		puts(json_object_to_json_string_ext(ports, JSON_C_TO_STRING_PRETTY));
	else if (r == 0)
		status_table(ports);
	json_object_put(o);
	return r ? r : printed("the status");
}

/*
 * Prometheus text exposition format 0.0.4: HELP and TYPE once per metric,
 * then one sample per port, labelled tty.  Counters end in _total.  The
 * state is one gauge per state name, 1 for the port's current one.
 */
static const struct {
	const char *name, *key, *type, *help;
} metrics[] = {
	{ "realcom_tx_bytes_total", "tx_bytes", "counter",
	  "Bytes from the application sent to the device." },
	{ "realcom_rx_bytes_total", "rx_bytes", "counter",
	  "Bytes from the device given to the application." },
	{ "realcom_connects_total", "connects", "counter", "Sessions established." },
	{ "realcom_reconnects_total", "reconnects", "counter",
	  "Sessions established after the first." },
	{ "realcom_parity_errors_total", "parity_errors", "counter",
	  "Parity errors the device reported." },
	{ "realcom_framing_errors_total", "framing_errors", "counter",
	  "Framing errors the device reported." },
	{ "realcom_overruns_total", "overruns", "counter",
	  "Overruns (hardware or buffer) the device reported." },
	{ "realcom_breaks_total", "breaks", "counter", "Breaks the device received on its line." },
	{ "realcom_stale_dropped_bytes_total", "stale_dropped", "counter",
	  "Bytes the application wrote, dropped: the unit unreachable at the last close, or "
	  "still queued when a session ended." },
	{ "realcom_tls_handshake_failures_total", "tls_failures", "counter",
	  "TLS handshakes with the device that failed." },
};

/* The state names realcomd reports (port.c) and their label values. */
static const char *const states[][2] = {
	{ "idle", "idle" }, { "connecting", "connecting" }, { "initialising", "initialising" },
	{ "up", "up" }, { "closing", "closing" }, { "waiting to reconnect", "backoff" },
};

/* A label value: backslash, double quote and newline escaped. */
static void put_label(const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			printf("\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", stdout);
		else
			putchar(*v);
	}
}

static void metric_head(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metric_sample(const char *name, json_object *p, const char *state, double v)
{
	printf("%s{tty=\"", name);
	put_label(str(p, "tty"));
	if (state) {
		fputs("\",state=\"", stdout);
		put_label(state);
	}
	printf("\"} %.17g\n", v);
}

static void print_metrics(json_object *o, json_object *ports)
{
	size_t n = json_object_array_length(ports);

	metric_head("realcomd_uptime_seconds", "gauge", "Seconds since realcomd started.");
	printf("realcomd_uptime_seconds %.3f\n", (double)num(o, "uptime_ms") / 1000);
	metric_head("realcom_port_info", "gauge",
		    "Where each port goes; always 1 (labels: host, device_port, protocol, tls).");
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(ports, i);

		printf("realcom_port_info{tty=\"");
		put_label(str(p, "tty"));
		printf("\",host=\"");
		put_label(str(p, "host"));
		printf("\",device_port=\"%lld\",protocol=\"", (long long)num(p, "device_port"));
		put_label(str(p, "protocol"));
		printf("\",tls=\"");
		put_label(str(p, "tls"));
		printf("\"} 1\n");
	}
	metric_head("realcom_state", "gauge", "1 for the state the port is in, 0 for the others.");
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(ports, i);

		for (size_t s = 0; s < sizeof(states) / sizeof(states[0]); s++)
			metric_sample("realcom_state", p, states[s][1],
				      strcmp(str(p, "state"), states[s][0]) == 0);
	}
	metric_head("realcom_state_seconds", "gauge",
		    "Seconds in the current state (since realcomd created the port if it never "
		    "left idle).");
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(ports, i);

		metric_sample("realcom_state_seconds", p, NULL, (double)num(p, "state_ms") / 1000);
	}
	metric_head("realcom_open", "gauge", "1 while an application has the tty open.");
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(ports, i);

		metric_sample("realcom_open", p, NULL, flag(p, "open"));
	}
	for (size_t m = 0; m < sizeof(metrics) / sizeof(metrics[0]); m++) {
		metric_head(metrics[m].name, metrics[m].type, metrics[m].help);
		for (size_t i = 0; i < n; i++) {
			json_object *p = json_object_array_get_idx(ports, i);

			metric_sample(metrics[m].name, p, NULL, (double)num(p, metrics[m].key));
		}
	}
}

static int cmd_metrics(int argc, char **argv)
{
	json_object *o, *ports = NULL;
	int r;

	if (argc != 1)
		return bad_argument(argv[1]);
	o = ask("{\"cmd\":\"status\"}\n");
	if (!o)
		return 1;
	r = failed(o);
	if (r == 0 && !(ports = ports_of(o)))
		r = 1;
	if (r == 0)
		print_metrics(o, ports);
	json_object_put(o);
	return r ? r : printed("the metrics");
}

static int cmd_reload(int argc, char **argv)
{
	json_object *o;
	int r;

	if (argc != 1)
		return bad_argument(argv[1]);
	o = ask("{\"cmd\":\"reload\"}\n");
	if (!o)
		return 1;
	r = failed(o);
	if (r == 0)
		printf("reloaded: %s\n", str(o, "summary"));
	json_object_put(o);
	return r ? r : printed("the answer");
}

/* ttyR<N> -> the path realcomd reports for it; a path stays as it is. */
static int resolve_tty(const char *name, char *path, size_t len)
{
	json_object *o, *ports;

	if (strchr(name, '/')) {
		snprintf(path, len, "%s", name);
		return 0;
	}
	o = ask("{\"cmd\":\"status\"}\n");
	if (!o)
		return -1;
	ports = failed(o) ? NULL : ports_of(o);
	if (!ports) {
		json_object_put(o);
		return -1;
	}
	for (size_t i = 0; i < json_object_array_length(ports); i++) {
		json_object *p = json_object_array_get_idx(ports, i);

		if (strcmp(str(p, "tty"), name) == 0) {
			snprintf(path, len, "%s", str(p, "path"));
			json_object_put(o);
			return 0;
		}
	}
	json_object_put(o);
	fprintf(stderr, "realcomctl: %s is not a port of realcomd\n", name);
	return -1;
}

/*
 * What an application sees on the tty: the line read with termios2
 * (tty_line.c, as the daemon's pty backend reads it) and the modem lines
 * with TIOCMGET, which a pty does not have.
 */
static int cmd_line(int argc, char **argv)
{
	struct serial_line l;
	char path[512];
	int fd, r, bits;

	if (argc == 1)
		return cli_usage_error("missing TTY");
	if (argc != 2)
		return bad_argument(argv[2]);
	if (resolve_tty(argv[1], path, sizeof(path)) < 0)
		return 1;
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "realcomctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	serial_line_default(&l);
	r = tty_line_get(fd, &l);
	if (r < 0) {
		fprintf(stderr, "realcomctl: %s: %s\n", path, strerror(-r));
		close(fd);
		return 1;
	}
	printf("%s: %u baud, %u data bits, parity %s, %s stop bit%s\n", path, l.baud, l.data_bits,
	       serial_parity_name(l.parity), l.stop_bits == SERIAL_STOP_2 ? "2" :
	       l.stop_bits == SERIAL_STOP_1_5 ? "1.5" : "1", l.stop_bits == SERIAL_STOP_1 ? "" : "s");
	printf("flow control: %s%s%s\n", l.flow & SERIAL_FLOW_CTS ? "RTS/CTS " : "",
	       l.flow & (SERIAL_FLOW_IXON | SERIAL_FLOW_IXOFF) ? "XON/XOFF" : "",
	       l.flow ? "" : "none");
	if (ioctl(fd, TIOCMGET, &bits) == 0)
		printf("modem lines: CTS %s, DSR %s, DCD %s, RI %s, DTR %s, RTS %s\n",
		       bits & TIOCM_CTS ? "on" : "off", bits & TIOCM_DSR ? "on" : "off",
		       bits & TIOCM_CAR ? "on" : "off", bits & TIOCM_RNG ? "on" : "off",
		       bits & TIOCM_DTR ? "on" : "off", bits & TIOCM_RTS ? "on" : "off");
	else
		printf("modem lines: not available on this tty (%s)\n",
		       errno == ENOTTY || errno == EINVAL ? "pty backend" : strerror(errno));
	close(fd);
	return 0;
}

static const struct cli_command commands[] = {
	{ "status", cmd_status },
	{ "metrics", cmd_metrics },
	{ "reload", cmd_reload },
	{ "line", cmd_line },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_command *cmd;
	int c;

	/* A daemon (or a reader of stdout) that goes away early is an error
	 * message and exit 1, not death by SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	cli_init("realcomctl");
	while ((c = getopt_long(argc, argv, "+:s:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			socket_path = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("realcomctl %s\n", REALCOM_VERSION);
			return 0;
		default:
			return cli_option_error(c, argv, opts);
		}
	}
	cmd = cli_command_find(commands, sizeof(commands) / sizeof(commands[0]),
			       optind < argc ? argv[optind] : NULL);
	if (!cmd)
		return CLI_EXIT_USAGE;
	cli_set_command(cmd->name, false);
	return cmd->run(argc - optind, argv + optind);
}
