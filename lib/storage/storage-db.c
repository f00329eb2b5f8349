/* SPDX-License-Identifier: MIT */
/*
 * The pool database (see storage-db.h for its shape). Loading checks every
 * record's fields and types, so the rest of lib/storage may read them
 * without checking again; a damaged file is an error that names the file
 * and the bad member, never a crash.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "json/json.h"
#include "storage/storage-db.h"

#define DB_MAX_SIZE (256u * 1024 * 1024)

int
hv_db_new_guid(char ret[static HV_GUID_LEN + 1])
{
	uint64_t v;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		return -EIO;
	snprintf(ret, HV_GUID_LEN + 1, "%016llx", (unsigned long long)v);
	return 0;
}

const char *
hv_rec_str(const json_t *rec, const char *key)
{
	return json_string_value(json_object_get(rec, key));
}

uint64_t
hv_rec_u64(const json_t *rec, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(rec, key));

	return v < 0 ? 0 : (uint64_t)v;
}

json_t *
hv_db_datasets(struct hv_pool *p)
{
	return json_object_get(p->db, "datasets");
}

json_t *
hv_db_dataset(struct hv_pool *p, const char *name)
{
	return json_object_get(hv_db_datasets(p), name);
}

json_t *
hv_db_snapshot(json_t *dataset, const char *snap)
{
	return json_object_get(json_object_get(dataset, "snapshots"), snap);
}

int
hv_db_find_snapshot(struct hv_pool *p, const char *guid, const char **ret_dataset,
                    const char **ret_snap)
{
	const char *name, *sname;
	json_t *ds, *s;

	json_object_foreach (hv_db_datasets(p), name, ds)
		json_object_foreach (json_object_get(ds, "snapshots"), sname, s)
			if (streq_ptr(hv_rec_str(s, "guid"), guid)) {
				*ret_dataset = name;
				*ret_snap = sname;
				return 0;
			}
	return -ENOENT;
}

uint64_t
hv_db_next(struct hv_pool *p, const char *counter)
{
	json_t *next = json_object_get(p->db, "next");
	uint64_t v = hv_rec_u64(next, counter);

	if (v == 0)
		v = 1;
	json_object_set_new(next, counter, json_integer((json_int_t)(v + 1)));
	return v;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
hv_db_sorted_names(struct hv_pool *p, const char ***ret, size_t *ret_n)
{
	json_t *all = hv_db_datasets(p), *v;
	size_t n = json_object_size(all), i = 0;
	const char **names, *k;

	names = calloc(n + 1, sizeof(char *));
	if (!names)
		return -ENOMEM;
	json_object_foreach (all, k, v)
		names[i++] = k;
	qsort(names, n, sizeof(char *), cmp_str);
	*ret = names;
	*ret_n = n;
	return 0;
}

static json_t *
new_dataset_record(const char *guid, const char *type, uint64_t group)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:{}}", "guid", guid, "type", type,
	                 "creation", (json_int_t)time(NULL), "group", (json_int_t)group, "quota",
	                 (json_int_t)0, "volsize", (json_int_t)0, "snapshots");
}

int
hv_db_init(struct hv_pool *p, struct hv_error **reterr)
{
	char guid[HV_GUID_LEN + 1];
	json_t *db;

	if (hv_db_new_guid(guid) < 0)
		return hv_error_set(reterr, -EIO, "cannot make a guid: %m");
	db = json_pack("{s:i, s:s, s:s, s:s, s:{s:i, s:i, s:i}, s:{s:o}}", "version", HV_DB_VERSION,
	               "pool", p->spec.name, "backend", hv_pool_backend_to_string(p->spec.backend),
	               "quota_mode", hv_quota_mode_to_string(p->spec.quota_mode), "next", "group",
	               1, "seq", 1, "tx", 1, "datasets", p->spec.name,
	               new_dataset_record(guid, "filesystem", 0));
	if (!db)
		return -ENOMEM;
	json_decref(p->db);
	p->db = db;
	return 0;
}

/* Check one member's type; 0 or an error naming it. */
static int
expect(const json_t *rec, const char *key, json_type t, const char *where, const char *path,
       struct hv_error **reterr)
{
	json_t *v = json_object_get(rec, key);

	if (v && (json_typeof(v) == t || (t == JSON_TRUE && json_is_boolean(v))))
		if (t != JSON_INTEGER || json_integer_value(v) >= 0)
			return 0;
	return hv_error_set(reterr, -EUCLEAN,
	                    "pool database '%s' is damaged: %s.%s is missing or of the wrong type",
	                    path, where, key);
}

static int
check_dataset(const char *name, const json_t *ds, const char *path, struct hv_error **reterr)
{
	const char *sname, *type;
	json_t *s;
	int r;

	if (!json_is_object(ds))
		return hv_error_set(reterr, -EUCLEAN,
		                    "pool database '%s' is damaged: %s is not an object", path,
		                    name);
	if ((r = expect(ds, "guid", JSON_STRING, name, path, reterr)) < 0 ||
	    (r = expect(ds, "type", JSON_STRING, name, path, reterr)) < 0 ||
	    (r = expect(ds, "creation", JSON_INTEGER, name, path, reterr)) < 0 ||
	    (r = expect(ds, "group", JSON_INTEGER, name, path, reterr)) < 0 ||
	    (r = expect(ds, "quota", JSON_INTEGER, name, path, reterr)) < 0 ||
	    (r = expect(ds, "volsize", JSON_INTEGER, name, path, reterr)) < 0 ||
	    (r = expect(ds, "snapshots", JSON_OBJECT, name, path, reterr)) < 0)
		return r;
	type = hv_rec_str(ds, "type");
	if (!streq(type, "filesystem") && !streq(type, "volume"))
		return hv_error_set(reterr, -EUCLEAN,
		                    "pool database '%s' is damaged: %s.type is '%s'", path, name,
		                    type);
	if (json_object_get(ds, "origin") &&
	    (r = expect(ds, "origin", JSON_STRING, name, path, reterr)) < 0)
		return r;
	if (json_object_get(ds, "compression") &&
	    (r = expect(ds, "compression", JSON_STRING, name, path, reterr)) < 0)
		return r;
	json_object_foreach ((json_t *)json_object_get(ds, "snapshots"), sname, s) {
		if (!json_is_object(s))
			return hv_error_set(reterr, -EUCLEAN,
			                    "pool database '%s' is damaged: %s@%s is not an object",
			                    path, name, sname);
		if ((r = expect(s, "guid", JSON_STRING, sname, path, reterr)) < 0 ||
		    (r = expect(s, "creation", JSON_INTEGER, sname, path, reterr)) < 0 ||
		    (r = expect(s, "seq", JSON_INTEGER, sname, path, reterr)) < 0)
			return r;
		if (json_object_get(s, "path") &&
		    (r = expect(s, "path", JSON_STRING, sname, path, reterr)) < 0)
			return r;
	}
	return 0;
}

int
hv_db_load(struct hv_pool *p, struct hv_error **reterr)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	const char *name;
	json_t *db = NULL, *ds;
	int r;

	r = hv_json_load_file(p->db_path, DB_MAX_SIZE, &db, &e);
	if (r == -ENOENT)
		return hv_error_set(reterr, r, "pool '%s' has no database at '%s'", p->spec.name,
		                    p->db_path);
	if (r < 0)
		return hv_error_set(reterr, r == -EINVAL ? -EUCLEAN : r,
		                    "pool database is unreadable: %s", hv_error_message(e, r));
	if (json_integer_value(json_object_get(db, "version")) != HV_DB_VERSION ||
	    !json_is_object(json_object_get(db, "datasets")) ||
	    !json_is_object(json_object_get(db, "next"))) {
		json_decref(db);
		return hv_error_set(reterr, -EUCLEAN,
		                    "pool database '%s' is damaged or of an unknown version, "
		                    "expected version %d",
		                    p->db_path, HV_DB_VERSION);
	}
	json_object_foreach (json_object_get(db, "datasets"), name, ds) {
		r = check_dataset(name, ds, p->db_path, reterr);
		if (r < 0) {
			json_decref(db);
			return r;
		}
	}
	json_decref(p->db);
	p->db = db;
	return 0;
}

static int
save(struct hv_pool *p, bool sync_dir, struct hv_error **reterr)
{
	_cleanup_free_ char *s = hv_json_dumps_compact(p->db);
	int r;

	if (!s)
		return -ENOMEM;
	r = sync_dir ? write_file_atomic(p->db_path, s, strlen(s), 0600)
	             : write_file_atomic_nodirsync(p->db_path, s, strlen(s), 0600);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot write the pool database '%s': %m",
		                    p->db_path);
	return 0;
}

int
hv_db_save(struct hv_pool *p, struct hv_error **reterr)
{
	return save(p, true, reterr);
}

int
hv_db_save_intent(struct hv_pool *p, struct hv_error **reterr)
{
	return save(p, false, reterr);
}
