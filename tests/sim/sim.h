/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nportsim: a simulated NPort 6000-G2 for tests, demos and users without
 * hardware.  One process, one event loop (common/loop), N ports; each port
 * has a pty as its serial side and speaks Real COM (sim_realcom.c) or
 * RFC 2217 (sim_rfc2217.c) on the network side.  sim_control.c is the JSON
 * control socket tests use to look inside and to inject faults; sim_rest.c
 * (over sim_http.c) and sim_mdns.c are the management side: the REST API
 * and the mDNS announcement of docs/device-model.md.
 */
#ifndef NPORTSIM_SIM_H
#define NPORTSIM_SIM_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "conn.h"
#include "ctlsock.h"
#include "loop.h"
#include "serial.h"
#include "sock.h"
#include "telnet.h"
#include "tls.h"

struct MHD_Daemon;
struct sim_mdns;

#define SIM_PORTS_MAX		32
#define SIM_NAME_MAX		63	/* the device name: our model's limit */
#define SIM_LOG_MAX		512	/* commands kept per port */
#define SIM_TXQ_SIZE		(64 * 1024)	/* the device's serial transmit buffer */
#define SIM_NET_BUF		(64 * 1024)

enum sim_mode { SIM_REALCOM, SIM_RFC2217 };
enum sim_tls { SIM_TLS_OFF, SIM_TLS_DATA_ONLY, SIM_TLS_ON };

struct sim_options {
	unsigned int ports;
	enum sim_mode mode;
	const char *listen;
	unsigned int data_base, command_base, tcp_base;
	const char *pty_dir;
	bool echo;
	bool line_rate;
	unsigned int poll_idle_ms, poll_interval_ms, poll_max;
	enum sim_tls tls;
	const char *cert, *key, *client_ca;
	const char *control;
	/* management (sim_rest.c) */
	bool mgmt;			/* the REST API runs (and mDNS unless off) */
	unsigned int https_port;
	bool factory;
	int mdns;			/* -1: with the management side, 0 off, 1 on */
	const char *accounts;
	unsigned int lockout_failures, lockout_seconds;
	unsigned int min_password;	/* the password policy's min_length at start */
	const char *name, *model, *mac, *serial;
	const char *firmware;		/* the version reported at start */
	unsigned int restart_ms;	/* a firmware upgrade's restart */
	bool keep_firmware;		/* fault: an upgrade does not take */
};

#define SIM_USER_MAX		32
#define SIM_PASSWORD_MAX	128
#define SIM_ACCOUNTS_MAX	16
#define SIM_SESSIONS_MAX	8
#define SIM_FAILURES_MAX	16	/* user names whose failed logins are counted */
#define SIM_TOKEN_BYTES		32
#define SIM_SESSION_S		900	/* a token's lifetime */
#define SIM_BODY_MAX		(16 * 1024)	/* request bodies above this are refused */
#define SIM_IMAGE_MAX		(32 * 1024 * 1024)	/* a firmware image (413 above) */
#define SIM_FW_MAX		31	/* a firmware version's length */

struct sim_account {
	char user[SIM_USER_MAX + 1];
	bool admin;
	uint8_t salt[16];
	uint8_t hash[32];		/* PBKDF2-HMAC-SHA256(password, salt) */
};

struct sim_session {
	char token[SIM_TOKEN_BYTES * 2 + 1];	/* "" when the slot is free */
	uint64_t expires_ms;
	unsigned int account;
};

struct sim_failures {
	char user[SIM_USER_MAX + 1];
	unsigned int count;
	uint64_t last_ms;
	uint64_t locked_until_ms;
};

struct sim_policy {
	unsigned int min_length, lifetime_days;
	bool digit, mixed_case, special;
};

struct sim_mgmt {
	bool needs_setup;
	char name[SIM_NAME_MAX + 1], model[32], serial[32], mac[18];
	char firmware[SIM_FW_MAX + 1];
	/* a firmware upgrade: the version it brings, the restart under way */
	char pending_firmware[SIM_FW_MAX + 1];
	bool restarting;
	unsigned int firmware_uploads;	/* images accepted */
	unsigned int firmware_requests;	/* images an administrator sent, refused or not */
	struct sim_account account[SIM_ACCOUNTS_MAX];
	unsigned int accounts;
	struct sim_session session[SIM_SESSIONS_MAX];
	struct sim_failures failures[SIM_FAILURES_MAX];
	struct sim_policy policy;
	bool lockout_enabled;
	unsigned int lockout_failures, lockout_seconds;
	unsigned int logins_locked;	/* 423 answers so far */
	/* the stored settings: network/ipv4, security/services, allowlist, syslog,
	 * and the guide's sntp, dos-defense, web-sessions, login-message */
	json_object *ipv4, *services, *allowlist, *syslog;
	json_object *sntp, *dos_defense, *web_sessions, *login_message;
	char *remote_ca;		/* PEM, or NULL */
	/* the HTTPS certificate */
	X509 *cert;
	EVP_PKEY *key;
	char *cert_pem;
	char cert_sha256[TLS_FP_LEN * 3];	/* "AB:CD:..." */
	/* transport (sim_http.c) and announcement (sim_mdns.c) */
	struct MHD_Daemon *httpd;
	int http_fd;
	struct loop_watch http_watch;
	struct loop_timer http_timer;
	struct loop_timer restart_timer;	/* the end of a firmware restart */
	enum { HTTP_RENEW_NO, HTTP_RENEW_AFTER_REQUEST, HTTP_RENEW_NOW } renew;
	struct sim_mdns *mdns;
};

struct sim_log_entry {
	uint64_t t_ms;
	uint8_t len;		/* bytes kept (a command is at most ASPP_MSG_MAX) */
	bool known;
	uint8_t bytes[260];
};

struct sim;
struct sim_port;

/* What differs between the two network personalities. */
struct sim_proto {
	/* Set up connections and timers once, then open the listeners. */
	int (*init)(struct sim_port *p);
	int (*listen)(struct sim_port *p);
	/* Serial bytes for the host; returns how many were taken.  With d NULL,
	 * returns how many it could take now. */
	size_t (*rx)(struct sim_port *p, const uint8_t *d, size_t n);
	/* Modem inputs changed (p->modem_delta says which) or a line error
	 * happened (ASPP_EV_* bits). */
	void (*modem_changed)(struct sim_port *p);
	void (*line_event)(struct sim_port *p, uint8_t events);
	/* Bytes left the transmit queue (it may be empty now). */
	void (*tx_sent)(struct sim_port *p);
	/* Drop the host's connections. */
	void (*drop)(struct sim_port *p, const char *why);
	bool (*connected)(const struct sim_port *p);
	/* A stall fault ended: read again. */
	void (*unstall)(struct sim_port *p);
};

struct sim_port {
	struct sim *sim;
	unsigned int n;			/* 1-based, as on the device */
	const struct sim_proto *proto;
	bool enabled;			/* listening (off: the "disabled" mode) */
	enum sim_tls tls;		/* the port's connection type */

	/* serial side */
	int master, slave;
	char link[PATH_MAX];
	struct loop_watch pty_watch;
	struct buf txq;			/* host -> serial, waiting for the line */
	bool pacing;			/* line-rate: in the unit's pace ticks */
	uint64_t pace_last_ms;
	double pace_credit;
	bool tx_held;			/* SETXOFF: act as if XOFF was received */
	struct serial_line line;	/* as applied by the host */
	uint8_t modem_in;		/* SERIAL_MODEM_CTS|DSR|DCD|RI */
	uint8_t modem_delta;		/* changed since the last notification */
	bool break_on;
	unsigned int breaks_sent;	/* breaks the host made on the line */
	unsigned int breaks_received;	/* breaks injected on the line */
	unsigned int fifo;
	uint64_t to_serial, from_serial;	/* bytes each way */

	/* network side */
	int lfd[2];			/* realcom: data, command; rfc2217: [0] only */
	struct loop_watch lwatch[2];
	struct conn data, cmd;		/* rfc2217 uses data only */
	char peer[SOCK_ADDRSTRLEN];
	unsigned int sessions;		/* host connections accepted so far */
	bool notify;
	bool polling;
	struct loop_timer poll_timer;
	uint8_t poll_id;
	unsigned int polls_unanswered, polls_sent;
	uint64_t last_heard_ms;
	bool wait_pending;		/* WAIT_OQUEUE reply deferred */
	struct loop_timer wait_timer;
	bool feeding;			/* inside the host-data path (no re-entry) */
	size_t discard;			/* FLUSH: host bytes already sent to drop */
	bool stalled;
	struct loop_timer stall_timer;
	bool drop_after_init;		/* fault: end every session once PORT_INIT is answered */
	bool drop_now;			/* that fault, after the command being handled */
	struct telnet telnet;		/* rfc2217 */
	bool offer_held;		/* rfc2217: connected while stalled, not negotiated yet */
	uint8_t linestate_mask, modemstate_mask;
	bool suspended;			/* rfc2217 FLOWCONTROL-SUSPEND */
	char last_error[TLS_ERR_MAX];

	struct sim_log_entry log[SIM_LOG_MAX];
	unsigned int log_len, log_next;
	uint64_t log_total;
};

struct sim {
	struct sim_options opt;
	struct loop *loop;
	SSL_CTX *tls;
	struct sim_port port[SIM_PORTS_MAX];
	bool rebooting;
	struct loop_timer reboot_timer;
	struct loop_timer pace;		/* line-rate: one tick for every port pacing */
	unsigned int pacing;		/* ports in it */
	unsigned int refuse_tls;	/* fault: refuse this many TLS handshakes */
	struct ctlsock control;
	struct sim_mgmt mgmt;
};

/* sim_serial.c: the unit's pace tick (line rate), then each port's line */
int sim_serial_init(struct sim *s);
void sim_serial_free(struct sim *s);
int sim_serial_open(struct sim_port *p);
void sim_serial_close(struct sim_port *p);
/* Host data for the line; returns the bytes taken (the rest waits). */
size_t sim_serial_tx(struct sim_port *p, const uint8_t *d, size_t n);
size_t sim_serial_txq(const struct sim_port *p);
void sim_serial_flush(struct sim_port *p, bool rx, bool tx);
void sim_serial_set_held(struct sim_port *p, bool held);
/* Hold the line in break (counted in breaks_sent) or release it. */
void sim_serial_set_break(struct sim_port *p, bool on);
/* The host can take serial bytes again. */
void sim_serial_rx_resume(struct sim_port *p);
void sim_serial_set_modem(struct sim_port *p, uint8_t modem_in);
void sim_serial_reset(struct sim_port *p);

/* sim_realcom.c, sim_rfc2217.c */
extern const struct sim_proto sim_realcom;
extern const struct sim_proto sim_rfc2217;
void sim_listen_close(struct sim_port *p);
/* Real COM: send up to count replies nobody asked for; returns how many
 * the command connection took (0 when not connected). */
unsigned int sim_realcom_unsolicited(struct sim_port *p, unsigned int count);

/* nportsim.c: shared by both personalities */
void sim_log_command(struct sim_port *p, const uint8_t *bytes, size_t n, bool known);
/* Accept one connection on lfd, with a TLS session when tls is set; peer
 * gets its address.  Returns the fd or -errno (a "refuse TLS" fault closes
 * the connection and returns -ECONNREFUSED). */
int sim_accept(struct sim_port *p, int lfd, bool tls, SSL **ssl, char peer[SOCK_ADDRSTRLEN]);
int sim_listen_on(struct sim_port *p, int i, uint16_t port, loop_fd_fn *fn);
void sim_reboot(struct sim *s, unsigned int ms);
void sim_stall(struct sim_port *p, unsigned int ms);
/* Line errors on the wire (ASPP_EV_PARITY ...; ASPP_EV_BREAK counts a break). */
void sim_line_event(struct sim_port *p, uint8_t events);
uint16_t sim_data_port(const struct sim *s, unsigned int n);
uint16_t sim_command_port(const struct sim *s, unsigned int n);

/* Give port p a mode (enabled: listening) and a connection type; drops its
 * host.  0 or -errno (the port is then disabled). */
int sim_port_configure(struct sim_port *p, enum sim_mode mode, bool enabled, enum sim_tls tls);
/* The TLS context for data connections, made from the HTTPS certificate
 * when no --cert was given; NULL when there is none. */
SSL_CTX *sim_data_tls(struct sim *s);
/* The device certificate is new (its address changed): every host is
 * dropped, and data TLS and HTTPS go on with the new one. */
void sim_certificate_changed(struct sim *s);

/* sim_rest.c: the management API's state and handlers, without I/O */
struct sim_response {
	unsigned int status;
	json_object *body;		/* NULL: no body (204) */
	char allow[32];			/* the Allow header of a 405 */
};
/* Fill in identity, policy and stored settings from the options; read
 * --accounts.  0, or -1 with err. */
int sim_rest_init(struct sim *s, char *err, size_t errlen);
void sim_rest_free(struct sim *s);
/* Answer one request.  url is the path as received (not unescaped); auth the
 * Authorization header or NULL; body need not be NUL-terminated. */
void sim_rest_handle(struct sim *s, const char *method, const char *url, const char *auth,
		     const char *body, size_t len, uint64_t now_ms, struct sim_response *r);
/* The largest body the route of method and url takes: SIM_BODY_MAX, or
 * SIM_IMAGE_MAX for the firmware upload (a binary body). */
size_t sim_rest_body_max(const char *method, const char *url);
/* A firmware restart is over: the new version runs. */
void sim_rest_restarted(struct sim *s);
/* "needs-setup" or "ready" */
const char *sim_rest_state(const struct sim *s);
/* The DNS-SD record: service type and TXT strings "key=value" (n at most). */
extern const char sim_mdns_service_type[];
unsigned int sim_rest_txt(const struct sim *s, char txt[][80], unsigned int n);
/* The management part of the control socket's status. */
json_object *sim_rest_status(const struct sim *s, uint64_t now_ms);

/* sim_http.c: the REST API over HTTPS on the loop */
int sim_http_open(struct sim *s);
void sim_http_close(struct sim *s);
/* Serve the new certificate once the request at hand is answered. */
void sim_http_renew(struct sim *s);
/* The unit restarts for ms: sim_rest_restarted() when it is over. */
void sim_http_restart_in(struct sim *s, unsigned int ms);

/* sim_mdns.c */
int sim_mdns_open(struct sim *s);
/* The state changed: update the TXT record. */
void sim_mdns_update(struct sim *s);
void sim_mdns_close(struct sim *s);

/* sim_control.c */
int sim_control_open(struct sim *s);
void sim_control_close(struct sim *s);

#endif
