/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A hardware VM's machine: what QEMU is asked to build. lib/core writes it
 * from the VM's record as <zonepath>/config/hvm.json (beside zone.json and
 * net.json); zoneadmd reads it at every boot, builds QEMU's command line
 * (vm-machine.c), the jail QEMU runs in (vm-jail.c) and talks to it over
 * QMP (qmp.h). The sockets of a running VM are in <zonepath>/root/tmp, as
 * on SmartOS: vm.qmp (for vmadm), vm.sup (zoneadmd's own monitor),
 * vm.console (ttyS0), vm.ttyb (ttyS1, the metadata port), vm.vnc.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/error.h"
#include "zone/zone-cgroup.h"

#define HV_VM_DISKS_MAX 32
#define HV_VM_NICS_MAX  32
#define HV_VM_ONCE_MAX  4 /* cdroms, and disks, for one boot */
/* What QEMU itself and the supervisor need beyond the guest's RAM (MiB). */
#define HV_VM_MEM_OVERHEAD_MIB 256

enum hv_vm_media { HV_VM_MEDIA_DISK, HV_VM_MEDIA_CDROM };

struct hv_vm_disk {
	char *path;  /* on the host: a pool volume's file, a block device, an ISO */
	char *model; /* virtio|ide|scsi */
	enum hv_vm_media media;
	bool boot;
};

struct hv_vm_nic {
	char *mac;
	char *model; /* virtio|e1000|rtl8139 */
	char *tap;   /* the host's tap (set by the supervisor when it plugs it) */
	int fd;      /* an open queue of the tap, or -1 */
};

struct hv_vm_machine {
	char *uuid;
	char *zonepath;
	uint64_t ram;   /* MiB */
	unsigned vcpus; /* >= 1 */
	char *cpu_type; /* qemu64|host */
	char *vga;      /* std|cirrus|vmware|qxl|xenfb */
	char *boot;     /* "order=cd[,once=d]" or NULL */
	struct hv_vm_disk disks[HV_VM_DISKS_MAX];
	size_t n_disks;
	struct hv_vm_nic nics[HV_VM_NICS_MAX];
	size_t n_nics;
	int vnc_port; /* 0: no TCP listener (the unix socket vm.vnc only); -1 likewise */
	char *vnc_password;
	char *qemu_opts;       /* replaces Sable's defaults (display, USB) */
	char *qemu_extra_opts; /* appended, split at spaces */
	/*
	 * For this boot only (vmadm start order= cdrom= disk=), from
	 * config/hvm-once.json: files inside the zone root (<zonepath>/root),
	 * which the jail opens there without following symlinks.
	 */
	char *once_order;
	struct hv_vm_disk once_cdroms[HV_VM_ONCE_MAX];
	size_t n_once_cdroms;
	struct hv_vm_disk once_disks[HV_VM_ONCE_MAX];
	size_t n_once_disks;
};

void hv_vm_machine_done(struct hv_vm_machine *m);

/* Read <zonepath>/config/hvm.json and, when there, consume config/hvm-once.json. */
int hv_vm_machine_load(const char *zonepath, struct hv_vm_machine *ret, struct hv_error **reterr);

/*
 * The accelerator QEMU uses on this host: the node config's hvm_accel
 * (auto|kvm|tcg, default auto). auto takes kvm only when a guest really
 * ran on it: the first time after each host boot a Linux kernel is booted
 * under QEMU with KVM for a second or two (vm-accel.c), and the answer is
 * kept in $SABLE_ROOT/var/run/sable/hvm-accel.json for the rest of the
 * host's boot. ret is "kvm" or "tcg"; ret_reason (nullable, caller frees)
 * says why in one line.
 */
int hv_vm_accel(char **ret, char **ret_reason, struct hv_error **reterr);

/* The QEMU binary: the node config's hvm_qemu, else qemu-system-x86_64 from PATH. */
int hv_vm_qemu_path(char **ret, struct hv_error **reterr);

/*
 * QEMU's command line for m, as the jail sees the world (vm-jail.c): disks
 * at /vm/disk<N>, cdroms at /vm/cdrom<N>, this boot's cdroms and disks at
 * /vm/once<N> and /vm/oncedisk<N>, sockets in /vm/run, taps as the NICs'
 * open fds. NULL-terminated; free with strv_free.
 */
int hv_vm_qemu_argv(const struct hv_vm_machine *m, const char *qemu, const char *accel, char ***ret,
                    struct hv_error **reterr);

/* The running VM's socket directory on the host (<zonepath>/root/tmp) and a socket in it. */
int hv_vm_run_dir(const char *zonepath, char **ret);
int hv_vm_socket_path(const char *zonepath, const char *name, char **ret);

/* Open a queue of the existing tap name (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR), for QEMU's fd=. */
int hv_vm_tap_open(const char *name, int *ret_fd, struct hv_error **reterr);

/*
 * Start QEMU in its jail (vm-jail.c has the theory), as a child of the
 * caller, in the cgroup whose cgroup2 directory is cgroup_fd (or -1 on a
 * host without one: the caller attaches it), running as uid:uid. On return
 * QEMU is running and *ret_qmp is connected to its supervisor monitor
 * (vm.sup); *ret_pidfd holds it. A QEMU
 * that fails to start is reaped and its stderr is in the error.
 */
struct hv_vm_jail {
	const struct hv_vm_machine *m;
	char *const *argv;
	uid_t uid;
	int cgroup_fd;
	const char *qemu; /* the binary on the host */
	const char *log;  /* QEMU's stderr goes here (appended) */
	bool kvm;         /* show /dev/kvm */
	/* v1 controllers (and cgroup2 without CLONE_INTO_CGROUP) the child joins itself */
	const struct hv_cgroup_join *join;
};
struct hv_qmp;
int hv_vm_jail_start(const struct hv_vm_jail *j, pid_t *ret_pid, int *ret_pidfd,
                     struct hv_qmp **ret_qmp, struct hv_error **reterr);
