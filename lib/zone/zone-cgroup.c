/* SPDX-License-Identifier: MIT */
/*
 * A zone's control groups: theory of operation.
 *
 * Two layouts exist and are told apart at run time from
 * /proc/self/mountinfo (hv_cgroup_detect()):
 *
 *   V1 when cpu, memory or pids sit on a v1 hierarchy. The zone gets one
 *   directory <mount>/<prefix>/<name> in every mounted hierarchy that
 *   carries a controller it uses (cpu, cpuacct, memory, pids, blkio,
 *   devices, freezer) and in the named hierarchy name=systemd. Where a
 *   cgroup2 filesystem is mounted beside them (a "hybrid" host), the zone
 *   also gets a node there without controllers: it gives cgroup.kill,
 *   cgroup.freeze, PSI, cgroup BPF and the cgroup id that tracing sees.
 *
 *   V2 otherwise: one directory <cgroup2>/<prefix>/<name> carries
 *   everything; the controllers are enabled in the root's and <prefix>'s
 *   cgroup.subtree_control.
 *
 * Only the conventional mounts are assumed to exist; where they are comes
 * from mountinfo. A controller that is not mounted is an error only when a
 * limit needs it. Limits travel in two steps: hv_cgroup_values_from_limits()
 * checks vmadm's values and puts them in kernel units, then a layout's plan
 * (hv_cgroup_v1_plan(), hv_cgroup_v2_plan()) turns them into file writes in
 * a safe order; both are pure, so the v2 mapping is tested on hosts without
 * v2 controllers.
 *
 * Ownership: <prefix> belongs to the state root (hv_node_prefix()); Sable
 * creates <prefix> directories and leaves them in place, as systemd leaves
 * machine.slice (on v2 they hold the controller delegation; a start that
 * makes them again pays ten more mkdirs, a rmdir each at its end and the
 * subtree_control writes), and owns <prefix>/<name> and everything below it
 * (a zone may make sub-cgroups). Destroying a zone removes its directories
 * children first and refuses with -EBUSY while any process is left in any
 * hierarchy, before removing anything. Every call is idempotent: create on
 * existing directories, destroy on missing ones, limits and device rules
 * rewritten in full. Nothing here keeps state between calls beyond the
 * paths: attached BPF programs live as long as the cgroup.
 *
 * This file holds the common part (discovery, paths, the generic tree walk,
 * dispatch); zone-cgroup-v1.c and zone-cgroup-v2.c (with the device BPF
 * program) are the backends behind struct hv_cgroup_ops.
 */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/mountinfo.h"
#include "basic/path.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/parse.h"
#include "basic/config.h"
#include "zone/zone-cgroup-internal.h"

/* Limits on what we read: mountinfo, and cgroup.procs of a zone (4M pids of up to 8 digits). */
#define MOUNTINFO_MAX (64u * 1024 * 1024)
#define PROCS_MAX     (40u * 1024 * 1024)
/* How deep the walk goes below a zone's cgroup (a zone may make sub-cgroups). */
#define TREE_DEPTH_MAX 32u
#define NAME_MAX_LEN   64u

static const char *const controller_names[_HV_CG_MAX] = {
        [HV_CG_CPU] = "cpu",         [HV_CG_CPUACCT] = "cpuacct",      [HV_CG_MEMORY] = "memory",
        [HV_CG_PIDS] = "pids",       [HV_CG_BLKIO] = "blkio",          [HV_CG_DEVICES] = "devices",
        [HV_CG_FREEZER] = "freezer", [HV_CG_SYSTEMD] = "name=systemd",
};

const char *
hv_cgroup_controller_to_string(enum hv_cgroup_controller c)
{
	return c >= 0 && c < _HV_CG_MAX ? controller_names[c] : NULL;
}

static const char *const layout_names[_HV_CGROUP_LAYOUT_MAX] = {
        [HV_CGROUP_V1] = "v1",
        [HV_CGROUP_V2] = "v2",
};

const char *
hv_cgroup_layout_to_string(enum hv_cgroup_layout l)
{
	return l >= 0 && l < _HV_CGROUP_LAYOUT_MAX ? layout_names[l] : NULL;
}

/* The controllers we use among a v1 mount's super options ("rw,cpu,cpuacct"). */
static unsigned
controllers_of(char *opts)
{
	char *save = NULL;
	unsigned mask = 0;

	for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save))
		for (unsigned c = 0; c < _HV_CG_MAX; c++)
			if (streq(o, controller_names[c]))
				mask |= 1u << c;
	return mask;
}

static int
add_v1(struct hv_cgroup_mounts *m, const char *where, unsigned mask)
{
	/* A controller lives in one hierarchy: an overlap is the same one mounted again. */
	for (size_t i = 0; i < m->n_v1; i++)
		if (m->v1[i].mask & mask)
			return 0;
	if (m->n_v1 >= ELEMENTSOF(m->v1))
		return 0;
	m->v1[m->n_v1].mount = strdup(where);
	if (!m->v1[m->n_v1].mount)
		return -ENOMEM;
	m->v1[m->n_v1++].mask = mask;
	return 0;
}

int
hv_cgroup_mounts_parse(char *mountinfo, struct hv_cgroup_mounts *ret)
{
	struct hv_cgroup_mounts m = {};
	char *save = NULL;
	int r;

	for (char *line = strtok_r(mountinfo, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct mountinfo_line ml;
		char *where, *fstype, *opts;
		unsigned mask;

		if (mountinfo_parse_line(line, &ml) < 0)
			continue;
		where = ml.mount_point;
		fstype = ml.fstype;
		opts = ml.super_options;
		if (streq(fstype, "cgroup2")) {
			if (m.v2)
				continue;
			m.v2 = strdup(where);
			if (!m.v2) {
				hv_cgroup_mounts_done(&m);
				return -ENOMEM;
			}
		} else if (streq(fstype, "cgroup")) {
			mask = controllers_of(opts);
			if (mask == 0)
				continue;
			r = add_v1(&m, where, mask);
			if (r < 0) {
				hv_cgroup_mounts_done(&m);
				return r;
			}
		}
	}
	*ret = m;
	return 0;
}

int
hv_cgroup_mounts_read(struct hv_cgroup_mounts *ret, struct hv_error **reterr)
{
	_cleanup_free_ char *text = NULL;
	int r;

	r = read_full_file("/proc/self/mountinfo", MOUNTINFO_MAX, &text, NULL);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read /proc/self/mountinfo: %m");
	return hv_cgroup_mounts_parse(text, ret);
}

void
hv_cgroup_mounts_done(struct hv_cgroup_mounts *m)
{
	free(m->v2);
	for (size_t i = 0; i < m->n_v1; i++)
		free(m->v1[i].mount);
	*m = (struct hv_cgroup_mounts){};
}

enum hv_cgroup_layout
hv_cgroup_mounts_layout(const struct hv_cgroup_mounts *m)
{
	const unsigned needed = 1u << HV_CG_CPU | 1u << HV_CG_MEMORY | 1u << HV_CG_PIDS;

	/* A v2 host may still mount a stray v1 hierarchy (net_cls, name=systemd): not V1. */
	for (size_t i = 0; i < m->n_v1; i++)
		if (m->v1[i].mask & needed)
			return HV_CGROUP_V1;
	return m->v2 ? HV_CGROUP_V2 : _HV_CGROUP_LAYOUT_INVALID;
}

static int
detect(struct hv_cgroup_mounts *m, enum hv_cgroup_layout *ret, struct hv_error **reterr)
{
	enum hv_cgroup_layout l;
	int r;

	r = hv_cgroup_mounts_read(m, reterr);
	if (r < 0)
		return r;
	l = hv_cgroup_mounts_layout(m);
	if (l < 0) {
		hv_cgroup_mounts_done(m);
		return hv_error_set(reterr, -ENOMEDIUM,
		                    "no cgroup filesystem with the cpu, memory or pids controller "
		                    "is mounted");
	}
	*ret = l;
	return 0;
}

int
hv_cgroup_detect(enum hv_cgroup_layout *ret, struct hv_error **reterr)
{
	struct hv_cgroup_mounts m = {};
	int r;

	r = detect(&m, ret, reterr);
	if (r >= 0)
		hv_cgroup_mounts_done(&m);
	return r;
}

/* A zone name becomes a path component and a message word: letters, digits, '-', '_'. */
static bool
name_is_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (; *name; name++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
		            *name))
			return false;
	return true;
}

struct hv_cgroup *
hv_cgroup_free(struct hv_cgroup *cg)
{
	if (!cg)
		return NULL;
	free(cg->prefix);
	free(cg->name);
	free(cg->v2_mount);
	free(cg->v2_path);
	for (size_t i = 0; i < cg->n_v1; i++) {
		free(cg->v1[i].mount);
		free(cg->v1[i].path);
	}
	free(cg);
	return NULL;
}

static void
hv_cgroup_freep(struct hv_cgroup **cg)
{
	*cg = hv_cgroup_free(*cg);
}

static int
zone_path(const char *mount, const char *prefix, const char *name, char **ret)
{
	if (asprintf(ret, "%s/%s/%s", streq(mount, "/") ? "" : mount, prefix, name) < 0)
		return -ENOMEM;
	return 0;
}

/* The object with every path filled in; nothing on disk is touched. */
static int
cgroup_new(const char *prefix, const char *name, struct hv_cgroup **ret, struct hv_error **reterr)
{
	_cleanup_(hv_cgroup_freep) struct hv_cgroup *cg = NULL;
	struct hv_cgroup_mounts m = {};
	enum hv_cgroup_layout l = _HV_CGROUP_LAYOUT_INVALID;
	int r;

	if (!hv_prefix_is_valid(prefix))
		return hv_error_set(
		        reterr, -EINVAL,
		        "cgroup prefix '%s': expected 2-8 lower-case letters and digits, "
		        "starting with a letter",
		        strempty(prefix));
	if (!name_is_valid(name))
		return hv_error_set(
		        reterr, -EINVAL,
		        "zone cgroup name '%s': expected 1-%u letters, digits, '-' or '_'",
		        strempty(name), NAME_MAX_LEN);
	r = detect(&m, &l, reterr);
	if (r < 0)
		return r;

	cg = calloc(1, sizeof(*cg));
	if (!cg) {
		hv_cgroup_mounts_done(&m);
		return -ENOMEM;
	}
	cg->layout = l;
	cg->ops = l == HV_CGROUP_V1 ? &hv_cgroup_v1_ops : &hv_cgroup_v2_ops;
	cg->v2_mount = TAKE_PTR(m.v2);
	if (l == HV_CGROUP_V1) {
		for (size_t i = 0; i < m.n_v1; i++)
			cg->v1[i] = m.v1[i];
		cg->n_v1 = m.n_v1;
	} else
		hv_cgroup_mounts_done(&m);
	cg->prefix = strdup(prefix);
	cg->name = strdup(name);
	if (!cg->prefix || !cg->name)
		return -ENOMEM;
	if (cg->v2_mount && zone_path(cg->v2_mount, prefix, name, &cg->v2_path) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < cg->n_v1; i++)
		if (zone_path(cg->v1[i].mount, prefix, name, &cg->v1[i].path) < 0)
			return -ENOMEM;
	*ret = TAKE_PTR(cg);
	return 0;
}

/* Every directory of the zone, NULL-terminated: v1 hierarchies, then the cgroup2 node. */
static size_t
all_dirs(const struct hv_cgroup *cg, const char *ret[static _HV_CG_MAX + 2])
{
	size_t n = 0;

	for (size_t i = 0; i < cg->n_v1; i++)
		ret[n++] = cg->v1[i].path;
	if (cg->v2_path)
		ret[n++] = cg->v2_path;
	ret[n] = NULL;
	return n;
}

static int
read_id(struct hv_cgroup *cg, struct hv_error **reterr)
{
	struct stat st;

	if (!cg->v2_path)
		return 0;
	if (stat(cg->v2_path, &st) < 0)
		return hv_error_set(reterr, -errno, "cgroup '%s': %m", cg->v2_path);
	cg->id = (uint64_t)st.st_ino;
	return 0;
}

int
hv_cgroup_create(const char *prefix, const char *name, struct hv_cgroup **ret,
                 struct hv_error **reterr)
{
	_cleanup_(hv_cgroup_freep) struct hv_cgroup *cg = NULL;
	int r;

	r = cgroup_new(prefix, name, &cg, reterr);
	if (r < 0)
		return r;
	r = cg->ops->create(cg, reterr);
	if (r < 0)
		return r;
	/* The controller-less cgroup2 node of a hybrid host. */
	if (cg->layout == HV_CGROUP_V1 && cg->v2_path) {
		r = mkdir_p(cg->v2_path, 0755);
		if (r < 0)
			return hv_error_set(reterr, r, "cannot create cgroup '%s': %m",
			                    cg->v2_path);
	}
	r = read_id(cg, reterr);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(cg);
	return 0;
}

int
hv_cgroup_open(const char *prefix, const char *name, struct hv_cgroup **ret,
               struct hv_error **reterr)
{
	_cleanup_(hv_cgroup_freep) struct hv_cgroup *cg = NULL;
	const char *dirs[_HV_CG_MAX + 2];
	int r;

	r = cgroup_new(prefix, name, &cg, reterr);
	if (r < 0)
		return r;
	all_dirs(cg, dirs);
	for (const char **d = dirs; *d; d++) {
		struct stat st;

		if (stat(*d, &st) < 0)
			return hv_error_set(reterr, -errno, "zone cgroup '%s/%s': '%s': %m", prefix,
			                    name, *d);
		if (!S_ISDIR(st.st_mode))
			return hv_error_set(reterr, -ENOTDIR, "zone cgroup '%s/%s': '%s': %m",
			                    prefix, name, *d);
	}
	r = read_id(cg, reterr);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(cg);
	return 0;
}

enum hv_cgroup_layout
hv_cgroup_layout(const struct hv_cgroup *cg)
{
	return cg->layout;
}

uint64_t
hv_cgroup_id(const struct hv_cgroup *cg)
{
	return cg->id;
}

const char *
hv_cgroup_path(const struct hv_cgroup *cg, const char *controller)
{
	/* On v2 every controller lives in the one node. */
	if (!controller || cg->layout == HV_CGROUP_V2)
		return cg->v2_path;
	if (streq(controller, "systemd"))
		controller = "name=systemd";
	for (unsigned c = 0; c < _HV_CG_MAX; c++) {
		if (!streq(controller, controller_names[c]))
			continue;
		for (size_t i = 0; i < cg->n_v1; i++)
			if (cg->v1[i].mask & (1u << c))
				return cg->v1[i].path;
	}
	return NULL;
}

int
hv_cgroup_values_from_limits(const struct hv_zone_limits *l, struct hv_cgroup_values *ret,
                             struct hv_error **reterr)
{
	struct hv_cgroup_values v = {};

	if (l->memory != 0 && l->memory < HV_CGROUP_MEMORY_MIN)
		return hv_error_set_path(reterr, -EINVAL, "max_physical_memory",
		                         "max_physical_memory: expected at least %" PRIu64
		                         " bytes, or 0 for no limit; got %" PRIu64,
		                         HV_CGROUP_MEMORY_MIN, l->memory);
	if (l->swap != 0 && l->memory == 0)
		return hv_error_set_path(reterr, -EINVAL, "max_swap",
		                         "max_swap: expected max_physical_memory to be set too "
		                         "(max_swap counts memory + swap)");
	if (l->swap != 0 && l->swap < l->memory)
		return hv_error_set_path(reterr, -EINVAL, "max_swap",
		                         "max_swap: expected at least max_physical_memory (%" PRIu64
		                         " bytes, memory + swap); got %" PRIu64,
		                         l->memory, l->swap);
	if (l->cpu_shares > HV_CGROUP_SHARES_MAX)
		return hv_error_set_path(reterr, -EINVAL, "cpu_shares",
		                         "cpu_shares: expected 1..%u, or 0 for the default (%u); "
		                         "got %" PRIu32,
		                         HV_CGROUP_SHARES_MAX, HV_CGROUP_SHARES_DEFAULT,
		                         l->cpu_shares);
	if (l->max_lwps > HV_CGROUP_PIDS_MAX)
		return hv_error_set_path(reterr, -EINVAL, "max_lwps",
		                         "max_lwps: expected at most %" PRIu64
		                         " (the kernel's process limit), or 0 for no limit; "
		                         "got %" PRIu32,
		                         HV_CGROUP_PIDS_MAX, l->max_lwps);
	if (l->io_priority > HV_CGROUP_IO_MAX)
		return hv_error_set_path(reterr, -EINVAL, "zfs_io_priority",
		                         "zfs_io_priority: expected 1..%u, or 0 for the default "
		                         "(%u); got %" PRIu32,
		                         HV_CGROUP_IO_MAX, HV_CGROUP_IO_DEFAULT, l->io_priority);
	/* cpu_cap has no bad value: any cap * 1 ms fits the kernel's quota range. */

	v.memory = l->memory ?: HV_CGROUP_NO_LIMIT;
	v.memsw = l->swap ?: HV_CGROUP_NO_LIMIT;
	v.cpu_quota_us = l->cpu_cap ? (uint64_t)l->cpu_cap * 1000 : HV_CGROUP_NO_LIMIT;
	v.pids = l->max_lwps ?: HV_CGROUP_NO_LIMIT;
	v.shares = l->cpu_shares ?: HV_CGROUP_SHARES_DEFAULT;
	v.io_weight = l->io_priority ?: HV_CGROUP_IO_DEFAULT;
	*ret = v;
	return 0;
}

struct hv_cgroup_write
hv_cgroup_write_of(const char *property, enum hv_cgroup_controller c, const char *file,
                   const char *value, bool optional)
{
	struct hv_cgroup_write w = {
	        .property = property, .controller = c, .file = file, .optional = optional};

	snprintf(w.value, sizeof(w.value), "%s", value);
	return w;
}

char *
hv_cgroup_format(char buf[static 32], uint64_t v, const char *no_limit)
{
	if (v == HV_CGROUP_NO_LIMIT)
		snprintf(buf, 32, "%s", no_limit);
	else
		snprintf(buf, 32, "%" PRIu64, v);
	return buf;
}

int
hv_cgroup_write_file(const char *dir, const char *file, const char *value, struct hv_error **reterr)
{
	_cleanup_free_ char *p = NULL;
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (asprintf(&p, "%s/%s", dir, file) < 0)
		return -ENOMEM;
	fd = open(p, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return hv_error_set(reterr, -errno, "cgroup '%s': %s: %m", dir, file);
	/* A cgroup file takes one write(2): a value is applied whole or refused. */
	r = loop_write(fd, value, strlen(value));
	if (r < 0)
		return hv_error_set(reterr, r, "cgroup '%s': cannot write '%s' to %s: %m", dir,
		                    value, file);
	return 0;
}

int
hv_cgroup_read_file(const char *dir, const char *file, char **ret, struct hv_error **reterr)
{
	_cleanup_free_ char *p = NULL;
	int r;

	if (asprintf(&p, "%s/%s", dir, file) < 0)
		return -ENOMEM;
	r = read_one_line_file(p, ret);
	if (r < 0)
		return hv_error_set(reterr, r, "cgroup '%s': cannot read %s: %m", dir, file);
	return 0;
}

int
hv_cgroup_apply_plan(const struct hv_cgroup_write *plan, size_t n,
                     const char *(*dir_of)(const struct hv_cgroup *cg, enum hv_cgroup_controller c),
                     const struct hv_cgroup *cg, struct hv_error **reterr)
{
	for (size_t i = 0; i < n; i++) {
		const struct hv_cgroup_write *w = &plan[i];
		const char *dir = dir_of(cg, w->controller);
		_cleanup_free_ char *p = NULL;
		int r;

		if (!dir) {
			if (w->optional)
				continue;
			return hv_error_set_path(reterr, -EOPNOTSUPP, w->property,
			                         "%s: the %s controller is not mounted",
			                         w->property, controller_names[w->controller]);
		}
		if (asprintf(&p, "%s/%s", dir, w->file) < 0)
			return -ENOMEM;
		if (access(p, F_OK) < 0 && errno == ENOENT) {
			if (w->optional)
				continue;
			/* v2: a controller not enabled in the parent's cgroup.subtree_control. */
			return hv_error_set_path(
			        reterr, -EOPNOTSUPP, w->property,
			        "%s: cgroup '%s' has no %s: the %.*s controller is "
			        "not enabled there",
			        w->property, dir, w->file, (int)strcspn(w->file, "."), w->file);
		}
		r = hv_cgroup_write_file(dir, w->file, w->value, reterr);
		if (r < 0)
			return hv_error_prefix(reterr, r, "%s", w->property);
	}
	return 0;
}

int
hv_cgroup_set_limits(struct hv_cgroup *cg, const struct hv_zone_limits *l, struct hv_error **reterr)
{
	struct hv_cgroup_values v;
	int r;

	r = hv_cgroup_values_from_limits(l, &v, reterr);
	if (r < 0)
		return r;
	return cg->ops->set_limits(cg, &v, reterr);
}

int
hv_cgroup_limit_devices(struct hv_cgroup *cg, struct hv_error **reterr)
{
	int r;

	r = cg->ops->limit_devices(cg, reterr);
	if (r < 0)
		return r;
	/*
	 * Hybrid without a v1 devices hierarchy: the unified node's BPF
	 * program is the filter. With one, that hierarchy suffices (a second
	 * filter would cost a program load and verification per start).
	 */
	if (cg->layout == HV_CGROUP_V1 && cg->v2_path && !hv_cgroup_path(cg, "devices"))
		return hv_cgroup_device_filter_attach(cg->v2_path, reterr);
	return 0;
}

int
hv_cgroup_open_v2_fd(struct hv_cgroup *cg, struct hv_error **reterr)
{
	int fd;

	if (!cg->v2_path)
		return hv_error_set(reterr, -EOPNOTSUPP,
		                    "zone cgroup '%s/%s': no cgroup2 filesystem is mounted",
		                    cg->prefix, cg->name);
	fd = open(cg->v2_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return hv_error_set(reterr, -errno, "cgroup '%s': %m", cg->v2_path);
	return fd;
}

/* pid's cgroup2 path ("0::<path>" in /proc/<pid>/cgroup), relative to the cgroup2 mount. */
static char *
v2_path_of(pid_t pid)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	const char *line;

	if (asprintf(&path, "/proc/%d/cgroup", (int)pid) < 0 ||
	    read_full_file(path, 65536, &text, NULL) < 0)
		return NULL;
	for (line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (startswith(line, "0::"))
			return strndup(line + 3, strcspn(line + 3, "\n"));
	return NULL;
}

/* Is the cgroup2 path rel (relative to the mount) the zone's node or below it? */
static bool
in_v2_subtree(const struct hv_cgroup *cg, const char *rel)
{
	const char *zone, *rest;

	if (!cg->v2_mount || !cg->v2_path || !rel)
		return false;
	zone = startswith(cg->v2_path, cg->v2_mount);
	if (!zone)
		return false;
	/* A cgroup2 mount at "/" leaves the zone's path as it is; else it starts with '/'. */
	if (streq(cg->v2_mount, "/"))
		zone--;
	rest = startswith(rel, zone);
	return rest && (*rest == 0 || *rest == '/');
}

/*
 * A zone's init may move itself below the zone's node (systemd goes to
 * init.scope), and on a v2 host it then enables controllers in the node's
 * cgroup.subtree_control: from then on cgroup2's "no internal processes"
 * rule keeps every new process out of the node itself (EBUSY). A process
 * that enters the zone is born where the init is, which always takes one;
 * the zone decides where that is, so it is checked to be in the zone's
 * subtree (cgroupfs has no symlinks, and no name "." or "..").
 */
int
hv_cgroup_open_v2_fd_of(struct hv_cgroup *cg, pid_t pid, struct hv_error **reterr)
{
	_cleanup_free_ char *rel = NULL, *path = NULL;
	int fd;

	if (!cg->v2_path || pid <= 0)
		return hv_cgroup_open_v2_fd(cg, reterr);
	rel = v2_path_of(pid);
	if (!in_v2_subtree(cg, rel))
		return hv_cgroup_open_v2_fd(cg, reterr);
	if (asprintf(&path, "%s%s", streq(cg->v2_mount, "/") ? "" : cg->v2_mount, rel) < 0)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) /* it moved on, or its node went: the zone's own */
		return hv_cgroup_open_v2_fd(cg, reterr);
	return fd;
}

static bool
single_threaded(pid_t pid)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	const char *t;

	if (asprintf(&path, "/proc/%d/status", (int)pid) < 0 ||
	    read_full_file(path, 65536, &text, NULL) < 0)
		return false;
	t = strstr(text, "\nThreads:");
	return t && strtol(t + 9, NULL, 10) == 1;
}

/*
 * Moving a whole thread group (cgroup.procs) makes the kernel wait for an
 * RCU grace period (the threadgroup rwsem), ~10 ms here, on every start. A
 * process of one thread is moved through the v1 "tasks" file instead, which
 * skips that lock; and a process already in the cgroup2 node or below it
 * (clone3 with CLONE_INTO_CGROUP put it there, maybe beside the zone's
 * init: hv_cgroup_open_v2_fd_of) is not moved at all.
 */
int
hv_cgroup_attach(struct hv_cgroup *cg, pid_t pid, struct hv_error **reterr)
{
	const char *dirs[_HV_CG_MAX + 2];
	_cleanup_free_ char *rel = NULL;
	bool one_thread;
	char buf[32];
	int r;

	if (pid <= 0)
		return hv_error_set(reterr, -EINVAL, "zone cgroup '%s/%s': cannot attach pid %d",
		                    cg->prefix, cg->name, (int)pid);
	one_thread = single_threaded(pid);
	rel = v2_path_of(pid);
	/* Moving ourselves by "0" skips the lock (see hv_cgroup_join). */
	snprintf(buf, sizeof(buf), "%d", one_thread && pid == getpid() ? 0 : (int)pid);
	all_dirs(cg, dirs);
	for (const char **d = dirs; *d; d++) {
		bool v2 = cg->v2_path && streq(*d, cg->v2_path);

		if (v2 && in_v2_subtree(cg, rel))
			continue;
		r = hv_cgroup_write_file(*d, !v2 && one_thread ? "tasks" : "cgroup.procs", buf,
		                         reterr);
		if (r < 0)
			return r;
	}
	return 0;
}

int
hv_cgroup_join_prepare(struct hv_cgroup *cg, bool with_v2, struct hv_cgroup_join *ret,
                       struct hv_error **reterr)
{
	const char *dirs[_HV_CG_MAX + 2];
	struct hv_cgroup_join j = {.n = 0};

	static_assert(_HV_CG_MAX + 1 <= HV_CGROUP_JOIN_MAX, "room for every hierarchy");
	all_dirs(cg, dirs);
	for (const char **d = dirs; *d; d++) {
		bool v2 = cg->v2_path && streq(*d, cg->v2_path);
		_cleanup_free_ char *p = NULL;
		int fd;

		if (v2 && !with_v2)
			continue;
		if (asprintf(&p, "%s/%s", *d, v2 ? "cgroup.procs" : "tasks") < 0) {
			hv_cgroup_join_done(&j);
			return -ENOMEM;
		}
		fd = open(p, O_WRONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			int r = hv_error_set(reterr, -errno, "cgroup '%s': cannot open %s: %m", *d,
			                     v2 ? "cgroup.procs" : "tasks");
			hv_cgroup_join_done(&j);
			return r;
		}
		j.fd[j.n] = fd;
		j.dir[j.n++] = *d;
	}
	*ret = j;
	return 0;
}

int
hv_cgroup_join(const struct hv_cgroup_join *j, struct hv_error **reterr)
{
	for (size_t i = 0; i < j->n; i++)
		if (write(j->fd[i], "0", 1) != 1)
			return hv_error_set(reterr, -errno, "cgroup '%s': cannot join it: %m",
			                    j->dir[i]);
	return 0;
}

void
hv_cgroup_join_done(struct hv_cgroup_join *j)
{
	for (size_t i = 0; i < j->n; i++)
		safe_close(j->fd[i]);
	j->n = 0;
}

/*
 * Call fn for dir and every cgroup below it, children first. A directory
 * that vanishes under us (or never existed) is skipped.
 */
static int
tree_walk(const char *dir, unsigned depth, int (*fn)(const char *dir, void *u), void *u,
          struct hv_error **reterr)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r;

	if (depth > TREE_DEPTH_MAX)
		return hv_error_set(reterr, -ELOOP, "cgroup '%s': nested deeper than %u levels",
		                    dir, TREE_DEPTH_MAX);
	d = opendir(dir); /* glibc opens it O_CLOEXEC */
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return hv_error_set(reterr, -errno, "cgroup '%s': %m", dir);
	}
	for (errno = 0; (de = readdir(d)); errno = 0) {
		_cleanup_free_ char *sub = NULL;

		if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (asprintf(&sub, "%s/%s", dir, de->d_name) < 0)
			return -ENOMEM;
		r = tree_walk(sub, depth + 1, fn, u, reterr);
		if (r < 0)
			return r;
	}
	if (errno != 0)
		return hv_error_set(reterr, -errno, "cgroup '%s': %m", dir);
	r = fn(dir, u);
	if (r < 0)
		return hv_error_set(reterr, r, "cgroup '%s': %m", dir);
	return 0;
}

/* Call fn for each pid in dir/cgroup.procs. */
static int
foreach_pid(const char *dir, int (*fn)(pid_t pid, void *u), void *u)
{
	_cleanup_free_ char *p = NULL, *text = NULL;
	char *save = NULL;
	int r;

	if (asprintf(&p, "%s/cgroup.procs", dir) < 0)
		return -ENOMEM;
	r = read_full_file(p, PROCS_MAX, &text, NULL);
	if (r == -ENOENT || r == -ENODEV) /* removed while we walked */
		return 0;
	if (r < 0)
		return r;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		int pid;

		if (safe_atoi(l, &pid) < 0 || pid <= 0)
			return -EBADMSG;
		r = fn(pid, u);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
count_one(pid_t pid, void *u)
{
	(*(unsigned *)u)++;
	return 0;
}

static int
count_dir(const char *dir, void *u)
{
	return foreach_pid(dir, count_one, u);
}

int
hv_cgroup_tree_count(const char *dir, unsigned *ret, struct hv_error **reterr)
{
	unsigned n = 0;
	int r;

	r = tree_walk(dir, 0, count_dir, &n, reterr);
	if (r < 0)
		return r;
	*ret = n;
	return 0;
}

static int
kill_one(pid_t pid, void *u)
{
	if (kill(pid, SIGKILL) < 0)
		return errno == ESRCH ? 0 : -errno;
	(*(unsigned *)u)++;
	return 0;
}

static int
kill_dir(const char *dir, void *u)
{
	return foreach_pid(dir, kill_one, u);
}

int
hv_cgroup_tree_kill(const char *dir, unsigned *ret_killed, struct hv_error **reterr)
{
	unsigned n = 0;
	int r;

	r = tree_walk(dir, 0, kill_dir, &n, reterr);
	if (r < 0)
		return r;
	if (ret_killed)
		*ret_killed = n;
	return 0;
}

static int
rmdir_one(const char *dir, void *u)
{
	if (rmdir(dir) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	(void)nanosleep(&ts, NULL);
}

/* The value of "key value" in text, or with key NULL the first line; in place. */
static const char *
find_key(char *text, const char *key)
{
	char *save = NULL;

	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		const char *v;

		if (!key)
			return l;
		v = startswith(l, key);
		if (v && *v == ' ')
			return v + 1;
	}
	return NULL;
}

int
hv_cgroup_wait_for(const char *dir, const char *file, const char *key, const char *want,
                   unsigned timeout_ms, struct hv_error **reterr)
{
	_cleanup_free_ char *p = NULL;
	unsigned waited = 0, step = 1;

	if (asprintf(&p, "%s/%s", dir, file) < 0)
		return -ENOMEM;
	for (;;) {
		_cleanup_free_ char *text = NULL;
		const char *v;
		int r;

		r = read_full_file(p, 64 * 1024, &text, NULL);
		if (r < 0)
			return hv_error_set(reterr, r, "cgroup '%s': cannot read %s: %m", dir,
			                    file);
		v = find_key(text, key);
		if (v && streq(v, want))
			return 0;
		if (waited >= timeout_ms)
			return hv_error_set(reterr, -ETIMEDOUT,
			                    "cgroup '%s': %s%s%s is not '%s' after %u ms", dir,
			                    file, key ? " " : "", strempty(key), want, timeout_ms);
		sleep_ms(step);
		waited += step;
		step = MIN(step * 2, 50u);
	}
}

int
hv_cgroup_count_procs(struct hv_cgroup *cg, unsigned *ret, struct hv_error **reterr)
{
	const char *dir = cg->v2_path;

	if (!dir)
		dir = hv_cgroup_path(cg, "pids");
	if (!dir && cg->n_v1 > 0)
		dir = cg->v1[0].path;
	if (!dir)
		return hv_error_set(reterr, -ENOMEDIUM, "zone cgroup '%s/%s': no hierarchy",
		                    cg->prefix, cg->name);
	return hv_cgroup_tree_count(dir, ret, reterr);
}

int
hv_cgroup_kill_all(struct hv_cgroup *cg, struct hv_error **reterr)
{
	_cleanup_free_ char *p = NULL;

	/* cgroup.kill (Linux 5.14) kills the whole subtree at once, forks included. */
	if (cg->v2_path) {
		if (asprintf(&p, "%s/cgroup.kill", cg->v2_path) < 0)
			return -ENOMEM;
		if (access(p, F_OK) >= 0)
			return hv_cgroup_write_file(cg->v2_path, "cgroup.kill", "1", reterr);
		if (errno != ENOENT)
			return hv_error_set(reterr, -errno, "cgroup '%s': cgroup.kill: %m",
			                    cg->v2_path);
	}
	return cg->ops->kill_all(cg, reterr);
}

int
hv_cgroup_destroy(struct hv_cgroup *cg, struct hv_error **reterr)
{
	const char *dirs[_HV_CG_MAX + 2];
	int r;

	all_dirs(cg, dirs);
	/*
	 * Refuse before removing anything, so a busy zone keeps all its
	 * hierarchies. Every process of a zone sits below its cgroup2 node,
	 * so where there is one its "populated 0" answers for them all;
	 * otherwise every hierarchy is counted.
	 */
	if (!cg->v2_path ||
	    hv_cgroup_wait_for(cg->v2_path, "cgroup.events", "populated", "0", 0, NULL) < 0)
		for (const char **d = dirs; *d; d++) {
			unsigned n;

			r = hv_cgroup_tree_count(*d, &n, reterr);
			if (r < 0)
				return r;
			if (n > 0)
				return hv_error_set(reterr, -EBUSY,
				                    "cgroup '%s' still has %u process%s", *d, n,
				                    n == 1 ? "" : "es");
		}
	/* The root's <prefix> nodes stay (see the top): the next start makes only its own. */
	for (const char **d = dirs; *d; d++)
		/* Walk only where the zone made cgroups of its own. */
		if (rmdir(*d) < 0 && errno != ENOENT) {
			r = tree_walk(*d, 0, rmdir_one, NULL, reterr);
			if (r < 0)
				return hv_error_prefix(reterr, r,
				                       "cannot remove zone cgroup '%s/%s'",
				                       cg->prefix, cg->name);
		}
	return 0;
}
