/* SPDX-License-Identifier: MIT */
/*
 * The property table (smartos.md §2): every member a VM payload or a VM
 * object may have, for every brand, with its type, bounds, where it is
 * accepted and what Sable does with it. Validation (core-validate.c),
 * create defaults (core-defaults.c), updates (core-update.c), `vmadm list`
 * columns (core-list-format.c) and vmadm-properties(7) (core-props-man.c)
 * all read it; none of them names a property's type or brands itself.
 *
 * Invariants, checked by test-core-props: the top-level table is sorted by
 * name (lookups are a binary search); every entry has a doc paragraph;
 * aliases name real properties; every array has members and a key member;
 * a listable property's width holds its header. Properties of the brands
 * Sable does not run (joyent, joyent-minimal, bhyve) are here too, so that
 * an error can say what a name is for instead of calling it unknown.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "core/vm-props.h"

#define CU   (HV_PROP_C | HV_PROP_U)
#define CUL  (HV_PROP_C | HV_PROP_U | HV_PROP_LIVE)
#define JMLK (HV_BRANDS_OS | HV_BRANDS_K)

static const char *const brand_names[_HV_BRAND_MAX] = {
        [HV_BRAND_JOYENT] = "joyent", [HV_BRAND_JOYENT_MINIMAL] = "joyent-minimal",
        [HV_BRAND_LX] = "lx",         [HV_BRAND_KVM] = "kvm",
        [HV_BRAND_BHYVE] = "bhyve",
};

const char *
hv_brand_to_string(enum hv_brand b)
{
	if ((int)b < 0 || b >= _HV_BRAND_MAX)
		return NULL;
	return brand_names[b];
}

enum hv_brand
hv_brand_from_string(const char *s)
{
	for (int b = 0; s && b < _HV_BRAND_MAX; b++)
		if (streq(s, brand_names[b]))
			return (enum hv_brand)b;
	return _HV_BRAND_INVALID;
}

bool
hv_brand_supported(enum hv_brand b)
{
	return b == HV_BRAND_LX || b == HV_BRAND_KVM;
}

bool
hv_brand_is_hvm(enum hv_brand b)
{
	return b == HV_BRAND_KVM || b == HV_BRAND_BHYVE;
}

static const char *const format_names[_HV_PROP_FMT_MAX] = {
        [HV_PROP_FMT_NONE] = "any text",
        [HV_PROP_FMT_HOSTNAME] = "a host name (dot-separated labels of letters, digits and '-', "
                                 "each at most 63 characters)",
        [HV_PROP_FMT_MAC] = "a unicast MAC address such as 'b2:1e:ba:a5:6e:71'",
        [HV_PROP_FMT_IP] = "an IPv4 or IPv6 address",
        [HV_PROP_FMT_IPV4] = "an IPv4 address",
        [HV_PROP_FMT_NETMASK] = "an IPv4 netmask such as '255.255.255.0'",
        [HV_PROP_FMT_NIC_IP] = "an address with a prefix length such as '10.0.0.5/24', 'dhcp' "
                               "or 'addrconf'",
        [HV_PROP_FMT_NIC_IP_OLD] = "an IPv4 address or 'dhcp'",
        [HV_PROP_FMT_IP_CIDR] = "an IPv4 or IPv6 address or network such as '10.0.0.0/8'",
        [HV_PROP_FMT_PATH] = "an absolute path without '..'",
        [HV_PROP_FMT_NAME] = "a name of letters, digits, '_', '-', '.' and ':'",
        [HV_PROP_FMT_BOOT] = "order=X[,once=Y] with X and Y made of c, d and n",
        [HV_PROP_FMT_BOOTROM] = "'bios', 'uefi' or an absolute path",
        [HV_PROP_FMT_PCI_SLOT] = "a PCI slot as bus:dev:func, dev:func or dev",
        [HV_PROP_FMT_DHCP_CID] = "'0x' and an even number of hex digits",
        [HV_PROP_FMT_PORT] = "a port number from 1 to 65535",
        [HV_PROP_FMT_COMPRESSION] = "one of on, off, gzip, gzip-1 to gzip-9, lz4, lzjb, zle",
        [HV_PROP_FMT_POW2] = "a power of two",
        [HV_PROP_FMT_VERSION] = "a version such as '4.3.0'",
        [HV_PROP_FMT_PRIV] = "a privilege name, optionally preceded by '-' or '!'",
        [HV_PROP_FMT_PRINTABLE] = "text without control characters",
};

const char *
hv_prop_format_to_string(enum hv_prop_format f)
{
	if ((int)f < 0 || f >= _HV_PROP_FMT_MAX)
		return NULL;
	return format_names[f];
}

/*
 * The tables are kept compact by hand: clang-format would give every field
 * its own line.
 */
/* clang-format off */

/* nics[] (§2.3). The key comes first; the rest in the reference's order. */
static const struct hv_prop nic_members[] = {
	{.name = "mac", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL, .flags = HV_PROP_C,
	 .max = 17, .format = HV_PROP_FMT_MAC, .default_doc = "generated",
	 .doc = "The NIC's MAC address, which names it in update_nics and remove_nics and can "
	        "never change (to change it, add a NIC and remove the old one). Without one, "
	        "Sable picks a random locally administered unicast address whose first octet "
	        "ends in 2, as SmartOS does."},
	{.name = "nic_tag", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL, .flags = CU,
	 .max = 31, .format = HV_PROP_FMT_NAME,
	 .doc = "The nic tag (a name from sysinfo's \"NIC Names\", an etherstub or a device "
	        "name) the NIC is attached to. Whether the tag exists is checked when the VM is "
	        "created or the NIC added, not by payload validation. A change needs the VM to "
	        "be stopped and started."},
	{.name = "interface", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL, .flags = HV_PROP_C,
	 .max = 15, .format = HV_PROP_FMT_NAME, .default_doc = "eth0, eth1, ... (kvm: net0, ...)",
	 .doc = "The name the guest sees for the NIC. Sable names lx NICs eth0, eth1, ... in "
	        "array order, as Linux does, and kvm NICs net0, net1, ..."},
	{.name = "ips", .type = HV_PROP_LIST, .brands = HV_BRANDS_ALL, .flags = CU,
	 .max = HV_VM_MAX_NIC_IPS, .format = HV_PROP_FMT_NIC_IP,
	 .doc = "The NIC's addresses in CIDR form (10.0.0.5/24, fd00::5/64), or the words dhcp "
	        "(DHCPv4) and addrconf (SLAAC and DHCPv6), at most 20. An lx zone's addresses "
	        "are configured on its interface when it boots; a kvm guest gets its first "
	        "static IPv4 address over DHCP, as in SmartOS."},
	{.name = "gateways", .type = HV_PROP_LIST, .brands = HV_BRANDS_ALL, .flags = CU, .max = 8,
	 .format = HV_PROP_FMT_IP,
	 .doc = "Gateway addresses for the NIC. Only the primary NIC's gateways become default "
	        "routes. SmartOS documents IPv4 gateways; Sable also accepts IPv6 ones."},
	{.name = "ip", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL,
	 .flags = CU | HV_PROP_ALIAS, .alias_of = "ips", .max = 15,
	 .format = HV_PROP_FMT_NIC_IP_OLD,
	 .doc = "Deprecated IPv4-only form of ips: an address (with netmask) or dhcp. Sable "
	        "turns ip and netmask into one ips entry (\"10.0.0.5/24\") and stores only ips. "
	        "It may not be given together with ips."},
	{.name = "netmask", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL,
	 .flags = CU | HV_PROP_ALIAS, .alias_of = "ips", .max = 15, .format = HV_PROP_FMT_NETMASK,
	 .doc = "Deprecated: the netmask that goes with ip (255.255.255.0); Sable turns it into "
	        "the prefix length of the ips entry."},
	{.name = "gateway", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL,
	 .flags = CU | HV_PROP_ALIAS, .alias_of = "gateways", .max = 15,
	 .format = HV_PROP_FMT_IPV4,
	 .doc = "Deprecated IPv4-only form of gateways; Sable stores it as a one-element "
	        "gateways list."},
	{.name = "primary", .type = HV_PROP_BOOL, .brands = HV_BRANDS_ALL, .flags = CU,
	 .default_doc = "false",
	 .doc = "Whether this is the VM's primary NIC, whose gateways and resolvers win. Only "
	        "true is meaningful; setting it on one NIC in an update clears it on the old "
	        "primary, and a payload may not name two primaries."},
	{.name = "vlan_id", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = CU, .min = 0,
	 .max = 4095, .default_doc = "0",
	 .doc = "The 802.1Q VLAN the NIC is on, 0 to 4095; 0 means untagged."},
	{.name = "mtu", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = CU, .min = 576,
	 .max = 9000, .default_doc = "the MTU of the nic tag's link",
	 .doc = "The NIC's MTU, 576 to 9000 (SmartOS allows 1500 to 9000 on physical nic tags "
	        "and 576 to 9000 on etherstubs and overlays). It is applied when the VM boots, "
	        "not live, and shown only when set."},
	{.name = "model", .type = HV_PROP_STRING, .brands = HV_BRANDS_HVM, .flags = CU, .max = 16,
	 .values = "virtio|e1000|rtl8139", .default_doc = "nic_driver, else the first NIC's model",
	 .doc = "The network device QEMU emulates for the guest: virtio, e1000 or rtl8139. "
	        "Without it, nic_driver and then the first NIC's model are used; a kvm NIC "
	        "without any of them is an error."},
	{.name = "network_uuid", .type = HV_PROP_UUID, .brands = HV_BRANDS_ALL, .flags = CU,
	 .doc = "The network the NIC belongs to, for external tracking; stored only."},
	{.name = "allow_ip_spoofing", .type = HV_PROP_BOOL, .brands = HV_BRANDS_ALL, .flags = CU,
	 .default_doc = "false",
	 .doc = "Let the VM send IPv4 and IPv6 packets and ARP from addresses that are not in "
	        "ips or allowed_ips. Applied live to a running VM."},
	{.name = "allow_mac_spoofing", .type = HV_PROP_BOOL, .brands = HV_BRANDS_ALL, .flags = CU,
	 .default_doc = "false",
	 .doc = "Let the VM send frames from other MAC addresses than its own. Applied live "
	        "to a running VM."},
	{.name = "allow_dhcp_spoofing", .type = HV_PROP_BOOL, .brands = HV_BRANDS_ALL, .flags = CU,
	 .default_doc = "false",
	 .doc = "Let the VM act as a DHCP (or DHCPv6) server and send IPv6 router "
	        "advertisements on this NIC. Applied live to a running VM."},
	{.name = "dhcp_server", .type = HV_PROP_BOOL, .brands = HV_BRANDS_ALL, .flags = CU,
	 .default_doc = "false",
	 .doc = "The older name of allow_dhcp_spoofing, with the same effect."},
	{.name = "allow_restricted_traffic", .type = HV_PROP_BOOL, .brands = HV_BRANDS_ALL,
	 .flags = CU, .default_doc = "false",
	 .doc = "Let the VM send frames other than IPv4, IPv6 and ARP. Applied live to a "
	        "running VM."},
	{.name = "allow_unfiltered_promisc", .type = HV_PROP_BOOL, .brands = HV_BRANDS_HVM,
	 .flags = CU, .default_doc = "false",
	 .doc = "Let a hardware VM use several MAC addresses on this NIC (nested VMs). Accepted "
	        "and stored."},
	{.name = "allowed_ips", .type = HV_PROP_LIST, .brands = HV_BRANDS_ALL, .flags = CU,
	 .max = HV_VM_MAX_LIST, .format = HV_PROP_FMT_IP_CIDR,
	 .doc = "Further IPv4 or IPv6 addresses or CIDR ranges the VM may send from, besides "
	        "its ips. Applied live to a running VM."},
	{.name = "allowed_dhcp_cids", .type = HV_PROP_LIST, .brands = JMLK, .flags = CU, .max = 20,
	 .format = HV_PROP_FMT_DHCP_CID,
	 .doc = "DHCP client identifiers the VM may use, as 0x and hex digits, at most 20. "
	        "Accepted and stored."},
	{.name = "blocked_outgoing_ports", .type = HV_PROP_LIST, .brands = HV_BRANDS_ALL,
	 .flags = CU, .max = HV_VM_MAX_LIST, .format = HV_PROP_FMT_PORT,
	 .doc = "TCP and UDP ports (1 to 65535) on which the NIC may not send. Accepted and "
	        "stored."},
	{.name = "max_bandwidth", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = CU,
	 .min = 0, .max = 17000, .default_doc = "0 (no cap)",
	 .doc = "A Sable extension in Crossbow's spirit (its maxbw): the NIC's bandwidth cap "
	        "in Mbit/s, 1 to 17000 (the most a tbf qdisc takes), applied to each direction "
	        "separately (traffic into the VM and out of it); 0 means none. Applied live to "
	        "a running VM."},
	{.name = "vrrp_vrid", .type = HV_PROP_INT, .brands = HV_BRANDS_OS, .flags = CU, .min = 0,
	 .max = 255,
	 .doc = "The VRRP router id of the NIC (0 to 255); SmartOS derives the MAC from it. "
	        "Sable accepts and stores it; VRRP NICs are not implemented."},
	{.name = "vrrp_primary_ip", .type = HV_PROP_STRING, .brands = HV_BRANDS_OS, .flags = CU,
	 .max = 45, .format = HV_PROP_FMT_IP,
	 .doc = "The source address of VRRP advertisements, one of the VM's other addresses. "
	        "Accepted and stored only."},
};

/* disks[] (§2.4): hardware VMs. */
static const struct hv_prop disk_members[] = {
	{.name = "path", .type = HV_PROP_STRING, .brands = HV_BRANDS_HVM, .flags = HV_PROP_C,
	 .max = 1024, .format = HV_PROP_FMT_PATH, .default_doc = "generated",
	 .doc = "The disk's device path, which names it in update_disks and remove_disks. Sable "
	        "generates it for a new disk from the VM's volume in the pool "
	        "(<zpool>/<uuid>-disk<N>); a given path is used as is together with nocreate."},
	{.name = "boot", .type = HV_PROP_BOOL, .brands = HV_BRANDS_HVM, .flags = CU,
	 .default_doc = "false",
	 .doc = "Whether the guest boots from this disk; only one disk should have it."},
	{.name = "image_uuid", .type = HV_PROP_UUID, .brands = HV_BRANDS_HVM, .flags = HV_PROP_C,
	 .doc = "Create the disk as a clone of this installed zvol image. With it, size is not "
	        "allowed; image_size comes from the image's manifest."},
	{.name = "image_size", .type = HV_PROP_INT, .brands = HV_BRANDS_HVM, .flags = HV_PROP_C,
	 .min = 1, .max = HV_VM_MAX_MIB, .default_doc = "from the image's manifest",
	 .doc = "The size of the image in MiB; only together with image_uuid, and it must match "
	        "the manifest."},
	{.name = "image_name", .type = HV_PROP_STRING, .brands = HV_BRANDS_HVM, .flags = HV_PROP_C,
	 .max = 256, .format = HV_PROP_FMT_PRINTABLE,
	 .doc = "Deprecated: the image's name. Accepted and stored, never used."},
	{.name = "size", .type = HV_PROP_INT, .brands = HV_BRANDS_HVM, .flags = HV_PROP_C,
	 .min = 1, .max = HV_VM_MAX_MIB,
	 .doc = "The disk's size in MiB, required unless image_uuid is given or the disk is a "
	        "cdrom. SmartOS can grow a bhyve disk by update; a kvm disk's size is fixed."},
	{.name = "media", .type = HV_PROP_STRING, .brands = HV_BRANDS_HVM, .flags = CU, .max = 8,
	 .values = "disk|cdrom", .default_doc = "disk",
	 .doc = "disk, or cdrom for an ISO image given by path."},
	{.name = "model", .type = HV_PROP_STRING, .brands = HV_BRANDS_HVM, .flags = CU, .max = 8,
	 .values = "virtio|ide|scsi", .default_doc = "disk_driver, else the first disk's model",
	 .doc = "The disk controller QEMU emulates: virtio, ide or scsi (bhyve's ahci and nvme "
	        "are not offered). Without it, disk_driver and then the first disk's model are "
	        "used; a disk without any of them is an error."},
	{.name = "block_size", .type = HV_PROP_INT, .brands = HV_BRANDS_HVM, .flags = HV_PROP_C,
	 .min = 512, .max = 131072, .format = HV_PROP_FMT_POW2, .default_doc = "8192",
	 .doc = "The volume's block size in bytes, a power of two from 512 to 131072; only when "
	        "the disk is created, and not with image_uuid."},
	{.name = "compression", .type = HV_PROP_STRING, .brands = HV_BRANDS_HVM, .flags = CU,
	 .max = 8, .format = HV_PROP_FMT_COMPRESSION, .default_doc = "off",
	 .doc = "The compression property of the disk's volume (on, off, gzip, gzip-1 to "
	        "gzip-9, lz4, lzjb, zle); Sable accepts and stores it."},
	{.name = "refreservation", .type = HV_PROP_INT, .brands = HV_BRANDS_HVM, .flags = CU,
	 .min = 0, .max = HV_VM_MAX_MIB, .default_doc = "size",
	 .doc = "Space in MiB reserved for the disk in the pool; accepted and stored."},
	{.name = "nocreate", .type = HV_PROP_BOOL, .brands = HV_BRANDS_HVM, .flags = HV_PROP_C,
	 .default_doc = "false",
	 .doc = "Do not create a volume: the disk's path already exists."},
	{.name = "zpool", .type = HV_PROP_STRING, .brands = HV_BRANDS_HVM, .flags = HV_PROP_C,
	 .max = 64, .format = HV_PROP_FMT_NAME, .default_doc = "zones",
	 .doc = "The pool that holds the disk's volume. Sable has one pool, zones."},
	{.name = "uuid", .type = HV_PROP_UUID, .brands = HV_BRANDS_B, .flags = HV_PROP_C,
	 .default_doc = "assigned",
	 .doc = "bhyve: the disk's own identifier, unique in the VM."},
	{.name = "pci_slot", .type = HV_PROP_STRING, .brands = HV_BRANDS_B, .flags = CU, .max = 16,
	 .format = HV_PROP_FMT_PCI_SLOT,
	 .doc = "bhyve: the disk's PCI slot, as bus:dev:func, dev:func or dev."},
	{.name = "guest_block_size", .type = HV_PROP_STRING, .brands = HV_BRANDS_B,
	 .flags = HV_PROP_C, .max = 16, .format = HV_PROP_FMT_PRINTABLE,
	 .doc = "bhyve: the block size the guest sees, \"512\" or \"512/4096\" "
	        "(logical/physical)."},
	{.name = "notrim", .type = HV_PROP_BOOL, .brands = HV_BRANDS_B, .flags = CU,
	 .default_doc = "false", .doc = "bhyve: turn TRIM off for the disk."},
	{.name = "dangerous_allow_shrink", .type = HV_PROP_BOOL, .brands = HV_BRANDS_B,
	 .flags = HV_PROP_U,
	 .doc = "bhyve, update_disks only: allow this update to shrink the disk. Never stored."},
	{.name = "zfs_filesystem", .type = HV_PROP_STRING, .brands = HV_BRANDS_HVM,
	 .flags = HV_PROP_RO,
	 .doc = "The name of the disk's volume in the pool."},
};

/* filesystems[] (§2.6): OS VMs. */
static const struct hv_prop filesystem_members[] = {
	{.name = "target", .type = HV_PROP_STRING, .brands = HV_BRANDS_OS,
	 .required = HV_BRANDS_OS, .flags = HV_PROP_C, .max = 1024, .format = HV_PROP_FMT_PATH,
	 .doc = "Where the filesystem appears in the zone, an absolute path; it names the entry "
	        "in update_filesystems and remove_filesystems."},
	{.name = "type", .type = HV_PROP_STRING, .brands = HV_BRANDS_OS, .required = HV_BRANDS_OS,
	 .flags = CU, .max = 32, .format = HV_PROP_FMT_NAME,
	 .doc = "The filesystem type. lofs (a loopback mount of a host directory) becomes a "
	        "bind mount in the zone's mount namespace; other types are mounted from source "
	        "with that type."},
	{.name = "source", .type = HV_PROP_STRING, .brands = HV_BRANDS_OS,
	 .required = HV_BRANDS_OS, .flags = CU, .max = 1024, .format = HV_PROP_FMT_PATH,
	 .doc = "The host path (or device) that is mounted, an absolute path."},
	{.name = "raw", .type = HV_PROP_STRING, .brands = HV_BRANDS_OS, .flags = CU, .max = 1024,
	 .format = HV_PROP_FMT_PATH,
	 .doc = "A raw device for the filesystem (an illumos fsck device); accepted and stored."},
	{.name = "options", .type = HV_PROP_LIST, .brands = HV_BRANDS_OS, .flags = CU, .max = 32,
	 .format = HV_PROP_FMT_PRINTABLE,
	 .doc = "Mount options, such as [\"ro\", \"nodevices\"]; ro makes the mount read-only."},
};

/* pci_devices[] (§2.5): bhyve only. */
static const struct hv_prop pci_device_members[] = {
	{.name = "path", .type = HV_PROP_STRING, .brands = HV_BRANDS_B, .flags = HV_PROP_C,
	 .max = 1024, .format = HV_PROP_FMT_PATH,
	 .doc = "The /devices path of the passed-through device; it names the entry."},
	{.name = "pci_slot", .type = HV_PROP_STRING, .brands = HV_BRANDS_B, .flags = CU, .max = 16,
	 .format = HV_PROP_FMT_PCI_SLOT,
	 .doc = "The guest's PCI slot, as bus:dev:func, dev:func or dev."},
	{.name = "model", .type = HV_PROP_STRING, .brands = HV_BRANDS_B, .flags = CU, .max = 16,
	 .values = "passthru", .doc = "Must be passthru when given."},
};

/* snapshots[] (§2.7): computed. */
static const struct hv_prop snapshot_members[] = {
	{.name = "name", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL, .flags = HV_PROP_RO,
	 .doc = "The snapshot's name, as given to vmadm create-snapshot."},
	{.name = "created_at", .type = HV_PROP_TIMESTAMP, .brands = HV_BRANDS_ALL,
	 .flags = HV_PROP_RO, .doc = "When the snapshot was taken, ISO 8601 in UTC."},
	{.name = "size", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = HV_PROP_RO,
	 .doc = "The space the snapshot holds, in MiB."},
};

#define ARRAY(m, k) .type = HV_PROP_ARRAY, .members = m, .n_members = ELEMENTSOF(m), .key = k

/* The top-level table (§2.2 and §2.7), sorted by name. */
static const struct hv_prop props[] = {
	{.name = "alias", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL,
	 .flags = CUL | HV_PROP_NULL_CLEARS, .max = 256, .format = HV_PROP_FMT_PRINTABLE,
	 .header = "ALIAS", .width = 10,
	 .doc = "A label for people, shown by vmadm list; it need not be unique. Sable keeps it "
	        "in the VM's record and does nothing else with it."},
	{.name = "archive_on_delete", .type = HV_PROP_BOOL, .brands = HV_BRANDS_ALL, .flags = CUL,
	 .default_doc = "false",
	 .doc = "SmartOS saves a deleted VM's record, logs and cores under "
	        "/zones/archive/<uuid> when this is set. Sable accepts and stores it; archiving "
	        "is not implemented."},
	{.name = "autoboot", .type = HV_PROP_BOOL, .brands = HV_BRANDS_ALL, .flags = CUL,
	 .default_doc = "true", .header = "AUTOBOOT", .width = 8,
	 .doc = "Whether the VM is started when the host boots. vmadm start sets it to true and "
	        "vmadm stop sets it to false."},
	{.name = "bhyve_extra_opts", .type = HV_PROP_STRING, .brands = HV_BRANDS_B,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = HV_VM_MAX_STRING,
	 .format = HV_PROP_FMT_PRINTABLE,
	 .doc = "bhyve: options appended to the bhyve command line. Sable does not run bhyve; "
	        "use the kvm brand, whose qemu_extra_opts is the counterpart."},
	{.name = "billing_id", .type = HV_PROP_UUID, .brands = HV_BRANDS_ALL, .flags = CUL,
	 .default_doc = "00000000-0000-0000-0000-000000000000", .header = "BILLING_ID",
	 .width = 36,
	 .doc = "An opaque identifier for billing systems, stored in the record."},
	{.name = "boot", .type = HV_PROP_STRING, .brands = HV_BRANDS_HVM,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = 32, .format = HV_PROP_FMT_BOOT,
	 .default_doc = "order=cd",
	 .doc = "The boot order of a hardware VM, in the syntax of vmadm start's order= option: "
	        "order=X[,once=Y], where X and Y are made of c (disk), d (CD-ROM) and n "
	        "(network). Sable hands it to QEMU's -boot option."},
	{.name = "boot_timestamp", .type = HV_PROP_TIMESTAMP, .brands = HV_BRANDS_ALL,
	 .flags = HV_PROP_RO, .header = "BOOT_TIMESTAMP", .width = 24,
	 .doc = "When the VM last booted (ISO 8601, UTC), as its zoneadmd recorded it; absent "
	        "when it has not run since the host booted."},
	{.name = "bootrom", .type = HV_PROP_STRING, .brands = HV_BRANDS_B,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = 1024, .format = HV_PROP_FMT_BOOTROM,
	 .default_doc = "bios",
	 .doc = "bhyve: the firmware, bios, uefi or a path in the zone. Sable does not run "
	        "bhyve; use the kvm brand."},
	{.name = "brand", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL, .flags = HV_PROP_C,
	 .max = 16, .values = "joyent|joyent-minimal|lx|kvm|bhyve", .header = "BRAND", .width = 14,
	 .doc = "The kind of VM. Sable runs lx (a container: a zone of Linux namespaces and "
	        "control groups sharing the host's kernel) and kvm (a QEMU/KVM virtual machine "
	        "inside a zone). joyent and joyent-minimal need an illumos kernel and bhyve "
	        "needs illumos's hypervisor, so Sable refuses them with an error that names the "
	        "brand to use instead. A create payload must name its brand."},
	{.name = "com1", .type = HV_PROP_STRING, .brands = HV_BRANDS_B,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = 1024, .format = HV_PROP_FMT_PRINTABLE,
	 .doc = "bhyve: what the first serial port is wired to. Not used by Sable."},
	{.name = "com2", .type = HV_PROP_STRING, .brands = HV_BRANDS_B,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = 1024, .format = HV_PROP_FMT_PRINTABLE,
	 .doc = "bhyve: what the second serial port is wired to. Not used by Sable."},
	{.name = "cpu_cap", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL,
	 .flags = CUL | HV_PROP_NULL_CLEARS, .min = 0, .max = 100 * 4096, .header = "CPU_CAP",
	 .width = 7, .default_doc = "none",
	 .doc = "The most CPU the VM may use, in percent of one CPU: 100 is one CPU, 350 three "
	        "and a half; 0 or null means no cap. Sable sets it as the zone's control group "
	        "CPU quota (cpu.max, or cpu.cfs_quota_us on cgroup v1)."},
	{.name = "cpu_shares", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = CUL,
	 .min = 1, .max = INT32_MAX, .header = "CPU_SHARE", .width = 9, .default_doc = "100",
	 .doc = "The VM's weight when VMs compete for CPU, relative to the others (SmartOS's "
	        "fair-share scheduler). Sable sets it as the zone's control group CPU weight. "
	        "Values above 65535 are lowered to 65535."},
	{.name = "cpu_type", .type = HV_PROP_STRING, .brands = HV_BRANDS_K,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = 8, .values = "qemu64|host",
	 .header = "CPU_TYPE", .width = 8, .default_doc = "qemu64",
	 .doc = "The CPU QEMU shows the guest: qemu64, a portable baseline, or host, the host's "
	        "own CPU with all its features."},
	{.name = "create_only", .type = HV_PROP_BOOL, .brands = HV_BRANDS_ALL, .flags = HV_PROP_C,
	 .default_doc = "false",
	 .doc = "Internal: create the VM's record and zone configuration only; vmadm install "
	        "finishes the job."},
	{.name = "create_timestamp", .type = HV_PROP_TIMESTAMP, .brands = HV_BRANDS_ALL,
	 .flags = HV_PROP_RO | HV_PROP_STORED, .header = "CREATE_TIMESTAMP", .width = 24,
	 .doc = "When the VM was created, ISO 8601 in UTC with milliseconds "
	        "(2011-12-31T06:38:42.457Z). Set once at create and kept in the record."},
	{.name = "customer_metadata", .type = HV_PROP_MAP, .brands = HV_BRANDS_ALL, .flags = CUL,
	 .max = HV_VM_MAX_MAP, .default_doc = "{}",
	 .doc = "The user's key/value store that the guest reads through the metadata protocol "
	        "(mdata-get). Values must be strings, numbers or booleans; keys ending in _pw "
	        "are served from internal_metadata instead. An update uses "
	        "set_customer_metadata and remove_customer_metadata, and a running guest sees "
	        "the change at once."},
	{.name = "datacenter_name", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL,
	 .flags = HV_PROP_RO,
	 .doc = "The datacenter's name from the node config (sysinfo)."},
	{.name = "dataset_uuid", .type = HV_PROP_UUID, .brands = HV_BRANDS_OS,
	 .flags = HV_PROP_C | HV_PROP_ALIAS, .alias_of = "image_uuid",
	 .doc = "Deprecated name of image_uuid; Sable stores it as image_uuid."},
	{.name = "datasets", .type = HV_PROP_LIST, .brands = HV_BRANDS_ALL, .flags = HV_PROP_RO,
	 .doc = "The datasets delegated to the VM (its data dataset when delegate_dataset is "
	        "set)."},
	{.name = "delegate_dataset", .type = HV_PROP_BOOL, .brands = HV_BRANDS_OS,
	 .flags = HV_PROP_C, .default_doc = "false",
	 .doc = "Create the dataset <zfs_filesystem>/data for the zone's own data, which "
	        "survives a reprovision. Sable creates it in its pool and makes it available in "
	        "the zone; there is no zfs command inside a zone to manage it."},
	{.name = "disk_driver", .type = HV_PROP_STRING, .brands = HV_BRANDS_HVM,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = 8, .values = "virtio|ide|scsi",
	 .doc = "The default model of the VM's disks (disks.*.model)."},
	{.name = "disks", ARRAY(disk_members, "path"), .brands = HV_BRANDS_HVM, .flags = CU,
	 .max = HV_VM_MAX_DISKS,
	 .doc = "The hardware VM's disks, at most 32, each a volume in the pool (see DISKS). An "
	        "update uses add_disks, update_disks (by path) and remove_disks (a list of "
	        "paths)."},
	{.name = "dns_domain", .type = HV_PROP_STRING, .brands = HV_BRANDS_OS, .flags = CU,
	 .max = 253, .format = HV_PROP_FMT_HOSTNAME, .default_doc = "local", .header = "DOMAIN",
	 .width = 32,
	 .doc = "The zone's DNS domain, written into its /etc/hosts at create. An update is "
	        "accepted but, as in SmartOS, changes nothing inside the zone."},
	{.name = "do_not_inventory", .type = HV_PROP_BOOL, .brands = HV_BRANDS_ALL,
	 .flags = CUL | HV_PROP_HIDE_FALSE, .default_doc = "false", .header = "DNI", .width = 5,
	 .doc = "Tells external management systems to ignore the VM; shown only when true."},
	{.name = "docker", .type = HV_PROP_BOOL, .brands = HV_BRANDS_M | HV_BRANDS_L, .flags = CU,
	 .default_doc = "false", .header = "DOCKER", .width = 6,
	 .doc = "Marks a Docker-style zone (SIGTERM to stop, restart policies, the docker: "
	        "metadata namespace). Sable accepts and stores it; Docker behaviour is not "
	        "implemented."},
	{.name = "exit_status", .type = HV_PROP_INT, .brands = HV_BRANDS_OS, .flags = HV_PROP_RO,
	 .header = "EXIT", .width = 4,
	 .doc = "How the zone's last init ended: its exit code, or 128 plus the signal that "
	        "killed it, as zoneadmd recorded it."},
	{.name = "exit_timestamp", .type = HV_PROP_TIMESTAMP, .brands = HV_BRANDS_OS,
	 .flags = HV_PROP_RO, .header = "EXIT_TIMESTAMP", .width = 24,
	 .doc = "When the zone's last init ended."},
	{.name = "filesystems", ARRAY(filesystem_members, "target"), .brands = HV_BRANDS_OS,
	 .flags = CU, .max = HV_VM_MAX_FILESYSTEMS,
	 .doc = "Host filesystems mounted into the zone, at most 64 (see FILESYSTEMS); Sable "
	        "mounts them in the zone's own mount namespace, never on the host. An update "
	        "uses add_filesystems, update_filesystems (by target) and remove_filesystems."},
	{.name = "firewall_enabled", .type = HV_PROP_BOOL, .brands = HV_BRANDS_ALL,
	 .flags = CU | HV_PROP_HIDE_FALSE, .default_doc = "false", .header = "FIREWALL_ENABLED",
	 .width = 16,
	 .doc = "Apply the firewall rules (fwadm in SmartOS) to the VM. Sable accepts and "
	        "stores it; shown only when true."},
	{.name = "flexible_disk_size", .type = HV_PROP_INT, .brands = HV_BRANDS_B,
	 .flags = CUL | HV_PROP_NULL_CLEARS, .min = 0, .max = HV_VM_MAX_MIB,
	 .header = "FLEX_DISK_SIZE", .width = 14,
	 .doc = "bhyve: the space in MiB all disks and their snapshots may use together."},
	{.name = "free_space", .type = HV_PROP_INT, .brands = HV_BRANDS_B, .flags = HV_PROP_RO,
	 .header = "FREE_SPACE", .width = 14,
	 .doc = "bhyve: what flexible_disk_size leaves unused, in MiB."},
	{.name = "fs_allowed", .type = HV_PROP_LIST, .brands = HV_BRANDS_OS,
	 .flags = CU | HV_PROP_AS_STRING | HV_PROP_NULL_CLEARS, .max = HV_VM_MAX_LIST,
	 .format = HV_PROP_FMT_NAME,
	 .doc = "Extra filesystem types the zone may mount (an illumos zone setting such as "
	        "ufs,pcfs,tmpfs); an empty string unsets it. Sable accepts and stores it: what "
	        "a zone may mount follows from its capabilities and seccomp filter."},
	{.name = "headnode_id", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL,
	 .flags = HV_PROP_RO,
	 .doc = "The head node's identifier, from sysinfo."},
	{.name = "hostname", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL, .flags = CU,
	 .max = 253, .format = HV_PROP_FMT_HOSTNAME, .default_doc = "the zonename (the uuid)",
	 .header = "HOSTNAME", .width = 32,
	 .doc = "The VM's host name: dotted labels of letters, digits and '-' (RFC 1123), each "
	        "at most 63 characters. Sable sets it as an lx zone's host name (its UTS "
	        "namespace) when the zone boots; a kvm guest learns it from the metadata "
	        "service. Without one it is the zonename, which is the uuid unless an lx "
	        "payload chose another that is also a valid host name."},
	{.name = "hvm", .type = HV_PROP_BOOL, .brands = HV_BRANDS_ALL, .flags = HV_PROP_RO,
	 .header = "HVM", .width = 5, .doc = "Whether the VM is a hardware VM (kvm)."},
	{.name = "image_uuid", .type = HV_PROP_UUID, .brands = HV_BRANDS_ALL,
	 .required = HV_BRANDS_OS, .flags = HV_PROP_C, .header = "IMAGE_UUID", .width = 36,
	 .doc = "The installed image the zone's root is cloned from; required for lx, whose "
	        "image must be of type lx-dataset or docker. For kvm it names the zone-root "
	        "image, which is almost never wanted: a kvm VM's boot disk comes from "
	        "disks.*.image_uuid."},
	{.name = "indestructible_delegated", .type = HV_PROP_BOOL, .brands = HV_BRANDS_ALL,
	 .flags = CUL | HV_PROP_HIDE_FALSE, .default_doc = "false", .header = "INDESTR_DATA",
	 .width = 12,
	 .doc = "While true, vmadm delete refuses to delete the VM, to protect its delegated "
	        "dataset; shown only when true."},
	{.name = "indestructible_zoneroot", .type = HV_PROP_BOOL, .brands = HV_BRANDS_ALL,
	 .flags = CUL | HV_PROP_HIDE_FALSE, .default_doc = "false", .header = "INDESTR_ROOT",
	 .width = 12,
	 .doc = "While true, vmadm delete and vmadm reprovision refuse to touch the zone's root "
	        "dataset; shown only when true."},
	{.name = "init_name", .type = HV_PROP_STRING, .brands = HV_BRANDS_OS,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = 1024, .format = HV_PROP_FMT_PATH,
	 .default_doc = "/sbin/init",
	 .doc = "The program the zone runs as its init instead of /sbin/init, an absolute path "
	        "in the zone. Takes effect at the next boot."},
	{.name = "init_restarts", .type = HV_PROP_INT, .brands = HV_BRANDS_OS, .flags = HV_PROP_RO,
	 .doc = "How often zoneadmd restarted the zone's init since the zone booted."},
	{.name = "internal_metadata", .type = HV_PROP_MAP, .brands = HV_BRANDS_ALL, .flags = CUL,
	 .max = HV_VM_MAX_MAP, .default_doc = "{}",
	 .doc = "Operator-owned metadata that the guest can read but not change. An update uses "
	        "set_internal_metadata and remove_internal_metadata."},
	{.name = "internal_metadata_namespaces", .type = HV_PROP_LIST, .brands = HV_BRANDS_ALL,
	 .flags = CUL | HV_PROP_NULL_CLEARS, .max = HV_VM_MAX_LIST, .format = HV_PROP_FMT_NAME,
	 .default_doc = "[]",
	 .doc = "Namespaces (the part of a key before ':') that the metadata service serves "
	        "from internal_metadata, read-only for the guest, as docker uses docker:."},
	{.name = "kernel_version", .type = HV_PROP_STRING, .brands = HV_BRANDS_L,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = 32, .format = HV_PROP_FMT_VERSION,
	 .doc = "The Linux version an illumos lx zone emulates (such as 4.3.0), usually the "
	        "image's tags.kernel_version. Sable's zones run the host's kernel, so it is "
	        "accepted and stored for compatibility but not required, unlike in SmartOS."},
	{.name = "last_modified", .type = HV_PROP_TIMESTAMP, .brands = HV_BRANDS_ALL,
	 .flags = HV_PROP_RO, .doc = "When the VM's record last changed."},
	{.name = "limit_priv", .type = HV_PROP_LIST, .brands = HV_BRANDS_ALL,
	 .flags = CU | HV_PROP_AS_STRING, .max = HV_VM_MAX_LIST, .format = HV_PROP_FMT_PRIV,
	 .default_doc = "default (kvm: "
	                "default,-file_link_any,-net_access,-proc_fork,-proc_info,-proc_session)",
	 .doc = "The zone's illumos privilege set, as a comma-separated list of privilege "
	        "names, each optionally preceded by - or ! to remove it. Sable accepts and "
	        "stores it; a zone's powers on Linux are its capability set and seccomp filter, "
	        "which do not follow this list."},
	{.name = "maintain_resolvers", .type = HV_PROP_BOOL, .brands = HV_BRANDS_OS, .flags = CU,
	 .default_doc = "false",
	 .doc = "When true, an update of resolvers rewrites the zone's /etc/resolv.conf."},
	{.name = "max_locked_memory", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = CUL,
	 .min = 1, .max = HV_VM_MAX_MIB, .default_doc = "max_physical_memory",
	 .header = "MAX_LOCKED", .width = 10,
	 .doc = "The memory in MiB the zone may lock; never above max_physical_memory (it is "
	        "lowered to it). Sable sets it as the RLIMIT_MEMLOCK of the zone's init."},
	{.name = "max_lwps", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = CUL, .min = 1,
	 .max = 4194304, .default_doc = "2000", .header = "MAX_LWP", .width = 7,
	 .doc = "The most threads the zone may have (illumos LWPs). Sable sets it as the zone's "
	        "control group pids limit, which on Linux counts processes and threads alike."},
	{.name = "max_msg_ids", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = CU,
	 .min = 0, .max = INT32_MAX, .default_doc = "4096",
	 .doc = "The illumos limit on System V message queues. Sable accepts and stores it; a "
	        "zone has its own IPC namespace with Linux's limits."},
	{.name = "max_physical_memory", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = CUL,
	 .min = 1, .max = HV_VM_MAX_MIB, .default_doc = "lx: ram, else 256; kvm: ram + 1024",
	 .header = "MAX_PHYS", .width = 8,
	 .doc = "The memory in MiB the VM may use: for lx it is the zone's RAM, set as its "
	        "memory control group limit (memory.max, or memory.limit_in_bytes on cgroup "
	        "v1). For kvm it bounds QEMU and the guest together and is raised to at least "
	        "ram + 256. When an update changes only this, max_locked_memory and max_swap "
	        "keep their distance to it and tmpfs its ratio."},
	{.name = "max_sem_ids", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = CU,
	 .min = 0, .max = INT32_MAX, .default_doc = "4096",
	 .doc = "The illumos limit on System V semaphore sets. Accepted and stored only."},
	{.name = "max_shm_ids", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = CU,
	 .min = 0, .max = INT32_MAX, .default_doc = "4096",
	 .doc = "The illumos limit on System V shared memory segments. Accepted and stored only."},
	{.name = "max_shm_memory", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = CU,
	 .min = 1, .max = HV_VM_MAX_MIB, .default_doc = "max_physical_memory",
	 .doc = "The illumos limit on System V shared memory, in MiB. Accepted and stored only; "
	        "shared memory counts against the memory limit on Linux."},
	{.name = "max_swap", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = CUL, .min = 1,
	 .max = HV_VM_MAX_MIB, .default_doc = "max_physical_memory, at least 256",
	 .header = "MAX_SWAP", .width = 8,
	 .doc = "The memory plus swap in MiB the VM may use, as SmartOS counts it; raised to "
	        "max_physical_memory and to 256 when lower. Sable sets the zone's swap limit to "
	        "the difference (memory.swap.max, or memory.memsw.limit_in_bytes on cgroup v1)."},
	{.name = "mdata_exec_timeout", .type = HV_PROP_INT, .brands = HV_BRANDS_OS,
	 .flags = HV_PROP_C, .min = 0, .max = 86400, .default_doc = "300",
	 .doc = "Seconds the in-zone metadata service may take to run the user-script at boot; "
	        "0 means no limit. Only at create, as in SmartOS."},
	{.name = "missing", .type = HV_PROP_OBJECT, .brands = HV_BRANDS_ALL, .flags = HV_PROP_RO,
	 .doc = "While vmadm receive runs: the parts of the VM that have not arrived yet."},
	{.name = "nic_driver", .type = HV_PROP_STRING, .brands = HV_BRANDS_HVM,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = 16, .values = "virtio|e1000|rtl8139",
	 .doc = "The default model of the VM's NICs (nics.*.model)."},
	{.name = "nics", ARRAY(nic_members, "mac"), .brands = HV_BRANDS_ALL, .flags = CU,
	 .max = HV_VM_MAX_NICS,
	 .doc = "The VM's network interfaces, at most 32 (see NICS). An update uses add_nics, "
	        "update_nics (by mac) and remove_nics (a list of MACs)."},
	{.name = "nowait", .type = HV_PROP_BOOL, .brands = HV_BRANDS_OS, .flags = HV_PROP_C,
	 .default_doc = "false",
	 .doc = "Let create return once the zone has started, without waiting for provisioning "
	        "to finish. Not for kvm: SmartOS's create strips it silently, Sable's "
	        "validation refuses it."},
	{.name = "owner_uuid", .type = HV_PROP_UUID, .brands = HV_BRANDS_ALL, .flags = CUL,
	 .default_doc = "00000000-0000-0000-0000-000000000000", .header = "OWNER_UUID",
	 .width = 36,
	 .doc = "The VM's owner, opaque to Sable; stored in the record."},
	{.name = "package_name", .type = HV_PROP_STRING, .brands = JMLK,
	 .flags = CUL | HV_PROP_NULL_CLEARS, .max = 256, .format = HV_PROP_FMT_PRINTABLE,
	 .header = "PACKAGE_NAME", .width = 32,
	 .doc = "Triton's package name (deprecated); stored only."},
	{.name = "package_version", .type = HV_PROP_STRING, .brands = JMLK,
	 .flags = CUL | HV_PROP_NULL_CLEARS, .max = 64, .format = HV_PROP_FMT_PRINTABLE,
	 .header = "PACKAGE_VER", .width = 11,
	 .doc = "Triton's package version (deprecated); stored only."},
	{.name = "pci_devices", ARRAY(pci_device_members, "path"), .brands = HV_BRANDS_B,
	 .flags = CU, .max = HV_VM_MAX_PCI_DEVICES,
	 .doc = "bhyve: PCI devices passed through to the guest. Sable does not run bhyve; use "
	        "the kvm brand."},
	{.name = "pid", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = HV_PROP_RO,
	 .header = "PID", .width = 6,
	 .doc = "The host process id of the zone's init while the VM runs."},
	{.name = "platform_buildstamp", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL,
	 .flags = HV_PROP_RO,
	 .doc = "The build stamp of the running Sable, from sysinfo."},
	{.name = "qemu_extra_opts", .type = HV_PROP_STRING, .brands = HV_BRANDS_K,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = HV_VM_MAX_STRING,
	 .format = HV_PROP_FMT_PRINTABLE, .header = "QEMU_EXTRA_OPTS", .width = 15,
	 .doc = "Options appended to the QEMU command line (for debugging), split at spaces. "
	        "Takes effect at the next boot."},
	{.name = "qemu_opts", .type = HV_PROP_STRING, .brands = HV_BRANDS_K,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = HV_VM_MAX_STRING,
	 .format = HV_PROP_FMT_PRINTABLE, .default_doc = "Sable's VNC, USB and tablet options",
	 .doc = "Replaces all of Sable's default QEMU options (for debugging)."},
	{.name = "quota", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = CUL, .min = 0,
	 .max = INT64_C(1) << 20, .default_doc = "10", .header = "QUOTA", .width = 5,
	 .doc = "The space in GiB the zone's dataset may use; 0 means no quota. Sable sets it "
	        "as the btrfs quota group limit of the zone's dataset (on a dir pool it is "
	        "stored only)."},
	{.name = "ram", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = CU, .min = 1,
	 .max = HV_VM_MAX_MIB, .default_doc = "256 (kvm)", .header = "RAM", .width = 7,
	 .doc = "The guest's RAM in MiB for kvm, given to QEMU at the next boot. For lx it only "
	        "seeds max_physical_memory at create; vmadm list shows max_physical_memory as "
	        "an lx zone's RAM."},
	{.name = "resolvers", .type = HV_PROP_LIST, .brands = HV_BRANDS_ALL,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = 16, .format = HV_PROP_FMT_IP,
	 .doc = "DNS servers, IPv4 or IPv6 addresses. For lx they are written into the zone's "
	        "/etc/resolv.conf at create (and at updates when maintain_resolvers is set); a "
	        "kvm guest gets them through DHCP and the metadata key sdc:resolvers."},
	{.name = "restart_init", .type = HV_PROP_BOOL, .brands = HV_BRANDS_OS, .flags = CU,
	 .default_doc = "true",
	 .doc = "Whether zoneadmd restarts the zone when its init exits; when false the zone "
	        "stops."},
	{.name = "routes", .type = HV_PROP_ROUTES, .brands = HV_BRANDS_ALL, .flags = CU,
	 .max = HV_VM_MAX_ROUTES,
	 .doc = "Static routes, at most 256: each maps a destination (an address or a CIDR "
	        "network) to a gateway address, or to nics[N] or macs[MAC] for a link-local "
	        "route through that NIC. An update uses set_routes and remove_routes."},
	{.name = "server_uuid", .type = HV_PROP_UUID, .brands = HV_BRANDS_ALL, .flags = HV_PROP_RO,
	 .doc = "The host's uuid, from sysinfo."},
	{.name = "snapshots", ARRAY(snapshot_members, "name"), .brands = HV_BRANDS_ALL,
	 .flags = HV_PROP_RO,
	 .doc = "The VM's snapshots made by vmadm create-snapshot, newest first, each with its "
	        "name, created_at and size in MiB."},
	{.name = "spice_opts", .type = HV_PROP_STRING, .brands = HV_BRANDS_K,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = HV_VM_MAX_STRING,
	 .format = HV_PROP_FMT_PRINTABLE,
	 .doc = "Experimental: options for QEMU's SPICE display."},
	{.name = "spice_password", .type = HV_PROP_STRING, .brands = HV_BRANDS_K,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = 256, .format = HV_PROP_FMT_PRINTABLE,
	 .doc = "Experimental: the SPICE display's password, visible on the host."},
	{.name = "spice_port", .type = HV_PROP_INT, .brands = HV_BRANDS_K,
	 .flags = CU | HV_PROP_NULL_CLEARS, .min = -1, .max = 65535,
	 .doc = "Experimental: the SPICE display's TCP port; 0 picks a free port, -1 turns it "
	        "off."},
	{.name = "state", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL, .flags = HV_PROP_RO,
	 .header = "STATE", .width = 16,
	 .values = "configured|incomplete|provisioning|failed|stopped|ready|running|stopping|"
	           "shutting_down|down|receiving|paused",
	 .doc = "The VM's state as vmadm sees it: zone_state, with installed shown as stopped "
	        "and the provisioning, failed, stopping and receiving states added; a kvm VM "
	        "is stopping while a graceful stop or reboot waits for its guest "
	        "(transition_to, transition_expire; zone_state shows shutting_down), and one "
	        "whose QEMU stopped its CPUs (QMP stop, a disk error) is paused until they run "
	        "again."},
	{.name = "tags", .type = HV_PROP_MAP, .brands = HV_BRANDS_ALL, .flags = CUL,
	 .max = HV_VM_MAX_MAP, .default_doc = "{}",
	 .doc = "Free-form labels (strings, numbers or booleans), which the guest sees as the "
	        "metadata keys sdc:tags.<key>. An update uses set_tags and remove_tags."},
	{.name = "tmpfs", .type = HV_PROP_INT, .brands = HV_BRANDS_OS, .flags = CU, .min = 0,
	 .max = HV_VM_MAX_MIB, .default_doc = "max_physical_memory", .header = "TMPFS", .width = 5,
	 .doc = "The size in MiB of the tmpfs Sable mounts on the zone's /tmp, never above "
	        "max_physical_memory (it is lowered to it); 0 means /tmp is not a tmpfs. Takes "
	        "effect at the next boot."},
	{.name = "transition_expire", .type = HV_PROP_INT, .brands = HV_BRANDS_HVM,
	 .flags = HV_PROP_RO,
	 .doc = "While a kvm VM is stopping: when its graceful stop or reboot is forced, in "
	        "ms since the epoch (the ACPI power button's press plus the timeout; QEMU is "
	        "then told to quit). Gone when the stop or reboot is over."},
	{.name = "transition_to", .type = HV_PROP_STRING, .brands = HV_BRANDS_HVM,
	 .flags = HV_PROP_RO, .values = "stopped|start|running",
	 .doc = "While a kvm VM is stopping (its guest was asked to power off with the ACPI "
	        "power button and zoneadmd waits for it): stopped for vmadm stop, start for "
	        "vmadm reboot. Gone when the VM has stopped, or runs again."},
	{.name = "type", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL, .flags = HV_PROP_RO,
	 .values = "OS|LX|KVM|BHYVE", .header = "TYPE", .width = 4,
	 .doc = "The brand's family: LX for lx, KVM for kvm (OS and BHYVE for the brands Sable "
	        "does not run)."},
	{.name = "uuid", .type = HV_PROP_UUID, .brands = HV_BRANDS_ALL, .flags = HV_PROP_C,
	 .default_doc = "generated", .header = "UUID", .width = 36,
	 .doc = "The VM's identity; Sable generates a random one when the payload has none. It "
	        "never changes."},
	{.name = "v", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = HV_PROP_RO,
	 .doc = "The version of the VM object's format, 1."},
	{.name = "vcpus", .type = HV_PROP_INT, .brands = HV_BRANDS_HVM, .flags = CU, .min = 1,
	 .max = 64, .default_doc = "1", .header = "VCPUS", .width = 5,
	 .doc = "The guest's virtual CPUs, 1 to 64; takes effect at the next boot."},
	{.name = "vga", .type = HV_PROP_STRING, .brands = HV_BRANDS_K,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = 8, .values = "cirrus|std|vmware|qxl|xenfb",
	 .default_doc = "std",
	 .doc = "The display adapter QEMU emulates (qxl and xenfb are accepted as in SmartOS "
	        "but may not work)."},
	{.name = "virtio_txburst", .type = HV_PROP_INT, .brands = HV_BRANDS_K,
	 .flags = CU | HV_PROP_NULL_CLEARS, .min = 1, .max = 65536, .default_doc = "128",
	 .doc = "SmartOS's virtio-net transmit burst; accepted and stored."},
	{.name = "virtio_txtimer", .type = HV_PROP_INT, .brands = HV_BRANDS_K,
	 .flags = CU | HV_PROP_NULL_CLEARS, .min = 1, .max = INT32_MAX, .default_doc = "200000",
	 .doc = "SmartOS's virtio-net transmit timer in ns; accepted and stored."},
	{.name = "vnc_password", .type = HV_PROP_STRING, .brands = HV_BRANDS_HVM,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = 8, .format = HV_PROP_FMT_PRINTABLE,
	 .doc = "The VNC console's password, at most 8 characters, visible on the host; takes "
	        "effect at the next boot."},
	{.name = "vnc_port", .type = HV_PROP_INT, .brands = HV_BRANDS_HVM,
	 .flags = CU | HV_PROP_NULL_CLEARS, .min = -1, .max = 65535, .default_doc = "0",
	 .doc = "The VNC console's TCP port; 0 picks a free port, -1 means no TCP listener (the "
	        "console is still reachable through its socket). It listens on the node's "
	        "admin_ip when that is a static address, as SmartOS does, and otherwise on "
	        "127.0.0.1 only."},
	{.name = "zfs_data_compression", .type = HV_PROP_STRING, .brands = HV_BRANDS_OS,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = 8, .format = HV_PROP_FMT_COMPRESSION,
	 .default_doc = "off",
	 .doc = "The compression of the delegated dataset (on, off, gzip, gzip-1 to gzip-9, "
	        "lz4, lzjb, zle). Accepted and stored."},
	{.name = "zfs_data_recsize", .type = HV_PROP_INT, .brands = HV_BRANDS_OS,
	 .flags = CU | HV_PROP_NULL_CLEARS, .min = 512, .max = 131072, .format = HV_PROP_FMT_POW2,
	 .default_doc = "131072",
	 .doc = "The record size of the delegated dataset, a power of two from 512 to 131072. "
	        "Accepted and stored; btrfs has no record size."},
	{.name = "zfs_filesystem", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL,
	 .flags = HV_PROP_RO,
	 .doc = "The zone's dataset in the pool, zones/<uuid>."},
	{.name = "zfs_filesystem_limit", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL,
	 .flags = CU | HV_PROP_NULL_CLEARS, .min = 0, .max = INT32_MAX, .default_doc = "none",
	 .doc = "The most datasets the zone's dataset may hold; null or an empty string unsets "
	        "it. Accepted and stored."},
	{.name = "zfs_io_priority", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = CUL,
	 .min = 1, .max = 1000, .default_doc = "100", .header = "IO_PRIORITY", .width = 11,
	 .doc = "The VM's weight when VMs compete for disk I/O, 1 to 1000. Sable sets it as the "
	        "zone's control group I/O weight (io.weight, or blkio.weight on cgroup v1), "
	        "which only the bfq scheduler honours."},
	{.name = "zfs_root_compression", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL,
	 .flags = CU | HV_PROP_NULL_CLEARS, .max = 8, .format = HV_PROP_FMT_COMPRESSION,
	 .default_doc = "off",
	 .doc = "The compression of the zone's dataset (on means lzjb). Accepted and stored."},
	{.name = "zfs_root_recsize", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL,
	 .flags = CU | HV_PROP_NULL_CLEARS, .min = 512, .max = 131072, .format = HV_PROP_FMT_POW2,
	 .default_doc = "131072",
	 .doc = "The record size of the zone's dataset, a power of two. Accepted and stored."},
	{.name = "zfs_snapshot_limit", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL,
	 .flags = CU | HV_PROP_NULL_CLEARS, .min = 0, .max = INT32_MAX, .default_doc = "none",
	 .doc = "The most snapshots the zone's dataset may have; null or an empty string unsets "
	        "it. Accepted and stored."},
	{.name = "zfs_storage_pool_name", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL,
	 .flags = HV_PROP_C | HV_PROP_ALIAS, .alias_of = "zpool", .max = 64,
	 .format = HV_PROP_FMT_NAME,
	 .doc = "Deprecated name of zpool; Sable stores it as zpool."},
	{.name = "zlog_max_size", .type = HV_PROP_INT, .brands = HV_BRANDS_OS,
	 .flags = CU | HV_PROP_NULL_CLEARS, .min = 0, .max = INT64_C(1) << 40,
	 .doc = "The size in bytes at which a docker zone's stdio.log is rotated. Accepted and "
	        "stored."},
	{.name = "zlog_mode", .type = HV_PROP_STRING, .brands = HV_BRANDS_M | HV_BRANDS_L,
	 .flags = HV_PROP_RO,
	 .doc = "docker: how the zone's console is logged."},
	{.name = "zlog_name", .type = HV_PROP_STRING, .brands = HV_BRANDS_M | HV_BRANDS_L,
	 .flags = HV_PROP_RO,
	 .doc = "docker: the name of the zone's console log."},
	{.name = "zone_dataset_uuid", .type = HV_PROP_UUID, .brands = HV_BRANDS_HVM,
	 .flags = HV_PROP_C,
	 .doc = "An alternative zone-root image for a hardware VM. Accepted and stored."},
	{.name = "zone_state", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL,
	 .flags = HV_PROP_RO, .header = "ZONE_STATE", .width = 10,
	 .values = "configured|incomplete|installed|ready|mounted|running|shutting_down|down",
	 .doc = "The zone's own state, as zoneadm list shows it."},
	{.name = "zonedid", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = HV_PROP_RO,
	 .doc = "A number for the zone that stays the same across boots."},
	{.name = "zoneid", .type = HV_PROP_INT, .brands = HV_BRANDS_ALL, .flags = HV_PROP_RO,
	 .header = "ZONEID", .width = 6,
	 .doc = "A number for the running zone that changes at every boot."},
	{.name = "zonename", .type = HV_PROP_STRING, .brands = HV_BRANDS_OS, .flags = HV_PROP_C,
	 .max = 64, .format = HV_PROP_FMT_NAME, .default_doc = "the uuid", .header = "ZONENAME",
	 .width = 12,
	 .doc = "The zone's name, shown for every VM. SmartOS lets an OS VM's create payload "
	        "choose it, which is discouraged; Sable accepts it for lx and stores it."},
	{.name = "zonepath", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL, .flags = HV_PROP_RO,
	 .header = "ZONEPATH", .width = 40,
	 .doc = "Where the zone's dataset is mounted on the host, <root>/zones/<uuid>."},
	{.name = "zpool", .type = HV_PROP_STRING, .brands = HV_BRANDS_ALL, .flags = HV_PROP_C,
	 .max = 64, .format = HV_PROP_FMT_NAME, .default_doc = "zones", .header = "ZPOOL",
	 .width = 12,
	 .doc = "The pool that holds the VM's datasets; Sable has one pool, zones."},
};
/* clang-format on */

const struct hv_prop *
hv_vm_props(size_t *ret_n)
{
	if (ret_n)
		*ret_n = ELEMENTSOF(props);
	return props;
}

static int
prop_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct hv_prop *)elem)->name);
}

const struct hv_prop *
hv_vm_prop_find(const char *name)
{
	if (!name)
		return NULL;
	return bsearch(name, props, ELEMENTSOF(props), sizeof(props[0]), prop_cmp);
}

const struct hv_prop *
hv_vm_prop_member(const struct hv_prop *array, const char *name)
{
	if (!array || !name)
		return NULL;
	for (size_t i = 0; i < array->n_members; i++)
		if (streq(array->members[i].name, name))
			return &array->members[i];
	return NULL;
}

/* The update forms of the map and array properties (§1.5). */
static const struct {
	const char *name, *target;
} update_forms[] = {
        {"add_disks", "disks"},
        {"add_filesystems", "filesystems"},
        {"add_nics", "nics"},
        {"add_pci_devices", "pci_devices"},
        {"remove_customer_metadata", "customer_metadata"},
        {"remove_disks", "disks"},
        {"remove_filesystems", "filesystems"},
        {"remove_internal_metadata", "internal_metadata"},
        {"remove_nics", "nics"},
        {"remove_pci_devices", "pci_devices"},
        {"remove_routes", "routes"},
        {"remove_tags", "tags"},
        {"set_customer_metadata", "customer_metadata"},
        {"set_internal_metadata", "internal_metadata"},
        {"set_routes", "routes"},
        {"set_tags", "tags"},
        {"update_disks", "disks"},
        {"update_filesystems", "filesystems"},
        {"update_nics", "nics"},
        {"update_pci_devices", "pci_devices"},
};

#define SUGGEST_MAX_LEN 64

/*
 * Optimal string alignment distance (Levenshtein plus adjacent
 * transpositions), case-insensitive, giving up above limit.
 */
static unsigned
edit_distance(const char *a, const char *b, unsigned limit)
{
	unsigned rows[3][SUGGEST_MAX_LEN + 1];
	size_t la = strlen(a), lb = strlen(b);
	unsigned *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

	if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
		return limit + 1;
	if ((la > lb ? la - lb : lb - la) > limit)
		return limit + 1;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned best;

		cur[0] = (unsigned)i;
		best = cur[0];
		for (size_t j = 1; j <= lb; j++) {
			unsigned ca = (unsigned char)tolower((unsigned char)a[i - 1]);
			unsigned cb = (unsigned char)tolower((unsigned char)b[j - 1]);
			unsigned d = MIN(prev[j] + 1, cur[j - 1] + 1);

			d = MIN(d, prev[j - 1] + (ca != cb));
			if (i > 1 && j > 1 && ca == (unsigned)tolower((unsigned char)b[j - 2]) &&
			    cb == (unsigned)tolower((unsigned char)a[i - 2]))
				d = MIN(d, prev2[j - 2] + 1);
			cur[j] = d;
			best = MIN(best, d);
		}
		if (best > limit)
			return limit + 1;
		unsigned *t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

static bool
candidate_ok(const struct hv_prop *p, unsigned brand_bit, unsigned action_flag)
{
	if (p->flags & (HV_PROP_ALIAS | HV_PROP_RO))
		return false;
	if (brand_bit && !(p->brands & brand_bit))
		return false;
	return !action_flag || (p->flags & action_flag);
}

static void
consider(const char *name, const char *cand, unsigned limit, const char **best, unsigned *best_d)
{
	unsigned d = edit_distance(name, cand, limit);

	if (d <= limit && d < *best_d && !streq(name, cand)) {
		*best = cand;
		*best_d = d;
	}
}

const char *
hv_vm_prop_suggest(const char *name, const struct hv_prop *array, unsigned brand_bit,
                   unsigned action_flag)
{
	size_t n_props = ELEMENTSOF(props), len;
	const char *best = NULL;
	unsigned best_d = UINT32_MAX, limit;

	if (!name)
		return NULL;
	len = strlen(name);
	limit = (unsigned)MIN(len / 3, (size_t)3);
	if (limit == 0 || len > SUGGEST_MAX_LEN)
		return NULL;

	if (array) {
		for (size_t i = 0; i < array->n_members; i++)
			if (candidate_ok(&array->members[i], brand_bit, action_flag))
				consider(name, array->members[i].name, limit, &best, &best_d);
		return best;
	}
	for (size_t i = 0; i < n_props; i++) {
		/* In an update, maps and arrays are changed through their update forms only. */
		if (action_flag == HV_PROP_U &&
		    (props[i].type == HV_PROP_MAP || props[i].type == HV_PROP_ROUTES ||
		     props[i].type == HV_PROP_ARRAY))
			continue;
		if (candidate_ok(&props[i], brand_bit, action_flag))
			consider(name, props[i].name, limit, &best, &best_d);
	}
	if (action_flag != HV_PROP_U)
		return best;
	for (size_t i = 0; i < ELEMENTSOF(update_forms); i++) {
		const struct hv_prop *t = hv_vm_prop_find(update_forms[i].target);

		if (t && candidate_ok(t, brand_bit, HV_PROP_U))
			consider(name, update_forms[i].name, limit, &best, &best_d);
	}
	return best;
}
