/* SPDX-License-Identifier: MIT */
/*
 * Changing what exists: destroy (with -r and -R), rename, rollback,
 * promote and property changes. See storage-pool.c for the transaction
 * pattern; destroy commits first and deletes after, the others make their
 * steps first and commit last.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fault.h"
#include "basic/parse.h"
#include "basic/path.h"
#include "basic/strv.h"
#include "storage/storage-dataset.h"
#include "storage/storage-db.h"
#include "storage/storage-name.h"
#include "storage/storage-pool.h"

/* What a destroy takes away, in deletion order (nested datasets before their parents). */
struct victims {
	json_t *seen;  /* name or name@snap → true */
	json_t *order; /* ["d", name] or ["s", dataset, snap] */
};

static int collect_dataset(struct hv_pool *p, const char *name, unsigned flags, struct victims *v,
                           struct hv_error **reterr);

/* Datasets whose origin is the snapshot with this guid. */
static int
clones_of(struct hv_pool *p, const char *guid, char ***ret)
{
	_cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
	const char *name;
	json_t *rec;
	int r;

	if (!l)
		return -ENOMEM;
	json_object_foreach (hv_db_datasets(p), name, rec)
		if (streq_ptr(hv_rec_str(rec, "origin"), guid) && (r = strv_push(&l, name)) < 0)
			return r;
	*ret = TAKE_PTR(l);
	return 0;
}

static int
collect_snapshot(struct hv_pool *p, const char *ds, const char *snap, unsigned flags,
                 struct victims *v, struct hv_error **reterr)
{
	_cleanup_strv_free_ char **clones = NULL;
	_cleanup_free_ char *full = NULL;
	json_t *srec = hv_db_snapshot(hv_db_dataset(p, ds), snap);
	int r;

	if (asprintf(&full, "%s@%s", ds, snap) < 0)
		return -ENOMEM;
	if (json_object_get(v->seen, full))
		return 0;
	json_object_set_new(v->seen, full, json_true());
	if ((r = clones_of(p, hv_rec_str(srec, "guid"), &clones)) < 0)
		return r;
	if (clones[0] && !(flags & HV_DESTROY_DEPENDENTS))
		return hv_error_set(reterr, -EBUSY,
		                    "cannot destroy '%s': it has dependent clones ('%s'%s); use -R "
		                    "to destroy them too, or promote them first",
		                    full, clones[0], clones[1] ? ", …" : "");
	STRV_FOREACH (c, clones)
		if ((r = collect_dataset(p, *c, flags | HV_DESTROY_RECURSIVE, v, reterr)) < 0)
			return r;
	json_array_append_new(v->order, json_pack("[s,s,s]", "s", ds, snap));
	return 0;
}

static int
collect_dataset(struct hv_pool *p, const char *name, unsigned flags, struct victims *v,
                struct hv_error **reterr)
{
	_cleanup_strv_free_ char **children = NULL;
	json_t *snaps = json_object_get(hv_db_dataset(p, name), "snapshots"), *s;
	const char *sname;
	int r;

	if (json_object_get(v->seen, name))
		return 0;
	json_object_set_new(v->seen, name, json_true());
	if ((r = hv_ds_children(p, name, false, &children)) < 0)
		return r;
	if (!(flags & (HV_DESTROY_RECURSIVE | HV_DESTROY_DEPENDENTS))) {
		if (children[0])
			return hv_error_set(reterr, -EBUSY,
			                    "cannot destroy '%s': it has children ('%s'%s); use -r",
			                    name, children[0], children[1] ? ", …" : "");
		json_object_foreach (snaps, sname, s)
			return hv_error_set(
			        reterr, -EBUSY,
			        "cannot destroy '%s': it has snapshots ('%s@%s'%s); use -r", name,
			        name, sname, json_object_size(snaps) > 1 ? ", …" : "");
	}
	STRV_FOREACH (c, children)
		if ((r = collect_dataset(p, *c, flags, v, reterr)) < 0)
			return r;
	json_object_foreach (snaps, sname, s)
		if ((r = collect_snapshot(p, name, sname, flags, v, reterr)) < 0)
			return r;
	json_array_append_new(v->order, json_pack("[s,s]", "d", name));
	return 0;
}

int
hv_pool_destroy(struct hv_pool *p, const char *name, unsigned flags, struct hv_error **reterr)
{
	struct victims v = {json_object(), json_array()};
	json_auto_t *seen = v.seen, *order = v.order, *paths = json_array(), *dirs = json_array(),
	            *groups = json_array();
	_cleanup_free_ char *ds = NULL, *snap = NULL;
	size_t i;
	json_t *e;
	int r;

	if (!seen || !order || !paths || !dirs || !groups)
		return -ENOMEM;
	if ((r = hv_dataset_name_check(name, true, reterr)) < 0)
		return r;
	if (hv_name_split_snapshot(name, &ds, &snap) >= 0) {
		json_t *drec, *srec;
		if ((r = hv_snap_need(p, name, &drec, &srec, NULL, NULL, reterr)) < 0 ||
		    (r = collect_snapshot(p, ds, snap, flags, &v, reterr)) < 0)
			return r;
	} else {
		if ((r = hv_ds_need(p, name, NULL, reterr)) < 0)
			return r;
		if (streq(name, p->spec.name))
			return hv_error_set(
			        reterr, -EINVAL,
			        "cannot destroy the pool's root dataset '%s' (export the "
			        "pool instead)",
			        name);
		if ((r = collect_dataset(p, name, flags, &v, reterr)) < 0)
			return r;
	}

	/* Check everything before changing anything. */
	json_array_foreach (order, i, e) {
		const char *n = json_string_value(json_array_get(e, 1));
		const char *sname = json_string_value(json_array_get(e, 2));
		_cleanup_free_ char *path = NULL, *what = NULL;
		json_t *rec = hv_db_dataset(p, n),
		       *srec = sname ? hv_db_snapshot(rec, sname) : NULL;

		r = srec ? hv_snap_path(p, srec, &path) : hv_ds_path(p, n, &path);
		if (r < 0)
			return r;
		if (srec && asprintf(&what, "%s@%s", n, sname) < 0)
			return -ENOMEM;
		if ((r = hv_check_not_busy(path, what ? what : n, reterr)) < 0)
			return r;
		json_array_append_new(paths, json_string(path));
		if (srec && hv_rec_str(srec, "path")) {
			/* A received snapshot sits in a directory of its own. */
			char *dir = NULL;
			if (path_dirname(path, &dir) < 0)
				return -ENOMEM;
			json_array_append_new(dirs, json_string(dir));
			free(dir);
		}
		if (!srec && hv_rec_u64(rec, "group"))
			json_array_append_new(groups,
			                      json_integer((json_int_t)hv_rec_u64(rec, "group")));
	}

	/* Commit: the records go, the intent to delete stays until the space is free. */
	json_array_foreach (order, i, e) {
		const char *kind = json_string_value(json_array_get(e, 0));
		const char *n = json_string_value(json_array_get(e, 1));

		if (streq(kind, "s"))
			json_object_del(json_object_get(hv_db_dataset(p, n), "snapshots"),
			                json_string_value(json_array_get(e, 2)));
	}
	json_array_foreach (order, i, e)
		if (streq(json_string_value(json_array_get(e, 0)), "d"))
			json_object_del(hv_db_datasets(p), json_string_value(json_array_get(e, 1)));
	r = hv_tx_begin(p,
	                json_pack("{s:s, s:O, s:O, s:O}", "op", "destroy", "paths", paths, "dirs",
	                          dirs, "groups", groups),
	                reterr);
	if (r < 0)
		return hv_tx_abort(p, r);
	if ((r = fault_point("destroy:commit")) < 0)
		return r;
	return hv_pool_recover(p, reterr);
}

/* g is in the JSON array of group numbers l. */
static bool
has_group(json_t *l, uint64_t g)
{
	size_t i;
	json_t *e;

	json_array_foreach (l, i, e)
		if ((uint64_t)json_integer_value(e) == g)
			return true;
	return false;
}

static json_t *
group_array(const uint64_t *g, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)(g[i] & ~HV_QGROUP_LEVEL1)));
	return a;
}

/*
 * Moving a dataset under a new parent moves its subtree's space from the
 * old ancestors' quota groups to the new ones': every subvolume of the
 * subtree (datasets and their snapshots) leaves the groups only the old
 * ancestors have and joins those only the new ones have.
 *   {"members": [paths], "add": [groups], "remove": [groups]}
 */
static int
regroup_plan(struct hv_pool *p, const char *from, const char *tparent, json_t **ret)
{
	_cleanup_free_ uint64_t *og = NULL, *ng = NULL;
	_cleanup_free_ const char **names = NULL;
	json_auto_t *old = NULL, *new = NULL, *plan = NULL;
	json_t *members, *add, *rm, *e;
	size_t no, nn, n, i;
	int r;

	if ((r = hv_ds_groups(p, from, false, &og, &no)) < 0 ||
	    (r = hv_ds_groups(p, tparent, true, &ng, &nn)) < 0 ||
	    (r = hv_db_sorted_names(p, &names, &n)) < 0)
		return r;
	old = group_array(og, no);
	new = group_array(ng, nn);
	plan = json_pack("{s:[], s:[], s:[]}", "members", "add", "remove");
	if (!old || !new || !plan)
		return -ENOMEM;
	members = json_object_get(plan, "members");
	add = json_object_get(plan, "add");
	rm = json_object_get(plan, "remove");
	json_array_foreach (new, i, e)
		if (!has_group(old, (uint64_t)json_integer_value(e)))
			json_array_append(add, e);
	json_array_foreach (old, i, e)
		if (!has_group(new, (uint64_t)json_integer_value(e)))
			json_array_append(rm, e);

	for (i = 0; i < n; i++) {
		json_t *rec = hv_db_dataset(p, names[i]), *srec;
		_cleanup_free_ char *path = NULL;
		const char *k;

		if (!streq(names[i], from) && !hv_name_is_descendant(names[i], from))
			continue;
		if ((r = hv_ds_path(p, names[i], &path)) < 0)
			return r;
		json_array_append_new(members, json_string(path));
		json_object_foreach (json_object_get(rec, "snapshots"), k, srec) {
			_cleanup_free_ char *sp = NULL;
			if ((r = hv_snap_path(p, srec, &sp)) < 0)
				return r;
			json_array_append_new(members, json_string(sp));
		}
	}
	*ret = TAKE_PTR(plan);
	return 0;
}

int
hv_regroup(struct hv_pool *p, json_t *plan, bool undo, struct hv_error **reterr)
{
	json_t *add = json_object_get(plan, undo ? "remove" : "add");
	json_t *rm = json_object_get(plan, undo ? "add" : "remove"), *m, *g;
	size_t i, j;
	int r;

	json_array_foreach (json_object_get(plan, "members"), i, m) {
		json_array_foreach (add, j, g)
			if ((r = p->ops->group_assign(p, json_string_value(m),
			                              HV_QGROUP_LEVEL1 |
			                                      (uint64_t)json_integer_value(g),
			                              true, reterr)) < 0)
				return r;
		json_array_foreach (rm, j, g)
			if ((r = p->ops->group_assign(p, json_string_value(m),
			                              HV_QGROUP_LEVEL1 |
			                                      (uint64_t)json_integer_value(g),
			                              false, reterr)) < 0)
				return r;
	}
	return 0;
}

int
hv_pool_rename(struct hv_pool *p, const char *from, const char *to, struct hv_error **reterr)
{
	_cleanup_free_ char *fds = NULL, *fsnap = NULL, *tds = NULL, *tsnap = NULL;
	_cleanup_free_ char *fpath = NULL, *tpath = NULL, *fparent = NULL, *tparent = NULL;
	_cleanup_free_ const char **names = NULL;
	json_t *rec, *snaps, *s;
	size_t n;
	int r;

	if ((r = hv_dataset_name_check(from, true, reterr)) < 0 ||
	    (r = hv_dataset_name_check(to, true, reterr)) < 0)
		return r;
	if (hv_name_split_snapshot(from, &fds, &fsnap) >= 0) {
		/* Snapshots: a new name for the record, nothing moves. */
		if (hv_name_split_snapshot(to, &tds, &tsnap) < 0 || !streq(fds, tds))
			return hv_error_set(
			        reterr, -EINVAL,
			        "cannot rename '%s' to '%s': a snapshot keeps its dataset", from,
			        to);
		if ((r = hv_snap_need(p, from, &rec, &s, NULL, NULL, reterr)) < 0)
			return r;
		snaps = json_object_get(rec, "snapshots");
		if (json_object_get(snaps, tsnap))
			return hv_error_set(reterr, -EEXIST, "snapshot '%s' already exists", to);
		json_object_set(snaps, tsnap, s);
		json_object_del(snaps, fsnap);
		return hv_db_save(p, reterr);
	}
	if (strchr(to, '@'))
		return hv_error_set(reterr, -EINVAL, "cannot rename dataset '%s' to snapshot '%s'",
		                    from, to);
	if ((r = hv_ds_need(p, from, &rec, reterr)) < 0)
		return r;
	if (streq(from, p->spec.name))
		return hv_error_set(reterr, -EINVAL, "cannot rename the pool's root dataset");
	if (hv_db_dataset(p, to))
		return hv_error_set(reterr, -EEXIST, "dataset '%s' already exists", to);
	if (hv_name_is_descendant(to, from))
		return hv_error_set(reterr, -EINVAL, "cannot rename '%s' below itself ('%s')", from,
		                    to);
	if (hv_name_parent(to, &tparent) < 0 || !hv_db_dataset(p, tparent))
		return hv_error_set(reterr, -ENOENT,
		                    "cannot rename to '%s': its parent does not exist", to);
	if (streq(hv_rec_str(hv_db_dataset(p, tparent), "type"), "volume"))
		return hv_error_set(reterr, -ENOTDIR, "cannot rename to '%s': '%s' is a volume", to,
		                    tparent);
	(void)hv_name_parent(from, &fparent);
	if ((r = hv_ds_path(p, from, &fpath)) < 0 || (r = hv_ds_path(p, to, &tpath)) < 0)
		return r;
	if ((r = hv_check_not_busy(fpath, from, reterr)) < 0)
		return r;
	if (access(tpath, F_OK) == 0)
		return hv_error_set(reterr, -EEXIST, "cannot rename to '%s': '%s' exists", to,
		                    tpath);

	json_auto_t *regroup = NULL;
	if (!streq(fparent, tparent) && (r = regroup_plan(p, from, tparent, &regroup)) < 0)
		return r;
	r = hv_tx_begin(p,
	                json_pack("{s:s, s:s, s:s, s:O*}", "op", "rename", "from", fpath, "to",
	                          tpath, "regroup", regroup),
	                reterr);
	if (r < 0)
		return r;
	if ((r = fault_point("rename:begin")) < 0 ||
	    (r = hv_regroup(p, regroup, false, reterr)) < 0 ||
	    (r = fault_point("rename:regrouped")) < 0)
		return hv_tx_abort(p, r);
	if (rename(fpath, tpath) < 0)
		return hv_tx_abort(p, hv_error_set(reterr, -errno, "cannot rename '%s' to '%s': %m",
		                                   fpath, tpath));
	if ((r = fault_point("rename:moved")) < 0)
		return hv_tx_abort(p, r);

	/* The dataset and its descendants take their new names. */
	if ((r = hv_db_sorted_names(p, &names, &n)) < 0)
		return hv_tx_abort(p, r);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *nn = NULL;
		if (!streq(names[i], from) && !hv_name_is_descendant(names[i], from))
			continue;
		if (asprintf(&nn, "%s%s", to, names[i] + strlen(from)) < 0)
			return hv_tx_abort(p, -ENOMEM);
		json_object_set(hv_db_datasets(p), nn, hv_db_dataset(p, names[i]));
		json_object_del(hv_db_datasets(p), names[i]);
	}
	r = hv_tx_commit(p, reterr);
	return r < 0 ? hv_tx_abort(p, r) : 0;
}

/* Snapshots of drec newer than seq, as a JSON array of names. */
static json_t *
newer_snapshots(json_t *drec, uint64_t seq)
{
	json_t *l = json_array(), *s;
	const char *name;

	json_object_foreach (json_object_get(drec, "snapshots"), name, s)
		if (hv_rec_u64(s, "seq") > seq)
			json_array_append_new(l, json_string(name));
	return l;
}

int
hv_pool_rollback(struct hv_pool *p, const char *snapshot, bool destroy_newer,
                 struct hv_error **reterr)
{
	_cleanup_free_ char *ds = NULL, *snap = NULL, *path = NULL, *src = NULL, *newp = NULL,
	                    *oldp = NULL;
	_cleanup_strv_free_ char **children = NULL;
	_cleanup_free_ uint64_t *groups = NULL;
	json_auto_t *newer = NULL, *destroy = json_array();
	size_t n_groups, i;
	json_t *drec, *srec, *e;
	uint64_t tx;
	int r;

	if ((r = hv_snap_need(p, snapshot, &drec, &srec, &ds, &snap, reterr)) < 0)
		return r;
	newer = newer_snapshots(drec, hv_rec_u64(srec, "seq"));
	if (json_array_size(newer) > 0 && !destroy_newer)
		return hv_error_set(reterr, -EEXIST,
		                    "cannot roll back to '%s': newer snapshots exist ('%s@%s'%s); "
		                    "use -r to destroy them",
		                    snapshot, ds, json_string_value(json_array_get(newer, 0)),
		                    json_array_size(newer) > 1 ? ", …" : "");
	json_array_foreach (newer, i, e) {
		_cleanup_strv_free_ char **clones = NULL;
		_cleanup_free_ char *sp = NULL;
		json_t *nrec = hv_db_snapshot(drec, json_string_value(e));

		if ((r = clones_of(p, hv_rec_str(nrec, "guid"), &clones)) < 0)
			return r;
		if (clones[0])
			return hv_error_set(reterr, -EBUSY,
			                    "cannot roll back to '%s': newer snapshot '%s@%s' has "
			                    "dependent clones ('%s')",
			                    snapshot, ds, json_string_value(e), clones[0]);
		if ((r = hv_snap_path(p, nrec, &sp)) < 0)
			return r;
		json_array_append_new(destroy, json_string(sp));
	}
	if ((r = hv_ds_path(p, ds, &path)) < 0 || (r = hv_check_not_busy(path, ds, reterr)) < 0 ||
	    (r = hv_snap_path(p, srec, &src)) < 0 ||
	    (r = hv_ds_children(p, ds, true, &children)) < 0 ||
	    (r = hv_ds_groups(p, ds, true, &groups, &n_groups)) < 0)
		return r;

	tx = hv_rec_u64(json_object_get(p->db, "next"), "tx");
	if ((r = hv_tmp_path(p, tx, "new", &newp)) < 0 ||
	    (r = hv_tmp_path(p, tx, "old", &oldp)) < 0)
		return r;
	json_auto_t *kids = json_array();
	STRV_FOREACH (c, children)
		json_array_append_new(kids, json_string(*c));
	r = hv_tx_begin(p,
	                json_pack("{s:s, s:s, s:s, s:s, s:O}", "op", "rollback", "path", path,
	                          "new", newp, "old", oldp, "children", kids),
	                reterr);
	if (r < 0)
		return r;

	/* A writable copy of the snapshot, the children moved into it, then the swap. */
	if ((r = fault_point("rollback:begin")) < 0 ||
	    (r = p->ops->subvol_snapshot(p, src, newp, false, NULL, groups, n_groups, reterr)) <
	            0 ||
	    (r = fault_point("rollback:snapshot")) < 0)
		return hv_tx_abort(p, r);
	STRV_FOREACH (c, children) {
		_cleanup_free_ char *from = NULL, *to = NULL;

		if (path_join(path, *c, &from) < 0 || path_join(newp, *c, &to) < 0)
			return hv_tx_abort(p, -ENOMEM);
		(void)rmdir(to); /* the empty placeholder the snapshot has where the child was */
		if (rename(from, to) < 0)
			return hv_tx_abort(p, hv_error_set(reterr, -errno,
			                                   "cannot move child '%s' of '%s': %m", *c,
			                                   ds));
		if ((r = fault_point("rollback:child")) < 0)
			return hv_tx_abort(p, r);
	}
	if (rename(path, oldp) < 0)
		return hv_tx_abort(
		        p, hv_error_set(reterr, -errno, "cannot move '%s' aside: %m", path));
	if ((r = fault_point("rollback:aside")) < 0)
		return hv_tx_abort(p, r);
	if (rename(newp, path) < 0)
		return hv_tx_abort(
		        p, hv_error_set(reterr, -errno, "cannot move '%s' into place: %m", newp));
	if ((r = fault_point("rollback:swapped")) < 0)
		return hv_tx_abort(p, r);

	/* Commit: newer snapshots are gone; what remains is freeing space. */
	json_array_foreach (newer, i, e)
		json_object_del(json_object_get(drec, "snapshots"), json_string_value(e));
	json_array_insert_new(destroy, 0, json_string(oldp));
	r = hv_tx_begin(p,
	                json_pack("{s:s, s:O, s:[]}", "op", "destroy", "paths", destroy, "groups"),
	                reterr);
	if (r < 0)
		return hv_tx_abort(p, r);
	if ((r = fault_point("rollback:commit")) < 0)
		return r;
	return hv_pool_recover(p, reterr);
}

int
hv_pool_promote(struct hv_pool *p, const char *clone, struct hv_error **reterr)
{
	json_t *crec, *frec, *srec, *fsnaps, *csnaps, *s;
	const char *origin, *fname, *sname, *k;
	json_auto_t *moving = json_object();
	uint64_t seq;
	int r;

	if ((r = hv_ds_need(p, clone, &crec, reterr)) < 0)
		return r;
	origin = hv_rec_str(crec, "origin");
	if (!origin)
		return hv_error_set(reterr, -EINVAL, "cannot promote '%s': it is not a clone",
		                    clone);
	if (hv_db_find_snapshot(p, origin, &fname, &sname) < 0)
		return hv_error_set(reterr, -EUCLEAN, "cannot promote '%s': its origin is gone",
		                    clone);
	frec = hv_db_dataset(p, fname);
	fsnaps = json_object_get(frec, "snapshots");
	csnaps = json_object_get(crec, "snapshots");
	srec = json_object_get(fsnaps, sname);
	seq = hv_rec_u64(srec, "seq");

	/* The origin's snapshots up to the clone's origin move to the clone (as zfs promote). */
	json_object_foreach (fsnaps, k, s)
		if (hv_rec_u64(s, "seq") <= seq) {
			if (json_object_get(csnaps, k))
				return hv_error_set(
				        reterr, -EEXIST,
				        "cannot promote '%s': it already has a snapshot "
				        "named '%s' (rename it first)",
				        clone, k);
			json_object_set(moving, k, s);
		}
	json_object_foreach (moving, k, s) {
		json_object_set(csnaps, k, s);
		json_object_del(fsnaps, k);
	}
	/* The former origin becomes a clone of what it gave; the clone takes its old origin. */
	if (json_object_get(frec, "origin"))
		json_object_set(crec, "origin", json_object_get(frec, "origin"));
	else
		json_object_del(crec, "origin");
	json_object_set_new(frec, "origin", json_string(hv_rec_str(srec, "guid")));
	return hv_db_save(p, reterr);
}

static int
set_quota(struct hv_pool *p, const char *name, json_t *rec, const char *value,
          struct hv_error **reterr)
{
	uint64_t bytes = 0, group = hv_rec_u64(rec, "group");
	struct hv_dataset_info *info = NULL;
	size_t n = 0;
	int r;

	if (!streq(value, "none") && (parse_size(value, &bytes) < 0 || bytes == 0))
		return hv_error_set(reterr, -EINVAL,
		                    "quota '%s' for '%s': expected a size such as 10G, or none",
		                    value, name);
	if (p->spec.quota_mode == HV_QUOTA_NONE && bytes)
		return hv_error_set(reterr, -EOPNOTSUPP,
		                    "cannot set a quota on '%s': pool '%s' (%s backend) keeps no "
		                    "space accounting",
		                    name, p->spec.name, p->ops->name);
	if (group == 0)
		return hv_error_set(reterr, -EINVAL, "the pool's root dataset '%s' takes no quota",
		                    name);
	if (bytes && (r = hv_pool_list(p, name, HV_LIST_FILESYSTEMS | HV_LIST_VOLUMES, &info, &n,
	                               reterr)) >= 0) {
		uint64_t used = n ? info[0].used : 0;
		hv_dataset_info_free_many(info, n);
		if (used != UINT64_MAX && bytes < used)
			return hv_error_set(reterr, -EINVAL,
			                    "quota %s for '%s' is smaller than the %llu bytes it "
			                    "already uses",
			                    value, name, (unsigned long long)used);
	} else if (bytes)
		return r;

	r = hv_tx_begin(p,
	                json_pack("{s:s, s:I, s:I}", "op", "limit", "group", (json_int_t)group,
	                          "bytes", (json_int_t)bytes),
	                reterr);
	if (r < 0)
		return r;
	r = p->ops->group_limit(p, HV_QGROUP_LEVEL1 | group, bytes, reterr);
	if (r < 0) {
		json_object_del(p->db, "pending");
		(void)hv_db_save(p, NULL);
		return r;
	}
	json_object_set_new(rec, "quota", json_integer((json_int_t)bytes));
	return hv_tx_commit(p, reterr);
}

static int
set_volsize(struct hv_pool *p, const char *name, json_t *rec, const char *value,
            struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL;
	uint64_t bytes, old = hv_rec_u64(rec, "volsize");
	int r;

	if (!streq(hv_rec_str(rec, "type"), "volume"))
		return hv_error_set(reterr, -EINVAL, "'%s' is not a volume: it has no volsize",
		                    name);
	if (parse_size(value, &bytes) < 0 || bytes == 0)
		return hv_error_set(reterr, -EINVAL,
		                    "volsize '%s' for '%s': expected a size such as 10G", value,
		                    name);
	if (bytes < old)
		return hv_error_set(reterr, -EINVAL,
		                    "volsize %s for '%s' would shrink it from %llu bytes; volumes "
		                    "only grow",
		                    value, name, (unsigned long long)old);
	if ((r = hv_pool_volume_path(p, name, &path, reterr)) < 0)
		return r;
	if (truncate(path, (off_t)bytes) < 0)
		return hv_error_set(reterr, -errno, "cannot grow '%s': %m", path);
	json_object_set_new(rec, "volsize", json_integer((json_int_t)bytes));
	return hv_db_save(p, reterr);
}

int
hv_pool_set(struct hv_pool *p, const char *name, const char *prop, const char *value,
            struct hv_error **reterr)
{
	static const char *const readonly[] = {"name",   "type",     "used",       "avail", "refer",
	                                       "origin", "creation", "mountpoint", "guid"};
	_cleanup_free_ char *path = NULL;
	json_t *rec;
	int r;

	if ((r = hv_ds_need(p, name, &rec, reterr)) < 0)
		return r;
	if (streq(prop, "quota"))
		return set_quota(p, name, rec, value, reterr);
	if (streq(prop, "volsize"))
		return set_volsize(p, name, rec, value, reterr);
	if (streq(prop, "compression")) {
		if ((r = hv_check_compression(value, reterr)) < 0 ||
		    (r = hv_ds_path(p, name, &path)) < 0 ||
		    (r = p->ops->set_compression(p, path, value, reterr)) < 0)
			return r;
		json_object_set_new(rec, "compression", json_string(value));
		return hv_db_save(p, reterr);
	}
	for (size_t i = 0; i < ELEMENTSOF(readonly); i++)
		if (streq(prop, readonly[i]))
			return hv_error_set(reterr, -EINVAL, "property '%s' is read-only", prop);
	return hv_error_set(reterr, -EINVAL,
	                    "unknown property '%s'; expected quota, compression or volsize", prop);
}
