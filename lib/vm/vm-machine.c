/* SPDX-License-Identifier: MIT */
/*
 * A hardware VM's machine (machine.h): its file form, hvm.json, and
 * QEMU's command line. The command line names the VM (-name <uuid>, so an
 * operator finds it in ps), tells the guest it runs on SmartDC HVM
 * (SMBIOS type 1: stock cloud-init's SmartOS datasource looks for that),
 * and wires the first serial port to vm.console and the second to vm.ttyb,
 * where the supervisor serves the metadata protocol. Every socket is
 * QEMU's (server=on, wait=off): a supervisor that dies and a new one that
 * connects again find the same VM. QEMU's own sandbox (-sandbox on) is
 * always on.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/config.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/path.h"
#include "basic/strv.h"
#include "json/json.h"
#include "vm/machine.h"

#define HVM_JSON_MAX (1024 * 1024)

static void
disk_done(struct hv_vm_disk *d)
{
	free(d->path);
	free(d->model);
}

void
hv_vm_machine_done(struct hv_vm_machine *m)
{
	free(m->uuid);
	free(m->zonepath);
	free(m->cpu_type);
	free(m->vga);
	free(m->boot);
	for (size_t i = 0; i < m->n_disks; i++)
		disk_done(&m->disks[i]);
	for (size_t i = 0; i < m->n_nics; i++) {
		free(m->nics[i].mac);
		free(m->nics[i].model);
		free(m->nics[i].tap);
		safe_close(m->nics[i].fd);
	}
	free(m->vnc_password);
	free(m->qemu_opts);
	free(m->qemu_extra_opts);
	free(m->once_order);
	for (size_t i = 0; i < m->n_once_cdroms; i++)
		disk_done(&m->once_cdroms[i]);
	for (size_t i = 0; i < m->n_once_disks; i++)
		disk_done(&m->once_disks[i]);
	*m = (struct hv_vm_machine){0};
}

static char *
dup_member(const json_t *o, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(o, key));

	s = s ? s : def;
	return s ? strdup(s) : NULL;
}

static bool
one_of(const char *s, const char *const *values)
{
	for (; s && *values; values++)
		if (streq(s, *values))
			return true;
	return false;
}

static int
parse_disk(const json_t *o, const char *source, const char *where, struct hv_vm_disk *d,
           struct hv_error **reterr)
{
	static const char *const models[] = {"virtio", "ide", "scsi", NULL};
	const char *media = json_string_value(json_object_get(o, "media"));

	if (!json_is_object(o) || !json_is_string(json_object_get(o, "path")))
		return hv_error_set(reterr, -EINVAL, "%s: %s: expected an object with a path",
		                    source, where);
	d->path = dup_member(o, "path", NULL);
	d->model = dup_member(o, "model", "virtio");
	d->media = media && streq(media, "cdrom") ? HV_VM_MEDIA_CDROM : HV_VM_MEDIA_DISK;
	d->boot = json_is_true(json_object_get(o, "boot"));
	if (!d->path || !d->model)
		return -ENOMEM;
	if (d->path[0] != '/')
		return hv_error_set(reterr, -EINVAL, "%s: %s.path '%s': expected an absolute path",
		                    source, where, d->path);
	if (!one_of(d->model, models))
		return hv_error_set(reterr, -EINVAL,
		                    "%s: %s.model '%s': expected virtio, ide or scsi", source,
		                    where, d->model);
	return 0;
}

static int
parse_nic(const json_t *o, const char *source, size_t i, struct hv_vm_nic *n,
          struct hv_error **reterr)
{
	static const char *const models[] = {"virtio", "e1000", "rtl8139", NULL};

	n->fd = -1;
	if (!json_is_object(o) || !json_is_string(json_object_get(o, "mac")))
		return hv_error_set(reterr, -EINVAL, "%s: nics.%zu: expected an object with a mac",
		                    source, i);
	n->mac = dup_member(o, "mac", NULL);
	n->model = dup_member(o, "model", "virtio");
	if (!n->mac || !n->model)
		return -ENOMEM;
	if (!one_of(n->model, models))
		return hv_error_set(reterr, -EINVAL,
		                    "%s: nics.%zu.model '%s': expected virtio, e1000 or rtl8139",
		                    source, i, n->model);
	return 0;
}

static int
parse_machine(const json_t *o, const char *source, struct hv_vm_machine *m,
              struct hv_error **reterr)
{
	const json_t *disks = json_object_get(o, "disks"), *nics = json_object_get(o, "nics"), *e;
	int64_t ram = 0, vcpus = 1, vnc = 0;
	size_t i;
	int r;

	if ((r = hv_json_get_int(o, "ram", &ram, reterr)) < 0 || ram < 16)
		return hv_error_set(reterr, -EINVAL, "%s: ram: expected at least 16 (MiB)", source);
	(void)hv_json_get_int(o, "vcpus", &vcpus, NULL);
	if (vcpus < 1 || vcpus > 64)
		return hv_error_set(reterr, -EINVAL, "%s: vcpus %lld: expected 1 to 64", source,
		                    (long long)vcpus);
	(void)hv_json_get_int(o, "vnc_port", &vnc, NULL);
	m->ram = (uint64_t)ram;
	m->vcpus = (unsigned)vcpus;
	m->vnc_port = (int)vnc;
	m->uuid = dup_member(o, "uuid", NULL);
	m->cpu_type = dup_member(o, "cpu_type", "qemu64");
	m->vga = dup_member(o, "vga", "std");
	m->boot = dup_member(o, "boot", NULL);
	m->vnc_password = dup_member(o, "vnc_password", NULL);
	m->qemu_opts = dup_member(o, "qemu_opts", NULL);
	m->qemu_extra_opts = dup_member(o, "qemu_extra_opts", NULL);
	if (!m->uuid)
		return hv_error_set(reterr, -EINVAL, "%s: uuid: expected a string", source);
	if (json_array_size(disks) > HV_VM_DISKS_MAX || json_array_size(nics) > HV_VM_NICS_MAX)
		return hv_error_set(reterr, -E2BIG, "%s: at most %d disks and %d NICs", source,
		                    HV_VM_DISKS_MAX, HV_VM_NICS_MAX);
	json_array_foreach (disks, i, e) {
		char where[32];
		snprintf(where, sizeof(where), "disks.%zu", i);
		if ((r = parse_disk(e, source, where, &m->disks[m->n_disks++], reterr)) < 0)
			return r;
	}
	json_array_foreach (nics, i, e)
		if ((r = parse_nic(e, source, i, &m->nics[m->n_nics++], reterr)) < 0)
			return r;
	return 0;
}

/* hvm-once.json's cdroms or disks: files, of this media, for this boot. */
static int
load_once_media(const json_t *o, const char *path, const char *key, enum hv_vm_media media,
                struct hv_vm_disk *l, size_t *n, struct hv_error **reterr)
{
	const json_t *e;
	size_t i;
	int r;

	json_array_foreach (json_object_get(o, key), i, e) {
		char where[32];
		if (*n >= HV_VM_ONCE_MAX)
			return hv_error_set(reterr, -E2BIG, "%s: at most %d %s", path,
			                    HV_VM_ONCE_MAX, key);
		snprintf(where, sizeof(where), "%s.%zu", key, i);
		if ((r = parse_disk(e, path, where, &l[(*n)++], reterr)) < 0)
			return r;
		l[*n - 1].media = media;
		l[*n - 1].boot = false;
	}
	return 0;
}

/* The one-shot options of vmadm start (order=, cdrom=, disk=): read once, then gone. */
static int
load_once(const char *zonepath, struct hv_vm_machine *m, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL;
	json_auto_t *o = NULL;
	int r;

	if (path_join(zonepath, "config/hvm-once.json", &path) < 0)
		return -ENOMEM;
	r = hv_json_load_file(path, HVM_JSON_MAX, &o, reterr);
	if (r == -ENOENT)
		return 0;
	(void)unlink(path);
	if (r < 0)
		return r;
	m->once_order = dup_member(o, "order", NULL);
	if ((r = load_once_media(o, path, "cdroms", HV_VM_MEDIA_CDROM, m->once_cdroms,
	                         &m->n_once_cdroms, reterr)) < 0)
		return r;
	return load_once_media(o, path, "disks", HV_VM_MEDIA_DISK, m->once_disks, &m->n_once_disks,
	                       reterr);
}

int
hv_vm_machine_load(const char *zonepath, struct hv_vm_machine *ret, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL;
	json_auto_t *o = NULL;
	struct hv_vm_machine m = {0};
	int r;

	if (path_join(zonepath, "config/hvm.json", &path) < 0 || !(m.zonepath = strdup(zonepath)))
		return -ENOMEM;
	if ((r = hv_json_load_file(path, HVM_JSON_MAX, &o, reterr)) < 0)
		goto fail;
	if ((r = parse_machine(o, path, &m, reterr)) < 0 ||
	    (r = load_once(zonepath, &m, reterr)) < 0)
		goto fail;
	*ret = m;
	return 0;
fail:
	hv_vm_machine_done(&m);
	return r;
}

int
hv_vm_run_dir(const char *zonepath, char **ret)
{
	return path_join(zonepath, "root/tmp", ret);
}

int
hv_vm_socket_path(const char *zonepath, const char *name, char **ret)
{
	_cleanup_free_ char *dir = NULL;

	if (hv_vm_run_dir(zonepath, &dir) < 0)
		return -ENOMEM;
	return path_join(dir, name, ret);
}

int
hv_vm_qemu_path(char **ret, struct hv_error **reterr)
{
	_cleanup_(hv_config_freep) struct hv_config *cfg = NULL;
	const char *v = NULL;
	_cleanup_strv_free_ char **dirs = NULL;
	const char *pathenv = getenv("PATH");

	if (hv_node_config_load(&cfg, NULL) >= 0)
		v = hv_config_get(cfg, "hvm_qemu");
	if (v && v[0]) {
		if (v[0] != '/' || access(v, X_OK) < 0)
			return hv_error_set(reterr, -ENOENT,
			                    "hvm_qemu '%s' in the node config: expected an "
			                    "executable file",
			                    v);
		return (*ret = strdup(v)) ? 0 : -ENOMEM;
	}
	if (strv_split(pathenv ? pathenv : "/usr/bin:/bin", ':', &dirs) < 0)
		return -ENOMEM;
	for (size_t i = 0; dirs && dirs[i]; i++) {
		_cleanup_free_ char *p = NULL;
		if (dirs[i][0] != '/' || path_join(dirs[i], "qemu-system-x86_64", &p) < 0)
			continue;
		if (access(p, X_OK) == 0) {
			*ret = TAKE_PTR(p);
			return 0;
		}
	}
	return hv_error_set(reterr, -ENOENT,
	                    "qemu-system-x86_64 is not installed (apt-get install "
	                    "qemu-system-x86), and the node config names no hvm_qemu");
}

int
hv_vm_tap_open(const char *name, int *ret_fd, struct hv_error **reterr)
{
	_cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	struct ifreq ifr = {0};

	if (fd < 0)
		return hv_error_set(reterr, -errno, "cannot open /dev/net/tun: %m");
	if (strlen(name) >= sizeof(ifr.ifr_name))
		return hv_error_set(reterr, -EINVAL, "tap name '%s' is too long", name);
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return hv_error_set(reterr, -errno, "tap %s: cannot attach: %m", name);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* ---- the command line ------------------------------------------------------------ */

static int add(char ***l, const char *fmt, ...) _printf_(2, 3);
static int
add(char ***l, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	return strv_consume(l, s);
}

/* QEMU's option values separate with ','; a ',' in a value is written twice. */
static char *
escape_commas(const char *s)
{
	size_t n = strlen(s), k = 0;
	char *out = malloc(2 * n + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		out[k++] = s[i];
		if (s[i] == ',')
			out[k++] = ',';
	}
	out[k] = 0;
	return out;
}

struct drives {
	unsigned ide;  /* ide units used (at most 4: two buses, two each) */
	unsigned scsi; /* scsi units used */
	bool scsi_ctl;
};

static int
add_drive(char ***l, struct drives *dr, const struct hv_vm_disk *d, const char *jailpath,
          const char *id, struct hv_error **reterr)
{
	bool cd = d->media == HV_VM_MEDIA_CDROM;
	int r;

	r = add(l, "-drive") < 0 ? -ENOMEM : 0;
	if (r >= 0 && streq(d->model, "ide")) {
		if (dr->ide >= 4)
			return hv_error_set(reterr, -E2BIG, "%s: at most 4 ide disks and cdroms",
			                    id);
		r = add(l, "file=%s,format=raw,if=ide,bus=%u,unit=%u,media=%s,id=%s%s", jailpath,
		        dr->ide / 2, dr->ide % 2, cd ? "cdrom" : "disk", id,
		        cd ? ",readonly=on" : "");
		dr->ide++;
		return r;
	}
	if (r >= 0 && streq(d->model, "virtio") && !cd)
		return add(l, "file=%s,format=raw,if=virtio,id=%s,aio=threads", jailpath, id);
	/* scsi, and a virtio cdrom (virtio-blk has no removable media): virtio-scsi. */
	if (r >= 0)
		r = add(l, "file=%s,format=raw,if=none,id=%s,media=%s%s", jailpath, id,
		        cd ? "cdrom" : "disk", cd ? ",readonly=on" : "");
	if (r >= 0 && !dr->scsi_ctl) {
		dr->scsi_ctl = true;
		r = add(l, "-device") < 0 ? -ENOMEM : add(l, "virtio-scsi-pci,id=scsi0");
	}
	if (r >= 0 && add(l, "-device") >= 0)
		r = add(l, "%s,drive=%s,bus=scsi0.0,scsi-id=%u", cd ? "scsi-cd" : "scsi-hd", id,
		        dr->scsi++);
	return r;
}

static const char *
nic_device(const char *model)
{
	if (streq(model, "e1000"))
		return "e1000";
	if (streq(model, "rtl8139"))
		return "rtl8139";
	return "virtio-net-pci";
}

static int
add_chardev_socket(char ***l, const char *id, const char *name)
{
	if (add(l, "-chardev") < 0)
		return -ENOMEM;
	return add(l, "socket,id=%s,path=/vm/run/%s,server=on,wait=off", id, name);
}

static int
add_split(char ***l, const char *s)
{
	_cleanup_strv_free_ char **w = NULL;

	if (!s)
		return 0;
	if (strv_split(s, ' ', &w) < 0)
		return -ENOMEM;
	for (size_t i = 0; w && w[i]; i++)
		if (w[i][0] && strv_push(l, w[i]) < 0)
			return -ENOMEM;
	return 0;
}

static int
add_disks(char ***l, const struct hv_vm_machine *m, struct hv_error **reterr)
{
	struct drives dr = {0};
	size_t order[HV_VM_DISKS_MAX], n = 0;
	int r;

	/* The boot disk first: the BIOS boots the first disk. */
	for (size_t i = 0; i < m->n_disks; i++)
		if (m->disks[i].boot)
			order[n++] = i;
	for (size_t i = 0; i < m->n_disks; i++)
		if (!m->disks[i].boot)
			order[n++] = i;
	for (size_t k = 0; k < n; k++) {
		const struct hv_vm_disk *d = &m->disks[order[k]];
		char path[64], id[32];

		snprintf(path, sizeof(path), "/vm/%s%zu",
		         d->media == HV_VM_MEDIA_CDROM ? "cdrom" : "disk", order[k]);
		snprintf(id, sizeof(id), "disk%zu", order[k]);
		if ((r = add_drive(l, &dr, d, path, id, reterr)) < 0)
			return r;
	}
	for (size_t k = 0; k < m->n_once_cdroms; k++) {
		char path[64], id[32];

		snprintf(path, sizeof(path), "/vm/once%zu", k);
		snprintf(id, sizeof(id), "once%zu", k);
		if ((r = add_drive(l, &dr, &m->once_cdroms[k], path, id, reterr)) < 0)
			return r;
	}
	for (size_t k = 0; k < m->n_once_disks; k++) {
		char path[64], id[32];

		snprintf(path, sizeof(path), "/vm/oncedisk%zu", k);
		snprintf(id, sizeof(id), "oncedisk%zu", k);
		if ((r = add_drive(l, &dr, &m->once_disks[k], path, id, reterr)) < 0)
			return r;
	}
	return 0;
}

/* "order=cd,once=d" as vmadm has it; the once= of vmadm start wins. */
static int
add_boot(char ***l, const struct hv_vm_machine *m)
{
	const char *order = "cd", *once = NULL;
	_cleanup_strv_free_ char **parts = NULL;

	if (m->boot && strv_split(m->boot, ',', &parts) < 0)
		return -ENOMEM;
	for (size_t i = 0; parts && parts[i]; i++) {
		if (startswith(parts[i], "order="))
			order = parts[i] + 6;
		else if (startswith(parts[i], "once="))
			once = parts[i] + 5;
	}
	if (m->once_order)
		once = m->once_order;
	if (add(l, "-boot") < 0)
		return -ENOMEM;
	if (once && once[0])
		return add(l, "order=%s,once=%s", order, once);
	return add(l, "order=%s", order);
}

int
hv_vm_qemu_argv(const struct hv_vm_machine *m, const char *qemu, const char *accel, char ***ret,
                struct hv_error **reterr)
{
	_cleanup_strv_free_ char **l = NULL;
	_cleanup_free_ char *uuid = escape_commas(m->uuid);
	bool kvm = streq(accel, "kvm");
	const char *cpu = m->cpu_type;
	int r = 0;

	if (!uuid)
		return -ENOMEM;
	if (!kvm && streq(cpu, "host"))
		cpu = "max"; /* TCG has no host CPU to show: the most it can emulate */
	if (strv_push(&l, qemu) < 0 || add(&l, "-name") < 0 ||
	    add(&l, "%s,process=%s,debug-threads=on", uuid, uuid) < 0 || add(&l, "-uuid") < 0 ||
	    add(&l, "%s", m->uuid) < 0 || add(&l, "-machine") < 0 ||
	    add(&l, "pc,accel=%s", accel) < 0 || add(&l, "-cpu") < 0 || add(&l, "%s", cpu) < 0 ||
	    add(&l, "-m") < 0 || add(&l, "%" PRIu64, m->ram) < 0 || add(&l, "-smp") < 0 ||
	    add(&l, "%u", m->vcpus) < 0 || add(&l, "-nodefaults") < 0 ||
	    add(&l, "-no-user-config") < 0 || add(&l, "-smbios") < 0 ||
	    add(&l, "type=1,manufacturer=Joyent,product=SmartDC HVM,version=7.0,serial=%s,uuid=%s",
	        uuid, uuid) < 0 ||
	    add(&l, "-rtc") < 0 || add(&l, "base=utc,driftfix=slew") < 0 ||
	    add(&l, "-sandbox") < 0 ||
	    add(&l, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny") <
	            0 ||
	    add(&l, "-msg") < 0 || add(&l, "timestamp=on") < 0)
		return -ENOMEM;
	if ((r = add_boot(&l, m)) < 0 || (r = add_disks(&l, m, reterr)) < 0)
		return r;
	for (size_t i = 0; i < m->n_nics; i++) {
		const struct hv_vm_nic *n = &m->nics[i];

		if (n->fd < 0)
			return hv_error_set(reterr, -EINVAL, "NIC %s has no tap", n->mac);
		if (add(&l, "-netdev") < 0 || add(&l, "tap,id=net%zu,fd=%d", i, n->fd) < 0 ||
		    add(&l, "-device") < 0 ||
		    add(&l, "%s,netdev=net%zu,mac=%s,romfile=", nic_device(n->model), i, n->mac) <
		            0)
			return -ENOMEM;
	}
	if (add_chardev_socket(&l, "serial0", "vm.console") < 0 || add(&l, "-serial") < 0 ||
	    add(&l, "chardev:serial0") < 0 || add_chardev_socket(&l, "serial1", "vm.ttyb") < 0 ||
	    add(&l, "-serial") < 0 || add(&l, "chardev:serial1") < 0 ||
	    add_chardev_socket(&l, "qmp", "vm.qmp") < 0 || add(&l, "-mon") < 0 ||
	    add(&l, "chardev=qmp,mode=control") < 0 ||
	    add_chardev_socket(&l, "sup", "vm.sup") < 0 || add(&l, "-mon") < 0 ||
	    add(&l, "chardev=sup,mode=control") < 0 || add(&l, "-vnc") < 0 ||
	    add(&l, "unix:/vm/run/vm.vnc%s", m->vnc_password ? ",password=on" : "") < 0)
		return -ENOMEM;
	if (m->qemu_opts)
		r = add_split(&l, m->qemu_opts);
	else if (add(&l, "-vga") < 0 || add(&l, "%s", m->vga) < 0 || add(&l, "-display") < 0 ||
	         add(&l, "none") < 0 || add(&l, "-usb") < 0 || add(&l, "-device") < 0 ||
	         add(&l, "usb-tablet") < 0)
		r = -ENOMEM;
	if (r >= 0)
		r = add_split(&l, m->qemu_extra_opts);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(l);
	return 0;
}
