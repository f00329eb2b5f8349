/* SPDX-License-Identifier: MIT */
/*
 * Lowering what depends on the probe: args[] (argN) for each attach point
 * (pt_regs for syscalls and the pid provider, tracepoint fields,
 * dtrace:::ERROR's context) and the built-in variables (pid, ppid,
 * execname, zonename ...). On sched:::on-cpu the thread is the one being
 * switched to, not the current one, so its task is read with
 * probe_read_kernel at the offsets trace_kofs finds in the kernel's BTF.
 */
#include <time.h>

#include "trace-ir.h"

/* *ret = *(size *)(ptr + off) in kernel memory, through probe_read_kernel */
static int
kread(struct lower *lw, int ptr, int off, int size, int *ret)
{
	unsigned o;
	int dst, sz, src;

	TRY(trace_ir_region(lw, 8, &o));
	TRY(trace_ir_scr(lw, o, &dst));
	E(.op = IR_STI, .a = dst, .imm = 0, .imm2 = 0, .size = 8);
	TRY(trace_ir_imm(lw, size, &sz));
	TRY(trace_ir_vreg(lw, &src));
	E(.op = IR_ALUI, .d = src, .a = ptr, .alu = BPF_ADD, .imm = off);
	TRY(trace_ir_call(lw, -1, BPF_FUNC_probe_read_kernel, MAP_NONE, 3, (int[]){dst, sz, src}));
	E(.op = IR_LOAD, .d = dst, .a = dst, .imm = 0, .size = size);
	lw->ip->vreg_next = dst + 1;
	*ret = dst;
	return 0;
}

/* The thread a probe is about: the current one, or sched:::on-cpu's next (raw args[2]). */
static int
task(struct lower *lw, int *ret)
{
	TRY(trace_ir_vreg(lw, ret));
	if (lw->oncpu) {
		E(.op = IR_CTX, .d = *ret, .imm = 16);
		return 0;
	}
	return trace_ir_call(lw, *ret, BPF_FUNC_get_current_task, MAP_NONE, 0, NULL);
}

static int
kofs(struct lower *lw)
{
	return trace_kofs(lw->p, lw->line, lw->reterr);
}

/*
 * v holds the expression's value: move it down into d, the first register
 * the expression took, and free every register after d.
 */
static int
settle(struct lower *lw, int d, int v, int *ret)
{
	E(.op = IR_MOV, .d = d, .a = v);
	lw->ip->vreg_next = d + 1;
	*ret = d;
	return 0;
}

static const int sys_arg_off[] = {112, 104, 96, 56, 72, 64}; /* di si dx r10 r8 r9 in pt_regs */

int
trace_lower_arg(struct lower *lw, int i, int *ret)
{
	enum attach_point ap = lw->ip->point;
	unsigned off;
	int regs, dst, sz, src;

	switch (ap) {
	case AP_SYS_ENTER:
		if (i >= 6)
			return trace_ir_imm(lw, 0, ret);
		TRY(trace_ir_region(lw, 8, &off));
		TRY(trace_ir_vreg(lw, &regs));
		E(.op = IR_CTX, .d = regs, .imm = 0);
		E(.op = IR_ALUI, .d = regs, .a = regs, .alu = BPF_ADD, .imm = sys_arg_off[i]);
		TRY(trace_ir_scr(lw, off, &dst));
		TRY(trace_ir_imm(lw, 8, &sz));
		TRY(trace_ir_call(lw, -1, BPF_FUNC_probe_read_kernel, MAP_NONE, 3,
		                  (int[]){dst, sz, regs}));
		E(.op = IR_LOAD, .d = regs, .a = dst, .imm = 0, .size = 8);
		lw->ip->vreg_next = regs + 1;
		*ret = regs;
		return 0;
	case AP_SYS_EXIT:
		TRY(trace_ir_vreg(lw, ret));
		if (i > 1)
			E(.op = IR_IMM, .d = *ret, .imm = 0);
		else
			E(.op = IR_CTX, .d = *ret, .imm = 8);
		return 0;
	case AP_TICK:
	case AP_PROFILE:
		TRY(trace_ir_vreg(lw, ret));
		if (i > 0)
			E(.op = IR_IMM, .d = *ret, .imm = 0);
		else
			E(.op = IR_CTX, .d = *ret, .imm = 128); /* regs.ip */
		return 0;
	case AP_ERROR:
		TRY(trace_ir_vreg(lw, ret));
		if (i > 5)
			E(.op = IR_IMM, .d = *ret, .imm = 0);
		else
			E(.op = IR_CTX, .d = *ret, .imm = 8 * i);
		return 0;
	case AP_UPROBE: {
		/* entry: the arguments' registers; return (odd IDs): the offset and %rax */
		static const int ret_off[] = {128, 80};
		int entry = trace_ir_label(lw), out = trace_ir_label(lw), t;

		TRY(trace_ir_vreg(lw, ret));
		TRY(trace_ir_vreg(lw, &t));
		E(.op = IR_ALUI, .d = t, .a = V_PROBE, .alu = BPF_AND, .imm = 1);
		E(.op = IR_JCCI, .a = t, .alu = BPF_JEQ, .imm = 0, .label = entry);
		if (i < 2)
			E(.op = IR_CTX, .d = *ret, .imm = ret_off[i]);
		else
			E(.op = IR_IMM, .d = *ret, .imm = 0);
		E(.op = IR_JMP, .label = out);
		E(.op = IR_LABEL, .label = entry);
		if (i < 6)
			E(.op = IR_CTX, .d = *ret, .imm = i == 3 ? 88 : sys_arg_off[i]);
		else
			E(.op = IR_IMM, .d = *ret, .imm = 0);
		E(.op = IR_LABEL, .label = out);
		lw->ip->vreg_next = *ret + 1;
		return 0;
	}
	case AP_SCHED_SWITCH:
		/* off-cpu: arg0 = the next thread's tid, arg1 = its pid; on-cpu: none */
		if (lw->oncpu || i > 1)
			return trace_ir_imm(lw, 0, ret);
		TRY(kofs(lw));
		TRY(trace_ir_vreg(lw, &regs));
		E(.op = IR_CTX, .d = regs, .imm = 16);
		TRY(kread(lw, regs, i ? lw->p->kofs.task_tgid : lw->p->kofs.task_pid, 4, &dst));
		return settle(lw, regs, dst, ret);
	case AP_SIGNAL:
		/* arg0 = the receiver's pid, arg1 = its tid, arg2 = the signal */
		if (i > 2)
			return trace_ir_imm(lw, 0, ret);
		TRY(trace_ir_vreg(lw, &regs));
		if (i == 2) {
			E(.op = IR_CTX, .d = regs, .imm = 0);
			E(.op = IR_ALUI, .d = regs, .a = regs, .alu = BPF_LSH, .imm = 32);
			E(.op = IR_ALUI, .d = regs, .a = regs, .alu = BPF_ARSH, .imm = 32);
			*ret = regs;
			return 0;
		}
		TRY(kofs(lw));
		E(.op = IR_CTX, .d = regs, .imm = 16);
		TRY(kread(lw, regs, i ? lw->p->kofs.task_pid : lw->p->kofs.task_tgid, 4, &dst));
		return settle(lw, regs, dst, ret);
	case AP_IO_START:
	case AP_IO_DONE:
		/* arg0 = the request; start: arg1 = its bytes; done: arg1 = error, arg2 = bytes */
		TRY(trace_ir_vreg(lw, &regs));
		if (i == 0 || (ap == AP_IO_DONE && i < 3)) {
			E(.op = IR_CTX, .d = regs, .imm = 8 * i);
			if (ap == AP_IO_DONE && i == 1) {
				E(.op = IR_ALUI, .d = regs, .a = regs, .alu = BPF_LSH, .imm = 32);
				E(.op = IR_ALUI, .d = regs, .a = regs, .alu = BPF_ARSH, .imm = 32);
			}
			*ret = regs;
			return 0;
		}
		if (ap == AP_IO_DONE || i > 1) {
			E(.op = IR_IMM, .d = regs, .imm = 0);
			*ret = regs;
			return 0;
		}
		TRY(kofs(lw));
		E(.op = IR_CTX, .d = regs, .imm = 0);
		TRY(kread(lw, regs, lw->p->kofs.rq_data_len, 4, &dst));
		return settle(lw, regs, dst, ret);
	case AP_SCHED_EXEC:
	case AP_SCHED_EXIT:
	case AP_SCHED_FORK:
		TRY(trace_ir_vreg(lw, ret));
		if (i > 2 || (ap == AP_SCHED_EXIT && i > 0) || (ap == AP_SCHED_FORK && i > 1))
			E(.op = IR_IMM, .d = *ret, .imm = 0);
		else
			E(.op = IR_CTX, .d = *ret, .imm = 8 * i);
		(void)src;
		return 0;
	default:
		return trace_ir_imm(lw, 0, ret);
	}
}

int
trace_lower_builtin(struct lower *lw, struct tnode *n, int *ret)
{
	unsigned off;
	int d;

	switch (n->sym) {
	case BI_PID:
	case BI_TID:
		if (!lw->oncpu)
			goto helper;
		TRY(kofs(lw));
		TRY(task(lw, &d));
		TRY(kread(lw, d, n->sym == BI_PID ? lw->p->kofs.task_tgid : lw->p->kofs.task_pid, 4,
		          ret));
		return settle(lw, d, *ret, ret);
	case BI_PPID: {
		int par;

		TRY(kofs(lw));
		TRY(task(lw, &d));
		TRY(kread(lw, d, lw->p->kofs.task_real_parent, 8, &par));
		TRY(kread(lw, par, lw->p->kofs.task_tgid, 4, ret));
		return settle(lw, d, *ret, ret);
	}
	case BI_VTIMESTAMP: {
		int v;

		TRY(kofs(lw));
		TRY(task(lw, &d));
		TRY(kread(lw, d, lw->p->kofs.task_se + lw->p->kofs.se_sum_exec_runtime, 8, &v));
		return settle(lw, d, v, ret);
	}
	case BI_ERRNO: {
		int ok = trace_ir_label(lw);

		/* the return probes' error: -(return value) when it is in [-4095, -1] */
		TRY(trace_ir_vreg(lw, ret));
		E(.op = IR_IMM, .d = *ret, .imm = 0);
		if (lw->ip->point != AP_SYS_EXIT)
			return 0;
		TRY(trace_ir_vreg(lw, &d));
		E(.op = IR_CTX, .d = d, .imm = 8);
		E(.op = IR_JCCI, .a = d, .alu = BPF_JSGE, .imm = 0, .label = ok);
		E(.op = IR_JCCI, .a = d, .alu = BPF_JSLT, .imm = -4095, .label = ok);
		E(.op = IR_NEG, .d = *ret, .a = d);
		E(.op = IR_LABEL, .label = ok);
		lw->ip->vreg_next = *ret + 1;
		return 0;
	}
	case BI_UID:
	case BI_GID:
helper:
		TRY(trace_ir_vreg(lw, &d));
		TRY(trace_ir_call(lw, d,
		                  n->sym == BI_PID || n->sym == BI_TID
		                          ? BPF_FUNC_get_current_pid_tgid
		                          : BPF_FUNC_get_current_uid_gid,
		                  MAP_NONE, 0, NULL));
		if (n->sym == BI_PID || n->sym == BI_GID) {
			E(.op = IR_ALUI, .d = d, .a = d, .alu = BPF_RSH, .imm = 32);
		} else {
			E(.op = IR_ALUI, .d = d, .a = d, .alu = BPF_LSH, .imm = 32);
			E(.op = IR_ALUI, .d = d, .a = d, .alu = BPF_RSH, .imm = 32);
		}
		*ret = d;
		return 0;
	case BI_CPU:
		TRY(trace_ir_vreg(lw, ret));
		return trace_ir_call(lw, *ret, BPF_FUNC_get_smp_processor_id, MAP_NONE, 0, NULL);
	case BI_TIMESTAMP:
	case BI_WALLTIMESTAMP:
		TRY(trace_ir_vreg(lw, ret));
		TRY(trace_ir_call(lw, *ret, BPF_FUNC_ktime_get_ns, MAP_NONE, 0, NULL));
		if (n->sym == BI_WALLTIMESTAMP) {
			struct timespec rt, mono;
			int t;

			clock_gettime(CLOCK_REALTIME, &rt);
			clock_gettime(CLOCK_MONOTONIC, &mono);
			TRY(trace_ir_imm(lw,
			                 (rt.tv_sec - mono.tv_sec) * 1000000000LL +
			                         (rt.tv_nsec - mono.tv_nsec),
			                 &t));
			E(.op = IR_ALU, .d = *ret, .a = *ret, .b = t, .alu = BPF_ADD);
			lw->ip->vreg_next--;
		}
		return 0;
	case BI_CGROUP:
		TRY(trace_ir_vreg(lw, ret));
		return trace_ir_call(lw, *ret, BPF_FUNC_get_current_cgroup_id, MAP_NONE, 0, NULL);
	case BI_PROBEPROV:
	case BI_PROBEMOD:
	case BI_PROBEFUNC:
	case BI_PROBENAME:
		TRY(trace_ir_vreg(lw, ret));
		E(.op = IR_MOV, .d = *ret, .a = V_PROBE);
		return 0;
	case BI_EXECNAME: {
		int sz, t;

		TRY(trace_ir_region(lw, 16, &off));
		TRY(trace_ir_scr(lw, off, ret));
		TRY(trace_ir_imm(lw, 16, &sz));
		if (lw->oncpu) {
			TRY(kofs(lw));
			TRY(task(lw, &t));
			E(.op = IR_ALUI, .d = t, .a = t, .alu = BPF_ADD,
			  .imm = lw->p->kofs.task_comm);
			TRY(trace_ir_call(lw, -1, BPF_FUNC_probe_read_kernel, MAP_NONE, 3,
			                  (int[]){*ret, sz, t}));
		} else {
			TRY(trace_ir_call(lw, -1, BPF_FUNC_get_current_comm, MAP_NONE, 2,
			                  (int[]){*ret, sz}));
		}
		lw->ip->vreg_next = *ret + 1;
		return 0;
	}
	case BI_ZONENAME: {
		int key, t, v, done = trace_ir_label(lw), global = trace_ir_label(lw);

		TRY(trace_ir_region(lw, 64, &off));
		TRY(trace_ir_scr(lw, off, ret));
		TRY(trace_ir_vreg(lw, &t));
		TRY(trace_ir_call(lw, t, BPF_FUNC_get_current_cgroup_id, MAP_NONE, 0, NULL));
		TRY(trace_ir_region(lw, 8, &off));
		TRY(trace_ir_scr(lw, off, &key));
		E(.op = IR_STORE, .a = key, .b = t, .imm = 0, .size = 8);
		TRY(trace_ir_vreg(lw, &v));
		TRY(trace_ir_call(lw, v, BPF_FUNC_map_lookup_elem, MAP_ZONES, 1, (int[]){key}));
		E(.op = IR_JCCI, .a = v, .alu = BPF_JEQ, .imm = 0, .label = global);
		TRY(trace_ir_copy(lw, *ret, 0, 64, v, 64));
		E(.op = IR_JMP, .label = done);
		E(.op = IR_LABEL, .label = global);
		TRY(trace_ir_copy(lw, *ret, 0, 64, -1, 0));
		E(.op = IR_IMM, .d = t, .imm = 0x6c61626f6c67); /* "global" */
		E(.op = IR_STORE, .a = *ret, .b = t, .imm = 0, .size = 8);
		E(.op = IR_LABEL, .label = done);
		lw->ip->vreg_next = *ret + 1;
		return 0;
	}
	default:
		if (n->sym >= BI_ARG0 && n->sym < BI_ARG0 + 10)
			return trace_lower_arg(lw, n->sym - BI_ARG0, ret);
		return trace_error(lw->p, lw->reterr, n->line, n->col, "'%s' is not supported yet",
		                   n->name);
	}
}
