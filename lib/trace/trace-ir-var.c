/* SPDX-License-Identifier: MIT */
/*
 * Lowering D's storage: where variables live (globals in one array map
 * value, this-> in scratch, self-> and associative arrays in hash maps
 * keyed by the thread or by the key tuple), their loads and stores, and
 * the aggregating statement @a[keys] = func(args), which updates its map
 * value in place (quantize's log2 unrolled). A missing map entry reads as
 * 0 or "", and assigning zero to a dynamic variable deletes it.
 */
#include "trace-ir.h"

/* Where variables live: globals in one array map value, this-> in scratch. */
int
trace_layout(struct hv_trace_program *p, unsigned *this_size)
{
	unsigned g = 0, t = 0;

	for (size_t i = 0; i < p->n_syms; i++) {
		struct sym *s = &p->syms[i];
		unsigned size = s->type == TY_STRING ? s->size : 8;

		s->size = size;
		if (s->kind == SYM_GLOBAL) {
			s->offset = g;
			g += size;
		} else if (s->kind == SYM_THIS) {
			s->offset = t;
			t += size;
		} else if (s->kind == SYM_AGG) {
			switch (s->func) {
			case AGG_AVG:
			case AGG_MIN:
			case AGG_MAX:
				s->vallen = 16;
				break;
			case AGG_STDDEV:
				s->vallen = 24;
				break;
			case AGG_QUANTIZE:
				s->vallen = QUANT_BUCKETS * 8;
				break;
			case AGG_LQUANTIZE:
				s->vallen =
				        (unsigned)((s->lq_limit - s->lq_base) / s->lq_step + 2) * 8;
				break;
			default:
				s->vallen = 8;
			}
		}
	}
	p->globals_size = MAX(g, 8u);
	*this_size = t;
	return 0;
}

/* Build a key in scratch from an expression list (ints 8 bytes, strings their key size). */
static int
lower_key(struct lower *lw, const struct sym *s, struct tnode *keys, int *ret)
{
	unsigned off, pos = 0;
	int k = 0, mark;

	TRY(trace_ir_region(lw, MAX(s->keylen, 8u), &off));
	TRY(trace_ir_scr(lw, off, ret));
	if (!keys)
		E(.op = IR_STI, .a = *ret, .imm = 0, .imm2 = 0, .size = 8);
	mark = lw->ip->vreg_next;
	for (struct tnode *n = keys; n; n = n->next, k++) {
		int v;

		TRY(trace_lower_expr(lw, n, &v));
		if (s->key_type[k] == TY_STRING)
			TRY(trace_ir_copy(lw, *ret, pos, s->key_size[k], v, n->size));
		else
			E(.op = IR_STORE, .a = *ret, .b = v, .imm = pos, .size = 8);
		pos += s->key_size[k];
		lw->ip->vreg_next = mark;
	}
	return 0;
}

static int
self_key(struct lower *lw, int *ret)
{
	unsigned off;
	int t;

	TRY(trace_ir_region(lw, 8, &off));
	TRY(trace_ir_scr(lw, off, ret));
	TRY(trace_ir_vreg(lw, &t));
	TRY(trace_ir_call(lw, t, BPF_FUNC_get_current_pid_tgid, MAP_NONE, 0, NULL));
	E(.op = IR_STORE, .a = *ret, .b = t, .imm = 0, .size = 8);
	lw->ip->vreg_next--;
	return 0;
}

/* The address of a variable's storage (globals, this->), or of its map entry (or NULL). */
static int
var_addr(struct lower *lw, struct tnode *n, int *ret_ptr, int *ret_key)
{
	struct sym *s = &lw->p->syms[n->sym];

	*ret_key = -1;
	switch (s->kind) {
	case SYM_GLOBAL:
		TRY(trace_ir_vreg(lw, ret_ptr));
		E(.op = IR_GLB, .d = *ret_ptr, .imm = s->offset);
		return 0;
	case SYM_THIS:
		return trace_ir_scr(lw, s->offset, ret_ptr);
	case SYM_ASSOC:
	case SYM_SELF:
		if (s->kind == SYM_ASSOC)
			TRY(lower_key(lw, s, n->args, ret_key));
		else
			TRY(self_key(lw, ret_key));
		TRY(trace_ir_vreg(lw, ret_ptr));
		return trace_ir_call(lw, *ret_ptr, BPF_FUNC_map_lookup_elem, MAP_SYM + n->sym, 1,
		                     (int[]){*ret_key});
	default:
		return -EINVAL;
	}
}

int
trace_lower_var(struct lower *lw, struct tnode *n, int *ret)
{
	struct sym *s = &lw->p->syms[n->sym];
	int ptr, key, out = trace_ir_label(lw), none = trace_ir_label(lw);
	unsigned off;

	TRY(var_addr(lw, n, &ptr, &key));
	if (key < 0) {
		if (s->type == TY_STRING) {
			*ret = ptr;
			return 0;
		}
		E(.op = IR_LOAD, .d = ptr, .a = ptr, .imm = 0, .size = 8);
		*ret = ptr;
		return 0;
	}
	/* a map entry: missing reads as 0 or "" */
	E(.op = IR_JCCI, .a = ptr, .alu = BPF_JEQ, .imm = 0, .label = none);
	if (s->type == TY_STRING) {
		TRY(trace_ir_region(lw, s->size, &off));
		TRY(trace_ir_scr(lw, off, ret));
		TRY(trace_ir_copy(lw, *ret, 0, s->size, ptr, s->size));
		E(.op = IR_JMP, .label = out);
		E(.op = IR_LABEL, .label = none);
		TRY(trace_ir_copy(lw, *ret, 0, s->size, -1, 0));
	} else {
		TRY(trace_ir_vreg(lw, ret));
		E(.op = IR_LOAD, .d = *ret, .a = ptr, .imm = 0, .size = 8);
		E(.op = IR_JMP, .label = out);
		E(.op = IR_LABEL, .label = none);
		E(.op = IR_IMM, .d = *ret, .imm = 0);
	}
	E(.op = IR_LABEL, .label = out);
	return 0;
}

int
trace_store_var(struct lower *lw, struct tnode *target, int value, unsigned vsize)
{
	struct sym *s = &lw->p->syms[target->sym];
	int ptr, key, mark = lw->ip->vreg_next;

	if (s->kind == SYM_GLOBAL || s->kind == SYM_THIS) {
		TRY(var_addr(lw, target, &ptr, &key));
		if (s->type == TY_STRING)
			TRY(trace_ir_copy(lw, ptr, 0, s->size, value, vsize));
		else
			E(.op = IR_STORE, .a = ptr, .b = value, .imm = 0, .size = 8);
	} else {
		int flags, val, del = trace_ir_label(lw), done = trace_ir_label(lw);
		unsigned off;

		if (s->kind == SYM_ASSOC)
			TRY(lower_key(lw, s, target->args, &key));
		else
			TRY(self_key(lw, &key));
		TRY(trace_ir_region(lw, s->size, &off));
		TRY(trace_ir_scr(lw, off, &val));
		if (s->type == TY_STRING) {
			TRY(trace_ir_copy(lw, val, 0, s->size, value, vsize));
		} else {
			/* D frees a dynamic variable assigned zero */
			E(.op = IR_JCCI, .a = value, .alu = BPF_JEQ, .imm = 0, .label = del);
			E(.op = IR_STORE, .a = val, .b = value, .imm = 0, .size = 8);
		}
		TRY(trace_ir_imm(lw, BPF_ANY, &flags));
		TRY(trace_ir_call(lw, -1, BPF_FUNC_map_update_elem, MAP_SYM + target->sym, 3,
		                  (int[]){key, val, flags}));
		E(.op = IR_JMP, .label = done);
		E(.op = IR_LABEL, .label = del);
		TRY(trace_ir_call(lw, -1, BPF_FUNC_map_delete_elem, MAP_SYM + target->sym, 1,
		                  (int[]){key}));
		E(.op = IR_LABEL, .label = done);
	}
	lw->ip->vreg_next = mark;
	return 0;
}

/* @a[keys] = func(args) */
int
trace_lower_agg(struct lower *lw, struct tnode *n)
{
	struct sym *s = &lw->p->syms[n->a->sym];
	struct tnode *arg = n->b->args;
	int key, ptr, val, flags, x = -1, t, have = trace_ir_label(lw), out = trace_ir_label(lw);
	int map = MAP_SYM + n->a->sym;
	unsigned off;

	TRY(lower_key(lw, s, n->a->args, &key));
	if (arg)
		TRY(trace_lower_expr(lw, arg, &x));
	TRY(trace_ir_vreg(lw, &ptr));
	TRY(trace_ir_call(lw, ptr, BPF_FUNC_map_lookup_elem, map, 1, (int[]){key}));
	E(.op = IR_JCCI, .a = ptr, .alu = BPF_JNE, .imm = 0, .label = have);
	TRY(trace_ir_region(lw, s->vallen, &off));
	TRY(trace_ir_scr(lw, off, &val));
	TRY(trace_ir_copy(lw, val, 0, s->vallen, -1, 0));
	TRY(trace_ir_imm(lw, BPF_NOEXIST, &flags));
	TRY(trace_ir_call(lw, -1, BPF_FUNC_map_update_elem, map, 3, (int[]){key, val, flags}));
	TRY(trace_ir_call(lw, ptr, BPF_FUNC_map_lookup_elem, map, 1, (int[]){key}));
	E(.op = IR_JCCI, .a = ptr, .alu = BPF_JEQ, .imm = 0, .label = out);
	E(.op = IR_LABEL, .label = have);
	TRY(trace_ir_vreg(lw, &t));
	switch (s->func) {
	case AGG_COUNT:
	case AGG_SUM:
	case AGG_AVG:
	case AGG_STDDEV:
		E(.op = IR_LOAD, .d = t, .a = ptr, .imm = 0, .size = 8);
		if (s->func == AGG_SUM) {
			E(.op = IR_ALU, .d = t, .a = t, .b = x, .alu = BPF_ADD);
		} else {
			E(.op = IR_ALUI, .d = t, .a = t, .alu = BPF_ADD, .imm = 1);
		}
		E(.op = IR_STORE, .a = ptr, .b = t, .imm = 0, .size = 8);
		if (s->func == AGG_AVG || s->func == AGG_STDDEV) {
			E(.op = IR_LOAD, .d = t, .a = ptr, .imm = 8, .size = 8);
			E(.op = IR_ALU, .d = t, .a = t, .b = x, .alu = BPF_ADD);
			E(.op = IR_STORE, .a = ptr, .b = t, .imm = 8, .size = 8);
		}
		if (s->func == AGG_STDDEV) {
			int sq;

			TRY(trace_ir_vreg(lw, &sq));
			E(.op = IR_ALU, .d = sq, .a = x, .b = x, .alu = BPF_MUL);
			E(.op = IR_LOAD, .d = t, .a = ptr, .imm = 16, .size = 8);
			E(.op = IR_ALU, .d = t, .a = t, .b = sq, .alu = BPF_ADD);
			E(.op = IR_STORE, .a = ptr, .b = t, .imm = 16, .size = 8);
		}
		break;
	case AGG_MIN:
	case AGG_MAX: {
		int set = trace_ir_label(lw), skip = trace_ir_label(lw);

		E(.op = IR_LOAD, .d = t, .a = ptr, .imm = 0, .size = 8);
		E(.op = IR_JCCI, .a = t, .alu = BPF_JEQ, .imm = 0, .label = set);
		E(.op = IR_LOAD, .d = t, .a = ptr, .imm = 8, .size = 8);
		E(.op = IR_JCC, .a = x, .b = t, .alu = s->func == AGG_MIN ? BPF_JSGE : BPF_JSLE,
		  .label = skip);
		E(.op = IR_LABEL, .label = set);
		E(.op = IR_STORE, .a = ptr, .b = x, .imm = 8, .size = 8);
		E(.op = IR_LABEL, .label = skip);
		E(.op = IR_LOAD, .d = t, .a = ptr, .imm = 0, .size = 8);
		E(.op = IR_ALUI, .d = t, .a = t, .alu = BPF_ADD, .imm = 1);
		E(.op = IR_STORE, .a = ptr, .b = t, .imm = 0, .size = 8);
		break;
	}
	case AGG_QUANTIZE: {
		int idx, l, v, pos = trace_ir_label(lw), neg = trace_ir_label(lw),
		               have_idx = trace_ir_label(lw);

		TRY(trace_ir_vreg(lw, &idx));
		TRY(trace_ir_vreg(lw, &l));
		TRY(trace_ir_vreg(lw, &v));
		E(.op = IR_IMM, .d = idx, .imm = QUANT_ZERO);
		E(.op = IR_JCCI, .a = x, .alu = BPF_JEQ, .imm = 0, .label = have_idx);
		E(.op = IR_MOV, .d = v, .a = x);
		E(.op = IR_JCCI, .a = x, .alu = BPF_JSGT, .imm = 0, .label = pos);
		E(.op = IR_NEG, .d = v, .a = v);
		E(.op = IR_LABEL, .label = pos);
		E(.op = IR_IMM, .d = l, .imm = 0);
		for (int sh = 32; sh >= 1; sh /= 2) {
			int skip = trace_ir_label(lw);

			E(.op = IR_ALUI, .d = t, .a = v, .alu = BPF_RSH, .imm = sh);
			E(.op = IR_JCCI, .a = t, .alu = BPF_JEQ, .imm = 0, .label = skip);
			E(.op = IR_MOV, .d = v, .a = t);
			E(.op = IR_ALUI, .d = l, .a = l, .alu = BPF_ADD, .imm = sh);
			E(.op = IR_LABEL, .label = skip);
		}
		E(.op = IR_JCCI, .a = x, .alu = BPF_JSLT, .imm = 0, .label = neg);
		E(.op = IR_ALUI, .d = idx, .a = l, .alu = BPF_ADD, .imm = QUANT_ZERO + 1);
		E(.op = IR_JMP, .label = have_idx);
		E(.op = IR_LABEL, .label = neg);
		E(.op = IR_IMM, .d = idx, .imm = QUANT_ZERO - 1);
		E(.op = IR_ALU, .d = idx, .a = idx, .b = l, .alu = BPF_SUB);
		E(.op = IR_LABEL, .label = have_idx);
		E(.op = IR_JCCI, .a = idx, .alu = BPF_JGT, .imm = QUANT_BUCKETS - 1, .label = out);
		E(.op = IR_ALUI, .d = idx, .a = idx, .alu = BPF_LSH, .imm = 3);
		E(.op = IR_ALU, .d = ptr, .a = ptr, .b = idx, .alu = BPF_ADD);
		E(.op = IR_LOAD, .d = t, .a = ptr, .imm = 0, .size = 8);
		E(.op = IR_ALUI, .d = t, .a = t, .alu = BPF_ADD, .imm = 1);
		E(.op = IR_STORE, .a = ptr, .b = t, .imm = 0, .size = 8);
		break;
	}
	case AGG_LQUANTIZE: {
		int levels = (int)((s->lq_limit - s->lq_base) / s->lq_step);
		int idx, bound, have_idx = trace_ir_label(lw);

		TRY(trace_ir_vreg(lw, &idx));
		TRY(trace_ir_vreg(lw, &bound));
		E(.op = IR_IMM, .d = idx, .imm = 0);
		E(.op = IR_IMM, .d = bound, .imm = s->lq_base);
		E(.op = IR_JCC, .a = x, .b = bound, .alu = BPF_JSLT, .label = have_idx);
		E(.op = IR_IMM, .d = idx, .imm = levels + 1);
		E(.op = IR_IMM, .d = bound, .imm = s->lq_limit);
		E(.op = IR_JCC, .a = x, .b = bound, .alu = BPF_JSGE, .label = have_idx);
		E(.op = IR_IMM, .d = bound, .imm = s->lq_base);
		E(.op = IR_ALU, .d = idx, .a = x, .b = bound, .alu = BPF_SUB);
		E(.op = IR_IMM, .d = bound, .imm = s->lq_step);
		E(.op = IR_ALU, .d = idx, .a = idx, .b = bound, .alu = BPF_DIV);
		E(.op = IR_ALUI, .d = idx, .a = idx, .alu = BPF_ADD, .imm = 1);
		E(.op = IR_LABEL, .label = have_idx);
		E(.op = IR_JCCI, .a = idx, .alu = BPF_JGT, .imm = levels + 1, .label = out);
		E(.op = IR_ALUI, .d = idx, .a = idx, .alu = BPF_LSH, .imm = 3);
		E(.op = IR_ALU, .d = ptr, .a = ptr, .b = idx, .alu = BPF_ADD);
		E(.op = IR_LOAD, .d = t, .a = ptr, .imm = 0, .size = 8);
		E(.op = IR_ALUI, .d = t, .a = t, .alu = BPF_ADD, .imm = 1);
		E(.op = IR_STORE, .a = ptr, .b = t, .imm = 0, .size = 8);
		break;
	}
	default:
		break;
	}
	E(.op = IR_LABEL, .label = out);
	return 0;
}
