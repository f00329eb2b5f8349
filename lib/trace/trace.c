/* SPDX-License-Identifier: MIT */
/*
 * The compiler's driver: the passes in their order, each a named function
 * in a file of its own (see trace-internal.h), and the program's
 * lifetime. A program compiles without privileges (so --dump and the
 * golden tests need no root); hv_trace_load() is the first step that
 * touches the kernel.
 */
#include <stdlib.h>
#include <string.h>

#include "trace-internal.h"

void trace_detach_all(struct hv_trace_program *p);

int
hv_trace_compile(const char *source, const char *origin, const struct hv_trace_options *opts,
                 struct hv_trace_program **ret, struct hv_error **reterr)
{
	_cleanup_(hv_trace_program_freep) struct hv_trace_program *p = NULL;
	int r;

	if (strlen(source) > TRACE_SOURCE_MAX)
		return hv_error_set(reterr, -EFBIG, "%s: the program is longer than %d bytes",
		                    origin, TRACE_SOURCE_MAX);
	if (!(p = calloc(1, sizeof(*p))))
		return -ENOMEM;
	p->rb_fd = p->scratch_fd = p->globals_fd = p->zones_fd = p->stacks_fd = -EBADF;
	for (int i = 0; i < _AP_MAX; i++)
		p->progs[i].prog_fd = -EBADF;
	if (opts)
		p->opts = *opts;
	if (!p->opts.strsize)
		p->opts.strsize = 256;
	p->opts.strsize = (p->opts.strsize + 7) & ~7u;
	if (p->opts.strsize > 4096)
		return hv_error_set(reterr, -ERANGE, "strsize %u is above the limit of 4096",
		                    p->opts.strsize);
	if (!p->opts.switchrate_ms)
		p->opts.switchrate_ms = 100;
	if (!(p->source = strdup(source)) || !(p->origin = strdup(origin)))
		return -ENOMEM;
	if ((r = trace_parse(p, reterr)) < 0 || (r = trace_resolve(p, reterr)) < 0 ||
	    (r = trace_check(p, reterr)) < 0 || (r = trace_lower(p, reterr)) < 0 ||
	    (r = trace_emit(p, reterr)) < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}

int
hv_trace_dump(const struct hv_trace_program *p, const char *stage, FILE *f)
{
	if (streq(stage, "ast"))
		trace_dump_ast(p, f);
	else if (streq(stage, "ir"))
		trace_dump_ir(p, f);
	else if (streq(stage, "bpf"))
		trace_dump_bpf(p, f);
	else
		return -EINVAL;
	return 0;
}

void
hv_trace_set_tick(struct hv_trace_program *p, void (*tick)(struct hv_trace_program *, void *),
                  void *userdata)
{
	p->opts.tick = tick;
	p->opts.tick_userdata = userdata;
}

void
hv_trace_set_ready(struct hv_trace_program *p, void (*ready)(void *), void *userdata)
{
	p->opts.ready = ready;
	p->opts.userdata = userdata;
}

size_t
hv_trace_matched(const struct hv_trace_program *p)
{
	return p->n_matched;
}

int
hv_trace_exit_status(const struct hv_trace_program *p)
{
	return p->exit_status;
}

struct hv_trace_program *
hv_trace_program_free(struct hv_trace_program *p)
{
	if (!p)
		return NULL;
	trace_detach_all(p);
	free(p->fds);
	for (int i = 0; i < _AP_MAX; i++) {
		safe_close(p->progs[i].prog_fd);
		free(p->progs[i].v);
		free(p->progs[i].insns);
		free(p->progs[i].insn_line);
	}
	for (size_t i = 0; i < p->n_syms; i++) {
		safe_close(p->syms[i].map_fd);
		free(p->syms[i].name);
	}
	free(p->syms);
	for (size_t i = 0; i < p->n_actions; i++)
		free(p->actions[i].fmt);
	free(p->actions);
	for (int i = 0; i < TRACE_CLAUSES_MAX; i++)
		free(p->cprobes[i]);
	safe_close(p->rb_fd);
	safe_close(p->scratch_fd);
	safe_close(p->globals_fd);
	safe_close(p->zones_fd);
	safe_close(p->stacks_fd);
	p->syms_cache = trace_syms_free(p->syms_cache);
	tnode_free(p->clauses);
	free(p->source);
	free(p->origin);
	free(p->verifier_log);
	free(p);
	return NULL;
}
