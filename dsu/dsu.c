// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dsu: find NPort G2 units on the LAN, create the first administrator of a
 * new one, and map its ports into realcomd.  One subcommand per function,
 * in the style of wg(8); search and map live in their own files.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h"
#include "conf.h"
#include "dsu.h"

static const char usage[] =
	"Usage: dsu COMMAND [OPTION]...\n"
	"Find NPort 6000-G2 units, set up new ones, map their ports into realcomd, audit and\n"
	"upgrade them, apply settings to them.\n"
	"\n"
	"Commands:\n"
	"  search [--timeout SEC] [--interface IF] [--service-type TYPE] [--json]\n"
	"                  list the units that answer on mDNS\n"
	"  info HOST [--user NAME] [--json]\n"
	"                  a unit's identity; with --user also its serial port modes\n"
	"  setup HOST --user NAME\n"
	"                  create the first administrator of a new unit\n"
	"  map HOST --user NAME --ports LIST [--protocol realcom|rfc2217] [--tls]\n"
	"      [--cert FILE --key FILE] [--first-tty N] [--config FILE]\n"
	"                  write realcomd sections for the unit's ports and reload realcomd\n"
	"  audit HOST... [--user NAME] [--json] [--junit FILE]\n"
	"                  check units against the G2 hardening guide (exit 1: a check failed,\n"
	"                  2: a unit could not be audited)\n"
	"  unmap TTY...|HOST... [--config FILE] [--yes]\n"
	"                  remove realcomd sections (asked on a terminal) and reload realcomd\n"
	"  list [--config FILE] [--json] [--check]\n"
	"                  every mapped tty: unit, port, protocol, TLS pin, state in realcomd;\n"
	"                  --check: whether each host still answers as the unit mapped\n"
	"  backup HOST... --user NAME [-o, --output FILE|DIR]\n"
	"                  save each unit's configuration export (mode 0600), recorded\n"
	"                  in $XDG_STATE_HOME/realcom/backups\n"
	"  restore HOST FILE --user NAME [--network] [--force] [--dry-run] [--yes]\n"
	"                  put a backup back into a unit, showing what changes (asked on a\n"
	"                  terminal); its address only with --network\n"
	"  replace OLD NEW --user NAME [-o DIR] [--config FILE] [--force] [--yes]\n"
	"                  back up OLD (or take its last backup), restore it into NEW, and\n"
	"                  move OLD's realcomd sections to NEW\n"
	"  upgrade HOST... IMAGE --sha512 HEX --user NAME [--yes] [--wait SEC]\n"
	"                  put a firmware image on units one after another, checked against\n"
	"                  its published SHA-512 and each unit's model first\n"
	"  apply FILE [--dry-run] [--json] [--yes]\n"
	"                  bring each [unit NAME] of FILE to its settings or the hardening\n"
	"                  baseline, changing only what differs (asked on a terminal)\n"
	"\n"
	"HOST is a name or address, with :PORT when the web service is not on 443.\n"
	"Passwords come from --password-file FILE, DSU_PASSWORD, or the terminal.\n"
	"Common options: --fingerprint sha256:..  --timeout SEC\n"
	"  -h, --help      show this help (COMMAND --help: that command's)\n"
	"  -V, --version   show the version\n"
	"See dsu(1).\n";

int dsu_fail(const char *host, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, host ? "dsu: %s: " : "dsu: ", host);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/*
 * An HTTP answer to d's last call that is not the one wanted, in words a user
 * can act on.  A GET names itself: "GET /api/v1/...: 503 Service Unavailable:
 * the unit's words", as does any status without words of its own here.
 */
void dsu_refused_text(const struct dsu_dev *d, int status, json_object *reply, const char *user,
		      char *out, size_t len)
{
	const char *method = api_method(d->call), *path = api_path(d->call);
	const char *words = api_status_text(status);
	/* login and setup speak of the account; any other call names itself */
	bool get = strcmp(method, "POST") != 0;
	char why[300];

	api_error_text(reply, why, sizeof(why));
	switch (status) {
	case 401:
		if (get)
			break;
		snprintf(out, len, "login refused: wrong user name or password for \"%s\"", user);
		return;
	case 403:
		snprintf(out, len, "%s%s%s%s\"%s\" may not do this: it needs an administrator (%s)",
			 get ? method : "", get ? " " : "", get ? path : "", get ? ": " : "", user,
			 why);
		return;
	case 409:
		if (get)
			break;
		snprintf(out, len, "already set up: the unit has an administrator (log in with "
			 "--user instead)");
		return;
	case 422:
		if (get)
			break;
		snprintf(out, len, "the device refused the password: %s", why);
		return;
	case 423:
		snprintf(out, len, "locked out after too many failed logins: try again in %lld s",
			 (long long)json_int(reply, F.retry_after, -1));
		return;
	}
	snprintf(out, len, "%s %s: %d%s%s: %s", method, path, status, words[0] ? " " : "", words,
		 why);
}

int dsu_refused(struct dsu_dev *d, int status, json_object *reply, const char *user)
{
	char text[512];

	dsu_refused_text(d, status, reply, user, text, sizeof(text));
	return dsu_fail(d->host, "%s", text);
}

bool dsu_confirm(const char *question, const char *action, const char *nothing)
{
	char answer[16];

	if (!isatty(STDIN_FILENO)) {
		dsu_fail(NULL, "not on a terminal: add --yes to %s", action);
		return false;
	}
	fprintf(stderr, "%s [y/N] ", question);
	if (!fgets(answer, sizeof(answer), stdin) || (strcmp(answer, "y\n") &&
						       strcmp(answer, "yes\n"))) {
		fprintf(stderr, "dsu: %s\n", nothing);
		return false;
	}
	return true;
}

int dsu_needs_setup(const struct dsu_dev *d, json_object *dev)
{
	if (strcmp(json_str(dev, F.state), "needs-setup") != 0)
		return 0;
	return dsu_fail(d->host, "a new unit, still waiting for its first administrator: create it "
			"with  dsu setup %s --user NAME", d->host);
}

/* Connect with the trust of --fingerprint / known_devices / first use. */
int dsu_open(struct dsu_dev *d, const char *host, const char *fingerprint, unsigned int timeout)
{
	char err[DSU_ERR_MAX];

	if (dsu_dev_init(d, host, timeout, err) < 0 || dsu_trust(d, fingerprint, err) < 0)
		return dsu_fail(host, "%s", err);
	return 0;
}

/* One call with the trust bookkeeping around it: status or -1 (printed). */
int dsu_call(struct dsu_dev *d, enum api_call call, json_object *body, json_object **reply)
{
	char err[DSU_ERR_MAX];
	int status = api_call(d, call, body, reply, err);

	if (status < 0) {
		dsu_fail(d->host, "%s", err);
		return -1;
	}
	if (dsu_trust_commit(d, err) < 0) {
		dsu_fail(d->host, "%s", err);
		json_object_put(*reply);
		*reply = NULL;
		return -1;
	}
	return status;
}

int dsu_login_with(struct dsu_dev *d, const char *user, const char *password, char *err)
{
	json_object *body, *reply = NULL;
	int status;

	body = json_object_new_object();
	json_object_object_add(body, F.username, json_object_new_string(user));
	json_object_object_add(body, F.password, json_object_new_string(password));
	status = api_call(d, API_LOGIN, body, &reply, err);
	json_object_put(body);
	if (status < 0 || dsu_trust_commit(d, err) < 0) {
		json_object_put(reply);
		return -1;
	}
	if (status != 200 || !json_str(reply, F.token)[0] ||
	    strlen(json_str(reply, F.token)) >= sizeof(d->token)) {
		if (status == 200)
			snprintf(err, DSU_ERR_MAX, "the login answer carries no usable token");
		else
			dsu_refused_text(d, status, reply, user, err, DSU_ERR_MAX);
		json_object_put(reply);
		return -1;
	}
	snprintf(d->token, sizeof(d->token), "%s", json_str(reply, F.token));
	json_object_put(reply);
	return 0;
}

int dsu_login(struct dsu_dev *d, const char *user, const char *password_file)
{
	char pw[DSU_PASSWORD_MAX], err[DSU_ERR_MAX];
	int r;

	if (secret_get(password_file, false, pw, err) < 0) {
		dsu_fail(d->host, "%s", err);
		return -1;
	}
	r = dsu_login_with(d, user, pw, err);
	secret_wipe(pw, sizeof(pw));
	if (r < 0)
		dsu_fail(d->host, "%s", err);
	return r;
}

/* End the session; a failure here changes nothing for the user. */
void dsu_logout(struct dsu_dev *d)
{
	json_object *reply = NULL;
	char err[DSU_ERR_MAX];

	if (d->token[0])
		api_call(d, API_LOGOUT, NULL, &reply, err);
	json_object_put(reply);
	secret_wipe(d->token, sizeof(d->token));
}

void dsu_common_opt(struct dsu_common *o, int c, const char *cmd_usage)
{
	char why[128];

	switch (c) {
	case O_FP:
		o->fingerprint = optarg;
		return;
	case O_TIMEOUT:
		if (conf_parse_uint(optarg, 1, 600, &o->timeout, why, sizeof(why)) < 0)
			cli_usage_exit("--timeout '%s': expected 1 to 600 seconds", optarg);
		return;
	case 'u':
		o->user = optarg;
		return;
	case O_PWFILE:
		o->password_file = optarg;
		return;
	case O_JSON:
		o->json = true;
		return;
	case 'h':
		fputs(cmd_usage, stdout);
		exit(0);
	}
	/* the callers hand '?' and ':' to cli_option_error(), which can name
	 * the option from their argv; this is for one that does not */
	cli_usage_exit("unknown option or missing argument");
}

static void print_ports(json_object *ports)
{
	printf("%-5s %-10s %-24s %-6s %-7s %-5s\n", "PORT", "MODE", "CONNECTION", "DATA", "COMMAND",
	       "TCP");
	for (size_t i = 0; i < json_object_array_length(ports); i++) {
		json_object *p = json_object_array_get_idx(ports, i);

		printf("%-5lld %-10s %-24s %-6lld %-7lld %-5lld\n",
		       (long long)json_int(p, F.port, 0), json_str(p, F.mode),
		       json_str(p, F.connection), (long long)json_int(p, F.data_port, 0),
		       (long long)json_int(p, F.command_port, 0), (long long)json_int(p, F.tcp_port, 0));
	}
}

/* The common options and exactly one HOST (info, setup): 0, or a usage
 * error's exit status. */
static int one_host_args(int argc, char **argv, const struct option *longopts, const char *help,
			 struct dsu_common *o)
{
	int c;

	while ((c = getopt_long(argc, argv, ":u:h", longopts, NULL)) != -1)
		if (c == '?' || c == ':')
			return cli_option_error(c, argv, longopts);
		else
			dsu_common_opt(o, c, help);
	if (optind == argc)
		return cli_usage_error("missing HOST");
	if (optind != argc - 1)
		return cli_unexpected_argument(argv[optind + 1]);
	return 0;
}
static int cmd_info(int argc, char **argv)
{
	static const char help[] = "Usage: dsu info HOST [--user NAME [--password-file FILE]] "
				   "[--json] [--fingerprint FP] [--timeout SEC]\n";
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, O_JSON },
		DSU_COMMON_OPTIONS, { NULL, 0, NULL, 0 },
	};
	struct dsu_common o = { .timeout = 10 };
	json_object *dev = NULL, *ports = NULL;
	struct dsu_dev d;
	int c, status, r = 1;

	c = one_host_args(argc, argv, longopts, help, &o);
	if (c)
		return c;
	if (dsu_open(&d, argv[optind], o.fingerprint, o.timeout))
		return 1;
	status = dsu_call(&d, API_DEVICE, NULL, &dev);
	if (status < 0)
		return 1;
	if (status != 200) {
		r = dsu_refused(&d, status, dev, "");
		goto out;
	}
	if (o.user) {
		if (dsu_needs_setup(&d, dev) || dsu_login(&d, o.user, o.password_file) < 0)
			goto out;
		status = dsu_call(&d, API_PORTS, NULL, &ports);
		if (status != 200 || !json_object_is_type(ports, json_type_array)) {
			if (status > 0)
				dsu_refused(&d, status, ports, o.user);
			goto out;
		}
	}
	if (o.json) {
		json_object *all = json_object_get(dev);

		if (ports)
			json_object_object_add(all, "serial_ports", json_object_get(ports));
		puts(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(all);
	} else {
		printf("name:     %s\nmodel:    %s\nserial:   %s\nmac:      %s\nfirmware: %s\n"
		       "ports:    %lld\nstate:    %s\n", json_str(dev, F.name), json_str(dev, F.model),
		       json_str(dev, F.serial), json_str(dev, F.mac), json_str(dev, F.firmware),
		       (long long)json_int(dev, F.ports, 0), json_str(dev, F.state));
		if (ports) {
			printf("\n");
			print_ports(ports);
		} else if (strcmp(json_str(dev, F.state), "needs-setup") == 0) {
			printf("\nA new unit: create its administrator with  dsu setup %s --user NAME\n",
			       d.host);
		}
	}
	r = 0;
out:
	dsu_logout(&d);
	json_object_put(dev);
	json_object_put(ports);
	return r;
}

static int cmd_setup(int argc, char **argv)
{
	static const char help[] = "Usage: dsu setup HOST --user NAME [--password-file FILE] "
				   "[--fingerprint FP] [--timeout SEC]\n";
	static const struct option longopts[] = {
		DSU_COMMON_OPTIONS, { NULL, 0, NULL, 0 },
	};
	struct dsu_common o = { .timeout = 10 };
	char pw[DSU_PASSWORD_MAX], err[DSU_ERR_MAX];
	json_object *body, *reply = NULL;
	const char *rule;
	struct dsu_dev d;
	int c, status;

	c = one_host_args(argc, argv, longopts, help, &o);
	if (c)
		return c;
	if (!o.user)
		return cli_usage_error("missing --user NAME");
	if (dsu_open(&d, argv[optind], o.fingerprint, o.timeout))
		return 1;
	if (secret_get(o.password_file, true, pw, err) < 0)
		return dsu_fail(d.host, "%s", err);
	rule = secret_policy(pw);
	if (rule) {
		secret_wipe(pw, sizeof(pw));
		return dsu_fail(d.host, "password refused before sending: %s", rule);
	}
	body = json_object_new_object();
	json_object_object_add(body, F.username, json_object_new_string(o.user));
	json_object_object_add(body, F.password, json_object_new_string(pw));
	secret_wipe(pw, sizeof(pw));
	status = dsu_call(&d, API_SETUP, body, &reply);
	json_object_put(body);
	if (status < 0)
		return 1;
	if (status != 201 && status != 200) {
		status = dsu_refused(&d, status, reply, o.user);
		json_object_put(reply);
		return status;
	}
	json_object_put(reply);
	printf("%s: administrator \"%s\" created; the unit now runs Real COM on every port\n",
	       d.host, o.user);
	return 0;
}

static const struct cli_command commands[] = {
	{ "search", dsu_search },
	{ "info", cmd_info },
	{ "setup", cmd_setup },
	{ "map", dsu_map },
	{ "audit", dsu_audit },
	{ "backup", dsu_backup },
	{ "list", dsu_list },
	{ "unmap", dsu_unmap },
	{ "restore", dsu_restore },
	{ "replace", dsu_replace },
	{ "upgrade", dsu_upgrade },
	{ "apply", dsu_apply },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_command *cmd;
	int c, r;

	cli_init("dsu");
	/* only these come before the command; the command parses the rest */
	while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("dsu %s\n", REALCOM_VERSION);
			return 0;
		default:
			return cli_option_error(c, argv, opts);
		}
	}
	if (optind < argc && !strcmp(argv[optind], "help")) {
		fputs(usage, stdout);
		return 0;
	}
	cmd = cli_command_find(commands, sizeof(commands) / sizeof(commands[0]),
			       optind < argc ? argv[optind] : NULL);
	if (!cmd)
		return CLI_EXIT_USAGE;
	cli_set_command(cmd->name, true);
	/* getopt takes any unambiguous prefix: "--password SECRET" must not pass as a file */
	for (int i = 2; i < argc; i++)
		if (!strncmp(argv[i], "--pass", 6) && strcmp(argv[i], "--password-file") &&
		    strncmp(argv[i], "--password-file=", 16))
			return cli_usage_error("passwords never go on the command line: use "
					       "--password-file FILE, DSU_PASSWORD or the terminal");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return dsu_fail(NULL, "cannot start libcurl");
	optind = 0;	/* the command's getopt_long() starts afresh */
	r = cmd->run(argc - 1, argv + 1);
	curl_global_cleanup();
	return r;
}
