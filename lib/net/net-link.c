/* SPDX-License-Identifier: MIT */
/*
 * Links, addresses and routes through libnl-route-3 (net-link.h). Nothing
 * here knows what a link is for: names, aliases and ownership are the
 * callers' (net-vm.c, net-tag.c). A socket for another network namespace is
 * made by a thread that enters the namespace, opens the socket and ends:
 * the socket keeps its namespace and the caller's thread never leaves its
 * own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/inet6.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/macro.h"
#include "basic/parse.h"
#include "net/net-internal.h"
#include "net/net-link.h"

int
net_nl_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case 0:
		return 0;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		return -ENODEV;
	case NLE_PERM:
		return -EPERM;
	case NLE_INVAL:
	case NLE_MISSING_ATTR:
		return -EINVAL;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_MSGSIZE:
		return -EMSGSIZE;
	case NLE_NOACCESS:
		return -EACCES;
	default:
		return -EIO;
	}
}

static void
link_putp(struct rtnl_link **l)
{
	if (*l)
		rtnl_link_put(*l);
}
#define _cleanup_link_ _cleanup_(link_putp)

static void
addr_putp(struct nl_addr **a)
{
	if (*a)
		nl_addr_put(*a);
}
#define _cleanup_nladdr_ _cleanup_(addr_putp)

void
net_nl_closep(struct nl_sock **s)
{
	if (*s) {
		int saved = errno;
		nl_socket_free(*s);
		errno = saved;
	}
}

struct ns_socket {
	int netns_fd;
	int fd; /* result: a socket, or -errno */
};

static void *
ns_socket_thread(void *userdata)
{
	struct ns_socket *a = userdata;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	int fd;

	/* This thread alone enters the namespace, and ends right after. */
	if (a->netns_fd == NET_NETNS_NEW ? unshare(CLONE_NEWNET) < 0
	                                 : setns(a->netns_fd, CLONE_NEWNET) < 0) {
		a->fd = negative_errno();
		return NULL;
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0) {
		a->fd = negative_errno();
		return NULL;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		a->fd = negative_errno();
		close(fd);
		return NULL;
	}
	a->fd = fd;
	return NULL;
}

int
net_nl_open(int netns_fd, struct nl_sock **ret)
{
	_cleanup_nl_ struct nl_sock *s = nl_socket_alloc();
	int r;

	if (!s)
		return -ENOMEM;
	if (netns_fd < 0 && netns_fd != NET_NETNS_NEW) {
		r = nl_connect(s, NETLINK_ROUTE);
		if (r < 0)
			return net_nl_errno(r);
	} else {
		struct ns_socket a = {.netns_fd = netns_fd, .fd = -EBADF};
		pthread_t t;

		r = pthread_create(&t, NULL, ns_socket_thread, &a);
		if (r != 0)
			return -r;
		(void)pthread_join(t, NULL);
		if (a.fd < 0)
			return a.fd;
		r = nl_socket_set_fd(s, NETLINK_ROUTE, a.fd);
		if (r < 0) {
			close(a.fd);
			return net_nl_errno(r);
		}
	}
	/* Requests are answered in order on this socket; a big dump needs room. */
	(void)nl_socket_set_buffer_size(s, 1 << 20, 1 << 20);
	*ret = TAKE_PTR(s);
	return 0;
}

void
net_link_infos_free(struct net_link_info *l, size_t n)
{
	for (size_t i = 0; l && i < n; i++) {
		free(l[i].alias);
		free(l[i].kind);
	}
	free(l);
}

static void
cache_freep(struct nl_cache **c)
{
	if (*c)
		nl_cache_free(*c);
}

int
net_links_list(struct nl_sock *s, struct net_link_info **ret, size_t *ret_n)
{
	_cleanup_(cache_freep) struct nl_cache *cache = NULL;
	struct net_link_info *l = NULL;
	size_t n = 0;
	int r;

	r = rtnl_link_alloc_cache(s, AF_UNSPEC, &cache);
	if (r < 0)
		return net_nl_errno(r);
	l = calloc((size_t)nl_cache_nitems(cache) + 1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_link *k = (struct rtnl_link *)o;
		struct nl_addr *a = rtnl_link_get_addr(k);
		const char *alias = rtnl_link_get_ifalias(k), *kind = rtnl_link_get_type(k);
		struct net_link_info *e = &l[n];

		snprintf(e->name, sizeof(e->name), "%s", strempty(rtnl_link_get_name(k)));
		e->ifindex = rtnl_link_get_ifindex(k);
		e->master = rtnl_link_get_master(k);
		e->mtu = rtnl_link_get_mtu(k);
		if (a && nl_addr_get_len(a) == 6) {
			const uint8_t *b = nl_addr_get_binary_addr(a);
			snprintf(e->mac, sizeof(e->mac), "%02x:%02x:%02x:%02x:%02x:%02x", b[0],
			         b[1], b[2], b[3], b[4], b[5]);
		}
		n++;
		if ((alias && !(e->alias = strdup(alias))) || (kind && !(e->kind = strdup(kind)))) {
			net_link_infos_free(l, n);
			return -ENOMEM;
		}
	}
	*ret = l;
	*ret_n = n;
	return 0;
}

int
net_link_ifindex(struct nl_sock *s, const char *name)
{
	_cleanup_link_ struct rtnl_link *l = NULL;
	int r;

	r = rtnl_link_get_kernel(s, 0, name, &l);
	if (r < 0)
		return net_nl_errno(r);
	return rtnl_link_get_ifindex(l);
}

static int
link_fill(struct rtnl_link *l, const struct net_link_change *c)
{
	if (c->name)
		rtnl_link_set_name(l, c->name);
	if (c->mac) {
		_cleanup_nladdr_ struct nl_addr *a = NULL;
		uint8_t b[6];

		if (parse_mac(c->mac, b) < 0)
			return -EINVAL;
		a = nl_addr_build(AF_LLC, b, sizeof(b));
		if (!a)
			return -ENOMEM;
		rtnl_link_set_addr(l, a);
	}
	if (c->alias)
		rtnl_link_set_ifalias(l, c->alias);
	if (c->mtu)
		rtnl_link_set_mtu(l, c->mtu);
	if (c->master > 0)
		rtnl_link_set_master(l, c->master);
	else if (c->master < 0)
		rtnl_link_set_master(l, 0);
	if (c->netns_fd >= 0)
		rtnl_link_set_ns_fd(l, c->netns_fd);
	if (c->up > 0)
		rtnl_link_set_flags(l, IFF_UP);
	else if (c->up < 0)
		rtnl_link_unset_flags(l, IFF_UP);
	if (c->no_ipv6_ll)
		(void)rtnl_link_inet6_set_addr_gen_mode(l, IN6_ADDR_GEN_MODE_NONE);
	return 0;
}

int
net_link_change(struct nl_sock *s, int ifindex, const struct net_link_change *c)
{
	_cleanup_link_ struct rtnl_link *orig = rtnl_link_alloc(), *l = rtnl_link_alloc();
	int r;

	if (!orig || !l)
		return -ENOMEM;
	rtnl_link_set_ifindex(orig, ifindex);
	r = link_fill(l, c);
	if (r < 0)
		return r;
	return net_nl_errno(rtnl_link_change(s, orig, l, 0));
}

int
net_link_delete(struct nl_sock *s, int ifindex)
{
	_cleanup_link_ struct rtnl_link *l = rtnl_link_alloc();

	if (!l)
		return -ENOMEM;
	rtnl_link_set_ifindex(l, ifindex);
	return net_nl_errno(rtnl_link_delete(s, l));
}

int
net_link_delete_name(struct nl_sock *s, const char *name)
{
	_cleanup_link_ struct rtnl_link *l = rtnl_link_alloc();

	if (!l)
		return -ENOMEM;
	rtnl_link_set_name(l, name);
	return net_nl_errno(rtnl_link_delete(s, l));
}

static int
create_typed(struct nl_sock *s, const char *type, const char *name, const struct net_link_change *c,
             int *ret_ifindex)
{
	_cleanup_link_ struct rtnl_link *l = rtnl_link_alloc();
	int r;

	if (!l)
		return -ENOMEM;
	r = rtnl_link_set_type(l, type);
	if (r < 0)
		return net_nl_errno(r);
	rtnl_link_set_name(l, name);
	if (c && (r = link_fill(l, c)) < 0)
		return r;
	r = rtnl_link_add(s, l, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0)
		return net_nl_errno(r);
	if (!ret_ifindex)
		return 0;
	r = net_link_ifindex(s, name);
	if (r < 0)
		return r;
	*ret_ifindex = r;
	return 0;
}

int
net_bridge_create(struct nl_sock *s, const char *name, const struct net_link_change *c,
                  int *ret_ifindex)
{
	return create_typed(s, "bridge", name, c, ret_ifindex);
}

int
net_ifb_create(struct nl_sock *s, const char *name, const char *alias, int *ret_ifindex)
{
	struct net_link_change c = NET_LINK_CHANGE_INIT;
	int r, ifindex;

	r = create_typed(s, "ifb", name, NULL, &ifindex);
	if (r < 0)
		return r;
	c.alias = alias;
	r = net_link_change(s, ifindex, &c);
	if (r < 0) {
		(void)net_link_delete(s, ifindex);
		return r;
	}
	if (ret_ifindex)
		*ret_ifindex = ifindex;
	return 0;
}

int
net_veth_create(struct nl_sock *s, const char *name, const struct net_link_change *host,
                const char *peer_name, int peer_netns_fd, const struct net_link_change *peer,
                int *ret_ifindex)
{
	struct rtnl_link *l = rtnl_link_veth_alloc(), *p;
	int r;

	if (!l)
		return -ENOMEM;
	p = rtnl_link_veth_get_peer(l);
	rtnl_link_set_name(l, name);
	rtnl_link_set_name(p, peer_name);
	if (peer_netns_fd >= 0)
		rtnl_link_set_ns_fd(p, peer_netns_fd);
	r = link_fill(l, host);
	if (r >= 0)
		r = link_fill(p, peer);
	if (r >= 0)
		r = net_nl_errno(rtnl_link_add(s, l, NLM_F_CREATE | NLM_F_EXCL));
	rtnl_link_put(p);
	rtnl_link_veth_release(l);
	if (r < 0)
		return r;
	r = net_link_ifindex(s, name);
	if (r < 0)
		return r;
	if (ret_ifindex)
		*ret_ifindex = r;
	return 0;
}

int
net_tap_create(const char *name)
{
	_cleanup_close_ int fd = -EBADF;
	struct ifreq ifr = {0};

	if (strlen(name) >= sizeof(ifr.ifr_name))
		return -EINVAL;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return negative_errno();
	if (ioctl(fd, TUNSETPERSIST, 1) < 0)
		return negative_errno();
	return 0;
}

static void
neigh_putp(struct rtnl_neigh **n)
{
	if (*n)
		rtnl_neigh_put(*n);
}

int
net_fdb_add(struct nl_sock *s, int port_ifindex, const char *mac)
{
	_cleanup_(neigh_putp) struct rtnl_neigh *n = rtnl_neigh_alloc();
	_cleanup_nladdr_ struct nl_addr *a = NULL;
	uint8_t b[6];

	if (!n)
		return -ENOMEM;
	if (parse_mac(mac, b) < 0)
		return -EINVAL;
	a = nl_addr_build(AF_LLC, b, sizeof(b));
	if (!a)
		return -ENOMEM;
	rtnl_neigh_set_family(n, AF_BRIDGE);
	rtnl_neigh_set_ifindex(n, port_ifindex);
	rtnl_neigh_set_lladdr(n, a);
	rtnl_neigh_set_state(n, NUD_NOARP);
	rtnl_neigh_set_flags(n, NTF_MASTER);
	return net_nl_errno(rtnl_neigh_add(s, n, NLM_F_CREATE | NLM_F_REPLACE));
}

int
net_addr_family(const char *s, bool cidr)
{
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned char bin[16];
	const char *slash = strchr(s, '/');
	size_t l = slash ? (size_t)(slash - s) : strlen(s);
	int family;

	if (l == 0 || l >= INET6_ADDRSTRLEN || (cidr && !slash) || (!cidr && slash))
		return -EINVAL;
	memcpy(buf, s, l);
	buf[l] = 0;
	if (inet_pton(AF_INET, buf, bin) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, buf, bin) == 1)
		family = AF_INET6;
	else
		return -EINVAL;
	if (slash) {
		const char *p = slash + 1;
		unsigned v = 0;

		if (!*p || strlen(p) > 3)
			return -EINVAL;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			v = v * 10 + (unsigned)(*p - '0');
		}
		if (v > (family == AF_INET ? 32u : 128u) || (slash[1] == '0' && slash[2]))
			return -EINVAL;
	}
	return family;
}

static void
rtaddr_putp(struct rtnl_addr **a)
{
	if (*a)
		rtnl_addr_put(*a);
}

/* Add or remove ifindex's address cidr (route_do's counterpart for addresses). */
static int
addr_do(struct nl_sock *s, int ifindex, const char *cidr, bool add)
{
	_cleanup_(rtaddr_putp) struct rtnl_addr *a = rtnl_addr_alloc();
	_cleanup_nladdr_ struct nl_addr *local = NULL;
	int family = net_addr_family(cidr, true), r;

	if (family < 0)
		return family;
	if (!a)
		return -ENOMEM;
	r = nl_addr_parse(cidr, family, &local);
	if (r < 0)
		return net_nl_errno(r);
	rtnl_addr_set_ifindex(a, ifindex);
	r = rtnl_addr_set_local(a, local);
	if (r < 0)
		return net_nl_errno(r);
	if (!add)
		return net_nl_errno(rtnl_addr_delete(s, a, 0));
	/* The guest's addresses are its own (link protection sees to that): usable at once. */
	if (family == AF_INET6)
		rtnl_addr_set_flags(a, IFA_F_NODAD);
	return net_nl_errno(rtnl_addr_add(s, a, NLM_F_CREATE | NLM_F_EXCL));
}

int
net_addr_add(struct nl_sock *s, int ifindex, const char *cidr)
{
	return addr_do(s, ifindex, cidr, true);
}

int
net_addr_del(struct nl_sock *s, int ifindex, const char *cidr)
{
	return addr_do(s, ifindex, cidr, false);
}

static void
route_putp(struct rtnl_route **r)
{
	if (*r)
		rtnl_route_put(*r);
}

static int
route_do(struct nl_sock *s, const char *dest, const char *gateway, int oif, bool add)
{
	_cleanup_(route_putp) struct rtnl_route *rt = rtnl_route_alloc();
	_cleanup_nladdr_ struct nl_addr *dst = NULL, *gw = NULL;
	struct rtnl_nexthop *nh;
	int family, r;

	if (!rt)
		return -ENOMEM;
	if (gateway) {
		family = net_addr_family(gateway, false);
		if (family < 0)
			return family;
		r = nl_addr_parse(gateway, family, &gw);
		if (r < 0)
			return net_nl_errno(r);
	}
	if (dest) {
		int f = net_addr_family(dest, strchr(dest, '/') != NULL);

		if (f < 0 || (gateway && f != family))
			return -EINVAL;
		family = f;
		r = nl_addr_parse(dest, family, &dst);
	} else {
		if (!gateway)
			return -EINVAL;
		r = nl_addr_parse(family == AF_INET ? "0.0.0.0/0" : "::/0", family, &dst);
	}
	if (r < 0)
		return net_nl_errno(r);
	rtnl_route_set_family(rt, (uint8_t)family);
	r = rtnl_route_set_dst(rt, dst);
	if (r < 0)
		return net_nl_errno(r);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_protocol(rt, RTPROT_STATIC);
	rtnl_route_set_scope(rt, gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
	rtnl_route_set_type(rt, RTN_UNICAST);
	nh = rtnl_route_nh_alloc();
	if (!nh)
		return -ENOMEM;
	if (gw)
		rtnl_route_nh_set_gateway(nh, gw);
	if (oif > 0)
		rtnl_route_nh_set_ifindex(nh, oif);
	rtnl_route_add_nexthop(rt, nh);
	if (!add)
		return net_nl_errno(rtnl_route_delete(s, rt, 0));
	return net_nl_errno(rtnl_route_add(s, rt, NLM_F_CREATE | NLM_F_EXCL));
}

int
net_route_add(struct nl_sock *s, const char *dest, const char *gateway, int oif)
{
	return route_do(s, dest, gateway, oif, true);
}

int
net_route_del(struct nl_sock *s, const char *dest, const char *gateway, int oif)
{
	return route_do(s, dest, gateway, oif, false);
}

/* FNV-1a, 64 bits. */
static uint64_t
hash_str(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	/* A separator, so ("ab", "c") and ("a", "bc") differ. */
	h ^= 0xff;
	h *= 0x100000001b3ull;
	return h;
}

int
net_link_name(const char *prefix, char kind, const char *a, const char *b, char ret[NET_NAME_MAX])
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	uint64_t h = 0xcbf29ce484222325ull;
	char kb[2] = {kind, 0};
	size_t l = prefix ? strlen(prefix) : 0;
	char hash[7];

	if (l < 2 || l > 8)
		return -EINVAL;
	h = hash_str(h, kb);
	h = hash_str(h, a);
	h = hash_str(h, b);
	for (int i = 0; i < 6; i++) {
		hash[i] = digits[h % 36];
		h /= 36;
	}
	hash[6] = 0;
	snprintf(ret, NET_NAME_MAX, "%s%c%s", prefix, kind, hash);
	return 0;
}

int
net_ifb_name(const char *prefix, const char *port_name, char ret[NET_NAME_MAX])
{
	size_t l = prefix ? strlen(prefix) : 0;

	if (l < 2 || l > 8 || !port_name || strncmp(port_name, prefix, l) != 0 ||
	    (port_name[l] != NET_KIND_PORT && port_name[l] != NET_KIND_TAP) ||
	    strlen(port_name) != l + 7)
		return -EINVAL;
	snprintf(ret, NET_NAME_MAX, "%s", port_name);
	ret[l] = NET_KIND_IFB;
	return 0;
}

int
net_link_get(struct nl_sock *s, const char *name, struct net_link_info *ret)
{
	_cleanup_link_ struct rtnl_link *l = NULL;
	struct nl_addr *a;
	const char *alias;
	int r;

	r = rtnl_link_get_kernel(s, 0, name, &l);
	if (r < 0)
		return net_nl_errno(r);
	*ret = (struct net_link_info){0};
	snprintf(ret->name, sizeof(ret->name), "%s", strempty(rtnl_link_get_name(l)));
	ret->ifindex = rtnl_link_get_ifindex(l);
	ret->master = rtnl_link_get_master(l);
	ret->mtu = rtnl_link_get_mtu(l);
	a = rtnl_link_get_addr(l);
	if (a && nl_addr_get_len(a) == 6) {
		const uint8_t *b = nl_addr_get_binary_addr(a);
		snprintf(ret->mac, sizeof(ret->mac), "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1],
		         b[2], b[3], b[4], b[5]);
	}
	alias = rtnl_link_get_ifalias(l);
	if (alias && !(ret->alias = strdup(alias)))
		return -ENOMEM;
	if (rtnl_link_get_type(l) && !(ret->kind = strdup(rtnl_link_get_type(l)))) {
		free(ret->alias);
		return -ENOMEM;
	}
	return 0;
}

void
net_link_info_done(struct net_link_info *i)
{
	free(i->alias);
	free(i->kind);
	i->alias = i->kind = NULL;
}
