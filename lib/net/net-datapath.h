/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Inside the data path (net-datapath.c, net-shape.c) and its unit tests:
 * a NIC as the port program sees it, and the shaping steps.
 */

#include <stddef.h>
#include <stdint.h>

#include "basic/error.h"
#include "net/net-bpf.h"
#include "net/net.h"

/* The largest cap tbf takes here (its 32-bit rate in bytes per second). */
#define NET_SHAPE_MBIT_MAX 17000u

/* An address or prefix a port may send from. */
struct net_port_ip {
	int family; /* AF_INET, AF_INET6 */
	uint8_t addr[16];
	unsigned len; /* prefix length */
};

/* What the port program needs to know of a NIC. */
struct net_port_plan {
	struct net_port_cfg cfg; /* mac, flags, iid; sw and ifb are the caller's */
	struct net_port_ip *ips;
	size_t n_ips;
};

/*
 * The plan for nic: its MAC and EUI-64, its allow_* flags, "dhcp" and
 * "addrconf", and every address it may send from (ips as host addresses,
 * allowed_ips as written). -EINVAL naming the bad value otherwise.
 */
int net_port_plan_make(const struct hv_net_nic *nic, struct net_port_plan *ret,
                       struct hv_error **reterr);
void net_port_plan_done(struct net_port_plan *p);

/*
 * Cap port_ifindex at mbit Mbit/s both ways: tbf as the port's root qdisc
 * (into the guest) and an ifb with its own tbf (out of the guest), whose
 * ifindex is returned for the port program to redirect to. mbit 0 removes
 * both (ret_ifb 0). Idempotent; changes a running cap in place.
 */
int net_shape_apply(const char *prefix, int port_ifindex, const char *mac, unsigned mbit,
                    int *ret_ifb, struct hv_error **reterr);

/* Remove the ifbs of prefix whose port is gone. */
int net_shape_reconcile(const char *prefix, struct hv_error **reterr);
