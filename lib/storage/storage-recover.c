/* SPDX-License-Identifier: MIT */
/*
 * Finishing what a crash interrupted. The database's "pending" member is the
 * intent of the one operation that was under way (storage-pool.c):
 *
 *   create   {path, group?}               not committed: delete path and group
 *   destroy  {paths, groups}              committed: delete what is left
 *   rename   {from, to, regroup?}         not committed: move it back (and its quota groups)
 *   rollback {path, new, old, children}   not committed: put the old one back
 *   limit    {group, bytes}               re-apply the quota limit, then commit
 *   receive  {dir, snapdir, path?, group?} not committed: delete what arrived
 *
 * Quota groups of destroyed datasets stay busy until the btrfs cleaner has
 * freed their members; those go to "stale_groups" and every writer that
 * opens the pool tries them again (hv_pool_drop_stale_groups()).
 *
 * Each step is idempotent, so a crash during recovery is recovered by the
 * next run in the same way. The intent is dropped only when every step
 * succeeded.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/path.h"
#include "storage/storage-dataset.h"
#include "storage/storage-db.h"
#include "storage/storage-pool.h"

static bool
exists(const char *path)
{
	struct stat st;

	return path && lstat(path, &st) == 0;
}

static int
delete_path(struct hv_pool *p, const char *path, struct hv_error **reterr)
{
	int r;

	if (!path || !exists(path))
		return 0;
	r = p->ops->subvol_delete(p, path, reterr);
	return r == -ENOENT ? 0 : r;
}

static int
move(const char *from, const char *to, struct hv_error **reterr)
{
	if (rename(from, to) < 0)
		return hv_error_set(reterr, -errno, "cannot move '%s' back to '%s': %m", from, to);
	return 0;
}

static int
undo_rollback(struct hv_pool *p, json_t *in, struct hv_error **reterr)
{
	const char *path = hv_rec_str(in, "path"), *newp = hv_rec_str(in, "new"),
	           *oldp = hv_rec_str(in, "old");
	size_t i;
	json_t *c;
	int r;

	if (!path || !newp || !oldp)
		return hv_error_set(reterr, -EUCLEAN, "the rollback intent is incomplete");
	/* The swap may have happened: the old subvolume goes back to its place. */
	if (exists(oldp)) {
		if (exists(path) && (r = move(path, newp, reterr)) < 0)
			return r;
		if ((r = move(oldp, path, reterr)) < 0)
			return r;
	}
	/* Children that were moved into the new one come home. */
	json_array_foreach (json_object_get(in, "children"), i, c) {
		_cleanup_free_ char *from = NULL, *to = NULL;

		if (path_join(newp, json_string_value(c), &from) < 0 ||
		    path_join(path, json_string_value(c), &to) < 0)
			return -ENOMEM;
		if (exists(to) || !exists(from))
			continue;
		if ((r = move(from, to, reterr)) < 0)
			return r;
	}
	return delete_path(p, newp, reterr);
}

/* Delete what is in dir (subvolumes or trees), then dir. */
static int
empty_dir(struct hv_pool *p, const char *dir, struct hv_error **reterr)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r;

	if (!dir || !(d = opendir(dir)))
		return 0;
	while ((de = readdir(d))) {
		_cleanup_free_ char *e = NULL;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (path_join(dir, de->d_name, &e) < 0)
			return -ENOMEM;
		if ((r = delete_path(p, e, reterr)) < 0)
			return r;
	}
	(void)rmdir(dir);
	return 0;
}

/* What `receive` left: the dataset, if it got that far, and the received snapshot. */
static int
undo_receive(struct hv_pool *p, json_t *in, struct hv_error **reterr)
{
	int r;

	if ((r = delete_path(p, hv_rec_str(in, "path"), reterr)) < 0 ||
	    (r = empty_dir(p, hv_rec_str(in, "dir"), reterr)) < 0 ||
	    (r = empty_dir(p, hv_rec_str(in, "snapdir"), reterr)) < 0)
		return r;
	if (hv_rec_u64(in, "group"))
		(void)p->ops->group_destroy(p, HV_QGROUP_LEVEL1 | hv_rec_u64(in, "group"), NULL);
	return 0;
}

static json_t *stale_groups(struct hv_pool *p);

static int
finish_destroy(struct hv_pool *p, json_t *in, struct hv_error **reterr)
{
	size_t i;
	json_t *e;
	int r;

	json_array_foreach (json_object_get(in, "paths"), i, e)
		if ((r = delete_path(p, json_string_value(e), reterr)) < 0)
			return r;
	json_array_foreach (json_object_get(in, "dirs"), i, e)
		(void)rmdir(json_string_value(e));
	/* A group whose deleted members the btrfs cleaner still holds waits for a later run. */
	json_array_foreach (json_object_get(in, "groups"), i, e)
		if (p->ops->group_destroy(p, HV_QGROUP_LEVEL1 | (uint64_t)json_integer_value(e),
		                          NULL) < 0)
			json_array_append(stale_groups(p), e);
	return 0;
}

static json_t *
stale_groups(struct hv_pool *p)
{
	json_t *l = json_object_get(p->db, "stale_groups");

	if (!l) {
		l = json_array();
		json_object_set_new(p->db, "stale_groups", l);
	}
	return l;
}

int
hv_pool_drop_stale_groups(struct hv_pool *p, struct hv_error **reterr)
{
	json_t *l = json_object_get(p->db, "stale_groups"), *left, *e;
	size_t i;

	if (json_array_size(l) == 0)
		return 0;
	left = json_array();
	json_array_foreach (l, i, e)
		if (p->ops->group_destroy(p, HV_QGROUP_LEVEL1 | (uint64_t)json_integer_value(e),
		                          NULL) < 0)
			json_array_append(left, e);
	if (json_array_size(left) == json_array_size(l)) {
		json_decref(left);
		return 0;
	}
	if (json_array_size(left) == 0) {
		json_decref(left);
		json_object_del(p->db, "stale_groups");
	} else
		json_object_set_new(p->db, "stale_groups", left);
	return hv_db_save(p, reterr);
}

int
hv_pool_recover(struct hv_pool *p, struct hv_error **reterr)
{
	json_t *in = json_object_get(p->db, "pending");
	const char *op = hv_rec_str(in, "op");
	uint64_t group = hv_rec_u64(in, "group");
	int r = 0;

	if (!in)
		return 0;
	if (!op)
		r = hv_error_set(reterr, -EUCLEAN, "the pending intent has no operation");
	else if (streq(op, "create")) {
		r = delete_path(p, hv_rec_str(in, "path"), reterr);
		if (r >= 0 && group)
			(void)p->ops->group_destroy(p, HV_QGROUP_LEVEL1 | group, NULL);
	} else if (streq(op, "destroy"))
		r = finish_destroy(p, in, reterr);
	else if (streq(op, "rename")) {
		const char *from = hv_rec_str(in, "from"), *to = hv_rec_str(in, "to");
		if (from && to && !exists(from) && exists(to))
			r = move(to, from, reterr);
		if (r >= 0 && json_object_get(in, "regroup"))
			r = hv_regroup(p, json_object_get(in, "regroup"), true, reterr);
	} else if (streq(op, "rollback"))
		r = undo_rollback(p, in, reterr);
	else if (streq(op, "limit"))
		r = p->ops->group_limit(p, HV_QGROUP_LEVEL1 | group, hv_rec_u64(in, "bytes"),
		                        reterr);
	else if (streq(op, "receive"))
		r = undo_receive(p, in, reterr);
	else
		r = hv_error_set(reterr, -EUCLEAN, "unknown pending operation '%s'", op);
	if (r < 0)
		return r;
	if (op && streq(op, "limit")) {
		/* The limit was the last step: the record can now say so. */
		const char *name;
		json_t *rec;
		json_object_foreach (hv_db_datasets(p), name, rec)
			if (hv_rec_u64(rec, "group") == group)
				json_object_set_new(
				        rec, "quota",
				        json_integer((json_int_t)hv_rec_u64(in, "bytes")));
	}
	return hv_tx_commit(p, reterr);
}
