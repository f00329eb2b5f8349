/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Inside lib/net: the boundary between making links (net-link.c, net-tag.c,
 * net-vm.c: netlink through libnl-route-3) and what happens to frames on them
 * (net-datapath.c: the BPF port program and its maps; net-shape.c: tc
 * shaping). Links come first: the data path is handed interface indexes of
 * links that exist and only attaches to them, records in its maps, and
 * takes itself off again.
 */

#include <stdbool.h>

#include "basic/error.h"
#include "net/net.h"

/*
 * A tag's switch exists (its bridge is bridge_ifindex, its uplink
 * uplink_ifindex or 0 for an etherstub): make or find its forwarding table
 * and attach the uplink's program. Idempotent.
 */
int net_switch_attach(const char *prefix, const char *tag, int bridge_ifindex,
                      int uplink_ifindex, struct hv_error **reterr);

/* The switch goes: its table and the uplink's program. Idempotent. */
int net_switch_detach(const char *prefix, const char *tag, int uplink_ifindex,
                      struct hv_error **reterr);

/*
 * A port of the tag's switch exists (a veth's host end, peer true, or a
 * tap): attach its program with the NIC's protection, enter nic->mac in
 * the switch's table, and apply nic->max_bandwidth. net_port_update makes
 * a running port match nic (protection, addresses, cap) without dropping
 * it; net_port_detach undoes attach (the link itself is the caller's).
 */
int net_port_attach(const char *prefix, const char *tag, int port_ifindex, bool peer,
                    const struct hv_net_nic *nic, struct hv_error **reterr);
int net_port_update(const char *prefix, const char *tag, int port_ifindex, bool peer,
                    const struct hv_net_nic *nic, struct hv_error **reterr);
int net_port_detach(const char *prefix, const char *tag, int port_ifindex, const char *mac,
                    struct hv_error **reterr);
