// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * realcomctl: talk to a running realcomd (status, reload) and look at a
 * mapped port the way an application sees it (line).  One subcommand per
 * function below, in the style of wg(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libserialport.h>

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
	"  reload            re-read realcom.conf; ports whose settings did not change stay up\n"
	"  line TTY          open TTY (ttyR<N> or a path) and show what an application sees\n"
	"\n"
	"Options:\n"
	"  -s, --socket PATH  realcomd's control socket (default " SOCKET_DEFAULT ")\n"
	"  -h, --help         show this help\n"
	"  -V, --version      show the version\n";

static const char *socket_path = SOCKET_DEFAULT;

/* One request, one reply; NULL (with a message printed) on failure. */
static json_object *ask(const char *request)
{
	char err[256];
	json_object *o = ctlsock_ask(socket_path, request, err, sizeof(err));

	if (!o)
		fprintf(stderr, "realcomctl: %s (is realcomd running?)\n", err);
	return o;
}

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
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

static int failed(json_object *o)
{
	if (flag(o, "ok"))
		return 0;
	fprintf(stderr, "realcomctl: %s\n", str(o, "error"));
	return 1;
}

/* One format for the heading and the rows, so they stay aligned; the
 * longest state, "waiting to reconnect", fits its column. */
#define STATUS_ROW	"%-7s %-20s %-7s %-24s %-8s %-9s %-4s %10s %10s %6s  %-15s "

static int cmd_status(int argc, char **argv)
{
	bool as_json = argc > 1 && strcmp(argv[1], "--json") == 0;
	json_object *o, *ports;
	int r;

	if (argc > 2 || (argc == 2 && !as_json)) {
		fprintf(stderr, "Usage: realcomctl status [--json]\n");
		return 2;
	}
	o = ask("{\"cmd\":\"status\"}\n");
	if (!o)
		return 1;
	r = failed(o);
	if (r == 0 && as_json) {
		puts(json_object_to_json_string_ext(json_object_object_get(o, "ports"),
						    JSON_C_TO_STRING_PRETTY));
	} else if (r == 0) {
		ports = json_object_object_get(o, "ports");
		printf(STATUS_ROW "%s\n", "TTY", "STATE", "NEXT", "PEER", "PROTOCOL", "TLS", "OPEN",
		       "TX", "RX", "RECONN", "MODEM", "LAST ERROR");
		for (size_t i = 0; i < json_object_array_length(ports); i++) {
			json_object *p = json_object_array_get_idx(ports, i);
			json_object *m = json_object_object_get(p, "modem");
			char modem[32], next[16] = "-", tx[24], rx[24], reconn[24];

			snprintf(modem, sizeof(modem), "%s%s%s%s", flag(m, "cts") ? "CTS " : "",
				 flag(m, "dsr") ? "DSR " : "", flag(m, "dcd") ? "DCD " : "",
				 flag(m, "ri") ? "RI" : "");
			/* the next connect attempt while backing off */
			if (num(p, "next_try_ms") > 0)
				snprintf(next, sizeof(next), "%.1fs",
					 (double)num(p, "next_try_ms") / 1000.0);
			snprintf(tx, sizeof(tx), "%lld", (long long)num(p, "tx_bytes"));
			snprintf(rx, sizeof(rx), "%lld", (long long)num(p, "rx_bytes"));
			snprintf(reconn, sizeof(reconn), "%lld", (long long)num(p, "reconnects"));
			printf(STATUS_ROW "%s\n", str(p, "tty"), str(p, "state"), next,
			       str(p, "peer"), str(p, "protocol"), str(p, "tls"),
			       flag(p, "open") ? "yes" : "no", tx, rx, reconn, modem[0] ? modem : "-",
			       str(p, "last_error")[0] ? str(p, "last_error") : "-");
			if (str(p, "tls_info")[0])
				printf("        %s\n", str(p, "tls_info"));
			if (strcmp(str(p, "via"), "backup") == 0)
				printf("        on the backup path (backup_host %s)\n",
				       str(p, "backup_host"));
		}
	}
	json_object_put(o);
	return r;
}

static int cmd_reload(int argc, char **argv)
{
	json_object *o;
	int r;

	if (argc != 1) {
		fprintf(stderr, "Usage: realcomctl reload\n");
		return 2;
	}
	o = ask("{\"cmd\":\"reload\"}\n");
	if (!o)
		return 1;
	r = failed(o);
	if (r == 0)
		printf("reloaded: %s\n", str(o, "summary"));
	json_object_put(o);
	return r;
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
	ports = json_object_object_get(o, "ports");
	for (size_t i = 0; ports && i < json_object_array_length(ports); i++) {
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

/* The same report for a pty, read with termios2 (tty_line.c). */
static int show_pty_line(const char *path)
{
	struct serial_line l;
	int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC), r;

	if (fd < 0) {
		fprintf(stderr, "realcomctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	serial_line_default(&l);
	r = tty_line_get(fd, &l);
	close(fd);
	if (r < 0) {
		fprintf(stderr, "realcomctl: %s: %s\n", path, strerror(-r));
		return 1;
	}
	printf("%s: %u baud, %u data bits, parity %s, %u stop bit%s\n", path, l.baud, l.data_bits,
	       serial_parity_name(l.parity), l.stop_bits, l.stop_bits == 1 ? "" : "s");
	printf("flow control: %s%s%s\n", l.flow & SERIAL_FLOW_CTS ? "RTS/CTS " : "",
	       l.flow & (SERIAL_FLOW_IXON | SERIAL_FLOW_IXOFF) ? "XON/XOFF" : "",
	       l.flow ? "" : "none");
	printf("modem lines: not available on this tty (pty backend)\n");
	return 0;
}

static int cmd_line(int argc, char **argv)
{
	static const char *const parities[] = {
		[SP_PARITY_NONE] = "none", [SP_PARITY_ODD] = "odd", [SP_PARITY_EVEN] = "even",
		[SP_PARITY_MARK] = "mark", [SP_PARITY_SPACE] = "space",
	};
	struct sp_port *sp = NULL;
	struct sp_port_config *cfg = NULL;
	enum sp_signal sig;
	int baud, bits, stop, parity;
	enum sp_rts rts;
	enum sp_cts cts;
	enum sp_xonxoff xon;
	char path[512];
	int r = 1;

	if (argc != 2) {
		fprintf(stderr, "Usage: realcomctl line TTY\n");
		return 2;
	}
	if (resolve_tty(argv[1], path, sizeof(path)) < 0)
		return 1;
	if (sp_get_port_by_name(path, &sp) != SP_OK) {
		/* libserialport knows only ports with a sysfs entry, not the pty backend's. */
		r = show_pty_line(path);
		goto out;
	}
	if (sp_open(sp, SP_MODE_READ_WRITE) != SP_OK) {
		fprintf(stderr, "realcomctl: %s: %s\n", path, sp_last_error_message());
		goto out;
	}
	if (sp_new_config(&cfg) != SP_OK || sp_get_config(sp, cfg) != SP_OK) {
		fprintf(stderr, "realcomctl: %s: %s\n", path, sp_last_error_message());
		goto out;
	}
	sp_get_config_baudrate(cfg, &baud);
	sp_get_config_bits(cfg, &bits);
	sp_get_config_stopbits(cfg, &stop);
	sp_get_config_parity(cfg, (enum sp_parity *)&parity);
	sp_get_config_rts(cfg, &rts);
	sp_get_config_cts(cfg, &cts);
	sp_get_config_xon_xoff(cfg, &xon);
	printf("%s: %d baud, %d data bits, parity %s, %d stop bit%s\n", path, baud, bits,
	       parity >= 0 && parity <= SP_PARITY_SPACE ? parities[parity] : "?", stop,
	       stop == 1 ? "" : "s");
	printf("flow control: %s%s\n", cts == SP_CTS_FLOW_CONTROL ? "RTS/CTS " : "",
	       xon != SP_XONXOFF_DISABLED ? "XON/XOFF" : cts == SP_CTS_FLOW_CONTROL ? "" : "none");
	if (sp_get_signals(sp, &sig) == SP_OK)
		printf("modem lines: CTS %s, DSR %s, DCD %s, RI %s\n", sig & SP_SIG_CTS ? "on" : "off",
		       sig & SP_SIG_DSR ? "on" : "off", sig & SP_SIG_DCD ? "on" : "off",
		       sig & SP_SIG_RI ? "on" : "off");
	else
		printf("modem lines: not available on this tty (%s)\n", sp_last_error_message());
	r = 0;
out:
	sp_free_config(cfg);
	if (sp) {
		sp_close(sp);
		sp_free_port(sp);
	}
	return r;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "status", cmd_status },
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
	int c;

	while ((c = getopt_long(argc, argv, "+s:hV", opts, NULL)) != -1) {
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
			fprintf(stderr, "Try 'realcomctl --help'.\n");
			return 2;
		}
	}
	if (optind == argc) {
		fputs(usage, stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			return commands[i].fn(argc - optind, argv + optind);
	fprintf(stderr, "realcomctl: unknown command '%s'\nTry 'realcomctl --help'.\n", argv[optind]);
	return 2;
}
