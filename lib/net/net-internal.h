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
int net_switch_attach(const char *prefix, const char *tag, int bridge_ifindex, int uplink_ifindex,
                      struct hv_error **reterr);

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

/*
 * After a crash, once the links of dead owners are gone: drop the data
 * path's state for links that no longer exist (map entries of gone ports
 * and bridges, ifbs whose port is gone), and its pins when nothing is left.
 * Touches only what carries prefix.
 */
int net_datapath_reconcile(const char *prefix, struct hv_error **reterr);

/*
 * Names. Every link Sable makes is named prefix + kind + a stable hash
 * (base 36, 6 characters) of what it belongs to, so it fits IFNAMSIZ with
 * an 8-character prefix: a switch (bridge) by its tag, a port (veth host
 * end or tap) by its owner and MAC. An ifb belongs to a port and is named
 * as the port with NET_KIND_IFB in place of the kind, so each can be found
 * from the other. Its alias (IFLA_IFALIAS) says whose it is:
 * "sable <prefix> <kind word> <owner or tag> <mac or -> [<tag>]".
 */
#define NET_KIND_SWITCH 's'
#define NET_KIND_PORT   'v'
#define NET_KIND_TAP    't'
#define NET_KIND_IFB    'i'
#define NET_NAME_MAX    16 /* IFNAMSIZ */

/* prefix + kind + hash(a, b); b may be NULL. -EINVAL if the prefix is too long. */
int net_link_name(const char *prefix, char kind, const char *a, const char *b,
                  char ret[NET_NAME_MAX]);
/* The ifb of the port called port_name (a NET_KIND_PORT or NET_KIND_TAP name). */
int net_ifb_name(const char *prefix, const char *port_name, char ret[NET_NAME_MAX]);
