/* SPDX-License-Identifier: MIT */
/*
 * Bandwidth caps (nics[].max_bandwidth, Mbit/s both ways; a Sable
 * extension after Crossbow's maxbw). Into the guest: tbf as the root qdisc
 * of the host-side port, whose egress is the guest's ingress. Out of the
 * guest: the port program hands every frame the guest sends (after its
 * checks) to an ifb with bpf_redirect; the ifb's own tbf paces it, and the
 * ifb re-injects it into the port's receive path with tc skipped, where the
 * bridge forwards it. A shaped port is thus never a fast-path destination
 * (bpf_redirect to it, not _peer, so its tbf sees the frame) nor source.
 *
 * The ifb is named as its port with NET_KIND_IFB for the kind
 * (net_ifb_name), and its alias is the port's with "ifb" for the kind word
 * ("sable <prefix> ifb <owner> <mac> …"), so it names its owner; a port
 * without an alias gives "sable <prefix> ifb - <mac>". Reconcile removes an
 * ifb whose port is gone.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>

#include "basic/cleanup.h"
#include "basic/macro.h"
#include "net/net-datapath.h"
#include "net/net-internal.h"
#include "net/net-link.h"

#define KIND_WORD "ifb"

static void
qdisc_putp(struct rtnl_qdisc **q)
{
	if (*q)
		rtnl_qdisc_put(*q);
}

/* Our root qdisc on ifindex, as tbf_set makes it and tbf_remove names it; NULL: no memory. */
static struct rtnl_qdisc *
tbf_qdisc(int ifindex)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();

	if (!q)
		return NULL;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), TC_HANDLE(0x5ab1, 0));
	return q;
}

/*
 * tbf at mbit as ifindex's root qdisc. The bucket holds 10 ms of traffic
 * (at least 32 KiB, so a GSO frame passes whole), the queue 20 ms more.
 */
static int
tbf_set(struct nl_sock *s, int ifindex, unsigned mbit)
{
	_cleanup_(qdisc_putp) struct rtnl_qdisc *q = tbf_qdisc(ifindex);
	unsigned rate = mbit * 125000u; /* bytes per second; mbit <= NET_SHAPE_MBIT_MAX */
	unsigned burst = MAX(rate / 100, 32u * 1024);
	int r;

	if (!q)
		return -ENOMEM;
	r = rtnl_tc_set_kind(TC_CAST(q), "tbf");
	if (r < 0)
		return net_nl_errno(r);
	rtnl_qdisc_tbf_set_rate(q, (int)rate, (int)burst, 0);
	rtnl_qdisc_tbf_set_limit(q, (int)(burst + rate / 50));
	r = rtnl_qdisc_add(s, q, NLM_F_CREATE | NLM_F_REPLACE);
	return r < 0 ? net_nl_errno(r) : 0;
}

/* Back to the default root qdisc; none of ours there is fine. */
static int
tbf_remove(struct nl_sock *s, int ifindex)
{
	_cleanup_(qdisc_putp) struct rtnl_qdisc *q = tbf_qdisc(ifindex);
	int r;

	if (!q)
		return -ENOMEM;
	r = rtnl_qdisc_delete(s, q);
	if (r < 0) {
		r = net_nl_errno(r);
		if (r == -ENOENT || r == -ENODEV || r == -EINVAL || r == -EOPNOTSUPP)
			return 0;
	}
	return r;
}

/* The port's name and alias, from the kernel; -ENODEV when it is gone. */
static int
port_lookup(struct nl_sock *s, int ifindex, char name[NET_NAME_MAX], char **ret_alias)
{
	struct rtnl_link *l = NULL;
	const char *alias;
	int r;

	r = rtnl_link_get_kernel(s, ifindex, NULL, &l);
	if (r < 0)
		return net_nl_errno(r);
	snprintf(name, NET_NAME_MAX, "%s", rtnl_link_get_name(l));
	alias = rtnl_link_get_ifalias(l);
	*ret_alias = alias ? strdup(alias) : NULL;
	rtnl_link_put(l);
	return alias && !*ret_alias ? -ENOMEM : 0;
}

/* "sable <prefix> <word> rest" → "sable <prefix> ifb rest"; without one, "… ifb - <mac>". */
static void
ifb_alias(const char *prefix, const char *port_alias, const char *mac, char *ret, size_t size)
{
	const char *rest = NULL;
	size_t l = strlen(prefix);

	if (port_alias && startswith(port_alias, "sable ") &&
	    strncmp(port_alias + 6, prefix, l) == 0 && port_alias[6 + l] == ' ') {
		rest = strchr(port_alias + 7 + l, ' ');
		if (rest)
			rest++;
	}
	if (rest)
		snprintf(ret, size, "sable %s " KIND_WORD " %s", prefix, rest);
	else
		snprintf(ret, size, "sable %s " KIND_WORD " - %s", prefix, mac);
}

int
net_shape_apply(const char *prefix, int port_ifindex, const char *mac, unsigned mbit, int *ret_ifb,
                struct hv_error **reterr)
{
	_cleanup_nl_ struct nl_sock *s = NULL;
	_cleanup_free_ char *port_alias = NULL;
	char port[NET_NAME_MAX], name[NET_NAME_MAX], alias[256];
	int r, ifb;

	*ret_ifb = 0;
	if (mbit > NET_SHAPE_MBIT_MAX)
		return hv_error_set(reterr, -ERANGE, "max_bandwidth %u: expected at most %u Mbit/s",
		                    mbit, NET_SHAPE_MBIT_MAX);
	r = net_nl_open(-1, &s);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot open a netlink socket: %m");
	r = port_lookup(s, port_ifindex, port, &port_alias);
	if (r == -ENODEV && mbit == 0) {
		/* The port went first: its ifb is one whose port is gone. */
		s = NULL;
		return net_shape_reconcile(prefix, reterr);
	}
	if (r < 0)
		return hv_error_set(reterr, r, "port %d: %m", port_ifindex);
	r = net_ifb_name(prefix, port, name);
	if (r < 0) {
		if (mbit == 0)
			return 0; /* not a port of ours by name: it can have no ifb */
		return hv_error_set(reterr, r, "port '%s': not named as a port of '%s'", port,
		                    prefix);
	}

	if (mbit == 0) {
		r = net_link_delete_name(s, name);
		if (r < 0 && r != -ENODEV && r != -ENOENT)
			return hv_error_set(reterr, r, "cannot delete ifb '%s': %m", name);
		r = tbf_remove(s, port_ifindex);
		if (r < 0)
			return hv_error_set(reterr, r, "cannot remove the cap of port '%s': %m",
			                    port);
		return 0;
	}

	ifb = net_link_ifindex(s, name);
	if (ifb == -ENODEV) {
		struct net_link_change up = NET_LINK_CHANGE_INIT;

		ifb_alias(prefix, port_alias, mac, alias, sizeof(alias));
		r = net_ifb_create(s, name, alias, &ifb);
		if (r < 0)
			return hv_error_set(reterr, r, "cannot create ifb '%s': %m", name);
		up.up = 1;
		r = net_link_change(s, ifb, &up);
		if (r < 0)
			return hv_error_set(reterr, r, "cannot set ifb '%s' up: %m", name);
	} else if (ifb < 0)
		return hv_error_set(reterr, ifb, "ifb '%s': %m", name);

	r = tbf_set(s, ifb, mbit);
	if (r < 0)
		return hv_error_set(reterr, r, "ifb '%s': cannot set tbf at %u Mbit/s: %m", name,
		                    mbit);
	r = tbf_set(s, port_ifindex, mbit);
	if (r < 0)
		return hv_error_set(reterr, r, "port '%s': cannot set tbf at %u Mbit/s: %m", port,
		                    mbit);
	*ret_ifb = ifb;
	return 0;
}

int
net_shape_reconcile(const char *prefix, struct hv_error **reterr)
{
	_cleanup_nl_ struct nl_sock *s = NULL;
	struct net_link_info *links = NULL;
	size_t n = 0, plen = strlen(prefix);
	int r;

	r = net_nl_open(-1, &s);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot open a netlink socket: %m");
	r = net_links_list(s, &links, &n);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot list links: %m");
	for (size_t i = 0; i < n; i++) {
		const struct net_link_info *l = &links[i];
		bool port = false;

		if (!streq_ptr(l->kind, "ifb") || strncmp(l->name, prefix, plen) != 0 ||
		    l->name[plen] != NET_KIND_IFB)
			continue;
		/* Its port is the link of the same name with a port's kind. */
		for (size_t j = 0; j < n && !port; j++)
			port = strncmp(links[j].name, l->name, plen) == 0 &&
			       (links[j].name[plen] == NET_KIND_PORT ||
			        links[j].name[plen] == NET_KIND_TAP) &&
			       streq(links[j].name + plen + 1, l->name + plen + 1);
		if (port)
			continue;
		r = net_link_delete(s, l->ifindex);
		if (r < 0 && r != -ENODEV) {
			hv_error_set(reterr, r, "cannot delete ifb '%s': %m", l->name);
			break;
		}
		r = 0;
	}
	net_link_infos_free(links, n);
	return r;
}
