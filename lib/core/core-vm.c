/* SPDX-License-Identifier: MIT */
/*
 * VMs: theory of operation.
 *
 * A VM is its dataset <zpool>/<uuid>, mounted at its zonepath
 * ($SABLE_ROOT/zones/<uuid>), as on SmartOS. Inside it:
 *
 *   root/              the guest's / (an lx zone's root filesystem)
 *   config/vm.json     the VM's record: every stored property (core-store.c)
 *   config/zone.json   what the zone runtime needs, derived from the record
 *                      at every change (core-zone.c)
 *   logs/              console log and the like
 *
 * So everything about a VM moves, snapshots, sends and is destroyed with
 * its dataset, and a host that boots from RAM finds its VMs by importing
 * the pool. The record holds the object after defaults; `vmadm get` adds
 * the computed members of smartos.md §2.7 here, from the zone runtime's
 * state ($SABLE_ROOT/var/run/sable/zones/<uuid>.json, kept by zoneadmd),
 * the pool (snapshots) and the node (server_uuid and friends).
 *
 * Operations that change a VM take its lock (one at a time per VM; any
 * number of VMs at once), and those of several steps (create, delete,
 * receive) write an intent first and remove it last. Each step is one the
 * purge can undo, so "finish or leave nothing" holds across a crash, a
 * failed step and kill -9: the next vmadm or vmadmd finds the intent of a
 * dead owner and purges the VM (core-create.c).
 *
 * Owners: vmadm (and vmadmd) write records, intents and zone configs;
 * zoneadmd writes the runtime state; the pool library owns datasets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/config.h"
#include "basic/macro.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "basic/time-util.h"
#include "core/core-internal.h"
#include "core/sysinfo.h"
#include "core/vm.h"
#include "json/json.h"
#include "sable-version.h"
#include "storage/pool.h"

#define SNAPSHOT_PREFIX "vmsnap-"

struct vm_context {
	json_t *node;      /* server_uuid, datacenter_name, headnode_id, platform_buildstamp */
	json_t *snapshots; /* "<dataset>" -> [{name, created_at, size}], newest first */
};

struct vm_context *
vm_context_free(struct vm_context *ctx)
{
	if (ctx) {
		json_decref(ctx->node);
		json_decref(ctx->snapshots);
		free(ctx);
	}
	return NULL;
}

static json_t *
node_facts(void)
{
	json_t *o =
	        hv_json_node_facts((const char *const[]){"datacenter_name", "headnode_id", NULL});

	if (o)
		(void)hv_json_set(o, "platform_buildstamp", json_string(HV_BUILDSTAMP));
	return o;
}

static json_t *
snapshot_entry(const struct hv_dataset_info *d, const char *at)
{
	char ts[25];

	return json_pack("{s:s, s:s, s:I}", "name", at + 1 + strlen(SNAPSHOT_PREFIX), "created_at",
	                 format_iso8601_usec(ts, d->creation * USEC_PER_SEC), "size",
	                 (json_int_t)(d->used == UINT64_MAX ? 0 : d->used >> 20));
}

/* Every vmsnap- snapshot in the pools, grouped by dataset, newest first. */
static json_t *
all_snapshots(void)
{
	_cleanup_strv_free_ char **pools = NULL;
	json_t *out = json_object();

	if (!out || hv_pool_list_names(&pools, NULL) < 0)
		return out;
	STRV_FOREACH (name, pools) {
		struct hv_pool *p = NULL;
		struct hv_dataset_info *l = NULL;
		size_t n = 0;

		if (hv_pool_open(*name, 0, &p, NULL) < 0)
			continue;
		if (hv_pool_list(p, NULL, HV_LIST_SNAPSHOTS, &l, &n, NULL) >= 0)
			/* A dataset's snapshots come in the order they were taken. */
			for (size_t i = 0; i < n; i++) {
				const char *at = strchr(l[i].name, '@');
				_cleanup_free_ char *ds = NULL;
				json_t *a;

				if (!at || !startswith(at + 1, SNAPSHOT_PREFIX) ||
				    !(ds = strndup(l[i].name, (size_t)(at - l[i].name))))
					continue;
				a = json_object_get(out, ds);
				if (!a && json_object_set_new(out, ds, a = json_array()) < 0)
					continue;
				(void)json_array_insert_new(a, 0, snapshot_entry(&l[i], at));
			}
		hv_dataset_info_free_many(l, n);
		hv_pool_close(p);
	}
	return out;
}

int
vm_context_new(struct vm_context **ret, struct hv_error **reterr)
{
	struct vm_context *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return -ENOMEM;
	ctx->node = node_facts();
	ctx->snapshots = all_snapshots();
	if (!ctx->node || !ctx->snapshots) {
		vm_context_free(ctx);
		return -ENOMEM;
	}
	*ret = ctx;
	return 0;
}

/* The VM's snapshots, newest first (a new array). */
static json_t *
vm_snapshots(struct vm_context *ctx, const char *dataset)
{
	json_t *a = json_object_get(ctx->snapshots, dataset);

	return a ? json_deep_copy(a) : json_array();
}

static const char *
vm_type(enum hv_brand b)
{
	switch (b) {
	case HV_BRAND_LX:
		return "LX";
	case HV_BRAND_KVM:
		return "KVM";
	case HV_BRAND_BHYVE:
		return "BHYVE";
	default:
		return "OS";
	}
}

static int
set_iso(json_t *o, const char *key, uint64_t usec)
{
	char ts[25];

	return hv_json_set(o, key, json_string(format_iso8601_usec(ts, usec)));
}

/*
 * state, zone_state, pid, boot_timestamp, zoneid, exit_*, transition_*: from
 * zoneadmd's record and intents.
 */
static int
runtime_members(json_t *vm, const char *uuid)
{
	_cleanup_free_ char *op = vm_intent_op(uuid);
	struct hv_zone_runtime rt = {.exit_status = -1};
	bool running = hv_zone_running(uuid, &rt) > 0;
	const char *zone_state = "installed", *state;
	int r = 0;

	if (running) {
		zone_state = hv_zone_state_to_string(rt.state);
		r = hv_json_set(vm, "pid", json_integer(rt.init_pid));
		if (r >= 0 && rt.boot_timestamp)
			r = set_iso(vm, "boot_timestamp", rt.boot_timestamp * USEC_PER_SEC);
		if (r >= 0 && rt.zoneid)
			r = hv_json_set(vm, "zoneid", json_integer((json_int_t)rt.zoneid));
	} else if (hv_zone_runtime_load(uuid, &rt, NULL) < 0)
		rt = (struct hv_zone_runtime){.exit_status = -1};
	/* The newest exit wins: zoneadmd's (this boot of the host) or the record's (vmadmd's copy).
	 */
	if (r >= 0 && rt.exit_timestamp && rt.exit_status >= 0) {
		r = hv_json_set(vm, "exit_status", json_integer(rt.exit_status));
		if (r >= 0)
			r = set_iso(vm, "exit_timestamp", rt.exit_timestamp * USEC_PER_SEC);
	}
	state = streq(zone_state, "installed") ? "stopped" : zone_state;
	/* A kvm VM whose QEMU stopped its CPUs (QMP STOP) is paused until RESUME. */
	if (running && rt.paused && rt.state == HV_ZONE_RUNNING)
		state = "paused";
	/*
	 * While a kvm VM's guest is asked to power off (stop, or reboot) it is
	 * stopping, with where that ends and when it is forced, as on SmartOS.
	 */
	if (running && rt.transition_to[0]) {
		state = "stopping";
		if (r >= 0)
			r = hv_json_set(vm, "transition_to", json_string(rt.transition_to));
		if (r >= 0)
			r = hv_json_set(vm, "transition_expire",
			                json_integer((json_int_t)rt.transition_expire));
	}
	if (op && streq(op, "create"))
		state = "provisioning";
	else if (op && streq(op, "receive"))
		state = "receiving";
	else if (op && streq(op, "delete"))
		state = zone_state = "configured";
	if (r >= 0)
		r = hv_json_set(vm, "zone_state", json_string(zone_state));
	if (r >= 0)
		r = hv_json_set(vm, "state", json_string(state));
	return r;
}

/* Members shown only when true (firewall_enabled, do_not_inventory, indestructible_*). */
static void
hide_false(json_t *vm)
{
	size_t n;
	const struct hv_prop *props = hv_vm_props(&n);

	for (size_t i = 0; i < n; i++)
		if ((props[i].flags & HV_PROP_HIDE_FALSE) &&
		    json_is_false(json_object_get(vm, props[i].name)))
			(void)json_object_del(vm, props[i].name);
}

int
vm_complete(struct vm_context *ctx, const char *uuid, const json_t *record, uint64_t mtime_us,
            json_t **ret, struct hv_error **reterr)
{
	json_auto_t *vm = json_deep_copy(record);
	_cleanup_free_ char *zonepath = NULL, *dataset = NULL;
	const char *zpool = "zones", *brand = "lx";
	enum hv_brand b;
	int r;

	if (!vm || hv_vm_zonepath(uuid, &zonepath) < 0)
		return -ENOMEM;
	(void)hv_json_get_string(vm, "zpool", &zpool, NULL);
	(void)hv_json_get_string(vm, "brand", &brand, NULL);
	b = hv_brand_from_string(brand);
	if (asprintf(&dataset, "%s/%s", zpool, uuid) < 0)
		return -ENOMEM;
	r = hv_json_set(vm, "v", json_integer(1));
	if (r >= 0 && !json_object_get(vm, "zonename"))
		r = hv_json_set(vm, "zonename", json_string(uuid));
	if (r >= 0)
		r = hv_json_set(vm, "zonepath", json_string(zonepath));
	if (r >= 0)
		r = hv_json_set(vm, "zfs_filesystem", json_string(dataset));
	if (r >= 0)
		r = hv_json_set(vm, "hvm", json_boolean(hv_brand_is_hvm(b)));
	if (r >= 0)
		r = hv_json_set(vm, "type", json_string(vm_type(b)));
	if (r >= 0)
		r = set_iso(vm, "last_modified", mtime_us);
	if (r >= 0)
		r = hv_json_set(vm, "snapshots", vm_snapshots(ctx, dataset));
	if (r >= 0)
		r = runtime_members(vm, uuid);
	if (r >= 0)
		r = json_object_update_missing(vm, ctx->node) < 0 ? -ENOMEM : 0;
	if (r < 0)
		return hv_error_set(reterr, r, "VM %s: %m", uuid);
	hide_false(vm);
	*ret = TAKE_PTR(vm);
	return 0;
}

int
hv_vm_get(const char *uuid, json_t **ret, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL;
	json_auto_t *rec = NULL;
	struct vm_context *ctx = NULL;
	struct stat st;
	int r;

	if ((r = hv_vm_load(uuid, &rec, reterr)) < 0)
		return r;
	if ((r = hv_vm_record_path(uuid, &path)) < 0 || stat(path, &st) < 0)
		return hv_error_set(reterr, -ENOENT, HV_VM_NOT_FOUND_FMT, uuid);
	if ((r = vm_context_new(&ctx, reterr)) < 0)
		return r;
	r = vm_complete(ctx, uuid, rec,
	                (uint64_t)st.st_mtim.tv_sec * USEC_PER_SEC +
	                        (uint64_t)st.st_mtim.tv_nsec / NSEC_PER_USEC,
	                ret, reterr);
	vm_context_free(ctx);
	return r;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
hv_vm_get_all(json_t **ret, struct hv_error **reterr)
{
	json_auto_t *recs = NULL, *out = json_array();
	_cleanup_free_ const char **keys = NULL;
	struct vm_context *ctx = NULL;
	const char *k;
	json_t *v;
	size_t n = 0;
	int r;

	if (!out)
		return -ENOMEM;
	if ((r = vm_records_all(&recs, reterr)) < 0)
		return r;
	keys = calloc(json_object_size(recs) + 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	json_object_foreach (recs, k, v)
		keys[n++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	if ((r = vm_context_new(&ctx, reterr)) < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		json_t *e = json_object_get(recs, keys[i]), *vm = NULL;
		json_int_t mt = json_integer_value(json_object_get(e, "mtime_us"));

		r = vm_complete(ctx, keys[i], json_object_get(e, "record"), (uint64_t)mt, &vm,
		                reterr);
		if (r >= 0)
			r = json_array_append_new(out, vm) < 0 ? -ENOMEM : 0;
	}
	vm_context_free(ctx);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(out);
	return 0;
}

void
hv_vm_notify(const char *uuid)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (hv_root_path(HV_RUN_DIR "/vmadmd.notify", &path) < 0 ||
	    strlen(path) >= sizeof(sa.sun_path))
		return;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0)
		(void)sendto(fd, uuid, strlen(uuid), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		             sizeof(sa));
}
