/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one TLS context builder (OpenSSL 3), for clients and servers: TLS 1.2
 * or newer, peer verification on unless turned off in so many words, a CA
 * file and/or a pinned SHA-256 certificate fingerprint, a client certificate,
 * SNI and host name checks.  Handshakes and I/O stay with the caller's loop.
 */
#ifndef REALCOM_TLS_H
#define REALCOM_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define TLS_FP_LEN	32
/* "sha256:" and 32 "XX:" groups less the last colon, and a NUL */
#define TLS_FP_STRLEN	(7 + 32 * 3)
#define TLS_ERR_MAX	256

struct tls_config {
	bool server;
	bool verify;			/* check the peer; false only when configured off */
	const char *ca_file;		/* trust anchors for the peer's chain */
	bool pinned;			/* fingerprint below is set */
	uint8_t fingerprint[TLS_FP_LEN];	/* SHA-256 of the peer's leaf certificate */
	const char *cert_file;		/* our certificate (a server's, or a client's) */
	const char *key_file;
	X509 *cert;			/* or both in memory (not taken over) */
	EVP_PKEY *key;
	bool require_client_cert;	/* server: ask for one and verify it against ca_file */
};

/*
 * Build a context.  A client with verify on needs ca_file or a pin (a pin
 * alone accepts a self-signed device certificate with that fingerprint; with
 * both, both must hold).  Returns NULL with err saying what failed and why.
 */
SSL_CTX *tls_ctx_new(const struct tls_config *c, char err[TLS_ERR_MAX]);

/* A session over a connected fd.  host (client, may be NULL) is sent as SNI
 * (names only) and checked against the certificate when a CA is in use. */
SSL *tls_session_new(SSL_CTX *ctx, int fd, const char *host, char err[TLS_ERR_MAX]);

/*
 * Advance a handshake without blocking: 0 when done, -EAGAIN with *want set
 * to EPOLLIN or EPOLLOUT when it must wait, or -EPROTO with err explaining
 * (including the verification result).
 */
int tls_handshake(SSL *ssl, uint32_t *want, char err[TLS_ERR_MAX]);

/* "sha256:AB:CD:..." (colons optional, any case) -> 32 bytes; 0 or -EINVAL. */
int tls_fingerprint_parse(const char *s, uint8_t out[TLS_FP_LEN]);
void tls_fingerprint_format(const uint8_t fp[TLS_FP_LEN], char out[TLS_FP_STRLEN]);
int tls_cert_fingerprint(X509 *cert, uint8_t out[TLS_FP_LEN]);
/* The SHA-256 fingerprint of the first certificate in a PEM file. */
int tls_file_fingerprint(const char *pem_path, uint8_t out[TLS_FP_LEN]);

/* A device's own certificate, as a new NPort G2 makes it (docs/device-model.md): an
 * ECC P-256 key and a self-signed certificate for days, subject CN cn, the
 * subjectAltName an IP address or a DNS name (san).  0, or -1 with err. */
int tls_self_signed(const char *cn, const char *san, unsigned int days, X509 **cert,
		    EVP_PKEY **key, char err[TLS_ERR_MAX]);
/* The first certificate and the private key of PEM files.  0, or -1 with err. */
int tls_load_pem(const char *cert_file, const char *key_file, X509 **cert, EVP_PKEY **key,
		 char err[TLS_ERR_MAX]);
/* PEM text, malloc'd, NUL-terminated; NULL when out of memory.  Free a key's
 * text with tls_free_secret(). */
char *tls_cert_pem(X509 *cert);
char *tls_key_pem(EVP_PKEY *key);
void tls_free_secret(char *s);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384, verified by CA" and the like. */
void tls_describe(SSL *ssl, char *out, size_t len);

#endif
