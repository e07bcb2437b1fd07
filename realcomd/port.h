/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One mapped port: the local tty (a backend: pty now, the kernel module
 * later), the remote serial port (a protocol driver: Real COM or RFC 2217)
 * and the state machine between them.  Backends and drivers talk only to
 * port.c, never to each other, so either can change without the other.
 */
#ifndef REALCOMD_PORT_H
#define REALCOMD_PORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "serial.h"
#include "sock.h"
#include "telnet.h"

struct port;

enum port_state {
	PORT_IDLE,		/* nothing open, not connected (connect = on-open) */
	PORT_CONNECTING,	/* TCP / TLS under way */
	PORT_INIT,		/* connected, line settings going out */
	PORT_UP,
	PORT_CLOSING,		/* the application closed: draining, then disconnect */
	PORT_BACKOFF,		/* waiting to reconnect */
};

/* The local tty side. */
struct backend_ops {
	const char *name;
	int (*open)(struct port *p);
	void (*close)(struct port *p);
	/* Bytes from the device for the application; returns how many it took.
	 * With d NULL, returns how many it could take now. */
	size_t (*rx)(struct port *p, const uint8_t *d, size_t n);
	/* Modem inputs changed (p->modem_in), a line event (ASPP_EV_* bits),
	 * the link went up or down: tell the tty what it can carry. */
	void (*modem)(struct port *p);
	void (*line_event)(struct port *p, uint8_t events);
	void (*link)(struct port *p, bool up);
	/* A drain the backend asked for is done; remaining: bytes left. */
	void (*drained)(struct port *p, uint32_t remaining);
	/* The driver can take application data again. */
	void (*tx_resume)(struct port *p);
	/* Drop what the application wrote that has not gone to the driver yet
	 * (a last close while the unit is unreachable): how many bytes. */
	size_t (*discard)(struct port *p);
	/* The device or server did not take the line the application set:
	 * p->line is now what is in effect.  Show it in the tty's termios
	 * (rate, data bits, parity, stop bits, CRTSCTS), unless the
	 * application has set a newer line since, whose own answer follows. */
	void (*line_applied)(struct port *p);
};

/* The network side. */
struct proto_ops {
	const char *name;
	int (*init)(struct port *p);
	void (*free)(struct port *p);
	/* Connect (non-blocking); the driver calls port_proto_up() once the line
	 * settings are applied, or port_proto_down() on any failure.  With
	 * p->purge_unit, the unit's transmit buffer is purged first, before
	 * anything of the new session can reach it. */
	int (*start)(struct port *p);
	/* End the session.  graceful: the device has taken everything, close
	 * as usual; else drop what is still queued (conn_abort()).  Returns the
	 * bytes dropped. */
	size_t (*stop)(struct port *p, bool graceful);
	/* Application data for the device: how many bytes it took (d NULL: room). */
	size_t (*tx)(struct port *p, const uint8_t *d, size_t n);
	/* Apply p->line (settings and, in line.modem, DTR/RTS). */
	void (*set_line)(struct port *p);
	/* An XON/XOFF from the tty (IXOFF, tcflow): out ahead of the data the
	 * driver still holds, also while output is held (as a UART's x_char). */
	void (*send_xchar)(struct port *p, uint8_t ch);
	void (*set_modem)(struct port *p);
	/* ms 0: start holding break; ms UINT32_MAX: stop; else a timed break. */
	void (*set_break)(struct port *p, uint32_t ms);
	void (*flush)(struct port *p, bool rx, bool tx);
	/* The application can take device data again. */
	void (*rx_resume)(struct port *p);
	/* This port's turn for a TLS handshake (see port_tls_acquire). */
	void (*tls_slot)(struct port *p);
	/* Wait until the device has sent everything (bounded by timeout_ms);
	 * the answer comes through port_proto_drained(). */
	void (*drain)(struct port *p, uint32_t timeout_ms);
	/* Liveness: called every keepalive/4 s while up; the driver sends a query
	 * when idle and calls port_proto_down() when one goes unanswered for
	 * keepalive/2 s, so a dead peer is found within keepalive seconds. */
	void (*keepalive)(struct port *p);
	/* "TLSv1.3 ..., verified by CA" or "" for status. */
	void (*describe_tls)(struct port *p, char *out, size_t len);
};

struct port_stats {
	uint64_t tx_bytes, rx_bytes;	/* application -> device, device -> application */
	unsigned int reconnects;
	unsigned int connects;
	uint64_t stale_dropped;		/* written for a session that ended unreachable */
	unsigned int tls_failures;	/* TLS handshakes that failed */
	/* line errors the device reported (NOTIFY / LINESTATE) */
	uint32_t parity_errors, framing_errors, overruns, breaks;
};

/* The kinds of log line a device can trigger, each rate-limited on its own
 * (port_log_limited). */
enum port_limit {
	PORT_LIMIT_REPLY,	/* unexpected or refused replies */
	PORT_LIMIT_JUNK,	/* bytes that are no reply */
	PORT_LIMIT_LINE,	/* line events */
	PORT_LIMIT_SERVER,	/* RFC 2217 server messages and odd answers */
	PORT_LIMIT_PTY,		/* writing to the pty */
	PORT_LIMIT_UP,		/* connected (a unit that drops every session) */
	PORT_LIMIT_DOWN,	/* connection lost or refused */
	PORT_LIMIT_DROPPED,	/* queued bytes dropped with a session */
	PORT_LIMIT_STALE,	/* bytes an open left in the tty, dropped */
	PORT_LIMIT_PURGE,	/* the unit's buffer purged at a session's start */
	PORT_LIMIT_IN_EFFECT,	/* the line the device says is in effect */
	PORT_LIMIT_N,
};

/* Changes a protocol driver holds back while many answers are due, to send
 * as they stand once it catches up (an application's ioctl loop). */
enum proto_deferred {
	DEFER_LINE = 1 << 0,
	DEFER_MODEM = 1 << 1,
	DEFER_BREAK = 1 << 2,
	DEFER_FLUSH_RX = 1 << 3,
	DEFER_FLUSH_TX = 1 << 4,
};

/* Where a port connects: its host, or backup_host (redundant paths). */
struct port_path {
	const char *host;
	unsigned int data_port, command_port, tcp_port;
};

struct resolve_req;

struct port {
	struct daemon *d;
	struct port_config cfg;
	char name[16];			/* "ttyR3" */
	char path[280];			/* what applications open */
	enum port_state state;
	const struct backend_ops *backend;
	const struct proto_ops *proto;
	void *backend_priv;
	void *proto_priv;

	struct serial_line line;	/* what the application set */
	uint8_t modem_in;		/* CTS/DSR/DCD/RI as last reported */
	bool break_held;		/* the application holds break (TIOCSBRK) */
	/* A break went out and no end of it since: the unit may keep its line
	 * in break across sessions, which holds all it is sent.  The driver
	 * sets it for a break it times itself (RFC 2217). */
	bool unit_break;
	bool app_open;
	bool tls_busy;			/* holds its unit's handshake slot */
	bool tls_waiting;		/* waits for it */
	uint64_t state_since_ms;
	bool state_changed;		/* left idle at least once (status: "never") */

	struct loop_timer retry;	/* back-off and connect deadline */
	struct loop_timer alive;	/* keep-alive */
	struct loop_timer drain_wait;	/* tcdrain while the link is down */
	unsigned int backoff_ms;
	unsigned int failures;		/* attempts failed since the last stable session */
	uint64_t next_try_ms;		/* loop_now_ms() of the next connect (back-off) */
	uint64_t up_since_ms;
	bool drain_waiting;		/* tcdrain waits for the link (drain_wait) */
	bool on_backup;			/* connecting to / connected over backup_host */
	bool other_path_tried;		/* this round of attempts tried both paths */
	/* A session that sent data ended other than by a drained close: the unit
	 * may still hold some of it, purged at the next start (proto_ops.start). */
	bool purge_unit;
	uint64_t tx_at_up;		/* stats.tx_bytes when the session came up */
	struct port_renewal *renewal;	/* a reload's settings, waiting (port_reconfigure) */
	struct port_renewal *retired;	/* the driver they replaced, to be freed */
	bool tx_held;			/* the tty's data waits for the renewed session */
	bool stopping;			/* realcomd stops: no new connection (port_shutdown) */
	/* Sessions ended in order whose connection is still closing (conn_finish):
	 * the next connect waits for them (port_connect). */
	unsigned int closing_conns;
	bool connect_waits;
	struct resolve_req *resolving;	/* host name being resolved (resolve.c) */
	struct sock_addr addr;		/* the resolved address; port set per connect */
	struct port_stats stats;
	char peer[264];			/* "host:port", or the host name before connecting */
	char last_error[256];
	char tls_info[160];
	struct log_limit limit[PORT_LIMIT_N];
};

struct daemon {
	struct loop *loop;
	struct realcom_config *cfg;
	struct port *ports[REALCOM_TTYS_MAX];
	const struct backend_ops *backend;
	bool pty_limits_logged;
	uint64_t started_ms;
	gid_t pty_gid;			/* pty_group, resolved at the start */
	mode_t pty_mode;
};

struct port *port_new(struct daemon *d, const struct port_config *cfg);
void port_free(struct port *p);
/* A reload changed the port's section (change: port_config_change): take
 * cfg under the same tty.  PORT_CHANGE_LIVE keeps the connection; otherwise
 * the session is renewed while the application keeps its descriptor: a
 * session that is up first sends what it took (bounded), then the port
 * connects with cfg and replays the line state.  0, or -errno with the port
 * left as it was. */
int port_reconfigure(struct port *p, const struct port_config *cfg, enum port_change change);
/* What the port is configured as: a reload's settings still waiting for the
 * running session, else those it runs with. */
const struct port_config *port_config_wanted(const struct port *p);
const char *port_state_name(enum port_state s);
/* Stopping: let the device drain (bounded), then disconnect and stay idle. */
void port_shutdown(struct port *p);
bool port_is_down(const struct port *p);

/* From the backend */
void port_app_open(struct port *p);
void port_app_close(struct port *p);
/* Application data; returns what the driver took (the rest must wait for
 * backend_ops.tx_resume). */
size_t port_app_tx(struct port *p, const uint8_t *d, size_t n);
size_t port_app_tx_room(struct port *p);
void port_app_line(struct port *p, const struct serial_line *line);
void port_app_flush(struct port *p, bool rx, bool tx);
/* The tty can take device data again. */
void port_app_rx_resume(struct port *p);
/* Break: ms as in proto_ops.set_break.  A held break is line state like
 * DTR: it reaches the device when the link comes up, on every connect, and
 * ends with the application's last close (as a UART's shutdown ends it). */
void port_app_break(struct port *p, uint32_t ms);
/* tcdrain(): the answer comes through backend_ops.drained. */
void port_app_drain(struct port *p, uint32_t timeout_ms);
/* XON/XOFF to send now, ahead of queued data (proto_ops.send_xchar); lost
 * while the link is down, as nothing of a UART's goes out then either. */
void port_app_xchar(struct port *p, uint8_t ch);

/* From the protocol driver: connected and sending the line set-up; then up. */
void port_proto_connected(struct port *p);
void port_proto_up(struct port *p);
void port_proto_down(struct port *p, int err, const char *why);
size_t port_proto_rx(struct port *p, const uint8_t *d, size_t n);
void port_proto_modem(struct port *p, uint8_t modem_in);
void port_proto_line_event(struct port *p, uint8_t events);
void port_proto_drained(struct port *p, uint32_t remaining);
/* The connection of a session the driver ended in order (proto_ops.stop,
 * graceful) is gone: conn_finish()'s done, with the port as arg. */
void port_proto_closed(void *port);
void port_proto_tx_resume(struct port *p);
/* Send the device what of p->line differs from was: the modem lines alone
 * (proto_ops.set_modem), or the whole line (set_line). */
void port_proto_line_since(struct port *p, const struct serial_line *was);

/* TLS handshakes one at a time per unit (a real NPort resets parallel
 * ones, docs/realcom-protocol.md): true when p may start its handshake now;
 * otherwise proto_ops.tls_slot() is called when its turn comes. */
bool port_tls_acquire(struct port *p);
void port_tls_release(struct port *p);

/* For the drivers: a client TLS context from the port's configuration
 * (NULL, logged, on error), and a connect of c to host:tcp_port, over TLS
 * when tls is set, whose failures go to port_proto_down(). */
SSL_CTX *port_tls_ctx(struct port *p);
int port_conn_connect(struct port *p, struct conn *c, uint16_t tcp_port, SSL_CTX *tls);
/* The path in use: the drivers take host and TCP ports from here, never from
 * p->cfg directly, so a switch to backup_host needs nothing of them. */
struct port_path port_path(const struct port *p);
/* A setting the device or server refused or changed: logged, and shown as
 * the port's last_error until the next session. */
void port_proto_refused(struct port *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* After a refusal: in_effect (its modem bits ignored) is the line the device
 * really has.  p->line becomes it and the backend shows it to the
 * application (backend_ops.line_applied), so termios tells the truth and a
 * reconnect replays what works. */
void port_proto_line_applied(struct port *p, const struct serial_line *in_effect);

/* Log with the port's name in front (and TTY=, PEER= in the journal). */
void port_log(struct port *p, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same for a line a device can trigger: the first, then one per
 * LOG_LIMIT_MS with the count of those held back. */
void port_log_limited(struct port *p, enum port_limit kind, int level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Log how many lines the limits held back, for those whose interval is
 * over (realcomd calls it every LOG_LIMIT_MS / 2). */
void port_log_flush(struct port *p);

extern const struct backend_ops backend_pty;
extern const struct backend_ops backend_kernel;
#define REALCOM_DEV	"/dev/realcom"
extern const struct proto_ops proto_realcom;
extern const struct proto_ops proto_rfc2217;

#endif
