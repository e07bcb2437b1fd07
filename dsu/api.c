// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The NPort G2 management API as dsu sees it: our model from docs/device-model.md
 * (Moxa does not publish it), every path, field name and the DNS-SD service
 * type in the tables below so a capture from real hardware corrects them
 * here; and the one HTTPS client, libcurl with the device's certificate
 * checked against a pinned SHA-256 fingerprint.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dsu.h"

const char dsu_service_type[] = "_nport._tcp";
const char dsu_moxa_oui[] = "00:90:E8";

const struct api_fields F = {
	.model = "model", .serial = "serial", .mac = "mac", .firmware = "firmware",
	.name = "name", .ports = "ports", .state = "state",
	.username = "username", .password = "password", .token = "token",
	.retry_after = "retry_after", .error = "error", .message = "message",
	.port = "port", .mode = "mode", .connection = "connection", .data_port = "data_port",
	.command_port = "command_port", .tcp_port = "tcp_port",
	.txt_vendor = "vendor", .txt_model = "model", .txt_mac = "mac", .txt_serial = "serial",
	.txt_fw = "fw", .txt_state = "state", .txt_api = "api",
	.snmp = "snmp", .min_length = "min_length", .digit = "digit", .mixed_case = "mixed_case",
	.special = "special", .lifetime_days = "lifetime_days", .enabled = "enabled",
	.max_failures = "max_failures", .lockout_minutes = "lockout_minutes", .entries = "entries",
	.address = "address", .netmask = "netmask", .remote = "remote", .tls = "tls",
	.servers = "servers", .max_sessions = "max_sessions", .pem = "pem", .connected = "connected",
	.wins = "wins", .moxa_service = "moxa_service", .https = "https",
	.serial_console = "serial_console", .text = "text", .sha256 = "sha256",
	.mode_disabled = "disabled", .conn_unencrypted = "unencrypted",
};

const char *const api_port_modes[] = { "realcom", "rfc2217", "tcp-server", "disabled", NULL };
const char *const api_port_connections[] = {
	"unencrypted", "encrypted", "encrypted-authenticated", NULL
};

static const struct {
	const char *method;
	const char *path;
	bool auth;
} calls[API_CALLS] = {
	[API_DEVICE] = { "GET", "/api/v1/device", false },
	[API_SETUP] = { "POST", "/api/v1/setup/account", false },
	[API_LOGIN] = { "POST", "/api/v1/auth/login", false },
	[API_LOGOUT] = { "POST", "/api/v1/auth/logout", true },
	[API_PORTS] = { "GET", "/api/v1/serial/ports", true },
	[API_SERVICES] = { "GET", "/api/v1/security/services", true },
	[API_PASSWORD_POLICY] = { "GET", "/api/v1/security/password-policy", true },
	[API_LOCKOUT] = { "GET", "/api/v1/security/login-lockout", true },
	[API_ALLOWLIST] = { "GET", "/api/v1/security/allowlist", true },
	[API_CERTIFICATE] = { "GET", "/api/v1/security/certificate", true },
	[API_SYSLOG] = { "GET", "/api/v1/system/syslog", true },
	[API_SNTP] = { "GET", "/api/v1/system/sntp", true },
	[API_DOS_DEFENSE] = { "GET", "/api/v1/security/dos-defense", true },
	[API_WEB_SESSIONS] = { "GET", "/api/v1/security/web-sessions", true },
	[API_CONFIG] = { "GET", "/api/v1/system/config", true },
	[API_CONFIG_PUT] = { "PUT", "/api/v1/system/config", true },
	[API_FIRMWARE] = { "POST", "/api/v1/system/firmware", true },
	[API_PUT_SERVICES] = { "PUT", "/api/v1/security/services", true },
	[API_PUT_PASSWORD_POLICY] = { "PUT", "/api/v1/security/password-policy", true },
	[API_PUT_LOCKOUT] = { "PUT", "/api/v1/security/login-lockout", true },
	[API_PUT_ALLOWLIST] = { "PUT", "/api/v1/security/allowlist", true },
	[API_PUT_SYSLOG] = { "PUT", "/api/v1/system/syslog", true },
	[API_PUT_SNTP] = { "PUT", "/api/v1/system/sntp", true },
	[API_PUT_DOS_DEFENSE] = { "PUT", "/api/v1/security/dos-defense", true },
	[API_PUT_WEB_SESSIONS] = { "PUT", "/api/v1/security/web-sessions", true },
	[API_LOGIN_MESSAGE] = { "GET", "/api/v1/security/login-message", true },
	[API_PUT_LOGIN_MESSAGE] = { "PUT", "/api/v1/security/login-message", true },
	[API_PUT_PORT] = { "PUT", "/api/v1/serial/ports/{n}", true },
	[API_REMOTE_CA] = { "GET", "/api/v1/security/remote-ca", true },
	[API_POST_REMOTE_CA] = { "POST", "/api/v1/security/remote-ca", true },
};

#define API_REPLY_MAX	(256 * 1024)

const char *api_path(enum api_call call)
{
	return calls[call].path;
}

const char *api_method(enum api_call call)
{
	return calls[call].method;
}

/* RFC 9110's words for the statuses a unit may answer, so a status is shown
 * as a user knows it; the unit's own reason phrase is not read. */
const char *api_status_text(int status)
{
	static const struct {
		int status;
		const char *text;
	} words[] = {
		{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" }, { 408, "Request Timeout" },
		{ 409, "Conflict" }, { 413, "Content Too Large" }, { 422, "Unprocessable Content" },
		{ 423, "Locked" }, { 429, "Too Many Requests" }, { 500, "Internal Server Error" },
		{ 501, "Not Implemented" }, { 502, "Bad Gateway" }, { 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (words[i].status == status)
			return words[i].text;
	return "";
}

int dsu_dev_init(struct dsu_dev *d, const char *host, unsigned int timeout, char *err)
{
	const char *colon = strrchr(host, ':');
	unsigned long port = 443;
	char name[DSU_HOST_MAX];
	size_t len = strlen(host);

	memset(d, 0, sizeof(*d));
	d->timeout = timeout;
	if (len == 0 || len >= DSU_HOST_MAX) {
		snprintf(err, DSU_ERR_MAX, "a host name of 1 to %d characters", DSU_HOST_MAX - 1);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)host[i] <= ' ' || strchr("/?#@\\", host[i])) {
			snprintf(err, DSU_ERR_MAX, "not a host name or address");
			return -1;
		}
	}
	snprintf(name, sizeof(name), "%s", host);
	if (host[0] == '[') {			/* [v6] or [v6]:port */
		const char *end = strchr(host, ']');

		if (!end || (end[1] && end[1] != ':')) {
			snprintf(err, DSU_ERR_MAX, "an IPv6 address goes in brackets: [ADDR]:PORT");
			return -1;
		}
		name[end - host + 1] = '\0';
		colon = end[1] ? end + 1 : NULL;
	} else if (colon && strchr(host, ':') != colon) {
		colon = NULL;			/* a bare IPv6 address */
		snprintf(name, sizeof(name), "[%s]", host);
	} else if (colon) {
		name[colon - host] = '\0';
	}
	if (colon) {
		char *end;

		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || *end || port < 1 || port > 65535 || end == colon + 1) {
			snprintf(err, DSU_ERR_MAX, "port '%s': expected 1 to 65535", colon + 1);
			return -1;
		}
	}
	snprintf(d->host, sizeof(d->host), "%s", host);
	if (port == 443)
		snprintf(d->key, sizeof(d->key), "%s", name);
	else
		snprintf(d->key, sizeof(d->key), "%s:%lu", name, port);
	snprintf(d->url_base, sizeof(d->url_base), "https://%s:%lu", name, port);
	return 0;
}

/* ---- the certificate check ---- */

/*
 * Replaces OpenSSL's chain verification: a G2's certificate is self-signed,
 * so its identity is the pinned fingerprint.  Without a pin (first use) any
 * certificate passes and is only recorded; the caller decides.
 */
static int api_verify(X509_STORE_CTX *x, void *arg)
{
	struct dsu_dev *d = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(x);

	if (!leaf || tls_cert_fingerprint(leaf, d->seen) < 0) {
		X509_STORE_CTX_set_error(x, X509_V_ERR_UNSPECIFIED);
		return 0;
	}
	d->seen_set = true;
	if (d->pinned && memcmp(d->seen, d->pin, TLS_FP_LEN) != 0) {
		d->mismatch = true;
		X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	return 1;
}

static CURLcode api_ssl_ctx(CURL *curl, void *ctx, void *arg)
{
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_cert_verify_callback(ctx, api_verify, arg);
	return CURLE_OK;
}

struct reply_buf {
	char *p;
	size_t len;
	bool too_big;
};

static size_t api_collect(char *data, size_t size, size_t n, void *arg)
{
	struct reply_buf *b = arg;
	size_t add = size * n;
	char *p;

	if (b->len + add > API_REPLY_MAX) {
		b->too_big = true;
		return 0;
	}
	p = realloc(b->p, b->len + add + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, data, add);
	b->p = p;
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

static void api_curl_error(struct dsu_dev *d, CURLcode rc, const char *detail, char *err)
{
	char fp[TLS_FP_STRLEN], pin[TLS_FP_STRLEN];

	if (d->mismatch) {
		tls_fingerprint_format(d->seen, fp);
		tls_fingerprint_format(d->pin, pin);
		snprintf(err, DSU_ERR_MAX,
			 "the device's certificate is not the one pinned for %s\n"
			 "  pinned: %s\n  shown:  %s\n"
			 "A G2 makes a new certificate when its IP address changes. If that is what\n"
			 "happened, check the new fingerprint on the unit's web console and confirm it\n"
			 "with --fingerprint %s",
			 d->key, pin, fp, fp);
		return;
	}
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		snprintf(err, DSU_ERR_MAX, "unreachable: %s", detail[0] ? detail : "connection refused");
		break;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(err, DSU_ERR_MAX, "no answer within %u s (%s)", d->timeout, detail);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(err, DSU_ERR_MAX, "cannot resolve the name: %s", detail);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		snprintf(err, DSU_ERR_MAX, "TLS handshake failed: %s", detail);
		break;
	case CURLE_WRITE_ERROR:
		snprintf(err, DSU_ERR_MAX, "the answer is larger than %d KiB", API_REPLY_MAX / 1024);
		break;
	default:
		snprintf(err, DSU_ERR_MAX, "%s", detail[0] ? detail : curl_easy_strerror(rc));
	}
}

/* A binary body on its way out, and who hears of its progress. */
struct api_body {
	const char *data;		/* NULL: JSON text or none */
	size_t len;
	api_progress_fn *progress;
	void *arg;
};

static int api_xferinfo(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			curl_off_t ulnow)
{
	struct api_body *b = arg;

	if (ulnow >= 0)
		b->progress(b->arg, (size_t)ulnow, b->len);
	return 0;
}

/* One request: a JSON body (body), a binary one (raw), or none. */
static int api_request(struct dsu_dev *d, enum api_call call, json_object *body,
		       struct api_body *raw, json_object **reply, char *err)
{
	char url[sizeof(d->url_base) + 64], auth[sizeof(d->token) + 32];
	char detail[CURL_ERROR_SIZE] = "";
	struct reply_buf rb = { 0 };
	struct curl_slist *hdr = NULL;
	const char *n;
	char *ip = NULL;
	long status = 0;
	CURLcode rc;
	CURL *curl;

	*reply = NULL;
	d->call = call;
	curl = curl_easy_init();
	if (!curl) {
		snprintf(err, DSU_ERR_MAX, "cannot start libcurl");
		return -1;
	}
	n = strstr(calls[call].path, "{n}");
	if (n)
		snprintf(url, sizeof(url), "%s%.*s%u%s", d->url_base, (int)(n - calls[call].path),
			 calls[call].path, d->n, n + 3);
	else
		snprintf(url, sizeof(url), "%s%s", d->url_base, calls[call].path);
	hdr = curl_slist_append(hdr, "Accept: application/json");
	if (body)
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
	if (raw)
		hdr = curl_slist_append(hdr, "Content-Type: application/octet-stream");
	if (calls[call].auth) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", d->token);
		hdr = curl_slist_append(hdr, auth);
		secret_wipe(auth, sizeof(auth));
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, calls[call].method);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");	/* a device on the LAN */
	/* --timeout is the whole wait for this call: connection, TLS and answer */
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)d->timeout);
	if (raw) {
		/* an image takes what it takes: --timeout bounds a stall instead */
		curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, (long)d->timeout);
	} else {
		curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)d->timeout);
	}
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "dsu/" REALCOM_VERSION);
	/* Identity is the pinned certificate (api_verify), not a name or a CA. */
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, api_ssl_ctx);
	curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, d);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, api_collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &rb);
	if (body)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json_object_to_json_string(body));
	if (raw) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, raw->data);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)raw->len);
		if (raw->progress) {
			curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, api_xferinfo);
			curl_easy_setopt(curl, CURLOPT_XFERINFODATA, raw);
			curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
		}
	}
	d->mismatch = false;
	rc = curl_easy_perform(curl);
	if (body) {
		/* the request text may carry a password: wipe json-c's copy */
		const char *txt = json_object_to_json_string(body);

		secret_wipe((void *)txt, strlen(txt));
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	/* our own address on this connection: what an allowlist must let in */
	if (curl_easy_getinfo(curl, CURLINFO_LOCAL_IP, &ip) == CURLE_OK && ip)
		snprintf(d->local_ip, sizeof(d->local_ip), "%s", ip);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(curl);
	if (rc != CURLE_OK) {
		api_curl_error(d, rb.too_big ? CURLE_WRITE_ERROR : rc, detail, err);
		free(rb.p);
		return -1;
	}
	if (rb.len) {
		*reply = dsu_reply_parse(rb.p, rb.len);
		if (!*reply && status < 300) {
			snprintf(err, DSU_ERR_MAX, "HTTP %ld with an answer that is not JSON", status);
			free(rb.p);
			return -1;
		}
	}
	free(rb.p);
	return (int)status;
}

int api_call(struct dsu_dev *d, enum api_call call, json_object *body, json_object **reply,
	     char *err)
{
	return api_request(d, call, body, NULL, reply, err);
}

int api_upload(struct dsu_dev *d, enum api_call call, const void *data, size_t len,
	       api_progress_fn *progress, void *arg, json_object **reply, char *err)
{
	struct api_body raw = { .data = data, .len = len, .progress = progress, .arg = arg };

	if (len > API_IMAGE_MAX) {
		*reply = NULL;
		snprintf(err, DSU_ERR_MAX, "%zu bytes: a unit takes at most %d MiB", len,
			 API_IMAGE_MAX / (1024 * 1024));
		return -1;
	}
	return api_request(d, call, NULL, &raw, reply, err);
}

void api_error_text(json_object *reply, char *out, size_t len)
{
	const char *msg = json_str(reply, F.message), *code = json_str(reply, F.error);

	if (msg[0] && code[0])
		snprintf(out, len, "%s (%s)", msg, code);
	else
		snprintf(out, len, "%s", msg[0] ? msg : code[0] ? code : "no reason given");
}
