/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * VMs, as vmadm sees them (smartos.md §1, §2.7, §2.8). core-vm.c has the
 * theory: where a VM lives, how an operation of several steps either
 * finishes or leaves nothing, and who may touch what.
 *
 * Every function works in-process on the pool and the zone runtime, so
 * vmadm needs no daemon. Errors come as -errno plus a one-line message;
 * "not running"/"already running" are -ESRCH/-EALREADY so that callers can
 * treat them as SmartOS's idempotent no-ops.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"
#include "basic/uuid.h"

/* The message scripts match when a VM does not exist (SmartOS's, exactly). */
#define HV_VM_NOT_FOUND_FMT "zoneadm: %s: No such zone configured"

/* Where a VM lives: $SABLE_ROOT/zones/<uuid> and <zonepath>/config/vm.json. */
int hv_vm_zonepath(const char *uuid, char **ret);
int hv_vm_record_path(const char *uuid, char **ret);

/* The stored record (no computed members); -ENOENT with HV_VM_NOT_FOUND_FMT. */
int hv_vm_load(const char *uuid, json_t **ret, struct hv_error **reterr);

/* The full object as `vmadm get` prints it: the record plus computed members. */
int hv_vm_get(const char *uuid, json_t **ret, struct hv_error **reterr);

/* Every VM's full object, sorted by uuid (an array). Fast: see core-store.c. */
int hv_vm_get_all(json_t **ret, struct hv_error **reterr);

/* Create from a payload (validated here); ret_uuid gets the new VM's uuid. */
int hv_vm_create(const json_t *payload, char ret_uuid[static UUID_STRING_LEN + 1],
                 struct hv_error **reterr);

/* Remove a VM and everything it owns (its dataset tree, id range, cgroups, records). */
int hv_vm_delete(const char *uuid, struct hv_error **reterr);

/* Boot (and set autoboot). -EALREADY when it runs. */
int hv_vm_start(const char *uuid, struct hv_error **reterr);

/*
 * Stop (and clear autoboot, first, as SmartOS): gracefully within
 * timeout_s (-1: the brand's default; only HVM and docker VMs take one),
 * or at once with force. -ESRCH when it does not run.
 */
int hv_vm_stop(const char *uuid, bool force, int timeout_s, struct hv_error **reterr);
int hv_vm_reboot(const char *uuid, bool force, struct hv_error **reterr);
/*
 * A kvm VM's start with vmadm start's boot options, for this boot only:
 * order ("d", "cd", or NULL for the VM's boot property), cdroms and extra
 * disks ("/path,model", model ide|scsi|virtio, the path a regular file
 * inside the zone root, <zonepath>/root; each list NULL-terminated or
 * NULL, at most HV_VM_ONCE_MAX). Bad input starts nothing.
 */
int hv_vm_start_hvm(const char *uuid, const char *order, char *const *cdroms, char *const *disks,
                    struct hv_error **reterr);
/*
 * A running kvm VM's QEMU over QMP: info types ("all", or a comma list of
 * block, blockstats, chardev, cpus, kvm, pci, status, version, vnc) as one
 * object; sysrq "nmi" or "screenshot" (*ret_file: the PPM it wrote).
 */
int hv_vm_info(const char *uuid, const char *types, json_t **ret, struct hv_error **reterr);
int hv_vm_sysrq(const char *uuid, const char *request, char **ret_file, struct hv_error **reterr);
/* Signal the VM's init (or QEMU). */
int hv_vm_kill(const char *uuid, int sig, struct hv_error **reterr);

/* Apply an update payload; live properties reach a running VM at once. */
int hv_vm_update(const char *uuid, const json_t *payload, struct hv_error **reterr);

/* vmsnap-<name> snapshots of the VM's dataset (OS VMs). */
int hv_vm_snapshot_create(const char *uuid, const char *name, struct hv_error **reterr);
int hv_vm_snapshot_rollback(const char *uuid, const char *name, struct hv_error **reterr);
int hv_vm_snapshot_delete(const char *uuid, const char *name, struct hv_error **reterr);

/*
 * send: stop the VM and write it (record and dataset) to fd; receive: make
 * the VM a stream describes (left stopped, with an id range of this node).
 */
int hv_vm_send(const char *uuid, int fd, struct hv_error **reterr);
int hv_vm_receive(int fd, char ret_uuid[static UUID_STRING_LEN + 1], struct hv_error **reterr);

/* A fresh root from the payload's image_uuid; record and config are kept. */
int hv_vm_reprovision(const char *uuid, const json_t *payload, struct hv_error **reterr);

/*
 * Finish or undo what interrupted operations left (a create killed half
 * way is undone, a delete is finished). Every vmadm command and vmadmd's
 * start run it; it touches only VMs whose operation's owner is gone.
 */
int hv_vm_recover(struct hv_error **reterr);

/*
 * After a crash (vmadmd at start): remove the links, ifbs and data-path
 * entries of this root that belong to no VM whose zone runs or is being
 * booted (its zoneadmd holds its lock), and switches of tags that are gone.
 */
int hv_vm_net_reconcile(struct hv_error **reterr);

/* vmadmd: keep a stopped VM's exit in its record (skipped while another operation holds it). */
int hv_vm_record_exit(const char *uuid, const json_t *status, const json_t *timestamp,
                      struct hv_error **reterr);

/* Tell vmadmd (if it runs) that a VM changed, so `vmadm events` sees it at once. */
void hv_vm_notify(const char *uuid);
