/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Inside lib/zone's cgroup layer: the object, the layout backends' ops
 * table, and the pure pieces (mount discovery, limit translation) that the
 * unit test calls directly. zone-cgroup.c explains how it fits together.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zone/zone-cgroup.h"

/* The v1 hierarchies a zone uses (bits of a mask; one hierarchy may carry several). */
enum hv_cgroup_controller {
	HV_CG_CPU,
	HV_CG_CPUACCT,
	HV_CG_MEMORY,
	HV_CG_PIDS,
	HV_CG_BLKIO,
	HV_CG_DEVICES,
	HV_CG_FREEZER,
	HV_CG_SYSTEMD, /* the named hierarchy name=systemd */
	_HV_CG_MAX,
};

/* "cpu", …, "name=systemd" (as in mount options and /proc/<pid>/cgroup). */
const char *hv_cgroup_controller_to_string(enum hv_cgroup_controller c);

struct hv_cgroup_hier {
	char *mount;   /* where the hierarchy is mounted */
	char *path;    /* <mount>/<prefix>/<name>; NULL in struct hv_cgroup_mounts */
	unsigned mask; /* 1u << enum hv_cgroup_controller, for each controller it carries */
};

/* The cgroup filesystems of this mount namespace. */
struct hv_cgroup_mounts {
	char *v2; /* the cgroup2 mount, or NULL */
	struct hv_cgroup_hier v1[_HV_CG_MAX];
	size_t n_v1;
};

/* Parse /proc/self/mountinfo's text (modified in place). Unparsable lines are skipped. */
int hv_cgroup_mounts_parse(char *mountinfo, struct hv_cgroup_mounts *ret);
int hv_cgroup_mounts_read(struct hv_cgroup_mounts *ret, struct hv_error **reterr);
void hv_cgroup_mounts_done(struct hv_cgroup_mounts *m);
/* V1 when cpu, memory or pids sit on a v1 hierarchy, else V2 when cgroup2 is mounted. */
enum hv_cgroup_layout hv_cgroup_mounts_layout(const struct hv_cgroup_mounts *m);

struct hv_cgroup {
	enum hv_cgroup_layout layout;
	const struct hv_cgroup_ops *ops;
	char *prefix;
	char *name;
	char *v2_mount; /* NULL on a host without cgroup2 */
	char *v2_path; /* the zone's cgroup2 node (V2: its only cgroup; hybrid: the unified node) */
	struct hv_cgroup_hier v1[_HV_CG_MAX]; /* V1 only */
	size_t n_v1;
	uint64_t id; /* inode of v2_path, 0 without one */
};

/* Limits checked and put in kernel units. */
#define HV_CGROUP_NO_LIMIT       UINT64_MAX
#define HV_CGROUP_CPU_PERIOD_US  UINT64_C(100000)
#define HV_CGROUP_MEMORY_MIN     (UINT64_C(1) << 20)
#define HV_CGROUP_PIDS_MAX       UINT64_C(4194304) /* PID_MAX_LIMIT */
#define HV_CGROUP_SHARES_DEFAULT 100u
#define HV_CGROUP_SHARES_MAX     65535u
#define HV_CGROUP_IO_DEFAULT     100u
#define HV_CGROUP_IO_MAX         1000u

struct hv_cgroup_values {
	uint64_t memory;       /* bytes */
	uint64_t memsw;        /* bytes of memory + swap */
	uint64_t cpu_quota_us; /* per HV_CGROUP_CPU_PERIOD_US */
	uint64_t pids;
	uint32_t shares;    /* SmartOS cpu_shares, 1..65535 */
	uint32_t io_weight; /* 1..1000 */
};

/* Check l and translate it; -EINVAL naming the vmadm property for a bad value. */
int hv_cgroup_values_from_limits(const struct hv_zone_limits *l, struct hv_cgroup_values *ret,
                                 struct hv_error **reterr);
/* SmartOS shares → v1 cpu.shares (100 → 1024; 2..262144). */
uint64_t hv_cgroup_v1_cpu_shares(uint32_t shares);
/* SmartOS shares → v2 cpu.weight (100 → 100; 1..10000). */
uint64_t hv_cgroup_v2_cpu_weight(uint32_t shares);
/* io_priority → v1 blkio.weight (10..1000). */
uint64_t hv_cgroup_v1_blkio_weight(uint32_t prio);

/* One file write of a limit. */
struct hv_cgroup_write {
	const char *property;                 /* vmadm's name, for messages */
	enum hv_cgroup_controller controller; /* the v1 hierarchy (unused on v2) */
	const char *file;
	char value[32];
	bool optional; /* a missing file is skipped: a limit removed, or a knob the kernel may lack
	                */
};
#define HV_CGROUP_PLAN_MAX 12

/* A write of value (copied) to file. */
struct hv_cgroup_write hv_cgroup_write_of(const char *property, enum hv_cgroup_controller c,
                                          const char *file, const char *value, bool optional);
/* v as decimal, or no_limit ("-1" on v1, "max" on v2) for HV_CGROUP_NO_LIMIT; returns buf. */
char *hv_cgroup_format(char buf[static 32], uint64_t v, const char *no_limit);

/*
 * The writes that apply v, in order. v1 needs the current
 * memory.memsw.limit_in_bytes (UINT64_MAX when unknown): the kernel keeps
 * memsw >= memory at every step, which decides which of the two goes first.
 */
size_t hv_cgroup_v1_plan(const struct hv_cgroup_values *v, uint64_t cur_memsw,
                         struct hv_cgroup_write ret[static HV_CGROUP_PLAN_MAX]);
size_t hv_cgroup_v2_plan(const struct hv_cgroup_values *v,
                         struct hv_cgroup_write ret[static HV_CGROUP_PLAN_MAX]);

/* Carry out plan[0..n) in dirs chosen by dir_of (NULL: that controller is not there). */
int hv_cgroup_apply_plan(const struct hv_cgroup_write *plan, size_t n,
                         const char *(*dir_of)(const struct hv_cgroup *cg,
                                               enum hv_cgroup_controller c),
                         const struct hv_cgroup *cg, struct hv_error **reterr);

/* The device nodes a zone may use (zone-cgroup.h lists them); minor -1 is any. */
struct hv_cgroup_device {
	char type; /* 'c' or 'b' */
	unsigned major;
	int minor;
};
extern const struct hv_cgroup_device hv_cgroup_devices[];
extern const size_t hv_cgroup_n_devices;

/*
 * Load the BPF_CGROUP_DEVICE program that allows hv_cgroup_devices only and
 * attach it to the cgroup2 directory dir (replacing one attached before).
 */
int hv_cgroup_device_filter_attach(const char *dir, struct hv_error **reterr);

/* Write value to dir/file: "cgroup 'dir': cannot write 'value' to file: …" on failure. */
int hv_cgroup_write_file(const char *dir, const char *file, const char *value,
                         struct hv_error **reterr);
/* First line of dir/file. */
int hv_cgroup_read_file(const char *dir, const char *file, char **ret, struct hv_error **reterr);

/* Processes in dir and the cgroups below it. */
int hv_cgroup_tree_count(const char *dir, unsigned *ret, struct hv_error **reterr);
/* SIGKILL every process listed in dir and below (for frozen cgroups: pids cannot be reused). */
int hv_cgroup_tree_kill(const char *dir, unsigned *ret_killed, struct hv_error **reterr);

/* Poll dir/file until its first line starting with key reads "key want", up to timeout_ms. */
int hv_cgroup_wait_for(const char *dir, const char *file, const char *key, const char *want,
                       unsigned timeout_ms, struct hv_error **reterr);

struct hv_cgroup_ops {
	const char *name;
	/* Make the directories (existing ones are fine); v2 also enables controllers. */
	int (*create)(struct hv_cgroup *cg, struct hv_error **reterr);
	int (*set_limits)(struct hv_cgroup *cg, const struct hv_cgroup_values *v,
	                  struct hv_error **reterr);
	/* The layout's own device control (v1: devices.deny/allow; v2: the BPF program). */
	int (*limit_devices)(struct hv_cgroup *cg, struct hv_error **reterr);
	/* Kill everything without cgroup.kill: freeze, SIGKILL, thaw. */
	int (*kill_all)(struct hv_cgroup *cg, struct hv_error **reterr);
};

extern const struct hv_cgroup_ops hv_cgroup_v1_ops;
extern const struct hv_cgroup_ops hv_cgroup_v2_ops;
