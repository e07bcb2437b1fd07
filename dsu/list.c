// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dsu list: every tty realcom.conf maps, read with realcomd's own parser,
 * with the unit, port, protocol and TLS pin, and whether realcomd has it up
 * (asked over its control socket, as realcomctl status does).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "ctlsock.h"
#include "cli.h"
#include "dsu.h"

static const char help[] =
	"Usage: dsu list [--config FILE] [--json]\n"
	"Every tty FILE (default " REALCOM_CONF_DEFAULT ") maps: unit, port, protocol,\n"
	"TLS pin, and its state in realcomd.\n";

void dsu_control_path(const struct realcom_config *cfg, char *out, size_t len)
{
	snprintf(out, len, "%s", cfg && cfg->control_socket[0] ? cfg->control_socket :
		 DSU_CONTROL_DEFAULT);
}

/* realcomd's status, or NULL with why on stderr. */
static json_object *list_status(const struct realcom_config *cfg)
{
	char path[256], err[CONF_ERR_MAX];
	json_object *o;
	struct stat st;

	dsu_control_path(cfg, path, sizeof(path));
	if (stat(path, &st) < 0) {
		fprintf(stderr, "dsu: realcomd not running (no %s): no tty is up\n", path);
		return NULL;
	}
	o = ctlsock_ask(path, "{\"cmd\":\"status\"}\n", err, sizeof(err));
	if (!o)
		fprintf(stderr, "dsu: realcomd does not answer (%s): states unknown\n", err);
	return o;
}

/* realcomd's port entry for ttyR<n>, or NULL. */
static json_object *list_port(json_object *status, unsigned int n)
{
	json_object *ports = status ? json_object_object_get(status, "ports") : NULL;
	char tty[16];

	snprintf(tty, sizeof(tty), "ttyR%u", n);
	for (size_t i = 0; ports && i < json_object_array_length(ports); i++) {
		json_object *p = json_object_array_get_idx(ports, i);

		if (strcmp(json_str(p, "tty"), tty) == 0)
			return p;
	}
	return NULL;
}

/* "-", the pin, "CA FILE" or "system CAs": what the tty trusts its unit by. */
static void list_tls(const struct port_config *pc, char *out, size_t len)
{
	char fp[TLS_FP_STRLEN];

	if (pc->tls == PORT_TLS_OFF) {
		snprintf(out, len, "-");
	} else if (pc->pinned) {
		tls_fingerprint_format(pc->fingerprint, fp);
		snprintf(out, len, "%s", fp);
	} else if (pc->tls_ca[0]) {
		snprintf(out, len, "CA %s", pc->tls_ca);
	} else {
		snprintf(out, len, "system CAs");
	}
}

int dsu_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = REALCOM_CONF_DEFAULT;
	struct realcom_config *cfg = malloc(sizeof(*cfg));
	json_object *status, *all = json_object_new_array();
	char err[CONF_ERR_MAX], tls[320], tty[16];
	bool json = false;
	int ch;

	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (ch == 'c' || ch == 'j') {
			config = ch == 'c' ? optarg : config;
			json |= ch == 'j';
			continue;
		}
		free(cfg);
		json_object_put(all);
		if (ch == 'h') {
			fputs(help, stdout);
			return 0;
		}
		return cli_option_error(ch, argv, longopts);
	}
	if (optind != argc || !cfg || config_load(config, cfg, err) < 0) {
		int r = optind != argc ? cli_unexpected_argument(argv[optind]) :
			dsu_fail(NULL, "%s", cfg ? err : "out of memory");

		free(cfg);
		json_object_put(all);
		return r;
	}
	status = list_status(cfg);
	if (!json)
		printf("%-8s %-24s %-4s %-8s %-12s %s\n", "TTY", "HOST", "PORT", "PROTOCOL", "STATE",
		       "TLS");
	for (unsigned int n = 0; n < REALCOM_TTYS_MAX; n++) {
		const struct port_config *pc = &cfg->port[n];
		json_object *p = list_port(status, n), *o;
		const char *state = !status ? "not running" : p ? json_str(p, "state") : "not loaded";

		if (!pc->used)
			continue;
		list_tls(pc, tls, sizeof(tls));
		if (!json) {
			printf("ttyR%-4u %-24s %-4u %-8s %-12s %s\n", n, pc->host, pc->dev_port,
			       config_protocol_names[pc->protocol], state, tls);
			continue;
		}
		o = json_object_new_object();
		snprintf(tty, sizeof(tty), "ttyR%u", n);
		json_object_object_add(o, "tty", json_object_new_string(tty));
		json_object_object_add(o, "host", json_object_new_string(pc->host));
		json_object_object_add(o, "port", json_object_new_int((int)pc->dev_port));
		json_object_object_add(o, "protocol",
				       json_object_new_string(config_protocol_names[pc->protocol]));
		json_object_object_add(o, "tls", json_object_new_string(config_tls_names[pc->tls]));
		json_object_object_add(o, "tls_fingerprint", pc->pinned ?
				       json_object_new_string(tls) : NULL);
		json_object_object_add(o, "state", json_object_new_string(state));
		json_object_object_add(o, "path", p ? json_object_new_string(json_str(p, "path"))
						    : NULL);
		json_object_array_add(all, o);
	}
	if (json)
		puts(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(status);
	json_object_put(all);
	free(cfg);
	return 0;
}
