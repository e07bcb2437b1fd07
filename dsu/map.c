// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dsu map: read a unit's port modes, show the realcomd [ttyRN] section it
 * will write per port (the pinned fingerprint with it when TLS is on) and
 * ask, check the result with realcomd's own parser, replace the file
 * atomically, ask realcomd to reload and print the ttys.  Sections of other
 * devices are left as they are.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "conf.h"
#include "ctlsock.h"
#include "cli.h"
#include "dsu.h"

#define MAP_FILE_MAX	(1024 * 1024)

static const char help[] =
	"Usage: dsu map HOST --user NAME --ports LIST [--protocol realcom|rfc2217] [--tls]\n"
	"               [--cert FILE --key FILE] [--first-tty N] [--config FILE] [--yes]\n"
	"               [--password-file FILE] [--fingerprint FP] [--timeout SEC]\n"
	"LIST: port numbers and ranges, e.g. 1-4 or 1,3.  FILE defaults to " DSU_MAP_CONFIG ".\n"
	"Shows the sections it will write and asks on a terminal; --yes goes ahead without one.\n";

struct map_port {
	unsigned int port, tty;
	const char *protocol;		/* "realcom" or "rfc2217" */
	unsigned int data_port, command_port, tcp_port;
	bool tls;
};

void dsu_conf_host(const struct dsu_dev *d, char *out, size_t len)
{
	snprintf(out, len, "%s", d->key + (d->key[0] == '['));
	out[strcspn(out, d->key[0] == '[' ? "]" : ":")] = '\0';
}

/* "1-4,7" into want[]; false on anything else. */
static bool map_parse_ports(const char *s, bool want[33])
{
	while (*s) {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b = a;

		if (end == s || a < 1 || a > 32)
			return false;
		if (*end == '-') {
			s = end + 1;
			b = strtoul(s, &end, 10);
			if (end == s || b < a || b > 32)
				return false;
		}
		for (unsigned long i = a; i <= b; i++)
			want[i] = true;
		if (*end == ',')
			end++;
		else if (*end)
			return false;
		s = end;
	}
	return true;
}

/* The device's word for each port against what was asked: 0 or 1 (printed). */
static int map_check_port(const struct dsu_dev *d, const struct map_opts *o, json_object *p,
			  struct map_port *mp)
{
	const char *mode = json_str(p, F.mode), *conn = json_str(p, F.connection);

	if (strcmp(mode, "realcom") && strcmp(mode, "rfc2217"))
		return dsu_fail(d->host, "port %u is in %s mode on the device: realcomd needs "
				"realcom or rfc2217", mp->port, mode[0] ? mode : "an unknown");
	if (o->protocol && strcmp(o->protocol, mode))
		return dsu_fail(d->host, "port %u runs %s on the device, not %s: drop --protocol or "
				"change the port's mode on the unit", mp->port, mode, o->protocol);
	mp->protocol = strcmp(mode, "realcom") == 0 ? "realcom" : "rfc2217";
	mp->tls = strcmp(conn, "unencrypted") != 0;
	if (o->tls_from_unit && strcmp(conn, "encrypted-authenticated") == 0)
		return dsu_fail(d->host, "port %u wants the host's certificate "
				"(encrypted-authenticated): map it with dsu map --cert FILE --key FILE",
				mp->port);
	if (o->tls_from_unit)
		;			/* TLS as the unit has it */
	else if (mp->tls && !o->tls)
		return dsu_fail(d->host, "port %u is %s on the device: add --tls", mp->port, conn);
	if (!mp->tls && o->tls)
		return dsu_fail(d->host, "port %u is unencrypted on the device: drop --tls or set the "
				"port's connection type to encrypted on the unit", mp->port);
	if (strcmp(conn, "encrypted-authenticated") == 0 && !o->cert)
		return dsu_fail(d->host, "port %u wants the host's certificate "
				"(encrypted-authenticated): add --cert FILE --key FILE", mp->port);
	mp->data_port = (unsigned int)json_int(p, F.data_port, 0);
	mp->command_port = (unsigned int)json_int(p, F.command_port, 0);
	mp->tcp_port = (unsigned int)json_int(p, F.tcp_port, 0);
	if (mp->data_port - 1 > 65534 || mp->command_port - 1 > 65534 || mp->tcp_port - 1 > 65534)
		return dsu_fail(d->host, "port %u: the device gave no valid TCP ports", mp->port);
	return 0;
}

/* ---- the file: its lines, its [ttyRN] sections ---- */

struct section {
	unsigned int tty;
	size_t start, end;		/* byte offsets: the header line up to the next header */
	char host[256];
	unsigned int port;
	char mac[18];			/* the unit's, as map recorded it, or "" */
};

struct conffile {
	char *text;
	size_t len;
	mode_t mode;
	struct section sec[REALCOM_TTYS_MAX];
	size_t n;
};

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	memmove(s, s + strspn(s, " \t"), strlen(s + strspn(s, " \t")) + 1);
}

/* Find the [ttyRN] sections and their host and port keys (realcomd checks the rest). */
static void conffile_scan(struct conffile *f)
{
	struct section *cur = NULL;
	size_t pos = 0;

	while (pos < f->len) {
		size_t eol = pos + strcspn(f->text + pos, "\n");
		char line[512];
		unsigned int tty;
		char *eq;

		snprintf(line, sizeof(line), "%.*s", (int)(eol - pos), f->text + pos);
		trim(line);
		if (line[0] == '[') {
			if (cur)
				cur->end = pos;
			cur = NULL;
			if (sscanf(line, "[ttyR%u]", &tty) == 1 && tty < REALCOM_TTYS_MAX &&
			    f->n < REALCOM_TTYS_MAX) {
				cur = &f->sec[f->n++];
				*cur = (struct section){ .tty = tty, .start = pos, .port = 1 };
			}
		} else if (cur && (eq = strchr(line, '=')) && line[0] != ';' && line[0] != '#') {
			*eq = '\0';
			trim(line);
			trim(eq + 1);
			if (strcmp(line, "host") == 0)
				snprintf(cur->host, sizeof(cur->host), "%s", eq + 1);
			else if (strcmp(line, "port") == 0)
				cur->port = (unsigned int)strtoul(eq + 1, NULL, 10);
			else if (strcmp(line, "mac") == 0 && !config_mac_parse(eq + 1, cur->mac))
				cur->mac[0] = '\0';
		}
		pos = eol < f->len ? eol + 1 : eol;
	}
	if (cur)
		cur->end = f->len;
}

static int conffile_read(struct conffile *f, const char *path, char *err)
{
	struct stat st;
	ssize_t n;
	int fd;

	memset(f, 0, sizeof(*f));
	f->mode = 0644;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT) {
			snprintf(err, DSU_ERR_MAX, "%s: %s", path, strerror(errno));
			return -1;
		}
		f->text = strdup("[global]\n");
		f->len = strlen(f->text);
		return f->text ? 0 : -1;
	}
	if (fstat(fd, &st) < 0 || st.st_size > MAP_FILE_MAX) {
		snprintf(err, DSU_ERR_MAX, "%s: %s", path, errno ? strerror(errno) : "too large");
		close(fd);
		return -1;
	}
	f->mode = st.st_mode & 07777;
	f->text = malloc((size_t)st.st_size + 2);
	n = f->text ? read(fd, f->text, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		snprintf(err, DSU_ERR_MAX, "%s: cannot read it", path);
		return -1;
	}
	f->len = (size_t)n;
	if (f->len && f->text[f->len - 1] != '\n')
		f->text[f->len++] = '\n';
	f->text[f->len] = '\0';
	conffile_scan(f);
	return 0;
}

static struct section *conffile_tty(struct conffile *f, unsigned int tty)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->sec[i].tty == tty)
			return &f->sec[i];
	return NULL;
}

/*
 * What the unit calls itself goes into a comment, cut short: realcomd's
 * parser (common/conf.c over libinih) takes lines of at most 198 characters, and a
 * unit's name may be longer than ours (nportsim: 63).  Cut text ends in "...".
 */
#define MAP_NAME_SHOWN	64
#define MAP_MODEL_SHOWN	32

static void map_text(FILE *out, const char *s, int most)
{
	if ((int)strlen(s) <= most)
		fputs(s, out);
	else
		fprintf(out, "%.*s...", most - 3, s);
}

#define MAP_COMMENT	"; dsu map: "

/* The line that says which unit and port a section maps. */
static void map_comment(FILE *out, json_object *dev, unsigned int port)
{
	fputs(MAP_COMMENT, out);
	map_text(out, json_str(dev, F.name), MAP_NAME_SHOWN);
	fputs(" (", out);
	map_text(out, json_str(dev, F.model), MAP_MODEL_SHOWN);
	fputs(", ", out);
	map_text(out, json_str(dev, F.mac), MAP_MODEL_SHOWN);
	fprintf(out, ") port %u\n", port);
}

static void map_section(FILE *out, const struct map_opts *o, const struct dsu_dev *d,
			const char *host, json_object *dev, const struct map_port *mp)
{
	char fp[TLS_FP_STRLEN], mac[18];

	fprintf(out, "[ttyR%u]\n", mp->tty);
	map_comment(out, dev, mp->port);
	fprintf(out, "host = %s\nport = %u\nprotocol = %s\n", host, mp->port, mp->protocol);
	if (strcmp(mp->protocol, "realcom") == 0)
		fprintf(out, "data_port = %u\ncommand_port = %u\n", mp->data_port, mp->command_port);
	else
		fprintf(out, "tcp_port = %u\n", mp->tcp_port);
	/* the unit itself, whatever its address: how a second mapping is noticed */
	if (config_mac_parse(json_str(dev, F.mac), mac))
		fprintf(out, "mac = %s\n", mac);
	if (mp->tls) {
		tls_fingerprint_format(d->pin, fp);
		fprintf(out, "tls = on\ntls_fingerprint = %s\n", fp);
		if (o->cert)
			fprintf(out, "tls_cert = %s\ntls_key = %s\n", o->cert, o->key);
	}
	fputc('\n', out);
}

/* map_section() into memory: the text (free it) and its length, or NULL. */
static char *map_render(const struct map_opts *o, const struct dsu_dev *d, const char *host,
			json_object *dev, const struct map_port *mp, size_t *len)
{
	char *text = NULL;
	FILE *out = open_memstream(&text, len);

	if (!out)
		return NULL;
	map_section(out, o, d, host, dev, mp);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* Section s holds text to the letter (blank lines after it aside)? */
static bool section_is(const struct conffile *f, const struct section *s, const char *text,
		       size_t len)
{
	size_t have = s->end - s->start;

	return have >= len && memcmp(f->text + s->start, text, len) == 0 &&
	       strspn(f->text + s->start + len, " \t\r\n") >= have - len;
}

/* Each line of text[0..len) with prefix before it; blank lines at the end left out. */
static void lines_print(const char *prefix, const char *text, size_t len)
{
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	for (size_t pos = 0; pos < len;) {
		size_t eol = pos + strcspn(text + pos, "\n");

		if (eol > len)
			eol = len;
		printf("%s%.*s\n", prefix, (int)(eol - pos), text + pos);
		pos = eol + 1;
	}
}

/* A new file beside config, of its mode, to be finished by conffile_commit(). */
static FILE *conffile_create(const char *config, const struct conffile *f, char tmp[DSU_TMP_MAX])
{
	char err[DSU_ERR_MAX];
	FILE *out = dsu_file_create(config, f->mode, tmp, err);

	if (!out)
		dsu_fail(NULL, "%s", err);
	return out;
}

/* realcomd's parser judges the new file. */
static int conffile_check(const char *tmp, const char *config, char *err)
{
	struct realcom_config *cfg = malloc(sizeof(*cfg));
	char why[CONF_ERR_MAX];
	int r = cfg ? config_load(tmp, cfg, why) : -1;

	free(cfg);
	if (r < 0)
		snprintf(err, DSU_ERR_MAX, "the new %.400s would not load, left unchanged: %.500s",
			 config, cfg ? why : "out of memory");
	return r < 0 ? -1 : 0;
}

/* Let realcomd's parser judge the new file, then put it in config's place. */
static int conffile_commit(const char *config, FILE *out, const char *tmp)
{
	char err[DSU_ERR_MAX];

	if (dsu_file_commit(config, out, tmp, conffile_check, err) < 0)
		return dsu_fail(NULL, "%s", err);
	return 0;
}

/* Write the new file next to the old one, let realcomd's parser judge it, rename. */
static int map_write(const struct map_opts *o, struct conffile *f, const struct dsu_dev *d,
		     const char *host, json_object *dev, const struct map_port *mp, size_t n)
{
	char tmp[DSU_TMP_MAX];
	size_t pos = 0;
	FILE *out;

	out = conffile_create(o->config, f, tmp);
	if (!out)
		return 1;
	/* the file in order, each section we replace written where it was */
	for (size_t i = 0; i < f->n; i++) {
		const struct map_port *hit = NULL;

		for (size_t j = 0; j < n; j++)
			if (mp[j].tty == f->sec[i].tty)
				hit = &mp[j];
		if (!hit)
			continue;
		fwrite(f->text + pos, 1, f->sec[i].start - pos, out);
		map_section(out, o, d, host, dev, hit);
		pos = f->sec[i].end;
	}
	fwrite(f->text + pos, 1, f->len - pos, out);
	for (size_t j = 0; j < n; j++)
		if (!conffile_tty(f, mp[j].tty)) {
			if (f->len && (f->len < 2 || strcmp(f->text + f->len - 2, "\n\n")))
				fputc('\n', out);
			map_section(out, o, d, host, dev, &mp[j]);
			f->len = 0;	/* one blank line before the first only */
		}
	return conffile_commit(o->config, out, tmp);
}

/*
 * The unit with this MAC mapped under another host (name, address) already:
 * a second tty for the same device port would fight the first for it, so
 * map refuses and names the tty there is.  1 (printed) or 0.
 */
static int map_same_unit(const struct dsu_dev *d, const struct conffile *f, const char *mac,
			 const char *host, unsigned int port, const char *config)
{
	for (size_t i = 0; mac[0] && i < f->n; i++) {
		const struct section *s = &f->sec[i];

		if (strcmp(s->mac, mac) || s->port != port || !strcmp(s->host, host))
			continue;
		return dsu_fail(d->host, "this unit (MAC %s) is mapped already as %s in %s: its "
				"port %u is ttyR%u. Map it under %s, or  dsu unmap %s  first",
				mac, s->host, config, port, s->tty, s->host, s->host);
	}
	return 0;
}

/* Ask realcomd to reload and print where each tty is; realcomd down is no error. */
static void map_reload(const char *config, const struct map_port *mp, size_t n, bool quiet)
{
	struct realcom_config *cfg = malloc(sizeof(*cfg));
	char err[CONF_ERR_MAX], path[256];
	json_object *o = NULL, *ports;

	dsu_control_path(cfg && config_load(config, cfg, err) == 0 ? cfg : NULL, path,
			 sizeof(path));
	free(cfg);
	o = ctlsock_ask(path, "{\"cmd\":\"reload\"}\n", err, sizeof(err));
	if (!o) {
		fprintf(stderr, "dsu: realcomd did not reload (%s): the ports appear when it starts\n",
			err);
		for (size_t i = 0; !quiet && i < n; i++)
			printf("ttyR%u\tport %u\t%s%s\n", mp[i].tty, mp[i].port, mp[i].protocol,
			       mp[i].tls ? ", TLS" : "");
		return;
	}
	if (!json_object_get_boolean(json_object_object_get(o, "ok")))
		fprintf(stderr, "dsu: realcomd reloaded with errors: %s\n", json_str(o, "error"));
	json_object_put(o);
	if (quiet)
		return;
	o = ctlsock_ask(path, "{\"cmd\":\"status\"}\n", err, sizeof(err));
	ports = o ? json_object_object_get(o, "ports") : NULL;
	for (size_t i = 0; i < n; i++) {
		char tty[16];
		const char *where = "";

		snprintf(tty, sizeof(tty), "ttyR%u", mp[i].tty);
		for (size_t j = 0; ports && j < json_object_array_length(ports); j++) {
			json_object *p = json_object_array_get_idx(ports, j);

			if (strcmp(json_str(p, "tty"), tty) == 0)
				where = json_str(p, "path");
		}
		printf("%s\tport %u\t%s%s\n", where[0] ? where : tty, mp[i].port, mp[i].protocol,
		       mp[i].tls ? ", TLS" : "");
	}
	json_object_put(o);
}

static size_t unmap_end(const struct conffile *f, const struct section *s);

/*
 * The sections of mp[] as map_write() would write them against f: with show,
 * each one that differs is printed, "- " its lines now and "+ " its lines
 * then.  How many differ (0: f has them to the letter), or -1 out of memory.
 */
static int map_changes(const struct map_opts *o, struct conffile *f, const struct dsu_dev *d,
		       const char *host, json_object *dev, const struct map_port *mp, size_t n,
		       bool show)
{
	int changed = 0;

	for (size_t i = 0; i < n; i++) {
		struct section *s = conffile_tty(f, mp[i].tty);
		size_t len;
		char *text = map_render(o, d, host, dev, &mp[i], &len);

		if (!text)
			return -1;
		if (!s || !section_is(f, s, text, len)) {
			if (show && !changed)
				printf("Writing to %s:\n", o->config);
			if (show && s)
				lines_print("- ", f->text + s->start, unmap_end(f, s) - s->start);
			if (show)
				lines_print("+ ", text, len);
			changed++;
		}
		free(text);
	}
	return changed;
}

/* Show what map_write() will change and ask (no question with --yes).
 * true to write; nothing to change is true too, with nothing to write. */
static bool map_ask(const struct map_opts *o, struct conffile *f, const struct dsu_dev *d,
		    const char *host, json_object *dev, const struct map_port *mp, size_t n,
		    bool *nothing)
{
	char question[64];
	int changed = map_changes(o, f, d, host, dev, mp, n, true);

	*nothing = changed == 0;
	if (changed < 0) {
		dsu_fail(NULL, "out of memory");
		return false;
	}
	if (!changed) {
		printf("%s maps %s already as asked: nothing to change\n", o->config,
		       n == 1 ? "this port" : "these ports");
		return true;
	}
	snprintf(question, sizeof(question), "Write %d section%s?", changed,
		 changed == 1 ? "" : "s");
	return o->yes || dsu_confirm(question, changed == 1 ? "write it" : "write them",
				     "nothing changed");
}

int dsu_map_ports(struct dsu_dev *d, const struct map_opts *o, json_object *dev,
		  json_object *ports, bool write, struct dsu_map_plan *plan)
{
	char host[DSU_HOST_MAX], err[DSU_ERR_MAX], mac[18];
	struct map_port mp[32];
	struct conffile f = { 0 };
	unsigned int ndev;
	size_t n = 0;
	int r = 1;

	dsu_conf_host(d, host, sizeof(host));
	if (!config_mac_parse(json_str(dev, F.mac), mac))
		mac[0] = '\0';

	if (conffile_read(&f, o->config, err) < 0) {
		dsu_fail(NULL, "%s", err);
		goto out;
	}
	if (plan)
		plan->now[0] = plan->wanted[0] = '\0';
	ndev = (unsigned int)json_int(dev, F.ports, 0);
	for (unsigned int port = 1, tty = o->first_tty < 0 ? 0 : (unsigned int)o->first_tty;
	     port <= 32; port++) {
		json_object *p = NULL;
		struct section *s;

		if (!o->want[port])
			continue;
		for (size_t j = 0; j < json_object_array_length(ports); j++)
			if (json_int(json_object_array_get_idx(ports, j), F.port, 0) == port)
				p = json_object_array_get_idx(ports, j);
		if (!p || port > ndev) {
			dsu_fail(d->host, "the unit has %u port%s, no port %u", ndev,
				 ndev == 1 ? "" : "s", port);
			goto out;
		}
		mp[n] = (struct map_port){ .port = port };
		if (map_check_port(d, o, p, &mp[n]))
			goto out;
		/* the section that maps this port already, else the next free tty */
		s = NULL;
		for (size_t i = 0; i < f.n && !s; i++)
			if (!strcmp(f.sec[i].host, host) && f.sec[i].port == port)
				s = &f.sec[i];
		if (!s && map_same_unit(d, &f, mac, host, port, o->config))
			goto out;
		if (s && s->mac[0] && mac[0] && strcmp(s->mac, mac))
			fprintf(stderr, "dsu: %s: ttyR%u mapped the unit with MAC %s here; the unit "
				"at this address now is %s: ttyR%u follows it\n", d->host, s->tty,
				s->mac, mac, s->tty);
		if (plan) {
			size_t l = strlen(plan->now);

			if (s)
				snprintf(plan->now + l, sizeof(plan->now) - l, "%s%u:ttyR%u",
					 l ? " " : "", port, s->tty);
			else
				snprintf(plan->now + l, sizeof(plan->now) - l, "%s%u:-",
					 l ? " " : "", port);
		}
		if (o->tty[port] >= 0) {
			struct section *at = conffile_tty(&f, (unsigned int)o->tty[port]);

			if (s && s->tty != (unsigned int)o->tty[port]) {
				dsu_fail(NULL, "port %u is mapped to ttyR%u in %s already: dsu unmap "
					 "ttyR%u first", port, s->tty, o->config, s->tty);
				goto out;
			}
			if (at && (strcmp(at->host, host) || at->port != port)) {
				dsu_fail(NULL, "ttyR%d already maps %s port %u in %s", o->tty[port],
					 at->host, at->port, o->config);
				goto out;
			}
			mp[n].tty = (unsigned int)o->tty[port];
		} else if (s) {
			mp[n].tty = s->tty;
		} else {
			while (o->first_tty < 0 && tty < REALCOM_TTYS_MAX && conffile_tty(&f, tty))
				tty++;
			if (tty >= REALCOM_TTYS_MAX) {
				dsu_fail(NULL, "no free ttyR number below %d", REALCOM_TTYS_MAX);
				goto out;
			}
			s = conffile_tty(&f, tty);
			if (s) {
				dsu_fail(NULL, "ttyR%u already maps %s port %u in %s: pick another "
					 "--first-tty", tty, s->host, s->port, o->config);
				goto out;
			}
			mp[n].tty = tty++;
		}
		if (plan) {
			size_t l = strlen(plan->wanted);

			snprintf(plan->wanted + l, sizeof(plan->wanted) - l, "%s%u:ttyR%u",
				 l ? " " : "", port, mp[n].tty);
		}
		n++;
	}
	if (plan)
		plan->current = map_changes(o, &f, d, host, dev, mp, n, false) == 0;
	if (write) {
		bool nothing = false;

		/* dsu apply (quiet) has shown its plan and asked */
		if (!o->quiet && !map_ask(o, &f, d, host, dev, mp, n, &nothing))
			goto out;
		if (!nothing && map_write(o, &f, d, host, dev, mp, n))
			goto out;
		map_reload(o->config, mp, n, o->quiet);
	}
	r = 0;
out:
	free(f.text);
	return r;
}

int dsu_map(int argc, char **argv)
{
	enum { O_PORTS = O_FIRST_OPT, O_PROTO, O_TLS, O_CERT, O_KEY, O_FIRST, O_CONFIG, O_YES };
	static const struct option longopts[] = {
		{ "ports", required_argument, NULL, O_PORTS },
		{ "protocol", required_argument, NULL, O_PROTO },
		{ "tls", no_argument, NULL, O_TLS },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "first-tty", required_argument, NULL, O_FIRST },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "yes", no_argument, NULL, O_YES },
		DSU_COMMON_OPTIONS, { NULL, 0, NULL, 0 },
	};
	struct dsu_common c = { .timeout = 10 };
	struct map_opts o = { .config = DSU_MAP_CONFIG, .first_tty = -1 };
	json_object *dev = NULL, *ports = NULL;
	char why[128];
	unsigned int v;
	bool have_ports = false;
	struct dsu_dev d;
	int ch, r = 1;

	for (int i = 0; i <= 32; i++)
		o.tty[i] = -1;
	while ((ch = getopt_long(argc, argv, ":u:h", longopts, NULL)) != -1) {
		switch (ch) {
		case O_PORTS:
			have_ports = true;
			if (!map_parse_ports(optarg, o.want))
				return cli_usage_error("--ports '%s': expected numbers 1-32 and "
						       "ranges, e.g. 1-4,7", optarg);
			break;
		case O_PROTO:
			if (strcmp(optarg, "realcom") && strcmp(optarg, "rfc2217"))
				return cli_usage_error("--protocol '%s': expected realcom or "
						       "rfc2217", optarg);
			o.protocol = optarg;
			break;
		case O_TLS:
			o.tls = true;
			break;
		case O_CERT:
		case O_KEY: {
			/* realcomd reads them from / (realcom.conf(5)): written from / */
			char *path = realpath(optarg, NULL);

			if (!path)
				return cli_usage_error("--%s %s: %s", ch == O_CERT ? "cert" : "key",
						       optarg, strerror(errno));
			*(ch == O_CERT ? &o.cert : &o.key) = path;
			break;
		}
		case O_FIRST:
			if (conf_parse_uint(optarg, 0, REALCOM_TTYS_MAX - 1, &v, why, sizeof(why)) < 0)
				return cli_usage_error("--first-tty '%s': expected 0 to %d", optarg,
						       REALCOM_TTYS_MAX - 1);
			o.first_tty = (int)v;
			break;
		case O_CONFIG:
			o.config = optarg;
			break;
		case O_YES:
			o.yes = true;
			break;
		case '?':
		case ':':
			return cli_option_error(ch, argv, longopts);
		default:
			dsu_common_opt(&c, ch, help);
		}
	}
	if (optind == argc)
		return cli_usage_error("missing HOST");
	if (optind != argc - 1)
		return cli_unexpected_argument(argv[optind + 1]);
	if (!c.user || !have_ports)
		return cli_usage_error("missing %s", !c.user ? "--user NAME" : "--ports LIST");
	if (!o.cert != !o.key)
		return cli_usage_error("--cert and --key go together");
	if (o.cert && !o.tls)
		return cli_usage_error("--cert and --key go with --tls");
	if (dsu_open(&d, argv[optind], c.fingerprint, c.timeout))
		return 1;
	r = dsu_call(&d, API_DEVICE, NULL, &dev);
	if (r != 200) {
		if (r > 0)
			dsu_refused(&d, r, dev, c.user);
		r = 1;
		goto out;
	}
	r = 1;
	if (dsu_needs_setup(&d, dev) || dsu_login(&d, c.user, c.password_file) < 0)
		goto out;
	r = dsu_call(&d, API_PORTS, NULL, &ports);
	if (r == 200 && !json_object_is_type(ports, json_type_array)) {
		r = dsu_fail(d.host, "the answer to GET %s is not a list of ports",
			     api_path(API_PORTS));
		goto out;
	}
	if (r != 200) {
		if (r > 0)
			dsu_refused(&d, r, ports, c.user);
		r = 1;
		goto out;
	}
	r = dsu_map_ports(&d, &o, dev, ports, true, NULL);
out:
	dsu_logout(&d);
	json_object_put(dev);
	json_object_put(ports);
	return r;
}

/* ---- dsu unmap ---- */

static const char unmap_help[] =
	"Usage: dsu unmap TTY...|HOST... [--config FILE] [--yes]\n"
	"Remove the sections of the ttys named (ttyR3 or /dev/ttyR3), or of every port of\n"
	"HOST, from FILE (default " DSU_MAP_CONFIG "), keeping comments and other sections,\n"
	"and reload realcomd.  Asks on a terminal; --yes goes ahead without one.\n";

/* The line at pos: its end, and whether it is blank or a comment. */
static size_t unmap_line(const struct conffile *f, size_t pos, size_t limit, bool *blank,
			 bool *comment)
{
	size_t eol = pos + strcspn(f->text + pos, "\n");
	const char *c = f->text + pos + strspn(f->text + pos, " \t\r");

	*blank = c >= f->text + eol;
	*comment = !*blank && (*c == ';' || *c == '#');
	return eol < limit ? eol + 1 : limit;
}

/*
 * Where section s's text ends for removal.  Comments right under its keys
 * are its own; a block of comments after a blank line with no key after it
 * leads into what follows (the next section's description) and stays.
 */
static size_t unmap_end(const struct conffile *f, const struct section *s)
{
	size_t pos = s->start, end = s->start;
	bool gap = false, blank, comment;

	while (pos < s->end) {
		size_t next = unmap_line(f, pos, s->end, &blank, &comment);

		if (comment && gap) {
			size_t p = next;
			bool key = false, b, c;

			while (p < s->end && !key) {
				size_t q = unmap_line(f, p, s->end, &b, &c);

				key = !b && !c;
				p = q;
			}
			if (!key)
				break;
		}
		gap = blank || (gap && comment);
		end = next;
		pos = next;
	}
	return end;
}

/* The sections an argument names: a tty, or every one of a host.  How many. */
static int unmap_match(struct conffile *f, const char *arg, bool drop[])
{
	char host[DSU_HOST_MAX], err[DSU_ERR_MAX];
	const char *t = strncmp(arg, "/dev/", 5) == 0 ? arg + 5 : arg;
	struct dsu_dev d;
	unsigned int tty;
	char end;
	int n = 0;

	if (sscanf(t, "ttyR%u%c", &tty, &end) == 1) {
		for (size_t i = 0; i < f->n; i++)
			if (f->sec[i].tty == tty) {
				drop[i] = true;
				n++;
			}
		return n;
	}
	if (dsu_dev_init(&d, arg, 1, err) < 0)
		return -1;
	dsu_conf_host(&d, host, sizeof(host));
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->sec[i].host, host) == 0) {
			drop[i] = true;
			n++;
		}
	return n;
}

/* The file without the dropped sections, checked by realcomd's parser, renamed. */
static int unmap_write(const char *config, const struct conffile *f, const bool drop[])
{
	char tmp[DSU_TMP_MAX];
	size_t pos = 0;
	FILE *out = conffile_create(config, f, tmp);

	if (!out)
		return 1;
	for (size_t i = 0; i < f->n; i++) {
		if (!drop[i])
			continue;
		fwrite(f->text + pos, 1, f->sec[i].start - pos, out);
		pos = unmap_end(f, &f->sec[i]);
	}
	fwrite(f->text + pos, 1, f->len - pos, out);
	return conffile_commit(config, out, tmp);
}

void dsu_conf_reload(const char *config)
{
	struct realcom_config *cfg = malloc(sizeof(*cfg));
	char err[CONF_ERR_MAX], path[256];
	json_object *o;

	dsu_control_path(cfg && config_load(config, cfg, err) == 0 ? cfg : NULL, path,
			 sizeof(path));
	free(cfg);
	o = ctlsock_ask(path, "{\"cmd\":\"reload\"}\n", err, sizeof(err));
	if (!o) {
		fprintf(stderr, "dsu: realcomd is not running (%s): %s is written, nothing "
			"reloaded\n", err, config);
		return;
	}
	if (!json_object_get_boolean(json_object_object_get(o, "ok")))
		fprintf(stderr, "dsu: realcomd reloaded with errors: %s\n", json_str(o, "error"));
	else
		fprintf(stderr, "dsu: realcomd reloaded\n");
	json_object_put(o);
}

int dsu_unmap(int argc, char **argv)
{
	enum { O_CONFIG = O_FIRST_OPT, O_YES };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, O_CONFIG },
		{ "yes", no_argument, NULL, O_YES },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = DSU_MAP_CONFIG;
	bool yes = false, drop[REALCOM_TTYS_MAX] = { false };
	char err[DSU_ERR_MAX], question[64];
	struct conffile f;
	size_t n = 0;
	int ch, r = 1;

	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (ch == O_CONFIG) {
			config = optarg;
		} else if (ch == O_YES) {
			yes = true;
		} else if (ch == 'h') {
			fputs(unmap_help, stdout);
			return 0;
		} else {
			return cli_option_error(ch, argv, longopts);
		}
	}
	if (optind == argc)
		return cli_usage_error("missing TTY or HOST");
	if (conffile_read(&f, config, err) < 0)
		return dsu_fail(NULL, "%s", err);
	for (int i = optind; i < argc; i++) {
		int m = unmap_match(&f, argv[i], drop);

		if (m < 0) {
			dsu_fail(NULL, "'%s': neither ttyR<N> nor a host", argv[i]);
			goto out;
		}
		if (m == 0) {
			dsu_fail(NULL, "nothing in %s maps %s", config, argv[i]);
			goto out;
		}
	}
	for (size_t i = 0; i < f.n; i++)
		n += drop[i];
	printf("Removing from %s:\n", config);
	for (size_t i = 0; i < f.n; i++)
		if (drop[i])
			lines_print("- ", f.text + f.sec[i].start,
				    unmap_end(&f, &f.sec[i]) - f.sec[i].start);
	snprintf(question, sizeof(question), "Remove %zu section%s?", n, n == 1 ? "" : "s");
	if (!yes && !dsu_confirm(question, n == 1 ? "remove it" : "remove them",
				   "nothing changed"))
		goto out;
	if (unmap_write(config, &f, drop))
		goto out;
	dsu_conf_reload(config);
	r = 0;
out:
	free(f.text);
	return r;
}

/* ---- dsu replace: sections moved to another unit ---- */

int dsu_conf_sections(const char *config, const char *host, unsigned int tty[],
		      unsigned int port[], size_t max)
{
	char err[DSU_ERR_MAX];
	struct conffile f;
	size_t n = 0;

	if (conffile_read(&f, config, err) < 0) {
		free(f.text);
		dsu_fail(NULL, "%s", err);
		return -1;
	}
	for (size_t i = 0; i < f.n && n < max; i++)
		if (strcmp(f.sec[i].host, host) == 0) {
			tty[n] = f.sec[i].tty;
			port[n++] = f.sec[i].port;
		}
	free(f.text);
	return (int)n;
}

/* Whether the line from pos is "name = ...". */
static bool move_key(const struct conffile *f, size_t pos, const char *name)
{
	const char *k = f->text + pos + strspn(f->text + pos, " \t");
	size_t n = strlen(name);

	return strncmp(k, name, n) == 0 && k[n + strspn(k + n, " \t")] == '=';
}

/* Section s with what changes for the unit d: host, TCP ports, MAC, pin, the dsu map
 * comment. */
static void move_section(FILE *out, const struct conffile *f, const struct section *s,
			 const char *host, const struct dsu_dev *d, json_object *dev,
			 const struct map_port *mp)
{
	static const char *const keys[] = { "data_port", "command_port", "tcp_port" };
	unsigned int value[] = { mp->data_port, mp->command_port, mp->tcp_port };
	bool realcom = strcmp(mp->protocol, "realcom") == 0, has[3] = { false }, has_mac = false;
	char fp[TLS_FP_STRLEN], mac[18];
	bool mac_ok = config_mac_parse(json_str(dev, F.mac), mac);

	for (size_t pos = s->start; pos < s->end; pos += strcspn(f->text + pos, "\n") + 1) {
		for (int k = 0; k < 3; k++)
			has[k] = has[k] || move_key(f, pos, keys[k]);
		has_mac = has_mac || move_key(f, pos, "mac");
	}
	tls_fingerprint_format(d->pin, fp);
	for (size_t pos = s->start; pos < s->end;) {
		size_t eol = pos + strcspn(f->text + pos, "\n");
		size_t next = eol < s->end ? eol + 1 : s->end;
		bool done = false;

		for (int k = 0; k < 3; k++)
			if (move_key(f, pos, keys[k])) {
				fprintf(out, "%s = %u\n", keys[k], value[k]);
				done = true;
			}
		if (move_key(f, pos, "host")) {
			fprintf(out, "host = %s\n", host);
			/* the ports realcomd would otherwise take by default */
			for (int k = 0; k < 3; k++)
				if (!has[k] && (realcom ? k < 2 : k == 2))
					fprintf(out, "%s = %u\n", keys[k], value[k]);
			/* the new unit itself, as dsu map records it */
			if (!has_mac && mac_ok)
				fprintf(out, "mac = %s\n", mac);
			done = true;
		} else if (move_key(f, pos, "mac")) {
			if (mac_ok)
				fprintf(out, "mac = %s\n", mac);
			done = true;
		} else if (move_key(f, pos, "tls_fingerprint")) {
			fprintf(out, "tls_fingerprint = %s\n", fp);
			done = true;
		} else if (strncmp(f->text + pos, MAP_COMMENT, strlen(MAP_COMMENT)) == 0) {
			map_comment(out, dev, mp->port);
			done = true;
		}
		if (!done)
			fwrite(f->text + pos, 1, next - pos, out);
		pos = next;
	}
}

int dsu_conf_move(const char *config, const char *old_host, const struct dsu_dev *d,
		  json_object *dev, json_object *ports)
{
	struct realcom_config *cfg = malloc(sizeof(*cfg));
	char host[DSU_HOST_MAX], err[CONF_ERR_MAX], tmp[DSU_TMP_MAX];
	struct map_port mp[REALCOM_TTYS_MAX];
	struct conffile f = { 0 };
	size_t pos = 0, n = 0;
	int r = 1;
	FILE *out;

	dsu_conf_host(d, host, sizeof(host));
	if (!cfg || conffile_read(&f, config, err) < 0 || config_load(config, cfg, err) < 0) {
		dsu_fail(NULL, "%s", cfg ? err : "out of memory");
		goto out;
	}
	for (size_t i = 0; i < f.n; i++) {
		const struct port_config *pc = &cfg->port[f.sec[i].tty];
		struct map_opts o = { .protocol = config_protocol_names[pc->protocol],
				      .tls = pc->tls != PORT_TLS_OFF,
				      .cert = pc->tls_cert[0] ? pc->tls_cert : NULL };
		json_object *p = NULL;

		if (strcmp(f.sec[i].host, old_host) != 0)
			continue;
		for (size_t j = 0; j < json_object_array_length(ports); j++)
			if (json_int(json_object_array_get_idx(ports, j), F.port, 0) == pc->dev_port)
				p = json_object_array_get_idx(ports, j);
		mp[n] = (struct map_port){ .port = pc->dev_port, .tty = f.sec[i].tty };
		if (!p) {
			dsu_fail(d->host, "no port %u for ttyR%u", pc->dev_port, f.sec[i].tty);
			goto out;
		}
		if (map_check_port(d, &o, p, &mp[n]))
			goto out;
		n++;
	}
	out = conffile_create(config, &f, tmp);
	if (!out)
		goto out;
	for (size_t i = 0, k = 0; i < f.n; i++) {
		if (strcmp(f.sec[i].host, old_host) != 0)
			continue;
		fwrite(f.text + pos, 1, f.sec[i].start - pos, out);
		move_section(out, &f, &f.sec[i], host, d, dev, &mp[k++]);
		pos = f.sec[i].end;
	}
	fwrite(f.text + pos, 1, f.len - pos, out);
	if (conffile_commit(config, out, tmp))
		goto out;
	for (size_t i = 0; i < n; i++)
		printf("ttyR%u\tport %u\t%s\n", mp[i].tty, mp[i].port, host);
	dsu_conf_reload(config);
	r = 0;
out:
	free(cfg);
	free(f.text);
	return r;
}
