/* SPDX-License-Identifier: MIT */
/*
 * Symbols for stack() and ustack(), and the functions the pid provider
 * can probe. Kernel addresses are named from /proc/kallsyms, read once
 * per stack for the addresses not seen before (the whole table would
 * cost megabytes of memory for the few names a run prints). User
 * addresses go through the process's mappings (/proc/PID/maps, read when
 * its first stack is seen, since it may be gone by the time aggregations
 * are printed) to an ELF file and its .symtab, else .dynsym. Output is
 * DTrace's: one frame a line, indented 14 columns, "module`func+0xoff".
 */
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "trace-internal.h"

#define STACK_DEPTH  127
#define STACK_INDENT 14
#define PIDS_MAX     256
#define FILES_MAX    64
#define KNAMES_MAX   8192

struct mapping {
	uint64_t start, end, pgoff;
	char *path;
};

struct pidmaps {
	uint32_t pid;
	struct mapping *v;
	size_t n;
};

struct fsym {
	uint64_t addr, size;
	char *name;
};

struct elffile {
	char *path;
	struct fsym *syms; /* sorted by addr */
	size_t n;
	GElf_Phdr *loads; /* PT_LOAD segments */
	size_t n_loads;
};

struct kname {
	uint64_t addr;
	char *name; /* "vmlinux`func+0x12", or NULL: unknown */
};

struct trace_syms {
	struct pidmaps pids[PIDS_MAX];
	size_t n_pids;
	struct elffile files[FILES_MAX];
	size_t n_files;
	struct kname *knames;
	size_t n_knames;
};

static void
pidmaps_done(struct pidmaps *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
}

static void
elffile_done(struct elffile *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->syms[i].name);
	free(e->syms);
	free(e->loads);
	free(e->path);
}

struct trace_syms *
trace_syms_free(struct trace_syms *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n_pids; i++)
		pidmaps_done(&s->pids[i]);
	for (size_t i = 0; i < s->n_files; i++)
		elffile_done(&s->files[i]);
	for (size_t i = 0; i < s->n_knames; i++)
		free(s->knames[i].name);
	free(s->knames);
	free(s);
	return NULL;
}

static struct trace_syms *
syms_of(struct hv_trace_program *p)
{
	if (!p->syms_cache)
		p->syms_cache = calloc(1, sizeof(*p->syms_cache));
	return p->syms_cache;
}

/* --- ELF files --- */

static int
fsymcmp(const void *x, const void *y)
{
	const struct fsym *a = x, *b = y;

	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* Every defined function symbol of a file (.symtab, else .dynsym) and its PT_LOAD segments. */
static int
elf_read(const char *path, struct elffile *ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct elffile e = {0};
	Elf_Scn *scn = NULL, *symtab = NULL, *dynsym = NULL;
	size_t nph, cap = 0;
	Elf *elf;
	int r = -ENOEXEC;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	if (!(elf = elf_begin(fd, ELF_C_READ_MMAP, NULL)))
		return -ENOEXEC;
	if (elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &nph) < 0)
		goto out;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		GElf_Phdr *v = realloc(e.loads, (e.n_loads + 1) * sizeof(*v));
		if (!v) {
			r = -ENOMEM;
			goto out;
		}
		e.loads = v;
		e.loads[e.n_loads++] = ph;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB)
			symtab = scn;
		else if (sh.sh_type == SHT_DYNSYM)
			dynsym = scn;
	}
	if ((scn = symtab ? symtab : dynsym)) {
		GElf_Shdr sh;
		Elf_Data *d = elf_getdata(scn, NULL);

		gelf_getshdr(scn, &sh);
		for (size_t i = 0; d && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(d, (int)i, &sym) ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF ||
			    !sym.st_value)
				continue;
			if (!(name = elf_strptr(elf, sh.sh_link, sym.st_name)) || !*name)
				continue;
			if (e.n == cap) {
				struct fsym *v =
				        realloc(e.syms, (cap = cap ? cap * 2 : 256) * sizeof(*v));
				if (!v) {
					r = -ENOMEM;
					goto out;
				}
				e.syms = v;
			}
			e.syms[e.n] = (struct fsym){sym.st_value, sym.st_size, strdup(name)};
			if (!e.syms[e.n].name) {
				r = -ENOMEM;
				goto out;
			}
			e.n++;
		}
	}
	if (e.n)
		qsort(e.syms, e.n, sizeof(*e.syms), fsymcmp);
	if (!(e.path = strdup(path))) {
		r = -ENOMEM;
		goto out;
	}
	*ret = e;
	e = (struct elffile){0};
	r = 0;
out:
	elffile_done(&e);
	elf_end(elf);
	return r;
}

static uint64_t
vaddr_to_off(const struct elffile *e, uint64_t vaddr)
{
	for (size_t i = 0; i < e->n_loads; i++)
		if (vaddr >= e->loads[i].p_vaddr &&
		    vaddr < e->loads[i].p_vaddr + e->loads[i].p_memsz)
			return vaddr - e->loads[i].p_vaddr + e->loads[i].p_offset;
	return UINT64_MAX;
}

static uint64_t
off_to_vaddr(const struct elffile *e, uint64_t off)
{
	for (size_t i = 0; i < e->n_loads; i++)
		if (off >= e->loads[i].p_offset &&
		    off < e->loads[i].p_offset + e->loads[i].p_filesz)
			return off - e->loads[i].p_offset + e->loads[i].p_vaddr;
	return UINT64_MAX;
}

int
trace_elf_functions(const char *path, int (*fn)(const char *, uint64_t, void *), void *ud)
{
	struct elffile e;
	int r;

	if ((r = elf_read(path, &e)) < 0)
		return r;
	for (size_t i = 0; i < e.n; i++) {
		uint64_t off = vaddr_to_off(&e, e.syms[i].addr);

		if (i > 0 && e.syms[i].addr == e.syms[i - 1].addr)
			continue; /* an alias */
		if (off != UINT64_MAX && (r = fn(e.syms[i].name, off, ud)) < 0)
			break;
	}
	elffile_done(&e);
	return r < 0 ? r : 0;
}

static const struct elffile *
elf_cached(struct trace_syms *s, const char *path)
{
	for (size_t i = 0; i < s->n_files; i++)
		if (streq(s->files[i].path, path))
			return &s->files[i];
	if (s->n_files == FILES_MAX || elf_read(path, &s->files[s->n_files]) < 0)
		return NULL;
	return &s->files[s->n_files++];
}

/* --- processes --- */

static struct pidmaps *
pid_cached(struct trace_syms *s, uint32_t pid, bool read)
{
	char path[64], line[512];
	struct pidmaps *m;
	size_t cap = 0;
	FILE *f;

	for (size_t i = 0; i < s->n_pids; i++)
		if (s->pids[i].pid == pid)
			return &s->pids[i];
	if (!read || s->n_pids == PIDS_MAX || pid == 0)
		return NULL;
	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	if (!(f = fopen(path, "re")))
		return NULL;
	m = &s->pids[s->n_pids++];
	*m = (struct pidmaps){.pid = pid};
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, pgoff;
		char perms[8], file[400];

		file[0] = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*u %399[^\n]", &start, &end, perms,
		           &pgoff, file) < 5 ||
		    !strchr(perms, 'x') || file[0] != '/')
			continue;
		if (m->n == cap) {
			struct mapping *v = realloc(m->v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
			if (!v)
				break;
			m->v = v;
		}
		m->v[m->n] = (struct mapping){start, end, pgoff, strdup(file)};
		if (m->v[m->n].path)
			m->n++;
	}
	fclose(f);
	return m;
}

void
trace_syms_note_pid(struct hv_trace_program *p, uint32_t pid)
{
	struct trace_syms *s = syms_of(p);

	if (s)
		(void)pid_cached(s, pid, true);
}

static void
user_name(struct trace_syms *s, uint32_t pid, uint64_t addr, char *buf, size_t size)
{
	struct pidmaps *m = pid_cached(s, pid, true);

	snprintf(buf, size, "0x%" PRIx64, addr);
	for (size_t i = 0; m && i < m->n; i++) {
		const struct mapping *mp = &m->v[i];
		const char *mod = strrchr(mp->path, '/') + 1;
		const struct elffile *e;
		uint64_t va;
		size_t lo = 0, hi;

		if (addr < mp->start || addr >= mp->end)
			continue;
		snprintf(buf, size, "%s`0x%" PRIx64, mod, addr);
		if (!(e = elf_cached(s, mp->path)) ||
		    (va = off_to_vaddr(e, addr - mp->start + mp->pgoff)) == UINT64_MAX)
			return;
		/* the last symbol at or below va */
		hi = e->n;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (e->syms[mid].addr <= va)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == 0)
			return;
		const struct fsym *fs = &e->syms[lo - 1];
		if (fs->size && va >= fs->addr + fs->size)
			return;
		if (va > fs->addr)
			snprintf(buf, size, "%s`%s+0x%" PRIx64, mod, fs->name, va - fs->addr);
		else
			snprintf(buf, size, "%s`%s", mod, fs->name);
		return;
	}
}

/* --- the kernel --- */

static const struct kname *
kname_find(const struct trace_syms *s, uint64_t addr)
{
	for (size_t i = 0; i < s->n_knames; i++)
		if (s->knames[i].addr == addr)
			return &s->knames[i];
	return NULL;
}

/* Name the addresses not named yet, in one pass over /proc/kallsyms. */
static void
kernel_names(struct trace_syms *s, const uint64_t *addrs, size_t n)
{
	struct best {
		uint64_t addr, sym;
		char name[200];
	} * best;
	size_t nb = 0;
	char line[512];
	FILE *f;

	if (!(best = calloc(n, sizeof(*best))))
		return;
	for (size_t i = 0; i < n; i++)
		if (addrs[i] && !kname_find(s, addrs[i]))
			best[nb++].addr = addrs[i];
	if (nb && (f = fopen("/proc/kallsyms", "re"))) {
		while (fgets(line, sizeof(line), f)) {
			unsigned long long a;
			char type, name[128], mod[64] = "";

			if (sscanf(line, "%llx %c %127s [%63[^]]]", &a, &type, name, mod) < 3 ||
			    (type != 't' && type != 'T') || !a)
				continue;
			for (size_t i = 0; i < nb; i++)
				if (a <= best[i].addr && a > best[i].sym) {
					best[i].sym = a;
					snprintf(best[i].name, sizeof(best[i].name), "%s`%s",
					         mod[0] ? mod : "vmlinux", name);
				}
		}
		fclose(f);
	}
	for (size_t i = 0; i < nb && s->n_knames < KNAMES_MAX; i++) {
		struct kname *v = realloc(s->knames, (s->n_knames + 1) * sizeof(*v));
		char *name = NULL;

		if (!v)
			break;
		s->knames = v;
		if (best[i].sym && best[i].addr > best[i].sym)
			(void)!asprintf(&name, "%s+0x%" PRIx64, best[i].name,
			                best[i].addr - best[i].sym);
		else if (best[i].sym)
			name = strdup(best[i].name);
		s->knames[s->n_knames++] = (struct kname){best[i].addr, name};
	}
	free(best);
}

void
trace_print_stack(struct hv_trace_program *p, FILE *f, int kind, int64_t v, int depth)
{
	struct trace_syms *s = syms_of(p);
	uint64_t frames[STACK_DEPTH] = {0};
	uint32_t id = (uint32_t)(kind == PSTR_USTACK ? (uint64_t)v & 0xffffffff : (uint64_t)v);
	uint32_t pid = (uint32_t)((uint64_t)v >> 32);
	char name[512];
	int n;

	fputc('\n', f);
	if (!s || p->stacks_fd < 0 || (kind == PSTR_KSTACK && v < 0) ||
	    bpf_map_lookup_elem(p->stacks_fd, &id, frames) < 0)
		return;
	for (n = 0; n < STACK_DEPTH && frames[n]; n++)
		;
	if (depth > 0 && depth < n)
		n = depth;
	if (kind == PSTR_KSTACK)
		kernel_names(s, frames, (size_t)n);
	for (int i = 0, top = 1; i < n; i++) {
		if (kind == PSTR_KSTACK) {
			const struct kname *k = kname_find(s, frames[i]);

			/* the BPF program and the tracepoint's call into it are not the probe's */
			if (top && k && k->name &&
			    (startswith(k->name, "bpf`") || strstr(k->name, "`bpf_trace_run") ||
			     strstr(k->name, "`__bpf_trace_") || strstr(k->name, "`perf_trace_")))
				continue;
			top = 0;
			if (k && k->name)
				snprintf(name, sizeof(name), "%s", k->name);
			else
				snprintf(name, sizeof(name), "0x%" PRIx64, frames[i]);
		} else {
			user_name(s, pid, frames[i], name, sizeof(name));
		}
		fprintf(f, "%*s%s\n", STACK_INDENT, "", name);
	}
}
