// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nportsim: main program.  Parses options, opens each port's pty and
 * listeners, the TLS context, the control socket and the management side,
 * then runs the loop.  The device's behaviour lives in sim_realcom.c and
 * sim_rfc2217.c, its management API in sim_rest.c.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aspp.h"
#include "cli.h"
#include "conf.h"
#include "log.h"
#include "sim.h"

#ifndef REALCOM_VERSION
#define REALCOM_VERSION "unknown"
#endif

static const char usage[] =
	"Usage: nportsim [OPTION]...\n"
	"Simulate an NPort 6000-G2 device server: each serial port is a pty on one side and\n"
	"a Real COM (or RFC 2217) server on the network side.\n"
	"\n"
	"  -n, --ports N            serial ports, 1-32 (default 1)\n"
	"  -m, --mode MODE          realcom or rfc2217 (default realcom)\n"
	"  -l, --listen ADDR        address to listen on (default 127.0.0.1)\n"
	"      --data-base PORT     Real COM data port of port 1 (default 950)\n"
	"      --command-base PORT  Real COM command port of port 1 (default 966)\n"
	"      --tcp-base PORT      RFC 2217: port N listens on PORT+N (default 4000)\n"
	"  -d, --pty-dir DIR        where DIR/portN links to each port's pty (default .)\n"
	"  -e, --echo               loop each port's transmitted data back to the host\n"
	"      --line-rate on|off   pace serial data at the applied baud rate (default off)\n"
	"      --poll-idle SEC      silence before POLLING starts (default 40)\n"
	"      --poll-interval SEC  time between polls (default 3)\n"
	"      --poll-max N         unanswered polls before the host is dropped (default 4)\n"
	"      --tls MODE           off, data-only (legacy: only the data connection) or on\n"
	"      --cert FILE          TLS certificate (PEM)\n"
	"      --key FILE           its private key (PEM)\n"
	"      --client-ca FILE     require a client certificate signed by this CA\n"
	"  -c, --control PATH       JSON control socket (see nportsim(1))\n"
	"\n"
	"Management (REST over HTTPS and mDNS, see nportsim(1)):\n"
	"      --https-port N       serve the REST API on port N (0: any free port)\n"
	"      --factory            a new unit: no account, ports disabled until set up\n"
	"      --accounts FILE      user:password:admin|operator lines (mode 600)\n"
	"      --lockout-failures N failed logins before a lockout (default 5)\n"
	"      --lockout-seconds S  how long a lockout lasts (default 300)\n"
	"      --min-password N     the password policy's minimum length (default 8)\n"
	"      --name NAME          device name (default NPort-<model digits>-<MAC tail>)\n"
	"      --model MODEL        model (default \"NPort 6150-G2\")\n"
	"      --mac MAC            MAC address (default 00:90:E8 and 3 derived bytes)\n"
	"      --serial SERIAL      serial number (default derived from the MAC)\n"
	"      --firmware VERSION   the firmware version it reports (default 1.1)\n"
	"      --restart-seconds SEC  a firmware upgrade's restart: 503 meanwhile (default 2)\n"
	"      --keep-firmware      fault: an accepted image does not take (the version stays)\n"
	"      --mdns, --no-mdns    announce on mDNS through avahi-daemon (default: on\n"
	"                           with the REST API)\n"
	"  -v, --verbose            log every connection and command\n"
	"  -h, --help               show this help\n"
	"  -V, --version            show the version\n";

uint16_t sim_data_port(const struct sim *s, unsigned int n)
{
	/* ports 17-32 start 32 above ports 1-16 (docs/realcom-protocol.md, "Connections") */
	return (uint16_t)(s->opt.data_base + (n <= 16 ? n - 1 : 32 + n - 17));
}

uint16_t sim_command_port(const struct sim *s, unsigned int n)
{
	return (uint16_t)(s->opt.command_base + (n <= 16 ? n - 1 : 32 + n - 17));
}

void sim_log_command(struct sim_port *p, const uint8_t *bytes, size_t n, bool known)
{
	struct sim_log_entry *e = &p->log[p->log_next];

	e->t_ms = loop_now_ms();
	e->len = (uint8_t)(n > sizeof(e->bytes) ? sizeof(e->bytes) : n);
	if (n > 255)
		e->len = 255;
	memcpy(e->bytes, bytes, e->len);
	e->known = known;
	p->log_next = (p->log_next + 1) % SIM_LOG_MAX;
	if (p->log_len < SIM_LOG_MAX)
		p->log_len++;
	p->log_total++;
	log_debug("port %u: command %02X, %zu bytes%s", p->n, bytes[0], n,
		  known ? "" : " (ignored)");
}

int sim_accept(struct sim_port *p, int lfd, bool tls, SSL **ssl, char peer[SOCK_ADDRSTRLEN])
{
	struct sim *s = p->sim;
	struct sock_addr a = { .len = sizeof(a.ss) };
	char err[TLS_ERR_MAX];
	int fd = accept4(lfd, (struct sockaddr *)&a.ss, &a.len, SOCK_NONBLOCK | SOCK_CLOEXEC);

	*ssl = NULL;
	if (fd < 0)
		return -errno;
	sock_addr_str(&a, peer);
	sock_tune(fd, 0);
	if (!tls)
		return fd;
	if (s->refuse_tls > 0) {
		s->refuse_tls--;
		log_info("port %u: refused TLS from %s (fault)", p->n, peer);
		close(fd);
		return -ECONNREFUSED;
	}
	*ssl = tls_session_new(s->tls, fd, NULL, err);
	if (!*ssl) {
		log_warnx("port %u: %s", p->n, err);
		close(fd);
		return -ENOMEM;
	}
	return fd;
}

int sim_listen_on(struct sim_port *p, int i, uint16_t port, loop_fd_fn *fn)
{
	struct sim *s = p->sim;
	int r;

	p->lfd[i] = sock_listen(s->opt.listen, port, 4);
	if (p->lfd[i] < 0) {
		r = p->lfd[i];
		log_warnc(r, "port %u: listen on %s port %u", p->n, s->opt.listen, port);
		return r;
	}
	r = loop_watch_add(s->loop, &p->lwatch[i], p->lfd[i], EPOLLIN, fn, p);
	if (r < 0)
		log_warnc(r, "port %u: watch listener", p->n);
	return r;
}

void sim_listen_close(struct sim_port *p)
{
	for (int i = 0; i < 2; i++) {
		loop_watch_del(&p->lwatch[i]);
		if (p->lfd[i] >= 0)
			close(p->lfd[i]);
		p->lfd[i] = -1;
	}
}

static void sim_reboot_done(struct loop_timer *t)
{
	struct sim *s = t->arg;

	s->rebooting = false;
	for (unsigned int i = 0; i < s->opt.ports; i++)
		if (s->port[i].enabled && s->port[i].proto->listen(&s->port[i]) < 0)
			log_warnx("port %u: cannot listen again after the reboot", i + 1);
	log_info("reboot done");
}

void sim_reboot(struct sim *s, unsigned int ms)
{
	log_info("rebooting: refusing connections for %u ms", ms);
	s->rebooting = true;
	for (unsigned int i = 0; i < s->opt.ports; i++) {
		struct sim_port *p = &s->port[i];

		p->proto->drop(p, "device rebooting");
		sim_listen_close(p);
		sim_serial_flush(p, true, true);
		sim_serial_reset(p);
	}
	loop_timer_arm(&s->reboot_timer, ms, 0);
}

SSL_CTX *sim_data_tls(struct sim *s)
{
	struct tls_config tc = {
		.server = true, .verify = true, .cert = s->mgmt.cert, .key = s->mgmt.key,
		.ca_file = s->opt.client_ca, .require_client_cert = s->opt.client_ca != NULL,
	};
	char err[TLS_ERR_MAX];

	if (s->tls || !s->mgmt.cert)
		return s->tls;
	s->tls = tls_ctx_new(&tc, err);
	if (!s->tls)
		log_warnx("TLS: %s", err);
	return s->tls;
}

void sim_certificate_changed(struct sim *s)
{
	log_info("address changed: new certificate sha256 %s, every host dropped",
		 s->mgmt.cert_sha256);
	for (unsigned int i = 0; i < s->opt.ports; i++)
		s->port[i].proto->drop(&s->port[i], "the unit's address changed");
	/* made from the old certificate (with --cert it would not change);
	 * sessions still open hold their own reference */
	SSL_CTX_free(s->tls);
	s->tls = NULL;
	sim_data_tls(s);
	sim_http_renew(s);
}

int sim_port_configure(struct sim_port *p, enum sim_mode mode, bool enabled, enum sim_tls tls)
{
	const struct sim_proto *proto = mode == SIM_REALCOM ? &sim_realcom : &sim_rfc2217;
	int r = 0;

	p->proto->drop(p, "port reconfigured");
	sim_listen_close(p);
	if (proto != p->proto) {
		conn_free(&p->data);
		conn_free(&p->cmd);
		loop_timer_free(&p->poll_timer);
		loop_timer_free(&p->wait_timer);
		p->proto = proto;
		r = proto->init(p);
	}
	p->tls = tls;
	p->enabled = enabled && r == 0;
	if (p->enabled && !p->sim->rebooting)
		r = proto->listen(p);
	if (r < 0) {
		sim_listen_close(p);
		p->enabled = false;
	}
	log_info("port %u: %s%s", p->n, !p->enabled ? "disabled" :
		 mode == SIM_REALCOM ? "Real COM" : "RFC 2217",
		 p->enabled && tls != SIM_TLS_OFF ? " over TLS" : "");
	return r;
}

static void sim_stall_done(struct loop_timer *t)
{
	struct sim_port *p = t->arg;

	p->stalled = false;
	p->proto->unstall(p);
}

void sim_stall(struct sim_port *p, unsigned int ms)
{
	p->stalled = true;
	conn_pause(&p->data, true);
	conn_pause(&p->cmd, true);
	loop_timer_arm(&p->stall_timer, ms, 0);
}

void sim_line_event(struct sim_port *p, uint8_t events)
{
	if (events & ASPP_EV_BREAK)
		p->breaks_received++;
	p->proto->line_event(p, events);
}

static void on_signal(struct loop *l, int signo, void *arg)
{
	log_info("signal %d: stopping", signo);
	loop_exit(l, 0);
}

static int parse_seconds(const char *arg, unsigned int *ms)
{
	char *end;
	double v = strtod(arg, &end);

	if (*end || end == arg || v < 0.001 || v > 86400)
		return -1;
	*ms = (unsigned int)(v * 1000 + 0.5);
	return 0;
}

static void parse_options(int argc, char **argv, struct sim_options *o)
{
	enum { O_DATA = 256, O_CMD, O_TCP, O_RATE, O_IDLE, O_INTERVAL, O_MAX, O_TLS, O_CERT,
	       O_KEY, O_CA, O_HTTPS, O_FACTORY, O_ACCOUNTS, O_LOCK_N, O_LOCK_S, O_MIN_PW, O_NAME, O_MODEL,
	       O_MAC, O_SERIAL, O_MDNS, O_NO_MDNS, O_FIRMWARE, O_RESTART, O_KEEP_FW };
	static const struct option opts[] = {
		{ "ports", required_argument, NULL, 'n' },
		{ "mode", required_argument, NULL, 'm' },
		{ "listen", required_argument, NULL, 'l' },
		{ "data-base", required_argument, NULL, O_DATA },
		{ "command-base", required_argument, NULL, O_CMD },
		{ "tcp-base", required_argument, NULL, O_TCP },
		{ "pty-dir", required_argument, NULL, 'd' },
		{ "echo", no_argument, NULL, 'e' },
		{ "line-rate", required_argument, NULL, O_RATE },
		{ "poll-idle", required_argument, NULL, O_IDLE },
		{ "poll-interval", required_argument, NULL, O_INTERVAL },
		{ "poll-max", required_argument, NULL, O_MAX },
		{ "tls", required_argument, NULL, O_TLS },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "client-ca", required_argument, NULL, O_CA },
		{ "control", required_argument, NULL, 'c' },
		{ "https-port", required_argument, NULL, O_HTTPS },
		{ "factory", no_argument, NULL, O_FACTORY },
		{ "accounts", required_argument, NULL, O_ACCOUNTS },
		{ "lockout-failures", required_argument, NULL, O_LOCK_N },
		{ "lockout-seconds", required_argument, NULL, O_LOCK_S },
		{ "min-password", required_argument, NULL, O_MIN_PW },
		{ "name", required_argument, NULL, O_NAME },
		{ "model", required_argument, NULL, O_MODEL },
		{ "mac", required_argument, NULL, O_MAC },
		{ "serial", required_argument, NULL, O_SERIAL },
		{ "firmware", required_argument, NULL, O_FIRMWARE },
		{ "restart-seconds", required_argument, NULL, O_RESTART },
		{ "keep-firmware", no_argument, NULL, O_KEEP_FW },
		{ "mdns", no_argument, NULL, O_MDNS },
		{ "no-mdns", no_argument, NULL, O_NO_MDNS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const modes[] = { "realcom", "rfc2217", NULL };
	static const char *const tls_modes[] = { "off", "data-only", "on", NULL };
	char why[CONF_ERR_MAX];
	int c, e;
	bool b;

	cli_init("nportsim");
	while ((c = getopt_long(argc, argv, ":n:m:l:d:ec:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (conf_parse_uint(optarg, 1, SIM_PORTS_MAX, &o->ports, why, sizeof(why)))
				cli_usage_exit("--ports '%s': expected 1 to 32", optarg);
			break;
		case 'm':
			if (conf_parse_enum(optarg, modes, &e, why, sizeof(why)))
				cli_usage_exit("--mode '%s': expected realcom or rfc2217", optarg);
			o->mode = e;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case O_DATA:
		case O_CMD:
		case O_TCP: {
			unsigned int *dst = c == O_DATA ? &o->data_base :
					    c == O_CMD	? &o->command_base : &o->tcp_base;

			if (conf_parse_uint(optarg, 1, 65535 - 48, dst, why, sizeof(why)))
				cli_usage_exit("'%s': expected a TCP port from 1 to 65487", optarg);
			break;
		}
		case 'd':
			o->pty_dir = optarg;
			break;
		case 'e':
			o->echo = true;
			break;
		case O_RATE:
			if (conf_parse_bool(optarg, &b, why, sizeof(why)))
				cli_usage_exit("--line-rate '%s': %s", optarg, why);
			o->line_rate = b;
			break;
		case O_IDLE:
			if (parse_seconds(optarg, &o->poll_idle_ms))
				cli_usage_exit("--poll-idle '%s': expected seconds (0.001 to 86400)", optarg);
			break;
		case O_INTERVAL:
			if (parse_seconds(optarg, &o->poll_interval_ms))
				cli_usage_exit("--poll-interval '%s': expected seconds", optarg);
			break;
		case O_MAX:
			if (conf_parse_uint(optarg, 1, 255, &o->poll_max, why, sizeof(why)))
				cli_usage_exit("--poll-max '%s': expected 1 to 255", optarg);
			break;
		case O_TLS:
			if (conf_parse_enum(optarg, tls_modes, &e, why, sizeof(why)))
				cli_usage_exit("--tls '%s': expected off, data-only or on", optarg);
			o->tls = e;
			break;
		case O_CERT:
			o->cert = optarg;
			break;
		case O_KEY:
			o->key = optarg;
			break;
		case O_CA:
			o->client_ca = optarg;
			break;
		case 'c':
			o->control = optarg;
			break;
		case O_HTTPS:
			if (conf_parse_uint(optarg, 0, 65535, &o->https_port, why, sizeof(why)))
				cli_usage_exit("--https-port '%s': expected 0 to 65535", optarg);
			o->mgmt = true;
			break;
		case O_FACTORY:
			o->factory = o->mgmt = true;
			break;
		case O_ACCOUNTS:
			o->accounts = optarg;
			o->mgmt = true;
			break;
		case O_LOCK_N:
			if (conf_parse_uint(optarg, 1, 100, &o->lockout_failures, why, sizeof(why)))
				cli_usage_exit("--lockout-failures '%s': expected 1 to 100", optarg);
			break;
		case O_LOCK_S:
			if (conf_parse_uint(optarg, 1, 86400, &o->lockout_seconds, why, sizeof(why)))
				cli_usage_exit("--lockout-seconds '%s': expected 1 to 86400", optarg);
			break;
		case O_MIN_PW:
			if (conf_parse_uint(optarg, 1, SIM_PASSWORD_MAX, &o->min_password, why,
					    sizeof(why)))
				cli_usage_exit("--min-password '%s': expected 1 to %d", optarg,
					       SIM_PASSWORD_MAX);
			break;
		case O_NAME:
			if (!*optarg || strlen(optarg) > SIM_NAME_MAX)
				cli_usage_exit("--name: 1 to %d characters", SIM_NAME_MAX);
			o->name = optarg;
			break;
		case O_MODEL:
			if (!*optarg || strlen(optarg) > 31)
				cli_usage_exit("--model: 1 to 31 characters");
			o->model = optarg;
			break;
		case O_MAC:
			o->mac = optarg;
			break;
		case O_SERIAL:
			if (!*optarg || strlen(optarg) > 31)
				cli_usage_exit("--serial: 1 to 31 characters");
			o->serial = optarg;
			break;
		case O_FIRMWARE:
			if (!*optarg || strlen(optarg) > SIM_FW_MAX ||
			    strspn(optarg, "0123456789abcdefghijklmnopqrstuvwxyz"
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-_") != strlen(optarg))
				cli_usage_exit("--firmware '%s': 1 to %d letters, digits, '.', '-' "
					       "or '_'", optarg, SIM_FW_MAX);
			o->firmware = optarg;
			break;
		case O_RESTART:
			if (parse_seconds(optarg, &o->restart_ms) < 0)
				cli_usage_exit("--restart-seconds '%s': expected seconds (0.001 to "
					       "86400)", optarg);
			break;
		case O_KEEP_FW:
			o->keep_firmware = true;
			break;
		case O_MDNS:
		case O_NO_MDNS:
			o->mdns = c == O_MDNS;
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case 'V':
			printf("nportsim %s\n", REALCOM_VERSION);
			exit(0);
		default:
			exit(cli_option_error(c, argv, opts));
		}
	}
	if (optind < argc)
		exit(cli_unexpected_argument(argv[optind]));
	if (o->tls != SIM_TLS_OFF && (!o->cert || !o->key))
		cli_usage_exit("--tls %s needs --cert and --key", tls_modes[o->tls]);
	if (o->client_ca && o->tls == SIM_TLS_OFF)
		cli_usage_exit("--client-ca %s needs --tls data-only or on", o->client_ca);
	if (o->factory && o->accounts)
		cli_usage_exit("--factory is a unit without accounts: drop --accounts");
	if (o->mdns == 1 && !o->mgmt)
		cli_usage_exit("--mdns announces the REST API: give --https-port too");
	if (o->mgmt && o->mdns < 0)
		o->mdns = 1;
	if (o->mode == SIM_RFC2217 && o->tls == SIM_TLS_DATA_ONLY)
		cli_usage_exit("--tls %s is for Real COM; RFC 2217 has one connection: use on",
			       "data-only");
}

int main(int argc, char **argv)
{
	static struct sim s = {
		.opt = {
			.ports = 1, .mode = SIM_REALCOM, .listen = "127.0.0.1",
			.data_base = 950, .command_base = 966, .tcp_base = 4000, .pty_dir = ".",
			.poll_idle_ms = 40000, .poll_interval_ms = 3000, .poll_max = 4,
			.https_port = 443, .mdns = -1, .lockout_failures = 5, .lockout_seconds = 300,
			.min_password = 8, .restart_ms = 2000,
		},
		.control = { .fd = -1 },
		.mgmt = { .http_fd = -1 },
	};
	char err[TLS_ERR_MAX];
	int r = 1;

	log_init("nportsim", true, LOG_INFO);
	parse_options(argc, argv, &s.opt);
	signal(SIGPIPE, SIG_IGN);
	s.loop = loop_new();
	if (!s.loop)
		fatal("event loop");
	loop_signal_add(s.loop, SIGINT, on_signal, &s);
	loop_signal_add(s.loop, SIGTERM, on_signal, &s);
	loop_timer_init(s.loop, &s.reboot_timer, sim_reboot_done, &s);
	if (sim_serial_init(&s) < 0)
		fatal("timer");
	if (s.opt.tls != SIM_TLS_OFF) {
		struct tls_config tc = {
			.server = true, .verify = true, .cert_file = s.opt.cert, .key_file = s.opt.key,
			.ca_file = s.opt.client_ca, .require_client_cert = s.opt.client_ca != NULL,
		};

		s.tls = tls_ctx_new(&tc, err);
		if (!s.tls)
			fatalx("TLS: %s", err);
	}
	if (sim_rest_init(&s, err, sizeof(err)) < 0)
		fatalx("%s", err);
	for (unsigned int i = 0; i < s.opt.ports; i++) {
		struct sim_port *p = &s.port[i];

		p->sim = &s;
		p->n = i + 1;
		p->master = p->slave = p->lfd[0] = p->lfd[1] = -1;
		p->proto = s.opt.mode == SIM_REALCOM ? &sim_realcom : &sim_rfc2217;
		p->tls = s.opt.tls;
		/* A new unit's ports stay disabled until it has an administrator. */
		p->enabled = !s.opt.factory;
		if (p->proto->init(p) < 0 || sim_serial_open(p) < 0 ||
		    loop_timer_init(s.loop, &p->stall_timer, sim_stall_done, p) < 0)
			goto out;
		if (p->enabled && p->proto->listen(p) < 0)
			goto out;
	}
	if (s.opt.control && sim_control_open(&s) < 0)
		goto out;
	if (s.opt.mgmt && sim_http_open(&s) < 0)
		goto out;
	if (s.opt.mdns == 1 && sim_mdns_open(&s) < 0)
		goto out;
	for (unsigned int i = 0; i < s.opt.ports; i++) {
		struct sim_port *p = &s.port[i];

		if (!p->enabled)
			log_info("port %u: %s, disabled until the unit is set up", p->n, p->link);
		else if (s.opt.mode == SIM_REALCOM)
			log_info("port %u: %s, data %s:%u, command %s:%u%s", p->n, p->link,
				 s.opt.listen, sim_data_port(&s, p->n), s.opt.listen,
				 sim_command_port(&s, p->n), s.opt.echo ? ", echo" : "");
		else
			log_info("port %u: %s, RFC 2217 %s:%u%s", p->n, p->link, s.opt.listen,
				 s.opt.tcp_base + p->n, s.opt.echo ? ", echo" : "");
	}
	log_info("ready");
	r = loop_run(s.loop) < 0;
out:
	sim_mdns_close(&s);
	sim_http_close(&s);
	sim_control_close(&s);
	for (unsigned int i = 0; i < s.opt.ports; i++) {
		struct sim_port *p = &s.port[i];

		if (!p->sim)
			continue;
		sim_listen_close(p);
		conn_free(&p->data);
		conn_free(&p->cmd);
		sim_serial_close(p);
		loop_timer_free(&p->poll_timer);
		loop_timer_free(&p->wait_timer);
		loop_timer_free(&p->stall_timer);
	}
	loop_timer_free(&s.reboot_timer);
	sim_serial_free(&s);
	sim_rest_free(&s);
	SSL_CTX_free(s.tls);
	loop_free(s.loop);
	return r;
}
