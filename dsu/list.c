// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dsu list: every tty realcom.conf maps, read with realcomd's own parser,
 * with the unit, port, protocol and TLS pin, and whether realcomd has it up
 * (asked over its control socket, as realcomctl status does).  With --check
 * it also asks each host who answers there (GET /device, no login) and
 * compares the MAC with the one dsu map recorded: a unit that moved.
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
	"Usage: dsu list [--config FILE] [--json] [--check [--timeout SEC] [--fingerprint FP]]\n"
	"Every tty FILE (default " REALCOM_CONF_DEFAULT ") maps: unit, port, protocol,\n"
	"TLS pin, and its state in realcomd.  --check asks each host which unit answers\n"
	"there (at most --timeout SEC, default 5, per host) against the MAC recorded by\n"
	"dsu map: exit 1 when another unit answers.\n";

/* What --check found at one host. */
struct list_unit {
	char host[256];
	char mac[18];			/* the MAC the unit there gives, or "" */
	bool reached;
};

/* GET /device at host, once per host: what answers there. */
static const struct list_unit *list_ask(struct list_unit *seen, size_t *n, const char *host,
					const struct dsu_common *c)
{
	char where[DSU_HOST_MAX + 8];
	struct list_unit *u;
	json_object *dev = NULL;
	struct dsu_dev d;

	for (size_t i = 0; i < *n; i++)
		if (strcmp(seen[i].host, host) == 0)
			return &seen[i];
	u = &seen[(*n)++];
	*u = (struct list_unit){ 0 };
	snprintf(u->host, sizeof(u->host), "%s", host);
	/* the web service's port is where dsu reached the unit before, else 443 */
	if (!known_endpoint(host, where, sizeof(where)))
		snprintf(where, sizeof(where), strchr(host, ':') ? "[%s]" : "%s", host);
	if (dsu_open(&d, where, c->fingerprint, c->timeout) == 0 &&
	    dsu_call(&d, API_DEVICE, NULL, &dev) == 200) {
		u->reached = true;
		if (!config_mac_parse(json_str(dev, F.mac), u->mac))
			u->mac[0] = '\0';
	}
	json_object_put(dev);
	return u;
}

/* The UNIT column: "same", "moved: MAC", "unreachable", or "-" (no MAC recorded). */
static const char *list_unit_state(const struct port_config *pc, const struct list_unit *u,
				   char *out, size_t len)
{
	if (!pc->mac[0])
		snprintf(out, len, "-");
	else if (!u->reached)
		snprintf(out, len, "unreachable");
	else if (strcmp(u->mac, pc->mac) == 0)
		snprintf(out, len, "same");
	else
		snprintf(out, len, "other:%s", u->mac[0] ? u->mac : "?");
	return out;
}

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
	enum { O_CHECK = O_FIRST_OPT };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "check", no_argument, NULL, O_CHECK },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "fingerprint", required_argument, NULL, O_FP },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = REALCOM_CONF_DEFAULT;
	struct realcom_config *cfg = malloc(sizeof(*cfg));
	struct list_unit *seen = calloc(REALCOM_TTYS_MAX, sizeof(*seen));
	json_object *status, *all = json_object_new_array();
	char err[CONF_ERR_MAX], tls[320], tty[16], unit[40];
	struct dsu_common c = { .timeout = 5 };
	bool json = false, check = false;
	size_t nseen = 0;
	int ch, r = 0;

	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (ch == 'c' || ch == 'j' || ch == O_CHECK) {
			config = ch == 'c' ? optarg : config;
			json |= ch == 'j';
			check |= ch == O_CHECK;
			continue;
		}
		if (ch == O_TIMEOUT || ch == O_FP) {
			dsu_common_opt(&c, ch, help);
			continue;
		}
		free(cfg);
		free(seen);
		json_object_put(all);
		if (ch == 'h') {
			fputs(help, stdout);
			return 0;
		}
		return cli_option_error(ch, argv, longopts);
	}
	if (optind != argc || !cfg || !seen || config_load(config, cfg, err) < 0) {
		r = optind != argc ? cli_unexpected_argument(argv[optind]) :
			dsu_fail(NULL, "%s", cfg && seen ? err : "out of memory");

		free(cfg);
		free(seen);
		json_object_put(all);
		return r;
	}
	if (!check && (c.fingerprint || c.timeout != 5)) {
		free(cfg);
		free(seen);
		json_object_put(all);
		return cli_usage_error("--timeout and --fingerprint go with --check");
	}
	status = list_status(cfg);
	if (!json)
		printf("%-8s %-24s %-4s %-8s %-12s %s%s\n", "TTY", "HOST", "PORT", "PROTOCOL", "STATE",
		       check ? "UNIT                    " : "", "TLS");
	for (unsigned int n = 0; n < REALCOM_TTYS_MAX; n++) {
		const struct port_config *pc = &cfg->port[n];
		json_object *p = list_port(status, n), *o;
		const char *state = !status ? "not running" : p ? json_str(p, "state") : "not loaded";
		const struct list_unit *u = NULL;

		if (!pc->used)
			continue;
		list_tls(pc, tls, sizeof(tls));
		if (check && pc->mac[0]) {
			u = list_ask(seen, &nseen, pc->host, &c);
			list_unit_state(pc, u, unit, sizeof(unit));
			if (u->reached && strcmp(u->mac, pc->mac)) {
				fprintf(stderr, "dsu: ttyR%u: the unit mapped (MAC %s) is not at %s: "
					"MAC %s answers there; it moved, or the address went to "
					"another unit\n", n, pc->mac, pc->host,
					u->mac[0] ? u->mac : "(none given)");
				r = 1;
			}
		} else {
			snprintf(unit, sizeof(unit), "-");
		}
		if (!json) {
			printf("ttyR%-4u %-24s %-4u %-8s %-12s ", n, pc->host, pc->dev_port,
			       config_protocol_names[pc->protocol], state);
			if (check)
				printf("%-23s ", unit);
			printf("%s\n", tls);
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
		json_object_object_add(o, "mac", pc->mac[0] ? json_object_new_string(pc->mac) : NULL);
		if (check)
			json_object_object_add(o, "unit", json_object_new_string(unit));
		json_object_array_add(all, o);
	}
	if (json)
		puts(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(status);
	json_object_put(all);
	free(cfg);
	free(seen);
	return r;
}
