/* SPDX-License-Identifier: MIT */
/*
 * The v1 backend: one directory per hierarchy. Limits map to the classic
 * files (memory.limit_in_bytes, memory.memsw.limit_in_bytes,
 * cpu.cfs_quota_us, cpu.shares, pids.max, blkio.weight or
 * blkio.bfq.weight), devices to devices.deny/allow, and killing without
 * cgroup.kill to the freezer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/parse.h"
#include "zone/zone-cgroup-internal.h"

#define V1_SHARES_MIN       UINT64_C(2)
#define V1_SHARES_MAX       UINT64_C(262144)
#define V1_BLKIO_WEIGHT_MIN 10u
#define V1_BLKIO_WEIGHT_MAX 1000u
#define FREEZE_TIMEOUT_MS   5000u
#define KILL_ROUNDS         100u
#define KILL_ROUND_NS       (10 * 1000 * 1000L)

uint64_t
hv_cgroup_v1_cpu_shares(uint32_t shares)
{
	uint64_t s = (uint64_t)shares * 1024 / 100;

	return s < V1_SHARES_MIN ? V1_SHARES_MIN : MIN(s, V1_SHARES_MAX);
}

uint64_t
hv_cgroup_v1_blkio_weight(uint32_t prio)
{
	return prio < V1_BLKIO_WEIGHT_MIN ? V1_BLKIO_WEIGHT_MIN : MIN(prio, V1_BLKIO_WEIGHT_MAX);
}

#define W hv_cgroup_write_of

size_t
hv_cgroup_v1_plan(const struct hv_cgroup_values *v, uint64_t cur_memsw,
                  struct hv_cgroup_write ret[static HV_CGROUP_PLAN_MAX])
{
	bool no_cap = v->cpu_quota_us == HV_CGROUP_NO_LIMIT;
	struct hv_cgroup_write mem, memsw;
	char b[32];
	size_t n = 0;

	/*
	 * The kernel refuses memsw < memory at every step. Raising memory past
	 * the current memsw needs the new memsw first; lowering it (or any
	 * change that stays below) needs memory first. v1 spells "no limit" -1.
	 *
	 * memory.memsw.* exists only with swap accounting (CONFIG_MEMCG_SWAP,
	 * not disabled by swapaccount=0): without it max_swap cannot be
	 * enforced on v1 and is skipped, not an error.
	 */
	mem = W("max_physical_memory", HV_CG_MEMORY, "memory.limit_in_bytes",
	        hv_cgroup_format(b, v->memory, "-1"), v->memory == HV_CGROUP_NO_LIMIT);
	memsw = W("max_swap", HV_CG_MEMORY, "memory.memsw.limit_in_bytes",
	          hv_cgroup_format(b, v->memsw, "-1"), true);
	if (cur_memsw != UINT64_MAX && v->memory > cur_memsw) {
		ret[n++] = memsw;
		ret[n++] = mem;
	} else {
		ret[n++] = mem;
		ret[n++] = memsw;
	}

	/* cpu_cap: cap% of one CPU per period; the period first, the quota is relative to it. */
	ret[n++] = W("cpu_cap", HV_CG_CPU, "cpu.cfs_period_us",
	             hv_cgroup_format(b, HV_CGROUP_CPU_PERIOD_US, ""), no_cap);
	ret[n++] = W("cpu_cap", HV_CG_CPU, "cpu.cfs_quota_us",
	             hv_cgroup_format(b, v->cpu_quota_us, "-1"), no_cap);
	ret[n++] = W("cpu_shares", HV_CG_CPU, "cpu.shares",
	             hv_cgroup_format(b, hv_cgroup_v1_cpu_shares(v->shares), ""),
	             v->shares == HV_CGROUP_SHARES_DEFAULT);
	ret[n++] = W("max_lwps", HV_CG_PIDS, "pids.max", hv_cgroup_format(b, v->pids, "max"),
	             v->pids == HV_CGROUP_NO_LIMIT);

	/*
	 * Proportional I/O: blkio.weight is CFQ's (gone since Linux 5.0),
	 * blkio.bfq.weight BFQ's; whichever the kernel has is set. With neither
	 * (no BFQ) the priority has no effect, as zfs_io_priority has none on
	 * an idle pool.
	 */
	ret[n++] = W("zfs_io_priority", HV_CG_BLKIO, "blkio.weight",
	             hv_cgroup_format(b, hv_cgroup_v1_blkio_weight(v->io_weight), ""), true);
	ret[n++] = W("zfs_io_priority", HV_CG_BLKIO, "blkio.bfq.weight",
	             hv_cgroup_format(b, v->io_weight, ""), true);
	return n;
}

#undef W

static const char *
v1_dir(const struct hv_cgroup *cg, enum hv_cgroup_controller c)
{
	for (size_t i = 0; i < cg->n_v1; i++)
		if (cg->v1[i].mask & (1u << c))
			return cg->v1[i].path;
	return NULL;
}

static int
v1_create(struct hv_cgroup *cg, struct hv_error **reterr)
{
	for (size_t i = 0; i < cg->n_v1; i++) {
		int r = mkdir_p(cg->v1[i].path, 0755);

		if (r < 0)
			return hv_error_set(reterr, r, "cannot create cgroup '%s': %m",
			                    cg->v1[i].path);
	}
	return 0;
}

static int
v1_set_limits(struct hv_cgroup *cg, const struct hv_cgroup_values *v, struct hv_error **reterr)
{
	struct hv_cgroup_write plan[HV_CGROUP_PLAN_MAX];
	const char *mem = v1_dir(cg, HV_CG_MEMORY);
	uint64_t cur_memsw = UINT64_MAX;
	size_t n;

	if (mem) {
		_cleanup_free_ char *s = NULL;
		int r;

		r = hv_cgroup_read_file(mem, "memory.memsw.limit_in_bytes", &s, NULL);
		if (r < 0 && r != -ENOENT)
			return hv_cgroup_read_file(mem, "memory.memsw.limit_in_bytes", &s, reterr);
		if (r >= 0 && safe_atou64(s, &cur_memsw) < 0)
			return hv_error_set(
			        reterr, -EBADMSG,
			        "cgroup '%s': memory.memsw.limit_in_bytes: unexpected '%s'", mem,
			        s);
	}
	n = hv_cgroup_v1_plan(v, cur_memsw, plan);
	return hv_cgroup_apply_plan(plan, n, v1_dir, cg, reterr);
}

static int
v1_limit_devices(struct hv_cgroup *cg, struct hv_error **reterr)
{
	const char *dir = v1_dir(cg, HV_CG_DEVICES);
	int r;

	if (!dir) {
		/* A hybrid host filters on the unified node (the caller attaches that). */
		if (cg->v2_path)
			return 0;
		return hv_error_set(reterr, -EOPNOTSUPP,
		                    "zone cgroup '%s/%s': the devices controller is not mounted",
		                    cg->prefix, cg->name);
	}
	/* "a" in devices.deny empties the list and denies by default; then the allow list. */
	r = hv_cgroup_write_file(dir, "devices.deny", "a", reterr);
	if (r < 0)
		return r;
	for (size_t i = 0; i < hv_cgroup_n_devices; i++) {
		const struct hv_cgroup_device *d = &hv_cgroup_devices[i];
		char rule[48];

		if (d->minor < 0)
			snprintf(rule, sizeof(rule), "%c %u:* rwm", d->type, d->major);
		else
			snprintf(rule, sizeof(rule), "%c %u:%d rwm", d->type, d->major, d->minor);
		r = hv_cgroup_write_file(dir, "devices.allow", rule, reterr);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Without a frozen cgroup: kill what is listed until nothing is. A fork may
 * race a round, and a killed task stays listed until it has exited.
 */
static int
kill_rounds(const char *dir, struct hv_error **reterr)
{
	for (unsigned i = 0; i < KILL_ROUNDS; i++) {
		struct timespec ts = {.tv_nsec = KILL_ROUND_NS};
		unsigned killed;
		int r;

		r = hv_cgroup_tree_kill(dir, &killed, reterr);
		if (r < 0 || killed == 0)
			return r;
		(void)nanosleep(&ts, NULL);
	}
	return hv_error_set(reterr, -EBUSY,
	                    "cgroup '%s': processes still there after %u rounds of SIGKILL", dir,
	                    KILL_ROUNDS);
}

static int
v1_kill_all(struct hv_cgroup *cg, struct hv_error **reterr)
{
	const char *dir = v1_dir(cg, HV_CG_FREEZER);
	bool frozen;
	int r, k;

	if (!dir) {
		dir = v1_dir(cg, HV_CG_PIDS) ?: (cg->n_v1 > 0 ? cg->v1[0].path : NULL);
		return dir ? kill_rounds(dir, reterr) : 0;
	}
	/*
	 * A frozen task can neither fork nor exit, so the pids read while
	 * frozen are all there is and none can be reused before the thaw; the
	 * SIGKILLs take effect at the thaw. A task stuck in the kernel keeps
	 * the cgroup FREEZING: then whatever escaped is killed after the thaw.
	 */
	r = hv_cgroup_write_file(dir, "freezer.state", "FROZEN", reterr);
	if (r < 0)
		return r;
	frozen = hv_cgroup_wait_for(dir, "freezer.state", NULL, "FROZEN", FREEZE_TIMEOUT_MS,
	                            NULL) >= 0;
	r = hv_cgroup_tree_kill(dir, NULL, reterr);
	k = hv_cgroup_write_file(dir, "freezer.state", "THAWED", r < 0 ? NULL : reterr);
	if (r >= 0 && k >= 0 && !frozen)
		r = kill_rounds(dir, reterr);
	return r < 0 ? r : k;
}

const struct hv_cgroup_ops hv_cgroup_v1_ops = {
        .name = "v1",
        .create = v1_create,
        .set_limits = v1_set_limits,
        .limit_devices = v1_limit_devices,
        .kill_all = v1_kill_all,
};
