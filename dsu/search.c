// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dsu search: browse DNS-SD through avahi-daemon (avahi-client on the one
 * loop, common/avahi_poll), resolve each instance, and list the Moxa units:
 * TXT vendor=Moxa, or a MAC in Moxa's 00:90:E8 block (from TXT, else from
 * the kernel's neighbour table).  Ends at --timeout or once avahi says it
 * has everything and every resolver has answered.
 */
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>

#include "avahi_poll.h"
#include "conf.h"
#include "cli.h"
#include "dsu.h"
#include "loop.h"

#define SEARCH_MAX	256	/* units listed at most */
#define SEARCH_ADDRS	8
#define SEARCH_TXT	64

struct unit {
	char name[AVAHI_LABEL_MAX];
	char ifname[IF_NAMESIZE];
	char model[SEARCH_TXT], mac[SEARCH_TXT], serial[SEARCH_TXT], fw[SEARCH_TXT];
	char state[SEARCH_TXT], api[SEARCH_TXT], vendor[SEARCH_TXT];
	char addr[SEARCH_ADDRS][AVAHI_ADDRESS_STR_MAX];	/* IPv4 first */
	unsigned int naddr;
	uint16_t port;
};

struct search {
	struct loop *loop;
	struct avahi_loop al;
	AvahiClient *client;
	struct loop_timer deadline, tick;
	unsigned int pending;		/* resolvers still out */
	bool all_for_now;
	bool progress;			/* stderr is a terminal */
	int error;
	char why[256];
	struct unit unit[SEARCH_MAX];
	size_t n;
};

static void search_done_maybe(struct search *s)
{
	if (s->all_for_now && s->pending == 0)
		loop_exit(s->loop, 0);
}

static void txt_get(AvahiStringList *txt, const char *key, char out[SEARCH_TXT])
{
	AvahiStringList *e = avahi_string_list_find(txt, key);
	char *k = NULL, *v = NULL;
	size_t len = 0;

	out[0] = '\0';
	if (!e || avahi_string_list_get_pair(e, &k, &v, &len) < 0)
		return;
	dsu_printable(out, SEARCH_TXT, v, len);
	avahi_free(k);
	avahi_free(v);
}

/* The MAC of an IPv4 neighbour, from /proc/net/arp; "" when unknown. */
static void neighbour_mac(const char *addr, char out[SEARCH_TXT])
{
	char line[256], ip[64], hw[64];
	FILE *f = fopen("/proc/net/arp", "re");

	out[0] = '\0';
	for (int n = 0; f && n < 4096 && fgets(line, sizeof(line), f); n++) {
		if (sscanf(line, "%63s %*s %*s %63s", ip, hw) == 2 && strcmp(ip, addr) == 0) {
			snprintf(out, SEARCH_TXT, "%s", hw);
			break;
		}
	}
	if (f)
		fclose(f);
}

static bool is_moxa(const struct unit *u)
{
	return strcasecmp(u->vendor, "Moxa") == 0 ||
	       strncasecmp(u->mac, dsu_moxa_oui, strlen(dsu_moxa_oui)) == 0;
}

static struct unit *unit_slot(struct search *s, const char *name)
{
	char shown[sizeof(s->unit[0].name)];

	dsu_printable(shown, sizeof(shown), name, strlen(name));
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->unit[i].name, shown) == 0)
			return &s->unit[i];
	if (s->n == SEARCH_MAX)
		return NULL;
	memset(&s->unit[s->n], 0, sizeof(s->unit[0]));
	memcpy(s->unit[s->n].name, shown, sizeof(shown));
	return &s->unit[s->n++];
}

/* Note an address of u once; IPv4 ones go before IPv6 ones. */
static void unit_add_addr(struct unit *u, const AvahiAddress *a)
{
	char addr[sizeof(u->addr[0])];
	unsigned int at = u->naddr;

	avahi_address_snprint(addr, sizeof(addr), a);
	for (unsigned int i = 0; i < u->naddr; i++)
		if (strcmp(u->addr[i], addr) == 0)
			return;
	if (u->naddr == SEARCH_ADDRS)
		return;
	if (a->proto == AVAHI_PROTO_INET)
		for (at = 0; at < u->naddr && !strchr(u->addr[at], ':'); at++)
			;
	memmove(u->addr[at + 1], u->addr[at], (u->naddr - at) * sizeof(u->addr[0]));
	memcpy(u->addr[at], addr, sizeof(addr));
	u->naddr++;
}

static void resolved(AvahiServiceResolver *r, AvahiIfIndex iface, AvahiProtocol proto,
		     AvahiResolverEvent ev, const char *name, const char *type, const char *domain,
		     const char *host, const AvahiAddress *a, uint16_t port, AvahiStringList *txt,
		     AvahiLookupResultFlags flags, void *arg)
{
	struct search *s = arg;
	char addr[AVAHI_ADDRESS_STR_MAX];
	struct unit *u;

	if (ev == AVAHI_RESOLVER_FOUND && (u = unit_slot(s, name))) {
		unit_add_addr(u, a);
		u->port = port;
		if (!if_indextoname((unsigned int)iface, u->ifname))
			u->ifname[0] = '\0';
		txt_get(txt, F.txt_vendor, u->vendor);
		txt_get(txt, F.txt_model, u->model);
		txt_get(txt, F.txt_serial, u->serial);
		txt_get(txt, F.txt_fw, u->fw);
		txt_get(txt, F.txt_state, u->state);
		txt_get(txt, F.txt_api, u->api);
		txt_get(txt, F.txt_mac, u->mac);
		if (!u->mac[0] && a->proto == AVAHI_PROTO_INET) {
			avahi_address_snprint(addr, sizeof(addr), a);
			neighbour_mac(addr, u->mac);
		}
	}
	avahi_service_resolver_free(r);
	s->pending--;
	search_done_maybe(s);
}

static void browsed(AvahiServiceBrowser *b, AvahiIfIndex iface, AvahiProtocol proto,
		    AvahiBrowserEvent ev, const char *name, const char *type, const char *domain,
		    AvahiLookupResultFlags flags, void *arg)
{
	struct search *s = arg;

	switch (ev) {
	case AVAHI_BROWSER_NEW:
		/* Found over IPv4, resolved to its IPv4 address (and IPv6 alike):
		 * avahi publishes AAAA records over IPv4 too, and asked for any
		 * family it once answered with only an IPv6 link-local one. */
		if (avahi_service_resolver_new(s->client, iface, proto, name, type, domain,
					       proto, 0, resolved, s))
			s->pending++;
		break;
	case AVAHI_BROWSER_ALL_FOR_NOW:
		s->all_for_now = true;
		search_done_maybe(s);
		break;
	case AVAHI_BROWSER_FAILURE:
		s->error = avahi_client_errno(s->client);
		snprintf(s->why, sizeof(s->why), "browsing failed: %s", avahi_strerror(s->error));
		loop_exit(s->loop, 1);
		break;
	default:
		break;
	}
}

static void client_state(AvahiClient *c, AvahiClientState state, void *arg)
{
	struct search *s = arg;

	if (state == AVAHI_CLIENT_FAILURE) {
		s->error = avahi_client_errno(c);
		snprintf(s->why, sizeof(s->why), "avahi-daemon: %s", avahi_strerror(s->error));
		loop_exit(s->loop, 1);
	}
}

static void search_deadline(struct loop_timer *t)
{
	loop_exit(((struct search *)t->arg)->loop, 0);
}

static void search_tick(struct loop_timer *t)
{
	struct search *s = t->arg;
	size_t found = 0;

	for (size_t i = 0; i < s->n; i++)
		found += is_moxa(&s->unit[i]);
	fprintf(stderr, "\rdsu: searching %s... %zu found", dsu_service_type, found);
}

static int cmp_unit(const void *a, const void *b)
{
	return strcmp(((const struct unit *)a)->name, ((const struct unit *)b)->name);
}


static void print_json(struct search *s)
{
	json_object *all = json_object_new_array();

	for (size_t i = 0; i < s->n; i++) {
		const struct unit *u = &s->unit[i];
		json_object *o, *addrs;

		if (!is_moxa(u))
			continue;
		o = json_object_new_object();
		addrs = json_object_new_array();
		for (unsigned int j = 0; j < u->naddr; j++)
			json_object_array_add(addrs, json_object_new_string(u->addr[j]));
		json_object_object_add(o, "name", json_object_new_string(u->name));
		json_object_object_add(o, "model", json_object_new_string(u->model));
		json_object_object_add(o, "mac", json_object_new_string(u->mac));
		json_object_object_add(o, "serial", json_object_new_string(u->serial));
		json_object_object_add(o, "addresses", addrs);
		json_object_object_add(o, "port", json_object_new_int(u->port));
		json_object_object_add(o, "firmware", json_object_new_string(u->fw));
		json_object_object_add(o, "state", json_object_new_string(u->state));
		json_object_object_add(o, "api", json_object_new_string(u->api));
		json_object_object_add(o, "interface", json_object_new_string(u->ifname));
		json_object_array_add(all, o);
	}
	puts(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY |
						 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(all);
}

static void print_table(struct search *s)
{
	printf("%-28s %-16s %-17s %-24s %-8s %s\n", "NAME", "MODEL", "MAC", "ADDRESSES", "FIRMWARE",
	       "STATE");
	for (size_t i = 0; i < s->n; i++) {
		const struct unit *u = &s->unit[i];
		char addrs[SEARCH_ADDRS * (AVAHI_ADDRESS_STR_MAX + 1)] = "";

		if (!is_moxa(u))
			continue;
		for (unsigned int j = 0; j < u->naddr; j++)
			snprintf(addrs + strlen(addrs), sizeof(addrs) - strlen(addrs), "%s%s",
				 j ? "," : "", u->addr[j]);
		printf("%-28s %-16s %-17s %-24s %-8s %s\n", u->name, u->model[0] ? u->model : "-",
		       u->mac[0] ? u->mac : "-", addrs[0] ? addrs : "-", u->fw[0] ? u->fw : "-",
		       u->state[0] ? u->state : "-");
	}
}

int dsu_search(int argc, char **argv)
{
	static const char help[] = "Usage: dsu search [--timeout SEC] [--interface IF] "
				   "[--service-type TYPE] [--json]\n";
	enum { O_IF = O_FIRST_OPT, O_TYPE };
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "interface", required_argument, NULL, O_IF },
		{ "service-type", required_argument, NULL, O_TYPE },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dsu_common c = { .timeout = 3 };
	const char *type = dsu_service_type;
	AvahiIfIndex iface = AVAHI_IF_UNSPEC;
	AvahiServiceBrowser *b = NULL;
	struct search *s;
	int ch, err = 0, r = 1;

	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case O_IF:
			iface = (AvahiIfIndex)if_nametoindex(optarg);
			if (!iface)
				return cli_usage_error("--interface %s: no such interface", optarg);
			break;
		case O_TYPE:
			if (strncmp(optarg, "_", 1) || !strstr(optarg, "._tcp") ||
			    strlen(optarg) > 64)
				return cli_usage_error("--service-type '%s': expected _NAME._tcp",
						       optarg);
			type = optarg;
			break;
		case '?':
		case ':':
			return cli_option_error(ch, argv, longopts);
		default:
			dsu_common_opt(&c, ch, help);
		}
	}
	if (optind != argc)
		return cli_unexpected_argument(argv[optind]);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->loop = loop_new())) {
		free(s);
		return dsu_fail(NULL, "out of memory");
	}
	s->progress = isatty(STDERR_FILENO);
	avahi_loop_init(&s->al, s->loop);
	loop_timer_init(s->loop, &s->deadline, search_deadline, s);
	loop_timer_init(s->loop, &s->tick, search_tick, s);
	s->client = avahi_client_new(&s->al.api, 0, client_state, s, &err);
	if (!s->client) {
		dsu_fail(NULL, "cannot reach avahi-daemon (%s): dsu search browses mDNS through it; "
			 "start it with  systemctl start avahi-daemon", avahi_strerror(err));
		goto out;
	}
	b = avahi_service_browser_new(s->client, iface, AVAHI_PROTO_UNSPEC, type, NULL, 0,
				      browsed, s);
	if (!b) {
		dsu_fail(NULL, "cannot browse %s: %s", type,
			 avahi_strerror(avahi_client_errno(s->client)));
		goto out;
	}
	loop_timer_arm(&s->deadline, (uint64_t)c.timeout * 1000, 0);
	if (s->progress)
		loop_timer_arm(&s->tick, 0, 250);
	r = loop_run(s->loop);
	if (s->progress)
		fputs("\r\033[K", stderr);
	if (r != 0) {
		dsu_fail(NULL, "%s", s->why[0] ? s->why : "the search failed");
		r = 1;
		goto out;
	}
	qsort(s->unit, s->n, sizeof(s->unit[0]), cmp_unit);
	if (c.json)
		print_json(s);
	else
		print_table(s);
out:
	if (b)
		avahi_service_browser_free(b);
	if (s->client)
		avahi_client_free(s->client);
	loop_timer_free(&s->deadline);
	loop_timer_free(&s->tick);
	loop_free(s->loop);
	free(s);
	return r;
}
