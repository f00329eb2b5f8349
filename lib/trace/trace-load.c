/* SPDX-License-Identifier: MIT */
/*
 * Load: create the maps, give the programs their map fds, load them (a
 * verifier rejection becomes an error naming the D line it came from),
 * and attach every probe. Everything that holds a probe is a file
 * descriptor this process owns (raw tracepoint fds, perf event fds and
 * their BPF links), so the kernel detaches it all when dtrace exits, is
 * interrupted or is killed: nothing is pinned, nothing is left behind.
 */
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "basic/fileio.h"
#include "trace-internal.h"

enum { MAP_NONE, MAP_RB, MAP_SCRATCH, MAP_GLOBALS, MAP_ZONES, MAP_STACKS, MAP_SYM = 16 };

#define STACK_DEPTH   127 /* the kernel's default perf_event_max_stack */
#define STACK_ENTRIES 4096
#define UPROBES_MAX   1000

#define ZONENAME_MAX 64

static int
keep_fd(struct hv_trace_program *p, int fd)
{
	int *v = realloc(p->fds, (p->n_fds + 1) * sizeof(int));

	if (!v) {
		safe_close(fd);
		return -ENOMEM;
	}
	p->fds = v;
	p->fds[p->n_fds++] = fd;
	return 0;
}

static int
map_create(struct hv_trace_program *p, enum bpf_map_type type, const char *name, unsigned key,
           unsigned value, unsigned entries, int *ret, struct hv_error **reterr)
{
	int fd = bpf_map_create(type, name, key, value, entries, NULL);

	if (fd < 0)
		return hv_error_set(reterr, fd, "cannot create the BPF map '%s': %m", name);
	*ret = fd;
	return 0;
}

static int
create_maps(struct hv_trace_program *p, struct hv_error **reterr)
{
	size_t rb = 4096, want = p->opts.bufsize;
	int r;

	/*
	 * The ring buffer's pages are all resident (libbpf maps its data twice,
	 * for records that wrap), so its size is most of dtrace's memory: 1 MiB
	 * unless -x bufsize says otherwise, and 64 KiB for a program that
	 * records nothing but exit(), printa() and the like (aggregations alone).
	 */
	if (!want) {
		want = 64 * 1024;
		for (size_t i = 0; i < p->n_actions; i++)
			if (p->actions[i].kind == ACT_PRINTF || p->actions[i].kind == ACT_TRACE)
				want = 1024 * 1024;
	}
	while (rb < want)
		rb <<= 1;
	if ((r = map_create(p, BPF_MAP_TYPE_RINGBUF, "sable_events", 0, 0, (unsigned)rb, &p->rb_fd,
	                    reterr)) < 0 ||
	    (r = map_create(p, BPF_MAP_TYPE_PERCPU_ARRAY, "sable_scratch", 4,
	                    TRACE_SCRATCH_MAX + 2 * p->opts.strsize + 64, 1, &p->scratch_fd,
	                    reterr)) < 0 ||
	    (r = map_create(p, BPF_MAP_TYPE_ARRAY, "sable_globals", 4, p->globals_size, 1,
	                    &p->globals_fd, reterr)) < 0 ||
	    (r = map_create(p, BPF_MAP_TYPE_HASH, "sable_zones", 8, ZONENAME_MAX, 4096,
	                    &p->zones_fd, reterr)) < 0)
		return r;
	if (p->uses_stacks &&
	    (r = map_create(p, BPF_MAP_TYPE_STACK_TRACE, "sable_stacks", 4, STACK_DEPTH * 8,
	                    STACK_ENTRIES, &p->stacks_fd, reterr)) < 0)
		return r;
	for (size_t i = 0; i < p->n_syms; i++) {
		struct sym *s = &p->syms[i];
		unsigned key = MAX(s->keylen, 8u);

		if (s->kind == SYM_ASSOC)
			r = map_create(p, BPF_MAP_TYPE_HASH, "sable_assoc", key, s->size, 65536,
			               &s->map_fd, reterr);
		else if (s->kind == SYM_SELF)
			r = map_create(p, BPF_MAP_TYPE_HASH, "sable_self", 8, s->size, 65536,
			               &s->map_fd, reterr);
		else if (s->kind == SYM_AGG)
			r = map_create(p, BPF_MAP_TYPE_PERCPU_HASH, "sable_agg", key, s->vallen,
			               16384, &s->map_fd, reterr);
		else
			r = 0;
		if (r < 0)
			return r;
	}
	return 0;
}

static int
map_fd(const struct hv_trace_program *p, int code)
{
	switch (code) {
	case MAP_RB:
		return p->rb_fd;
	case MAP_SCRATCH:
		return p->scratch_fd;
	case MAP_GLOBALS:
		return p->globals_fd;
	case MAP_ZONES:
		return p->zones_fd;
	case MAP_STACKS:
		return p->stacks_fd;
	default:
		return p->syms[code - MAP_SYM].map_fd;
	}
}

/* The verifier's complaint, its instruction, and the D line that made it. */
static int
verifier_error(struct hv_trace_program *p, struct irprog *ip, const char *log, int code,
               struct hv_error **reterr)
{
	const char *s = log, *last = NULL, *reason = NULL;
	char excerpt[64], why[160] = "";
	long insn = -1;
	int line = 0;

	for (const char *l = log; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char *end;
		long v = strtol(l, &end, 10);

		if (end != l && *end == ':')
			insn = v;
		if (*l && *l != '\n')
			last = l;
	}
	(void)s;
	/* the reason is the last non-empty line that isn't the summary */
	for (const char *l = log; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (*l != '\n' && !startswith(l, "processed ") &&
		    !startswith(l, "verification time") && !startswith(l, "stack depth"))
			reason = l;
	if (!reason)
		reason = last;
	if (reason)
		snprintf(why, sizeof(why), "%.*s", (int)strcspn(reason, "\n"), reason);
	if (insn >= 0 && (size_t)insn < ip->n_insns)
		line = ip->insn_line[insn];
	free(p->verifier_log);
	p->verifier_log = strdup(log);
	if (line <= 0)
		return hv_error_set(reterr, code, "%s: the kernel rejected the program for %s: %s",
		                    p->origin, attach_point_name(ip->point),
		                    why[0] ? why : "(no log)");
	trace_source_excerpt(p->source, line, 1, excerpt, sizeof(excerpt));
	return trace_error(p, reterr, line, 1, "the kernel's verifier rejected '%s': %s", excerpt,
	                   why[0] ? why : "(no log)");
}

static int
load_prog(struct hv_trace_program *p, struct irprog *ip, struct hv_error **reterr)
{
	enum bpf_prog_type type = ip->point == AP_TICK || ip->point == AP_PROFILE
	                                  ? BPF_PROG_TYPE_PERF_EVENT
	                          : ip->point == AP_UPROBE ? BPF_PROG_TYPE_KPROBE
	                                                   : BPF_PROG_TYPE_RAW_TRACEPOINT;
	LIBBPF_OPTS(bpf_prog_load_opts, opts);
	int fd;

	for (size_t i = 0; i < ip->n_insns; i++) {
		struct bpf_insn *in = &ip->insns[i];

		if (in->code == (BPF_LD | BPF_IMM | BPF_DW) && in->src_reg == BPF_PSEUDO_MAP_FD) {
			in->imm = map_fd(p, in->imm);
			i++;
		}
	}
	fd = bpf_prog_load(type, "sable_dtrace", "Dual MIT/GPL", ip->insns, ip->n_insns, &opts);
	if (fd < 0) {
		size_t size = 1024 * 1024;
		_cleanup_free_ char *log = malloc(size);
		int r = fd;

		if (!log)
			return -ENOMEM;
		log[0] = 0;
		opts.log_buf = log;
		opts.log_size = (unsigned)size;
		opts.log_level = 1;
		fd = bpf_prog_load(type, "sable_dtrace", "Dual MIT/GPL", ip->insns, ip->n_insns,
		                   &opts);
		if (fd >= 0) {
			safe_close(fd);
			return hv_error_set(reterr, r, "cannot load the program for %s: %m",
			                    attach_point_name(ip->point));
		}
		if (!log[0])
			return hv_error_set(reterr, fd, "cannot load the program for %s: %m",
			                    attach_point_name(ip->point));
		return verifier_error(p, ip, log, fd, reterr);
	}
	ip->prog_fd = fd;
	return 0;
}

static int
perf_open(int64_t period_ns, int cpu)
{
	struct perf_event_attr attr = {
	        .type = PERF_TYPE_SOFTWARE,
	        .size = sizeof(attr),
	        .config = PERF_COUNT_SW_CPU_CLOCK,
	        .sample_period = (uint64_t)period_ns,
	};
	long fd = syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : (int)fd;
}

/* The uprobe PMU's type and its retprobe bit, from sysfs (what libbpf reads too). */
static int
uprobe_pmu(int *ret_type, int *ret_bit)
{
	_cleanup_free_ char *t = NULL, *b = NULL;
	int r;

	if ((r = read_full_file("/sys/bus/event_source/devices/uprobe/type", 64, &t, NULL)) < 0 ||
	    (r = read_full_file("/sys/bus/event_source/devices/uprobe/format/retprobe", 64, &b,
	                        NULL)) < 0)
		return r;
	if (!startswith(b, "config:"))
		return -EINVAL;
	*ret_type = atoi(t);
	*ret_bit = atoi(b + 7);
	return 0;
}

/* pid probes: a uprobe perf event on the target alone, its BPF link carrying the probe ID */
static int
attach_uprobe(struct hv_trace_program *p, struct irprog *ip, const struct probe *pr,
              struct hv_error **reterr)
{
	static int type = -1, bit;
	LIBBPF_OPTS(bpf_link_create_opts, lo, .perf_event.bpf_cookie = pr->id);
	struct perf_event_attr attr = {.size = sizeof(attr)};
	int pfd, lfd, r;

	if (type < 0 && (r = uprobe_pmu(&type, &bit)) < 0)
		return hv_error_set(reterr, r, "this kernel has no uprobe events: %m");
	attr.type = (uint32_t)type;
	attr.config = streq(pr->name, "return") ? 1ULL << bit : 0;
	attr.config1 = (uint64_t)(uintptr_t)pr->path;
	attr.config2 = pr->off;
	pfd = (int)syscall(SYS_perf_event_open, &attr, (pid_t)pr->arg, -1, -1,
	                   PERF_FLAG_FD_CLOEXEC);
	if (pfd < 0)
		return hv_error_set(reterr, -errno, "cannot place a uprobe on %s:%s:%s: %m",
		                    probe_provider_name(pr), pr->mod, pr->func);
	if ((r = keep_fd(p, pfd)) < 0)
		return r;
	lfd = bpf_link_create(ip->prog_fd, pfd, BPF_PERF_EVENT, &lo);
	if (lfd < 0)
		return hv_error_set(reterr, lfd, "cannot attach to %s:%s:%s:%s: %m",
		                    probe_provider_name(pr), pr->mod, pr->func, pr->name);
	return keep_fd(p, lfd);
}

static int
attach_perf(struct hv_trace_program *p, struct irprog *ip, const struct probe *pr,
            struct hv_error **reterr)
{
	int ncpu = ip->point == AP_TICK ? 1 : p->ncpus, r;

	for (int cpu = 0; cpu < ncpu; cpu++) {
		LIBBPF_OPTS(bpf_link_create_opts, lo, .perf_event.bpf_cookie = pr->id);
		int pfd = perf_open(pr->arg, cpu), lfd;

		if (pfd == -ENODEV || pfd == -ENOENT)
			continue; /* an offline CPU */
		if (pfd < 0)
			return hv_error_set(reterr, pfd,
			                    "cannot open a perf clock event for '%s': %m",
			                    pr->name);
		if ((r = keep_fd(p, pfd)) < 0)
			return r;
		lfd = bpf_link_create(ip->prog_fd, pfd, BPF_PERF_EVENT, &lo);
		if (lfd < 0)
			return hv_error_set(reterr, lfd, "cannot attach to '%s': %m", pr->name);
		if ((r = keep_fd(p, lfd)) < 0)
			return r;
	}
	return 0;
}

static int
attach(struct hv_trace_program *p, struct irprog *ip, struct hv_error **reterr)
{
	static const char *const tps[_AP_MAX] = {
	        [AP_SYS_ENTER] = "sys_enter",           [AP_SYS_EXIT] = "sys_exit",
	        [AP_SCHED_EXEC] = "sched_process_exec", [AP_SCHED_EXIT] = "sched_process_exit",
	        [AP_SCHED_FORK] = "sched_process_fork", [AP_SCHED_SWITCH] = "sched_switch",
	        [AP_SIGNAL] = "signal_generate",        [AP_IO_START] = "block_rq_issue",
	        [AP_IO_DONE] = "block_rq_complete",
	};
	size_t n_uprobes = 0;
	int r;

	if (ip->point == AP_BEGIN || ip->point == AP_END || ip->point == AP_ERROR)
		return 0;
	if (tps[ip->point]) {
		int fd = bpf_raw_tracepoint_open(tps[ip->point], ip->prog_fd);

		if (fd < 0)
			return hv_error_set(reterr, fd,
			                    "cannot attach to the raw tracepoint '%s': %m",
			                    tps[ip->point]);
		return keep_fd(p, fd);
	}
	/* tick, profile and pid: one perf event (set) for each distinct probe */
	for (int c = 0; c < p->n_clauses; c++) {
		for (size_t i = 0; i < p->n_cprobes[c]; i++) {
			const struct probe *pr = &p->cprobes[c][i];
			bool seen = false;

			if (pr->prov->point(pr) != ip->point)
				continue;
			for (int c2 = 0; c2 <= c && !seen; c2++)
				for (size_t j = 0; j < (c2 == c ? i : p->n_cprobes[c2]); j++)
					if (p->cprobes[c2][j].id == pr->id &&
					    streq(p->cprobes[c2][j].name, pr->name))
						seen = true;
			if (seen)
				continue;
			if (ip->point == AP_UPROBE && ++n_uprobes > UPROBES_MAX)
				return hv_error_set(reterr, -E2BIG,
				                    "more than %d pid probes: name fewer functions",
				                    UPROBES_MAX);
			r = ip->point == AP_UPROBE ? attach_uprobe(p, ip, pr, reterr)
			                           : attach_perf(p, ip, pr, reterr);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int
hv_trace_load(struct hv_trace_program *p, struct hv_error **reterr)
{
	int r;

	if (p->loaded)
		return 0;
	p->ncpus = libbpf_num_possible_cpus();
	if (p->ncpus <= 0)
		return hv_error_set(reterr, p->ncpus ? p->ncpus : -EIO,
		                    "cannot count the CPUs: %m");
	if ((r = create_maps(p, reterr)) < 0)
		return r;
	for (int ap = 0; ap < _AP_MAX; ap++)
		if (p->progs[ap].used && (r = load_prog(p, &p->progs[ap], reterr)) < 0)
			return r;
	/* BEGIN first runs before any other probe can fire: attach afterwards (hv_trace_run) */
	p->loaded = true;
	return 0;
}

int trace_attach_all(struct hv_trace_program *p, struct hv_error **reterr);
int
trace_attach_all(struct hv_trace_program *p, struct hv_error **reterr)
{
	int r;

	for (int ap = 0; ap < _AP_MAX; ap++)
		if (p->progs[ap].used && (r = attach(p, &p->progs[ap], reterr)) < 0)
			return r;
	return 0;
}

void trace_detach_all(struct hv_trace_program *p);
void
trace_detach_all(struct hv_trace_program *p)
{
	for (size_t i = 0; i < p->n_fds; i++)
		safe_close(p->fds[i]);
	p->n_fds = 0;
}

int
hv_trace_zone_set(struct hv_trace_program *p, uint64_t cgroup_id, const char *zonename)
{
	char v[ZONENAME_MAX] = {0};

	if (p->zones_fd < 0)
		return -EBADF;
	snprintf(v, sizeof(v), "%s", zonename);
	return bpf_map_update_elem(p->zones_fd, &cgroup_id, v, BPF_ANY);
}

int
hv_trace_zone_unset(struct hv_trace_program *p, uint64_t cgroup_id)
{
	if (p->zones_fd < 0)
		return -EBADF;
	return bpf_map_delete_elem(p->zones_fd, &cgroup_id);
}

/* BEGIN and END run once, here, through the kernel's test-run interface. */
int trace_fire(struct hv_trace_program *p, enum attach_point ap, const uint64_t *args, size_t n);
int
trace_fire(struct hv_trace_program *p, enum attach_point ap, const uint64_t *args, size_t n)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = n * sizeof(*args));

	if (!p->progs[ap].used)
		return 0;
	return bpf_prog_test_run_opts(p->progs[ap].prog_fd, &opts);
}
