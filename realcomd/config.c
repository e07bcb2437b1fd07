// SPDX-License-Identifier: GPL-2.0-or-later
/* realcom.conf schema and rules; see config.h. */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "config.h"

static const char *const backend_names[] = { "auto", "kernel", "pty", NULL };
const char *const config_protocol_names[] = { "realcom", "rfc2217", NULL };
const char *const config_tls_names[] = { "off", "on", "data-only", NULL };
static const char *const connect_names[] = { "on-open", "always", NULL };

static int parse_fingerprint(const char *value, void *field, char *why, size_t whylen)
{
	struct port_config *pc = (struct port_config *)((char *)field -
							 offsetof(struct port_config, fingerprint));

	if (tls_fingerprint_parse(value, field) < 0) {
		snprintf(why, whylen, "expected sha256: and 32 hex bytes (AB:CD:...)");
		return -1;
	}
	pc->pinned = true;
	return 0;
}

bool config_mac_parse(const char *value, char out[18])
{
	bool ok = strlen(value) == 17 && strncasecmp(value, "00:90:E8:", 9) == 0;

	for (size_t i = 0; ok && i < 17; i++)
		ok = i % 3 == 2 ? value[i] == ':' : isxdigit((unsigned char)value[i]);
	if (!ok)
		return false;
	for (size_t i = 0; i < 17; i++)
		out[i] = (char)toupper((unsigned char)value[i]);
	out[17] = '\0';
	return true;
}

static int parse_mac(const char *value, void *field, char *why, size_t whylen)
{
	if (config_mac_parse(value, field))
		return 0;
	snprintf(why, whylen, "expected a Moxa unit's MAC address, 00:90:E8:XX:XX:XX");
	return -1;
}

/* A path realcomd uses once it runs in / (detached): from / only. */
static bool path_from_root(const char *value, char *why, size_t whylen)
{
	if (value[0] == '/')
		return true;
	snprintf(why, whylen, "a relative path: give it from / (realcomd runs there)");
	return false;
}

static int parse_dir(const char *value, void *field, char *why, size_t whylen)
{
	size_t n = strlen(value);

	if (!path_from_root(value, why, whylen))
		return -1;
	if (n >= sizeof(((struct realcom_config *)0)->pty_dir)) {
		snprintf(why, whylen, "longer than %zu characters",
			 sizeof(((struct realcom_config *)0)->pty_dir) - 1);
		return -1;
	}
	memcpy(field, value, n + 1);
	return 0;
}

/* control_socket: a path bind(2) takes (sun_path holds 107 bytes and a NUL). */
static int parse_socket_path(const char *value, void *field, char *why, size_t whylen)
{
	size_t n = strlen(value);

	if (!path_from_root(value, why, whylen))
		return -1;
	if (n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(why, whylen, "%zu bytes: a socket's path holds at most %zu", n,
			 sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return -1;
	}
	memcpy(field, value, n + 1);	/* sun_path is shorter than the field */
	return 0;
}

/* host, backup_host: looked up at each connect, so checked for shape here. */
static int parse_host(const char *value, void *field, char *why, size_t whylen)
{
	_Static_assert(sizeof(((struct port_config *)0)->host) ==
		       sizeof(((struct port_config *)0)->backup_host), "host fields differ");

	if (!conf_is_host(value)) {
		snprintf(why, whylen, "expected a host name or an IP address");
		return -1;
	}
	snprintf(field, sizeof(((struct port_config *)0)->host), "%s", value);
	return 0;
}

/* pty_mode: octal like chmod(1); the owner (root) keeps read and write. */
static int parse_mode(const char *value, void *field, char *why, size_t whylen)
{
	char *end;
	unsigned long m = strtoul(value, &end, 8);

	if (end == value || *end || (m & ~0666UL) || (m & 0600) != 0600) {
		snprintf(why, whylen, "expected an octal mode from 0600 to 0666 (e.g. 0660)");
		return -1;
	}
	*(unsigned int *)field = (unsigned int)m;
	return 0;
}

#define STR(s, f) CONF_STRING, .offset = offsetof(s, f), .size = sizeof(((s *)0)->f)
#define FILE_(s, f) CONF_FILE, .offset = offsetof(s, f), .size = sizeof(((s *)0)->f)
#define PC struct port_config

static const struct conf_key global_keys[] = {
	{ "backend", CONF_ENUM, .offset = offsetof(struct realcom_config, backend),
	  .names = backend_names },
	{ "pty_dir", CONF_CUSTOM, .offset = offsetof(struct realcom_config, pty_dir),
	  .parse = parse_dir },
	{ "control_socket", CONF_CUSTOM, .offset = offsetof(struct realcom_config, control_socket),
	  .parse = parse_socket_path },
	{ "control_group", STR(struct realcom_config, control_group) },
	{ "pty_group", STR(struct realcom_config, pty_group) },
	{ "pty_mode", CONF_CUSTOM, .offset = offsetof(struct realcom_config, pty_mode),
	  .parse = parse_mode },
	{ 0 },
};

/* Bits of the keys below, for the cross-key checks. */
enum { K_HOST, K_PORT, K_PROTOCOL, K_DATA, K_COMMAND, K_TCP, K_TLS, K_CA, K_FP, K_CERT, K_KEY,
       K_VERIFY, K_CONNECT, K_KEEPALIVE, K_BACKUP_HOST, K_BACKUP_DATA, K_BACKUP_COMMAND,
       K_BACKUP_TCP, K_MAC };

static const struct conf_key port_keys[] = {
	[K_HOST] = { "host", CONF_CUSTOM, .offset = offsetof(PC, host), .parse = parse_host,
		     .required = true },
	[K_PORT] = { "port", CONF_UINT, .offset = offsetof(PC, dev_port), .min = 1, .max = 32 },
	[K_PROTOCOL] = { "protocol", CONF_ENUM, .offset = offsetof(PC, protocol),
			 .names = config_protocol_names },
	[K_DATA] = { "data_port", CONF_UINT, .offset = offsetof(PC, data_port), .min = 1,
		     .max = 65535 },
	[K_COMMAND] = { "command_port", CONF_UINT, .offset = offsetof(PC, command_port), .min = 1,
			.max = 65535 },
	[K_TCP] = { "tcp_port", CONF_UINT, .offset = offsetof(PC, tcp_port), .min = 1,
		    .max = 65535 },
	[K_TLS] = { "tls", CONF_ENUM, .offset = offsetof(PC, tls), .names = config_tls_names },
	[K_CA] = { "tls_ca", FILE_(PC, tls_ca) },
	[K_FP] = { "tls_fingerprint", CONF_CUSTOM, .offset = offsetof(PC, fingerprint),
		   .parse = parse_fingerprint },
	[K_CERT] = { "tls_cert", FILE_(PC, tls_cert) },
	[K_KEY] = { "tls_key", FILE_(PC, tls_key) },
	[K_VERIFY] = { "tls_verify", CONF_BOOL, .offset = offsetof(PC, tls_verify) },
	[K_CONNECT] = { "connect", CONF_ENUM, .offset = offsetof(PC, connect),
			.names = connect_names },
	[K_KEEPALIVE] = { "keepalive", CONF_UINT, .offset = offsetof(PC, keepalive), .min = 1,
			  .max = 3600 },
	[K_BACKUP_HOST] = { "backup_host", CONF_CUSTOM, .offset = offsetof(PC, backup_host),
			    .parse = parse_host },
	[K_BACKUP_DATA] = { "backup_data_port", CONF_UINT, .offset = offsetof(PC, backup_data_port),
			    .min = 1, .max = 65535 },
	[K_BACKUP_COMMAND] = { "backup_command_port", CONF_UINT,
			       .offset = offsetof(PC, backup_command_port), .min = 1, .max = 65535 },
	[K_BACKUP_TCP] = { "backup_tcp_port", CONF_UINT, .offset = offsetof(PC, backup_tcp_port),
			   .min = 1, .max = 65535 },
	[K_MAC] = { "mac", CONF_CUSTOM, .offset = offsetof(PC, mac), .parse = parse_mac },
	{ 0 },
};

static void *open_global(void *ctx, unsigned int number, char *why, size_t whylen)
{
	return ctx;
}

static void *open_port(void *ctx, unsigned int number, char *why, size_t whylen)
{
	struct port_config *pc = &((struct realcom_config *)ctx)->port[number];

	if (pc->used) {
		snprintf(why, whylen, "appears twice");
		return NULL;
	}
	/* memset, not a compound literal: port_config_change() compares padding too. */
	memset(pc, 0, sizeof(*pc));
	pc->used = true;
	pc->index = number;
	pc->dev_port = 1;
	pc->protocol = PROTO_REALCOM;
	pc->tls = PORT_TLS_OFF;
	pc->tls_verify = true;
	pc->connect = CONNECT_ON_OPEN;
	pc->keepalive = 10;
	return pc;
}

#define SEEN(k) (seen & (1ULL << (k)))

/* Whether a and b address the device port the same way: by its number
 * with the default TCP ports, or by a TCP port of their own. */
static bool port_default_tcp(const struct port_config *pc)
{
	unsigned int offset = pc->dev_port <= 16 ? pc->dev_port - 1 : 32 + pc->dev_port - 17;

	if (pc->protocol == PROTO_RFC2217)
		return pc->tcp_port == 4000 + pc->dev_port;
	return pc->data_port == 950 + offset && pc->command_port == 966 + offset;
}

/* The TCP port a and b both take on their host (Real COM two each, RFC 2217
 * one), whatever the role: 0 when none. */
static unsigned int port_shared_tcp(const struct port_config *a, const struct port_config *b)
{
	const unsigned int x[2] = { a->protocol == PROTO_RFC2217 ? a->tcp_port : a->data_port,
				    a->protocol == PROTO_RFC2217 ? 0 : a->command_port };
	const unsigned int y[2] = { b->protocol == PROTO_RFC2217 ? b->tcp_port : b->data_port,
				    b->protocol == PROTO_RFC2217 ? 0 : b->command_port };

	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			if (x[i] && x[i] == y[j])
				return x[i];
	return 0;
}

/* Two ttys on one device port would fight over it (a unit takes one
 * client per port), and so would two on one TCP port: refuse the second. */
static int check_device_port(const struct realcom_config *c, const struct port_config *pc,
			     char *why, size_t whylen)
{
	for (unsigned int i = 0; i < REALCOM_TTYS_MAX; i++) {
		const struct port_config *o = &c->port[i];
		unsigned int tcp;

		if (o == pc || !o->used || strcasecmp(o->host, pc->host) != 0)
			continue;
		if (port_default_tcp(o) && port_default_tcp(pc)) {
			if (o->dev_port != pc->dev_port)
				continue;
			snprintf(why, whylen, "host %s port %u is mapped by [ttyR%u] already: one "
				 "tty per device port", pc->host, pc->dev_port, i);
			return -1;
		}
		tcp = port_shared_tcp(o, pc);
		if (!tcp)
			continue;
		snprintf(why, whylen, "host %s TCP port %u is [ttyR%u]'s already: one tty per "
			 "device port", pc->host, tcp, i);
		return -1;
	}
	return 0;
}

static int close_port(void *ctx, void *obj, uint64_t seen, char *why, size_t whylen)
{
	struct port_config *pc = obj;
	/* ports 17-32 start 32 higher (docs/realcom-protocol.md, "Connections") */
	unsigned int offset = pc->dev_port <= 16 ? pc->dev_port - 1 : 32 + pc->dev_port - 17;

	if (!SEEN(K_DATA))
		pc->data_port = 950 + offset;
	if (!SEEN(K_COMMAND))
		pc->command_port = 966 + offset;
	if (!SEEN(K_TCP))
		pc->tcp_port = 4000 + pc->dev_port;
	if (!SEEN(K_BACKUP_DATA))
		pc->backup_data_port = pc->data_port;
	if (!SEEN(K_BACKUP_COMMAND))
		pc->backup_command_port = pc->command_port;
	if (!SEEN(K_BACKUP_TCP))
		pc->backup_tcp_port = pc->tcp_port;
	if (!pc->backup_host[0] && (SEEN(K_BACKUP_DATA) || SEEN(K_BACKUP_COMMAND) ||
				    SEEN(K_BACKUP_TCP))) {
		snprintf(why, whylen, "backup_data_port, backup_command_port and backup_tcp_port "
			 "need backup_host");
		return -1;
	}
	if (pc->protocol == PROTO_RFC2217 && pc->tls == PORT_TLS_DATA_ONLY) {
		snprintf(why, whylen, "tls = data-only is for protocol = realcom (RFC 2217 has one "
			 "connection): use tls = on");
		return -1;
	}
	if (pc->tls != PORT_TLS_OFF && pc->tls_verify && !pc->tls_ca[0] && !pc->pinned) {
		snprintf(why, whylen, "tls = %s needs tls_ca or tls_fingerprint to verify the "
			 "device (or tls_verify = off, which is not recommended)",
			 config_tls_names[pc->tls]);
		return -1;
	}
	if (!pc->tls_cert[0] != !pc->tls_key[0]) {
		snprintf(why, whylen, "tls_cert and tls_key go together");
		return -1;
	}
	if (pc->tls == PORT_TLS_OFF && (SEEN(K_CA) || SEEN(K_FP) || SEEN(K_CERT))) {
		snprintf(why, whylen, "tls_ca, tls_fingerprint and tls_cert need tls = on or "
			 "data-only");
		return -1;
	}
	return check_device_port(ctx, pc, why, whylen);
}

static const struct conf_section sections[] = {
	{ "global", .keys = global_keys, .open = open_global },
	{ "ttyR", .numbered = true, .max_number = REALCOM_TTYS_MAX - 1, .keys = port_keys,
	  .open = open_port, .close = close_port },
	{ 0 },
};

int config_load(const char *path, struct realcom_config *c, char err[CONF_ERR_MAX])
{
	memset(c, 0, sizeof(*c));
	c->backend = BACKEND_AUTO;
	snprintf(c->pty_dir, sizeof(c->pty_dir), "/run/realcom");
	snprintf(c->control_socket, sizeof(c->control_socket), "/run/realcom/control");
	snprintf(c->control_group, sizeof(c->control_group), "dialout");
	snprintf(c->pty_group, sizeof(c->pty_group), "dialout");
	c->pty_mode = 0660;
	return conf_load(path, sections, c, err);
}

/*
 * What a change of each key means for a running port (realcom.conf(5),
 * "RELOAD").  Nothing in a port's section makes its tty: the tty is the
 * section's name.  Everything about the connection is renewed under the
 * same tty; keepalive is applied to the running connection.  A key missing
 * here counts as a connection key (see port_config_change), so list new
 * keys with their class.
 */
#define F(f, c) { offsetof(PC, f), sizeof(((PC *)0)->f), c }
static const struct {
	size_t offset, size;
	enum port_change change;
} port_fields[] = {
	F(used, PORT_CHANGE_TTY),
	F(index, PORT_CHANGE_TTY),
	F(keepalive, PORT_CHANGE_LIVE),
	F(host, PORT_CHANGE_SESSION),
	F(dev_port, PORT_CHANGE_SESSION),
	F(protocol, PORT_CHANGE_SESSION),
	F(data_port, PORT_CHANGE_SESSION),
	F(command_port, PORT_CHANGE_SESSION),
	F(tcp_port, PORT_CHANGE_SESSION),
	F(tls, PORT_CHANGE_SESSION),
	F(tls_ca, PORT_CHANGE_SESSION),
	F(pinned, PORT_CHANGE_SESSION),
	F(fingerprint, PORT_CHANGE_SESSION),
	F(tls_cert, PORT_CHANGE_SESSION),
	F(tls_key, PORT_CHANGE_SESSION),
	F(tls_verify, PORT_CHANGE_SESSION),
	F(connect, PORT_CHANGE_SESSION),
	F(backup_host, PORT_CHANGE_SESSION),
	F(backup_data_port, PORT_CHANGE_SESSION),
	F(backup_command_port, PORT_CHANGE_SESSION),
	F(backup_tcp_port, PORT_CHANGE_SESSION),
	F(mac, PORT_CHANGE_NONE),	/* informational */
};
#undef F

enum port_change port_config_change(const struct port_config *a, const struct port_config *b)
{
	enum port_change change = PORT_CHANGE_NONE;
	struct port_config rest;

	memcpy(&rest, a, sizeof(rest));	/* padding too, unlike an assignment */
	for (size_t i = 0; i < sizeof(port_fields) / sizeof(port_fields[0]); i++) {
		size_t off = port_fields[i].offset, size = port_fields[i].size;

		/* Both were zeroed before loading, so string tails compare too. */
		if (memcmp((const char *)a + off, (const char *)b + off, size) != 0 &&
		    port_fields[i].change > change)
			change = port_fields[i].change;
		memcpy((char *)&rest + off, (const char *)b + off, size);
	}
	/* what differs now is in no table line */
	if (change < PORT_CHANGE_SESSION && memcmp(&rest, b, sizeof(rest)) != 0)
		change = PORT_CHANGE_SESSION;
	return change;
}

const char *port_change_name(enum port_change c)
{
	static const char *const names[] = {
		[PORT_CHANGE_NONE] = "unchanged", [PORT_CHANGE_LIVE] = "applied to the connection",
		[PORT_CHANGE_SESSION] = "session renewed", [PORT_CHANGE_TTY] = "tty made again",
	};

	return c <= PORT_CHANGE_TTY ? names[c] : "?";
}
