/* SPDX-License-Identifier: MIT */
#pragma once

/* What the VM files of lib/core share; not for programs. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/error.h"
#include "core/vm-props.h"
#include "zone/zone.h"

/* core-store.c: records, locks, intents, the index */

/* Hold the VM's lock (wait at most timeout_ms); the fd is the lock. */
int vm_lock(const char *uuid, uint64_t timeout_ms, int *ret_fd, struct hv_error **reterr);
/* How long an operation waits for another on the same VM. */
#define VM_LOCK_TIMEOUT_MS (60 * 1000)
/* Lock an existing VM and load its record as it is under the lock. */
int vm_open_locked(const char *uuid, int *ret_lock, json_t **ret, struct hv_error **reterr);
/* Write the record atomically and durably. */
int vm_record_save(const char *uuid, const json_t *vm, struct hv_error **reterr);
/* True when the VM has a record. */
bool vm_record_exists(const char *uuid);

/* An operation's intent: written before its first step, removed after its last. */
int vm_intent_begin(const char *uuid, const char *op, struct hv_error **reterr);
int vm_intent_end(const char *uuid);
/* The intent's operation ("create", "delete", ...) or NULL (caller frees). */
char *vm_intent_op(const char *uuid);

/* Every record, by uuid: {"<uuid>": {"record": {...}, "mtime_us": N}} (from the index). */
int vm_records_all(json_t **ret, struct hv_error **reterr);

/* core-vm.c: the computed members */
struct vm_context;
int vm_context_new(struct vm_context **ret, struct hv_error **reterr);
struct vm_context *vm_context_free(struct vm_context *ctx);
/* record + mtime -> the full object (a new reference). */
int vm_complete(struct vm_context *ctx, const char *uuid, const json_t *record, uint64_t mtime_us,
                json_t **ret, struct hv_error **reterr);

/* core-zone.c: the zone runtime's config from a VM (uid_base 0: keep the zone's range) */
int vm_zone_config_write(const json_t *vm, uint32_t uid_base, struct hv_error **reterr);

/* core-hvm.c: hardware VMs (brand kvm) */
bool vm_is_kvm(const json_t *vm);
int vm_hvm_check_payload(const json_t *payload, struct hv_error **reterr);
/* The VM's dataset (a plain filesystem) and its disks' volumes; disks.*.path filled in. */
int vm_hvm_create_datasets(json_t *vm, const char *uuid, struct hv_error **reterr);
int vm_hvm_destroy_disks(const char *zpool, const char *uuid, struct hv_error **reterr);
int vm_hvm_config_write(const json_t *vm, const char *zonepath, struct hv_error **reterr);

/* core-net.c: a VM's NICs (see there) */
struct hv_net_vm;
int vm_net_from_json(const json_t *vm, struct hv_net_vm *ret, struct hv_error **reterr);
/* What only this node can tell about the NICs of vm (old: its record before an update). */
int vm_net_check(const json_t *vm, const json_t *old, struct hv_error **reterr);
/* <zonepath>/config/net.json from the record (none without NICs or routes). */
int vm_net_config_write(const json_t *vm, struct hv_error **reterr);
/* A running zone's NICs made to match new (nothing when it does not run). */
int vm_net_apply(const char *uuid, const json_t *old, const json_t *new, struct hv_error **reterr);
int vm_net_unplug(const char *uuid, struct hv_error **reterr);
/* The zone's /etc/resolv.conf from resolvers (nothing when the VM has none). */
int vm_resolvers_write(const json_t *vm, struct hv_error **reterr);

/* core-create.c */
int vm_purge(const char *uuid, struct hv_error **reterr);

/* core-send.c: put back the old root of an interrupted reprovision */
int vm_reprovision_recover(const char *uuid, struct hv_error **reterr);
