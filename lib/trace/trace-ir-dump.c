/* SPDX-License-Identifier: MIT */
/*
 * The IR dump (dtrace --dump=ir): per program, a line an instruction.
 * The names of conditions and maps serve the BPF dump (trace-bpf.c) too.
 */
#include <inttypes.h>

#include "trace-ir.h"

static const char *
alu_name(int alu)
{
	switch (alu) {
	case BPF_ADD:
		return "+";
	case BPF_SUB:
		return "-";
	case BPF_MUL:
		return "*";
	case BPF_DIV:
		return "/";
	case BPF_MOD:
		return "%";
	case BPF_AND:
		return "&";
	case BPF_OR:
		return "|";
	case BPF_XOR:
		return "^";
	case BPF_LSH:
		return "<<";
	case BPF_RSH:
		return ">>";
	case BPF_ARSH:
		return "s>>";
	default:
		return "?";
	}
}

const char *trace_jcc_name(int jcc);
const char *
trace_jcc_name(int jcc)
{
	switch (jcc) {
	case BPF_JEQ:
		return "==";
	case BPF_JNE:
		return "!=";
	case BPF_JGT:
		return ">";
	case BPF_JGE:
		return ">=";
	case BPF_JLT:
		return "<";
	case BPF_JLE:
		return "<=";
	case BPF_JSGT:
		return "s>";
	case BPF_JSGE:
		return "s>=";
	case BPF_JSLT:
		return "s<";
	case BPF_JSLE:
		return "s<=";
	default:
		return "?";
	}
}

const char *trace_map_name(const struct hv_trace_program *p, int code, char *buf, size_t size);
const char *
trace_map_name(const struct hv_trace_program *p, int code, char *buf, size_t size)
{
	static const char *const names[] = {[MAP_RB] = "events",
	                                    [MAP_SCRATCH] = "scratch",
	                                    [MAP_GLOBALS] = "globals",
	                                    [MAP_ZONES] = "zones",
	                                    [MAP_STACKS] = "stacks"};
	if (code >= MAP_SYM) {
		const struct sym *s = &p->syms[code - MAP_SYM];
		snprintf(buf, size, "%s%s%s",
		         s->kind == SYM_AGG    ? "@"
		         : s->kind == SYM_SELF ? "self->"
		                               : "",
		         s->name, s->kind == SYM_ASSOC ? "[]" : "");
	} else if (code > 0 && code <= MAP_STACKS) {
		snprintf(buf, size, "%s", names[code]);
	} else {
		snprintf(buf, size, "?");
	}
	return buf;
}

void
trace_dump_ir(const struct hv_trace_program *p, FILE *f)
{
	for (int ap = 0; ap < _AP_MAX; ap++) {
		const struct irprog *ip = &p->progs[ap];

		if (!ip->used)
			continue;
		fprintf(f, "program %s (%d vregs, %u bytes of scratch)\n", attach_point_name(ap),
		        ip->vreg_max, ip->scratch_next);
		for (size_t i = 0; i < ip->n; i++) {
			const struct irinsn *in = &ip->v[i];
			char m[80];

			if (in->op == IR_LABEL) {
				fprintf(f, "L%d:\n", in->label);
				continue;
			}
			fprintf(f, "\t");
			switch (in->op) {
			case IR_IMM:
				fprintf(f, "v%d = %" PRId64, in->d, in->imm);
				break;
			case IR_MOV:
				fprintf(f, "v%d = v%d", in->d, in->a);
				break;
			case IR_ALU:
				fprintf(f, "v%d = v%d %s v%d", in->d, in->a, alu_name(in->alu),
				        in->b);
				break;
			case IR_ALUI:
				fprintf(f, "v%d = v%d %s %" PRId64, in->d, in->a, alu_name(in->alu),
				        in->imm);
				break;
			case IR_NEG:
				fprintf(f, "v%d = -v%d", in->d, in->a);
				break;
			case IR_JMP:
				fprintf(f, "goto L%d", in->label);
				break;
			case IR_JCC:
				fprintf(f, "if v%d %s v%d goto L%d", in->a, trace_jcc_name(in->alu),
				        in->b, in->label);
				break;
			case IR_JCCI:
				fprintf(f, "if v%d %s %" PRId64 " goto L%d", in->a,
				        trace_jcc_name(in->alu), in->imm, in->label);
				break;
			case IR_CTX:
				fprintf(f, "v%d = ctx[%" PRId64 "]", in->d, in->imm);
				break;
			case IR_SCR:
				fprintf(f, "v%d = &scratch[%" PRId64 "]", in->d, in->imm);
				break;
			case IR_GLB:
				fprintf(f, "v%d = &globals[%" PRId64 "]", in->d, in->imm);
				break;
			case IR_LOAD:
				fprintf(f, "v%d = *(u%d *)(v%d + %" PRId64 ")", in->d, in->size * 8,
				        in->a, in->imm);
				break;
			case IR_STORE:
				fprintf(f, "*(u%d *)(v%d + %" PRId64 ") = v%d", in->size * 8, in->a,
				        in->imm, in->b);
				break;
			case IR_STI:
				fprintf(f, "*(u%d *)(v%d + %" PRId64 ") = %" PRId64, in->size * 8,
				        in->a, in->imm, in->imm2);
				break;
			case IR_CALL: {
				bool map_arg = false;

				if (in->d >= 0)
					fprintf(f, "v%d = ", in->d);
				fprintf(f, "call %" PRId64 "(", in->imm);
				for (int a = 0; a < in->n_args; a++)
					map_arg |= in->args[a] == -3;
				if (in->label && !map_arg)
					fprintf(f, "map %s%s",
					        trace_map_name(p, in->label, m, sizeof(m)),
					        in->n_args ? ", " : "");
				for (int a = 0; a < in->n_args; a++)
					if (in->args[a] == -2)
						fprintf(f, "%sctx", a ? ", " : "");
					else if (in->args[a] == -3)
						fprintf(f, "%smap %s", a ? ", " : "",
						        trace_map_name(p, in->label, m, sizeof(m)));
					else
						fprintf(f, "%sv%d", a ? ", " : "", in->args[a]);
				fprintf(f, ")");
				break;
			}
			case IR_RET:
				fprintf(f, "return 0");
				break;
			default:
				break;
			}
			fprintf(f, "\n");
		}
	}
}
