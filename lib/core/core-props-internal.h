/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What create defaults (core-defaults.c) and updates (core-update.c) share:
 * filling in a NIC or disk as create does, the deprecated NIC members, and
 * the memory numbers. Not for use outside the property code.
 */

#include <jansson.h>
#include <stdbool.h>

#include "basic/error.h"
#include "core/vm-props.h"

/*
 * Fill in what a new NIC lacks: a random locally administered unicast MAC
 * not used by another NIC of vm, the first free interface name (eth<N> for
 * lx, net<N> for kvm), and for HVM the model (nic_driver, else the first
 * NIC's). nic may already be an element of vm's nics. path names it in errors.
 */
int hv_vm_nic_fill(json_t *vm, json_t *nic, const char *path, struct hv_error **reterr);

/* The same for a new disk: media "disk", and the model (disk_driver, else the first disk's). */
int hv_vm_disk_fill(json_t *vm, json_t *disk, const char *path, struct hv_error **reterr);

/*
 * ip/netmask/gateway become ips ["ip/prefix"] (or ["dhcp"]) and gateways
 * [gateway]. Without a netmask, the prefix of the NIC's first IPv4 address
 * in ips is kept; none is an error.
 */
int hv_vm_nic_convert_aliases(json_t *nic, const char *path, struct hv_error **reterr);

/* Replace each known member of an element of array p by its normalized form. */
int hv_vm_element_normalize(const struct hv_prop *p, json_t *elem);

/* An integer member, or def when absent or not an integer. */
int64_t hv_vm_get_int(const json_t *o, const char *key, int64_t def);
