// SPDX-License-Identifier: GPL-2.0-or-later
/* realcom.conf schema and rules; see config.h. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

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

#define STR(s, f) CONF_STRING, .offset = offsetof(s, f), .size = sizeof(((s *)0)->f)
#define PC struct port_config

static const struct conf_key global_keys[] = {
	{ "backend", CONF_ENUM, .offset = offsetof(struct realcom_config, backend),
	  .names = backend_names },
	{ "pty_dir", STR(struct realcom_config, pty_dir) },
	{ "control_socket", STR(struct realcom_config, control_socket) },
	{ NULL },
};

/* Bits of the keys below, for the cross-key checks. */
enum { K_HOST, K_PORT, K_PROTOCOL, K_DATA, K_COMMAND, K_TCP, K_TLS, K_CA, K_FP, K_CERT, K_KEY,
       K_VERIFY, K_CONNECT, K_KEEPALIVE, K_BACKUP_HOST, K_BACKUP_DATA, K_BACKUP_COMMAND,
       K_BACKUP_TCP };

static const struct conf_key port_keys[] = {
	[K_HOST] = { "host", STR(PC, host), .required = true },
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
	[K_CA] = { "tls_ca", STR(PC, tls_ca) },
	[K_FP] = { "tls_fingerprint", CONF_CUSTOM, .offset = offsetof(PC, fingerprint),
		   .parse = parse_fingerprint },
	[K_CERT] = { "tls_cert", STR(PC, tls_cert) },
	[K_KEY] = { "tls_key", STR(PC, tls_key) },
	[K_VERIFY] = { "tls_verify", CONF_BOOL, .offset = offsetof(PC, tls_verify) },
	[K_CONNECT] = { "connect", CONF_ENUM, .offset = offsetof(PC, connect),
			.names = connect_names },
	[K_KEEPALIVE] = { "keepalive", CONF_UINT, .offset = offsetof(PC, keepalive), .min = 1,
			  .max = 3600 },
	[K_BACKUP_HOST] = { "backup_host", STR(PC, backup_host) },
	[K_BACKUP_DATA] = { "backup_data_port", CONF_UINT, .offset = offsetof(PC, backup_data_port),
			    .min = 1, .max = 65535 },
	[K_BACKUP_COMMAND] = { "backup_command_port", CONF_UINT,
			       .offset = offsetof(PC, backup_command_port), .min = 1, .max = 65535 },
	[K_BACKUP_TCP] = { "backup_tcp_port", CONF_UINT, .offset = offsetof(PC, backup_tcp_port),
			   .min = 1, .max = 65535 },
	{ NULL },
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
	/* memset, not a compound literal: port_config_same() compares padding too. */
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

static int close_port(void *ctx, void *obj, uint64_t seen, char *why, size_t whylen)
{
	struct port_config *pc = obj;
	/* ports 17-32 start 32 higher (realcom-protocol.md, "Connections") */
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
	return 0;
}

static const struct conf_section sections[] = {
	{ "global", .keys = global_keys, .open = open_global },
	{ "ttyR", .numbered = true, .max_number = REALCOM_TTYS_MAX - 1, .keys = port_keys,
	  .open = open_port, .close = close_port },
	{ NULL },
};

int config_load(const char *path, struct realcom_config *c, char err[CONF_ERR_MAX])
{
	memset(c, 0, sizeof(*c));
	c->backend = BACKEND_AUTO;
	snprintf(c->pty_dir, sizeof(c->pty_dir), "/run/realcom");
	snprintf(c->control_socket, sizeof(c->control_socket), "/run/realcom/control");
	return conf_load(path, sections, c, err);
}

bool port_config_same(const struct port_config *a, const struct port_config *b)
{
	/* Both were zeroed before loading, so padding and string tails compare too. */
	return memcmp(a, b, sizeof(*a)) == 0;
}
