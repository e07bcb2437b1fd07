// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * TLS contexts and sessions over OpenSSL 3; see tls.h.  The pin and the
 * verification mode ride on the SSL_CTX as ex_data so the verify callback,
 * which OpenSSL calls per certificate, can see them.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "tls.h"

/* What one read() (a client's read-ahead) or one write() may carry: a few
 * whole records, as much as a plain connection's buffer holds. */
#define TLS_GATHER	(4 * SSL3_RT_MAX_PACKET_SIZE)

struct tls_verify {
	bool use_ca;
	bool pinned;
	bool pin_failed;	/* the last handshake met another fingerprint */
	uint8_t fp[TLS_FP_LEN];
	uint8_t seen[TLS_FP_LEN];
};

static int tls_verify_idx = -1;

static void tls_verify_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			    void *argp)
{
	free(ptr);
}

/* The first error on OpenSSL's queue, or fallback; the queue is emptied. */
static void tls_openssl_error(char err[TLS_ERR_MAX], const char *what, const char *fallback)
{
	unsigned long e = ERR_get_error();
	char buf[200];

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, TLS_ERR_MAX, "%s: %s", what, e ? buf : fallback);
	ERR_clear_error();
}

int tls_cert_fingerprint(X509 *cert, uint8_t out[TLS_FP_LEN])
{
	unsigned int len = TLS_FP_LEN;

	return X509_digest(cert, EVP_sha256(), out, &len) == 1 && len == TLS_FP_LEN ? 0 : -EINVAL;
}

int tls_file_fingerprint(const char *pem_path, uint8_t out[TLS_FP_LEN])
{
	FILE *f = fopen(pem_path, "re");
	X509 *cert;
	int r;

	if (!f)
		return -errno;
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!cert)
		return -EINVAL;
	r = tls_cert_fingerprint(cert, out);
	X509_free(cert);
	return r;
}

int tls_fingerprint_parse(const char *s, uint8_t out[TLS_FP_LEN])
{
	size_t n = 0;

	if (strncasecmp(s, "sha256:", 7) == 0)
		s += 7;
	while (*s) {
		if (*s == ':') {
			s++;
			continue;
		}
		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]) ||
		    n == TLS_FP_LEN)
			return -EINVAL;
		char hex[3] = { s[0], s[1], 0 };
		out[n++] = (uint8_t)strtoul(hex, NULL, 16);
		s += 2;
	}
	return n == TLS_FP_LEN ? 0 : -EINVAL;
}

void tls_fingerprint_format(const uint8_t fp[TLS_FP_LEN], char out[TLS_FP_STRLEN])
{
	char *p = out + sprintf(out, "sha256:");

	for (int i = 0; i < TLS_FP_LEN; i++)
		p += sprintf(p, i ? ":%02X" : "%02X", fp[i]);
}

/*
 * Called by OpenSSL for each certificate of the chain.  A pin alone stands
 * in for the chain (the G2's default certificate is self-signed, docs/device-model.md);
 * with a CA as well, both must hold.
 */
static int tls_verify_cb(int preverify_ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_verify *v = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tls_verify_idx);
	int depth = X509_STORE_CTX_get_error_depth(x);

	if (!v || !v->pinned)
		return preverify_ok;
	if (depth > 0) {
		if (v->use_ca)
			return preverify_ok;
		X509_STORE_CTX_set_error(x, X509_V_OK);
		return 1;
	}
	if (tls_cert_fingerprint(X509_STORE_CTX_get_current_cert(x), v->seen) < 0 ||
	    memcmp(v->seen, v->fp, TLS_FP_LEN) != 0) {
		v->pin_failed = true;
		X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	if (v->use_ca)
		return preverify_ok;
	X509_STORE_CTX_set_error(x, X509_V_OK);
	return 1;
}

static int tls_ctx_verify(SSL_CTX *ctx, const struct tls_config *c, char err[TLS_ERR_MAX])
{
	struct tls_verify *v;
	int mode = SSL_VERIFY_PEER;

	if (!c->verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	if (c->server) {
		if (!c->require_client_cert) {
			SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
			return 0;
		}
		if (!c->ca_file) {
			snprintf(err, TLS_ERR_MAX, "a client certificate is required but no CA file "
				 "to check it against is set");
			return -1;
		}
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->ca_file);

		if (!names) {
			tls_openssl_error(err, c->ca_file, "no certificates in the file");
			return -1;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	} else if (!c->ca_file && !c->pinned) {
		snprintf(err, TLS_ERR_MAX, "certificate verification is on but neither a CA file "
			 "nor a fingerprint to check the server against is set");
		return -1;
	}
	if (c->ca_file && SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL) != 1) {
		tls_openssl_error(err, c->ca_file, "cannot load CA certificates");
		return -1;
	}
	v = calloc(1, sizeof(*v));
	if (!v || !SSL_CTX_set_ex_data(ctx, tls_verify_idx, v)) {
		free(v);
		snprintf(err, TLS_ERR_MAX, "out of memory");
		return -1;
	}
	v->use_ca = c->ca_file != NULL;
	v->pinned = c->pinned;
	memcpy(v->fp, c->fingerprint, TLS_FP_LEN);
	SSL_CTX_set_verify(ctx, mode, tls_verify_cb);
	return 0;
}

SSL_CTX *tls_ctx_new(const struct tls_config *c, char err[TLS_ERR_MAX])
{
	SSL_CTX *ctx;

	if (tls_verify_idx < 0)
		tls_verify_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, tls_verify_free);
	ctx = SSL_CTX_new(c->server ? TLS_server_method() : TLS_client_method());
	if (!ctx) {
		tls_openssl_error(err, "TLS context", "out of memory");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* A client takes what the socket holds in one read(), not a header and
	 * then a body per record.  A server (nportsim) reads by record, so that
	 * conn_unread() counts every byte it has not taken: Real COM's FLUSH and
	 * OQUEUE answers are made of it. */
	if (!c->server) {
		SSL_CTX_set_read_ahead(ctx, 1);
		SSL_CTX_set_default_read_buffer_len(ctx, TLS_GATHER);
	}
	if (c->cert && c->key) {
		if (SSL_CTX_use_certificate(ctx, c->cert) != 1 ||
		    SSL_CTX_use_PrivateKey(ctx, c->key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
			tls_openssl_error(err, "certificate", "the key does not match it");
			goto fail;
		}
	} else if (c->server && (!c->cert_file || !c->key_file)) {
		snprintf(err, TLS_ERR_MAX, "a TLS server needs a certificate and a key");
		goto fail;
	}
	if (!c->cert_file != !c->key_file) {
		snprintf(err, TLS_ERR_MAX, "a certificate needs its key and a key its certificate");
		goto fail;
	}
	if (c->cert_file && SSL_CTX_use_certificate_chain_file(ctx, c->cert_file) != 1) {
		tls_openssl_error(err, c->cert_file, "cannot load the certificate");
		goto fail;
	}
	if (c->key_file && (SSL_CTX_use_PrivateKey_file(ctx, c->key_file, SSL_FILETYPE_PEM) != 1 ||
			    SSL_CTX_check_private_key(ctx) != 1)) {
		if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
			snprintf(err, TLS_ERR_MAX, "%s: the key does not match the certificate %s",
				 c->key_file, c->cert_file);
		else
			tls_openssl_error(err, c->key_file, "cannot load the private key");
		ERR_clear_error();
		goto fail;
	}
	if (tls_ctx_verify(ctx, c, err) < 0)
		goto fail;
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static bool tls_is_ip(const char *host)
{
	struct in6_addr a;

	return inet_pton(AF_INET, host, &a) == 1 || inet_pton(AF_INET6, host, &a) == 1;
}

SSL *tls_session_new(SSL_CTX *ctx, int fd, const char *host, char err[TLS_ERR_MAX])
{
	struct tls_verify *v = SSL_CTX_get_ex_data(ctx, tls_verify_idx);
	SSL *ssl = SSL_new(ctx);
	BIO *sock = BIO_new_socket(fd, BIO_NOCLOSE), *out = BIO_new(BIO_f_buffer());

	/* Records are written to a buffer in front of the socket, and the
	 * connection flushes it once it has written what it holds (conn.c):
	 * one write() per burst, not one per record.  OpenSSL flushes it
	 * itself after handshake messages and alerts. */
	if (!ssl || !sock || !out || BIO_set_write_buffer_size(out, TLS_GATHER) != 1 ||
	    BIO_up_ref(sock) != 1) {
		tls_openssl_error(err, "TLS session", "out of memory");
		BIO_free(out);
		BIO_free(sock);
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_bio(ssl, sock, BIO_push(out, sock));
	if (SSL_is_server(ssl)) {
		SSL_set_accept_state(ssl);
		return ssl;
	}
	SSL_set_connect_state(ssl);
	if (host && !tls_is_ip(host))
		SSL_set_tlsext_host_name(ssl, host);
	if (host && v && v->use_ca) {
		int ok = tls_is_ip(host) ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
					 : SSL_set1_host(ssl, host);
		if (ok != 1) {
			tls_openssl_error(err, host, "cannot set the name to check");
			SSL_free(ssl);
			return NULL;
		}
	}
	if (v)
		v->pin_failed = false;
	return ssl;
}

int tls_handshake(SSL *ssl, uint32_t *want, char err[TLS_ERR_MAX])
{
	int r = SSL_do_handshake(ssl);
	long vr;

	if (r == 1)
		return 0;
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*want = EPOLLIN;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want = EPOLLOUT;
		return -EAGAIN;
	default:
		break;
	}
	vr = SSL_get_verify_result(ssl);
	if (vr == X509_V_ERR_APPLICATION_VERIFICATION) {
		struct tls_verify *v = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tls_verify_idx);
		char fp[TLS_FP_STRLEN] = "unknown";

		if (v && v->pin_failed)
			tls_fingerprint_format(v->seen, fp);
		snprintf(err, TLS_ERR_MAX, "certificate fingerprint %s is not the pinned one", fp);
		ERR_clear_error();
	} else if (vr != X509_V_OK) {
		snprintf(err, TLS_ERR_MAX, "certificate verification failed: %s",
			 X509_verify_cert_error_string(vr));
		ERR_clear_error();
	} else {
		tls_openssl_error(err, "TLS handshake", "connection closed by the peer");
	}
	return -EPROTO;
}

int tls_self_signed(const char *cn, const char *san, unsigned int days, X509 **cert,
		    EVP_PKEY **key, char err[TLS_ERR_MAX])
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	GENERAL_NAME *gen = GENERAL_NAME_new();
	ASN1_OCTET_STRING *ip = a2i_IPADDRESS(san);
	uint8_t serial[16];
	BIGNUM *bn = NULL;
	int ok = 0;

	ERR_clear_error();	/* a2i_IPADDRESS leaves an error for a name */
	if (!k || !x || !name || !gens || !gen || RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7F;	/* a positive serial number */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (ip) {
		GENERAL_NAME_set0_value(gen, GEN_IPADD, ip);
	} else {
		ASN1_IA5STRING *dns = ASN1_IA5STRING_new();

		if (!dns || !ASN1_STRING_set(dns, san, -1)) {
			ASN1_IA5STRING_free(dns);
			goto out;
		}
		GENERAL_NAME_set0_value(gen, GEN_DNS, dns);
	}
	ip = NULL;
	if (!sk_GENERAL_NAME_push(gens, gen))
		goto out;
	gen = NULL;
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
	     X509_set_version(x, X509_VERSION_3) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
					-1, -1, 0) &&
	     X509_set_subject_name(x, name) && X509_set_issuer_name(x, name) &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) &&
	     X509_set_pubkey(x, k) && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0) &&
	     X509_sign(x, k, EVP_sha256());
out:
	if (!ok) {
		tls_openssl_error(err, "self-signed certificate", "out of memory");
		X509_free(x);
		EVP_PKEY_free(k);
	} else {
		*cert = x;
		*key = k;
	}
	ASN1_OCTET_STRING_free(ip);
	GENERAL_NAME_free(gen);
	GENERAL_NAMES_free(gens);
	X509_NAME_free(name);
	BN_free(bn);
	return ok ? 0 : -1;
}

int tls_load_pem(const char *cert_file, const char *key_file, X509 **cert, EVP_PKEY **key,
		 char err[TLS_ERR_MAX])
{
	FILE *f = fopen(cert_file, "re");

	*cert = NULL;
	*key = NULL;
	if (!f) {
		snprintf(err, TLS_ERR_MAX, "%s: %s", cert_file, strerror(errno));
		return -1;
	}
	*cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!*cert) {
		tls_openssl_error(err, cert_file, "no certificate in the file");
		return -1;
	}
	f = fopen(key_file, "re");
	if (!f) {
		snprintf(err, TLS_ERR_MAX, "%s: %s", key_file, strerror(errno));
	} else {
		*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (!*key)
			tls_openssl_error(err, key_file, "no private key in the file");
		else if (X509_check_private_key(*cert, *key) != 1)
			snprintf(err, TLS_ERR_MAX, "%s: the key does not match the certificate %s",
				 key_file, cert_file);
		else
			return 0;
	}
	ERR_clear_error();
	X509_free(*cert);
	EVP_PKEY_free(*key);
	*cert = NULL;
	*key = NULL;
	return -1;
}

/* What a memory BIO holds, as a NUL-terminated string. */
static char *tls_bio_string(BIO *b, int ok)
{
	char *data, *s = NULL;
	long n = ok == 1 ? BIO_get_mem_data(b, &data) : -1;

	if (n >= 0 && (s = malloc((size_t)n + 1))) {
		memcpy(s, data, (size_t)n);
		s[n] = '\0';
	}
	if (n > 0)
		OPENSSL_cleanse(data, (size_t)n);
	BIO_free(b);
	return s;
}

char *tls_cert_pem(X509 *cert)
{
	BIO *b = BIO_new(BIO_s_mem());

	return b ? tls_bio_string(b, PEM_write_bio_X509(b, cert)) : NULL;
}

char *tls_key_pem(EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_mem());

	return b ? tls_bio_string(b, PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL))
		 : NULL;
}

void tls_free_secret(char *s)
{
	if (s)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void tls_describe(SSL *ssl, char *out, size_t len)
{
	struct tls_verify *v = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tls_verify_idx);
	const char *how = "not verified";

	if (v && SSL_get_verify_result(ssl) == X509_V_OK)
		how = v->use_ca && v->pinned ? "verified by CA and pin" :
		      v->use_ca		    ? "verified by CA" :
		      v->pinned		    ? "verified by pin" : "not verified";
	snprintf(out, len, "%s %s, %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl), how);
}
