/* SPDX-License-Identifier: MIT */
/*
 * The pool: theory of operation.
 *
 * A pool is one filesystem mounted at $SABLE_ROOT/<name> (btrfs: a
 * filesystem on devices or on a loop-mounted sparse file; dir: a plain
 * directory). The node config records how to find it again
 * (pool_<name>_backend, _file, _uuid), so `pooladm import` after a reboot
 * needs nothing else; with no record, a btrfs pool is found by its label,
 * which is its name, as a RAM-booted SmartOS finds `zones`.
 *
 * Inside the pool, every filesystem and volume is a dataset (a btrfs
 * subvolume, or a directory) at the path its name gives: zones/a/b lives at
 * $SABLE_ROOT/zones/a/b. Snapshots are read-only datasets kept out of every
 * dataset's tree, in <pool>/.sable/snapshots/<guid>, so no zone can see
 * them; a volume is a dataset holding one sparse raw file, "volume".
 *
 * What exists is what the pool database says (storage-db.h), not what the
 * filesystem happens to hold. Every change follows one pattern, under the
 * pool lock (<pool>/.sable/lock):
 *
 *   1. write the intent ("pending") into the database;
 *   2. carry out the steps on the filesystem;
 *   3. write the new records and drop the intent, in one atomic replace.
 *
 * Destroys invert 1 and 3: the records go first (that is the commit point;
 * from then on the datasets are gone for every reader) and the intent stays
 * until the subvolumes are deleted. A process killed at any point leaves the
 * database at the old or the new state, and the intent tells the next
 * process that opens the pool what to undo (a half-made create, clone,
 * rename or rollback) or to finish (a committed destroy). Readers never
 * lock: the database file is replaced atomically, so `list` sees one whole
 * state; when no writer holds the lock, a reader finishes a leftover intent
 * itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/config.h"
#include "basic/fileio.h"
#include "basic/lock.h"
#include "basic/path.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "storage/storage-db.h"
#include "storage/storage-name.h"
#include "storage/storage-pool.h"

#define POOL_LOCK_TIMEOUT_MS  30000
#define DEFAULT_POOL_FILE_DIR HV_LIB_DIR

static const char *const backend_names[_HV_POOL_BACKEND_MAX] = {
        [HV_POOL_BACKEND_BTRFS] = "btrfs",
        [HV_POOL_BACKEND_DIR] = "dir",
};

static const char *const quota_names[_HV_QUOTA_MAX] = {
        [HV_QUOTA_AUTO] = "auto",
        [HV_QUOTA_SIMPLE] = "simple",
        [HV_QUOTA_FULL] = "full",
        [HV_QUOTA_NONE] = "none",
};

static const char *const type_names[_HV_DATASET_TYPE_MAX] = {
        [HV_DATASET_FILESYSTEM] = "filesystem",
        [HV_DATASET_VOLUME] = "volume",
        [HV_DATASET_SNAPSHOT] = "snapshot",
};

#define ENUM_STRINGS(fn, type, table, max)                       \
	const char *fn##_to_string(type v)                       \
	{                                                        \
		return v >= 0 && (int)v < max ? table[v] : NULL; \
	}                                                        \
	type fn##_from_string(const char *s)                     \
	{                                                        \
		for (int i = 0; s && i < max; i++)               \
			if (streq(table[i], s))                  \
				return (type)i;                  \
		return (type)-EINVAL;                            \
	}

ENUM_STRINGS(hv_pool_backend, enum hv_pool_backend, backend_names, _HV_POOL_BACKEND_MAX)
ENUM_STRINGS(hv_quota_mode, enum hv_quota_mode, quota_names, _HV_QUOTA_MAX)
ENUM_STRINGS(hv_dataset_type, enum hv_dataset_type, type_names, _HV_DATASET_TYPE_MAX)

const struct hv_pool_ops *
hv_pool_ops_for(enum hv_pool_backend b)
{
	switch (b) {
	case HV_POOL_BACKEND_BTRFS:
		return &hv_pool_btrfs_ops;
	case HV_POOL_BACKEND_DIR:
		return &hv_pool_dir_ops;
	default:
		return NULL;
	}
}

void
hv_pool_spec_done(struct hv_pool_spec *s)
{
	free(s->name);
	free(s->mountpoint);
	free(s->file);
	free(s->uuid);
	strv_free(s->devices);
	*s = (struct hv_pool_spec){0};
}

struct hv_pool_status *
hv_pool_status_free(struct hv_pool_status *s)
{
	if (!s)
		return NULL;
	free(s->name);
	free(s->mountpoint);
	free(s->health);
	free(s->profile);
	free(s->uuid);
	free(s->file);
	for (size_t i = 0; i < s->n_devices; i++)
		free(s->devices[i].path);
	free(s->devices);
	free(s);
	return NULL;
}

static int
config_key(const char *pool, const char *what, char **ret)
{
	return asprintf(ret, "pool_%s_%s", pool, what) < 0 ? -ENOMEM : 0;
}

static int
config_get(const struct hv_config *c, const char *pool, const char *what, char **ret)
{
	_cleanup_free_ char *key = NULL;
	const char *v;
	int r = config_key(pool, what, &key);

	if (r < 0)
		return r;
	v = hv_config_get(c, key);
	if (!v) {
		*ret = NULL;
		return 0;
	}
	*ret = strdup(v);
	return *ret ? 1 : -ENOMEM;
}

static int
config_set(const char *pool, const char *what, const char *value, struct hv_error **reterr)
{
	_cleanup_free_ char *key = NULL, *path = NULL;
	int r;

	if ((r = config_key(pool, what, &key)) < 0 || (r = hv_root_path(HV_CONFIG_FILE, &path)) < 0)
		return r;
	return hv_config_update(path, key, value, reterr);
}

static int
check_pool_name(const char *name, struct hv_error **reterr)
{
	if (!hv_pool_name_is_valid(name))
		return hv_error_set(reterr, -EINVAL,
		                    "invalid pool name '%s': expected lower-case letters, digits "
		                    "and '_', starting with a letter, at most %d",
		                    name ? name : "", HV_POOL_NAME_MAX);
	return 0;
}

/*
 * What the node config says about pool name. Returns 1 when it records the
 * pool, 0 when not (spec then has name and mountpoint only).
 */
static int
spec_load(const char *name, struct hv_pool_spec *spec, struct hv_error **reterr)
{
	_cleanup_hv_config_ struct hv_config *cfg = NULL;
	_cleanup_free_ char *root = NULL, *backend = NULL;
	int r;

	*spec = (struct hv_pool_spec){0};
	if ((r = check_pool_name(name, reterr)) < 0 || (r = hv_node_config_load(&cfg, reterr)) < 0)
		return r;
	if ((r = hv_root(&root)) < 0)
		return r;
	spec->name = strdup(name);
	if (!spec->name || path_join(root, name, &spec->mountpoint) < 0)
		return -ENOMEM;
	if ((r = config_get(cfg, name, "backend", &backend)) < 0 ||
	    (r = config_get(cfg, name, "file", &spec->file)) < 0 ||
	    (r = config_get(cfg, name, "uuid", &spec->uuid)) < 0)
		return r;
	if (!backend) {
		spec->backend = HV_POOL_BACKEND_BTRFS;
		return 0;
	}
	spec->backend = hv_pool_backend_from_string(backend);
	if ((int)spec->backend < 0)
		return hv_error_set(reterr, -EINVAL,
		                    "%s: pool_%s_backend is '%s', expected 'btrfs' or 'dir'",
		                    cfg->source, name, backend);
	return 1;
}

static int
spec_record(const struct hv_pool_spec *spec, struct hv_error **reterr)
{
	int r;

	if ((r = config_set(spec->name, "backend", hv_pool_backend_to_string(spec->backend),
	                    reterr)) < 0 ||
	    (r = config_set(spec->name, "file", spec->file, reterr)) < 0 ||
	    (r = config_set(spec->name, "uuid", spec->uuid, reterr)) < 0)
		return r;
	return 0;
}

int
hv_pool_list_names(char ***ret, struct hv_error **reterr)
{
	_cleanup_hv_config_ struct hv_config *cfg = NULL;
	_cleanup_strv_free_ char **names = NULL;
	int r;

	r = hv_node_config_load(&cfg, reterr);
	if (r < 0)
		return r;
	names = calloc(1, sizeof(char *));
	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_entries; i++) {
		const char *k = cfg->entries[i].key, *rest = startswith(k, "pool_");
		size_t kl = strlen(k);

		if (!rest || kl < 13 || !streq(k + kl - 8, "_backend"))
			continue;
		r = strv_consume(&names, strndup(rest, (size_t)(k + kl - 8 - rest)));
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(names);
	return 0;
}

static int
pool_paths(struct hv_pool *p)
{
	if (path_join(p->spec.mountpoint, ".sable", &p->meta_dir) < 0 ||
	    path_join(p->meta_dir, "pool.json", &p->db_path) < 0)
		return -ENOMEM;
	return 0;
}

static int
make_meta_dirs(struct hv_pool *p, struct hv_error **reterr)
{
	static const char *const sub[] = {"snapshots", "tmp"};

	for (size_t i = 0; i < ELEMENTSOF(sub); i++) {
		_cleanup_free_ char *d = NULL;
		int r;

		if (path_join(p->meta_dir, sub[i], &d) < 0)
			return -ENOMEM;
		r = mkdir_p(d, 0700);
		if (r < 0)
			return hv_error_set(reterr, r, "cannot create '%s': %m", d);
	}
	return 0;
}

int
hv_pool_create(const struct hv_pool_create_opts *o, struct hv_error **reterr)
{
	_cleanup_(hv_pool_closep) struct hv_pool *p = calloc(1, sizeof(*p));
	_cleanup_free_ char *root = NULL;
	bool made_file = false;
	int r;

	if (!p)
		return -ENOMEM;
	p->lock_fd = -EBADF;
	r = spec_load(o->name, &p->spec, reterr);
	if (r < 0)
		return r;
	if (r > 0)
		return hv_error_set(reterr, -EEXIST,
		                    "pool '%s' already exists: the node config records it",
		                    o->name);

	p->spec.backend = o->backend;
	p->spec.quota_mode = o->quota_mode;
	p->spec.raid1 = o->raid1;
	if (o->backend == HV_POOL_BACKEND_BTRFS) {
		if (!strv_length(o->devices) && !o->file && !o->file_size)
			return hv_error_set(reterr, -EINVAL,
			                    "pool '%s': expected devices, or a file size for a "
			                    "loop-backed pool",
			                    o->name);
		if (strv_length(o->devices) && (o->file || o->file_size))
			return hv_error_set(reterr, -EINVAL,
			                    "pool '%s': expected devices or a file, not both",
			                    o->name);
		if (o->raid1 && strv_length(o->devices) < 2)
			return hv_error_set(reterr, -EINVAL,
			                    "pool '%s': raid1 needs at least two devices", o->name);
		if (!strv_length(o->devices) && !o->file_size)
			return hv_error_set(reterr, -EINVAL,
			                    "pool '%s': a loop-backed pool needs a size", o->name);
		if (strv_length(o->devices)) {
			for (char *const *d = o->devices; *d; d++)
				if ((r = strv_push(&p->spec.devices, *d)) < 0)
					return r;
		} else if (o->file) {
			p->spec.file = strdup(o->file);
		} else {
			if ((r = hv_root(&root)) < 0)
				return r;
			if (asprintf(&p->spec.file, "%s%s/%s.img", streq(root, "/") ? "" : root,
			             DEFAULT_POOL_FILE_DIR, o->name) < 0)
				p->spec.file = NULL;
		}
		if ((o->file_size || o->file) && !p->spec.file)
			return -ENOMEM;
		p->spec.file_size = o->file_size;
		made_file = p->spec.file != NULL;
	} else if (strv_length(o->devices) || o->file)
		return hv_error_set(reterr, -EINVAL,
		                    "pool '%s': the dir backend takes no devices or files",
		                    o->name);

	p->ops = hv_pool_ops_for(o->backend);
	if (!p->ops)
		return hv_error_set(reterr, -EINVAL, "pool '%s': unknown backend", o->name);
	r = p->ops->pool_create(&p->spec, reterr);
	if (r < 0)
		return r;

	if ((r = pool_paths(p)) < 0 || (r = make_meta_dirs(p, reterr)) < 0 ||
	    (r = hv_db_init(p, reterr)) < 0 || (r = hv_db_save(p, reterr)) < 0 ||
	    (r = spec_record(&p->spec, reterr)) < 0) {
		/* Undo: the filesystem goes, and with it everything we wrote on it. */
		(void)p->ops->pool_export(&p->spec, NULL);
		if (made_file)
			(void)unlink(p->spec.file);
		else if (o->backend == HV_POOL_BACKEND_DIR)
			(void)p->ops->subvol_delete(p, p->spec.mountpoint, NULL);
		return r;
	}
	return 0;
}

static int
import_one(const char *name, bool quiet_if_imported, struct hv_error **reterr)
{
	_cleanup_(hv_pool_spec_done) struct hv_pool_spec spec = {0};
	const struct hv_pool_ops *ops;
	_cleanup_free_ char *old_uuid = NULL;
	int r, recorded;

	recorded = spec_load(name, &spec, reterr);
	if (recorded < 0)
		return recorded;
	ops = hv_pool_ops_for(spec.backend);
	r = ops->pool_is_imported(&spec, reterr);
	if (r < 0)
		return r;
	if (r > 0)
		return quiet_if_imported ? 0
		                         : hv_error_set(reterr, -EEXIST,
		                                        "pool '%s' is already imported at '%s'",
		                                        name, spec.mountpoint);
	if (spec.uuid && !(old_uuid = strdup(spec.uuid)))
		return -ENOMEM;
	r = ops->pool_import(&spec, reterr);
	if (r < 0)
		return r;
	if (!recorded || !streq_ptr(old_uuid, spec.uuid)) {
		r = spec_record(&spec, reterr);
		if (r < 0) {
			(void)ops->pool_export(&spec, NULL);
			return r;
		}
	}
	return 0;
}

int
hv_pool_import(const char *name, struct hv_error **reterr)
{
	_cleanup_strv_free_ char **names = NULL;
	int r, ret = 0;

	if (name)
		return import_one(name, false, reterr);
	r = hv_pool_list_names(&names, reterr);
	if (r < 0)
		return r;
	STRV_FOREACH (n, names) {
		r = import_one(*n, true, reterr);
		if (r < 0 && ret == 0)
			ret = r; /* keep going: one bad pool must not keep the others down */
	}
	return ret;
}

int
hv_pool_export(const char *name, struct hv_error **reterr)
{
	_cleanup_(hv_pool_spec_done) struct hv_pool_spec spec = {0};
	const struct hv_pool_ops *ops;
	int r;

	r = spec_load(name, &spec, reterr);
	if (r < 0)
		return r;
	if (r == 0)
		return hv_error_set(reterr, -ENOENT, "no pool named '%s'", name);
	ops = hv_pool_ops_for(spec.backend);
	r = ops->pool_is_imported(&spec, reterr);
	if (r < 0)
		return r;
	if (r == 0)
		return hv_error_set(reterr, -ENOENT, "pool '%s' is not imported", name);
	return ops->pool_export(&spec, reterr);
}

struct hv_pool *
hv_pool_close(struct hv_pool *p)
{
	if (!p)
		return NULL;
	hv_pool_spec_done(&p->spec);
	free(p->meta_dir);
	free(p->db_path);
	p->lock_fd = safe_close(p->lock_fd);
	json_decref(p->db);
	free(p);
	return NULL;
}

static int
take_lock(struct hv_pool *p, uint64_t timeout_ms, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL;
	int r;

	if (path_join(p->meta_dir, "lock", &path) < 0)
		return -ENOMEM;
	r = lock_file(path, LOCK_EX, timeout_ms, &p->lock_fd);
	if (r == -ETIMEDOUT)
		return hv_error_set(reterr, -EBUSY,
		                    "pool '%s' is busy: another operation has held its lock for "
		                    "%llu s",
		                    p->spec.name, (unsigned long long)(timeout_ms / 1000));
	if (r < 0)
		return hv_error_set(reterr, r, "cannot lock pool '%s': %m", p->spec.name);
	return 0;
}

int
hv_pool_open(const char *name, unsigned flags, struct hv_pool **ret, struct hv_error **reterr)
{
	_cleanup_(hv_pool_closep) struct hv_pool *p = calloc(1, sizeof(*p));
	const char *mode;
	int r;

	if (!p)
		return -ENOMEM;
	p->lock_fd = -EBADF;
	r = spec_load(name, &p->spec, reterr);
	if (r < 0)
		return r;
	if (r == 0 && access(p->spec.mountpoint, F_OK) < 0)
		return hv_error_set(reterr, -ENOENT, "no pool named '%s'", name);
	p->ops = hv_pool_ops_for(p->spec.backend);
	r = p->ops->pool_is_imported(&p->spec, reterr);
	if (r < 0)
		return r;
	if (r == 0)
		return hv_error_set(reterr, -ENOENT,
		                    "pool '%s' is not imported (run 'pooladm import %s')", name,
		                    name);
	if ((r = pool_paths(p)) < 0)
		return r;
	if (flags & HV_POOL_OPEN_WRITE) {
		r = take_lock(p, POOL_LOCK_TIMEOUT_MS, reterr);
		if (r < 0)
			return r;
	}
	r = hv_db_load(p, reterr);
	if (r < 0)
		return r;
	mode = hv_rec_str(p->db, "quota_mode");
	p->spec.quota_mode = mode ? hv_quota_mode_from_string(mode) : HV_QUOTA_NONE;

	if (json_object_get(p->db, "pending")) {
		/* A reader finishes the leftover only when no writer is at work. */
		if (!(flags & HV_POOL_OPEN_WRITE) && take_lock(p, 0, NULL) < 0)
			goto done;
		r = hv_db_load(p, reterr);
		if (r >= 0)
			r = hv_pool_recover(p, reterr);
		if (!(flags & HV_POOL_OPEN_WRITE))
			p->lock_fd = safe_close(p->lock_fd);
		if (r < 0)
			return hv_error_prefix(
			        reterr, r, "pool '%s': finishing an interrupted operation", name);
	}
done:
	if ((flags & HV_POOL_OPEN_WRITE) && (r = hv_pool_drop_stale_groups(p, reterr)) < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}

int
hv_pool_open_for(const char *dataset, unsigned flags, struct hv_pool **ret,
                 struct hv_error **reterr)
{
	_cleanup_free_ char *pool = NULL;
	int r;

	r = hv_dataset_name_check(dataset, true, reterr);
	if (r < 0)
		return r;
	r = hv_name_pool(dataset, &pool);
	if (r < 0)
		return r;
	return hv_pool_open(pool, flags, ret, reterr);
}

int
hv_pool_get_status(struct hv_pool *p, struct hv_pool_status **ret, struct hv_error **reterr)
{
	_cleanup_(hv_pool_status_freep) struct hv_pool_status *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	r = p->ops->pool_status(p, s, reterr);
	if (r < 0)
		return r;
	s->name = strdup(p->spec.name);
	s->mountpoint = strdup(p->spec.mountpoint);
	s->backend = p->spec.backend;
	s->quota_mode = p->spec.quota_mode;
	s->uuid = p->spec.uuid ? strdup(p->spec.uuid) : NULL;
	s->file = p->spec.file ? strdup(p->spec.file) : NULL;
	if (!s->name || !s->mountpoint || (p->spec.uuid && !s->uuid) || (p->spec.file && !s->file))
		return -ENOMEM;
	*ret = TAKE_PTR(s);
	return 0;
}

int
hv_pool_scrub(struct hv_pool *p, struct hv_scrub_result *ret, struct hv_error **reterr)
{
	*ret = (struct hv_scrub_result){0};
	return p->ops->pool_scrub(p, ret, reterr);
}
