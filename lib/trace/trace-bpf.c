/* SPDX-License-Identifier: MIT */
/*
 * IR to BPF. Register allocation is the simplest that the verifier likes:
 * every virtual register has a stack slot (fp - 16 - 8v), each IR
 * instruction loads its operands into r0-r5, works, and stores its
 * result. r6 holds the context, r7 the scratch map value, r8 the globals
 * map value; the prologue looks both up once. Jumps are resolved after
 * emission (labels are always forward, so loops never appear). Map
 * references are LD_IMM64 with BPF_PSEUDO_MAP_FD and a map code in imm
 * until load puts the real fd there.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "trace-internal.h"

const char *trace_jcc_name(int jcc);
const char *trace_map_name(const struct hv_trace_program *p, int code, char *buf, size_t size);

enum { MAP_SCRATCH_CODE = 2, MAP_GLOBALS_CODE = 3 };

struct emitter {
	struct irprog *ip;
	struct bpf_insn *v;
	int *lines;
	size_t n, cap;
	int *label_at;
	size_t *fix; /* instructions whose off is a label number */
	size_t n_fix;
	int line;
};

static int
put(struct emitter *e, struct bpf_insn in)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 512;
		struct bpf_insn *v = realloc(e->v, cap * sizeof(*v));
		int *l = realloc(e->lines, cap * sizeof(*l));

		if (v)
			e->v = v;
		if (l)
			e->lines = l;
		if (!v || !l)
			return -ENOMEM;
		e->cap = cap;
	}
	e->lines[e->n] = e->line;
	e->v[e->n++] = in;
	return 0;
}

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define P(x)                        \
	do {                        \
		int _r = put(e, x); \
		if (_r < 0)         \
			return _r;  \
	} while (0)

static short
slot(int v)
{
	return (short)(-16 - 8 * v);
}

static int
size_code(int size)
{
	return size == 1 ? BPF_B : size == 2 ? BPF_H : size == 4 ? BPF_W : BPF_DW;
}

static int
ld(struct emitter *e, int reg, int v)
{
	return put(e, INSN(BPF_LDX | BPF_MEM | BPF_DW, reg, BPF_REG_10, slot(v), 0));
}

static int
st(struct emitter *e, int v, int reg)
{
	return put(e, INSN(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_10, reg, slot(v), 0));
}

static int
ld_imm64(struct emitter *e, int reg, int src, int64_t v)
{
	P(INSN(BPF_LD | BPF_IMM | BPF_DW, reg, src, 0, (int32_t)(uint32_t)v));
	return put(e, INSN(0, 0, 0, 0, (int32_t)(uint32_t)((uint64_t)v >> 32)));
}

static int
jump(struct emitter *e, struct bpf_insn in, int label)
{
	size_t *f = realloc(e->fix, (e->n_fix + 1) * sizeof(*f));

	if (!f)
		return -ENOMEM;
	e->fix = f;
	e->fix[e->n_fix++] = e->n;
	in.off = (short)label;
	return put(e, in);
}

static int
map_lookup0(struct emitter *e, int code, int dst)
{
	/* *(u32 *)(fp - 4) = 0; r0 = lookup(map, fp - 4); if r0 == 0 return 0; dst = r0 */
	P(INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0));
	P(INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0));
	P(INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4));
	if (ld_imm64(e, BPF_REG_1, BPF_PSEUDO_MAP_FD, code) < 0)
		return -ENOMEM;
	P(INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem));
	P(INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_0, 0, 2, 0));
	P(INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0));
	P(INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
	return put(e, INSN(BPF_ALU64 | BPF_MOV | BPF_X, dst, BPF_REG_0, 0, 0));
}

static int
emit_one(struct emitter *e, const struct irinsn *in)
{
	switch (in->op) {
	case IR_LABEL:
		e->label_at[in->label] = (int)e->n;
		return 0;
	case IR_IMM:
		if (in->imm >= INT32_MIN && in->imm <= INT32_MAX)
			P(INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, (int32_t)in->imm));
		else if (ld_imm64(e, BPF_REG_0, 0, in->imm) < 0)
			return -ENOMEM;
		return st(e, in->d, BPF_REG_0);
	case IR_MOV:
		P(INSN(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_0, BPF_REG_10, slot(in->a), 0));
		return st(e, in->d, BPF_REG_0);
	case IR_ALU:
		if (ld(e, BPF_REG_0, in->a) < 0 || ld(e, BPF_REG_1, in->b) < 0)
			return -ENOMEM;
		P(INSN(BPF_ALU64 | in->alu | BPF_X, BPF_REG_0, BPF_REG_1, 0, 0));
		return st(e, in->d, BPF_REG_0);
	case IR_ALUI:
		if (ld(e, BPF_REG_0, in->a) < 0)
			return -ENOMEM;
		P(INSN(BPF_ALU64 | in->alu | BPF_K, BPF_REG_0, 0, 0, (int32_t)in->imm));
		return st(e, in->d, BPF_REG_0);
	case IR_NEG:
		if (ld(e, BPF_REG_0, in->a) < 0)
			return -ENOMEM;
		P(INSN(BPF_ALU64 | BPF_NEG, BPF_REG_0, 0, 0, 0));
		return st(e, in->d, BPF_REG_0);
	case IR_JMP:
		return jump(e, INSN(BPF_JMP | BPF_JA, 0, 0, 0, 0), in->label);
	case IR_JCC:
		if (ld(e, BPF_REG_0, in->a) < 0 || ld(e, BPF_REG_1, in->b) < 0)
			return -ENOMEM;
		return jump(e, INSN(BPF_JMP | in->alu | BPF_X, BPF_REG_0, BPF_REG_1, 0, 0),
		            in->label);
	case IR_JCCI:
		if (ld(e, BPF_REG_0, in->a) < 0)
			return -ENOMEM;
		return jump(e, INSN(BPF_JMP | in->alu | BPF_K, BPF_REG_0, 0, 0, (int32_t)in->imm),
		            in->label);
	case IR_CTX:
		P(INSN(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_0, BPF_REG_6, (short)in->imm, 0));
		return st(e, in->d, BPF_REG_0);
	case IR_SCR:
	case IR_GLB:
		P(INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_0,
		       in->op == IR_SCR ? BPF_REG_7 : BPF_REG_8, 0, 0));
		P(INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_0, 0, 0, (int32_t)in->imm));
		return st(e, in->d, BPF_REG_0);
	case IR_LOAD:
		if (ld(e, BPF_REG_0, in->a) < 0)
			return -ENOMEM;
		P(INSN(BPF_LDX | BPF_MEM | size_code(in->size), BPF_REG_0, BPF_REG_0,
		       (short)in->imm, 0));
		return st(e, in->d, BPF_REG_0);
	case IR_STORE:
		if (ld(e, BPF_REG_0, in->a) < 0 || ld(e, BPF_REG_1, in->b) < 0)
			return -ENOMEM;
		return put(e, INSN(BPF_STX | BPF_MEM | size_code(in->size), BPF_REG_0, BPF_REG_1,
		                   (short)in->imm, 0));
	case IR_STI:
		if (ld(e, BPF_REG_0, in->a) < 0)
			return -ENOMEM;
		return put(e, INSN(BPF_ST | BPF_MEM | size_code(in->size), BPF_REG_0, 0,
		                   (short)in->imm, (int32_t)in->imm2));
	case IR_CALL: {
		int reg = BPF_REG_1;
		bool map_arg = false;

		for (int i = 0; i < in->n_args; i++)
			map_arg |= in->args[i] == -3;
		if (in->label && !map_arg) {
			if (ld_imm64(e, BPF_REG_1, BPF_PSEUDO_MAP_FD, in->label) < 0)
				return -ENOMEM;
			reg++;
		}
		for (int i = 0; i < in->n_args; i++, reg++) {
			if (in->args[i] == -2)
				P(INSN(BPF_ALU64 | BPF_MOV | BPF_X, reg, BPF_REG_6, 0, 0));
			else if (in->args[i] == -3) {
				if (ld_imm64(e, reg, BPF_PSEUDO_MAP_FD, in->label) < 0)
					return -ENOMEM;
			} else if (ld(e, reg, in->args[i]) < 0)
				return -ENOMEM;
		}
		P(INSN(BPF_JMP | BPF_CALL, 0, 0, 0, (int32_t)in->imm));
		return in->d >= 0 ? st(e, in->d, BPF_REG_0) : 0;
	}
	case IR_RET:
		P(INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0));
		return put(e, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
	}
	return -EINVAL;
}

static int
emit_prog(struct hv_trace_program *p, struct irprog *ip, struct hv_error **reterr)
{
	struct emitter e = {.ip = ip};
	int r = -ENOMEM;

	if (!(e.label_at = calloc(ip->n_labels + 1, sizeof(int))))
		return -ENOMEM;
	if (put(&e, INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0)) < 0 ||
	    map_lookup0(&e, MAP_SCRATCH_CODE, BPF_REG_7) < 0 ||
	    map_lookup0(&e, MAP_GLOBALS_CODE, BPF_REG_8) < 0)
		goto out;
	for (size_t i = 0; i < ip->n; i++) {
		e.line = ip->v[i].line;
		if ((r = emit_one(&e, &ip->v[i])) < 0)
			goto out;
	}
	for (size_t i = 0; i < e.n_fix; i++) {
		size_t at = e.fix[i];
		long off = e.label_at[e.v[at].off] - (long)at - 1;

		if (off > INT16_MAX) {
			r = trace_error(
			        p, reterr, e.lines[at], 1,
			        "the program for %s is too large for one BPF jump; use fewer "
			        "clauses or probes",
			        attach_point_name(ip->point));
			goto out;
		}
		e.v[at].off = (short)off;
	}
	if (e.n > TRACE_INSNS_MAX) {
		r = trace_error(p, reterr, 1, 1,
		                "the program for %s has %zu BPF instructions (limit %d)",
		                attach_point_name(ip->point), e.n, TRACE_INSNS_MAX);
		goto out;
	}
	ip->insns = TAKE_PTR(e.v);
	ip->insn_line = TAKE_PTR(e.lines);
	ip->n_insns = e.n;
	r = 0;
out:
	free(e.v);
	free(e.lines);
	free(e.label_at);
	free(e.fix);
	return r;
}

int
trace_emit(struct hv_trace_program *p, struct hv_error **reterr)
{
	int r;

	for (int ap = 0; ap < _AP_MAX; ap++)
		if (p->progs[ap].used && (r = emit_prog(p, &p->progs[ap], reterr)) < 0)
			return r;
	return 0;
}

/* --- the BPF dump, in the kernel's own notation --- */

static const char *
op_name(int op)
{
	static const char *const names[] = {
	        "+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=", "=", "s>>="};
	return names[(op >> 4) & 0xf];
}

void
trace_dump_bpf(const struct hv_trace_program *p, FILE *f)
{
	for (int ap = 0; ap < _AP_MAX; ap++) {
		const struct irprog *ip = &p->progs[ap];

		if (!ip->used)
			continue;
		fprintf(f, "program %s (%zu instructions)\n", attach_point_name(ap), ip->n_insns);
		for (size_t i = 0; i < ip->n_insns; i++) {
			const struct bpf_insn *in = &ip->insns[i];
			int cls = BPF_CLASS(in->code), sz = BPF_SIZE(in->code);
			const char *w = sz == BPF_B   ? "u8"
			                : sz == BPF_H ? "u16"
			                : sz == BPF_W ? "u32"
			                              : "u64";
			char m[80];

			fprintf(f, "%5zu: ", i);
			if (in->code == (BPF_LD | BPF_IMM | BPF_DW)) {
				if (in->src_reg == BPF_PSEUDO_MAP_FD)
					fprintf(f, "r%d = map[%s] ll\n", in->dst_reg,
					        trace_map_name(p, in->imm, m, sizeof(m)));
				else
					fprintf(f, "r%d = %#" PRIx64 " ll\n", in->dst_reg,
					        (uint64_t)(uint32_t)in->imm |
					                ((uint64_t)(uint32_t)in[1].imm << 32));
				i++;
			} else if (cls == BPF_ALU64) {
				if (BPF_OP(in->code) == BPF_NEG)
					fprintf(f, "r%d = -r%d\n", in->dst_reg, in->dst_reg);
				else if (BPF_SRC(in->code) == BPF_X)
					fprintf(f, "r%d %s r%d\n", in->dst_reg,
					        op_name(BPF_OP(in->code)), in->src_reg);
				else
					fprintf(f, "r%d %s %d\n", in->dst_reg,
					        op_name(BPF_OP(in->code)), in->imm);
			} else if (cls == BPF_LDX) {
				fprintf(f, "r%d = *(%s *)(r%d %+d)\n", in->dst_reg, w, in->src_reg,
				        in->off);
			} else if (cls == BPF_STX) {
				fprintf(f, "*(%s *)(r%d %+d) = r%d\n", w, in->dst_reg, in->off,
				        in->src_reg);
			} else if (cls == BPF_ST) {
				fprintf(f, "*(%s *)(r%d %+d) = %d\n", w, in->dst_reg, in->off,
				        in->imm);
			} else if (in->code == (BPF_JMP | BPF_CALL)) {
				fprintf(f, "call %d\n", in->imm);
			} else if (in->code == (BPF_JMP | BPF_EXIT)) {
				fprintf(f, "exit\n");
			} else if (in->code == (BPF_JMP | BPF_JA)) {
				fprintf(f, "goto %+d\n", in->off);
			} else if (cls == BPF_JMP) {
				if (BPF_SRC(in->code) == BPF_X)
					fprintf(f, "if r%d %s r%d goto %+d\n", in->dst_reg,
					        trace_jcc_name(BPF_OP(in->code)), in->src_reg,
					        in->off);
				else
					fprintf(f, "if r%d %s %d goto %+d\n", in->dst_reg,
					        trace_jcc_name(BPF_OP(in->code)), in->imm, in->off);
			} else {
				fprintf(f, "(code %#x)\n", in->code);
			}
		}
	}
}
