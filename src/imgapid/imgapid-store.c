/* SPDX-License-Identifier: MIT */
/*
 * imgapid's store: DIR/images/<uuid>/ holds an image's manifest.json and,
 * once uploaded, its file. The whole index lives in memory (a JSON object
 * uuid -> manifest) behind a read-write lock; disk is changed first and the
 * index after, both under the write lock, so the index never shows what
 * disk does not hold.
 *
 * Invariants, also across a crash:
 *   - manifest.json is replaced atomically (temp, fsync, rename, fsync dir);
 *   - files[0] in a manifest means `file` is complete: an upload goes to an
 *     unnamed file (O_TMPFILE, or a hidden temp name where that is not
 *     supported) that is renamed to `file` only after its size and sha1 are
 *     known and it is on disk; replacing a file first writes the manifest
 *     without files[0], so a crash in between leaves no file entry that
 *     describes the wrong bytes;
 *   - a directory without manifest.json is an image being made or deleted
 *     (the manifest goes first), and recovery removes it.
 * Only imgapid writes DIR, and only one imgapid at a time (DIR/imgapid.lock).
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/lock.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/time-util.h"
#include "image/hash.h"
#include "image/manifest.h"
#include "imgapid.h"
#include "json/json.h"

#define MANIFEST      "manifest.json"
#define MANIFEST_TMP  ".manifest.json.tmp"
#define FILE_NAME     "file"
#define UPLOAD_PREFIX ".upload."
#define MANIFEST_ROOM 4096 /* what the server adds later: files[0], published_at */

struct store {
	char *dir;
	int images_fd; /* DIR/images */
	int lock_fd;   /* DIR/imgapid.lock, held while we run */
	pthread_rwlock_t lock;
	json_t *images; /* uuid -> manifest, with the server's fields */
};

struct upload {
	struct store *store;
	char uuid[UUID_STRING_LEN + 1];
	int dir_fd; /* the image's directory as it was when the upload began */
	int fd;
	char tmp[32]; /* the file's name in dir_fd; "" while unnamed (O_TMPFILE) or once renamed */
	struct hv_hash *sha1, *md5;
	uint64_t size;
	enum hv_image_compression compression;
	char want_sha1[HV_SHA1_HEX_LEN + 1];
	char *dataset_guid;
};

static void
unlockp(pthread_rwlock_t **l)
{
	if (*l)
		(void)pthread_rwlock_unlock(*l);
}
#define _cleanup_unlock_ _cleanup_(unlockp)

static pthread_rwlock_t *
read_lock(struct store *s)
{
	(void)pthread_rwlock_rdlock(&s->lock);
	return &s->lock;
}

static pthread_rwlock_t *
write_lock(struct store *s)
{
	(void)pthread_rwlock_wrlock(&s->lock);
	return &s->lock;
}

static void
base64(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = 0;
}

static bool
is_hex(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	return true;
}

static void
lowercase(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Check a manifest with the image library's parser; every complaint is a validation error. */
static int
validate(json_t *j, struct hv_error **reterr)
{
	struct hv_image_manifest m = {0};
	int r;

	r = hv_image_manifest_parse(j, &m, reterr);
	if (r < 0)
		return r == -ENOMEM ? r : -EINVAL;
	hv_image_manifest_done(&m);
	return 0;
}

static json_t *
file_entry(const json_t *m)
{
	return json_array_get(json_object_get(m, "files"), 0);
}

static const char *
str_member(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int
dump_view(const json_t *m, bool admin, char **ret)
{
	json_auto_t *v = manifest_view(m, admin);

	if (!v)
		return -ENOMEM;
	*ret = hv_json_dumps(v);
	return *ret ? 0 : -ENOMEM;
}

/*
 * Replace dfd/manifest.json with m, durably. Compact, so that what the
 * parser reads back stays within HV_IMAGE_MANIFEST_SIZE_MAX. Callers hold the
 * write lock (one temp name).
 */
static int
write_manifest(int dfd, const json_t *m)
{
	_cleanup_free_ char *text = hv_json_dumps_compact(m);
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (!text)
		return -ENOMEM;
	if (strlen(text) > HV_IMAGE_MANIFEST_SIZE_MAX)
		return -EFBIG;
	fd = openat(dfd, MANIFEST_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	r = loop_write(fd, text, strlen(text));
	if (r >= 0)
		r = RET_NERRNO(fsync(fd));
	if (r >= 0)
		r = RET_NERRNO(renameat(dfd, MANIFEST_TMP, dfd, MANIFEST));
	if (r < 0) {
		(void)unlinkat(dfd, MANIFEST_TMP, 0);
		return r;
	}
	return RET_NERRNO(fsync(dfd));
}

static int
open_image_dir(struct store *s, const char *uuid)
{
	int fd = openat(s->images_fd, uuid, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

	return fd < 0 ? -errno : fd;
}

/* Remove everything in an image directory except manifest.json (when keep_manifest). */
static int
clear_dir(int dfd, bool keep_manifest)
{
	_cleanup_closedir_ DIR *d = NULL;
	int fd, r = 0;
	struct dirent *de;

	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		safe_close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (keep_manifest && streq(de->d_name, MANIFEST))
			continue;
		if (unlinkat(dfd, de->d_name, 0) < 0 && errno != ENOENT)
			r = -errno;
	}
	return r;
}

/* ---- opening and recovery ------------------------------------------------------ */

/* One image directory at start: finish what a crash interrupted, then index it. */
static void
recover_image(struct store *s, const char *uuid)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_close_ int dfd = -EBADF, mfd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	struct hv_image_manifest m = {0};
	json_auto_t *j = NULL;
	size_t size = 0;
	struct stat st;
	bool has_file;
	int r;

	dfd = open_image_dir(s, uuid);
	if (dfd < 0) {
		log_warning("images/%s: cannot open: %s", uuid, strerror(-dfd));
		return;
	}
	(void)unlinkat(dfd, MANIFEST_TMP, 0);
	mfd = openat(dfd, MANIFEST, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (mfd < 0 && errno == ENOENT) {
		/* Made or deleted halfway: nothing was ever served from it. */
		r = clear_dir(dfd, false);
		if (r >= 0)
			r = RET_NERRNO(unlinkat(s->images_fd, uuid, AT_REMOVEDIR));
		if (r < 0)
			log_warning("images/%s: cannot remove an unfinished image: %s", uuid,
			            strerror(-r));
		else
			log_info("images/%s: removed an unfinished image", uuid);
		return;
	}
	if (mfd < 0 || (r = read_full_fd(mfd, HV_IMAGE_MANIFEST_SIZE_MAX, &buf, &size)) < 0) {
		log_warning("images/%s: cannot read %s: %s; not served", uuid, MANIFEST,
		            strerror(mfd < 0 ? errno : -r));
		return;
	}
	r = hv_image_manifest_load(buf, size, "manifest.json", &m, &e);
	if (r < 0) {
		log_warning("images/%s: %s; not served", uuid, hv_error_message(e, r));
		return;
	}
	j = json_incref(m.json);
	has_file = m.has_file;
	if (!streq(m.uuid, uuid)) {
		log_warning("images/%s: its manifest is of image %s; not served", uuid, m.uuid);
		hv_image_manifest_done(&m);
		return;
	}
	/* Uploads that never finished. */
	{
		_cleanup_closedir_ DIR *d = NULL;
		int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct dirent *de;

		d = fd >= 0 ? fdopendir(fd) : NULL;
		if (!d)
			safe_close(fd);
		while (d && (de = readdir(d)))
			if (startswith(de->d_name, UPLOAD_PREFIX))
				(void)unlinkat(dfd, de->d_name, 0);
	}
	r = fstatat(dfd, FILE_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	if (!has_file && r >= 0) {
		/* Renamed into place, but the manifest that names it was never written. */
		(void)unlinkat(dfd, FILE_NAME, 0);
		log_info("images/%s: removed a file that its manifest does not list", uuid);
	} else if (has_file &&
	           (r < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != m.file.size)) {
		if (streq(m.state, "unactivated")) {
			json_auto_t *fixed = json_deep_copy(j);

			if (fixed && json_object_del(fixed, "files") == 0 &&
			    write_manifest(dfd, fixed) >= 0) {
				(void)unlinkat(dfd, FILE_NAME, 0);
				json_decref(j);
				j = TAKE_PTR(fixed);
				log_warning("images/%s: its file was missing or incomplete; upload "
				            "it again",
				            uuid);
			}
		} else
			log_warning("images/%s: its file is missing or damaged; downloads fail",
			            uuid);
	}
	hv_image_manifest_done(&m);
	if (json_object_set(s->images, uuid, j) < 0)
		log_warning("images/%s: out of memory", uuid);
}

static int
scan(struct store *s)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd;

	fd = openat(s->images_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		safe_close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		char name[UUID_STRING_LEN + 1];

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (!uuid_is_valid(de->d_name)) {
			log_warning("images/%s: not an image directory; ignored", de->d_name);
			continue;
		}
		strcpy(name, de->d_name);
		lowercase(name);
		if (!streq(name, de->d_name)) {
			log_warning("images/%s: upper-case directory name; ignored", de->d_name);
			continue;
		}
		recover_image(s, name);
	}
	return 0;
}

int
store_open(const char *dir, struct store **ret, struct hv_error **reterr)
{
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_free_ char *lockpath = NULL;
	_cleanup_close_ int dfd = -EBADF;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->images_fd = s->lock_fd = -EBADF;
	if (pthread_rwlock_init(&s->lock, NULL) != 0) {
		free(TAKE_PTR(s));
		return -ENOMEM;
	}
	s->images = json_object();
	if (!s->images)
		return -ENOMEM;
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot create '%.100s': %m", dir);
	s->dir = realpath(dir, NULL);
	if (!s->dir)
		return hv_error_set(reterr, -errno, "'%.100s': %m", dir);
	if (asprintf(&lockpath, "%s/imgapid.lock", s->dir) < 0)
		return -ENOMEM;
	r = lock_file(lockpath, LOCK_EX, 0, &s->lock_fd);
	if (r == -ETIMEDOUT || r == -EWOULDBLOCK)
		return hv_error_set(reterr, -EBUSY, "another imgapid serves '%.100s'", s->dir);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot lock '%.100s': %m", lockpath);
	dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return hv_error_set(reterr, -errno, "'%.100s': %m", s->dir);
	if (mkdirat(dfd, "images", 0755) < 0 && errno != EEXIST)
		return hv_error_set(reterr, -errno, "cannot create '%s/images': %m", s->dir);
	s->images_fd = openat(dfd, "images", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (s->images_fd < 0)
		return hv_error_set(reterr, -errno, "'%s/images': %m", s->dir);
	r = scan(s);
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read '%s/images': %m", s->dir);
	*ret = TAKE_PTR(s);
	return 0;
}

struct store *
store_free(struct store *s)
{
	if (!s)
		return NULL;
	json_decref(s->images);
	safe_close(s->images_fd);
	safe_close(s->lock_fd);
	(void)pthread_rwlock_destroy(&s->lock);
	free(s->dir);
	free(s);
	return NULL;
}

size_t
store_count(struct store *s)
{
	_cleanup_unlock_ pthread_rwlock_t *l = read_lock(s);

	return json_object_size(s->images);
}

/* ---- reading --------------------------------------------------------------------- */

static json_t *
find(struct store *s, const char *uuid, struct hv_error **reterr)
{
	json_t *m = json_object_get(s->images, uuid);

	if (!m)
		hv_error_set(reterr, -ENOENT, "image '%.100s' not found", uuid);
	return m;
}

int
store_get(struct store *s, const char *uuid, bool admin, char **ret_json, struct hv_error **reterr)
{
	_cleanup_unlock_ pthread_rwlock_t *l = read_lock(s);
	json_t *m = find(s, uuid, reterr);

	if (!m)
		return -ENOENT;
	return dump_view(m, admin, ret_json);
}

int
store_open_file(struct store *s, const char *uuid, int *ret_fd, uint64_t *ret_size,
                char ret_md5[MD5_BASE64_LEN + 1], struct hv_error **reterr)
{
	_cleanup_unlock_ pthread_rwlock_t *l = read_lock(s);
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -EBADF;
	json_t *m = find(s, uuid, reterr), *f;
	const char *md5;
	struct stat st;
	json_int_t size;

	if (!m)
		return -ENOENT;
	f = file_entry(m);
	if (!f)
		return hv_error_set(reterr, -ENOENT, "image '%.100s' has no file", uuid);
	size = json_integer_value(json_object_get(f, "size"));
	if (asprintf(&path, "%s/%s", uuid, FILE_NAME) < 0)
		return -ENOMEM;
	fd = openat(s->images_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0)
		return hv_error_set(reterr, -EIO, "the file of image '%.100s' cannot be read: %s",
		                    uuid, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size != size)
		return hv_error_set(
		        reterr, -EIO,
		        "the file of image '%.100s' is damaged: %lld bytes, the manifest "
		        "says %lld",
		        uuid, (long long)st.st_size, (long long)size);
	md5 = str_member(f, "contentMD5");
	snprintf(ret_md5, MD5_BASE64_LEN + 1, "%s",
	         md5 && strlen(md5) == MD5_BASE64_LEN ? md5 : "");
	*ret_size = (uint64_t)st.st_size;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int
store_list(struct store *s, const struct list_query *q, char **ret_json, struct hv_error **reterr)
{
	_cleanup_unlock_ pthread_rwlock_t *l = read_lock(s);
	_cleanup_free_ json_t **matches = NULL;
	char date[25];
	const char *marker = NULL, *uuid;
	json_auto_t *page = NULL;
	json_t *m;
	size_t n = 0;

	if (q->marker) {
		if (uuid_is_valid(q->marker)) {
			char lower[UUID_STRING_LEN + 1];

			strcpy(lower, q->marker);
			lowercase(lower);
			m = json_object_get(s->images, lower);
			if (!m)
				return hv_error_set_path(reterr, -EINVAL, "marker",
				                         "marker: no image '%.100s'", q->marker);
			snprintf(date, sizeof(date), "%s", strempty(str_member(m, "published_at")));
		} else if (list_parse_date(q->marker, date) < 0)
			return hv_error_set_path(
			        reterr, -EINVAL, "marker",
			        "marker: '%.100s' is neither an image UUID nor a date "
			        "(YYYY-MM-DD[THH:MM:SS[.mmm]Z])",
			        q->marker);
		marker = date;
	}
	matches = calloc(json_object_size(s->images) + 1, sizeof(*matches));
	if (!matches)
		return -ENOMEM;
	json_object_foreach (s->images, uuid, m)
		if (list_match(m, q))
			matches[n++] = m;
	page = list_page(matches, n, q, marker);
	if (!page)
		return -ENOMEM;
	*ret_json = hv_json_dumps(page);
	return *ret_json ? 0 : -ENOMEM;
}

/* ---- changing -------------------------------------------------------------------- */

int
store_create(struct store *s, json_t *manifest, char **ret_json, struct hv_error **reterr)
{
	json_auto_t *j = manifest;
	_cleanup_unlock_ pthread_rwlock_t *l = NULL;
	_cleanup_close_ int dfd = -EBADF;
	char uuid[UUID_STRING_LEN + 1];
	const char *given, *origin;
	int r;

	if (!json_is_object(j))
		return hv_error_set(reterr, -EINVAL, "the manifest must be a JSON object, not %s",
		                    hv_json_type_name(j));
	/* The server owns these: an image is born unactivated and without a file. */
	(void)json_object_del(j, "files");
	(void)json_object_del(j, "published_at");
	if (hv_json_set(j, "state", json_string("unactivated")) < 0)
		return -ENOMEM;
	if (!json_object_get(j, "v") && hv_json_set(j, "v", json_integer(2)) < 0)
		return -ENOMEM;
	if (!json_object_get(j, "disabled") && hv_json_set(j, "disabled", json_false()) < 0)
		return -ENOMEM;
	if (!json_object_get(j, "public") && hv_json_set(j, "public", json_false()) < 0)
		return -ENOMEM;
	given = str_member(j, "uuid");
	if (given && strlen(given) == UUID_STRING_LEN) {
		strcpy(uuid, given);
		lowercase(uuid);
		if (hv_json_set(j, "uuid", json_string(uuid)) < 0)
			return -ENOMEM;
	} else if (!json_object_get(j, "uuid")) {
		r = uuid_generate_v4(uuid);
		if (r < 0 || hv_json_set(j, "uuid", json_string(uuid)) < 0)
			return r < 0 ? r : -ENOMEM;
	}
	r = validate(j, reterr);
	if (r < 0)
		return r;
	{
		_cleanup_free_ char *text = hv_json_dumps_compact(j);

		if (!text)
			return -ENOMEM;
		if (strlen(text) > HV_IMAGE_MANIFEST_SIZE_MAX - MANIFEST_ROOM)
			return hv_error_set(reterr, -EFBIG,
			                    "the manifest is %zu bytes as stored; at most %d are "
			                    "accepted",
			                    strlen(text),
			                    HV_IMAGE_MANIFEST_SIZE_MAX - MANIFEST_ROOM);
	}
	snprintf(uuid, sizeof(uuid), "%s", str_member(j, "uuid"));
	origin = str_member(j, "origin");

	l = write_lock(s);
	if (json_object_get(s->images, uuid))
		return hv_error_set(reterr, -EEXIST, "image uuid '%.100s' already exists", uuid);
	if (origin && !json_object_get(s->images, origin))
		return hv_error_set(reterr, -ENXIO, "origin image '%.100s' does not exist", origin);
	if (mkdirat(s->images_fd, uuid, 0755) < 0)
		return errno == EEXIST
		               ? hv_error_set(reterr, -EEXIST,
		                              "image uuid '%.100s' already exists (on disk)", uuid)
		               : hv_error_set(reterr, -errno, "image '%.100s': %m", uuid);
	dfd = open_image_dir(s, uuid);
	r = dfd < 0 ? dfd : write_manifest(dfd, j);
	if (r >= 0)
		r = RET_NERRNO(fsync(s->images_fd));
	if (r < 0) {
		if (dfd >= 0)
			(void)clear_dir(dfd, false);
		(void)unlinkat(s->images_fd, uuid, AT_REMOVEDIR);
		return hv_error_set(reterr, r, "image '%.100s': cannot write its manifest: %m",
		                    uuid);
	}
	if (json_object_set(s->images, uuid, j) < 0)
		return -ENOMEM;
	log_info("image %s created (unactivated)", uuid);
	return dump_view(j, false, ret_json);
}

/* Write a changed manifest of an existing image and put it in the index. */
static int
replace(struct store *s, const char *uuid, json_t *m, struct hv_error **reterr)
{
	_cleanup_close_ int dfd = -EBADF;
	int r;

	r = validate(m, reterr);
	if (r < 0)
		return hv_error_prefix(reterr, r, "image '%.100s'", uuid);
	dfd = open_image_dir(s, uuid);
	r = dfd < 0 ? dfd : write_manifest(dfd, m);
	if (r < 0)
		return hv_error_set(reterr, r, "image '%.100s': cannot write its manifest: %m",
		                    uuid);
	return json_object_set(s->images, uuid, m) < 0 ? -ENOMEM : 0;
}

int
store_activate(struct store *s, const char *uuid, char **ret_json, struct hv_error **reterr)
{
	_cleanup_unlock_ pthread_rwlock_t *l = write_lock(s);
	json_auto_t *n = NULL;
	json_t *m = find(s, uuid, reterr);
	char now[25];
	int r;

	if (!m)
		return -ENOENT;
	if (!streq(strempty(str_member(m, "state")), "unactivated"))
		return hv_error_set(reterr, -EALREADY, "image '%.100s' is already activated", uuid);
	if (!file_entry(m))
		return hv_error_set(reterr, -ENODATA,
		                    "image '%.100s' cannot be activated: it has no file", uuid);
	n = json_deep_copy(m);
	if (!n)
		return -ENOMEM;
	format_iso8601_usec(now, now_usec(CLOCK_REALTIME));
	if (hv_json_set(n, "state",
	                json_string(json_is_true(json_object_get(n, "disabled")) ? "disabled"
	                                                                         : "active")) < 0 ||
	    hv_json_set(n, "published_at", json_string(now)) < 0)
		return -ENOMEM;
	r = replace(s, uuid, n, reterr);
	if (r < 0)
		return r;
	return dump_view(n, false, ret_json);
}

int
store_set_disabled(struct store *s, const char *uuid, bool disabled, char **ret_json,
                   struct hv_error **reterr)
{
	_cleanup_unlock_ pthread_rwlock_t *l = write_lock(s);
	json_auto_t *n = NULL;
	json_t *m = find(s, uuid, reterr);
	const char *state;
	int r;

	if (!m)
		return -ENOENT;
	n = json_deep_copy(m);
	if (!n || hv_json_set(n, "disabled", json_boolean(disabled)) < 0)
		return -ENOMEM;
	state = strempty(str_member(m, "state"));
	if ((streq(state, "active") || streq(state, "disabled")) &&
	    hv_json_set(n, "state", json_string(disabled ? "disabled" : "active")) < 0)
		return -ENOMEM;
	r = replace(s, uuid, n, reterr);
	if (r < 0)
		return r;
	return dump_view(n, false, ret_json);
}

int
store_delete(struct store *s, const char *uuid, struct hv_error **reterr)
{
	_cleanup_unlock_ pthread_rwlock_t *l = write_lock(s);
	_cleanup_close_ int dfd = -EBADF;
	_cleanup_free_ char *deps = NULL;
	const char *other;
	json_t *m = find(s, uuid, reterr), *o;
	size_t ndeps = 0;
	int r;

	if (!m)
		return -ENOENT;
	json_object_foreach (s->images, other, o) {
		char *more = NULL;

		if (!streq_ptr(str_member(o, "origin"), uuid))
			continue;
		if (++ndeps <= 5 &&
		    asprintf(&more, "%s%s%s", strempty(deps), deps ? ", " : "", other) >= 0) {
			free(deps);
			deps = more;
		}
	}
	if (ndeps > 0)
		return hv_error_set(reterr, -ENOTEMPTY,
		                    "image '%.100s' has %zu dependent incremental image(s): %s%s",
		                    uuid, ndeps, strempty(deps), ndeps > 5 ? ", ..." : "");
	dfd = open_image_dir(s, uuid);
	if (dfd < 0)
		return hv_error_set(reterr, dfd, "image '%.100s': %m", uuid);
	/* The manifest first: without it, what is left is removed at the next start. */
	if (unlinkat(dfd, MANIFEST, 0) < 0 || fsync(dfd) < 0)
		return hv_error_set(reterr, -errno,
		                    "image '%.100s': cannot remove its manifest: %m", uuid);
	(void)json_object_del(s->images, uuid);
	r = clear_dir(dfd, false);
	if (r >= 0)
		r = RET_NERRNO(unlinkat(s->images_fd, uuid, AT_REMOVEDIR));
	if (r < 0)
		log_warning("images/%s: deleted, but its directory stays: %s", uuid, strerror(-r));
	(void)fsync(s->images_fd);
	return 0;
}

/* ---- uploads --------------------------------------------------------------------- */

struct upload *
store_upload_free(struct upload *u)
{
	if (!u)
		return NULL;
	if (u->tmp[0] && u->dir_fd >= 0)
		(void)unlinkat(u->dir_fd, u->tmp, 0);
	safe_close(u->fd);
	safe_close(u->dir_fd);
	hv_hash_free(u->sha1);
	hv_hash_free(u->md5);
	free(u->dataset_guid);
	free(u);
	return NULL;
}

static void
store_upload_freep(struct upload **u)
{
	*u = store_upload_free(*u);
}

static int
random_name(char *buf, size_t size)
{
	unsigned char b[8];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -EIO;
	snprintf(buf, size, UPLOAD_PREFIX "%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
	         b[3], b[4], b[5], b[6], b[7]);
	return 0;
}

int
store_upload_begin(struct store *s, const char *uuid, const struct upload_params *p,
                   struct upload **ret, struct hv_error **reterr)
{
	_cleanup_(store_upload_freep) struct upload *u = NULL;
	int r;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->fd = u->dir_fd = -EBADF;
	u->store = s;
	snprintf(u->uuid, sizeof(u->uuid), "%s", uuid);
	if (!p->compression)
		return hv_error_set_path(reterr, -EINVAL, "compression",
		                         "compression: required (none, gzip, bzip2, xz or zstd)");
	u->compression = hv_image_compression_from_string(p->compression);
	if ((int)u->compression < 0)
		return hv_error_set_path(
		        reterr, -EINVAL, "compression",
		        "compression: '%.100s' is not one of none, gzip, bzip2, xz, zstd",
		        p->compression);
	if (p->sha1) {
		if (!is_hex(p->sha1, HV_SHA1_HEX_LEN))
			return hv_error_set_path(
			        reterr, -EINVAL, "sha1",
			        "sha1: expected 40 hexadecimal digits, got '%.100s'", p->sha1);
		strcpy(u->want_sha1, p->sha1);
		lowercase(u->want_sha1);
	}
	if (p->dataset_guid) {
		u->dataset_guid = strdup(p->dataset_guid);
		if (!u->dataset_guid)
			return -ENOMEM;
	}
	{
		_cleanup_unlock_ pthread_rwlock_t *l = read_lock(s);
		json_t *m = find(s, uuid, reterr);

		if (!m)
			return -ENOENT;
		if (!streq(strempty(str_member(m, "state")), "unactivated"))
			return hv_error_set(reterr, -EROFS,
			                    "cannot modify files on activated image '%.100s'",
			                    uuid);
		u->dir_fd = open_image_dir(s, uuid);
		if (u->dir_fd < 0)
			return hv_error_set(reterr, u->dir_fd, "image '%.100s': %m", uuid);
	}
	u->fd = openat(u->dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (u->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		r = random_name(u->tmp, sizeof(u->tmp));
		if (r < 0)
			return r;
		u->fd = openat(u->dir_fd, u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (u->fd < 0)
			u->tmp[0] = 0;
	}
	if (u->fd < 0)
		return hv_error_set(reterr, -errno, "image '%.100s': cannot create the upload: %m",
		                    uuid);
	if ((r = hv_hash_new(HV_HASH_SHA1, &u->sha1)) < 0 ||
	    (r = hv_hash_new(HV_HASH_MD5, &u->md5)) < 0)
		return r;
	*ret = TAKE_PTR(u);
	return 0;
}

int
store_upload_write(struct upload *u, const void *data, size_t size)
{
	int r;

	if (size > HV_IMAGE_FILE_SIZE_MAX - u->size)
		return -EFBIG;
	r = loop_write(u->fd, data, size);
	if (r < 0)
		return r;
	hv_hash_update(u->sha1, data, size);
	hv_hash_update(u->md5, data, size);
	u->size += size;
	return 0;
}

uint64_t
store_upload_size(const struct upload *u)
{
	return u->size;
}

/* Give an O_TMPFILE upload a (hidden) name so that it can be renamed into place. */
static int
name_upload(struct upload *u)
{
	char proc[64];
	int r;

	if (u->tmp[0])
		return 0;
	r = random_name(u->tmp, sizeof(u->tmp));
	if (r < 0)
		return r;
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc works for everyone who has it. */
	if (linkat(u->fd, "", u->dir_fd, u->tmp, AT_EMPTY_PATH) == 0)
		return 0;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", u->fd);
	if (linkat(AT_FDCWD, proc, u->dir_fd, u->tmp, AT_SYMLINK_FOLLOW) < 0) {
		u->tmp[0] = 0;
		return -errno;
	}
	return 0;
}

int
store_upload_finish(struct store *s, struct upload *u, char **ret_json, struct hv_error **reterr)
{
	_cleanup_unlock_ pthread_rwlock_t *l = NULL;
	json_auto_t *n = NULL, *bare = NULL;
	unsigned char md5raw[16];
	char sha1[HV_SHA1_HEX_LEN + 1], md5[MD5_BASE64_LEN + 1];
	json_t *m, *f;
	int r;

	r = hv_hash_final_hex(u->sha1, sha1, sizeof(sha1));
	if (r < 0)
		return r;
	r = hv_hash_final_raw(u->md5, md5raw, sizeof(md5raw));
	if (r < 0)
		return r;
	base64(md5raw, sizeof(md5raw), md5);
	if (u->want_sha1[0] && !streq(u->want_sha1, sha1))
		return hv_error_set_path(reterr, -EINVAL, "sha1",
		                         "sha1: the uploaded file's is %s, not %s (%" PRIu64
		                         " bytes received)",
		                         sha1, u->want_sha1, u->size);
	if (fsync(u->fd) < 0)
		return hv_error_set(reterr, -errno, "image '%.100s': cannot write the file: %m",
		                    u->uuid);

	l = write_lock(s);
	m = json_object_get(s->images, u->uuid);
	if (!m)
		return hv_error_set(reterr, -ENOENT, "image '%.100s' was deleted during the upload",
		                    u->uuid);
	if (!streq(strempty(str_member(m, "state")), "unactivated"))
		return hv_error_set(reterr, -EROFS,
		                    "cannot modify files on activated image '%.100s'", u->uuid);
	n = json_deep_copy(m);
	f = json_pack("{s:s, s:I, s:s, s:s}", "sha1", sha1, "size", (json_int_t)u->size,
	              "compression", hv_image_compression_to_string(u->compression), "contentMD5",
	              md5);
	if (!n || !f ||
	    (u->dataset_guid && hv_json_set(f, "dataset_guid", json_string(u->dataset_guid)) < 0) ||
	    hv_json_set(n, "files", json_pack("[o]", f)) < 0)
		return -ENOMEM;
	r = validate(n, reterr);
	if (r < 0)
		return hv_error_prefix(reterr, r, "image '%.100s'", u->uuid);

	r = name_upload(u);
	if (r < 0)
		return hv_error_set(reterr, r, "image '%.100s': cannot keep the upload: %m",
		                    u->uuid);
	if (file_entry(m)) {
		/* The old entry goes before the old bytes do. */
		bare = json_deep_copy(m);
		if (!bare || json_object_del(bare, "files") < 0)
			return -ENOMEM;
		r = write_manifest(u->dir_fd, bare);
		if (r < 0)
			return hv_error_set(reterr, r,
			                    "image '%.100s': cannot write its manifest: %m",
			                    u->uuid);
		if (json_object_set(s->images, u->uuid, bare) < 0)
			return -ENOMEM;
	}
	if (renameat(u->dir_fd, u->tmp, u->dir_fd, FILE_NAME) < 0)
		return hv_error_set(reterr, errno == ENOENT ? -ENOENT : -errno,
		                    "image '%.100s': cannot put the file in place: %m", u->uuid);
	u->tmp[0] = 0;
	r = write_manifest(u->dir_fd, n);
	if (r < 0) {
		(void)unlinkat(u->dir_fd, FILE_NAME, 0);
		return hv_error_set(reterr, r, "image '%.100s': cannot write its manifest: %m",
		                    u->uuid);
	}
	if (json_object_set(s->images, u->uuid, n) < 0)
		return -ENOMEM;
	return dump_view(n, false, ret_json);
}
