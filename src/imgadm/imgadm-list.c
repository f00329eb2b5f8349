/* SPDX-License-Identifier: MIT */
/*
 * imgadm list, avail, info, ancestry, vacuum, update: images as tables
 * (SmartOS's defaults: columns uuid,name,version,os,type,pub, sorted by
 * published_at,name), filters FIELD=VALUE, FIELD=~SUBSTRING and
 * FIELD=true|false, and the upkeep of installed images.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/log.h"
#include "basic/strv.h"
#include "basic/uuid.h"
#include "image/image.h"
#include "image/source.h"
#include "imgadm.h"
#include "json/json.h"
#include "storage/pool.h"

#define DEFAULT_FIELDS "uuid,name,version,os,type,pub"
#define DEFAULT_SORT   "published_at,name"
#define FIELDS_MAX     32
#define FILTERS_MAX    32

/* A field's value as text: computed ones first, then a dotted path into the manifest. */
static char *
field_text(const json_t *item, const char *field)
{
	const json_t *m = json_object_get(item, "manifest") ?: item, *v = m;
	_cleanup_free_ char *path = strdup(field);
	char *save = NULL;

	if (!path)
		return NULL;
	if (streq(field, "pub")) {
		const char *p = json_string_value(json_object_get(m, "published_at"));
		return p ? strndup(p, 10) : NULL;
	}
	if (streq(field, "clones") || streq(field, "source") || streq(field, "zpool"))
		v = json_object_get(item, field);
	else if (streq(field, "size"))
		v = json_object_get(json_array_get(json_object_get(m, "files"), 0), "size");
	else
		for (char *k = strtok_r(path, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
			v = json_object_get(v, k);
	if (!v || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return strdup(json_string_value(v));
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

struct filter {
	char *field, *value;
	bool substring;
};

static int
parse_filters(int argc, char *argv[], struct filter *f, size_t *ret_n)
{
	size_t n = 0;

	for (int i = optind; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq || eq == argv[i])
			return usage_error("filter '%s': expected FIELD=VALUE or FIELD=~SUBSTRING",
			                   argv[i]);
		if (n == FILTERS_MAX)
			return usage_error("at most %d filters", FILTERS_MAX);
		*eq = 0;
		f[n] = (struct filter){argv[i], eq + 1, eq[1] == '~'};
		if (f[n].substring)
			f[n].value++;
		n++;
	}
	*ret_n = n;
	return 0;
}

static bool
matches(const json_t *item, const struct filter *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *v = field_text(item, f[i].field);

		if (!v || (f[i].substring ? !strstr(v, f[i].value) : !streq(v, f[i].value)))
			return false;
	}
	return true;
}

static const char *sort_keys[FIELDS_MAX];
static size_t n_sort_keys;

static int
cmp_items(const void *a, const void *b)
{
	for (size_t i = 0; i < n_sort_keys; i++) {
		const char *k = sort_keys[i];
		bool desc = k[0] == '-';
		_cleanup_free_ char *x = field_text(*(json_t *const *)a, k + (desc || k[0] == '+'));
		_cleanup_free_ char *y = field_text(*(json_t *const *)b, k + (desc || k[0] == '+'));
		int c = strcmp(strempty(x), strempty(y));

		if (c)
			return desc ? -c : c;
	}
	return 0;
}

/* Split "a,b,c" into at most FIELDS_MAX names (pointing into s). */
static int
split_fields(char *s, const char **ret, size_t *ret_n)
{
	char *save = NULL;
	size_t n = 0;

	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (n == FIELDS_MAX)
			return usage_error("at most %d fields", FIELDS_MAX);
		ret[n++] = t;
	}
	if (n == 0)
		return usage_error("expected one field or more");
	*ret_n = n;
	return 0;
}

/* Print items as a table (or JSON), filtered and sorted. */
static int
print_images(json_t *items, int argc, char *argv[], const char *fields, const char *sort,
             bool header, bool json)
{
	_cleanup_free_ char *fcopy = strdup(fields), *scopy = strdup(sort);
	_cleanup_free_ json_t **v = NULL;
	const char *cols[FIELDS_MAX];
	struct filter f[FILTERS_MAX];
	size_t ncols, nf, n = 0, i;
	json_t *it;
	int r;

	if (!fcopy || !scopy)
		return fail(-ENOMEM, NULL);
	n_sort_keys = 0;
	if ((r = parse_filters(argc, argv, f, &nf)) != 0 ||
	    (r = split_fields(fcopy, cols, &ncols)) != 0 ||
	    (*scopy && (r = split_fields(scopy, sort_keys, &n_sort_keys)) != 0))
		return r;
	v = calloc(json_array_size(items) + 1, sizeof(*v));
	if (!v)
		return fail(-ENOMEM, NULL);
	json_array_foreach (items, i, it)
		if (matches(it, f, nf))
			v[n++] = it;
	if (n_sort_keys)
		qsort(v, n, sizeof(*v), cmp_items);
	if (json) {
		json_auto_t *out = json_array();
		for (i = 0; i < n; i++)
			(void)json_array_append(out, v[i]);
		return hv_json_dumpf(out, stdout) < 0 ? fail(-EIO, NULL) : 0;
	}
	/* Widths from the header and every value. */
	size_t w[FIELDS_MAX];
	for (size_t c = 0; c < ncols; c++) {
		w[c] = header ? strlen(cols[c]) : 0;
		for (i = 0; i < n; i++) {
			_cleanup_free_ char *t = field_text(v[i], cols[c]);
			w[c] = MAX(w[c], strlen(t ?: "-"));
		}
	}
	for (size_t row = header ? 0 : 1; row <= n; row++) {
		_cleanup_free_ char *line = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&line, &len);

		for (size_t c = 0; m && c < ncols; c++) {
			_cleanup_free_ char *t = row ? field_text(v[row - 1], cols[c]) : NULL;
			char upper[64];

			if (!row) {
				snprintf(upper, sizeof(upper), "%s", cols[c]);
				for (char *p = upper; *p; p++)
					*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
			}
			fprintf(m, "%s%-*s", c ? "  " : "", (int)w[c], row ? (t ?: "-") : upper);
		}
		if (m)
			fclose(m);
		while (len > 0 && line[len - 1] == ' ')
			line[--len] = 0;
		printf("%s\n", strempty(line));
	}
	return 0;
}

/* -j -H -o -s, the same for list, avail and ancestry ("" as sort: keep the order). */
static int
table_command(const char *cmd, json_t *items, int argc, char *argv[], const char *fields,
              const char *sort)
{
	bool header = true, json = false;
	int c;

	opts_reset();
	while ((c = getopt(argc, argv, "jHo:s:P:")) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'H')
			header = false;
		else if (c == 'o')
			fields = optarg;
		else if (c == 's')
			sort = optarg;
		else if (c == 'P')
			arg_pool = optarg;
		else
			return usage_error(
			        "usage: imgadm %s [-j] [-H] [-o field,...] [-s field,...] "
			        "[field=value ...]",
			        cmd);
	}
	return print_images(items, argc, argv, fields, sort, header, json);
}

int
cmd_list(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_auto_t *items = NULL;
	int r;

	/* -P must be known before listing: look for it first. */
	for (int i = 1; i + 1 < argc; i++)
		if (streq(argv[i], "-P"))
			arg_pool = argv[i + 1];
	if ((r = hv_image_list(arg_pool, &items, &e)) < 0)
		return fail(r, e);
	return table_command("list", items, argc, argv, DEFAULT_FIELDS, DEFAULT_SORT);
}

int
cmd_avail(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_strv_free_ char **sources = NULL;
	json_auto_t *items = json_array(), *seen = json_object();
	int r;

	if (!items || !seen)
		return fail(-ENOMEM, NULL);
	if ((r = hv_image_sources(&sources, &e)) < 0)
		return fail(r, e);
	STRV_FOREACH (s, sources) {
		json_auto_t *l = NULL;
		size_t i;
		json_t *m;

		if ((r = hv_image_source_list(*s, &l, &e)) < 0)
			return fail(r, e);
		json_array_foreach (l, i, m) {
			const char *u = json_string_value(json_object_get(m, "uuid"));
			if (!u || json_object_get(seen, u))
				continue; /* the first source that has an image wins, as in import
				           */
			(void)json_object_set_new(seen, u, json_true());
			(void)json_array_append_new(
			        items, json_pack("{s:O, s:s}", "manifest", m, "source", *s));
		}
	}
	return table_command("avail", items, argc, argv, DEFAULT_FIELDS, DEFAULT_SORT);
}

int
cmd_info(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_auto_t *o = NULL;
	int r;

	opts_reset();
	if (getopt(argc, argv, "") != -1 || optind + 1 != argc || !uuid_is_valid(argv[optind]))
		return usage_error("usage: imgadm info UUID");
	if ((r = hv_image_get(arg_pool, argv[optind], &o, &e)) < 0)
		return fail(r, e);
	static const char *const rows[][2] = {
	        {"UUID", "uuid"},
	        {"Name", "name"},
	        {"Version", "version"},
	        {"Type", "type"},
	        {"OS", "os"},
	        {"Published", "published_at"},
	        {"Size", "size"},
	        {"Origin", "origin"},
	        {"Source", "source"},
	        {"Clones", "clones"},
	        {"Description", "description"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		_cleanup_free_ char *t = field_text(o, rows[i][1]);
		if (t)
			printf("%-12s %s\n", rows[i][0], t);
	}
	return 0;
}

int
cmd_ancestry(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_auto_t *chain = json_array();
	const char *uuid;
	int r;

	if (!chain)
		return fail(-ENOMEM, NULL);
	opts_reset();
	/* Options are the table's; the UUID is the first word. */
	for (int i = 1; i < argc; i++)
		if (uuid_is_valid(argv[i])) {
			uuid = argv[i];
			memmove(&argv[i], &argv[i + 1], sizeof(char *) * (size_t)(argc - i));
			argc--;
			goto found;
		}
	return usage_error("usage: imgadm ancestry [-j] [-H] [-o field,...] UUID");
found:
	for (unsigned depth = 0; uuid && depth < 64; depth++) {
		json_t *o = NULL;
		if ((r = hv_image_get(arg_pool, uuid, &o, &e)) < 0)
			return fail(r, e);
		(void)json_array_append_new(chain, o);
		uuid = json_string_value(json_object_get(json_object_get(o, "manifest"), "origin"));
	}
	return table_command("ancestry", chain, argc, argv, "uuid,name,version,pub", "");
}

int
cmd_vacuum(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_auto_t *items = NULL, *origins = json_object(), *doomed = json_array();
	bool dry = false, force = false;
	size_t i;
	json_t *it;
	int c, r;

	opts_reset();
	while ((c = getopt(argc, argv, "nfP:")) != -1) {
		if (c == 'n')
			dry = true;
		else if (c == 'f')
			force = true;
		else if (c == 'P')
			arg_pool = optarg;
		else
			return usage_error("usage: imgadm vacuum [-n] [-f]");
	}
	if ((r = hv_image_list(arg_pool, &items, &e)) < 0)
		return fail(r, e);
	json_array_foreach (items, i, it) {
		const char *o = json_string_value(
		        json_object_get(json_object_get(it, "manifest"), "origin"));
		if (o)
			(void)json_object_set_new(origins, o, json_true());
	}
	/* Unused: nothing cloned from it, and no other image built on it. */
	json_array_foreach (items, i, it) {
		const char *u =
		        json_string_value(json_object_get(json_object_get(it, "manifest"), "uuid"));
		if (u && json_integer_value(json_object_get(it, "clones")) == 0 &&
		    !json_object_get(origins, u))
			(void)json_array_append(doomed, it);
	}
	json_array_foreach (doomed, i, it) {
		_cleanup_free_ char *u = field_text(it, "uuid"), *n = field_text(it, "name"),
		                    *v = field_text(it, "version");
		printf("%s %s (%s@%s)\n", dry ? "Would delete" : "Deleting", u, strempty(n),
		       strempty(v));
	}
	if (dry || json_array_size(doomed) == 0)
		return 0;
	if (!force)
		return usage_error("vacuum: give -f to delete the %zu images above (or -n to only "
		                   "list them)",
		                   json_array_size(doomed));
	json_array_foreach (doomed, i, it) {
		_cleanup_free_ char *u = field_text(it, "uuid");
		if ((r = hv_image_delete(arg_pool, u, &e)) < 0)
			return fail(r, e);
	}
	return 0;
}

/* Every installed image still whole: its dataset and @final there. */
int
cmd_update(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_auto_t *items = NULL;
	struct hv_pool *p = NULL;
	bool dry = false;
	size_t i;
	json_t *it;
	int c, r, bad = 0;

	opts_reset();
	while ((c = getopt(argc, argv, "nP:")) != -1) {
		if (c == 'n')
			dry = true;
		else if (c == 'P')
			arg_pool = optarg;
		else
			return usage_error("usage: imgadm update [-n]");
	}
	if ((r = hv_image_list(arg_pool, &items, &e)) < 0 ||
	    (r = hv_pool_open(arg_pool, dry ? 0 : HV_POOL_OPEN_WRITE, &p, &e)) < 0)
		return fail(r, e);
	json_array_foreach (items, i, it) {
		_cleanup_free_ char *u = field_text(it, "uuid"), *ds = NULL, *snap = NULL,
		                    *dir = NULL;
		struct hv_dataset_info *l = NULL;
		size_t n = 0;

		if (!u || asprintf(&ds, "%s/%s", arg_pool, u) < 0 ||
		    asprintf(&snap, "%s@final", ds) < 0)
			continue;
		if (hv_pool_list(p, ds, HV_LIST_SNAPSHOTS, &l, &n, NULL) < 0) {
			printf("%s: its dataset %s is missing (delete and import it again)\n", u,
			       ds);
			bad++;
			continue;
		}
		bool has_final = false;
		for (size_t k = 0; k < n; k++)
			has_final |= streq(l[k].name, snap);
		hv_dataset_info_free_many(l, n);
		if (has_final)
			continue;
		printf("%s: no @final snapshot%s\n", u, dry ? "" : ", taking it");
		if (!dry && (r = hv_pool_snapshot(p, snap, &e)) < 0) {
			hv_pool_close(p);
			return fail(r, e);
		}
	}
	hv_pool_close(p);
	return bad ? EXIT_FAILURE : 0;
}
