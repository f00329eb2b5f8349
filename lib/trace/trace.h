/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * D, compiled to eBPF. A program is compiled (lex, parse, resolve, check,
 * lower to IR, emit BPF), then loaded (maps, programs, probes attached
 * through fds that the kernel drops when the process dies), then run: the
 * BEGIN clauses, the event loop until exit() or a stop request, the END
 * clauses, and the aggregations printed as DTrace prints them.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "basic/error.h"

struct hv_trace_program;

struct hv_trace_options {
	unsigned strsize;  /* bytes in a string, NUL included (default 256) */
	size_t bufsize;    /* the ring buffer's size (0: 1 MiB, 64 KiB without printf/trace) */
	bool quiet;        /* -q */
	bool zdefs;        /* -Z: descriptions may match nothing */
	bool destructive;  /* -w */
	char **macro_args; /* $0, $1, ... */
	int n_macro_args;
	pid_t target;                  /* $target, or 0 */
	unsigned switchrate_ms;        /* how often the consumer polls (default 100) */
	void (*ready)(void *userdata); /* called once BEGIN ran and every probe is attached */
	void *userdata;
	/* called at every switchrate tick while the probes are attached (dtrace: the zone map) */
	void (*tick)(struct hv_trace_program *p, void *userdata);
	void *tick_userdata;
};

/* Compile D source; origin names it in errors ("<command line>", a file). */
int hv_trace_compile(const char *source, const char *origin, const struct hv_trace_options *opts,
                     struct hv_trace_program **ret, struct hv_error **reterr);

/* Print a stage: "ast", "ir" or "bpf". */
int hv_trace_dump(const struct hv_trace_program *p, const char *stage, FILE *f);

/* How many probes the program enables. */
size_t hv_trace_matched(const struct hv_trace_program *p);

/* Create the maps, load the programs and attach every probe. */
int hv_trace_load(struct hv_trace_program *p, struct hv_error **reterr);

/* Record a cgroup id -> zonename pair in the program's zone map (after load), or drop one. */
int hv_trace_zone_set(struct hv_trace_program *p, uint64_t cgroup_id, const char *zonename);
int hv_trace_zone_unset(struct hv_trace_program *p, uint64_t cgroup_id);

/* Call tick(p, userdata) at every switchrate tick of hv_trace_run(). */
void hv_trace_set_tick(struct hv_trace_program *p, void (*tick)(struct hv_trace_program *, void *),
                       void *userdata);

/* Call ready(userdata) once BEGIN ran and every probe is attached (dtrace -c). */
void hv_trace_set_ready(struct hv_trace_program *p, void (*ready)(void *), void *userdata);

/* Fire BEGIN, consume until exit() or *stop, fire END, print the aggregations. */
int hv_trace_run(struct hv_trace_program *p, FILE *out, volatile int *stop,
                 struct hv_error **reterr);

/* The status exit() asked for. */
int hv_trace_exit_status(const struct hv_trace_program *p);

/* List the probes matching a description ("" for all) as dtrace -l does. */
int hv_trace_list(const char *desc, FILE *f, struct hv_error **reterr);

struct hv_trace_program *hv_trace_program_free(struct hv_trace_program *p);

static inline void
hv_trace_program_freep(struct hv_trace_program **p)
{
	*p = hv_trace_program_free(*p);
}
