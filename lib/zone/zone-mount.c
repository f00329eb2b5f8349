/* SPDX-License-Identifier: MIT */
/*
 * The zone's filesystem view, built in the zone's own mount namespace by its
 * first process (so nothing here is ever visible on the host, and nothing is
 * left to clean up when the zone's last process goes):
 *
 *   /            the zone root, an id-mapped mount (files owned by 0 on disk
 *                are owned by the zone's root), made by the parent
 *   /proc        proc of the zone's pid namespace; /proc/sys read-only except
 *                /proc/sys/net; kcore, sysrq-trigger, keys, timer_list, … masked
 *   /sys         sysfs of the zone's network namespace, read-only; firmware masked
 *   /dev         a small tmpfs with null, zero, full, random, urandom, tty
 *                (bind mounts of the host's nodes: a zone cannot mknod),
 *                console (the pty zoneadmd holds), ptmx → pts/ptmx, pts
 *                (a new devpts instance), shm, mqueue, fd/stdin/stdout/stderr
 *   /tmp, /run   tmpfs; /tmp sized by the tmpfs property
 *   /run/lock    a small tmpfs of its own: anyone may write there, and a full
 *                /run/lock must not fill /run, which init and daemons need
 *   /sys/fs/cgroup  the zone's own cgroups as systemd expects them: cgroup2
 *                on a v2 host; on a v1/hybrid host a tmpfs with each v1
 *                controller (read-only), name=systemd and unified (writable)
 *   /native      Sable's in-zone tools, read-only
 *   /.zonecontrol   the zone's control directory (zoneadmd's metadata socket),
 *                read-only; also at /native/.zonecontrol, where lx zones look
 *
 * /proc and /sys are mounted before pivot_root: a user namespace may mount
 * proc only while a full proc is visible, and after the pivot there is none.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/mountinfo.h"
#include "basic/path.h"
#include "basic/strv.h"
#include "zone/zone-internal.h"

#define NOSUID_NODEV_NOEXEC (MS_NOSUID | MS_NODEV | MS_NOEXEC)

static int
mnt(const char *src, const char *dst, const char *type, unsigned long flags, const char *data,
    struct hv_error **reterr)
{
	if (mount(src, dst, type, flags, data) < 0)
		return hv_error_set(reterr, -errno, "cannot mount %s on '%s': %m",
		                    type  ? type
		                    : src ? src
		                          : "(bind)",
		                    dst);
	return 0;
}

/* Remount a bind mount with flags (read-only and the like). */
static int
rebind(const char *dst, unsigned long flags, struct hv_error **reterr)
{
	return mnt(NULL, dst, NULL, MS_REMOUNT | MS_BIND | flags, NULL, reterr);
}

static int
ensure_dir(const char *path, struct hv_error **reterr)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return hv_error_set(reterr, -errno, "cannot create '%s': %m", path);
	return 0;
}

static int
ensure_file(const char *path, struct hv_error **reterr)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0)
		return hv_error_set(reterr, -errno, "cannot create '%s': %m", path);
	close(fd);
	return 0;
}

/* root + rel, for paths we build (rel is ours, never from the zone). */
static char *
at(const char *root, const char *rel)
{
	char *p = NULL;

	return asprintf(&p, "%s%s", root, rel) < 0 ? NULL : p;
}

static int
mount_dev(const char *root, const struct hv_zone_fds *fds, struct hv_error **reterr)
{
	static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
	static const char *const links[][2] = {
	        {"ptmx", "pts/ptmx"},          {"fd", "/proc/self/fd"},
	        {"stdin", "/proc/self/fd/0"},  {"stdout", "/proc/self/fd/1"},
	        {"stderr", "/proc/self/fd/2"}, {"core", "/proc/kcore"},
	};
	_cleanup_free_ char *dev = at(root, "/dev");
	char path[PATH_MAX], src[64];
	int r;

	if (!dev)
		return -ENOMEM;
	if ((r = ensure_dir(dev, reterr)) < 0 ||
	    (r = mnt("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k",
	             reterr)) < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
		snprintf(path, sizeof(path), "%s/%s", dev, nodes[i]);
		snprintf(src, sizeof(src), "/dev/%s", nodes[i]);
		if ((r = ensure_file(path, reterr)) < 0 ||
		    (r = mnt(src, path, NULL, MS_BIND, NULL, reterr)) < 0)
			return r;
	}
	for (size_t i = 0; i < ELEMENTSOF(links); i++) {
		if (streq(links[i][0], "core"))
			continue; /* /dev/core would show the masked kcore: none */
		snprintf(path, sizeof(path), "%s/%s", dev, links[i][0]);
		if (symlink(links[i][1], path) < 0)
			return hv_error_set(reterr, -errno, "cannot create '%s': %m", path);
	}
	snprintf(path, sizeof(path), "%s/pts", dev);
	if ((r = ensure_dir(path, reterr)) < 0 ||
	    (r = mnt("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC,
	             "newinstance,ptmxmode=0666,mode=0620", reterr)) < 0)
		return r;
	snprintf(path, sizeof(path), "%s/shm", dev);
	if ((r = ensure_dir(path, reterr)) < 0 ||
	    (r = mnt("shm", path, "tmpfs", NOSUID_NODEV_NOEXEC, "mode=1777,size=65536k", reterr)) <
	            0)
		return r;
	snprintf(path, sizeof(path), "%s/mqueue", dev);
	if ((r = ensure_dir(path, reterr)) < 0 ||
	    (r = mnt("mqueue", path, "mqueue", NOSUID_NODEV_NOEXEC, NULL, reterr)) < 0)
		return r;
	snprintf(path, sizeof(path), "%s/console", dev);
	if ((r = ensure_file(path, reterr)) < 0)
		return r;
	if (move_mount(fds->console_tree, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return hv_error_set(reterr, -errno, "cannot attach the console at '%s': %m", path);
	return 0;
}

/* Things in /proc and /sys a zone must not see or change. */
static int
mask(const char *root, struct hv_error **reterr)
{
	static const char *const files[] = {
	        "/proc/kcore",         "/proc/sysrq-trigger", "/proc/keys",     "/proc/timer_list",
	        "/proc/latency_stats", "/proc/sched_debug",   "/proc/kallsyms", "/proc/kpagecount",
	        "/proc/kpageflags",    "/proc/kpagecgroup"};
	static const char *const dirs[] = {"/proc/acpi", "/proc/scsi", "/sys/firmware",
	                                   "/proc/driver"};
	static const char *const ro[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"};
	char path[PATH_MAX];
	int r;

	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		snprintf(path, sizeof(path), "%s%s", root, files[i]);
		if (access(path, F_OK) < 0)
			continue;
		if ((r = mnt("/dev/null", path, NULL, MS_BIND, NULL, reterr)) < 0)
			return r;
	}
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		snprintf(path, sizeof(path), "%s%s", root, dirs[i]);
		if (access(path, F_OK) < 0)
			continue;
		if ((r = mnt("tmpfs", path, "tmpfs", MS_RDONLY | NOSUID_NODEV_NOEXEC, "size=0",
		             reterr)) < 0)
			return r;
	}
	for (size_t i = 0; i < ELEMENTSOF(ro); i++) {
		snprintf(path, sizeof(path), "%s%s", root, ro[i]);
		if (access(path, F_OK) < 0)
			continue;
		if ((r = mnt(path, path, NULL, MS_BIND | MS_REC, NULL, reterr)) < 0 ||
		    (r = rebind(path, MS_RDONLY | NOSUID_NODEV_NOEXEC, reterr)) < 0)
			return r;
	}
	/* The zone's own network settings stay writable: its network namespace is its own. */
	snprintf(path, sizeof(path), "%s/proc/sys/net", root);
	if ((r = mnt(path, path, NULL, MS_BIND | MS_REC, NULL, reterr)) < 0 ||
	    (r = rebind(path, NOSUID_NODEV_NOEXEC, reterr)) < 0)
		return r;
	return 0;
}

/* v1 controllers mounted on the host, as (mount option string) list: "memory", "none,name=systemd".
 */
static int
host_v1_hierarchies(char ***ret_opts, char ***ret_names)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_strv_free_ char **opts = calloc(1, sizeof(char *)),
	                         **names = calloc(1, sizeof(char *));
	char line[4096];
	int r;

	if (!f || !opts || !names)
		return -errno ?: -ENOMEM;
	while (fgets(line, sizeof(line), f)) {
		_cleanup_strv_free_ char **parts = NULL, **keep = calloc(1, sizeof(char *));
		_cleanup_free_ char *o = NULL, *base = NULL;
		struct mountinfo_line ml;

		line[strcspn(line, "\n")] = 0;
		if (mountinfo_parse_line(line, &ml) < 0 || !streq(ml.fstype, "cgroup"))
			continue;
		const char *mp = ml.mount_point, *super = ml.super_options;
		if (!keep || strv_split(super, ',', &parts) < 0)
			return -ENOMEM;
		STRV_FOREACH (p, parts)
			if (!streq(*p, "rw") && !streq(*p, "ro") &&
			    !startswith(*p, "release_agent") && !streq(*p, "clone_children") &&
			    !streq(*p, "noprefix") && (r = strv_push(&keep, *p)) < 0)
				return r;
		if (strv_length(keep) == 1 && startswith(keep[0], "name=") &&
		    (r = strv_push(&keep, "none")) < 0)
			return r;
		o = strv_join(keep, ",");
		if (!o || path_basename(mp, &base) < 0)
			return -ENOMEM;
		if ((r = strv_consume(&opts, TAKE_PTR(o))) < 0 ||
		    (r = strv_consume(&names, TAKE_PTR(base))) < 0)
			return r;
	}
	*ret_opts = TAKE_PTR(opts);
	*ret_names = TAKE_PTR(names);
	return 0;
}

static int
mount_cgroups(const char *root, enum hv_cgroup_layout layout, struct hv_error **reterr)
{
	_cleanup_free_ char *cg = at(root, "/sys/fs/cgroup");
	_cleanup_strv_free_ char **opts = NULL, **names = NULL;
	char path[PATH_MAX];
	int r;

	if (!cg)
		return -ENOMEM;
	if (access(cg, F_OK) < 0)
		return 0; /* sysfs without cgroup support */
	if (layout == HV_CGROUP_V2)
		return mnt("cgroup2", cg, "cgroup2", NOSUID_NODEV_NOEXEC, NULL, reterr);

	if ((r = mnt("tmpfs", cg, "tmpfs", NOSUID_NODEV_NOEXEC, "mode=755,size=1024k", reterr)) < 0)
		return r;
	if ((r = host_v1_hierarchies(&opts, &names)) < 0)
		return hv_error_set(reterr, r, "cannot read the host's cgroup mounts: %m");
	for (size_t i = 0; opts[i]; i++) {
		bool writable = strstr(opts[i], "name=") != NULL;

		snprintf(path, sizeof(path), "%s/%s", cg, names[i]);
		if ((r = ensure_dir(path, reterr)) < 0 ||
		    (r = mnt("cgroup", path, "cgroup",
		             NOSUID_NODEV_NOEXEC | (writable ? 0 : MS_RDONLY), opts[i], reterr)) <
		            0)
			return r;
	}
	snprintf(path, sizeof(path), "%s/unified", cg);
	if ((r = ensure_dir(path, reterr)) < 0 ||
	    (r = mnt("cgroup2", path, "cgroup2", NOSUID_NODEV_NOEXEC, NULL, reterr)) < 0)
		return r;
	/* The layout is fixed now; systemd sees a read-only /sys/fs/cgroup as on a host. */
	return mnt(NULL, cg, NULL, MS_REMOUNT | MS_RDONLY | NOSUID_NODEV_NOEXEC, "mode=755",
	           reterr);
}

/*
 * Where the zone root is attached in our namespace. Not at its host path:
 * the zonepath is 0700 root and we, the zone's root, may not walk it. A
 * tmpfs over /tmp (in our namespace only; it goes with the pivot) gives us
 * a place of our own.
 */
#define STAGING_DIR  "/tmp"
#define STAGING_ROOT "/tmp/zone-root"

static int
attach_root(const struct hv_zone_fds *fds, struct hv_error **reterr)
{
	int r;

	/* Nothing we mount may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return hv_error_set(reterr, -errno, "cannot make the zone's mounts private: %m");
	if ((r = mnt("tmpfs", STAGING_DIR, "tmpfs", NOSUID_NODEV_NOEXEC, "size=16k,mode=700",
	             reterr)) < 0 ||
	    (r = ensure_dir(STAGING_ROOT, reterr)) < 0)
		return r;
	if (move_mount(fds->root_tree, "", AT_FDCWD, STAGING_ROOT, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return hv_error_set(reterr, -errno, "cannot attach the zone root: %m");
	return 0;
}

static int
mount_native(const char *root, const struct hv_zone_fds *fds, struct hv_error **reterr)
{
	_cleanup_free_ char *native = at(root, "/native");
	int r;

	if (fds->native_tree < 0)
		return 0;
	if (!native)
		return -ENOMEM;
	if ((r = ensure_dir(native, reterr)) < 0)
		return r;
	if (move_mount(fds->native_tree, "", AT_FDCWD, native, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return hv_error_set(reterr, -errno, "cannot attach /native: %m");
	return 0;
}

/*
 * The control directory. /.zonecontrol is in the zone's own filesystem, so
 * whatever the image put there is not followed: a symlink or a file means
 * no /.zonecontrol (the /native one still comes).
 */
static int
mount_control(const char *root, const struct hv_zone_fds *fds, struct hv_error **reterr)
{
	_cleanup_free_ char *zc = at(root, "/.zonecontrol"),
	                    *nzc = at(root, "/native/.zonecontrol");
	_cleanup_close_ int target = -EBADF;
	struct stat st;

	if (fds->control_tree < 0)
		return 0;
	if (!zc || !nzc)
		return -ENOMEM;
	(void)mkdir(zc, 0700);
	target = open(zc, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (target >= 0) {
		if (move_mount(fds->control_tree, "", target, "",
		               MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			return hv_error_set(reterr, -errno, "cannot attach /.zonecontrol: %m");
		if (lstat(nzc, &st) == 0 && S_ISDIR(st.st_mode))
			return mnt(zc, nzc, NULL, MS_BIND, NULL, reterr);
		return 0;
	}
	/* No room at /: /native/.zonecontrol alone. */
	if (lstat(nzc, &st) == 0 && S_ISDIR(st.st_mode) &&
	    move_mount(fds->control_tree, "", AT_FDCWD, nzc, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return hv_error_set(reterr, -errno, "cannot attach /native/.zonecontrol: %m");
	return 0;
}

static int
pivot(const char *root, struct hv_error **reterr)
{
	/* pivot_root onto itself, then drop the old root stacked on top (runc's trick). */
	if (chdir(root) < 0)
		return hv_error_set(reterr, -errno, "cannot enter '%s': %m", root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return hv_error_set(reterr, -errno, "pivot_root into '%s': %m", root);
	if (umount2(".", MNT_DETACH) < 0)
		return hv_error_set(reterr, -errno, "cannot detach the host's root: %m");
	if (chdir("/") < 0)
		return hv_error_set(reterr, -errno, "chdir /: %m");
	return 0;
}

int
hv_zone_mount_all(const struct hv_zone_config *c, const struct hv_zone_fds *fds,
                  enum hv_cgroup_layout layout, struct hv_error **reterr)
{
	const char *root = STAGING_ROOT;
	_cleanup_free_ char *proc = NULL, *sys = NULL, *tmp = NULL, *run = NULL, *runlock = NULL,
	                    *opts = NULL;
	int r;

	if ((r = attach_root(fds, reterr)) < 0)
		return r;
	proc = at(root, "/proc");
	sys = at(root, "/sys");
	tmp = at(root, "/tmp");
	run = at(root, "/run");
	runlock = at(root, "/run/lock");
	if (!proc || !sys || !tmp || !run || !runlock)
		return -ENOMEM;
	if (c->limits.tmpfs) {
		if (asprintf(&opts, "mode=1777,size=%llu", (unsigned long long)c->limits.tmpfs) < 0)
			return -ENOMEM;
	} else if (!(opts = strdup("mode=1777")))
		return -ENOMEM;

	if ((r = ensure_dir(proc, reterr)) < 0 ||
	    (r = mnt("proc", proc, "proc", NOSUID_NODEV_NOEXEC, NULL, reterr)) < 0 ||
	    (r = ensure_dir(sys, reterr)) < 0 ||
	    (r = mnt("sysfs", sys, "sysfs", MS_RDONLY | NOSUID_NODEV_NOEXEC, NULL, reterr)) < 0 ||
	    (r = mount_cgroups(root, layout, reterr)) < 0 ||
	    (r = mount_dev(root, fds, reterr)) < 0 || (r = ensure_dir(tmp, reterr)) < 0 ||
	    (r = mnt("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, opts, reterr)) < 0 ||
	    (r = ensure_dir(run, reterr)) < 0 ||
	    (r = mnt("tmpfs", run, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=65536k", reterr)) <
	            0 ||
	    (r = ensure_dir(runlock, reterr)) < 0 ||
	    (r = mnt("tmpfs", runlock, "tmpfs", NOSUID_NODEV_NOEXEC, "mode=1777,size=5120k",
	             reterr)) < 0 ||
	    (r = mount_native(root, fds, reterr)) < 0 ||
	    (r = mount_control(root, fds, reterr)) < 0 || (r = mask(root, reterr)) < 0)
		return r;
	return pivot(root, reterr);
}
