// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The unit's mDNS / DNS-SD announcement through avahi-daemon: the service
 * type and TXT record of sim_rest.c on the HTTPS port, the TXT record updated
 * when the state changes.  Without a reachable daemon nportsim warns once and
 * announces when one appears.  Runs on the loop through common/avahi_poll.
 */
#include <stdlib.h>
#include <string.h>

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>

#include "avahi_poll.h"
#include "log.h"
#include "sim.h"

#define MDNS_RETRY_MS	5000	/* when even the bus is missing */
#define MDNS_TXT_MAX	12

struct sim_mdns {
	struct sim *s;
	struct avahi_loop al;
	AvahiClient *client;
	AvahiEntryGroup *group;
	struct loop_timer retry;
	char *name;			/* avahi_malloc'd: collisions rename */
	bool warned;
};

static void mdns_client_cb(AvahiClient *c, AvahiClientState state, void *arg);

static AvahiStringList *mdns_txt(const struct sim *s)
{
	char txt[MDNS_TXT_MAX][80];
	const char *v[MDNS_TXT_MAX];
	unsigned int n = sim_rest_txt(s, txt, MDNS_TXT_MAX);

	for (unsigned int i = 0; i < n; i++)
		v[i] = txt[i];
	return avahi_string_list_new_from_array(v, (int)n);
}

static void mdns_warn_once(struct sim_mdns *md, const char *what, int err)
{
	if (md->warned)
		return;
	md->warned = true;
	log_warnx("mdns: %s: %s; announcing when avahi-daemon appears", what, avahi_strerror(err));
}

static void mdns_publish(struct sim_mdns *md, AvahiClient *c);

static void mdns_group_cb(AvahiEntryGroup *g, AvahiEntryGroupState state, void *arg)
{
	struct sim_mdns *md = arg;
	char *alt;

	switch (state) {
	case AVAHI_ENTRY_GROUP_ESTABLISHED:
		log_info("mdns: announced \"%s\" %s port %u", md->name, sim_mdns_service_type,
			 md->s->opt.https_port);
		break;
	case AVAHI_ENTRY_GROUP_COLLISION:
		alt = avahi_alternative_service_name(md->name);
		log_warnx("mdns: the name \"%s\" is taken; trying \"%s\"", md->name, alt);
		avahi_free(md->name);
		md->name = alt;
		avahi_entry_group_reset(g);
		mdns_publish(md, avahi_entry_group_get_client(g));
		break;
	case AVAHI_ENTRY_GROUP_FAILURE:
		log_warnx("mdns: announcement failed: %s",
			  avahi_strerror(avahi_client_errno(avahi_entry_group_get_client(g))));
		break;
	default:
		break;
	}
}

static void mdns_publish(struct sim_mdns *md, AvahiClient *c)
{
	AvahiStringList *txt;
	int r;

	if (!md->group) {
		md->group = avahi_entry_group_new(c, mdns_group_cb, md);
		if (!md->group) {
			log_warnx("mdns: %s", avahi_strerror(avahi_client_errno(c)));
			return;
		}
	}
	if (!avahi_entry_group_is_empty(md->group))
		return;
	txt = mdns_txt(md->s);
	r = avahi_entry_group_add_service_strlst(md->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0,
						 md->name, sim_mdns_service_type, NULL, NULL,
						 (uint16_t)md->s->opt.https_port, txt);
	avahi_string_list_free(txt);
	if (r == AVAHI_ERR_COLLISION) {
		mdns_group_cb(md->group, AVAHI_ENTRY_GROUP_COLLISION, md);
		return;
	}
	if (r < 0 || (r = avahi_entry_group_commit(md->group)) < 0)
		log_warnx("mdns: cannot announce \"%s\": %s", md->name, avahi_strerror(r));
}

static void mdns_connect(struct sim_mdns *md)
{
	int err = 0;

	md->client = avahi_client_new(&md->al.api, AVAHI_CLIENT_NO_FAIL, mdns_client_cb, md, &err);
	if (!md->client) {
		mdns_warn_once(md, "no D-Bus system bus", err);
		loop_timer_arm(&md->retry, MDNS_RETRY_MS, 0);
	}
}

static void mdns_retry(struct loop_timer *t)
{
	mdns_connect(t->arg);
}

static void mdns_client_cb(AvahiClient *c, AvahiClientState state, void *arg)
{
	struct sim_mdns *md = arg;

	switch (state) {
	case AVAHI_CLIENT_S_RUNNING:
		if (md->warned)
			log_info("mdns: avahi-daemon is there now");
		md->warned = false;
		mdns_publish(md, c);
		break;
	case AVAHI_CLIENT_S_COLLISION:
	case AVAHI_CLIENT_S_REGISTERING:
		if (md->group)
			avahi_entry_group_reset(md->group);
		break;
	case AVAHI_CLIENT_CONNECTING:
		mdns_warn_once(md, "avahi-daemon not reachable", AVAHI_ERR_NO_DAEMON);
		break;
	case AVAHI_CLIENT_FAILURE:
		/* The daemon went away: start over, waiting for it to come back.
		 * Freeing the client frees its groups. */
		mdns_warn_once(md, "avahi-daemon lost", avahi_client_errno(c));
		md->group = NULL;
		avahi_client_free(c);
		md->client = NULL;
		loop_timer_arm(&md->retry, 0, 0);
		break;
	}
}

void sim_mdns_update(struct sim *s)
{
	struct sim_mdns *md = s->mgmt.mdns;
	AvahiStringList *txt;
	int r;

	if (!md || !md->group || avahi_entry_group_is_empty(md->group))
		return;
	txt = mdns_txt(s);
	r = avahi_entry_group_update_service_txt_strlst(md->group, AVAHI_IF_UNSPEC,
							AVAHI_PROTO_UNSPEC, 0, md->name,
							sim_mdns_service_type, NULL, txt);
	avahi_string_list_free(txt);
	if (r < 0)
		log_warnx("mdns: cannot update the TXT record: %s", avahi_strerror(r));
	else
		log_info("mdns: state=%s", sim_rest_state(s));
}

int sim_mdns_open(struct sim *s)
{
	struct sim_mdns *md = calloc(1, sizeof(*md));

	if (!md)
		return -1;
	md->s = s;
	md->name = avahi_strdup(s->mgmt.name);
	avahi_loop_init(&md->al, s->loop);
	if (!md->name || loop_timer_init(s->loop, &md->retry, mdns_retry, md) < 0) {
		avahi_free(md->name);
		free(md);
		return -1;
	}
	s->mgmt.mdns = md;
	mdns_connect(md);
	return 0;
}

void sim_mdns_close(struct sim *s)
{
	struct sim_mdns *md = s->mgmt.mdns;

	if (!md)
		return;
	if (md->client)
		avahi_client_free(md->client);
	loop_timer_free(&md->retry);
	avahi_free(md->name);
	free(md);
	s->mgmt.mdns = NULL;
}
