// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for realcom.conf loading (realcomd/config.c): the defaults, the
 * rules across keys with their messages (realcom.conf(5), RULES), and what a
 * reload makes of each change (port_config_change, realcom.conf(5), RELOAD).
 * Each text goes through config_load() from a file, as realcomd reads it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define FP	"sha256:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:" \
		"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"

static char conf_path[] = "test_config.conf.XXXXXX";
static char pem_path[] = "/tmp/test_config.pem.XXXXXX";	/* from /, as realcomd wants */
static struct realcom_config *cfg, *cfg2;
static char err[CONF_ERR_MAX];

static int group_setup(void **state)
{
	int fd = mkstemp(conf_path), pem = mkstemp(pem_path);

	if (fd < 0 || pem < 0)
		return -1;
	close(fd);
	/* a readable regular file for tls_ca, tls_cert and tls_key: its
	 * contents are read only when a port's TLS is set up */
	if (write(pem, "-\n", 2) != 2)
		return -1;
	close(pem);
	cfg = malloc(sizeof(*cfg));
	cfg2 = malloc(sizeof(*cfg2));
	return cfg && cfg2 ? 0 : -1;
}

static int group_teardown(void **state)
{
	unlink(conf_path);
	unlink(pem_path);
	free(cfg);
	free(cfg2);
	return 0;
}

/* text, with every "PEM" replaced by the readable file's path */
static int load_into(const char *text, struct realcom_config *c)
{
	FILE *f = fopen(conf_path, "w");

	assert_non_null(f);
	for (const char *t = text; *t; t++) {
		if (strncmp(t, "PEM", 3) == 0) {
			fputs(pem_path, f);
			t += 2;
		} else {
			fputc(*t, f);
		}
	}
	assert_int_equal(fclose(f), 0);
	err[0] = '\0';
	return config_load(conf_path, c, err);
}

static void load_ok(const char *text)
{
	int r = load_into(text, cfg);

	if (r != 0)
		fail_msg("refused: %s", err);
}

/* Refused as a whole, with want among the messages, on the section's line. */
static void load_refused(const char *text, const char *want)
{
	assert_int_equal(load_into(text, cfg), -1);
	if (!strstr(err, want))
		fail_msg("wanted \"%s\" in:\n%s", want, err);
	assert_non_null(strstr(err, conf_path));
}

static void test_global_defaults(void **state)
{
	load_ok("");
	assert_int_equal(cfg->backend, BACKEND_AUTO);
	assert_string_equal(cfg->pty_dir, "/run/realcom");
	assert_string_equal(cfg->control_socket, "/run/realcom/control");
	assert_string_equal(cfg->control_group, "dialout");
	assert_string_equal(cfg->pty_group, "dialout");
	assert_int_equal(cfg->pty_mode, 0660);
	for (unsigned int i = 0; i < REALCOM_TTYS_MAX; i++)
		assert_false(cfg->port[i].used);

	load_ok("[global]\nbackend = pty\npty_dir = /tmp/r\ncontrol_socket = /tmp/r/c\n"
		"control_group = adm\npty_group = uucp\npty_mode = 0600\n");
	assert_int_equal(cfg->backend, BACKEND_PTY);
	assert_string_equal(cfg->pty_dir, "/tmp/r");
	assert_string_equal(cfg->control_socket, "/tmp/r/c");
	assert_string_equal(cfg->control_group, "adm");
	assert_string_equal(cfg->pty_group, "uucp");
	assert_int_equal(cfg->pty_mode, 0600);
	load_ok("[global]\npty_mode = 666\n");
	assert_int_equal(cfg->pty_mode, 0666);
}

static void test_pty_mode_refused(void **state)
{
	static const char *const bad[] = { "0400", "0700", "0640x", "1660", "0670", "rw", "-0660",
					   "0777" };
	char text[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[global]\npty_mode = %s\n", bad[i]);
		load_refused(text, "expected an octal mode from 0600 to 0666");
	}
}

/* A path bind(2) cannot take is refused by -t, not found at start. */
static void test_control_socket_length(void **state)
{
	char text[300], path[120];

	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[107] = '\0';
	snprintf(text, sizeof(text), "[global]\ncontrol_socket = %s\n", path);
	load_ok(text);
	assert_string_equal(cfg->control_socket, path);
	path[107] = 'a';
	path[108] = '\0';
	snprintf(text, sizeof(text), "[global]\ncontrol_socket = %s\n", path);
	load_refused(text, "108 bytes: a socket's path holds at most 107");
}

static void test_port_defaults(void **state)
{
	const struct port_config *pc;

	load_ok("[ttyR3]\nhost = unit.example\n");
	pc = &cfg->port[3];
	assert_true(pc->used);
	assert_false(cfg->port[0].used);
	assert_int_equal(pc->index, 3);
	assert_string_equal(pc->host, "unit.example");
	assert_int_equal(pc->dev_port, 1);
	assert_int_equal(pc->protocol, PROTO_REALCOM);
	assert_int_equal(pc->data_port, 950);
	assert_int_equal(pc->command_port, 966);
	assert_int_equal(pc->tcp_port, 4001);
	assert_int_equal(pc->tls, PORT_TLS_OFF);
	assert_true(pc->tls_verify);
	assert_false(pc->pinned);
	assert_int_equal(pc->connect, CONNECT_ON_OPEN);
	assert_int_equal(pc->keepalive, 10);
	assert_string_equal(pc->backup_host, "");
	assert_int_equal(pc->backup_data_port, 950);
	assert_int_equal(pc->backup_command_port, 966);
	assert_int_equal(pc->backup_tcp_port, 4001);
}

/* One up per device port; 17-32 start 32 higher (docs/realcom-protocol.md). */
static void test_port_tcp_defaults(void **state)
{
	static const struct {
		unsigned int port, data, command, tcp;
	} want[] = {
		{ 1, 950, 966, 4001 }, { 2, 951, 967, 4002 }, { 16, 965, 981, 4016 },
		{ 17, 982, 998, 4017 }, { 32, 997, 1013, 4032 },
	};
	char text[128];

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct port_config *pc = &cfg->port[0];

		snprintf(text, sizeof(text), "[ttyR0]\nhost = h\nport = %u\n", want[i].port);
		load_ok(text);
		assert_int_equal(pc->data_port, want[i].data);
		assert_int_equal(pc->command_port, want[i].command);
		assert_int_equal(pc->tcp_port, want[i].tcp);
		assert_int_equal(pc->backup_data_port, want[i].data);
	}
	/* the backup's ports follow the primary's given ones */
	load_ok("[ttyR0]\nhost = h\ndata_port = 5000\ncommand_port = 5001\ntcp_port = 5002\n"
		"backup_host = h2\nbackup_command_port = 6001\n");
	assert_int_equal(cfg->port[0].backup_data_port, 5000);
	assert_int_equal(cfg->port[0].backup_command_port, 6001);
	assert_int_equal(cfg->port[0].backup_tcp_port, 5002);
}

static void test_port_keys(void **state)
{
	const struct port_config *pc = &cfg->port[255];

	load_ok("[ttyR255]\nhost = 192.0.2.10\nport = 4\nprotocol = rfc2217\ntls = on\n"
		"tls_ca = PEM\ntls_fingerprint = " FP "\ntls_cert = PEM\ntls_key = PEM\n"
		"connect = always\nkeepalive = 3600\nbackup_host = 192.0.2.11\n"
		"mac = 00:90:e8:0a:Ea:e0\n");
	assert_int_equal(pc->index, 255);
	assert_int_equal(pc->dev_port, 4);
	assert_int_equal(pc->protocol, PROTO_RFC2217);
	assert_int_equal(pc->tcp_port, 4004);
	assert_int_equal(pc->tls, PORT_TLS_ON);
	assert_string_equal(pc->tls_ca, pem_path);
	assert_true(pc->pinned);
	assert_int_equal(pc->fingerprint[0], 0x00);
	assert_int_equal(pc->fingerprint[31], 0xff);
	assert_string_equal(pc->tls_cert, pem_path);
	assert_string_equal(pc->tls_key, pem_path);
	assert_int_equal(pc->connect, CONNECT_ALWAYS);
	assert_int_equal(pc->keepalive, 3600);
	assert_string_equal(pc->backup_host, "192.0.2.11");
	assert_string_equal(pc->mac, "00:90:E8:0A:EA:E0");	/* kept upper case */
	load_ok("[ttyR0]\nhost = h\n");
	assert_string_equal(cfg->port[0].mac, "");		/* optional */

	/* what tls = on needs is one way to verify, or verification off */
	load_ok("[ttyR0]\nhost = h\ntls = on\ntls_fingerprint = " FP "\n");
	load_ok("[ttyR0]\nhost = h\ntls = data-only\ntls_ca = PEM\n");
	load_ok("[ttyR0]\nhost = h\ntls = on\ntls_verify = off\n");
	assert_false(cfg->port[0].tls_verify);
}

/* config.c's own refusals, each with its message. */
static void test_rules_refused(void **state)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "[ttyR0]\nport = 2\n", "[ttyR0]: missing key 'host'" },
		{ "[ttyR0]\nhost = h\nbackup_data_port = 1\n",
		  "[ttyR0]: backup_data_port, backup_command_port and backup_tcp_port need "
		  "backup_host" },
		{ "[ttyR0]\nhost = h\nbackup_command_port = 1\n", "need backup_host" },
		{ "[ttyR0]\nhost = h\nbackup_tcp_port = 1\n", "need backup_host" },
		{ "[ttyR0]\nhost = h\nprotocol = rfc2217\ntls = data-only\ntls_ca = PEM\n",
		  "[ttyR0]: tls = data-only is for protocol = realcom" },
		{ "[ttyR0]\nhost = h\ntls = on\n",
		  "[ttyR0]: tls = on needs tls_ca or tls_fingerprint to verify the device" },
		{ "[ttyR0]\nhost = h\ntls = data-only\ntls_verify = on\n",
		  "tls = data-only needs tls_ca or tls_fingerprint" },
		{ "[ttyR0]\nhost = h\ntls = on\ntls_ca = PEM\ntls_cert = PEM\n",
		  "[ttyR0]: tls_cert and tls_key go together" },
		{ "[ttyR0]\nhost = h\ntls = on\ntls_ca = PEM\ntls_key = PEM\n",
		  "tls_cert and tls_key go together" },
		{ "[ttyR0]\nhost = h\ntls_ca = PEM\n",
		  "[ttyR0]: tls_ca, tls_fingerprint and tls_cert need tls = on or data-only" },
		{ "[ttyR0]\nhost = h\ntls_fingerprint = " FP "\n", "need tls = on or data-only" },
		{ "[ttyR0]\nhost = h\ntls_cert = PEM\ntls_key = PEM\n",
		  "need tls = on or data-only" },
		{ "[ttyR0]\nhost = h\ntls = on\ntls_fingerprint = sha256:00:11\n",
		  "tls_fingerprint = 'sha256:00:11': expected sha256: and 32 hex bytes" },
		{ "[ttyR0]\nhost = h\ntls = on\ntls_ca = /nonexistent/ca.pem\n",
		  "tls_ca = '/nonexistent/ca.pem': cannot read it" },
		{ "[ttyR0]\nhost = h\ntls = on\ntls_ca = /tmp\n", "not a regular file" },
		{ "[ttyR0]\nhost = h\nmac = 00:11:22:33:44:55\n",
		  "mac = '00:11:22:33:44:55': expected a Moxa unit's MAC address, 00:90:E8:XX:XX:XX" },
		{ "[ttyR0]\nhost = h\nmac = 00:90:E8:0A:EA\n", "expected a Moxa unit's MAC" },
		{ "[ttyR0]\nhost = h\nmac = 00:90:E8:0A:EA:E0:00\n", "expected a Moxa unit's MAC" },
		{ "[ttyR0]\nhost = h\nmac = 00-90-E8-0A-EA-E0\n", "expected a Moxa unit's MAC" },
		{ "[ttyR0]\nhost = h\nmac = 00:90:E8:0A:EA:G0\n", "expected a Moxa unit's MAC" },
		{ "[ttyR0]\nhost = h\nport = 0\n",
		  "port = '0': expected a whole number from 1 to 32" },
		{ "[ttyR0]\nhost = h\nport = 33\n", "expected a whole number from 1 to 32" },
		{ "[ttyR0]\nhost = h\nkeepalive = 0\n", "from 1 to 3600" },
		{ "[ttyR0]\nhost = h\nkeepalive = 3601\n", "from 1 to 3600" },
		{ "[ttyR0]\nhost = h\ndata_port = 65536\n", "from 1 to 65535" },
		{ "[ttyR0]\nhost = h\nprotocol = telnet\n", "protocol = 'telnet'" },
		{ "[ttyR0]\nhost = h\ntls = yes\n", "tls = 'yes'" },
		{ "[ttyR0]\nhost = h\nconnect = never\n", "connect = 'never'" },
		{ "[global]\nbackend = serial\n", "backend = 'serial'" },
		{ "[ttyR256]\nhost = h\n", "the number after 'ttyR' must be 0 to 255" },
		{ "[ttyR1]\nhost = a\n[ttyR1]\nhost = b\n", "[ttyR1]: appears twice" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		load_refused(bad[i].text, bad[i].want);
}

/* One tty per device port: the same host (any case) and port number with
 * the default TCP ports, or a TCP port in common. */
static void test_device_port_once(void **state)
{
	static const char *const bad[] = {
		"[ttyR0]\nhost = unit\n[ttyR1]\nhost = UNIT\n",
		"[ttyR0]\nhost = unit\nport = 3\n[ttyR1]\nhost = unit\nport = 3\n"
		"protocol = rfc2217\n",
		"[ttyR0]\nhost = unit\ndata_port = 5000\n[ttyR1]\nhost = unit\nport = 2\n"
		"data_port = 5000\n",
		"[ttyR0]\nhost = unit\ncommand_port = 5000\n[ttyR1]\nhost = unit\nport = 2\n"
		"command_port = 5000\n",
		"[ttyR0]\nhost = unit\nprotocol = rfc2217\ntcp_port = 5000\n[ttyR1]\nhost = unit\n"
		"protocol = rfc2217\nport = 2\ntcp_port = 5000\n",
		/* port 1's TCP ports given to port 2 */
		"[ttyR0]\nhost = unit\n[ttyR1]\nhost = unit\nport = 2\ndata_port = 950\n"
		"command_port = 966\n",
		/* one TCP port in two roles, or for both protocols */
		"[ttyR0]\nhost = unit\ndata_port = 967\ncommand_port = 5000\n[ttyR1]\nhost = unit\n"
		"port = 2\n",
		"[ttyR0]\nhost = unit\nprotocol = rfc2217\ntcp_port = 5000\n[ttyR1]\nhost = unit\n"
		"data_port = 5000\n",
	};
	static const char *const good[] = {
		"[ttyR0]\nhost = unit\n[ttyR1]\nhost = unit\nport = 2\n",
		"[ttyR0]\nhost = unit\n[ttyR1]\nhost = other\n",
		/* a default given explicitly is still the default */
		"[ttyR0]\nhost = unit\ndata_port = 950\n[ttyR1]\nhost = unit\nport = 2\n"
		"command_port = 967\n",
		"[ttyR0]\nhost = unit\nprotocol = rfc2217\ntcp_port = 5000\n[ttyR1]\nhost = unit\n"
		"data_port = 5001\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		load_refused(bad[i], "[ttyR0]");
	load_refused(bad[1], "port 3 is mapped by [ttyR0] already: one tty per device port");
	load_refused(bad[2], "TCP port 5000 is [ttyR0]'s already: one tty per device port");
	load_refused(bad[6], "[ttyR1]: host unit TCP port 967 is [ttyR0]'s already");
	load_refused(bad[7], "[ttyR1]: host unit TCP port 5000 is [ttyR0]'s already");
	load_refused(bad[0], "[ttyR1]: host UNIT port 1 is mapped");
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		load_ok(good[i]);
}

/* Every problem at once, and none of the file used. */
static void test_every_problem(void **state)
{
	assert_int_equal(load_into("[ttyR0]\nhost = h\ntls = on\n[ttyR1]\nhost = i\n"
				   "backup_tcp_port = 9\n[global]\npty_mode = 0777\n", cfg), -1);
	assert_non_null(strstr(err, "[ttyR0]: tls = on needs"));
	assert_non_null(strstr(err, "[ttyR1]: backup_data_port"));
	assert_non_null(strstr(err, "pty_mode = '0777'"));
	assert_int_equal(config_load("/nonexistent/realcom.conf", cfg, err), -ENOENT);
}

/* --- reload classes --- */

static enum port_change change_between(const char *a, const char *b)
{
	assert_int_equal(load_into(a, cfg), 0);
	assert_int_equal(load_into(b, cfg2), 0);
	return port_config_change(&cfg->port[0], &cfg2->port[0]);
}

#define BASE "[ttyR0]\nhost = unit\n"

static void test_change_classes(void **state)
{
	static const char *const session[] = {
		BASE "port = 2\n" /* dev_port, and the TCP ports with it */,
		"[ttyR0]\nhost = unit2\n",
		BASE "protocol = rfc2217\n",
		BASE "data_port = 2000\n",
		BASE "command_port = 2000\n",
		BASE "tcp_port = 2000\n",
		BASE "tls = on\ntls_verify = off\n",
		BASE "connect = always\n",
		BASE "backup_host = unit2\n",
		"[ttyR0]\nhost = unit2\nkeepalive = 5\n" /* the larger class wins */,
	};

	assert_int_equal(change_between(BASE, BASE), PORT_CHANGE_NONE);
	/* the order of keys is no change, nor a default given explicitly */
	assert_int_equal(change_between(BASE "keepalive = 10\nport = 1\n",
					"[ttyR0]\nport = 1\nhost = unit\n"), PORT_CHANGE_NONE);
	assert_int_equal(change_between(BASE, BASE "keepalive = 5\n"), PORT_CHANGE_LIVE);
	/* the unit's MAC is informational: no change to a running port */
	assert_int_equal(change_between(BASE, BASE "mac = 00:90:E8:0A:EA:E0\n"), PORT_CHANGE_NONE);
	for (size_t i = 0; i < sizeof(session) / sizeof(session[0]); i++)
		assert_int_equal(change_between(BASE, session[i]), PORT_CHANGE_SESSION);
}

#define TLS BASE "tls = on\ntls_ca = PEM\n"

static void test_change_tls_keys(void **state)
{
	assert_int_equal(change_between(TLS, TLS), PORT_CHANGE_NONE);
	assert_int_equal(change_between(TLS, BASE "tls = data-only\ntls_ca = PEM\n"),
			 PORT_CHANGE_SESSION);
	assert_int_equal(change_between(TLS, TLS "tls_fingerprint = " FP "\n"),
			 PORT_CHANGE_SESSION);
	assert_int_equal(change_between(TLS, TLS "tls_cert = PEM\ntls_key = PEM\n"),
			 PORT_CHANGE_SESSION);
	assert_int_equal(change_between(TLS, BASE "tls = on\ntls_fingerprint = " FP "\n"),
			 PORT_CHANGE_SESSION);
	assert_int_equal(change_between(BASE "tls = on\ntls_verify = off\n",
					BASE "tls = on\ntls_verify = off\nkeepalive = 1\n"),
			 PORT_CHANGE_LIVE);
	assert_int_equal(change_between(BASE "backup_host = b\n",
					BASE "backup_host = b\nbackup_tcp_port = 1\n"),
			 PORT_CHANGE_SESSION);
}

/* The tty itself: another section (N), or one that was not there. */
static void test_change_tty(void **state)
{
	struct port_config none, a;

	load_ok(BASE "[ttyR1]\nhost = unit\nport = 2\n");
	assert_int_equal(port_config_change(&cfg->port[0], &cfg->port[1]), PORT_CHANGE_TTY);
	memcpy(&a, &cfg->port[0], sizeof(a));
	memset(&none, 0, sizeof(none));
	assert_int_equal(port_config_change(&none, &a), PORT_CHANGE_TTY);
	assert_int_equal(port_config_change(&a, &none), PORT_CHANGE_TTY);
	assert_string_equal(port_change_name(PORT_CHANGE_NONE), "unchanged");
	assert_string_equal(port_change_name(PORT_CHANGE_LIVE), "applied to the connection");
	assert_string_equal(port_change_name(PORT_CHANGE_SESSION), "session renewed");
	assert_string_equal(port_change_name(PORT_CHANGE_TTY), "tty made again");
	assert_string_equal(port_change_name(PORT_CHANGE_TTY + 1), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_global_defaults),
		cmocka_unit_test(test_pty_mode_refused),
		cmocka_unit_test(test_control_socket_length),
		cmocka_unit_test(test_port_defaults),
		cmocka_unit_test(test_port_tcp_defaults),
		cmocka_unit_test(test_port_keys),
		cmocka_unit_test(test_rules_refused),
		cmocka_unit_test(test_device_port_once),
		cmocka_unit_test(test_every_problem),
		cmocka_unit_test(test_change_classes),
		cmocka_unit_test(test_change_tls_keys),
		cmocka_unit_test(test_change_tty),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
