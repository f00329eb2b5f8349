/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Looking at many VMs: flattening (smartos.md §1.4), `list`/`lookup`
 * filters, the `list` table (§1.3), `lookup -j -o` projection and the
 * changes between two versions of a VM that `vmadm events` reports (§7.4).
 * All pure functions on VM objects as `vmadm get` prints them; columns,
 * headers, widths and valid filter keys come from the property table.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "basic/error.h"

/*
 * {"nics.0.ips.0": "10.0.0.5/24", "tags.role": "db", "ram": 256, ...}:
 * arrays by index, objects by key, down to scalars (null included; empty
 * arrays and objects leave no key). A new reference; NULL only on OOM.
 */
json_t *hv_vm_flatten(const json_t *vm);

/*
 * The value at a dotted key ("nics.0.mac", "tags.role", "alias") or NULL;
 * borrowed. No wildcards. Indices are plain decimal ("01" names nothing);
 * a map key may hold dots ("tags.a.b" finds tags["a.b"]), so every key
 * hv_vm_flatten() gives looks its value up again.
 */
const json_t *hv_vm_lookup_key(const json_t *vm, const char *key);

/*
 * Call fn with each value at key, where "*" as an array index stands for
 * every element ("nics.*.ips"), until fn returns true; returns whether it
 * did. Map keys may contain dots ("tags.a.b" finds tags["a.b"]), as
 * flattening joins them. Values are borrowed.
 */
bool hv_vm_key_any(const json_t *vm, const char *key, bool (*fn)(const json_t *v, void *userdata),
                   void *userdata);

/*
 * The member behind a `list` field or filter key for this VM: `ram` of a
 * VM that is not HVM is its max_physical_memory (§1.3); every other field
 * is itself.
 */
const char *hv_vm_list_field_key(const json_t *vm, const char *field);

/*
 * The text form `list` and filters use for a scalar: strings as they are,
 * integers in decimal, reals in the shortest form that reads back the
 * same, true/false. NULL for null, arrays and objects. buf holds numbers.
 */
#define HV_VM_TEXT_MAX 32
const char *hv_vm_scalar_text(const json_t *v, char buf[static HV_VM_TEXT_MAX]);

/*
 * Filters: "key=value" (the value's text form equals: 256, true, "web1")
 * or "key=~regex" (POSIX extended, unanchored); "*" as an array index
 * matches any element ("nics.*.ip=10.0.0.5"), and an array of scalars
 * matches when one element does ("nics.*.ips=10.0.0.5/24"). null and
 * absent values never match. `ram` is read as `list` shows it. Several
 * filters must all match; no filters match every VM (f may be NULL). A
 * key that is not a listable field, a nics/disks member pattern, or under
 * tags./customer_metadata./internal_metadata. is an error:
 * Invalid filter key: "<k>". An argument without '=', a bad regex, more
 * than 64 filters or an argument over 1024 bytes is an error naming it.
 */
struct hv_vm_filter;
int hv_vm_filter_parse(char *const *args, size_t n, struct hv_vm_filter **ret,
                       struct hv_error **reterr);
bool hv_vm_filter_match(const struct hv_vm_filter *f, const json_t *vm);
struct hv_vm_filter *hv_vm_filter_free(struct hv_vm_filter *f);

struct hv_vm_list_opts {
	const char *fields; /* -o, comma-separated; NULL: uuid,type,ram,state,alias */
	const char *sort;   /* -s, comma-separated, each may start with - or +; NULL: ram,uuid */
	bool parsable;      /* -p: columns joined by ':', empty for missing, no header */
	bool no_header;     /* -H */
};

/*
 * The `vmadm list` table for an array of VM objects (not filtered here):
 * fixed-width columns two spaces apart with a header, trailing spaces
 * trimmed, "-" for a missing (absent, null or "") value; a value wider
 * than its column is printed whole. `type` cut to 4 characters, `ram` from
 * max_physical_memory for non-HVM VMs. -o/-s take listable properties,
 * <array>.N.<member> and <map>.<key>, never "*" patterns; an unknown field
 * is an error naming it. Numbers sort numerically, everything else as
 * strings; missing values last (first with "-"); ties by uuid, then input
 * order. *ret_text is the whole output, each line ending in '\n'.
 */
int hv_vm_list_format(const json_t *vms, const struct hv_vm_list_opts *o, char **ret_text,
                      struct hv_error **reterr);

/*
 * `lookup -j -o f,...`: a copy of vm with only those (dotted) fields,
 * nested as in vm; "*" as an index takes every element. The result's
 * arrays hold only the elements asked for, in vm's order ("nics.1.mac"
 * gives {"nics": [{"mac": ...}]}). Fields that name nothing are left out;
 * `ram` is not filled in here. fields NULL: a full copy. NULL on OOM.
 */
json_t *hv_vm_project(const json_t *vm, const char *fields);

/*
 * The changes from old to new as `vmadm events` reports them: an array of
 * {"path": [...], "prettyPath": "nics.*.ips", "action":
 * "added"|"removed"|"changed", "oldValue", "newValue"} (oldValue only when
 * removed, newValue only when added), [] when nothing changed. Elements of
 * the keyed arrays (the table's key member: nics by mac, disks by path,
 * filesystems by target) are matched by key, not position; an array of
 * scalars (ips) changes as a whole. Nothing is ignored (last_modified
 * included). NULL stands for an empty object; NULL is returned on OOM.
 * core-diff.c has the rules.
 */
json_t *hv_vm_diff(const json_t *old, const json_t *new);
