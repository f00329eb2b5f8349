/* SPDX-License-Identifier: MIT */
/*
 * Providers, each behind one ops table: what probes it has (for -l and
 * wildcards), how a description it cannot enumerate becomes a probe
 * (tick-5s), and which kernel attach point fires it. Probe IDs are fixed
 * by construction: dtrace 1-3, syscall 4 + 2 * number (+1 for return),
 * then profile/tick, proc, sched, io, and the pid provider's probes for
 * one process (2 * the function's index in its files, +1 for return).
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "basic/parse.h"
#include "trace-internal.h"
#include "trace-syscalls.h"

#define SYSCALL_BASE 4
#define PROFILE_BASE (SYSCALL_BASE + 2 * (int)ELEMENTSOF(syscall_names))
#define PROC_BASE    (PROFILE_BASE + 1000)
#define SCHED_BASE   (PROC_BASE + 100)
#define IO_BASE      (PROC_BASE + 200)
#define PID_BASE     (PROC_BASE + 1000)

const char *
syscall_name(int nr)
{
	if (nr < 0 || nr >= (int)ELEMENTSOF(syscall_names))
		return NULL;
	return syscall_names[nr];
}

int
syscall_count(void)
{
	return (int)ELEMENTSOF(syscall_names);
}

/* dtrace:::BEGIN, END, ERROR */
static int
dtrace_list(const struct provider *p, int (*fn)(const struct probe *, void *), void *ud)
{
	static const char *const names[] = {"BEGIN", "END", "ERROR"};
	int r;

	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		struct probe pr = {.prov = p, .id = (uint32_t)i + 1};

		snprintf(pr.name, sizeof(pr.name), "%s", names[i]);
		if ((r = fn(&pr, ud)) < 0)
			return r;
	}
	return 0;
}

static enum attach_point
dtrace_point(const struct probe *pr)
{
	return streq(pr->name, "BEGIN") ? AP_BEGIN : streq(pr->name, "END") ? AP_END : AP_ERROR;
}

static const struct provider dtrace_provider = {
        .name = "dtrace",
        .list = dtrace_list,
        .point = dtrace_point,
};

/* syscall::NAME:entry/return, from the raw sys_enter/sys_exit tracepoints */
static int
syscall_list(const struct provider *p, int (*fn)(const struct probe *, void *), void *ud)
{
	int r;

	for (int nr = 0; nr < (int)ELEMENTSOF(syscall_names); nr++) {
		if (!syscall_names[nr])
			continue;
		for (int ret = 0; ret < 2; ret++) {
			struct probe pr = {.prov = p, .id = SYSCALL_BASE + 2 * nr + ret, .arg = nr};

			snprintf(pr.func, sizeof(pr.func), "%s", syscall_names[nr]);
			snprintf(pr.name, sizeof(pr.name), "%s", ret ? "return" : "entry");
			if ((r = fn(&pr, ud)) < 0)
				return r;
		}
	}
	return 0;
}

static enum attach_point
syscall_point(const struct probe *pr)
{
	return streq(pr->name, "entry") ? AP_SYS_ENTER : AP_SYS_EXIT;
}

static const struct provider syscall_provider = {
        .name = "syscall",
        .list = syscall_list,
        .point = syscall_point,
};

/* profile:::profile-N and tick-N: N in hz, or with a unit (ns us ms s m h d hz) */
static int
profile_parse(const char *name, bool *ret_tick, int64_t *ret_period_ns)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = {{"ns", 1},
	             {"nsec", 1},
	             {"us", 1000},
	             {"usec", 1000},
	             {"ms", 1000000},
	             {"msec", 1000000},
	             {"s", 1000000000},
	             {"sec", 1000000000},
	             {"m", 60000000000},
	             {"min", 60000000000},
	             {"h", 3600000000000},
	             {"hour", 3600000000000},
	             {"d", 86400000000000},
	             {"day", 86400000000000}};
	const char *s;
	char *end;
	long long v;

	if ((s = startswith(name, "tick-")))
		*ret_tick = true;
	else if ((s = startswith(name, "profile-")))
		*ret_tick = false;
	else
		return -ENOENT;
	if (!isdigit((unsigned char)*s))
		return -ENOENT;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v <= 0 || v > 1000000000)
		return -ENOENT;
	if (!*end || streq(end, "hz")) {
		*ret_period_ns = 1000000000LL / v;
		return *ret_period_ns > 0 ? 0 : -ENOENT;
	}
	for (size_t i = 0; i < ELEMENTSOF(units); i++) {
		if (streq(end, units[i].unit)) {
			*ret_period_ns = v * units[i].ns;
			/* DTrace's floor: 200 microseconds for tick and profile */
			return *ret_period_ns >= 200000 ? 0 : -ERANGE;
		}
	}
	return -ENOENT;
}

static int
profile_make(const struct provider *p, const char *func, const char *name, struct probe *ret)
{
	bool tick;
	int64_t ns;
	uint32_t h = 0;

	if (!isempty(func) || profile_parse(name, &tick, &ns) < 0)
		return -ENOENT;
	for (const char *s = name; *s; s++)
		h = h * 31 + (unsigned char)*s;
	*ret = (struct probe){.prov = p, .arg = ns, .id = PROFILE_BASE + 100 + h % 800};
	snprintf(ret->name, sizeof(ret->name), "%s", name);
	return 0;
}

static int
profile_list(const struct provider *p, int (*fn)(const struct probe *, void *), void *ud)
{
	static const char *const names[] = {
	        "profile-97",   "profile-199",  "profile-499", "profile-997", "profile-1999",
	        "profile-4001", "profile-4999", "tick-1",      "tick-10",     "tick-100",
	        "tick-500",     "tick-1000",    "tick-5000",   "tick-1s",     "tick-10s",
	};
	int r;

	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		struct probe pr;

		if ((r = profile_make(p, "", names[i], &pr)) < 0)
			return r;
		pr.id = PROFILE_BASE + (uint32_t)i;
		if ((r = fn(&pr, ud)) < 0)
			return r;
	}
	return 0;
}

static enum attach_point
profile_point(const struct probe *pr)
{
	return startswith(pr->name, "tick-") ? AP_TICK : AP_PROFILE;
}

static const struct provider profile_provider = {
        .name = "profile",
        .list = profile_list,
        .make = profile_make,
        .point = profile_point,
};

static int
list_names(const struct provider *p, const char *const *names, size_t n, uint32_t base,
           int (*fn)(const struct probe *, void *), void *ud)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		struct probe pr = {.prov = p, .id = base + (uint32_t)i};

		snprintf(pr.name, sizeof(pr.name), "%s", names[i]);
		if ((r = fn(&pr, ud)) < 0)
			return r;
	}
	return 0;
}

/* proc:::exec-success, exit, create, signal-send: the scheduler's and signals' raw tracepoints */
static int
proc_list(const struct provider *p, int (*fn)(const struct probe *, void *), void *ud)
{
	static const char *const names[] = {"create", "exec-success", "exit", "signal-send"};

	return list_names(p, names, ELEMENTSOF(names), PROC_BASE, fn, ud);
}

static enum attach_point
proc_point(const struct probe *pr)
{
	return streq(pr->name, "create")        ? AP_SCHED_FORK
	       : streq(pr->name, "exit")        ? AP_SCHED_EXIT
	       : streq(pr->name, "signal-send") ? AP_SIGNAL
	                                        : AP_SCHED_EXEC;
}

static const struct provider proc_provider = {
        .name = "proc",
        .list = proc_list,
        .point = proc_point,
};

/* sched:::off-cpu and on-cpu, both from the sched_switch raw tracepoint */
static int
sched_list(const struct provider *p, int (*fn)(const struct probe *, void *), void *ud)
{
	static const char *const names[] = {"off-cpu", "on-cpu"};

	return list_names(p, names, ELEMENTSOF(names), SCHED_BASE, fn, ud);
}

uint32_t
sched_probe_id(bool on)
{
	return SCHED_BASE + (on ? 1 : 0);
}

static enum attach_point
sched_point(const struct probe *pr)
{
	return AP_SCHED_SWITCH;
}

static const struct provider sched_provider = {
        .name = "sched",
        .list = sched_list,
        .point = sched_point,
};

/* io:::start and done: the block layer's request issue and completion */
static int
io_list(const struct provider *p, int (*fn)(const struct probe *, void *), void *ud)
{
	static const char *const names[] = {"done", "start"};

	return list_names(p, names, ELEMENTSOF(names), IO_BASE, fn, ud);
}

static enum attach_point
io_point(const struct probe *pr)
{
	return streq(pr->name, "start") ? AP_IO_START : AP_IO_DONE;
}

static const struct provider io_provider = {
        .name = "io",
        .list = io_list,
        .point = io_point,
};

/*
 * pidPID:MODULE:FUNCTION:entry/return: uprobes on the functions of the
 * ELF files the process maps executable (MODULE is the file's name). The
 * paths are interned for the process's life: probes are copied freely.
 */
static const char *
intern(const char *s)
{
	static char *v[256];
	static size_t n;

	for (size_t i = 0; i < n; i++)
		if (streq(v[i], s))
			return v[i];
	if (n == ELEMENTSOF(v) || !(v[n] = strdup(s)))
		return NULL;
	return v[n++];
}

struct pid_walk {
	const struct provider *p;
	struct probe base;
	uint32_t index;
	int (*fn)(const struct probe *, void *);
	void *ud;
};

static int
pid_function(const char *name, uint64_t off, void *ud)
{
	struct pid_walk *w = ud;
	int r;

	for (int ret = 0; ret < 2; ret++) {
		struct probe pr = w->base;

		pr.id = PID_BASE + 2 * w->index + (uint32_t)ret;
		pr.off = off;
		snprintf(pr.func, sizeof(pr.func), "%s", name);
		snprintf(pr.name, sizeof(pr.name), "%s", ret ? "return" : "entry");
		if ((r = w->fn(&pr, w->ud)) < 0)
			return r;
	}
	w->index++;
	return 0;
}

static int
pid_list_for(const struct provider *p, const char *prov, const char *mod,
             int (*fn)(const struct probe *, void *), void *ud)
{
	struct pid_walk w = {.p = p, .fn = fn, .ud = ud};
	char path[64], line[512], *seen[64];
	size_t n_seen = 0;
	uint32_t pid;
	FILE *f;
	int r = 0;

	if (!startswith(prov, "pid") || safe_atou32(prov + 3, &pid) < 0 || pid == 0)
		return -ENOENT;
	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	if (!(f = fopen(path, "re")))
		return -ESRCH;
	while (r >= 0 && fgets(line, sizeof(line), f)) {
		char perms[8], file[400];
		const char *base;
		bool dup = false;

		file[0] = 0;
		if (sscanf(line, "%*x-%*x %7s %*x %*s %*u %399[^\n]", perms, file) < 2 ||
		    !strchr(perms, 'x') || file[0] != '/')
			continue;
		for (size_t i = 0; i < n_seen; i++)
			dup |= streq(seen[i], file);
		if (dup || n_seen == ELEMENTSOF(seen))
			continue;
		if (!(seen[n_seen] = strdup(file))) {
			r = -ENOMEM;
			break;
		}
		n_seen++;
		base = strrchr(file, '/') + 1;
		if (!probe_match(mod, base))
			continue;
		w.base = (struct probe){.prov = p, .arg = pid, .path = (char *)intern(file)};
		snprintf(w.base.mod, sizeof(w.base.mod), "%s", base);
		snprintf(w.base.prov_name, sizeof(w.base.prov_name), "%s", prov);
		if (!w.base.path)
			continue;
		r = trace_elf_functions(file, pid_function, &w);
		if (r == -ENOEXEC || r == -ENOENT)
			r = 0;
	}
	fclose(f);
	for (size_t i = 0; i < n_seen; i++)
		free(seen[i]);
	return r;
}

static int
pid_list(const struct provider *p, int (*fn)(const struct probe *, void *), void *ud)
{
	return 0; /* only for a process named by the description */
}

static enum attach_point
pid_point(const struct probe *pr)
{
	return AP_UPROBE;
}

static const struct provider pid_provider = {
        .name = "pid",
        .list = pid_list,
        .point = pid_point,
        .list_for = pid_list_for,
};

const struct provider *const providers[] = {
        &dtrace_provider, &syscall_provider, &profile_provider, &proc_provider,
        &sched_provider,  &io_provider,      &pid_provider,     NULL,
};

const char *
probe_provider_name(const struct probe *pr)
{
	return pr->prov_name[0] ? pr->prov_name : pr->prov->name;
}

const char *
attach_point_name(enum attach_point ap)
{
	static const char *const names[] = {
	        [AP_BEGIN] = "BEGIN",
	        [AP_END] = "END",
	        [AP_SYS_ENTER] = "raw_tracepoint/sys_enter",
	        [AP_SYS_EXIT] = "raw_tracepoint/sys_exit",
	        [AP_TICK] = "perf_event/cpu-clock (one CPU)",
	        [AP_PROFILE] = "perf_event/cpu-clock (every CPU)",
	        [AP_SCHED_EXEC] = "raw_tracepoint/sched_process_exec",
	        [AP_SCHED_EXIT] = "raw_tracepoint/sched_process_exit",
	        [AP_SCHED_FORK] = "raw_tracepoint/sched_process_fork",
	        [AP_ERROR] = "ERROR",
	        [AP_SCHED_SWITCH] = "raw_tracepoint/sched_switch",
	        [AP_SIGNAL] = "raw_tracepoint/signal_generate",
	        [AP_IO_START] = "raw_tracepoint/block_rq_issue",
	        [AP_IO_DONE] = "raw_tracepoint/block_rq_complete",
	        [AP_UPROBE] = "perf_event/uprobe",
	};
	return ap < _AP_MAX ? names[ap] : "none";
}

/* fnmatch for one part; an empty pattern matches everything. */
int
probe_match(const char *pattern, const char *s)
{
	return isempty(pattern) || fnmatch(pattern, s, 0) == 0;
}

struct desc {
	char part[4][128]; /* provider, module, function, name */
	struct probe *v;
	size_t n, cap;
};

static int
desc_parse(const char *desc, struct desc *d)
{
	const char *parts[4] = {NULL};
	char buf[512], *s, *colon;
	int n = 0;

	if (strlen(desc) >= sizeof(buf))
		return -ENAMETOOLONG;
	snprintf(buf, sizeof(buf), "%s", desc);
	s = buf;
	parts[n++] = s;
	while ((colon = strchr(s, ':'))) {
		if (n == 4)
			return -EINVAL;
		*colon = 0;
		s = colon + 1;
		parts[n++] = s;
	}
	/* fewer parts bind to the right: "read:entry" is function:name */
	for (int i = 0; i < 4; i++) {
		int src = i - (4 - n);
		snprintf(d->part[i], sizeof(d->part[i]), "%s", src >= 0 ? parts[src] : "");
	}
	return 0;
}

static int
collect(const struct probe *pr, void *ud)
{
	struct desc *d = ud;

	if (!probe_match(d->part[1], pr->mod) || !probe_match(d->part[2], pr->func) ||
	    !probe_match(d->part[3], pr->name))
		return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct probe *v = realloc(d->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n++] = *pr;
	return 0;
}

int
probes_for(const char *desc, struct probe **ret, size_t *ret_n, struct hv_error **reterr)
{
	struct desc d = {0};
	int r;

	if ((r = desc_parse(desc, &d)) < 0) {
		return hv_error_set(reterr, -EINVAL, "invalid probe description '%s'", desc);
	}
	for (size_t i = 0; providers[i]; i++) {
		const struct provider *p = providers[i];
		size_t before = d.n;

		if (p->list_for && startswith(d.part[0], p->name) && !strpbrk(d.part[0], "*?[")) {
			r = p->list_for(p, d.part[0], d.part[1], collect, &d);
			if (r == -ENOENT)
				continue;
			if (r < 0) {
				hv_error_set(reterr, r, "cannot read the probes of '%s': %m",
				             d.part[0]);
				goto fail;
			}
			continue;
		}
		if (!probe_match(d.part[0], p->name))
			continue;
		if ((r = p->list(p, collect, &d)) < 0)
			goto fail;
		if (d.n == before && p->make && !strpbrk(d.part[3], "*?[")) {
			struct probe pr;

			if (p->make(p, d.part[2], d.part[3], &pr) >= 0 &&
			    (r = collect(&pr, &d)) < 0)
				goto fail;
		}
	}
	*ret = d.v;
	*ret_n = d.n;
	return 0;
fail:
	free(d.v);
	return r;
}

static int
list_one(const struct probe *pr, void *ud)
{
	FILE *f = ud;

	fprintf(f, "%5u %10s %17s %33s %s\n", pr->id, probe_provider_name(pr), pr->mod, pr->func,
	        pr->name);
	return 0;
}

int
hv_trace_list(const char *desc, FILE *f, struct hv_error **reterr)
{
	_cleanup_free_ struct probe *v = NULL;
	size_t n = 0;
	int r;

	fprintf(f, "%5s %10s %17s %33s %s\n", "ID", "PROVIDER", "MODULE", "FUNCTION", "NAME");
	if (isempty(desc)) {
		for (size_t i = 0; providers[i]; i++)
			if ((r = providers[i]->list(providers[i], list_one, f)) < 0)
				return r;
		return 0;
	}
	if ((r = probes_for(desc, &v, &n, reterr)) < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		list_one(&v[i], f);
	return 0;
}

/*
 * The kernel structures' offsets that some built-ins and providers read
 * (ppid, vtimestamp, on-cpu's thread, signal-send's receiver, io's
 * sizes), from the kernel's BTF, once, when a program first needs them.
 */
static int
member_offset(const struct btf *btf, const char *type, const char *member, int *ret)
{
	int id = btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT);
	const struct btf_type *t;
	const struct btf_member *m;

	if (id < 0)
		return -ENOENT;
	t = btf__type_by_id(btf, id);
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++) {
		const char *name = btf__name_by_offset(btf, m->name_off);

		if (name && streq(name, member)) {
			*ret = (int)(btf_member_bit_offset(t, i) / 8);
			return 0;
		}
	}
	return -ENOENT;
}

int
trace_kofs(struct hv_trace_program *p, int line, struct hv_error **reterr)
{
	static const struct {
		const char *type, *member;
		size_t off;
	} want[] = {
	        {"task_struct", "real_parent", offsetof(struct kofs, task_real_parent)},
	        {"task_struct", "tgid", offsetof(struct kofs, task_tgid)},
	        {"task_struct", "pid", offsetof(struct kofs, task_pid)},
	        {"task_struct", "comm", offsetof(struct kofs, task_comm)},
	        {"task_struct", "se", offsetof(struct kofs, task_se)},
	        {"sched_entity", "sum_exec_runtime", offsetof(struct kofs, se_sum_exec_runtime)},
	        {"request", "__data_len", offsetof(struct kofs, rq_data_len)},
	};
	struct btf *btf;

	if (p->kofs.known)
		return 0;
	btf = btf__load_vmlinux_btf();
	if (!btf)
		return trace_error(p, reterr, line, 1,
		                   "cannot read the kernel's BTF (/sys/kernel/btf/vmlinux): %s",
		                   strerror(errno));
	for (size_t i = 0; i < ELEMENTSOF(want); i++) {
		int *slot = (int *)((char *)&p->kofs + want[i].off);

		if (member_offset(btf, want[i].type, want[i].member, slot) < 0) {
			btf__free(btf);
			return trace_error(p, reterr, line, 1, "the kernel's BTF has no '%s.%s'",
			                   want[i].type, want[i].member);
		}
	}
	btf__free(btf);
	p->kofs.known = true;
	return 0;
}
