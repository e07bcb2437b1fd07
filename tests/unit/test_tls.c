// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the TLS context builder (common/tls.c): real handshakes
 * between our client and server over a socketpair, with certificates made
 * at test time by tests/lib/mkcerts.sh (path in $MKCERTS).
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
#include <sys/socket.h>
#include <unistd.h>

#include "testcerts.h"
#include "tls.h"

struct result {
	int client, server;
	char client_err[TLS_ERR_MAX], server_err[TLS_ERR_MAX];
	char describe[128];
};

/* Run both handshakes to the end over a socketpair, in one thread, bounded. */
static void handshake(const struct tls_config *cc, const struct tls_config *sc, const char *host,
		      struct result *res)
{
	char err[TLS_ERR_MAX];
	SSL_CTX *cctx = tls_ctx_new(cc, err), *sctx;
	SSL *c, *s;
	int sv[2];
	uint32_t want;

	if (!cctx)
		fail_msg("client context: %s", err);
	sctx = tls_ctx_new(sc, err);
	if (!sctx)
		fail_msg("server context: %s", err);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	c = tls_session_new(cctx, sv[0], host, err);
	s = tls_session_new(sctx, sv[1], NULL, err);
	assert_non_null(c);
	assert_non_null(s);
	memset(res, 0, sizeof(*res));
	res->client = res->server = -EAGAIN;
	for (int i = 0; i < 100 && (res->client == -EAGAIN || res->server == -EAGAIN); i++) {
		if (res->client == -EAGAIN)
			res->client = tls_handshake(c, &want, res->client_err);
		if (res->server == -EAGAIN)
			res->server = tls_handshake(s, &want, res->server_err);
	}
	/* TLS 1.3: the client finishes before the server has judged its
	 * certificate; a read shows whether the server then refused it. */
	if (res->client == 0 && res->server != 0) {
		char b;
		if (SSL_read(c, &b, 1) <= 0 && SSL_get_error(c, 0) != SSL_ERROR_WANT_READ)
			res->client = -EPROTO;
	}
	if (res->client == 0)
		tls_describe(c, res->describe, sizeof(res->describe));
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	close(sv[0]);
	close(sv[1]);
}

static struct tls_config server_cfg(const char *name)
{
	char c[64], k[64];

	snprintf(c, sizeof(c), "%s.pem", name);
	snprintf(k, sizeof(k), "%s.key", name);
	return (struct tls_config){ .server = true, .verify = true,
				    .cert_file = testcerts_path(c), .key_file = testcerts_path(k) };
}

static void test_ca_good(void **state)
{
	struct tls_config cc = { .verify = true, .ca_file = testcerts_path("ca.pem") };
	struct tls_config sc = server_cfg("server");
	struct result r;

	handshake(&cc, &sc, "localhost", &r);
	assert_int_equal(r.client, 0);
	assert_int_equal(r.server, 0);
	assert_non_null(strstr(r.describe, "TLSv1.3"));
	assert_non_null(strstr(r.describe, "verified by CA"));
	handshake(&cc, &sc, "127.0.0.1", &r);
	assert_int_equal(r.client, 0);
	handshake(&cc, &sc, "::1", &r);
	assert_int_equal(r.client, 0);
}

static void expect_client_failure(struct tls_config *cc, const char *server, const char *host,
				  const char *want)
{
	struct tls_config sc = server_cfg(server);
	struct result r;

	handshake(cc, &sc, host, &r);
	assert_int_equal(r.client, -EPROTO);
	if (!strstr(r.client_err, want))
		fail_msg("client error '%s' does not say '%s'", r.client_err, want);
}

static void test_rejections(void **state)
{
	struct tls_config cc = { .verify = true, .ca_file = testcerts_path("other-ca.pem") };

	expect_client_failure(&cc, "server", "localhost",
			      "certificate verification failed: unable to get local issuer");
	cc.ca_file = testcerts_path("ca.pem");
	expect_client_failure(&cc, "expired", "localhost",
			      "certificate verification failed: certificate has expired");
	expect_client_failure(&cc, "wronghost", "localhost",
			      "certificate verification failed: hostname mismatch");
	expect_client_failure(&cc, "server", "192.0.2.10",
			      "certificate verification failed: IP address mismatch");
	/* a self-signed device certificate is not trusted without a pin */
	expect_client_failure(&cc, "selfsigned", "127.0.0.1", "certificate verification failed");
}

static void test_pin(void **state)
{
	struct tls_config cc = { .verify = true, .pinned = true };
	struct tls_config sc = server_cfg("selfsigned");
	char fp[TLS_FP_STRLEN], want[TLS_FP_STRLEN + 64];
	struct result r;

	assert_int_equal(tls_file_fingerprint(testcerts_path("selfsigned.pem"), cc.fingerprint), 0);
	handshake(&cc, &sc, "127.0.0.1", &r);
	assert_int_equal(r.client, 0);
	assert_non_null(strstr(r.describe, "verified by pin"));

	/* a pin replaces the chain: a CA-signed but expired leaf with that pin passes too */
	assert_int_equal(tls_file_fingerprint(testcerts_path("expired.pem"), cc.fingerprint), 0);
	expect_client_failure(&cc, "server", "localhost", "is not the pinned one");
	/* and the message names the fingerprint that was met */
	uint8_t met[TLS_FP_LEN];
	assert_int_equal(tls_file_fingerprint(testcerts_path("server.pem"), met), 0);
	tls_fingerprint_format(met, fp);
	snprintf(want, sizeof(want), "certificate fingerprint %s is not the pinned one", fp);
	expect_client_failure(&cc, "server", "localhost", want);

	/* CA and pin: both must hold */
	cc.ca_file = testcerts_path("ca.pem");
	assert_int_equal(tls_file_fingerprint(testcerts_path("server.pem"), cc.fingerprint), 0);
	sc = server_cfg("server");
	handshake(&cc, &sc, "localhost", &r);
	assert_int_equal(r.client, 0);
	assert_non_null(strstr(r.describe, "verified by CA and pin"));
	cc.fingerprint[0] ^= 1;
	expect_client_failure(&cc, "server", "localhost", "is not the pinned one");
	assert_int_equal(tls_file_fingerprint(testcerts_path("selfsigned.pem"), cc.fingerprint), 0);
	expect_client_failure(&cc, "selfsigned", "127.0.0.1", "certificate verification failed");
}

static void test_verify_off(void **state)
{
	struct tls_config cc = { .verify = false, .ca_file = testcerts_path("other-ca.pem") };
	struct tls_config sc = server_cfg("expired");
	struct result r;

	handshake(&cc, &sc, "localhost", &r);
	assert_int_equal(r.client, 0);
	assert_non_null(strstr(r.describe, "not verified"));
}

static void test_client_cert(void **state)
{
	struct tls_config cc = { .verify = true, .ca_file = testcerts_path("ca.pem") };
	struct tls_config sc = server_cfg("server");
	struct result r;

	sc.require_client_cert = true;
	sc.ca_file = testcerts_path("ca.pem");
	handshake(&cc, &sc, "localhost", &r);
	assert_int_equal(r.server, -EPROTO);
	assert_int_equal(r.client, -EPROTO);
	assert_non_null(strstr(r.server_err, "peer did not return a certificate"));

	cc.cert_file = testcerts_path("client.pem");
	cc.key_file = testcerts_path("client.key");
	handshake(&cc, &sc, "localhost", &r);
	assert_int_equal(r.client, 0);
	assert_int_equal(r.server, 0);

	cc.cert_file = testcerts_path("rogue-client.pem");
	cc.key_file = testcerts_path("rogue-client.key");
	handshake(&cc, &sc, "localhost", &r);
	assert_int_equal(r.server, -EPROTO);
	assert_int_equal(r.client, -EPROTO);
	assert_non_null(strstr(r.server_err, "unable to get local issuer certificate"));
}

static void test_min_version(void **state)
{
	struct tls_config sc = server_cfg("server");
	char err[TLS_ERR_MAX];
	SSL_CTX *sctx = tls_ctx_new(&sc, err);
	SSL_CTX *old = SSL_CTX_new(TLS_client_method());
	SSL *c, *s;
	int sv[2], rc = -EAGAIN, rs = -EAGAIN;
	uint32_t want;

	assert_non_null(sctx);
	SSL_CTX_set_min_proto_version(old, TLS1_VERSION);
	SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION);
	SSL_CTX_set_security_level(old, 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	c = SSL_new(old);
	SSL_set_fd(c, sv[0]);
	SSL_set_connect_state(c);
	s = tls_session_new(sctx, sv[1], NULL, err);
	for (int i = 0; i < 100 && (rc == -EAGAIN || rs == -EAGAIN); i++) {
		if (rc == -EAGAIN)
			rc = tls_handshake(c, &want, err);
		if (rs == -EAGAIN)
			rs = tls_handshake(s, &want, err);
	}
	assert_int_equal(rs, -EPROTO);
	assert_int_equal(rc, -EPROTO);
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(old);
	SSL_CTX_free(sctx);
	close(sv[0]);
	close(sv[1]);
}

static void expect_ctx_error(const struct tls_config *c, const char *want)
{
	char err[TLS_ERR_MAX];
	SSL_CTX *ctx = tls_ctx_new(c, err);

	assert_null(ctx);
	if (!strstr(err, want))
		fail_msg("error '%s' does not say '%s'", err, want);
}

static void test_ctx_errors(void **state)
{
	struct tls_config c = { .verify = true };

	expect_ctx_error(&c, "neither a CA file nor a fingerprint");
	c.ca_file = "/nonexistent/ca.pem";
	expect_ctx_error(&c, "/nonexistent/ca.pem: ");
	c = (struct tls_config){ .server = true };
	expect_ctx_error(&c, "a TLS server needs a certificate and a key");
	c = (struct tls_config){ .cert_file = testcerts_path("client.pem") };
	expect_ctx_error(&c, "a certificate needs its key");
	c.key_file = testcerts_path("server.key");
	expect_ctx_error(&c, "the key does not match the certificate");
	c = (struct tls_config){ .cert_file = "/nonexistent/c.pem", .key_file = testcerts_path("client.key") };
	expect_ctx_error(&c, "/nonexistent/c.pem: ");
	c = server_cfg("server");
	c.require_client_cert = true;
	expect_ctx_error(&c, "no CA file");
}

static void test_fingerprints(void **state)
{
	uint8_t fp[TLS_FP_LEN], fp2[TLS_FP_LEN];
	char s[TLS_FP_STRLEN], cmd[512], line[256];
	FILE *p;

	assert_int_equal(tls_file_fingerprint(testcerts_path("server.pem"), fp), 0);
	tls_fingerprint_format(fp, s);
	assert_int_equal(strlen(s), TLS_FP_STRLEN - 1);
	assert_int_equal(tls_fingerprint_parse(s, fp2), 0);
	assert_memory_equal(fp, fp2, TLS_FP_LEN);
	/* the same figure openssl prints, less its "sha256 Fingerprint=" */
	snprintf(cmd, sizeof(cmd), "openssl x509 -noout -fingerprint -sha256 -in '%s'",
		 testcerts_path("server.pem"));
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(line, sizeof(line), p));
	pclose(p);
	line[strcspn(line, "\n")] = '\0';
	assert_string_equal(strchr(line, '=') + 1, s + 7);
	/* colons optional, any case, prefix optional */
	assert_int_equal(tls_fingerprint_parse(
		"000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F", fp), 0);
	assert_int_equal(fp[0x1f], 0x1f);
	assert_int_equal(tls_fingerprint_parse("SHA256:" "00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:"
					       "0e:0f:10:11:12:13:14:15:16:17:18:19:1a:1b:1c:1d:1e:1f",
					       fp2), 0);
	assert_memory_equal(fp, fp2, TLS_FP_LEN);
	assert_int_equal(tls_fingerprint_parse("sha256:00", fp), -EINVAL);
	assert_int_equal(tls_fingerprint_parse("", fp), -EINVAL);
	assert_int_equal(tls_fingerprint_parse(
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20", fp), -EINVAL);
	assert_int_equal(tls_fingerprint_parse(
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g", fp), -EINVAL);
	assert_int_equal(tls_fingerprint_parse(
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1", fp), -EINVAL);
	assert_int_equal(tls_file_fingerprint("/nonexistent.pem", fp), -ENOENT);
	assert_int_equal(tls_file_fingerprint(testcerts_path("server.key"), fp), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca_good),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_pin),
		cmocka_unit_test(test_verify_off),
		cmocka_unit_test(test_client_cert),
		cmocka_unit_test(test_min_version),
		cmocka_unit_test(test_ctx_errors),
		cmocka_unit_test(test_fingerprints),
	};

	return cmocka_run_group_tests(tests, testcerts_setup, testcerts_teardown);
}
