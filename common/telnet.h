/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Telnet stream codec with RFC 1143 ("Q method") option negotiation.
 * Splits received bytes into data and Telnet commands, answers option
 * requests by a per-option policy, and escapes outgoing data.  It does no
 * I/O and allocates nothing: bytes to put on the wire go to ops->send.
 * RFC 2217 (COM-PORT-OPTION) rides on top, see rfc2217.h.
 */
#ifndef REALCOM_TELNET_H
#define REALCOM_TELNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TELNET_SE	240
#define TELNET_NOP	241
#define TELNET_SB	250
#define TELNET_WILL	251
#define TELNET_WONT	252
#define TELNET_DO	253
#define TELNET_DONT	254
#define TELNET_IAC	255

#define TELNET_OPT_BINARY	0
#define TELNET_OPT_ECHO		1
#define TELNET_OPT_SGA		3
#define TELNET_OPT_COM_PORT	44

/* Longest sub-negotiation payload (after the option byte, unescaped) kept;
 * a longer one is dropped whole and counted in sb_dropped. */
#define TELNET_SB_MAX	256

struct telnet_ops {
	/* Negotiation bytes to send to the peer, already framed. */
	void (*send)(void *arg, const uint8_t *buf, size_t n);
	/* An option took effect or ended; local: our side (WILL), else the peer's (DO). */
	void (*option)(void *arg, uint8_t opt, bool local, bool enabled);
	/* A complete sub-negotiation, IAC IAC already undone. */
	void (*subneg)(void *arg, uint8_t opt, const uint8_t *val, size_t n);
};

struct telnet {
	const struct telnet_ops *ops;
	void *arg;
	uint8_t state;			/* parser state, private */
	uint8_t sb_opt;
	uint16_t sb_len;
	bool sb_overflow;
	uint8_t q_us[256];		/* RFC 1143 state of our side, private */
	uint8_t q_him[256];		/* RFC 1143 state of the peer's side, private */
	uint8_t allow[256];		/* TELNET_ALLOW_* per option */
	uint8_t sb_buf[TELNET_SB_MAX];
	uint64_t sb_dropped;		/* over-long sub-negotiations */
};

#define TELNET_ALLOW_LOCAL	0x01	/* we may enable it on our side (answer DO with WILL) */
#define TELNET_ALLOW_REMOTE	0x02	/* the peer may enable it (answer WILL with DO) */

void telnet_init(struct telnet *t, const struct telnet_ops *ops, void *arg);
void telnet_allow(struct telnet *t, uint8_t opt, uint8_t allow);

/* Ask for an option to be enabled or disabled, by the Q method: nothing is
 * sent when the option is already there or a request is under way. */
void telnet_request(struct telnet *t, uint8_t opt, bool local, bool enable);

bool telnet_local_enabled(const struct telnet *t, uint8_t opt);
bool telnet_remote_enabled(const struct telnet *t, uint8_t opt);

/*
 * Feed received bytes.  Data bytes (IAC IAC undone; CR NUL undone while the
 * peer has not enabled BINARY) are written to data, which must have room for
 * n bytes and may be in itself (data never runs ahead of input); *ndata is
 * set to their count.  Commands are handled through ops.
 */
void telnet_recv(struct telnet *t, const uint8_t *in, size_t n, uint8_t *data, size_t *ndata);

/*
 * Escape data for sending (every FF doubled).  Writes as much of in as fits
 * into out[0..cap), sets *used to the input bytes taken, returns bytes written.
 */
size_t telnet_escape(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *used);

/* IAC SB opt val… IAC SE with val escaped; returns its length or -ENOSPC. */
int telnet_encode_sb(uint8_t *out, size_t cap, uint8_t opt, const uint8_t *val, size_t n);

#endif
