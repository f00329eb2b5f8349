/* SPDX-License-Identifier: MIT */
/*
 * Reading the pool: `list` rows and dataset paths. A list is one read of the
 * database plus one space query to the backend for all rows together (btrfs:
 * a single search of the quota tree), so it stays fast with thousands of
 * datasets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "basic/cleanup.h"
#include "basic/path.h"
#include "storage/storage-dataset.h"
#include "storage/storage-db.h"
#include "storage/storage-name.h"

void
hv_dataset_info_free_many(struct hv_dataset_info *l, size_t n)
{
	for (size_t i = 0; l && i < n; i++) {
		free(l[i].name);
		free(l[i].mountpoint);
		free(l[i].origin);
		free(l[i].compression);
		free(l[i].guid);
	}
	free(l);
}

int
hv_pool_dataset_path(struct hv_pool *p, const char *name, char **ret, struct hv_error **reterr)
{
	int r = hv_ds_need(p, name, NULL, reterr);

	return r < 0 ? r : hv_ds_path(p, name, ret);
}

int
hv_pool_volume_path(struct hv_pool *p, const char *name, char **ret, struct hv_error **reterr)
{
	_cleanup_free_ char *dir = NULL;
	json_t *rec;
	int r;

	if ((r = hv_ds_need(p, name, &rec, reterr)) < 0)
		return r;
	if (!streq(hv_rec_str(rec, "type"), "volume"))
		return hv_error_set(reterr, -EINVAL, "'%s' is not a volume", name);
	if ((r = hv_ds_path(p, name, &dir)) < 0)
		return r;
	return path_join(dir, HV_VOLUME_FILE, ret);
}

/* guid of every snapshot → "dataset@snap", for origins. */
static json_t *
snapshot_names(struct hv_pool *p)
{
	json_t *m = json_object(), *ds, *s;
	const char *name, *sname;

	json_object_foreach (hv_db_datasets(p), name, ds)
		json_object_foreach (json_object_get(ds, "snapshots"), sname, s) {
			char *full;
			if (asprintf(&full, "%s@%s", name, sname) < 0)
				continue;
			json_object_set_new(m, hv_rec_str(s, "guid"), json_string(full));
			free(full);
		}
	return m;
}

struct rows {
	struct hv_dataset_info *info;
	struct hv_space *space;
	char **paths;
	size_t n, alloc;
};

static int
rows_add(struct rows *r)
{
	if (r->n == r->alloc) {
		size_t na = r->alloc ? r->alloc * 2 : 64;
		struct hv_dataset_info *ni = reallocarray(r->info, na, sizeof(*ni));
		if (!ni)
			return -ENOMEM;
		r->info = ni;
		struct hv_space *ns = reallocarray(r->space, na, sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		r->space = ns;
		char **np = reallocarray(r->paths, na, sizeof(*np));
		if (!np)
			return -ENOMEM;
		r->paths = np;
		r->alloc = na;
	}
	r->info[r->n] = (struct hv_dataset_info){0};
	r->space[r->n] = (struct hv_space){0};
	r->paths[r->n] = NULL;
	return (int)r->n++;
}

static int
add_dataset(struct hv_pool *p, struct rows *rows, const char *name, json_t *rec, json_t *snapnames)
{
	const char *origin = hv_rec_str(rec, "origin");
	int i = rows_add(rows), r;
	struct hv_dataset_info *d;

	if (i < 0)
		return i;
	d = &rows->info[i];
	d->type = hv_dataset_type_from_string(hv_rec_str(rec, "type"));
	d->name = strdup(name);
	d->guid = strdup(hv_rec_str(rec, "guid"));
	d->compression = strdup(hv_rec_str(rec, "compression") ?: "off");
	d->creation = hv_rec_u64(rec, "creation");
	d->quota = hv_rec_u64(rec, "quota");
	d->volsize = hv_rec_u64(rec, "volsize");
	if (origin && json_object_get(snapnames, origin))
		d->origin = strdup(json_string_value(json_object_get(snapnames, origin)));
	if ((r = hv_ds_path(p, name, &rows->paths[i])) < 0)
		return r;
	d->mountpoint = strdup(rows->paths[i]);
	if (!d->name || !d->guid || !d->compression || !d->mountpoint)
		return -ENOMEM;
	rows->space[i].group =
	        hv_rec_u64(rec, "group") ? HV_QGROUP_LEVEL1 | hv_rec_u64(rec, "group") : 0;
	return 0;
}

struct snap_ref {
	const char *name;
	json_t *rec;
};

static int
cmp_seq(const void *a, const void *b)
{
	uint64_t x = hv_rec_u64(((const struct snap_ref *)a)->rec, "seq");
	uint64_t y = hv_rec_u64(((const struct snap_ref *)b)->rec, "seq");

	return x < y ? -1 : x > y;
}

static int
add_snapshots(struct hv_pool *p, struct rows *rows, const char *name, json_t *rec)
{
	json_t *snaps = json_object_get(rec, "snapshots"), *s;
	size_t n = json_object_size(snaps), k = 0;
	_cleanup_free_ struct snap_ref *list = calloc(n + 1, sizeof(*list));
	const char *sname;
	int r;

	if (!list)
		return -ENOMEM;
	json_object_foreach (snaps, sname, s)
		list[k++] = (struct snap_ref){sname, s};
	qsort(list, n, sizeof(*list), cmp_seq); /* in the order they were taken */
	for (k = 0; k < n; k++) {
		int i = rows_add(rows);
		struct hv_dataset_info *d;

		if (i < 0)
			return i;
		d = &rows->info[i];
		d->type = HV_DATASET_SNAPSHOT;
		if (asprintf(&d->name, "%s@%s", name, list[k].name) < 0) {
			d->name = NULL;
			return -ENOMEM;
		}
		d->guid = strdup(hv_rec_str(list[k].rec, "guid"));
		d->creation = hv_rec_u64(list[k].rec, "creation");
		d->volsize = hv_rec_u64(rec, "volsize");
		d->compression = strdup(hv_rec_str(rec, "compression") ?: "off");
		if (!d->guid || !d->compression)
			return -ENOMEM;
		if ((r = hv_snap_path(p, list[k].rec, &rows->paths[i])) < 0)
			return r;
	}
	return 0;
}

/* avail: the pool's free space, less what every quota above (and on) the dataset leaves. */
static void
fill_avail(struct hv_pool *p, struct rows *rows, json_t *index, uint64_t free_bytes)
{
	for (size_t i = 0; i < rows->n; i++) {
		struct hv_dataset_info *d = &rows->info[i];
		_cleanup_free_ char *cur = d->type == HV_DATASET_SNAPSHOT ? NULL : strdup(d->name);
		uint64_t avail = free_bytes;

		d->avail = d->type == HV_DATASET_SNAPSHOT ? UINT64_MAX : free_bytes;
		while (cur) {
			json_t *rec = hv_db_dataset(p, cur), *at = json_object_get(index, cur);
			uint64_t q = hv_rec_u64(rec, "quota");
			char *parent = NULL;

			if (q && at) {
				uint64_t used = rows->space[json_integer_value(at)].used;
				if (used != UINT64_MAX)
					avail = MIN(avail, q > used ? q - used : 0);
			}
			(void)hv_name_parent(cur, &parent);
			free(cur);
			cur = parent;
		}
		if (d->type != HV_DATASET_SNAPSHOT)
			d->avail = avail;
	}
}

int
hv_pool_list(struct hv_pool *p, const char *name, unsigned flags, struct hv_dataset_info **ret,
             size_t *ret_n, struct hv_error **reterr)
{
	_cleanup_free_ const char **names = NULL;
	json_auto_t *snapnames = snapshot_names(p), *index = json_object();
	struct rows rows = {0};
	struct statvfs sv;
	size_t n;
	int r;

	if (!snapnames || !index)
		return -ENOMEM;
	if (name && (r = hv_ds_need(p, name, NULL, reterr)) < 0)
		return r;
	if ((r = hv_db_sorted_names(p, &names, &n)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		json_t *rec = hv_db_dataset(p, names[i]);
		bool vol = streq(hv_rec_str(rec, "type"), "volume");
		bool selected =
		        !name || streq(names[i], name) ||
		        ((flags & HV_LIST_RECURSIVE) && hv_name_is_descendant(names[i], name));

		/* Every dataset gets a row: the quotas above the listed ones need its space. */
		json_object_set_new(index, names[i], json_integer((json_int_t)rows.n));
		if ((r = add_dataset(p, &rows, names[i], rec, snapnames)) < 0)
			goto fail;
		if (!selected || !((vol && (flags & HV_LIST_VOLUMES)) ||
		                   (!vol && (flags & HV_LIST_FILESYSTEMS))))
			rows.info[rows.n - 1].type = _HV_DATASET_TYPE_INVALID; /* not shown */
		if (selected && (flags & HV_LIST_SNAPSHOTS) &&
		    (r = add_snapshots(p, &rows, names[i], rec)) < 0)
			goto fail;
	}
	for (size_t i = 0; i < rows.n; i++)
		rows.space[i].path = rows.paths[i];
	r = p->ops->space(p, rows.space, rows.n, reterr);
	if (r < 0)
		goto fail;
	if (statvfs(p->spec.mountpoint, &sv) < 0)
		sv = (struct statvfs){0};
	fill_avail(p, &rows, index, sv.f_frsize ? (uint64_t)sv.f_bavail * sv.f_frsize : UINT64_MAX);
	/* The pool's root dataset uses what the whole pool uses, as in ZFS. */
	if (rows.n && streq(rows.info[0].name, p->spec.name) && sv.f_frsize)
		rows.space[0].used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;

	/* Keep the rows asked for; hand over their strings. */
	n = 0;
	for (size_t i = 0; i < rows.n; i++) {
		rows.info[i].used = rows.space[i].used;
		rows.info[i].refer = rows.space[i].refer;
		if (rows.info[i].type == _HV_DATASET_TYPE_INVALID) {
			free(rows.info[i].name);
			free(rows.info[i].mountpoint);
			free(rows.info[i].origin);
			free(rows.info[i].compression);
			free(rows.info[i].guid);
			continue;
		}
		if (rows.info[i].type == HV_DATASET_SNAPSHOT) {
			free(rows.info[i].mountpoint);
			rows.info[i].mountpoint = NULL;
		}
		rows.info[n++] = rows.info[i];
	}
	for (size_t i = 0; i < rows.n; i++)
		free(rows.paths[i]);
	free(rows.paths);
	free(rows.space);
	*ret = rows.info;
	*ret_n = n;
	return 0;
fail:
	for (size_t i = 0; i < rows.n; i++)
		free(rows.paths[i]);
	free(rows.paths);
	free(rows.space);
	hv_dataset_info_free_many(rows.info, rows.n);
	return r;
}
