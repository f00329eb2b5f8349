/* SPDX-License-Identifier: MIT */
/*
 * Hardware VMs (brand kvm) in the VM model. A kvm VM is a zone whose one
 * process is QEMU (lib/vm; zoneadmd starts it): its dataset <zpool>/<uuid>
 * is a plain filesystem holding config/, logs/ and root/tmp (QEMU's
 * sockets), and each disk is a volume beside it, <zpool>/<uuid>-disk<N>
 * as on SmartOS: a clone of a zvol image's @final (O(1) on btrfs) or a new
 * sparse volume of its size. disks.*.path is the volume's file on the
 * host and zfs_filesystem its dataset name. config/hvm.json is what QEMU
 * is asked to build (lib/vm/machine.h), written with zone.json whenever
 * the record changes; vmadm start's order=, cdrom= and disk= options go
 * into config/hvm-once.json, which zoneadmd reads once (and removes): an
 * ISO or an extra disk for one boot, a file inside the zone root.
 *
 * info, sysrq: vmadm speaks QMP to the running QEMU itself, on vm.qmp
 * (zoneadmd holds the other monitor, vm.sup), so they work while zoneadmd
 * is down.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/path.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "core/core-internal.h"
#include "core/vm.h"
#include "image/manifest.h"
#include "json/json.h"
#include "storage/pool.h"
#include "vm/machine.h"
#include "vm/qmp.h"

#define MIB      (UINT64_C(1) << 20)
#define GIB      (UINT64_C(1) << 30)
#define QMP_WAIT 5000

bool
vm_is_kvm(const json_t *vm)
{
	const char *b = json_string_value(json_object_get(vm, "brand"));
	return b && streq(b, "kvm");
}

static const char *
zpool_of(const json_t *vm)
{
	const char *s = json_string_value(json_object_get(vm, "zpool"));
	return s ? s : "zones";
}

/* What a create payload of a kvm VM must have beyond the table's checks. */
int
vm_hvm_check_payload(const json_t *payload, struct hv_error **reterr)
{
	const json_t *disks = json_object_get(payload, "disks"), *d;
	bool boot = false;
	size_t i;

	if (!json_object_get(payload, "ram"))
		return hv_error_set_path(reterr, -EINVAL, "ram",
		                         "ram: a kvm VM needs its RAM in MiB (\"ram\": 1024)");
	json_array_foreach (disks, i, d)
		if (json_is_true(json_object_get(d, "boot")))
			boot = true;
	if (!boot)
		return hv_error_set_path(reterr, -EINVAL, "disks",
		                         "disks: a kvm VM needs a boot disk (one disk with "
		                         "\"boot\": true)");
	return 0;
}

/* The image of a disk: installed, a volume, and of type zvol; its size in MiB. */
static int
check_disk_image(struct hv_pool *p, const char *zpool, const char *image, const char *where,
                 uint64_t *ret_mib, struct hv_error **reterr)
{
	_cleanup_free_ char *rel = NULL, *path = NULL, *ds = NULL;
	struct hv_image_manifest m = {0};
	struct hv_dataset_info *info = NULL;
	json_auto_t *o = NULL;
	size_t n = 0;
	int r;

	if (asprintf(&rel, "/var/imgadm/images/%s-%s.json", zpool, image) < 0 ||
	    hv_root_path(rel, &path) < 0 || asprintf(&ds, "%s/%s", zpool, image) < 0)
		return -ENOMEM;
	if (hv_pool_list(p, ds, HV_LIST_FILESYSTEMS | HV_LIST_VOLUMES, &info, &n, NULL) < 0 ||
	    n == 0)
		return hv_error_set_path(reterr, -ENOENT, where,
		                         "%s: image %s is not installed: import it with 'imgadm "
		                         "import %s'",
		                         where, image, image);
	r = info[0].type;
	*ret_mib = info[0].volsize / MIB;
	hv_dataset_info_free_many(info, n);
	if (r != HV_DATASET_VOLUME)
		return hv_error_set_path(reterr, -EINVAL, where,
		                         "%s: image %s is not a disk image (type zvol); a kvm "
		                         "disk needs one",
		                         where, image);
	if (access(path, F_OK) < 0)
		return 0;
	if (hv_json_load_file(path, 2 * 1024 * 1024, &o, NULL) < 0 ||
	    hv_image_manifest_parse(json_object_get(o, "manifest"), &m, NULL) < 0)
		return hv_error_set_path(reterr, -EINVAL, where,
		                         "%s: image %s: its manifest '%s' is unreadable", where,
		                         image, path);
	r = 0;
	if (m.type != HV_IMAGE_ZVOL)
		r = hv_error_set_path(reterr, -EINVAL, where,
		                      "%s: image %s is of type '%s'; a kvm disk needs a 'zvol' "
		                      "image",
		                      where, image, hv_image_type_to_string(m.type));
	hv_image_manifest_done(&m);
	return r;
}

static int
make_disk(struct hv_pool *p, const char *zpool, const char *uuid, size_t i, json_t *disk,
          struct hv_error **reterr)
{
	_cleanup_free_ char *ds = NULL, *snap = NULL, *file = NULL;
	const char *image = json_string_value(json_object_get(disk, "image_uuid"));
	const char *media = json_string_value(json_object_get(disk, "media"));
	struct hv_dataset_props props = {0};
	char where[32];
	int64_t size = 0;
	uint64_t mib = 0;
	int r;

	snprintf(where, sizeof(where), "disks.%zu", i);
	if (media && streq(media, "cdrom"))
		return 0; /* an ISO by its path */
	if (json_is_true(json_object_get(disk, "nocreate"))) {
		if (!json_is_string(json_object_get(disk, "path")))
			return hv_error_set_path(reterr, -EINVAL, where,
			                         "%s: nocreate needs a path", where);
		return 0;
	}
	if (asprintf(&ds, "%s/%s-disk%zu", zpool, uuid, i) < 0)
		return -ENOMEM;
	if (image) {
		if ((r = check_disk_image(p, zpool, image, where, &mib, reterr)) < 0)
			return r;
		if (asprintf(&snap, "%s/%s@final", zpool, image) < 0)
			return -ENOMEM;
		r = hv_pool_clone(p, snap, ds, &props, reterr);
		if (r >= 0 && hv_json_set(disk, "image_size", json_integer((json_int_t)mib)) < 0)
			r = -ENOMEM;
	} else {
		if (hv_json_get_int(disk, "size", &size, NULL) < 0 || size <= 0)
			return hv_error_set_path(reterr, -EINVAL, where,
			                         "%s: a disk without image_uuid needs its size in "
			                         "MiB",
			                         where);
		props.volsize = (uint64_t)size * MIB;
		r = hv_pool_create_dataset(p, ds, HV_DATASET_VOLUME, &props, reterr);
	}
	if (r < 0)
		return hv_error_prefix(reterr, r, "%s", where);
	if ((r = hv_pool_volume_path(p, ds, &file, reterr)) < 0)
		return r;
	if (hv_json_set(disk, "path", json_string(file)) < 0 ||
	    hv_json_set(disk, "zfs_filesystem", json_string(ds)) < 0)
		return -ENOMEM;
	return 0;
}

int
vm_hvm_create_datasets(json_t *vm, const char *uuid, struct hv_error **reterr)
{
	_cleanup_free_ char *ds = NULL, *dir = NULL, *tmp = NULL;
	const char *zpool = zpool_of(vm);
	struct hv_dataset_props props = {0};
	json_t *disks = json_object_get(vm, "disks"), *d;
	struct hv_pool *p = NULL;
	int64_t quota = 0;
	size_t i;
	int r;

	(void)hv_json_get_int(vm, "quota", &quota, NULL);
	props.quota = quota > 0 ? (uint64_t)quota * GIB : 0;
	if (asprintf(&ds, "%s/%s", zpool, uuid) < 0)
		return -ENOMEM;
	if ((r = hv_pool_open(zpool, HV_POOL_OPEN_WRITE, &p, reterr)) < 0)
		return r;
	r = hv_pool_create_dataset(p, ds, HV_DATASET_FILESYSTEM, &props, reterr);
	if (r >= 0 && (r = hv_pool_dataset_path(p, ds, &dir, reterr)) >= 0) {
		if (path_join(dir, "root/tmp", &tmp) < 0)
			r = -ENOMEM;
		else if ((r = mkdir_p(tmp, 0700)) < 0)
			r = hv_error_set(reterr, r, "cannot create '%s': %m", tmp);
	}
	json_array_foreach (disks, i, d)
		if (r >= 0)
			r = make_disk(p, zpool, uuid, i, d, reterr);
	hv_pool_close(p);
	return r;
}

int
vm_hvm_destroy_disks(const char *zpool, const char *uuid, struct hv_error **reterr)
{
	struct hv_dataset_info *l = NULL;
	struct hv_pool *p = NULL;
	_cleanup_free_ char *prefix = NULL;
	size_t n = 0;
	int r;

	if (asprintf(&prefix, "%s/%s-disk", zpool, uuid) < 0)
		return -ENOMEM;
	if ((r = hv_pool_open(zpool, HV_POOL_OPEN_WRITE, &p, reterr)) < 0)
		return r == -ENOENT ? 0 : r;
	r = hv_pool_list(p, NULL, HV_LIST_VOLUMES, &l, &n, reterr);
	for (size_t i = 0; r >= 0 && i < n; i++)
		if (startswith(l[i].name, prefix)) {
			r = hv_pool_destroy(p, l[i].name, HV_DESTROY_RECURSIVE, reterr);
			if (r == -ENOENT)
				r = 0;
		}
	hv_dataset_info_free_many(l, n);
	hv_pool_close(p);
	return r;
}

static int
copy_member(json_t *to, const json_t *from, const char *key)
{
	json_t *v = json_object_get(from, key);

	if (!v || json_is_null(v))
		return 0;
	return hv_json_set(to, key, json_deep_copy(v));
}

/* <zonepath>/config/hvm.json: the machine, from the record (lib/vm/machine.h). */
int
vm_hvm_config_write(const json_t *vm, const char *zonepath, struct hv_error **reterr)
{
	static const char *const keys[] = {
	        "uuid", "ram",      "vcpus",        "cpu_type",  "vga",
	        "boot", "vnc_port", "vnc_password", "qemu_opts", "qemu_extra_opts"};
	_cleanup_free_ char *path = NULL, *text = NULL;
	json_auto_t *o = json_object(), *disks = json_array(), *nics = json_array();
	const json_t *e;
	size_t i;
	int r = 0;

	if (!o || !disks || !nics || path_join(zonepath, "config/hvm.json", &path) < 0)
		return -ENOMEM;
	for (i = 0; r >= 0 && i < ELEMENTSOF(keys); i++)
		r = copy_member(o, vm, keys[i]);
	json_array_foreach (json_object_get(vm, "disks"), i, e) {
		json_t *d = json_object();
		if (!d || json_array_append_new(disks, d) < 0)
			return -ENOMEM;
		if (r >= 0)
			r = copy_member(d, e, "path");
		if (r >= 0)
			r = copy_member(d, e, "model");
		if (r >= 0)
			r = copy_member(d, e, "media");
		if (r >= 0)
			r = copy_member(d, e, "boot");
	}
	json_array_foreach (json_object_get(vm, "nics"), i, e) {
		json_t *n = json_object();
		if (!n || json_array_append_new(nics, n) < 0)
			return -ENOMEM;
		if (r >= 0)
			r = copy_member(n, e, "mac");
		if (r >= 0)
			r = copy_member(n, e, "model");
	}
	if (r < 0 || hv_json_set(o, "disks", json_incref(disks)) < 0 ||
	    hv_json_set(o, "nics", json_incref(nics)) < 0 || !(text = hv_json_dumps(o)))
		return -ENOMEM;
	r = write_file_atomic(path, text, strlen(text), 0644);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot write '%s': %m", path);
	return 0;
}

/* ---- start with boot options --------------------------------------------------- */

/* A cdrom= or disk= path (what), resolved inside the zone root: one that leaves it is refused. */
static int
resolve_in_root(const char *zonepath, const char *what, const char *path, char **ret,
                struct hv_error **reterr)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC,
	                       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
	                                  RESOLVE_NO_SYMLINKS};
	_cleanup_free_ char *root = NULL, *full = NULL;
	_cleanup_close_ int rfd = -EBADF, fd = -EBADF;
	struct stat st;

	size_t n = strlen(path);

	if (path[0] != '/' || !path[1] || strstr(path, "/../") ||
	    (n >= 3 && streq(path + n - 3, "/..")))
		return hv_error_set(reterr, -EINVAL,
		                    "%s '%s': expected an absolute path inside the zone root "
		                    "(<zonepath>/root), without '..'",
		                    what, path);
	if (path_join(zonepath, "root", &root) < 0 || path_join(root, path + 1, &full) < 0)
		return -ENOMEM;
	rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return hv_error_set(reterr, -errno, "zone root '%s': %m", root);
	fd = (int)syscall(SYS_openat2, rfd, path + 1, &how, sizeof(how));
	if (fd < 0)
		return hv_error_set(reterr, -errno,
		                    "%s '%s': %m (it is looked up inside the zone root '%s', "
		                    "without symlinks)",
		                    what, path, root);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return hv_error_set(reterr, -EINVAL, "%s '%s': expected a regular file", what,
		                    path);
	*ret = TAKE_PTR(full);
	return 0;
}

/*
 * vmadm start's cdrom= or disk= values ("/path,model"), checked and
 * resolved, as hvm-once.json's list of {path, model}.
 */
static int
once_media(const char *zonepath, const char *what, char *const *specs, json_t *list,
           struct hv_error **reterr)
{
	int r;

	if (strv_length(specs) > HV_VM_ONCE_MAX)
		return hv_error_set(reterr, -E2BIG, "%s: at most %d for one boot", what,
		                    HV_VM_ONCE_MAX);
	for (size_t i = 0; specs && specs[i]; i++) {
		_cleanup_free_ char *p = strdup(specs[i]), *full = NULL;
		char *model = p ? strrchr(p, ',') : NULL;

		if (!p)
			return -ENOMEM;
		if (!model || (!streq(model + 1, "ide") && !streq(model + 1, "scsi") &&
		               !streq(model + 1, "virtio")))
			return hv_error_set(reterr, -EINVAL,
			                    "%s '%s': expected /path,model with model ide, scsi "
			                    "or virtio",
			                    what, specs[i]);
		*model++ = 0;
		if ((r = resolve_in_root(zonepath, what, p, &full, reterr)) < 0)
			return r;
		if (json_array_append_new(
		            list, json_pack("{s:s, s:s}", "path", full, "model", model)) < 0)
			return -ENOMEM;
	}
	return 0;
}

int
hv_vm_start_hvm(const char *uuid, const char *order, char *const *cdroms, char *const *disks,
                struct hv_error **reterr)
{
	_cleanup_free_ char *zonepath = NULL, *path = NULL, *text = NULL;
	json_auto_t *rec = NULL, *once = json_object(), *cds = json_array(), *hds = json_array();
	int r;

	if (!once || !cds || !hds)
		return -ENOMEM;
	if ((r = hv_vm_load(uuid, &rec, reterr)) < 0)
		return r;
	if (!vm_is_kvm(rec))
		return hv_error_set(reterr, -EINVAL, "VM %s: boot options are for kvm VMs", uuid);
	if (order && (!order[0] || strspn(order, "cdn") != strlen(order) || strlen(order) > 3))
		return hv_error_set(reterr, -EINVAL, "order '%s': expected up to three of c, d, n",
		                    order);
	if (hv_vm_zonepath(uuid, &zonepath) < 0)
		return -ENOMEM;
	if ((r = once_media(zonepath, "cdrom", cdroms, cds, reterr)) < 0 ||
	    (r = once_media(zonepath, "disk", disks, hds, reterr)) < 0)
		return r;
	if (hv_zone_running(uuid, NULL) > 0)
		return hv_error_set(reterr, -EALREADY, "VM %s is already running", uuid);
	if ((order && hv_json_set(once, "order", json_string(order)) < 0) ||
	    hv_json_set(once, "cdroms", json_incref(cds)) < 0 ||
	    hv_json_set(once, "disks", json_incref(hds)) < 0 || !(text = hv_json_dumps(once)) ||
	    path_join(zonepath, "config/hvm-once.json", &path) < 0)
		return -ENOMEM;
	if ((r = write_file_atomic(path, text, strlen(text), 0600)) < 0)
		return hv_error_set(reterr, r, "cannot write '%s': %m", path);
	r = hv_vm_start(uuid, reterr);
	if (r < 0)
		(void)unlink(path);
	return r;
}

/* ---- info, sysrq ------------------------------------------------------------------- */

static int
open_qmp(const char *uuid, json_t **ret_rec, char **ret_zonepath, struct hv_qmp **ret,
         struct hv_error **reterr)
{
	_cleanup_free_ char *sock = NULL;
	int r;

	if ((r = hv_vm_load(uuid, ret_rec, reterr)) < 0)
		return r;
	if (!vm_is_kvm(*ret_rec))
		return hv_error_set(
		        reterr, -EINVAL, "VM %s is of brand %s; this is for kvm VMs", uuid,
		        strempty(json_string_value(json_object_get(*ret_rec, "brand"))));
	if (hv_zone_running(uuid, NULL) <= 0)
		return hv_error_set(reterr, -ESRCH, "VM %s is not running", uuid);
	if (hv_vm_zonepath(uuid, ret_zonepath) < 0 ||
	    hv_vm_socket_path(*ret_zonepath, "vm.qmp", &sock) < 0)
		return -ENOMEM;
	r = hv_qmp_connect(sock, QMP_WAIT, ret, reterr);
	return r < 0 ? hv_error_prefix(reterr, r, "VM %s", uuid) : 0;
}

int
hv_vm_info(const char *uuid, const char *types, json_t **ret, struct hv_error **reterr)
{
	static const struct {
		const char *type, *cmd;
	} map[] = {{"status", "query-status"},   {"vnc", "query-vnc"},
	           {"block", "query-block"},     {"blockstats", "query-blockstats"},
	           {"chardev", "query-chardev"}, {"cpus", "query-cpus-fast"},
	           {"kvm", "query-kvm"},         {"pci", "query-pci"},
	           {"version", "query-version"}};
	_cleanup_(hv_qmp_freep) struct hv_qmp *q = NULL;
	_cleanup_free_ char *zonepath = NULL;
	_cleanup_strv_free_ char **want = NULL;
	json_auto_t *rec = NULL, *out = json_object();
	int r;

	if (!out)
		return -ENOMEM;
	if (strv_split(types && types[0] ? types : "all", ',', &want) < 0)
		return -ENOMEM;
	for (size_t i = 0; want && want[i]; i++) {
		bool known = streq(want[i], "all") || streq(want[i], "spice");
		for (size_t k = 0; k < ELEMENTSOF(map); k++)
			known = known || streq(want[i], map[k].type);
		if (!known)
			return hv_error_set(
			        reterr, -EINVAL,
			        "info type '%s': expected all, block, blockstats, "
			        "chardev, cpus, kvm, pci, spice, status, version or vnc",
			        want[i]);
	}
	if ((r = open_qmp(uuid, &rec, &zonepath, &q, reterr)) < 0)
		return r;
	for (size_t k = 0; k < ELEMENTSOF(map); k++) {
		json_t *v = NULL;
		if (!strv_contains(want, "all") && !strv_contains(want, map[k].type))
			continue;
		if ((r = hv_qmp_execute(q, map[k].cmd, NULL, QMP_WAIT, &v, reterr)) < 0)
			return r;
		if (streq(map[k].type, "vnc")) {
			/* The TCP port is zoneadmd's (vnc_port, or the free one 0 took). */
			struct hv_zone_runtime rt = {0};
			_cleanup_free_ char *vnc = NULL;
			if (hv_vm_socket_path(zonepath, "vm.vnc", &vnc) >= 0)
				(void)hv_json_set(v, "unix_socket", json_string(vnc));
			if (hv_zone_running(uuid, &rt) > 0 && rt.vnc_port > 0)
				(void)hv_json_set(v, "port", json_integer(rt.vnc_port));
		}
		if (hv_json_set(out, map[k].type, v) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(out);
	return 0;
}

int
hv_vm_sysrq(const char *uuid, const char *request, char **ret_file, struct hv_error **reterr)
{
	_cleanup_(hv_qmp_freep) struct hv_qmp *q = NULL;
	_cleanup_free_ char *zonepath = NULL;
	json_auto_t *rec = NULL;
	int r;

	if (!streq(request, "nmi") && !streq(request, "screenshot"))
		return hv_error_set(reterr, -EINVAL, "sysrq '%s': expected nmi or screenshot",
		                    request);
	if ((r = open_qmp(uuid, &rec, &zonepath, &q, reterr)) < 0)
		return r;
	if (streq(request, "nmi"))
		return hv_qmp_execute(q, "inject-nmi", NULL, QMP_WAIT, NULL, reterr);
	/* QEMU writes it in its jail, where the socket directory is /vm/run. */
	r = hv_qmp_execute(q, "screendump", json_pack("{s:s}", "filename", "/vm/run/vm.ppm"),
	                   QMP_WAIT, NULL, reterr);
	if (r >= 0 && ret_file)
		r = hv_vm_socket_path(zonepath, "vm.ppm", ret_file);
	return r;
}
