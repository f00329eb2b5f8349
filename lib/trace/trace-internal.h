/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The compiler's shared data: tokens, the AST, symbols, the IR and the
 * program being built. Each pass owns one file and one step:
 *
 *   trace-lex.c      text -> tokens (pulled by the parser)
 *   trace-parse.c    tokens -> AST (struct tnode), and the AST dump
 *   trace-resolve.c  probe descriptions -> probes; names -> built-ins,
 *                    variables, aggregations, functions
 *   trace-check.c    types: every node gets int or string (with a size)
 *   trace-ir*.c      AST -> IR (virtual registers, labels), and its dump;
 *                    trace-ir.h is what its pieces share
 *   trace-bpf.c      IR -> struct bpf_insn (registers, jumps), and its dump
 *   trace-load.c     maps, programs, the providers' attach (ops tables)
 *   trace-run.c      the consumer: ring buffer, aggregations, output
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/bpf.h>

#include "basic/error.h"
#include "trace/trace.h"

#define TRACE_SOURCE_MAX  (1024 * 1024)
#define TRACE_CLAUSES_MAX 256
#define TRACE_VREGS_MAX   56 /* stack slots for virtual registers */
#define TRACE_INSNS_MAX   100000
#define TRACE_SCRATCH_MAX 30000 /* bytes of per-CPU scratch per program */
#define TRACE_KEYS_MAX    8
#define QUANT_BUCKETS     127
#define QUANT_ZERO        63

/* --- tokens --- */
enum tok {
	TK_EOF,
	TK_INT,
	TK_STR,
	TK_IDENT,
	TK_MACRO,  /* $1, $target */
	TK_AGG,    /* @name, or @ alone */
	TK_PROBES, /* a raw probe description */
	TK_PUNCT,  /* text holds the operator */
	TK_ERROR,
};

struct token {
	enum tok kind;
	int line, col;
	char text[8]; /* punctuation */
	char *str;    /* identifiers, strings, probe descriptions (owned by the lexer's list) */
	int64_t num;
};

struct lexer {
	const char *src, *p;
	int line, col;
	struct token tok; /* the current token */
	char *strs[4096]; /* every string handed out, freed with the lexer */
	size_t n_strs;
	struct hv_error **reterr;
	const char *origin;
	int err;
};

void lexer_init(struct lexer *lx, const char *src, const char *origin, struct hv_error **reterr);
void lexer_done(struct lexer *lx);
int lexer_next(struct lexer *lx);        /* a D token */
int lexer_next_probes(struct lexer *lx); /* a probe description (clause start) */
bool lexer_is(const struct lexer *lx, const char *punct);
const char *token_describe(const struct token *t, char *buf, size_t size);

/* --- the AST --- */
enum nkind {
	N_INT,
	N_STR,
	N_IDENT,   /* built-in or global variable; assoc array when it has args */
	N_MACRO,   /* $1 */
	N_SELF,    /* self->name */
	N_THIS,    /* this->name */
	N_AGG,     /* @name[keys] */
	N_CALL,    /* name(args) */
	N_ARGS,    /* args[N] */
	N_BINARY,  /* op in text */
	N_UNARY,   /* op: - ! ~ */
	N_TERNARY, /* a ? b : c */
	N_ASSIGN,  /* a op= b (op "=" "+=" ...) */
	N_INCDEC,  /* ++/-- on a variable (pre or post, value unused in statements) */
	S_EXPR,
	S_IF,
	S_BLOCK,
	S_AGG, /* @a[k] = func(args) */
	CLAUSE,
};

enum ttype { TY_NONE, TY_INT, TY_STRING, TY_VOID };

struct tnode {
	enum nkind kind;
	int line, col;
	char op[4];
	char *name; /* identifier, string literal, function name */
	int64_t num;
	struct tnode *a, *b, *c; /* operands; S_IF: cond, then, else */
	struct tnode *args;      /* keys or call arguments, linked by next */
	struct tnode *next;
	/* resolve */
	int sym;      /* index into the symbol table, the built-in, or the function */
	int agg_func; /* S_AGG: enum aggfunc */
	/* check */
	enum ttype type;
	unsigned size;  /* strings: bytes incl. the NUL; ints: 1, 2, 4 or 8 (printing) */
	bool is_signed; /* ints */
	int pstr;       /* probeprov...probename: an int (the probe ID) printed as that name */
	/* clauses */
	char **probes; /* descriptions as written */
	size_t n_probes;
	struct tnode *pred;
	int index;
};

struct tnode *tnode_new(enum nkind kind, int line, int col);
void tnode_free(struct tnode *n);

/* --- symbols and built-ins --- */
enum sym_kind { SYM_GLOBAL, SYM_ASSOC, SYM_SELF, SYM_THIS, SYM_AGG };

enum aggfunc {
	AGG_COUNT,
	AGG_SUM,
	AGG_AVG,
	AGG_MIN,
	AGG_MAX,
	AGG_STDDEV,
	AGG_QUANTIZE,
	AGG_LQUANTIZE,
	_AGG_MAX,
};

struct sym {
	enum sym_kind kind;
	char *name;
	enum ttype type;
	unsigned size; /* value size: 8 for ints, string size */
	bool typed;
	int line, col;
	/* assoc arrays and aggregations: the key */
	int n_keys;
	enum ttype key_type[TRACE_KEYS_MAX];
	unsigned key_size[TRACE_KEYS_MAX];
	unsigned key_print[TRACE_KEYS_MAX]; /* printing width class: 4 or 8 for ints */
	bool key_signed[TRACE_KEYS_MAX];
	int key_pstr[TRACE_KEYS_MAX];
	unsigned keylen; /* bytes */
	/* aggregations */
	int func;
	int64_t lq_base, lq_limit, lq_step; /* lquantize */
	unsigned vallen;
	/* storage */
	unsigned offset; /* globals: in the globals value; this: slot */
	int map_fd;
	bool printed;      /* by printa, so not at the end */
	int64_t normalize; /* 1 unless normalize() */
	int64_t trunc;     /* -1 unless trunc() left entries */
};

enum builtin {
	BI_EXECNAME,
	BI_PID,
	BI_TID,
	BI_PPID,
	BI_UID,
	BI_GID,
	BI_CPU,
	BI_TIMESTAMP,
	BI_VTIMESTAMP,
	BI_WALLTIMESTAMP,
	BI_ZONENAME,
	BI_PROBEPROV,
	BI_PROBEMOD,
	BI_PROBEFUNC,
	BI_PROBENAME,
	BI_ARG0, /* ... BI_ARG0 + 9 */
	BI_ERRNO = BI_ARG0 + 10,
	BI_CGROUP,
	_BI_MAX,
};

enum func {
	FN_PRINTF,
	FN_TRACE,
	FN_EXIT,
	FN_PRINTA,
	FN_CLEAR,
	FN_TRUNC,
	FN_NORMALIZE,
	FN_COPYINSTR,
	FN_STRINGOF,
	FN_STRLEN,
	FN_STRJOIN,
	FN_STACK,
	FN_USTACK,
	_FN_MAX,
};

/* --- probes and providers --- */
struct probe {
	const struct provider *prov;
	char mod[64], func[64], name[64];
	uint32_t id;
	int64_t arg;        /* syscall number, tick/profile period (ns), pid for pid probes */
	char *path;         /* pid probes: the ELF file (owned by the provider's cache) */
	uint64_t off;       /* pid probes: the function's file offset */
	char prov_name[24]; /* pid probes: "pid1234" */
};

/* Values printed as something else than their integer (node->pstr, action->arg_pstr). */
enum {
	PSTR_KSTACK = _BI_MAX + 1, /* a stack map id */
	PSTR_USTACK,               /* pid << 32 | a stack map id */
};

/* DTrace's fault codes, arg4 of dtrace:::ERROR */
enum { FLT_BADADDR = 1, FLT_DIVZERO = 4 };

enum attach_point {
	AP_BEGIN,
	AP_END,
	AP_ERROR, /* run by the consumer when a probe faults (divide-by-zero, bad address) */
	AP_SYS_ENTER,
	AP_SYS_EXIT,
	AP_TICK,    /* one CPU, one perf clock event per probe */
	AP_PROFILE, /* every CPU */
	AP_SCHED_EXEC,
	AP_SCHED_EXIT,
	AP_SCHED_FORK,
	AP_SCHED_SWITCH, /* sched:::off-cpu, then sched:::on-cpu */
	AP_SIGNAL,       /* proc:::signal-send */
	AP_IO_START,     /* block_rq_issue */
	AP_IO_DONE,      /* block_rq_complete */
	AP_UPROBE,       /* pid$target: one perf uprobe event per probe, told apart by the cookie */
	_AP_MAX,
};

struct provider {
	const char *name;
	/* every probe the provider has, in ID order; returns how many were listed */
	int (*list)(const struct provider *p, int (*fn)(const struct probe *, void *), void *ud);
	/* a probe named by a description that lists cannot enumerate (tick-5s) */
	int (*make)(const struct provider *p, const char *func, const char *name,
	            struct probe *ret);
	enum attach_point (*point)(const struct probe *pr);
	const char *(*arg_desc)(const struct probe *pr, int arg);
	/* the provider's probes for a description's own provider name (pid1234), or NULL */
	int (*list_for)(const struct provider *p, const char *prov, const char *mod,
	                int (*fn)(const struct probe *, void *), void *ud);
};

extern const struct provider *const providers[];
const char *syscall_name(int nr);
int syscall_count(void);

/* --- the IR --- */
enum irop {
	IR_LABEL,
	IR_IMM,   /* d = imm */
	IR_MOV,   /* d = a */
	IR_ALU,   /* d = a op b (op: BPF_ADD ...) */
	IR_ALUI,  /* d = a op imm */
	IR_NEG,   /* d = -a */
	IR_JMP,   /* goto label */
	IR_JCC,   /* if a cc b goto label (cc: BPF_JEQ ...) */
	IR_JCCI,  /* if a cc imm goto label */
	IR_CTX,   /* d = *(u64 *)(ctx + imm) */
	IR_SCR,   /* d = scratch + imm */
	IR_GLB,   /* d = globals + imm */
	IR_LOAD,  /* d = *(size *)(a + imm) */
	IR_STORE, /* *(size *)(a + imm) = b */
	IR_STI,   /* *(size *)(a + imm) = imm2 */
	IR_CALL,  /* d = helper(imm)(args[0..n]) */
	IR_RET,   /* return 0 */
};

struct irinsn {
	enum irop op;
	int d, a, b;
	int alu;  /* BPF_ADD..., BPF_JEQ... */
	int size; /* 1, 2, 4, 8 */
	int64_t imm, imm2;
	int label;
	int args[5], n_args;
	int line; /* the D line it came from (0: prologue) */
};

struct irprog {
	enum attach_point point;
	struct irinsn *v;
	size_t n, cap;
	int n_labels;
	int vreg_next, vreg_max;
	unsigned scratch_next; /* bytes of scratch used */
	struct bpf_insn *insns;
	size_t n_insns;
	int *insn_line; /* the D line of each BPF instruction */
	int prog_fd;
	bool used;
};

/* --- actions the consumer carries out --- */
enum action_kind {
	ACT_PRINTF,
	ACT_TRACE,
	ACT_EXIT,
	ACT_PRINTA,
	ACT_CLEAR,
	ACT_TRUNC,
	ACT_NORMALIZE,
	ACT_ERROR, /* a fault: dtrace:::ERROR's clauses run, or DTrace's message */
};

struct action {
	enum action_kind kind;
	int clause;
	char *fmt; /* printf, printa */
	int n_args;
	enum ttype arg_type[32];
	unsigned arg_size[32];
	bool arg_signed[32];
	int arg_pstr[32];
	int agg;               /* printa, clear, trunc, normalize: the symbol */
	unsigned size;         /* the record's size */
	int fault, line, stmt; /* ACT_ERROR: FLT_*, the D line, the action (0: predicate) */
	int64_t num;           /* trunc()'s and normalize()'s constant */
	bool first, last;      /* the clause's first and last recording action */
};

/* the record header every event starts with */
struct trace_rec {
	uint32_t action;
	uint32_t cpu;
	int64_t probe_arg; /* the syscall number for syscall probes */
};

struct hv_trace_program {
	struct hv_trace_options opts;
	char *source, *origin;
	struct tnode *clauses; /* linked by next */
	int n_clauses;
	/* per clause: the probes it enables */
	struct probe *cprobes[TRACE_CLAUSES_MAX];
	size_t n_cprobes[TRACE_CLAUSES_MAX];
	size_t n_matched;
	struct sym *syms;
	size_t n_syms;
	struct action *actions;
	size_t n_actions;
	struct irprog progs[_AP_MAX];
	/* load */
	int rb_fd, scratch_fd, globals_fd, zones_fd, stacks_fd;
	bool uses_stacks;
	struct kofs {
		int task_real_parent, task_tgid, task_pid, task_comm, task_se;
		int se_sum_exec_runtime, rq_data_len;
		bool known;
	} kofs;
	struct trace_syms *syms_cache; /* symbolization (trace-sym.c) */
	FILE *errf;                    /* faults without an ERROR clause (stderr) */
	unsigned globals_size;
	int *fds; /* links, perf events: every fd that holds a probe */
	size_t n_fds;
	bool loaded;
	int exit_status;
	bool done;
	FILE *out;
	bool header_done;
	bool rec_open; /* a probe's line is being printed */
	int open_clause;
	int ncpus;
	char *verifier_log;
};

/* Passes. */
int trace_parse(struct hv_trace_program *p, struct hv_error **reterr);
int trace_resolve(struct hv_trace_program *p, struct hv_error **reterr);
int trace_check(struct hv_trace_program *p, struct hv_error **reterr);
int trace_lower(struct hv_trace_program *p, struct hv_error **reterr);
int trace_emit(struct hv_trace_program *p, struct hv_error **reterr);

void trace_dump_ast(const struct hv_trace_program *p, FILE *f);
void trace_dump_ir(const struct hv_trace_program *p, FILE *f);
void trace_dump_bpf(const struct hv_trace_program *p, FILE *f);

/* A source-located error: "origin:line:col: message near 'text'". */
int trace_error(const struct hv_trace_program *p, struct hv_error **reterr, int line, int col,
                const char *fmt, ...) _printf_(5, 6);
/* The text of the source at line:col up to the end of the token-ish run. */
void trace_source_excerpt(const char *src, int line, int col, char *buf, size_t size);

int probe_match(const char *pattern, const char *s);
const char *probe_provider_name(const struct probe *pr);
uint32_t sched_probe_id(bool on);
int trace_kofs(struct hv_trace_program *p, int line, struct hv_error **reterr);

/* Symbols (trace-sym.c): kernel addresses from /proc/kallsyms, user ones from ELF files. */
struct trace_syms;
struct trace_syms *trace_syms_free(struct trace_syms *s);
void trace_syms_note_pid(struct hv_trace_program *p, uint32_t pid);
void trace_print_stack(struct hv_trace_program *p, FILE *f, int kind, int64_t v, int depth);
/* Every defined function in an ELF file: fn(name, file offset, ud). */
int trace_elf_functions(const char *path, int (*fn)(const char *, uint64_t, void *), void *ud);
int probes_for(const char *desc, struct probe **ret, size_t *ret_n, struct hv_error **reterr);
const char *builtin_name(int b);
int builtin_lookup(const char *name);
int func_lookup(const char *name);
const char *func_name(int f);
const char *aggfunc_name(int f);
int aggfunc_lookup(const char *name);
const char *attach_point_name(enum attach_point ap);

/* Output formatting shared by the consumer and the unit tests. */
int trace_format_printf(FILE *f, const char *fmt, const struct action *a, const uint8_t *data,
                        size_t size);
void trace_print_quantize(FILE *f, const int64_t *buckets);
void trace_print_lquantize(FILE *f, const int64_t *buckets, int64_t base, int64_t limit,
                           int64_t step);
