/* SPDX-License-Identifier: MIT */
/*
 * pooladm's tables: list, get and status. Human output aligns columns with
 * two spaces and prints sizes as ZFS does (1.50G); -H drops the header and
 * separates fields with tabs; -p prints exact numbers (bytes, seconds).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/cleanup.h"
#include "basic/format.h"
#include "basic/log.h"
#include "basic/strv.h"
#include "pooladm.h"

struct table {
	size_t cols;
	bool header, tabs;
	char ***rows; /* rows[0] are the headers */
	size_t n;
};

struct table *
table_new(char *const *headers, bool header, bool tabs)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cols = strv_length(headers);
	t->header = header;
	t->tabs = tabs;
	if (table_add(t, headers) < 0)
		return table_free(t);
	return t;
}

int
table_add(struct table *t, char *const *cells)
{
	char ***nr = reallocarray(t->rows, t->n + 1, sizeof(char **));
	char **row;

	if (!nr)
		return -ENOMEM;
	t->rows = nr;
	row = calloc(t->cols + 1, sizeof(char *));
	if (!row)
		return -ENOMEM;
	for (size_t i = 0; i < t->cols; i++)
		if (!(row[i] = strdup(cells[i] ? cells[i] : "-"))) {
			strv_free(row);
			return -ENOMEM;
		}
	t->rows[t->n++] = row;
	return 0;
}

int
table_print(struct table *t)
{
	_cleanup_free_ size_t *w = calloc(t->cols, sizeof(size_t));

	if (!w)
		return -ENOMEM;
	for (size_t r = 0; r < t->n; r++)
		for (size_t c = 0; c < t->cols; c++)
			w[c] = MAX(w[c], strlen(t->rows[r][c]));
	for (size_t r = t->header ? 0 : 1; r < t->n; r++) {
		for (size_t c = 0; c < t->cols; c++) {
			bool last = c + 1 == t->cols;
			if (t->tabs)
				printf("%s%s", t->rows[r][c], last ? "" : "\t");
			else
				printf("%-*s%s", last ? 0 : (int)w[c], t->rows[r][c],
				       last ? "" : "  ");
		}
		putchar('\n');
	}
	return fflush(stdout) == 0 ? 0 : -EIO;
}

struct table *
table_free(struct table *t)
{
	if (!t)
		return NULL;
	for (size_t r = 0; r < t->n; r++)
		strv_free(t->rows[r]);
	free(t->rows);
	free(t);
	return NULL;
}

static void
table_freep(struct table **t)
{
	*t = table_free(*t);
}

/* One field of a dataset row, as text. */
static char *
field(const struct hv_dataset_info *d, const char *f, bool parsable)
{
	char buf[64];
	uint64_t v;

	if (streq(f, "name"))
		return strdup(d->name);
	if (streq(f, "type"))
		return strdup(hv_dataset_type_to_string(d->type));
	if (streq(f, "mountpoint"))
		return d->mountpoint ? strdup(d->mountpoint) : NULL;
	if (streq(f, "origin"))
		return d->origin ? strdup(d->origin) : NULL;
	if (streq(f, "compression"))
		return strdup(d->compression ? d->compression : "off");
	if (streq(f, "guid"))
		return d->guid ? strdup(d->guid) : NULL;
	if (streq(f, "creation")) {
		time_t t = (time_t)d->creation;
		struct tm tm;
		if (parsable)
			snprintf(buf, sizeof(buf), "%llu", (unsigned long long)d->creation);
		else
			strftime(buf, sizeof(buf), "%a %b %e %H:%M %Y", localtime_r(&t, &tm));
		return strdup(buf);
	}
	if (streq(f, "used"))
		v = d->used;
	else if (streq(f, "avail"))
		v = d->avail;
	else if (streq(f, "refer"))
		v = d->refer;
	else if (streq(f, "quota")) {
		if (d->type == HV_DATASET_SNAPSHOT)
			return NULL;
		if (d->quota == 0)
			return strdup(parsable ? "0" : "none");
		v = d->quota;
	} else if (streq(f, "volsize")) {
		if (d->type != HV_DATASET_VOLUME && !(d->type == HV_DATASET_SNAPSHOT && d->volsize))
			return NULL;
		v = d->volsize;
	} else
		return NULL;
	if (v == UINT64_MAX)
		return NULL;
	if (parsable)
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	else
		format_bytes(buf, v);
	return strdup(buf);
}

static const char *const all_fields[] = {
        "name",     "type",    "used",        "avail",      "refer", "quota", "origin",
        "creation", "volsize", "compression", "mountpoint", "guid",  NULL};

static int
check_fields(char **fields)
{
	STRV_FOREACH (f, fields)
		if (!strv_contains((char **)all_fields, *f)) {
			log_error("unknown field '%s'; expected one of name, type, used, avail, "
			          "refer, quota, origin, creation, volsize, compression, "
			          "mountpoint, guid",
			          *f);
			return EXIT_USAGE;
		}
	return 0;
}

static int
parse_types(const char *arg, unsigned *flags, bool *pools)
{
	_cleanup_strv_free_ char **l = NULL;

	if (strv_split(arg, ',', &l) < 0)
		return fail(-ENOMEM, NULL);
	*flags &= ~(unsigned)(HV_LIST_FILESYSTEMS | HV_LIST_VOLUMES | HV_LIST_SNAPSHOTS);
	STRV_FOREACH (t, l) {
		if (streq(*t, "filesystem"))
			*flags |= HV_LIST_FILESYSTEMS;
		else if (streq(*t, "volume"))
			*flags |= HV_LIST_VOLUMES;
		else if (streq(*t, "snapshot") || streq(*t, "snap"))
			*flags |= HV_LIST_SNAPSHOTS;
		else if (streq(*t, "all"))
			*flags |= HV_LIST_FILESYSTEMS | HV_LIST_VOLUMES | HV_LIST_SNAPSHOTS;
		else if (streq(*t, "pool"))
			*pools = true;
		else
			return usage_error("type '%s': expected filesystem, volume, snapshot, pool "
			                   "or all",
			                   *t);
	}
	return 0;
}

/* The datasets of one pool (or all), into t. */
static int
list_pool(const char *pool, const char *name, unsigned flags, char **fields, bool parsable,
          struct table *t)
{
	_cleanup_hv_pool_ struct hv_pool *p = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_dataset_info *l = NULL;
	size_t n = 0;
	int r;

	r = name ? hv_pool_open_for(name, 0, &p, &e) : hv_pool_open(pool, 0, &p, &e);
	if (r >= 0)
		r = hv_pool_list(p, name, flags, &l, &n, &e);
	if (r < 0)
		return fail(r, e);
	for (size_t i = 0; i < n && r >= 0; i++) {
		size_t nf = strv_length(fields);
		char **cells = calloc(nf + 1, sizeof(char *));
		if (!cells) {
			r = -ENOMEM;
			break;
		}
		for (size_t f = 0; f < nf; f++)
			cells[f] = field(&l[i], fields[f], parsable);
		r = table_add(t, cells);
		for (size_t f = 0; f < nf; f++)
			free(cells[f]);
		free(cells);
	}
	hv_dataset_info_free_many(l, n);
	return r < 0 ? fail(r, NULL) : 0;
}

static int
list_pools(bool header, bool tabs, bool parsable)
{
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_(table_freep) struct table *t = NULL;
	char *headers[] = {"NAME", "SIZE", "ALLOC", "FREE", "HEALTH", "BACKEND", "QUOTAS", NULL};
	int r, ret = 0;

	if ((r = hv_pool_list_names(&names, &e)) < 0)
		return fail(r, e);
	t = table_new(headers, header, tabs);
	if (!t)
		return fail(-ENOMEM, NULL);
	STRV_FOREACH (name, names) {
		_cleanup_hv_pool_ struct hv_pool *p = NULL;
		_cleanup_hv_error_ struct hv_error *pe = NULL;
		struct hv_pool_status *s = NULL;
		char a[32], b[32], c[32];

		r = hv_pool_open(*name, 0, &p, &pe);
		if (r >= 0)
			r = hv_pool_get_status(p, &s, &pe);
		if (r < 0) {
			char *cells[] = {*name, NULL, NULL, NULL, "UNAVAIL", NULL, NULL};
			log_warning("%s", hv_error_message(pe, r));
			(void)table_add(t, cells);
			ret = EXIT_FAILURE;
			continue;
		}
		if (parsable) {
			snprintf(a, sizeof(a), "%llu", (unsigned long long)s->size);
			snprintf(b, sizeof(b), "%llu", (unsigned long long)s->used);
			snprintf(c, sizeof(c), "%llu", (unsigned long long)s->free);
		} else {
			format_bytes(a, s->size);
			format_bytes(b, s->used);
			format_bytes(c, s->free);
		}
		char *cells[] = {s->name,
		                 a,
		                 b,
		                 c,
		                 s->health,
		                 (char *)hv_pool_backend_to_string(s->backend),
		                 (char *)hv_quota_mode_to_string(s->quota_mode)};
		r = table_add(t, cells);
		hv_pool_status_free(s);
		if (r < 0)
			return fail(r, NULL);
	}
	r = table_print(t);
	return r < 0 ? fail(r, NULL) : ret;
}

int
cmd_list(int argc, char *argv[])
{
	_cleanup_strv_free_ char **fields = NULL, **upper = NULL, **pools = NULL;
	_cleanup_(table_freep) struct table *t = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;
	unsigned flags = HV_LIST_FILESYSTEMS | HV_LIST_VOLUMES;
	bool header = true, parsable = false, want_pools = false;
	const char *fieldarg = "name,used,avail,refer,mountpoint";
	int c, r;

	opts_reset();
	while ((c = getopt(argc, argv, "t:o:Hpr")) != -1) {
		switch (c) {
		case 't':
			if ((r = parse_types(optarg, &flags, &want_pools)) != 0)
				return r;
			break;
		case 'o':
			fieldarg = optarg;
			break;
		case 'H':
			header = false;
			break;
		case 'p':
			parsable = true;
			break;
		case 'r':
			flags |= HV_LIST_RECURSIVE;
			break;
		default:
			return bad_option("list", argv);
		}
	}
	if (argc - optind > 1)
		return usage_error("list: unexpected argument '%s'", argv[optind + 1]);
	if (want_pools)
		return list_pools(header, !header, parsable);
	if (strv_split(fieldarg, ',', &fields) < 0)
		return fail(-ENOMEM, NULL);
	if ((r = check_fields(fields)) != 0)
		return r;
	STRV_FOREACH (f, fields) {
		char *u = strdup(*f);
		if (!u || strv_consume(&upper, u) < 0)
			return fail(-ENOMEM, NULL);
		for (char *q = u; *q; q++)
			*q = (char)(*q >= 'a' && *q <= 'z' ? *q - 32 : *q);
	}
	t = table_new(upper, header, !header);
	if (!t)
		return fail(-ENOMEM, NULL);
	if (argc - optind == 1)
		r = list_pool(NULL, argv[optind], flags, fields, parsable, t);
	else {
		if ((r = hv_pool_list_names(&pools, &e)) < 0)
			return fail(r, e);
		r = 0;
		STRV_FOREACH (pool, pools)
			if ((r = list_pool(*pool, NULL, flags, fields, parsable, t)) != 0)
				break;
	}
	if (r != 0)
		return r;
	r = table_print(t);
	return r < 0 ? fail(r, NULL) : 0;
}

int
cmd_get(int argc, char *argv[])
{
	static const char *const settable[] = {"quota", "compression", "volsize", NULL};
	_cleanup_strv_free_ char **props = NULL, **cols = NULL;
	_cleanup_(table_freep) struct table *t = NULL;
	bool header = true, parsable = false;
	const char *colarg = "name,property,value,source";
	int c, r;

	opts_reset();
	while ((c = getopt(argc, argv, "Hpo:")) != -1) {
		if (c == 'H')
			header = false;
		else if (c == 'p')
			parsable = true;
		else if (c == 'o')
			colarg = optarg;
		else
			return bad_option("get", argv);
	}
	if (argc - optind < 2)
		return usage_error("%s", "get: expected all|PROPERTY[,PROPERTY...] NAME...");
	if (streq(argv[optind], "all"))
		r = strv_split("type,creation,used,avail,refer,quota,volsize,compression,origin,"
		               "mountpoint,guid",
		               ',', &props);
	else
		r = strv_split(argv[optind], ',', &props);
	if (r < 0 || strv_split(colarg, ',', &cols) < 0)
		return fail(-ENOMEM, NULL);
	if ((r = check_fields(props)) != 0)
		return r;
	STRV_FOREACH (col, cols)
		if (!strv_contains((char *const[]){"name", "property", "value", "source", NULL},
		                   *col))
			return usage_error("column '%s': expected name, property, value or source",
			                   *col);
	{
		char *heads[5] = {0};
		size_t i = 0;
		STRV_FOREACH (col, cols) {
			heads[i++] = streq(*col, "name")       ? "NAME"
			             : streq(*col, "property") ? "PROPERTY"
			             : streq(*col, "value")    ? "VALUE"
			                                       : "SOURCE";
			if (i == 4)
				break;
		}
		t = table_new(heads, header, !header);
	}
	if (!t)
		return fail(-ENOMEM, NULL);

	for (int a = optind + 1; a < argc; a++) {
		_cleanup_hv_pool_ struct hv_pool *p = NULL;
		_cleanup_hv_error_ struct hv_error *e = NULL;
		struct hv_dataset_info *l = NULL, *d = NULL;
		size_t n = 0;

		r = hv_pool_open_for(argv[a], 0, &p, &e);
		if (r >= 0) {
			_cleanup_free_ char *ds = strndup(argv[a], strcspn(argv[a], "@"));
			r = ds ? hv_pool_list(
			                 p, ds,
			                 HV_LIST_FILESYSTEMS | HV_LIST_VOLUMES |
			                         (strchr(argv[a], '@') ? HV_LIST_SNAPSHOTS : 0),
			                 &l, &n, &e)
			       : -ENOMEM;
		}
		if (r < 0)
			return fail(r, e);
		for (size_t i = 0; i < n; i++)
			if (streq(l[i].name, argv[a]))
				d = &l[i];
		if (!d) {
			hv_dataset_info_free_many(l, n);
			log_error("snapshot '%s' does not exist", argv[a]);
			return EXIT_FAILURE;
		}
		STRV_FOREACH (prop, props) {
			_cleanup_free_ char *v = field(d, *prop, parsable);
			const char *src = "-";
			if (strv_contains((char **)settable, *prop))
				src = v && !streq(v, "none") && !streq(v, "off") && !streq(v, "0")
				              ? "local"
				              : "default";
			char *cells[4];
			size_t i = 0;
			STRV_FOREACH (col, cols) {
				cells[i++] = streq(*col, "name")       ? d->name
				             : streq(*col, "property") ? *prop
				             : streq(*col, "value")    ? v
				                                       : (char *)src;
				if (i == 4)
					break;
			}
			if ((r = table_add(t, cells)) < 0)
				break;
		}
		hv_dataset_info_free_many(l, n);
		if (r < 0)
			return fail(r, NULL);
	}
	r = table_print(t);
	return r < 0 ? fail(r, NULL) : 0;
}

int
cmd_status(int argc, char *argv[])
{
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r, ret = 0;

	if (argc > 2)
		return usage_error("%s", "status: expected at most one pool name");
	if (argc == 2)
		r = strv_push(&names, argv[1]);
	else
		r = hv_pool_list_names(&names, &e);
	if (r < 0)
		return fail(r, e);
	STRV_FOREACH (name, names) {
		_cleanup_hv_pool_ struct hv_pool *p = NULL;
		_cleanup_hv_error_ struct hv_error *pe = NULL;
		struct hv_pool_status *s = NULL;
		char size[16], used[16], freeb[16];

		r = hv_pool_open(*name, 0, &p, &pe);
		if (r >= 0)
			r = hv_pool_get_status(p, &s, &pe);
		if (r < 0) {
			ret = fail(r, pe);
			continue;
		}
		printf("   pool: %s\n  state: %s\nbackend: %s (quotas: %s)\n", s->name, s->health,
		       hv_pool_backend_to_string(s->backend),
		       hv_quota_mode_to_string(s->quota_mode));
		printf("  mount: %s\n", s->mountpoint);
		if (s->uuid)
			printf("   uuid: %s\n", s->uuid);
		if (s->file)
			printf("   file: %s\n", s->file);
		printf("  space: %s size, %s used, %s free (%s)\n", format_bytes(size, s->size),
		       format_bytes(used, s->used), format_bytes(freeb, s->free), s->profile);
		printf(" config:\n\n\tDEVICE\tSTATE\tERRORS\tSIZE\n");
		for (size_t i = 0; i < s->n_devices; i++)
			printf("\t%s\t%s\t%llu\t%s\n", s->devices[i].path,
			       s->devices[i].missing ? "MISSING" : "ONLINE",
			       (unsigned long long)s->devices[i].errors,
			       format_bytes(size, s->devices[i].size));
		printf("\n");
		hv_pool_status_free(s);
	}
	return ret;
}
