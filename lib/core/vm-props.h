/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The property table: the one description of every member of a VM object
 * (smartos.md §2). Validation, create defaults, update rules, the live/
 * reboot split, `vmadm list` columns and headers, filter keys and the
 * vmadm-properties(7) man page are all read from it; nothing else in Sable
 * names a property's type, brands or permissions.
 *
 * A VM object is a jansson object. What vmadm stores is the object after
 * defaults; what `vmadm get` prints adds the computed members (flag
 * HV_PROP_RO), filled in by core-vm.c.
 */

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "basic/error.h"

/* SmartOS's five brands; Sable runs lx (zones) and kvm (QEMU in a zone). */
enum hv_brand {
	HV_BRAND_JOYENT,
	HV_BRAND_JOYENT_MINIMAL,
	HV_BRAND_LX,
	HV_BRAND_KVM,
	HV_BRAND_BHYVE,
	_HV_BRAND_MAX,
	_HV_BRAND_INVALID = -EINVAL,
};
#define HV_BRAND_BIT(b) (1u << (b))
#define HV_BRANDS_J     HV_BRAND_BIT(HV_BRAND_JOYENT)
#define HV_BRANDS_M     HV_BRAND_BIT(HV_BRAND_JOYENT_MINIMAL)
#define HV_BRANDS_L     HV_BRAND_BIT(HV_BRAND_LX)
#define HV_BRANDS_K     HV_BRAND_BIT(HV_BRAND_KVM)
#define HV_BRANDS_B     HV_BRAND_BIT(HV_BRAND_BHYVE)
#define HV_BRANDS_OS    (HV_BRANDS_J | HV_BRANDS_M | HV_BRANDS_L)
#define HV_BRANDS_HVM   (HV_BRANDS_K | HV_BRANDS_B)
#define HV_BRANDS_ALL   (HV_BRANDS_OS | HV_BRANDS_HVM)

const char *hv_brand_to_string(enum hv_brand b);
enum hv_brand hv_brand_from_string(const char *s);
/* lx and kvm; the others are refused with an error that says why and what to use. */
bool hv_brand_supported(enum hv_brand b);
bool hv_brand_is_hvm(enum hv_brand b);

enum hv_prop_type {
	HV_PROP_STRING,
	HV_PROP_BOOL,
	HV_PROP_INT,       /* an integer within [min, max]; a numeric string is accepted */
	HV_PROP_UUID,      /* 8-4-4-4-12 hex */
	HV_PROP_LIST,      /* an array of strings, or one comma-separated string */
	HV_PROP_MAP,       /* a flat object (tags, customer_metadata): scalar values */
	HV_PROP_ROUTES,    /* destination (IP or CIDR) -> gateway IP, "nics[N]" or "macs[M]" */
	HV_PROP_ARRAY,     /* an array of objects described by members (nics, disks, ...) */
	HV_PROP_TIMESTAMP, /* ISO 8601 with milliseconds, computed */
	HV_PROP_OBJECT,    /* any JSON object, computed (snapshots' elements, ...) */
	_HV_PROP_TYPE_MAX,
};

enum {
	HV_PROP_C = 1u << 0,    /* accepted in a create payload */
	HV_PROP_U = 1u << 1,    /* accepted in an update (maps: set_/remove_, arrays: add_/...) */
	HV_PROP_LIVE = 1u << 2, /* an update applies to a running VM at once */
	HV_PROP_RO = 1u << 3,   /* computed: shown by get and list, never accepted */
	HV_PROP_HIDE_FALSE = 1u << 4,  /* left out of get when false */
	HV_PROP_ALIAS = 1u << 5,       /* a deprecated input name for alias_of */
	HV_PROP_NULL_CLEARS = 1u << 6, /* null (or "" for an INT) in an update removes it */
	HV_PROP_STORED = 1u << 7,      /* computed but kept in the record (create_timestamp, ...) */
	HV_PROP_AS_STRING = 1u << 8,   /* a LIST kept as one comma-separated string */
};

/* What a string (or each element of a list) must look like, beyond its type. */
enum hv_prop_format {
	HV_PROP_FMT_NONE,
	HV_PROP_FMT_HOSTNAME,   /* RFC 1123: dotted labels of letters, digits, '-', each <= 63 */
	HV_PROP_FMT_MAC,        /* aa:bb:cc:dd:ee:ff, unicast */
	HV_PROP_FMT_IP,         /* an IPv4 or IPv6 address */
	HV_PROP_FMT_IPV4,       /* an IPv4 address */
	HV_PROP_FMT_NETMASK,    /* a contiguous IPv4 netmask: 255.255.255.0 */
	HV_PROP_FMT_NIC_IP,     /* "address/prefix", "dhcp" or "addrconf" (nics.*.ips) */
	HV_PROP_FMT_NIC_IP_OLD, /* an IPv4 address or "dhcp" (the deprecated nics.*.ip) */
	HV_PROP_FMT_IP_CIDR,    /* an address with or without "/prefix" (allowed_ips) */
	HV_PROP_FMT_PATH,       /* an absolute path without ".." components */
	HV_PROP_FMT_NAME,     /* letters, digits, '_', '-', '.', ':' (nic tags, pools, fs types) */
	HV_PROP_FMT_BOOT,     /* "order=cdn[,once=cdn]" */
	HV_PROP_FMT_BOOTROM,  /* "bios", "uefi" or a path */
	HV_PROP_FMT_PCI_SLOT, /* bus:dev:func, dev:func or dev, in decimal */
	HV_PROP_FMT_DHCP_CID, /* "0x" and an even number of hex digits */
	HV_PROP_FMT_PORT,     /* a TCP/UDP port 1-65535 (a number or a numeric string) */
	HV_PROP_FMT_COMPRESSION, /* on, off, gzip, gzip-1..gzip-9, lz4, lzjb, zle */
	HV_PROP_FMT_POW2,        /* HV_PROP_INT: a power of two */
	HV_PROP_FMT_VERSION,     /* digits separated by dots: "4.3.0" */
	HV_PROP_FMT_PRIV,        /* a privilege name, "-name" or "!name" (limit_priv) */
	HV_PROP_FMT_PRINTABLE,   /* no control characters */
	_HV_PROP_FMT_MAX,
};

/* What a format asks for, as messages and the man page say it: "an IPv4 address". */
const char *hv_prop_format_to_string(enum hv_prop_format f);

/* Bounds on what a payload may hold (the man page states them). */
#define HV_VM_MAX_NICS        32 /* nics, and nics after add_nics */
#define HV_VM_MAX_NIC_IPS     20 /* nics.*.ips, as SmartOS */
#define HV_VM_MAX_DISKS       32
#define HV_VM_MAX_FILESYSTEMS 64
#define HV_VM_MAX_PCI_DEVICES 16
#define HV_VM_MAX_MAP         1024 /* entries of tags, customer_metadata, internal_metadata */
#define HV_VM_MAX_MAP_KEY     256  /* bytes of a map key */
#define HV_VM_MAX_ROUTES      256
#define HV_VM_MAX_LIST        64                 /* elements of a list without a tighter bound */
#define HV_VM_MAX_STRING      4096               /* bytes of a string without a tighter bound */
#define HV_VM_MAX_MIB         (INT64_C(1) << 26) /* memory sizes in MiB: 64 TiB */
#define HV_VM_MAX_PROBLEMS    100                /* problems a report collects before it stops */

struct hv_prop {
	const char *name;
	enum hv_prop_type type;
	unsigned brands;   /* HV_BRANDS_* where the property applies */
	unsigned required; /* brands for which a create payload (or a new element) must have it */
	unsigned flags;
	/* INT: the bounds; STRING: max bytes; LIST, MAP, ROUTES, ARRAY: max elements */
	int64_t min, max;
	const char *values;            /* allowed strings "a|b|c", or NULL for any */
	const char *alias_of;          /* HV_PROP_ALIAS: the property it stands for */
	const struct hv_prop *members; /* HV_PROP_ARRAY: the element's members */
	size_t n_members;
	const char *key; /* HV_PROP_ARRAY: the member that names an element (mac, path, target) */
	const char *header;         /* list column header, or NULL when not listable */
	unsigned width;             /* its width */
	const char *default_doc;    /* the default as the man page states it, or NULL */
	const char *doc;            /* one paragraph for vmadm-properties(7); never NULL */
	enum hv_prop_format format; /* STRING, LIST elements, INT (POW2, PORT) */
};

/* The top-level table, in the man page's order (alphabetical). */
const struct hv_prop *hv_vm_props(size_t *ret_n);
/* A top-level property by name (aliases included), or NULL. */
const struct hv_prop *hv_vm_prop_find(const char *name);
/* A member of an HV_PROP_ARRAY property (nics, disks, ...), or NULL. */
const struct hv_prop *hv_vm_prop_member(const struct hv_prop *array, const char *name);
/*
 * The closest name to a misspelt one among candidates valid here (brand,
 * action; members when array is not NULL), or NULL when nothing is close
 * (edit distance at most a third of the name, and at most 3).
 */
const char *hv_vm_prop_suggest(const char *name, const struct hv_prop *array, unsigned brand_bit,
                               unsigned action_flag);

enum hv_vm_action {
	HV_VM_ACTION_CREATE,
	HV_VM_ACTION_UPDATE,
};

/* What is wrong with a payload, in SmartOS's validate shape, plus one line per problem. */
struct hv_vm_report {
	char *bad_brand;           /* the brand given, when it is unknown or not run by Sable */
	char **bad_properties;     /* unknown, or not allowed for this brand or action */
	char **bad_values;         /* paths of bad values: "nics.0.ips.1" */
	char **missing_properties; /* required but absent */
	char **messages;           /* "nics.0.ips.1: expected ..., got '...'", in payload order */
};
void hv_vm_report_done(struct hv_vm_report *r);
/* {"bad_brand"?, "bad_properties"?, "bad_values"?, "missing_properties"?}: empty lists left out. */
json_t *hv_vm_report_to_json(const struct hv_vm_report *r);

/*
 * Check a payload for action. Create: the brand comes from the payload
 * (brand is NULL); update: brand is the VM's. Every problem is collected
 * (unknown names come with the closest valid one: "unknown property
 * 'max_physical_memroy' (did you mean 'max_physical_memory'?)"), up to
 * HV_VM_MAX_PROBLEMS. A brand Sable does not run (or none at create) stops
 * the check there, with bad_brand set ("joyent" when none was given, which
 * is what SmartOS would have used). ret (nullable) is overwritten: call
 * hv_vm_report_done() on it afterwards, whatever the result. Returns 0
 * when valid; -EINVAL when not, with reterr holding the first message and
 * its path; another -errno on failure.
 */
int hv_vm_validate(enum hv_vm_action action, const char *brand, const json_t *payload,
                   struct hv_vm_report *ret, struct hv_error **reterr);

/*
 * Turn a validated create payload into the VM object to store: deprecated
 * aliases become their properties (dataset_uuid -> image_uuid, nics.*.ip/
 * netmask/gateway -> ips/gateways, ...), SmartOS's defaults are filled in
 * (§2.1: uuid, autoboot, owner_uuid, billing_id, zpool, dns_domain,
 * cpu_shares, zfs_io_priority, max_lwps, ram, the memory family, tmpfs,
 * quota, limit_priv, nics' macs and interfaces, hostname, ...), and
 * create_timestamp is set. now_ms is the creation time (ms since the epoch).
 */
int hv_vm_apply_create_defaults(json_t *vm, uint64_t now_ms, struct hv_error **reterr);

/*
 * Apply a validated update payload to a stored VM object: plain members
 * replace (null clears where allowed), set_<map>/remove_<map> edit maps,
 * add_/update_/remove_<array> edit arrays by their key member (a new NIC
 * gets a MAC and interface as at create; primary moves), then SmartOS's
 * memory rules (§2.1). An update_/remove_ naming no element is an error
 * naming it. vm is changed only when 0 is returned.
 */
int hv_vm_apply_update(json_t *vm, const json_t *payload, struct hv_error **reterr);

/* The "prop=value" command-line form of update as a payload (values are strings, as SmartOS). */
int hv_vm_update_from_args(char *const *args, size_t n, json_t **ret, struct hv_error **reterr);

/*
 * A validated value of p in the form the record keeps it: integers and
 * booleans given as strings become numbers and booleans, a list given as
 * one comma-separated string becomes an array (the other way round for
 * HV_PROP_AS_STRING). A new reference; NULL only on OOM.
 */
json_t *hv_vm_prop_normalize(const struct hv_prop *p, const json_t *v);

/* vmadm-properties(7), generated from the table (roff). */
int hv_vm_props_man(FILE *f);
