/* SPDX-License-Identifier: MIT */
/*
 * The consumer: BEGIN, then the ring buffer until exit() or a stop, then
 * the probes detached, END, and the aggregations. Records are printed as
 * DTrace prints them: without -q a "CPU ID FUNCTION:NAME" heading and one
 * line per clause that fired; aggregations merged over CPUs, sorted by
 * value, keys and values in DTrace's widths, quantize as its ASCII
 * histogram.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "trace-internal.h"

/* printf and printa formats are D programs' own, checked by trace-check.c */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

int trace_attach_all(struct hv_trace_program *p, struct hv_error **reterr);
void trace_detach_all(struct hv_trace_program *p);
int trace_fire(struct hv_trace_program *p, enum attach_point ap, const uint64_t *args, size_t n);

static const struct probe *
probe_by_id(const struct hv_trace_program *p, int64_t id)
{
	for (int c = 0; c < p->n_clauses; c++)
		for (size_t i = 0; i < p->n_cprobes[c]; i++)
			if (p->cprobes[c][i].id == (uint64_t)id)
				return &p->cprobes[c][i];
	return NULL;
}

static const char *
pstr_value(const struct hv_trace_program *p, int kind, int64_t id)
{
	const struct probe *pr = probe_by_id(p, id);

	if (!pr)
		return "";
	switch (kind) {
	case BI_PROBEPROV:
		return probe_provider_name(pr);
	case BI_PROBEMOD:
		return pr->mod;
	case BI_PROBEFUNC:
		return pr->func;
	case BI_PROBENAME:
		return pr->name;
	default:
		return "";
	}
}

/* printf with D's conversions over a record's arguments */
static int
format_one(FILE *f, const char *spec, size_t speclen, char conv, const struct hv_trace_program *p,
           const struct action *a, int i, const uint8_t *data)
{
	char fmt[64];
	int64_t v = 0;

	if (speclen > 40)
		speclen = 40;
	if (a->arg_type[i] == TY_INT)
		memcpy(&v, data, 8);
	if (conv == 's') {
		const char *s = a->arg_type[i] == TY_STRING ? (const char *)data
		                                            : pstr_value(p, a->arg_pstr[i], v);
		char buf[4096];

		if (a->arg_type[i] == TY_STRING) {
			snprintf(buf, sizeof(buf), "%.*s", (int)a->arg_size[i], s);
			s = buf;
		}
		snprintf(fmt, sizeof(fmt), "%%%.*ss", (int)speclen, spec);
		return fprintf(f, fmt, s);
	}
	if (conv == 'c') {
		snprintf(fmt, sizeof(fmt), "%%%.*sc", (int)speclen, spec);
		return fprintf(f, fmt, (int)(unsigned char)v);
	}
	if (conv == 'p') {
		snprintf(fmt, sizeof(fmt), "%%%.*sllx", (int)speclen, spec);
		return fprintf(f, "0x"), fprintf(f, fmt, (unsigned long long)v);
	}
	if (!a->arg_signed[i] && a->arg_size[i] == 4)
		v = (int64_t)(uint32_t)v;
	snprintf(fmt, sizeof(fmt), "%%%.*sll%c", (int)speclen, spec, conv == 'i' ? 'd' : conv);
	if (conv == 'd' || conv == 'i')
		return fprintf(f, fmt, (long long)v);
	return fprintf(f, fmt, (unsigned long long)v);
}

static int
format_printf(FILE *f, const struct hv_trace_program *p, const char *fmt, const struct action *a,
              const uint8_t *data)
{
	int i = 0;

	for (const char *s = fmt; *s; s++) {
		const char *spec;
		size_t len;

		if (*s != '%') {
			fputc(*s, f);
			continue;
		}
		if (s[1] == '%') {
			fputc('%', f);
			s++;
			continue;
		}
		spec = s + 1;
		len = strspn(spec, "-+ #0123456789.");
		s = spec + len;
		s += strspn(s, "hlLqjzt");
		if (!*s)
			break;
		if (i < a->n_args) {
			format_one(f, spec, len, *s, p, a, i, data);
			data += a->arg_type[i] == TY_STRING ? a->arg_size[i] : 8;
			i++;
		}
	}
	return 0;
}

/* --- aggregations --- */

struct aggent {
	uint8_t *key;
	int64_t *val; /* merged */
	int64_t sortv;
};

static void
merge(const struct sym *s, int64_t *out, const uint8_t *percpu, int ncpus)
{
	size_t stride = (s->vallen + 7) & ~7u, n = s->vallen / 8;

	memset(out, 0, s->vallen);
	for (int c = 0; c < ncpus; c++) {
		const int64_t *v = (const int64_t *)(percpu + c * stride);

		switch (s->func) {
		case AGG_MIN:
		case AGG_MAX:
			if (v[0] == 0)
				break;
			if (out[0] == 0 || (s->func == AGG_MIN ? v[1] < out[1] : v[1] > out[1]))
				out[1] = v[1];
			out[0] += v[0];
			break;
		default:
			for (size_t i = 0; i < n; i++)
				out[i] += v[i];
		}
	}
}

static int64_t
quant_value(int i)
{
	if (i < QUANT_ZERO)
		return -(1LL << (QUANT_ZERO - 1 - i));
	if (i == QUANT_ZERO)
		return 0;
	return 1LL << (i - QUANT_ZERO - 1);
}

static int64_t
sort_value(const struct sym *s, const int64_t *v)
{
	int64_t t = 0;

	switch (s->func) {
	case AGG_AVG:
		return v[0] ? v[1] / v[0] : 0;
	case AGG_MIN:
	case AGG_MAX:
		return v[1];
	case AGG_QUANTIZE:
		for (int i = 0; i < QUANT_BUCKETS; i++)
			t += v[i] * quant_value(i);
		return t;
	case AGG_LQUANTIZE:
		for (unsigned i = 0; i < s->vallen / 8; i++)
			t += v[i] * (s->lq_base + ((int64_t)i - 1) * s->lq_step);
		return t;
	default:
		return v[0];
	}
}

static const struct sym *sort_sym;

static int
entcmp(const void *x, const void *y)
{
	const struct aggent *a = x, *b = y;

	if (a->sortv != b->sortv)
		return a->sortv < b->sortv ? -1 : 1;
	return memcmp(a->key, b->key, MAX(sort_sym->keylen, 8u));
}

static void
quant_line(FILE *f, int64_t val, int64_t normal, long double total, bool positives, bool negatives)
{
	static const char ats[] = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@";
	static const char spaces[] = "                                        ";
	unsigned len = 40, depth;
	long double fv = val < 0 ? -(long double)val : (long double)val;

	if (!negatives) {
		depth = positives ? (unsigned)((fv * len) / total + 0.5) : 0;
		fprintf(f, "|%s%s %-9lld\n", ats + len - depth, spaces + depth,
		        (long long)(val / normal));
		return;
	}
	if (!positives) {
		depth = (unsigned)((fv * len) / total + 0.5);
		fprintf(f, "%s%s| %-9lld\n", spaces + depth, ats + len - depth,
		        (long long)(val / normal));
		return;
	}
	len /= 2;
	depth = (unsigned)((fv * len) / total + 0.5);
	if (val <= 0)
		fprintf(f, "%s%s|%*s %-9lld\n", spaces + 20 + depth, ats + 20 + len - depth,
		        (int)len, "", (long long)(val / normal));
	else
		fprintf(f, "%20s|%s%s %-9lld\n", "", ats + 20 + len - depth, spaces + 20 + depth,
		        (long long)(val / normal));
}

static void
print_histogram(FILE *f, const int64_t *data, int nbins, int64_t normal,
                void (*label)(FILE *, int, void *), void *ud, int first_default)
{
	int first = 0, last = nbins - 1;
	long double total = 0;
	bool pos = false, neg = false;

	while (first < nbins - 1 && data[first] == 0)
		first++;
	if (first == nbins - 1 && data[first] == 0) {
		first = first_default - 1 < 0 ? 0 : first_default - 1;
		last = first_default + 1;
	} else {
		if (first > 0)
			first--;
		while (last > 0 && data[last] == 0)
			last--;
		if (last < nbins - 1)
			last++;
	}
	for (int i = first; i <= last; i++) {
		pos |= data[i] > 0;
		neg |= data[i] < 0;
		total += data[i] < 0 ? -(long double)data[i] : (long double)data[i];
	}
	fprintf(f, "\n%16s %41s %-9s\n", "value", "------------- Distribution -------------",
	        "count");
	for (int i = first; i <= last; i++) {
		label(f, i, ud);
		quant_line(f, data[i], normal, total, pos, neg);
	}
}

static void
quant_label(FILE *f, int i, void *ud)
{
	fprintf(f, "%16lld ", (long long)quant_value(i));
}

struct lq {
	int64_t base, step;
	int levels;
};

static void
lquant_label(FILE *f, int i, void *ud)
{
	struct lq *q = ud;
	char c[48];

	if (i == 0) {
		snprintf(c, sizeof(c), "< %lld", (long long)q->base);
		fprintf(f, "%16s ", c);
	} else if (i == q->levels + 1) {
		snprintf(c, sizeof(c), ">= %lld", (long long)(q->base + q->levels * q->step));
		fprintf(f, "%16s ", c);
	} else {
		fprintf(f, "%16lld ", (long long)(q->base + (i - 1) * q->step));
	}
}

void
trace_print_quantize(FILE *f, const int64_t *buckets)
{
	print_histogram(f, buckets, QUANT_BUCKETS, 1, quant_label, NULL, QUANT_ZERO);
}

void
trace_print_lquantize(FILE *f, const int64_t *buckets, int64_t base, int64_t limit, int64_t step)
{
	struct lq q = {base, step, (int)((limit - base) / step)};

	print_histogram(f, buckets, q.levels + 2, 1, lquant_label, &q, 1);
}

static void
print_value(FILE *f, const struct sym *s, const int64_t *v)
{
	int64_t n = s->normalize > 0 ? s->normalize : 1;

	switch (s->func) {
	case AGG_AVG:
		fprintf(f, " %16lld", (long long)(v[0] ? v[1] / n / v[0] : 0));
		break;
	case AGG_STDDEV: {
		long double mean = v[0] ? (long double)v[1] / v[0] : 0;
		long double var = v[0] ? (long double)v[2] / v[0] - mean * mean : 0;
		long double sd = 0;

		/* Newton's square root keeps libm out */
		if (var > 0) {
			sd = var;
			for (int i = 0; i < 64; i++)
				sd = (sd + var / sd) / 2;
		}
		fprintf(f, " %16llu", (unsigned long long)(sd / n));
		break;
	}
	case AGG_MIN:
	case AGG_MAX:
		fprintf(f, " %16lld", (long long)(v[1] / n));
		break;
	case AGG_QUANTIZE:
		print_histogram(f, v, QUANT_BUCKETS, n, quant_label, NULL, QUANT_ZERO);
		break;
	case AGG_LQUANTIZE: {
		struct lq q = {s->lq_base, s->lq_step,
		               (int)((s->lq_limit - s->lq_base) / s->lq_step)};

		print_histogram(f, v, q.levels + 2, n, lquant_label, &q, 1);
		break;
	}
	default:
		fprintf(f, " %16lld", (long long)(v[0] / n));
	}
}

static void
print_keys(FILE *f, struct hv_trace_program *p, const struct sym *s, const uint8_t *key)
{
	for (int k = 0; k < s->n_keys; k++) {
		if (s->key_type[k] == TY_STRING) {
			fprintf(f, "  %-50.*s", (int)s->key_size[k], (const char *)key);
		} else {
			int64_t v;

			memcpy(&v, key, 8);
			if (s->key_pstr[k] == PSTR_KSTACK || s->key_pstr[k] == PSTR_USTACK)
				trace_print_stack(p, f, s->key_pstr[k], v, 0);
			else if (s->key_pstr[k])
				fprintf(f, "  %-50s", pstr_value(p, s->key_pstr[k], v));
			else if (s->key_print[k] == 4)
				fprintf(f, " %8d", (int)v);
			else
				fprintf(f, " %16lld", (long long)v);
		}
		key += s->key_size[k];
	}
}

/* printa's format: keys fill the conversions in order, %@ takes the value */
static void
print_formatted(FILE *f, const struct hv_trace_program *p, const struct sym *s, const char *fmt,
                const uint8_t *key, const int64_t *v)
{
	struct action a = {.n_args = s->n_keys};
	int k = 0;

	for (int i = 0; i < s->n_keys; i++) {
		a.arg_type[i] = s->key_type[i];
		a.arg_size[i] = s->key_size[i];
		a.arg_signed[i] = true;
		a.arg_pstr[i] = s->key_pstr[i];
	}
	for (const char *c = fmt; *c; c++) {
		const char *spec;
		size_t len;

		if (*c != '%') {
			fputc(*c, f);
			continue;
		}
		if (c[1] == '%') {
			fputc('%', f);
			c++;
			continue;
		}
		spec = c + 1;
		if (*spec == '@') {
			spec++;
			len = strspn(spec, "-+ #0123456789.");
			c = spec + len;
			c += strspn(c, "hlLqjzt");
			if (!*c)
				break;
			if (s->func == AGG_QUANTIZE || s->func == AGG_LQUANTIZE) {
				print_value(f, s, v);
			} else {
				struct action va = {.n_args = 1,
				                    .arg_type = {TY_INT},
				                    .arg_size = {8},
				                    .arg_signed = {true}};
				int64_t x =
				        sort_value(s, v) / (s->normalize > 0 ? s->normalize : 1);
				format_one(f, spec, len, *c, p, &va, 0, (const uint8_t *)&x);
			}
			continue;
		}
		len = strspn(spec, "-+ #0123456789.");
		c = spec + len;
		c += strspn(c, "hlLqjzt");
		if (!*c)
			break;
		if (k < s->n_keys) {
			format_one(f, spec, len, *c, p, &a, k, key);
			key += s->key_size[k];
			k++;
		}
	}
}

static void
ents_free(struct aggent *ents, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ents[i].key);
		free(ents[i].val);
	}
	free(ents);
}

/* Every entry of an aggregation, merged over the CPUs, sorted by value then key. */
static int
agg_entries(struct hv_trace_program *p, struct sym *s, struct aggent **ret, size_t *ret_n)
{
	size_t klen = MAX(s->keylen, 8u), stride = (s->vallen + 7) & ~7u, n = 0, cap = 0;
	_cleanup_free_ uint8_t *percpu = malloc(stride * p->ncpus), *prev = NULL;
	_cleanup_free_ uint8_t *key = malloc(klen);
	struct aggent *ents = NULL;

	if (!percpu || !key)
		return -ENOMEM;
	while (bpf_map_get_next_key(s->map_fd, prev, key) == 0) {
		struct aggent e = {0};

		if (bpf_map_lookup_elem(s->map_fd, key, percpu) == 0) {
			if (n == cap) {
				struct aggent *v =
				        realloc(ents, (cap = cap ? cap * 2 : 64) * sizeof(*v));
				if (!v)
					break;
				ents = v;
			}
			e.key = malloc(klen);
			e.val = malloc(s->vallen);
			if (!e.key || !e.val) {
				free(e.key);
				free(e.val);
				break;
			}
			memcpy(e.key, key, klen);
			merge(s, e.val, percpu, p->ncpus);
			e.sortv = sort_value(s, e.val);
			ents[n++] = e;
		}
		if (!prev && !(prev = malloc(klen)))
			break;
		memcpy(prev, key, klen);
	}
	sort_sym = s;
	if (n)
		qsort(ents, n, sizeof(*ents), entcmp);
	*ret = ents;
	*ret_n = n;
	return 0;
}

static int
print_agg(struct hv_trace_program *p, struct sym *s, const char *fmt, FILE *f)
{
	struct aggent *ents = NULL;
	size_t n = 0;
	int r;

	if ((r = agg_entries(p, s, &ents, &n)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (fmt) {
			print_formatted(f, p, s, fmt, ents[i].key, ents[i].val);
		} else {
			print_keys(f, p, s, ents[i].key);
			print_value(f, s, ents[i].val);
			fputc('\n', f);
		}
	}
	ents_free(ents, n);
	s->printed = true;
	return 0;
}

/* clear(): every key stays, its value zero, as DTrace keeps them */
static void
clear_agg(struct hv_trace_program *p, struct sym *s)
{
	size_t klen = MAX(s->keylen, 8u), stride = (s->vallen + 7) & ~7u;
	_cleanup_free_ uint8_t *key = malloc(klen), *prev = NULL;
	_cleanup_free_ uint8_t *zero = calloc(p->ncpus, stride);

	if (!key || !zero)
		return;
	while (bpf_map_get_next_key(s->map_fd, prev, key) == 0) {
		(void)bpf_map_update_elem(s->map_fd, key, zero, BPF_EXIST);
		if (!prev && !(prev = malloc(klen)))
			return;
		memcpy(prev, key, klen);
	}
}

/* trunc(@): every key gone; trunc(@, n): the n highest kept (n < 0: the -n lowest) */
static void
trunc_agg(struct hv_trace_program *p, struct sym *s, int64_t keep)
{
	struct aggent *ents = NULL;
	size_t n = 0;

	if (agg_entries(p, s, &ents, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		bool kept = keep > 0 ? i + (size_t)keep >= n : keep < 0 && i < (size_t)-keep;

		if (!kept)
			(void)bpf_map_delete_elem(s->map_fd, ents[i].key);
	}
	ents_free(ents, n);
}

static void
close_line(struct hv_trace_program *p)
{
	if (p->header_done && !p->opts.quiet && p->rec_open) {
		fputc('\n', p->out);
		p->rec_open = false;
	}
}

/*
 * A probe's fault: dtrace:::ERROR's clauses run with DTrace's arguments
 * (arg1 the enabled probe, arg2 the action, arg3 the D line where DTrace
 * gives a DIF offset, arg4 the fault, arg5 the address), or DTrace's
 * message goes to stderr when there are none (or the fault was ERROR's).
 */
static void
on_fault(struct hv_trace_program *p, const struct action *a, const struct trace_rec *rec,
         const void *data)
{
	const struct probe *pr = probe_by_id(p, rec->probe_arg);
	uint64_t addr;
	char where[32], what[48];

	memcpy(&addr, data, 8);
	if (p->progs[AP_ERROR].used && !(pr && pr->prov->point(pr) == AP_ERROR)) {
		uint64_t args[6] = {0,
		                    (uint64_t)a->clause + 1,
		                    (uint64_t)a->stmt,
		                    (uint64_t)a->line,
		                    (uint64_t)a->fault,
		                    addr};

		(void)trace_fire(p, AP_ERROR, args, ELEMENTSOF(args));
		return;
	}
	if (a->stmt)
		snprintf(where, sizeof(where), "action #%d", a->stmt);
	else
		snprintf(where, sizeof(where), "predicate");
	if (a->fault == FLT_DIVZERO)
		snprintf(what, sizeof(what), "divide-by-zero");
	else
		snprintf(what, sizeof(what), "invalid address (0x%" PRIx64 ")", addr);
	close_line(p);
	fflush(p->out);
	fprintf(p->errf ? p->errf : stderr,
	        "dtrace: error on enabled probe ID %d (ID %" PRId64 ": %s:%s:%s:%s): %s in %s at "
	        "line %d\n",
	        a->clause + 1, rec->probe_arg, pr ? probe_provider_name(pr) : "", pr ? pr->mod : "",
	        pr ? pr->func : "", pr ? pr->name : "", what, where, a->line);
}

/* ustack() values in aggregations: their processes' maps, read while they still run */
static void
note_ustack_pids(struct hv_trace_program *p)
{
	for (size_t i = 0; i < p->n_syms; i++) {
		struct sym *s = &p->syms[i];
		size_t klen = MAX(s->keylen, 8u), pos = 0;
		_cleanup_free_ uint8_t *key = NULL, *prev = NULL;
		int k;

		if (s->kind != SYM_AGG)
			continue;
		for (k = 0; k < s->n_keys && s->key_pstr[k] != PSTR_USTACK; k++)
			pos += s->key_size[k];
		if (k == s->n_keys || !(key = malloc(klen)) || !(prev = malloc(klen)))
			continue;
		for (bool first = true;
		     bpf_map_get_next_key(s->map_fd, first ? NULL : prev, key) == 0;
		     first = false) {
			uint64_t v;

			memcpy(&v, key + pos, 8);
			trace_syms_note_pid(p, (uint32_t)(v >> 32));
			memcpy(prev, key, klen);
		}
	}
}

static int
on_record(void *ctx, void *data, size_t size)
{
	struct hv_trace_program *p = ctx;
	struct trace_rec rec;
	const struct action *a;
	const struct probe *pr;

	if (size < sizeof(rec))
		return 0;
	memcpy(&rec, data, sizeof(rec));
	if (rec.action >= p->n_actions)
		return 0;
	/* after exit(), only what dtrace:::ERROR's clauses said about faults before it */
	pr = probe_by_id(p, rec.probe_arg);
	if (p->done && !(pr && pr->prov->point(pr) == AP_ERROR))
		return 0;
	a = &p->actions[rec.action];
	if (size < a->size)
		return 0;
	if (a->kind == ACT_PRINTF || a->kind == ACT_TRACE || a->kind == ACT_EXIT ||
	    a->kind == ACT_PRINTA) {
		if (p->rec_open && (p->open_clause != a->clause || a->first))
			close_line(p);
		if (!p->opts.quiet && !p->rec_open) {
			char name[140];

			if (!p->header_done)
				fprintf(p->out, "%3s %6s %32s\n", "CPU", "ID", "FUNCTION:NAME");
			p->header_done = true;
			pr = probe_by_id(p, rec.probe_arg);
			snprintf(name, sizeof(name), "%s:%s", pr ? pr->func : "",
			         pr ? pr->name : "");
			fprintf(p->out, "%3u %6" PRId64 " %32s ", rec.cpu, rec.probe_arg, name);
			p->rec_open = true;
			p->open_clause = a->clause;
		}
	}
	data = (uint8_t *)data + sizeof(rec);
	switch (a->kind) {
	case ACT_PRINTF:
		format_printf(p->out, p, a->fmt, a, data);
		break;
	case ACT_TRACE:
		if (a->n_args == 0)
			break;
		if (a->arg_type[0] == TY_STRING) {
			fprintf(p->out, p->opts.quiet ? "%.*s" : " %33.*s", (int)a->arg_size[0],
			        (const char *)data);
		} else {
			int64_t v;

			memcpy(&v, data, 8);
			if (a->arg_pstr[0] == PSTR_KSTACK || a->arg_pstr[0] == PSTR_USTACK)
				trace_print_stack(p, p->out, a->arg_pstr[0], v, 0);
			else if (a->arg_pstr[0])
				fprintf(p->out, p->opts.quiet ? "%s" : " %33s",
				        pstr_value(p, a->arg_pstr[0], v));
			else if (a->arg_size[0] == 4)
				fprintf(p->out, p->opts.quiet ? "%d" : " %10d", (int)v);
			else
				fprintf(p->out, p->opts.quiet ? "%lld" : " %20lld", (long long)v);
		}
		break;
	case ACT_EXIT: {
		int64_t v;

		memcpy(&v, data, 8);
		p->exit_status = (int)v;
		p->done = true;
		break;
	}
	case ACT_PRINTA:
		if (!a->fmt)
			fputc('\n', p->out);
		print_agg(p, &p->syms[a->agg], a->fmt, p->out);
		break;
	case ACT_CLEAR:
		clear_agg(p, &p->syms[a->agg]);
		break;
	case ACT_TRUNC:
		trunc_agg(p, &p->syms[a->agg], a->num);
		break;
	case ACT_ERROR:
		on_fault(p, a, &rec, data);
		break;
	case ACT_NORMALIZE:
		p->syms[a->agg].normalize = a->num;
		break;
	}
	if (a->last)
		close_line(p);
	return 0;
}

int
hv_trace_run(struct hv_trace_program *p, FILE *out, volatile int *stop, struct hv_error **reterr)
{
	struct ring_buffer *rb;
	int r;

	p->out = out;
	rb = ring_buffer__new(p->rb_fd, on_record, p, NULL);
	if (!rb)
		return hv_error_set(reterr, -errno, "cannot read the ring buffer: %m");
	if ((r = trace_fire(p, AP_BEGIN, NULL, 0)) < 0) {
		hv_error_set(reterr, r, "cannot run the BEGIN clauses: %m");
		goto out;
	}
	(void)ring_buffer__consume(rb);
	if (!p->done && (r = trace_attach_all(p, reterr)) < 0)
		goto out;
	if (p->opts.ready)
		p->opts.ready(p->opts.userdata);
	while (!p->done && !*stop) {
		r = ring_buffer__poll(rb, (int)p->opts.switchrate_ms);
		if (r < 0 && r != -EINTR) {
			hv_error_set(reterr, r, "cannot read the ring buffer: %m");
			goto out;
		}
		fflush(out);
		if (p->opts.tick)
			p->opts.tick(p, p->opts.tick_userdata);
		if (p->uses_stacks)
			note_ustack_pids(p);
	}
	if (p->uses_stacks)
		note_ustack_pids(p);
	trace_detach_all(p);
	(void)ring_buffer__consume(rb);
	p->done = false;
	if ((r = trace_fire(p, AP_END, NULL, 0)) < 0) {
		hv_error_set(reterr, r, "cannot run the END clauses: %m");
		goto out;
	}
	(void)ring_buffer__consume(rb);
	close_line(p);
	fputc('\n', out);
	for (size_t i = 0; i < p->n_syms; i++)
		if (p->syms[i].kind == SYM_AGG && !p->syms[i].printed)
			print_agg(p, &p->syms[i], NULL, out);
	fflush(out);
	r = 0;
out:
	ring_buffer__free(rb);
	return r;
}
