/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Networks: Crossbow's role on Linux. A nic tag names a network reachable
 * through a physical NIC (found by MAC, as SmartOS's <tag>_nic=MAC); an
 * etherstub is a network that lives only on this host. Each one is a
 * switch: a Linux bridge named by the root's prefix, with the uplink
 * enslaved (none for an etherstub), plus Sable's BPF data path, which
 * switches unicast frames between ports by MAC with bpf_redirect and
 * enforces link protection in the same pass; what it does not switch
 * (broadcast, multicast, unknown destinations, shaped ports) the bridge
 * does.
 *
 * A VNIC of a zone is a veth pair: the host end is a port of the tag's
 * switch, the guest end is moved into the zone's network namespace and
 * named as the guest sees it (eth0, ...). A VNIC of a KVM VM is a tap
 * device with the same port program. Every kernel object Sable makes
 * carries the root's prefix (hv_node_prefix()) in its name and says whose
 * it is in its alias (IFLA_IFALIAS), so that reconcile can remove what no
 * VM owns and nothing without the prefix is ever touched.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/error.h"

#define HV_NET_MTU_MIN_STUB 576u  /* an etherstub's lowest MTU */
#define HV_NET_MTU_MIN_PHYS 1500u /* a physical nic tag's lowest MTU */
#define HV_NET_MTU_MAX      9000u

/* One nic tag or etherstub of the node config. */
struct hv_net_tag {
	char *name;
	char *mac;    /* the uplink's MAC (aa:bb:cc:dd:ee:ff); NULL for an etherstub */
	char *link;   /* the uplink's device name now; NULL for an etherstub or when gone */
	unsigned mtu; /* <tag>_mtu; 0 when not set */
	bool etherstub;
};

void hv_net_tag_done(struct hv_net_tag *t);
void hv_net_tags_free(struct hv_net_tag *t, size_t n);

/* Every tag and etherstub of the node config, tags first, each by name. */
int hv_net_tags_list(struct hv_net_tag **ret, size_t *ret_n, struct hv_error **reterr);

/*
 * The tag or etherstub called name. -ENOENT with the message
 * 'Invalid nic tag "name"' when there is none; -ENODEV naming the tag and
 * its MAC when the tag's NIC has vanished from this host.
 */
int hv_net_tag_get(const char *name, struct hv_net_tag *ret, struct hv_error **reterr);

/* The MTUs a NIC on the tag may have (etherstub 576-9000, physical 1500-9000). */
void hv_net_tag_mtu_range(const struct hv_net_tag *t, unsigned *ret_min, unsigned *ret_max);

/*
 * nictagadm's changes to the node config (atomic, under its lock). mac is
 * NULL for an etherstub; mtu 0 leaves it unset (update: unchanged).
 */
int hv_net_tag_add(const char *name, const char *mac, bool etherstub, unsigned mtu,
                   struct hv_error **reterr);
int hv_net_tag_update(const char *name, const char *mac, unsigned mtu, struct hv_error **reterr);
int hv_net_tag_delete(const char *name, struct hv_error **reterr);

/*
 * Whether this host can put a port on a VLAN (bridge VLAN filtering): 0, or
 * -EOPNOTSUPP with a message naming the missing kernel feature.
 */
int hv_net_vlan_supported(struct hv_error **reterr);

/* A VNIC as vmadm's nics[] describes it (§2.3 of the SmartOS reference). */
struct hv_net_nic {
	char *mac;       /* identifies the NIC; aa:bb:cc:dd:ee:ff */
	char *tag;       /* nic tag or etherstub */
	char *interface; /* the guest's name for it (lx: eth0) */
	unsigned mtu;    /* 0: the tag's */
	unsigned vlan_id;
	char **ips;         /* CIDR addresses, or "dhcp" / "addrconf"; NULL-terminated */
	char **gateways;    /* default routes, used on the primary NIC only */
	char **allowed_ips; /* further addresses or CIDRs the guest may send from */
	bool primary;
	bool allow_ip_spoofing;
	bool allow_mac_spoofing;
	bool allow_dhcp_spoofing; /* also dhcp_server */
	bool allow_restricted_traffic;
	bool allow_unfiltered_promisc;
	unsigned max_bandwidth; /* Mbit/s both ways, 0: none (a Sable extension) */
};

/* A route of the VM's routes map: to dest via gateway, or on the link of interface. */
struct hv_net_route {
	char *dest;      /* address or CIDR */
	char *gateway;   /* NULL: a link route */
	char *interface; /* for a link route: the guest's interface */
};

/* A VM's networking: its NICs and routes (lib/core writes it, zoneadmd reads it). */
struct hv_net_vm {
	char *owner; /* the VM's UUID */
	struct hv_net_nic *nics;
	size_t n_nics;
	struct hv_net_route *routes;
	size_t n_routes;
};

void hv_net_nic_done(struct hv_net_nic *n);
void hv_net_vm_done(struct hv_net_vm *vm);

/*
 * The file form: <zonepath>/config/net.json, {"owner": UUID, "nics": [...],
 * "routes": [...]} with the members above under their vmadm names
 * (routes: [{"dest", "gateway"} | {"dest", "interface"}]).
 */
int hv_net_vm_load(const char *path, struct hv_net_vm *ret, struct hv_error **reterr);
int hv_net_vm_save(const struct hv_net_vm *vm, const char *path, struct hv_error **reterr);

/*
 * Plug every NIC of a zone whose network namespace is netns_fd: the tag's
 * switch (made on first use), a veth pair per NIC with its host end on the
 * switch and its protection and cap applied, the guest end moved into the
 * namespace, renamed, given its MAC, MTU and addresses and set up; lo up;
 * then the primary NIC's gateways and the routes. All or nothing: on error
 * whatever was made is removed again.
 */
int hv_net_vm_plug(const struct hv_net_vm *vm, int netns_fd, struct hv_error **reterr);

/* Remove every host-side object of the VM (ports, ifbs, switch entries). Idempotent. */
int hv_net_vm_unplug(const char *owner, struct hv_error **reterr);

/* A running zone's changes: add one NIC, change one in place, remove one. */
int hv_net_nic_plug(const char *owner, const struct hv_net_nic *nic, int netns_fd,
                    struct hv_error **reterr);
int hv_net_nic_update(const char *owner, const struct hv_net_nic *old, const struct hv_net_nic *nic,
                      int netns_fd, struct hv_error **reterr);
int hv_net_nic_unplug(const char *owner, const char *mac, struct hv_error **reterr);

/*
 * A KVM VM's NIC: a tap device on the tag's switch with the same port
 * program, protection and cap. Its name (at most 15 characters) is
 * returned for QEMU's -netdev tap,ifname=.
 */
int hv_net_tap_plug(const char *owner, const struct hv_net_nic *nic, char **ret_name,
                    struct hv_error **reterr);

/*
 * After a crash: remove every link, ifb and BPF object of this root's
 * prefix whose owner is not in owners (NULL-terminated UUIDs), and every
 * switch no tag names any more. Never touches a name without the prefix.
 */
int hv_net_reconcile(char *const *owners, struct hv_error **reterr);
