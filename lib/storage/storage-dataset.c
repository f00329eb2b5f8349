/* SPDX-License-Identifier: MIT */
/*
 * Dataset operations: create, snapshot, clone, destroy, rename, rollback,
 * promote, and the recovery of each one after a crash. Every multi-step
 * operation follows the pattern described in storage-pool.c: intent,
 * steps, commit. The fault points (fault_point()) sit between the steps so
 * that tests can kill the process at each one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fault.h"
#include "basic/fileio.h"
#include "basic/path.h"
#include "basic/strv.h"
#include "storage/storage-dataset.h"
#include "storage/storage-db.h"
#include "storage/storage-name.h"
#include "storage/storage-pool.h"

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int
hv_ds_path(struct hv_pool *p, const char *name, char **ret)
{
	const char *rest = name + strlen(p->spec.name);

	if (!*rest)
		return (*ret = strdup(p->spec.mountpoint)) ? 0 : -ENOMEM;
	return path_join_beneath(p->spec.mountpoint, rest, ret);
}

int
hv_snap_guid_path(struct hv_pool *p, const char *guid, char **ret)
{
	return asprintf(ret, "%s/snapshots/%s", p->meta_dir, guid) < 0 ? -ENOMEM : 0;
}

int
hv_snap_path(struct hv_pool *p, const json_t *srec, char **ret)
{
	const char *rel = hv_rec_str(srec, "path");

	if (rel)
		return path_join_beneath(p->meta_dir, rel, ret);
	return hv_snap_guid_path(p, hv_rec_str(srec, "guid"), ret);
}

int
hv_tmp_path(struct hv_pool *p, uint64_t tx, const char *what, char **ret)
{
	return asprintf(ret, "%s/tmp/%llu-%s", p->meta_dir, (unsigned long long)tx, what) < 0
	               ? -ENOMEM
	               : 0;
}

/* name must be a dataset (not a snapshot) of this pool that exists. */
int
hv_ds_need(struct hv_pool *p, const char *name, json_t **ret, struct hv_error **reterr)
{
	_cleanup_free_ char *pool = NULL;
	json_t *rec;
	int r;

	r = hv_dataset_name_check(name, false, reterr);
	if (r < 0)
		return r;
	if ((r = hv_name_pool(name, &pool)) < 0)
		return r;
	if (!streq(pool, p->spec.name))
		return hv_error_set(reterr, -EINVAL, "'%s' is not in pool '%s'", name,
		                    p->spec.name);
	rec = hv_db_dataset(p, name);
	if (!rec)
		return hv_error_set(reterr, -ENOENT, "dataset '%s' does not exist", name);
	if (ret)
		*ret = rec;
	return 0;
}

/* name@snap must exist; returns the dataset record, the snapshot record and names. */
int
hv_snap_need(struct hv_pool *p, const char *full, json_t **ret_ds, json_t **ret_snap,
             char **ret_dsname, char **ret_snapname, struct hv_error **reterr)
{
	_cleanup_free_ char *ds = NULL, *snap = NULL;
	json_t *drec, *srec;
	int r;

	r = hv_dataset_name_check(full, true, reterr);
	if (r < 0)
		return r;
	if (!strchr(full, '@'))
		return hv_error_set(reterr, -EINVAL,
		                    "'%s' is not a snapshot, expected name@snapshot", full);
	if ((r = hv_name_split_snapshot(full, &ds, &snap)) < 0)
		return r;
	if ((r = hv_ds_need(p, ds, &drec, reterr)) < 0)
		return r;
	srec = hv_db_snapshot(drec, snap);
	if (!srec)
		return hv_error_set(reterr, -ENOENT, "snapshot '%s' does not exist", full);
	*ret_ds = drec;
	*ret_snap = srec;
	if (ret_dsname)
		*ret_dsname = TAKE_PTR(ds);
	if (ret_snapname)
		*ret_snapname = TAKE_PTR(snap);
	return 0;
}

/* The level-1 groups of name's ancestors (and of name itself when self). */
int
hv_ds_groups(struct hv_pool *p, const char *name, bool self, uint64_t **ret, size_t *ret_n)
{
	_cleanup_free_ uint64_t *g = NULL;
	_cleanup_free_ char *cur = strdup(name);
	size_t n = 0;

	if (!cur)
		return -ENOMEM;
	g = calloc(strlen(name) + 1, sizeof(uint64_t)); /* at most one per component */
	if (!g)
		return -ENOMEM;
	for (bool first = true;; first = false) {
		json_t *rec = hv_db_dataset(p, cur);
		char *parent;

		if (rec && (!first || self) && hv_rec_u64(rec, "group") > 0)
			g[n++] = HV_QGROUP_LEVEL1 | hv_rec_u64(rec, "group");
		if (hv_name_parent(cur, &parent) < 0)
			break;
		free(cur);
		cur = parent;
	}
	*ret = TAKE_PTR(g);
	*ret_n = n;
	return 0;
}

int
hv_ds_groups_new(struct hv_pool *p, const char *name, uint64_t *ret_group, uint64_t **ret,
                 size_t *ret_n)
{
	_cleanup_free_ uint64_t *g = NULL;
	uint64_t *ng;
	size_t n;
	int r;

	r = hv_ds_groups(p, name, false, &g, &n);
	if (r < 0)
		return r;
	ng = reallocarray(g, n + 1, sizeof(uint64_t));
	if (!ng)
		return -ENOMEM;
	g = ng;
	*ret_group = hv_db_next(p, "group");
	g[n++] = HV_QGROUP_LEVEL1 | *ret_group;
	*ret = TAKE_PTR(g);
	*ret_n = n;
	return 0;
}

/* Direct children of name, sorted, as full names (rel: as last components). */
int
hv_ds_children(struct hv_pool *p, const char *name, bool rel, char ***ret)
{
	_cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
	_cleanup_free_ const char **names = NULL;
	size_t n, len = strlen(name);
	int r;

	if (!l)
		return -ENOMEM;
	r = hv_db_sorted_names(p, &names, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const char *c = names[i];
		if (!hv_name_is_descendant(c, name) || strchr(c + len + 1, '/'))
			continue;
		r = strv_push(&l, rel ? c + len + 1 : c);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(l);
	return 0;
}

/* Refuse when something is mounted at or below path: a running zone's root, a checkpoint. */
int
hv_check_not_busy(const char *path, const char *name, struct hv_error **reterr)
{
	_cleanup_strv_free_ char **mounts = NULL;
	int r;

	r = hv_mounts_below(path, &mounts);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read the mount table: %m");
	if (strv_length(mounts) > 0)
		return hv_error_set(reterr, -EBUSY, "dataset '%s' is busy: '%s' is mounted", name,
		                    mounts[0]);
	return 0;
}

int
hv_tx_begin(struct hv_pool *p, json_t *intent, struct hv_error **reterr)
{
	if (!intent)
		return -ENOMEM;
	json_object_set_new(intent, "tx", json_integer((json_int_t)hv_db_next(p, "tx")));
	json_object_set_new(p->db, "pending", intent);
	/*
	 * Filesystem transactions are ordered: any step that follows is
	 * persisted after this rename, so the directory need not be synced here.
	 */
	return hv_db_save_intent(p, reterr);
}

int
hv_tx_commit(struct hv_pool *p, struct hv_error **reterr)
{
	json_object_del(p->db, "pending");
	return hv_db_save(p, reterr);
}

/*
 * A step failed: go back to the state on disk (which holds the intent) and
 * undo it, as a crash would have. Returns r, the step's error.
 */
int
hv_tx_abort(struct hv_pool *p, int r)
{
	if (hv_db_load(p, NULL) >= 0)
		(void)hv_pool_recover(p, NULL);
	return r;
}

static const char *const compressions[] = {"off", "zstd", "lzo", "zlib"};

int
hv_check_compression(const char *v, struct hv_error **reterr)
{
	for (size_t i = 0; i < ELEMENTSOF(compressions); i++)
		if (streq(v, compressions[i]))
			return 0;
	return hv_error_set(reterr, -EINVAL, "compression '%s': expected off, zstd, lzo or zlib",
	                    v);
}

/* The compression a new dataset under name's parent gets when it names none. */
static const char *
inherited_compression(struct hv_pool *p, const char *name)
{
	_cleanup_free_ char *cur = NULL;

	if (hv_name_parent(name, &cur) < 0)
		return "off";
	for (;;) {
		const char *c = hv_rec_str(hv_db_dataset(p, cur), "compression");
		char *parent;

		if (c)
			return c;
		if (hv_name_parent(cur, &parent) < 0)
			return "off";
		free(cur);
		cur = parent;
	}
}

/* Checks shared by create and clone: name free, parent there and a filesystem, props sane. */
static int
check_new(struct hv_pool *p, const char *name, const struct hv_dataset_props *props,
          struct hv_error **reterr)
{
	_cleanup_free_ char *pool = NULL, *parent = NULL;
	json_t *prec;
	int r;

	if ((r = hv_dataset_name_check(name, false, reterr)) < 0)
		return r;
	if ((r = hv_name_pool(name, &pool)) < 0)
		return r;
	if (!streq(pool, p->spec.name))
		return hv_error_set(reterr, -EINVAL, "'%s' is not in pool '%s'", name,
		                    p->spec.name);
	if (hv_db_dataset(p, name))
		return hv_error_set(reterr, -EEXIST, "dataset '%s' already exists", name);
	if (hv_name_parent(name, &parent) < 0)
		return hv_error_set(reterr, -EEXIST, "pool '%s' already exists", name);
	prec = hv_db_dataset(p, parent);
	if (!prec && !(props && props->parents))
		return hv_error_set(reterr, -ENOENT,
		                    "cannot create '%s': parent '%s' does not exist (use -p)", name,
		                    parent);
	if (prec && streq(hv_rec_str(prec, "type"), "volume"))
		return hv_error_set(reterr, -ENOTDIR, "cannot create '%s': parent '%s' is a volume",
		                    name, parent);
	if (props && props->compression &&
	    (r = hv_check_compression(props->compression, reterr)) < 0)
		return r;
	if (props && props->quota && p->spec.quota_mode == HV_QUOTA_NONE)
		return hv_error_set(reterr, -EOPNOTSUPP,
		                    "cannot set a quota on '%s': pool '%s' (%s backend) keeps no "
		                    "space accounting",
		                    name, p->spec.name, p->ops->name);
	return 0;
}

static int create_parents(struct hv_pool *p, const char *name, struct hv_error **reterr);

/* Apply compression and quota to a dataset that was just made; part of its transaction. */
static int
apply_props(struct hv_pool *p, const char *name, const char *path, uint64_t group,
            const struct hv_dataset_props *props, struct hv_error **reterr)
{
	const char *comp =
	        props && props->compression ? props->compression : inherited_compression(p, name);
	int r;

	if (!streq(comp, "off") && (r = p->ops->set_compression(p, path, comp, reterr)) < 0)
		return r;
	if (props && props->quota &&
	    (r = p->ops->group_limit(p, HV_QGROUP_LEVEL1 | group, props->quota, reterr)) < 0)
		return r;
	return 0;
}

static json_t *
new_record(const char *type, uint64_t group, const struct hv_dataset_props *props)
{
	char guid[HV_GUID_LEN + 1];
	json_t *rec;

	if (hv_db_new_guid(guid) < 0)
		return NULL;
	rec = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:{}}", "guid", guid, "type", type,
	                "creation", (json_int_t)time(NULL), "group", (json_int_t)group, "quota",
	                (json_int_t)(props ? props->quota : 0), "volsize",
	                (json_int_t)(props ? props->volsize : 0), "snapshots");
	if (rec && props && props->compression)
		json_object_set_new(rec, "compression", json_string(props->compression));
	return rec;
}

static int
make_volume_file(const char *dir, uint64_t size, struct hv_error **reterr)
{
	_cleanup_free_ char *file = NULL;
	_cleanup_close_ int fd = -EBADF;

	if (path_join(dir, HV_VOLUME_FILE, &file) < 0)
		return -ENOMEM;
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return hv_error_set(reterr, -errno, "cannot create volume file '%s': %m", file);
	return 0;
}

int
hv_pool_create_dataset(struct hv_pool *p, const char *name, enum hv_dataset_type type,
                       const struct hv_dataset_props *props, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ uint64_t *groups = NULL;
	size_t n_groups;
	uint64_t group;
	json_t *rec;
	int r;

	if (type == HV_DATASET_SNAPSHOT)
		return hv_pool_snapshot(p, name, reterr);
	if ((r = check_new(p, name, props, reterr)) < 0)
		return r;
	if (type == HV_DATASET_VOLUME && (!props || props->volsize == 0))
		return hv_error_set(reterr, -EINVAL, "volume '%s' needs a size (-V SIZE)", name);
	if (type != HV_DATASET_VOLUME && props && props->volsize)
		return hv_error_set(reterr, -EINVAL, "'%s': only volumes have a volsize", name);
	if ((r = create_parents(p, name, reterr)) < 0)
		return r;
	if ((r = hv_ds_path(p, name, &path)) < 0)
		return r;
	if (exists(path))
		return hv_error_set(reterr, -EEXIST,
		                    "cannot create '%s': '%s' exists but is not a dataset", name,
		                    path);

	if ((r = hv_ds_groups_new(p, name, &group, &groups, &n_groups)) < 0)
		return r;

	r = hv_tx_begin(p,
	                json_pack("{s:s, s:s, s:I}", "op", "create", "path", path, "group",
	                          (json_int_t)group),
	                reterr);
	if (r < 0)
		return r;
	if ((r = fault_point("create:begin")) < 0 ||
	    (r = p->ops->group_create(p, HV_QGROUP_LEVEL1 | group, reterr)) < 0 ||
	    (r = p->ops->subvol_create(p, path, groups, n_groups, reterr)) < 0 ||
	    (r = fault_point("create:subvol")) < 0 ||
	    (type == HV_DATASET_VOLUME &&
	     (r = make_volume_file(path, props->volsize, reterr)) < 0) ||
	    (r = apply_props(p, name, path, group, props, reterr)) < 0)
		return hv_tx_abort(p, r);

	rec = new_record(hv_dataset_type_to_string(type), group, props);
	if (!rec || json_object_set_new(hv_db_datasets(p), name, rec) < 0)
		return hv_tx_abort(p, -ENOMEM);
	r = hv_tx_commit(p, reterr);
	if (r < 0)
		return hv_tx_abort(p, r);
	return fault_point("create:commit");
}

/* -p: make every missing ancestor of name, outermost first, each in its own transaction. */
static int
create_parents(struct hv_pool *p, const char *name, struct hv_error **reterr)
{
	_cleanup_free_ char *parent = NULL;
	int r;

	if (hv_name_parent(name, &parent) < 0 || hv_db_dataset(p, parent))
		return 0;
	r = create_parents(p, parent, reterr);
	if (r < 0)
		return r;
	return hv_pool_create_dataset(p, parent, HV_DATASET_FILESYSTEM,
	                              &(struct hv_dataset_props){.parents = true}, reterr);
}

int
hv_pool_snapshot(struct hv_pool *p, const char *full, struct hv_error **reterr)
{
	_cleanup_free_ char *ds = NULL, *snap = NULL, *src = NULL, *dst = NULL;
	_cleanup_strv_free_ char **skip = NULL;
	_cleanup_free_ uint64_t *groups = NULL;
	char guid[HV_GUID_LEN + 1];
	size_t n_groups;
	json_t *drec, *srec;
	int r;

	if ((r = hv_dataset_name_check(full, true, reterr)) < 0)
		return r;
	if (hv_name_split_snapshot(full, &ds, &snap) < 0)
		return hv_error_set(reterr, -EINVAL, "'%s' is not a snapshot name (name@snapshot)",
		                    full);
	if ((r = hv_ds_need(p, ds, &drec, reterr)) < 0)
		return r;
	if (streq(ds, p->spec.name))
		return hv_error_set(reterr, -EINVAL,
		                    "the pool's root dataset '%s' has no snapshots", ds);
	if (hv_db_snapshot(drec, snap))
		return hv_error_set(reterr, -EEXIST, "snapshot '%s' already exists", full);
	if (hv_db_new_guid(guid) < 0)
		return -EIO;
	if ((r = hv_ds_path(p, ds, &src)) < 0 || (r = hv_snap_guid_path(p, guid, &dst)) < 0 ||
	    (r = hv_ds_children(p, ds, true, &skip)) < 0 ||
	    (r = hv_ds_groups(p, ds, true, &groups, &n_groups)) < 0)
		return r;

	r = hv_tx_begin(p, json_pack("{s:s, s:s}", "op", "create", "path", dst), reterr);
	if (r < 0)
		return r;
	if ((r = fault_point("snapshot:begin")) < 0 ||
	    (r = p->ops->subvol_snapshot(p, src, dst, true, skip, groups, n_groups, reterr)) < 0 ||
	    (r = fault_point("snapshot:subvol")) < 0)
		return hv_tx_abort(p, r);
	srec = json_pack("{s:s, s:I, s:I}", "guid", guid, "creation", (json_int_t)time(NULL), "seq",
	                 (json_int_t)hv_db_next(p, "seq"));
	if (!srec || json_object_set_new(json_object_get(drec, "snapshots"), snap, srec) < 0)
		return hv_tx_abort(p, -ENOMEM);
	r = hv_tx_commit(p, reterr);
	if (r < 0)
		return hv_tx_abort(p, r);
	return fault_point("snapshot:commit");
}

int
hv_pool_clone(struct hv_pool *p, const char *snapshot, const char *name,
              const struct hv_dataset_props *props, struct hv_error **reterr)
{
	_cleanup_free_ char *src = NULL, *path = NULL;
	_cleanup_free_ uint64_t *groups = NULL;
	size_t n_groups;
	json_t *drec, *srec, *rec;
	uint64_t group;
	int r;

	if ((r = hv_snap_need(p, snapshot, &drec, &srec, NULL, NULL, reterr)) < 0)
		return r;
	if ((r = check_new(p, name, props, reterr)) < 0)
		return r;
	if (props && props->volsize)
		return hv_error_set(reterr, -EINVAL, "a clone takes its volsize from its origin");
	if ((r = create_parents(p, name, reterr)) < 0)
		return r;
	if ((r = hv_snap_path(p, srec, &src)) < 0 || (r = hv_ds_path(p, name, &path)) < 0)
		return r;
	if (exists(path))
		return hv_error_set(reterr, -EEXIST,
		                    "cannot create '%s': '%s' exists but is not a dataset", name,
		                    path);

	if ((r = hv_ds_groups_new(p, name, &group, &groups, &n_groups)) < 0)
		return r;

	r = hv_tx_begin(p,
	                json_pack("{s:s, s:s, s:I}", "op", "create", "path", path, "group",
	                          (json_int_t)group),
	                reterr);
	if (r < 0)
		return r;
	if ((r = fault_point("clone:begin")) < 0 ||
	    (r = p->ops->group_create(p, HV_QGROUP_LEVEL1 | group, reterr)) < 0 ||
	    (r = p->ops->subvol_snapshot(p, src, path, false, NULL, groups, n_groups, reterr)) <
	            0 ||
	    (r = fault_point("clone:subvol")) < 0 ||
	    (r = apply_props(p, name, path, group, props, reterr)) < 0)
		return hv_tx_abort(p, r);

	rec = new_record(hv_rec_str(drec, "type"), group, props);
	if (!rec)
		return hv_tx_abort(p, -ENOMEM);
	json_object_set_new(rec, "volsize", json_integer((json_int_t)hv_rec_u64(drec, "volsize")));
	json_object_set_new(rec, "origin", json_string(hv_rec_str(srec, "guid")));
	if (json_object_set_new(hv_db_datasets(p), name, rec) < 0)
		return hv_tx_abort(p, -ENOMEM);
	r = hv_tx_commit(p, reterr);
	if (r < 0)
		return hv_tx_abort(p, r);
	return fault_point("clone:commit");
}
