/* SPDX-License-Identifier: MIT */
/*
 * Nic tags and etherstubs, as SmartOS keeps them in the node config:
 * <tag>_nic=MAC names a network reachable through the NIC with that MAC,
 * <tag>_mtu=N its MTU, and etherstub=a,b the networks that live only on
 * this host. A tag's NIC is found by its MAC among this host's links, every
 * time: device names change across boots, MACs do not. Nothing here picks a
 * NIC by itself, and nothing here changes a link: switches are net-vm.c's.
 * Changes to the config are one atomic write each, under the config lock,
 * checked against the file as it is once the lock is held.
 */
#include <ctype.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/config.h"
#include "basic/parse.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "net/net-internal.h"
#include "net/net-link.h"
#include "net/net.h"

#define TAG_NAME_MAX 31

void
hv_net_tag_done(struct hv_net_tag *t)
{
	if (!t)
		return;
	free(t->name);
	free(t->mac);
	free(t->link);
	*t = (struct hv_net_tag){0};
}

void
hv_net_tags_free(struct hv_net_tag *t, size_t n)
{
	for (size_t i = 0; t && i < n; i++)
		hv_net_tag_done(&t[i]);
	free(t);
}

void
hv_net_tag_mtu_range(const struct hv_net_tag *t, unsigned *ret_min, unsigned *ret_max)
{
	*ret_min = t->etherstub ? HV_NET_MTU_MIN_STUB : HV_NET_MTU_MIN_PHYS;
	*ret_max = HV_NET_MTU_MAX;
}

/* SmartOS's rule: letters, digits and '_', starting with a letter, at most 31. */
static bool
tag_name_is_valid(const char *name)
{
	size_t l = name ? strlen(name) : 0;

	if (l == 0 || l > TAG_NAME_MAX || !isalpha((unsigned char)name[0]))
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return false;
	return true;
}

static int
check_name(const char *name, struct hv_error **reterr)
{
	if (!tag_name_is_valid(name))
		return hv_error_set(reterr, -EINVAL,
		                    "nic tag name '%s': expected a letter, then letters, digits "
		                    "or '_', at most %d characters",
		                    strempty(name), TAG_NAME_MAX);
	return 0;
}

/* The etherstub list, each name checked. */
static int
etherstubs(const struct hv_config *c, char ***ret, struct hv_error **reterr)
{
	const char *v = hv_config_get(c, "etherstub");
	_cleanup_strv_free_ char **l = NULL;
	int r;

	*ret = NULL;
	if (isempty(v))
		return 0;
	r = strv_split(v, ',', &l);
	if (r < 0)
		return r;
	STRV_FOREACH (s, l)
		if (!tag_name_is_valid(*s))
			return hv_error_set(reterr, -EINVAL,
			                    "%s: etherstub '%s': expected names of letters, digits "
			                    "and '_', separated by ','",
			                    c->source, v);
	*ret = TAKE_PTR(l);
	return 0;
}

static int
tag_mtu(const struct hv_config *c, const char *name, bool etherstub, unsigned *ret,
        struct hv_error **reterr)
{
	_cleanup_free_ char *key = NULL;
	const char *v;
	unsigned lo = etherstub ? HV_NET_MTU_MIN_STUB : HV_NET_MTU_MIN_PHYS, m = 0;

	*ret = 0;
	if (asprintf(&key, "%s_mtu", name) < 0)
		return -ENOMEM;
	v = hv_config_get(c, key);
	if (!v)
		return 0;
	for (const char *p = v; *p; p++) {
		if (!isdigit((unsigned char)*p) || m > HV_NET_MTU_MAX) {
			m = 0;
			break;
		}
		m = m * 10 + (unsigned)(*p - '0');
	}
	if (m < lo || m > HV_NET_MTU_MAX)
		return hv_error_set(reterr, -EINVAL, "%s: %s '%s': expected %u to %u", c->source,
		                    key, v, lo, HV_NET_MTU_MAX);
	*ret = m;
	return 0;
}

/* The tag name of a "<tag>_nic" key, or NULL. */
static char *
nic_key_tag(const char *key)
{
	size_t l = strlen(key);

	if (l <= 4 || !streq(key + l - 4, "_nic"))
		return NULL;
	return strndup(key, l - 4);
}

static int
cmp_tag(const void *a, const void *b)
{
	const struct hv_net_tag *x = a, *y = b;

	if (x->etherstub != y->etherstub)
		return x->etherstub ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* Every tag and etherstub of c, without links. */
static int
tags_from_config(const struct hv_config *c, struct hv_net_tag **ret, size_t *ret_n,
                 struct hv_error **reterr)
{
	_cleanup_strv_free_ char **stubs = NULL;
	struct hv_net_tag *t = NULL;
	size_t n = 0;
	int r;

	r = etherstubs(c, &stubs, reterr);
	if (r < 0)
		return r;
	t = calloc(c->n_entries + strv_length(stubs) + 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_entries; i++) {
		_cleanup_free_ char *name = nic_key_tag(c->entries[i].key);
		char mac[18];

		if (!name)
			continue;
		if (mac_normalize(c->entries[i].value, mac) < 0) {
			r = hv_error_set(reterr, -EINVAL,
			                 "%s:%u: %s '%s': expected a MAC address such as "
			                 "aa:bb:cc:dd:ee:ff (aggregations are not supported)",
			                 c->source, c->entries[i].line, c->entries[i].key,
			                 c->entries[i].value);
			goto fail;
		}
		if (!tag_name_is_valid(name))
			continue; /* not a tag SmartOS would make: not ours to judge */
		t[n].name = TAKE_PTR(name);
		n++;
		if (!(t[n - 1].mac = strdup(mac))) {
			r = -ENOMEM;
			goto fail;
		}
		r = tag_mtu(c, t[n - 1].name, false, &t[n - 1].mtu, reterr);
		if (r < 0)
			goto fail;
	}
	STRV_FOREACH (s, stubs) {
		bool dup = false;

		for (size_t i = 0; i < n; i++)
			if (streq(t[i].name, *s))
				dup = true;
		if (dup) {
			r = hv_error_set(reterr, -EINVAL,
			                 "%s: '%s' is both a nic tag and an etherstub (or listed "
			                 "twice)",
			                 c->source, *s);
			goto fail;
		}
		if (!(t[n].name = strdup(*s))) {
			r = -ENOMEM;
			goto fail;
		}
		t[n].etherstub = true;
		n++;
		r = tag_mtu(c, *s, true, &t[n - 1].mtu, reterr);
		if (r < 0)
			goto fail;
	}
	qsort(t, n, sizeof(*t), cmp_tag);
	*ret = t;
	*ret_n = n;
	return 0;
fail:
	hv_net_tags_free(t, n);
	return r;
}

/*
 * The link that carries mac: not a bridge and not Sable's own (every
 * Sable link has an alias "sable …"); a link without a kind (hardware)
 * first. NULL when none.
 */
static const struct net_link_info *
uplink_by_mac(const struct net_link_info *l, size_t n, const char *mac)
{
	const struct net_link_info *best = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!streq(l[i].mac, mac) || (l[i].kind && streq(l[i].kind, "bridge")) ||
		    (l[i].alias && startswith(l[i].alias, "sable ")))
			continue;
		if (!best || (best->kind && !l[i].kind))
			best = &l[i];
	}
	return best;
}

static int
resolve_links(struct hv_net_tag *t, size_t n)
{
	_cleanup_nl_ struct nl_sock *s = NULL;
	struct net_link_info *l = NULL;
	size_t nl = 0;
	int r;

	for (size_t i = 0; i < n && !s; i++)
		if (!t[i].etherstub && (r = net_nl_open(-1, &s)) < 0)
			return r;
	if (!s)
		return 0;
	r = net_links_list(s, &l, &nl);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct net_link_info *u =
		        t[i].etherstub ? NULL : uplink_by_mac(l, nl, t[i].mac);

		if (u && !(t[i].link = strdup(u->name))) {
			r = -ENOMEM;
			break;
		}
	}
	net_link_infos_free(l, nl);
	return r < 0 ? r : 0;
}

int
hv_net_tags_list(struct hv_net_tag **ret, size_t *ret_n, struct hv_error **reterr)
{
	_cleanup_hv_config_ struct hv_config *c = NULL;
	struct hv_net_tag *t = NULL;
	size_t n = 0;
	int r;

	r = hv_node_config_load(&c, reterr);
	if (r < 0)
		return r;
	r = tags_from_config(c, &t, &n, reterr);
	if (r < 0)
		return r;
	r = resolve_links(t, n);
	if (r < 0) {
		hv_net_tags_free(t, n);
		return hv_error_set(reterr, r, "cannot list this host's links: %m");
	}
	*ret = t;
	*ret_n = n;
	return 0;
}

/* name's entry of c, without its link; -ENOENT when there is none. */
static int
tag_find(const struct hv_config *c, const char *name, struct hv_net_tag *ret,
         struct hv_error **reterr)
{
	struct hv_net_tag *t = NULL;
	size_t n = 0;
	int r;

	r = tags_from_config(c, &t, &n, reterr);
	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < n; i++)
		if (streq(t[i].name, name)) {
			*ret = t[i];
			t[i] = (struct hv_net_tag){0};
			r = 0;
		}
	hv_net_tags_free(t, n);
	return r;
}

int
hv_net_tag_get(const char *name, struct hv_net_tag *ret, struct hv_error **reterr)
{
	_cleanup_hv_config_ struct hv_config *c = NULL;
	_cleanup_(hv_net_tag_done) struct hv_net_tag t = {0};
	int r;

	r = hv_node_config_load(&c, reterr);
	if (r < 0)
		return r;
	r = tag_find(c, strempty(name), &t, reterr);
	if (r == -ENOENT)
		return hv_error_set(reterr, r, "Invalid nic tag \"%s\"", strempty(name));
	if (r < 0)
		return r;
	r = resolve_links(&t, 1);
	if (r < 0)
		return hv_error_set(reterr, r, "nic tag \"%s\": cannot list this host's links: %m",
		                    name);
	if (!t.etherstub && !t.link)
		return hv_error_set(reterr, -ENODEV,
		                    "nic tag \"%s\": its NIC %s is not on this host (%s_nic in the "
		                    "node config)",
		                    name, t.mac, name);
	*ret = t;
	t = (struct hv_net_tag){0};
	return 0;
}

/* What nictagadm asks for, checked against the config under its lock. */
struct tag_edit {
	enum { EDIT_ADD, EDIT_UPDATE, EDIT_DELETE } op;
	const char *name;
	const char *mac; /* normalized */
	bool etherstub;
	unsigned mtu;
};

static int
change(struct hv_config_change *ch, size_t *n, const char *name, const char *suffix,
       const char *value)
{
	if (asprintf(&ch[*n].key, "%s%s", name, suffix) < 0)
		return -ENOMEM;
	(*n)++;
	if (value && !(ch[*n - 1].value = strdup(value)))
		return -ENOMEM;
	return 0;
}

/* The etherstub list with name added (add) or removed; NULL when it is left empty. */
static int
stub_list(const struct hv_config *c, const char *name, bool add, char **ret,
          struct hv_error **reterr)
{
	_cleanup_strv_free_ char **l = NULL, **out = NULL;
	int r;

	r = etherstubs(c, &l, reterr);
	if (r < 0)
		return r;
	STRV_FOREACH (s, l)
		if (!streq(*s, name) && (r = strv_push(&out, *s)) < 0)
			return r;
	if (add && (r = strv_push(&out, name)) < 0)
		return r;
	*ret = NULL;
	if (strv_length(out) == 0)
		return 0;
	*ret = strv_join(out, ",");
	return *ret ? 0 : -ENOMEM;
}

static int check_mtu(const char *name, bool etherstub, unsigned mtu, struct hv_error **reterr);

static int
edit_tags(const struct hv_config *c, void *userdata, struct hv_config_change **ret_changes,
          size_t *ret_n, struct hv_error **reterr)
{
	const struct tag_edit *e = userdata;
	_cleanup_(hv_net_tag_done) struct hv_net_tag t = {0};
	struct hv_config_change *ch = calloc(4, sizeof(*ch));
	_cleanup_free_ char *stubs = NULL;
	char mtu[16];
	size_t n = 0;
	int r;

	if (!ch)
		return -ENOMEM;
	r = tag_find(c, e->name, &t, reterr);
	if (r < 0 && r != -ENOENT)
		goto fail;
	if (e->op == EDIT_ADD && r == 0) {
		r = hv_error_set(reterr, -EEXIST, "nic tag \"%s\" already exists%s", e->name,
		                 t.etherstub ? " (an etherstub)" : "");
		goto fail;
	}
	if (e->op != EDIT_ADD && r == -ENOENT) {
		r = hv_error_set(reterr, r, "Invalid nic tag \"%s\"", e->name);
		goto fail;
	}
	if (e->op == EDIT_UPDATE && t.etherstub && e->mac) {
		r = hv_error_set(reterr, -EINVAL, "nic tag \"%s\" is an etherstub: it has no MAC",
		                 e->name);
		goto fail;
	}
	if (e->op == EDIT_UPDATE && e->mtu) {
		r = check_mtu(e->name, t.etherstub, e->mtu, reterr);
		if (r < 0)
			goto fail;
	}
	snprintf(mtu, sizeof(mtu), "%u", e->mtu);
	switch (e->op) {
	case EDIT_ADD:
		if (e->etherstub) {
			r = stub_list(c, e->name, true, &stubs, reterr);
			if (r >= 0)
				r = change(ch, &n, "etherstub", "", stubs);
		} else
			r = change(ch, &n, e->name, "_nic", e->mac);
		if (r >= 0 && e->mtu)
			r = change(ch, &n, e->name, "_mtu", mtu);
		break;
	case EDIT_UPDATE:
		r = 0;
		if (e->mac)
			r = change(ch, &n, e->name, "_nic", e->mac);
		if (r >= 0 && e->mtu)
			r = change(ch, &n, e->name, "_mtu", mtu);
		break;
	case EDIT_DELETE:
		if (t.etherstub) {
			r = stub_list(c, e->name, false, &stubs, reterr);
			if (r >= 0)
				r = change(ch, &n, "etherstub", "", stubs);
		} else
			r = change(ch, &n, e->name, "_nic", NULL);
		if (r >= 0)
			r = change(ch, &n, e->name, "_mtu", NULL);
		break;
	}
	if (r < 0)
		goto fail;
	*ret_changes = ch;
	*ret_n = n;
	return 0;
fail:
	hv_config_changes_free(ch, n);
	return r;
}

static int
edit(const struct tag_edit *e, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL;
	int r;

	r = hv_root_path(HV_CONFIG_FILE, &path);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot find the node config: %m");
	return hv_config_edit(path, edit_tags, (void *)e, reterr);
}

static int
check_mtu(const char *name, bool etherstub, unsigned mtu, struct hv_error **reterr)
{
	unsigned lo = etherstub ? HV_NET_MTU_MIN_STUB : HV_NET_MTU_MIN_PHYS;

	if (mtu && (mtu < lo || mtu > HV_NET_MTU_MAX))
		return hv_error_set(reterr, -EINVAL, "nic tag \"%s\": mtu %u: expected %u to %u",
		                    name, mtu, lo, HV_NET_MTU_MAX);
	return 0;
}

/* Carry out e (add or update) with mac, when given, normalized as its MAC. */
static int
edit_with_mac(struct tag_edit *e, const char *mac, struct hv_error **reterr)
{
	char m[18];

	if (mac) {
		if (mac_normalize(mac, m) < 0)
			return hv_error_set(reterr, -EINVAL,
			                    "nic tag \"%s\": MAC '%s': expected six hex octets "
			                    "such as aa:bb:cc:dd:ee:ff",
			                    e->name, mac);
		e->mac = m;
	}
	return edit(e, reterr);
}

int
hv_net_tag_add(const char *name, const char *mac, bool etherstub, unsigned mtu,
               struct hv_error **reterr)
{
	struct tag_edit e = {.op = EDIT_ADD, .name = name, .etherstub = etherstub, .mtu = mtu};
	int r;

	if ((r = check_name(name, reterr)) < 0 || (r = check_mtu(name, etherstub, mtu, reterr)) < 0)
		return r;
	if (etherstub && mac)
		return hv_error_set(reterr, -EINVAL, "etherstub \"%s\": an etherstub has no MAC",
		                    name);
	if (!etherstub && !mac)
		return hv_error_set(reterr, -EINVAL, "nic tag \"%s\": a MAC address is needed",
		                    name);
	return edit_with_mac(&e, mac, reterr);
}

int
hv_net_tag_update(const char *name, const char *mac, unsigned mtu, struct hv_error **reterr)
{
	struct tag_edit e = {.op = EDIT_UPDATE, .name = name, .mtu = mtu};
	int r;

	if ((r = check_name(name, reterr)) < 0)
		return r;
	return edit_with_mac(&e, mac, reterr);
}

int
hv_net_tag_delete(const char *name, struct hv_error **reterr)
{
	struct tag_edit e = {.op = EDIT_DELETE, .name = name};
	int r;

	if ((r = check_name(name, reterr)) < 0)
		return r;
	r = edit(&e, reterr);
	if (r < 0)
		return r;
	/* Its switch goes with it once no VM uses it (else reconcile removes it later). */
	(void)net_switch_remove_unused(name, NULL);
	return 0;
}

int
hv_net_vlan_supported(struct hv_error **reterr)
{
	static int cached = 1; /* 1: not yet known */
	_cleanup_nl_ struct nl_sock *s = NULL;
	struct nl_msg *m = NULL;
	struct nlattr *info, *data;
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
	int r;

	if (cached == 1) {
		/* Make a bridge with VLAN filtering in a private, empty namespace: it goes with the
		 * socket. */
		r = net_nl_open(NET_NETNS_NEW, &s);
		if (r < 0)
			return hv_error_set(reterr, r,
			                    "cannot probe for bridge VLAN filtering: %m");
		m = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
		if (!m)
			return -ENOMEM;
		if (nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
		    nla_put_string(m, IFLA_IFNAME, "probe0") < 0 ||
		    !(info = nla_nest_start(m, IFLA_LINKINFO)) ||
		    nla_put_string(m, IFLA_INFO_KIND, "bridge") < 0 ||
		    !(data = nla_nest_start(m, IFLA_INFO_DATA)) ||
		    nla_put_u8(m, IFLA_BR_VLAN_FILTERING, 1) < 0) {
			nlmsg_free(m);
			return -ENOMEM;
		}
		nla_nest_end(m, data);
		nla_nest_end(m, info);
		r = nl_send_sync(s, m); /* frees m */
		cached = r < 0 ? net_nl_errno(r) : 0;
	}
	if (cached == -EOPNOTSUPP || cached == -EINVAL)
		return hv_error_set(reterr, -EOPNOTSUPP,
		                    "this kernel has no bridge VLAN filtering "
		                    "(CONFIG_BRIDGE_VLAN_FILTERING)");
	if (cached < 0)
		return hv_error_set(reterr, cached, "cannot probe for bridge VLAN filtering: %m");
	return 0;
}
