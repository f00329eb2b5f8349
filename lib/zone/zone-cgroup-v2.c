/* SPDX-License-Identifier: MIT */
/*
 * The v2 backend: one node per zone carrying memory, cpu, pids and io,
 * enabled from the root down; devices through a BPF_CGROUP_DEVICE program,
 * which a hybrid host's unified node gets too. The program is a short list
 * of "type, major, minor → allow" checks assembled here from
 * hv_cgroup_devices, loaded with libbpf and attached to the directory; it
 * stays attached as long as the cgroup exists.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "zone/zone-cgroup-internal.h"

#define V2_WEIGHT_MIN     1u
#define V2_WEIGHT_MAX     10000u
#define FREEZE_TIMEOUT_MS 5000u

const struct hv_cgroup_device hv_cgroup_devices[] = {
        {'c', 1, 3},    /* null */
        {'c', 1, 5},    /* zero */
        {'c', 1, 7},    /* full */
        {'c', 1, 8},    /* random */
        {'c', 1, 9},    /* urandom */
        {'c', 5, 0},    /* tty */
        {'c', 5, 1},    /* console */
        {'c', 5, 2},    /* ptmx */
        {'c', 136, -1}, /* pts/N */
};
const size_t hv_cgroup_n_devices = ELEMENTSOF(hv_cgroup_devices);

/* The controllers a zone's node needs, in cgroup.subtree_control's words. */
static const char *const v2_controllers[] = {"cpu", "io", "memory", "pids"};

uint64_t
hv_cgroup_v2_cpu_weight(uint32_t shares)
{
	/* Both default to 100 and scale linearly; cpu.weight stops at 10000. */
	return shares < V2_WEIGHT_MIN ? V2_WEIGHT_MIN : MIN(shares, V2_WEIGHT_MAX);
}

/* The controller field is unused on v2: every file is in the one node. */
#define W(property, file, value, optional) \
	hv_cgroup_write_of(property, HV_CG_MEMORY, file, value, optional)

size_t
hv_cgroup_v2_plan(const struct hv_cgroup_values *v,
                  struct hv_cgroup_write ret[static HV_CGROUP_PLAN_MAX])
{
	bool no_cap = v->cpu_quota_us == HV_CGROUP_NO_LIMIT;
	/* memory.swap.max is swap alone; SmartOS's max_swap counts memory + swap. */
	uint64_t swap = v->memsw == HV_CGROUP_NO_LIMIT ? HV_CGROUP_NO_LIMIT : v->memsw - v->memory;
	char b[32], cpu_max[64];
	size_t n = 0;

	/*
	 * v2 keeps memory and swap apart, so no order is needed between them.
	 * Without swap accounting memory.swap.max is missing: max_swap is
	 * skipped, as on v1.
	 */
	ret[n++] = W("max_physical_memory", "memory.max", hv_cgroup_format(b, v->memory, "max"),
	             v->memory == HV_CGROUP_NO_LIMIT);
	ret[n++] = W("max_swap", "memory.swap.max", hv_cgroup_format(b, swap, "max"), true);

	snprintf(cpu_max, sizeof(cpu_max), "%s %" PRIu64,
	         hv_cgroup_format(b, v->cpu_quota_us, "max"), HV_CGROUP_CPU_PERIOD_US);
	ret[n++] = W("cpu_cap", "cpu.max", cpu_max, no_cap);
	ret[n++] = W("cpu_shares", "cpu.weight",
	             hv_cgroup_format(b, hv_cgroup_v2_cpu_weight(v->shares), ""),
	             v->shares == HV_CGROUP_SHARES_DEFAULT);
	ret[n++] = W("max_lwps", "pids.max", hv_cgroup_format(b, v->pids, "max"),
	             v->pids == HV_CGROUP_NO_LIMIT);

	/*
	 * io.weight (iocost, 1..10000) and io.bfq.weight (BFQ, 1..1000) act on
	 * devices using that policy; both are set where they exist.
	 */
	ret[n++] = W("zfs_io_priority", "io.weight", hv_cgroup_format(b, v->io_weight, ""), true);
	ret[n++] =
	        W("zfs_io_priority", "io.bfq.weight", hv_cgroup_format(b, v->io_weight, ""), true);
	return n;
}

#undef W

static const char *
v2_dir(const struct hv_cgroup *cg, enum hv_cgroup_controller c)
{
	return cg->v2_path;
}

/* "+cpu +memory …" for those of our controllers that dir offers to its children. */
static int
controllers_to_enable(const char *dir, char **ret, struct hv_error **reterr)
{
	_cleanup_strv_free_ char **have = NULL, **want = NULL;
	_cleanup_free_ char *line = NULL;
	int r;

	r = hv_cgroup_read_file(dir, "cgroup.controllers", &line, reterr);
	if (r < 0)
		return r;
	r = strv_split(line, ' ', &have);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(v2_controllers); i++) {
		char *w;

		if (!strv_contains(have, v2_controllers[i]))
			continue;
		if (asprintf(&w, "+%s", v2_controllers[i]) < 0)
			return -ENOMEM;
		r = strv_consume(&want, w);
		if (r < 0)
			return r;
	}
	*ret = want ? strv_join(want, " ") : strdup("");
	return *ret ? 0 : -ENOMEM;
}

static int
enable_controllers(const char *dir, struct hv_error **reterr)
{
	_cleanup_free_ char *enable = NULL;
	int r;

	r = controllers_to_enable(dir, &enable, reterr);
	if (r < 0 || isempty(enable))
		return r;
	return hv_cgroup_write_file(dir, "cgroup.subtree_control", enable, reterr);
}

static int
v2_create(struct hv_cgroup *cg, struct hv_error **reterr)
{
	_cleanup_free_ char *parent = NULL;
	int r;

	if (asprintf(&parent, "%s/%s", streq(cg->v2_mount, "/") ? "" : cg->v2_mount, cg->prefix) <
	    0)
		return -ENOMEM;
	r = enable_controllers(cg->v2_mount, reterr);
	if (r < 0)
		return r;
	r = mkdir_p(parent, 0755);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot create cgroup '%s': %m", parent);
	r = enable_controllers(parent, reterr);
	if (r < 0)
		return r;
	r = mkdir_p(cg->v2_path, 0755);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot create cgroup '%s': %m", cg->v2_path);
	return 0;
}

static int
v2_set_limits(struct hv_cgroup *cg, const struct hv_cgroup_values *v, struct hv_error **reterr)
{
	struct hv_cgroup_write plan[HV_CGROUP_PLAN_MAX];
	size_t n = hv_cgroup_v2_plan(v, plan);

	return hv_cgroup_apply_plan(plan, n, v2_dir, cg, reterr);
}

static struct bpf_insn
insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	return (struct bpf_insn){
	        .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
}

/* Instructions per rule: up to three checks, then "return 1". */
#define RULE_INSNS_MAX 5
#define PROG_INSNS_MAX (4 + RULE_INSNS_MAX * ELEMENTSOF(hv_cgroup_devices) + 2)

/*
 * The program, on struct bpf_cgroup_dev_ctx in r1:
 *
 *   r2 = access_type & 0xffff  (BPF_DEVCG_DEV_CHAR or _BLOCK)
 *   r4 = major, r5 = minor
 *   per device: if r2 != type goto next; if r4 != major goto next;
 *               [if r5 != minor goto next;] return 1
 *   return 0
 *
 * Access (read, write, mknod) is not looked at: an allowed node is "rwm".
 */
static size_t
device_program(struct bpf_insn ret[static PROG_INSNS_MAX])
{
	size_t n = 0;

	ret[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0);
	ret[n++] = insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
	ret[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0);
	ret[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0);
	for (size_t i = 0; i < hv_cgroup_n_devices; i++) {
		const struct hv_cgroup_device *d = &hv_cgroup_devices[i];
		int type = d->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
		int16_t checks = d->minor < 0 ? 2 : 3;

		/* Check k jumps over the checks after it and the two "return 1" instructions. */
		ret[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, checks - 1 + 2, type);
		ret[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, checks - 2 + 2,
		                (int32_t)d->major);
		if (d->minor >= 0)
			ret[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 2, d->minor);
		ret[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
		ret[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	}
	ret[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
	ret[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return n;
}

/* The verifier's verdict is the last line of its log; in place. */
static const char *
last_line(char *log)
{
	size_t n = strlen(log);
	char *nl;

	while (n > 0 && log[n - 1] == '\n')
		log[--n] = 0;
	nl = strrchr(log, '\n');
	return nl ? nl + 1 : log;
}

int
hv_cgroup_device_filter_attach(const char *dir, struct hv_error **reterr)
{
	struct bpf_insn prog[PROG_INSNS_MAX];
	_cleanup_close_ int prog_fd = -EBADF, dir_fd = -EBADF;
	size_t n = device_program(prog);
	char log[4096] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = sizeof(log),
	            .log_level = 0);
	int r;

	/* bpf(2) makes its fds O_CLOEXEC; libbpf returns -errno. */
	prog_fd =
	        bpf_prog_load(BPF_PROG_TYPE_CGROUP_DEVICE, "sable_devices", "MIT", prog, n, &opts);
	if (prog_fd < 0) {
		r = prog_fd;
		prog_fd = -EBADF;
		return hv_error_set(reterr, r, "cgroup '%s': cannot load the device filter: %m%s%s",
		                    dir, log[0] ? ": " : "", last_line(log));
	}
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return hv_error_set(reterr, -errno, "cgroup '%s': %m", dir);
	/* Flags 0: the one program of this cgroup, replacing what we attached before. */
	r = bpf_prog_attach(prog_fd, dir_fd, BPF_CGROUP_DEVICE, 0);
	if (r < 0)
		return hv_error_set(reterr, r, "cgroup '%s': cannot attach the device filter: %m",
		                    dir);
	return 0;
}

static int
v2_limit_devices(struct hv_cgroup *cg, struct hv_error **reterr)
{
	return hv_cgroup_device_filter_attach(cg->v2_path, reterr);
}

/* Kernels before 5.14 have no cgroup.kill: freeze (5.2), kill, thaw. */
static int
v2_kill_all(struct hv_cgroup *cg, struct hv_error **reterr)
{
	const char *dir = cg->v2_path;
	int r, k;

	r = hv_cgroup_write_file(dir, "cgroup.freeze", "1", reterr);
	if (r < 0)
		return r;
	r = hv_cgroup_wait_for(dir, "cgroup.events", "frozen", "1", FREEZE_TIMEOUT_MS, reterr);
	if (r >= 0)
		r = hv_cgroup_tree_kill(dir, NULL, reterr);
	k = hv_cgroup_write_file(dir, "cgroup.freeze", "0", r < 0 ? NULL : reterr);
	return r < 0 ? r : k;
}

const struct hv_cgroup_ops hv_cgroup_v2_ops = {
        .name = "v2",
        .create = v2_create,
        .set_limits = v2_set_limits,
        .limit_devices = v2_limit_devices,
        .kill_all = v2_kill_all,
};
