/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * realcom.conf: the [global] section and one [ttyR<N>] section per mapped
 * port, loaded through common/conf.c into the structs below.  Defaults,
 * cross-key rules and their messages live here; realcom.conf(5) says the same.
 */
#ifndef REALCOMD_CONFIG_H
#define REALCOMD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "tls.h"

#define REALCOM_TTYS_MAX	256
#define REALCOM_CONF_DEFAULT	"/etc/realcom/realcom.conf"

enum backend_kind { BACKEND_AUTO, BACKEND_KERNEL, BACKEND_PTY };
enum port_protocol { PROTO_REALCOM, PROTO_RFC2217 };
enum port_tls { PORT_TLS_OFF, PORT_TLS_ON, PORT_TLS_DATA_ONLY };
enum port_connect { CONNECT_ON_OPEN, CONNECT_ALWAYS };

struct port_config {
	bool used;
	unsigned int index;		/* N of ttyR<N> */
	char host[256];
	unsigned int dev_port;		/* the device's serial port, 1-32 */
	int protocol;			/* enum port_protocol */
	unsigned int data_port, command_port, tcp_port;
	int tls;			/* enum port_tls */
	char tls_ca[256];
	bool pinned;
	uint8_t fingerprint[TLS_FP_LEN];
	char tls_cert[256];
	char tls_key[256];
	bool tls_verify;
	int connect;			/* enum port_connect */
	unsigned int keepalive;		/* seconds without an answer: peer dead */
	/* A second way to the same serial port (redundant paths); "": none.
	 * Its TCP ports default to the ones above. */
	char backup_host[256];
	unsigned int backup_data_port, backup_command_port, backup_tcp_port;
	/* The unit's MAC as dsu map saw it, "00:90:E8:XX:XX:XX" upper case, or "":
	 * informational (dsu notices a unit under another host), unused here. */
	char mac[18];
};

struct realcom_config {
	int backend;			/* enum backend_kind */
	char pty_dir[256];
	char control_socket[256];
	char control_group[64];		/* may run status and metrics */
	char pty_group[64];		/* owns the pty backend's ttys */
	unsigned int pty_mode;		/* their mode, 0600-0666 */
	struct port_config port[REALCOM_TTYS_MAX];
};

/* A Moxa unit's MAC, 00:90:E8:XX:XX:XX in either case, into out upper case
 * (the mac key's rule); false for anything else. */
bool config_mac_parse(const char *value, char out[18]);

/* Load path into c (zeroed first).  0, or -1/-errno with err filled. */
int config_load(const char *path, struct realcom_config *c, char err[CONF_ERR_MAX]);

/* What a reload must do to a running port configured as a to make it b,
 * in rising order. */
enum port_change {
	PORT_CHANGE_NONE,
	PORT_CHANGE_LIVE,	/* applied to the running connection (keepalive) */
	PORT_CHANGE_SESSION,	/* same tty, new connection (host, protocol, TLS, ...) */
	PORT_CHANGE_TTY,	/* the tty itself: close it and make it again */
};

enum port_change port_config_change(const struct port_config *a, const struct port_config *b);
const char *port_change_name(enum port_change c);

extern const char *const config_protocol_names[];
extern const char *const config_tls_names[];

#endif
