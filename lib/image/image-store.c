/* SPDX-License-Identifier: MIT */
/*
 * Installed images: theory of operation.
 *
 * An installed image is, as on SmartOS, the dataset <zpool>/<uuid> holding
 * what guests start from (a zone image carries the guest's / under root/,
 * so a clone of it is a zonepath; a zvol image is a volume), its read-only
 * snapshot @final that guests are cloned from, and its manifest in
 * imgadm's cache, $SABLE_ROOT/var/imgadm/images/<zpool>-<uuid>.json:
 * {"manifest": {...}, "zpool": "...", "source": "<url>"|null}. The
 * manifest is written last: an image without it is not installed.
 *
 * An install (image-install.c) works under a per-image lock
 * ($SABLE_ROOT/var/run/sable/img.<uuid>.import.lock, SmartOS's name) and an
 * intent ($SABLE_ROOT/var/imgadm/importing/<uuid>.json): it unpacks into
 * <zpool>/<uuid>-partial, renames that to <zpool>/<uuid>, takes @final and
 * writes the manifest. An intent whose lock is free belongs to a dead
 * install: recovery destroys the partial dataset, and the renamed one too
 * when no manifest was written, and nothing else: a dataset it did not
 * make is never touched.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/lock.h"
#include "basic/path.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "basic/uuid.h"
#include "image/image-internal.h"
#include "image/image.h"
#include "json/json.h"
#include "storage/pool.h"

#define CACHE_MAX (2 * 1024 * 1024)

static const char *
pool_or_default(const char *zpool)
{
	return zpool && *zpool ? zpool : "zones";
}

int
image_cache_path(const char *zpool, const char *uuid, char **ret)
{
	_cleanup_free_ char *rel = NULL;

	if (asprintf(&rel, "/var/imgadm/images/%s-%s.json", pool_or_default(zpool), uuid) < 0)
		return -ENOMEM;
	return hv_root_path(rel, ret);
}

int
image_intent_path(const char *uuid, char **ret)
{
	_cleanup_free_ char *rel = NULL;

	if (asprintf(&rel, "/var/imgadm/importing/%s.json", uuid) < 0)
		return -ENOMEM;
	return hv_root_path(rel, ret);
}

int
image_lock(const char *uuid, uint64_t timeout_ms, int *ret_fd, struct hv_error **reterr)
{
	_cleanup_free_ char *rel = NULL, *path = NULL, *dir = NULL;
	int r;

	if (asprintf(&rel, HV_RUN_DIR "/img.%s.import.lock", uuid) < 0 ||
	    hv_root_path(rel, &path) < 0 || path_dirname(path, &dir) < 0)
		return -ENOMEM;
	if ((r = mkdir_p(dir, 0755)) < 0)
		return hv_error_set(reterr, r, "cannot create '%s': %m", dir);
	r = lock_file(path, LOCK_EX, timeout_ms, ret_fd);
	if (r == -ETIMEDOUT)
		return hv_error_set(reterr, -EBUSY,
		                    "image %s is being installed by another process", uuid);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot lock image %s: %m", uuid);
	return 0;
}

/* The cached {manifest, zpool, source}; -ENOENT when the image is not installed. */
static int
load_cache(const char *zpool, const char *uuid, json_t **ret, struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL;
	json_auto_t *o = NULL;
	int r;

	if (!uuid_is_valid(uuid))
		return hv_error_set(reterr, -EINVAL, "'%s' is not an image UUID", uuid);
	if ((r = image_cache_path(zpool, uuid, &path)) < 0)
		return r;
	if (access(path, F_OK) < 0)
		return hv_error_set(reterr, -ENOENT, "Image %s not installed", uuid);
	if ((r = hv_json_load_file(path, CACHE_MAX, &o, reterr)) < 0)
		return r;
	if (!json_is_object(json_object_get(o, "manifest")))
		return hv_error_set(reterr, -EBADMSG, "'%s': no manifest in it", path);
	*ret = TAKE_PTR(o);
	return 0;
}

bool
image_installed(const char *zpool, const char *uuid)
{
	_cleanup_free_ char *path = NULL;

	return image_cache_path(zpool, uuid, &path) >= 0 && access(path, F_OK) == 0;
}

/* Datasets cloned from any snapshot of the image: VMs, child images. */
static int
clones_of(struct hv_pool *p, const char *zpool, const char *uuid, json_t **ret,
          struct hv_error **reterr)
{
	_cleanup_free_ char *prefix = NULL;
	struct hv_dataset_info *l = NULL;
	json_t *a = json_array();
	size_t n = 0;
	int r;

	if (!a || asprintf(&prefix, "%s/%s@", zpool, uuid) < 0) {
		json_decref(a);
		return -ENOMEM;
	}
	r = hv_pool_list(p, NULL, HV_LIST_FILESYSTEMS | HV_LIST_VOLUMES, &l, &n, reterr);
	for (size_t i = 0; r >= 0 && i < n; i++)
		if (l[i].origin && startswith(l[i].origin, prefix))
			r = json_array_append_new(a, json_string(l[i].name)) < 0 ? -ENOMEM : 0;
	hv_dataset_info_free_many(l, n);
	if (r < 0) {
		json_decref(a);
		return r;
	}
	*ret = a;
	return 0;
}

int
hv_image_get(const char *zpool, const char *uuid, json_t **ret, struct hv_error **reterr)
{
	json_auto_t *o = NULL, *clones = NULL;
	struct hv_pool *p = NULL;
	int r;

	zpool = pool_or_default(zpool);
	if ((r = load_cache(zpool, uuid, &o, reterr)) < 0)
		return r;
	if ((r = hv_pool_open(zpool, 0, &p, reterr)) < 0)
		return r;
	r = clones_of(p, zpool, uuid, &clones, reterr);
	hv_pool_close(p);
	if (r < 0)
		return r;
	if (hv_json_set(o, "zpool", json_string(zpool)) < 0 ||
	    hv_json_set(o, "clones", json_integer((json_int_t)json_array_size(clones))) < 0 ||
	    hv_json_set(o, "cloneNames", json_incref(clones)) < 0)
		return -ENOMEM;
	if (!json_object_get(o, "source") && hv_json_set(o, "source", json_null()) < 0)
		return -ENOMEM;
	*ret = TAKE_PTR(o);
	return 0;
}

static int
cmp_images(const void *a, const void *b)
{
	const json_t *x = json_object_get(*(json_t *const *)a, "manifest");
	const json_t *y = json_object_get(*(json_t *const *)b, "manifest");
	int c = strcmp(strempty(json_string_value(json_object_get(x, "name"))),
	               strempty(json_string_value(json_object_get(y, "name"))));

	return c ? c
	         : strcmp(strempty(json_string_value(json_object_get(x, "version"))),
	                  strempty(json_string_value(json_object_get(y, "version"))));
}

/* Every installed image of the pool, from the manifest cache. */
static int
list_uuids(const char *zpool, char ***ret, struct hv_error **reterr)
{
	_cleanup_free_ char *dir = NULL, *prefix = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
	struct dirent *de;

	if (!l || hv_root_path("/var/imgadm/images", &dir) < 0 ||
	    asprintf(&prefix, "%s-", zpool) < 0)
		return -ENOMEM;
	d = opendir(dir);
	if (!d && errno != ENOENT)
		return hv_error_set(reterr, -errno, "cannot list '%s': %m", dir);
	while (d && (de = readdir(d))) {
		const char *u = startswith(de->d_name, prefix);
		const char *dot = u ? strrchr(u, '.') : NULL;

		if (!dot || !streq(dot, ".json") || dot - u != UUID_STRING_LEN)
			continue;
		if (strv_consume(&l, strndup(u, UUID_STRING_LEN)) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(l);
	return 0;
}

int
hv_image_list(const char *zpool, json_t **ret, struct hv_error **reterr)
{
	_cleanup_strv_free_ char **uuids = NULL;
	_cleanup_free_ json_t **v = NULL;
	json_auto_t *out = json_array();
	size_t n = 0;
	int r;

	zpool = pool_or_default(zpool);
	if (!out)
		return -ENOMEM;
	if ((r = list_uuids(zpool, &uuids, reterr)) < 0)
		return r;
	v = calloc(strv_length(uuids) + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	STRV_FOREACH (u, uuids) {
		json_t *o = NULL;

		if (hv_image_get(zpool, *u, &o, NULL) >= 0)
			v[n++] = o;
	}
	qsort(v, n, sizeof(*v), cmp_images);
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(out, v[i]) < 0)
			r = -ENOMEM;
	if (r < 0)
		return r;
	*ret = TAKE_PTR(out);
	return 0;
}

int
hv_image_delete(const char *zpool, const char *uuid, struct hv_error **reterr)
{
	_cleanup_close_ int lock = -EBADF;
	_cleanup_free_ char *ds = NULL, *cache = NULL;
	json_auto_t *o = NULL, *clones = NULL;
	struct hv_pool *p = NULL;
	int r;

	zpool = pool_or_default(zpool);
	if ((r = load_cache(zpool, uuid, &o, reterr)) < 0 ||
	    (r = image_lock(uuid, 0, &lock, reterr)) < 0)
		return r;
	if (asprintf(&ds, "%s/%s", zpool, uuid) < 0 || image_cache_path(zpool, uuid, &cache) < 0)
		return -ENOMEM;
	if ((r = hv_pool_open(zpool, HV_POOL_OPEN_WRITE, &p, reterr)) < 0)
		return r;
	r = clones_of(p, zpool, uuid, &clones, reterr);
	if (r >= 0 && json_array_size(clones) > 0)
		r = hv_error_set(reterr, -EBUSY,
		                 "image %s is in use: %zu dataset%s cloned from it (the first: %s)",
		                 uuid, json_array_size(clones),
		                 json_array_size(clones) == 1 ? " is" : "s are",
		                 json_string_value(json_array_get(clones, 0)));
	/* The manifest goes first: from then on the image is not installed, whatever follows. */
	if (r >= 0 && unlink(cache) < 0 && errno != ENOENT)
		r = hv_error_set(reterr, -errno, "cannot remove '%s': %m", cache);
	if (r >= 0) {
		r = hv_pool_destroy(p, ds, HV_DESTROY_RECURSIVE, reterr);
		if (r == -ENOENT)
			r = 0;
	}
	hv_pool_close(p);
	return r;
}

/* A dead install's leftovers: <uuid>-partial, and <uuid> when no manifest was written. */
static int
recover_one(const char *zpool, const char *uuid, struct hv_error **reterr)
{
	_cleanup_close_ int lock = -EBADF;
	_cleanup_free_ char *partial = NULL, *ds = NULL, *intent = NULL;
	struct hv_pool *p = NULL;
	int r;

	if (image_lock(uuid, 0, &lock, NULL) < 0)
		return 0; /* its install still runs */
	if (asprintf(&partial, "%s/%s-partial", zpool, uuid) < 0 ||
	    asprintf(&ds, "%s/%s", zpool, uuid) < 0 || image_intent_path(uuid, &intent) < 0)
		return -ENOMEM;
	if ((r = hv_pool_open(zpool, HV_POOL_OPEN_WRITE, &p, reterr)) < 0)
		return r;
	r = hv_pool_destroy(p, partial, HV_DESTROY_RECURSIVE, reterr);
	if (r == -ENOENT)
		r = 0;
	if (r >= 0 && !image_installed(zpool, uuid)) {
		r = hv_pool_destroy(p, ds, HV_DESTROY_RECURSIVE, reterr);
		if (r == -ENOENT)
			r = 0;
	}
	hv_pool_close(p);
	if (r < 0)
		return r;
	if (unlink(intent) < 0 && errno != ENOENT)
		return hv_error_set(reterr, -errno, "cannot remove '%s': %m", intent);
	return 0;
}

int
hv_image_recover(const char *zpool, struct hv_error **reterr)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int ret = 0;

	zpool = pool_or_default(zpool);
	if (hv_root_path("/var/imgadm/importing", &dir) < 0)
		return -ENOMEM;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : hv_error_set(reterr, -errno, "'%s': %m", dir);
	while ((de = readdir(d))) {
		_cleanup_free_ char *uuid = NULL, *path = NULL;
		json_auto_t *o = NULL;
		const char *dot = strrchr(de->d_name, '.'), *pool = zpool;
		int r;

		if (!dot || !streq(dot, ".json") || dot - de->d_name != UUID_STRING_LEN ||
		    !(uuid = strndup(de->d_name, UUID_STRING_LEN)) || !uuid_is_valid(uuid))
			continue;
		/* The intent names its pool. */
		if (path_join(dir, de->d_name, &path) >= 0 &&
		    hv_json_load_file(path, 4096, &o, NULL) >= 0)
			(void)hv_json_get_string(o, "zpool", &pool, NULL);
		r = recover_one(pool, uuid, ret < 0 ? NULL : reterr);
		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}
