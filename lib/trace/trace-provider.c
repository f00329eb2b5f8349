/* SPDX-License-Identifier: MIT */
/*
 * Providers, each behind one ops table: what probes it has (for -l and
 * wildcards), how a description it cannot enumerate becomes a probe
 * (tick-5s), and which kernel attach point fires it. Probe IDs are fixed
 * by construction: dtrace 1-3, syscall 4 + 2 * number (+1 for return),
 * then profile/tick and proc.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "trace-internal.h"
#include "trace-syscalls.h"

#define SYSCALL_BASE 4
#define PROFILE_BASE (SYSCALL_BASE + 2 * (int)ELEMENTSOF(syscall_names))
#define PROC_BASE    (PROFILE_BASE + 1000)

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
	return streq(pr->name, "BEGIN") ? AP_BEGIN : streq(pr->name, "END") ? AP_END : _AP_MAX;
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

/* proc:::exec-success, exit, create: the scheduler's raw tracepoints */
static int
proc_list(const struct provider *p, int (*fn)(const struct probe *, void *), void *ud)
{
	static const char *const names[] = {"create", "exec-success", "exit"};
	int r;

	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		struct probe pr = {.prov = p, .id = PROC_BASE + (uint32_t)i};

		snprintf(pr.name, sizeof(pr.name), "%s", names[i]);
		if ((r = fn(&pr, ud)) < 0)
			return r;
	}
	return 0;
}

static enum attach_point
proc_point(const struct probe *pr)
{
	return streq(pr->name, "create") ? AP_SCHED_FORK
	       : streq(pr->name, "exit") ? AP_SCHED_EXIT
	                                 : AP_SCHED_EXEC;
}

static const struct provider proc_provider = {
        .name = "proc",
        .list = proc_list,
        .point = proc_point,
};

const struct provider *const providers[] = {
        &dtrace_provider, &syscall_provider, &profile_provider, &proc_provider, NULL,
};

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

	if (!probe_match(d->part[1], "") || !probe_match(d->part[2], pr->func) ||
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

	fprintf(f, "%5u %10s %17s %33s %s\n", pr->id, pr->prov->name, "", pr->func, pr->name);
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
