/* SPDX-License-Identifier: MIT */
/*
 * Send streams: one header line, then the backend's payload.
 *
 *   SABLE-SEND/1 {"format":"btrfs","type":"filesystem","dataset":"zones/a",
 *                 "snapshot":"s2","base":"s1","volsize":0,"compression":"off"}\n
 *   <payload: a btrfs send stream, or a tar archive, to the end>
 *
 * The header says what the payload is, so a receiver can refuse what it
 * cannot take before reading it, and carries what ZFS keeps in its stream
 * (type, volume size, compression). `receive` makes the dataset and its
 * snapshot (full stream), or adds the snapshot to an existing dataset and
 * rolls the dataset forward to it (incremental: local changes since the
 * base are discarded, as `zfs receive -F` does).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
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
#include "json/json.h"
#include "storage/storage-dataset.h"
#include "storage/storage-db.h"
#include "storage/storage-name.h"
#include "storage/storage-pool.h"

#define SEND_MAGIC      "SABLE-SEND/1 "
#define PUMP_BUFFER     (256 * 1024)
#define SEND_HEADER_MAX (64 * 1024)

struct pump {
	struct hv_pool *p;
	const char *path, *base;
	int fd;
	int r;
	struct hv_error *err;
};

static void *
pump_thread(void *arg)
{
	struct pump *a = arg;
	sigset_t pipe;

	/* A reader that goes away makes the write fail with EPIPE instead of killing us. */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);
	a->r = a->p->ops->send(a->p, a->path, a->base, a->fd, &a->err);
	a->fd = safe_close(a->fd);
	return NULL;
}

/*
 * The payload, written to fd after the header. A kernel send stream is
 * written from offset 0 of a regular file, which would overwrite the
 * header, so anything but a pipe or socket gets the payload through a pipe
 * that we copy from.
 */
static int
send_payload(struct hv_pool *p, const char *path, const char *base, int fd,
             struct hv_error **reterr)
{
	struct pump a = {p, path, base, -EBADF, 0, NULL};
	_cleanup_close_ int rd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	pthread_t t;
	int pfd[2], r = 0;

	if (fstat(fd, &st) < 0)
		return hv_error_set(reterr, -errno, "cannot write the send stream: %m");
	if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
		return p->ops->send(p, path, base, fd, reterr);
	if (!(buf = malloc(PUMP_BUFFER)) || pipe2(pfd, O_CLOEXEC) < 0)
		return -ENOMEM;
	rd = pfd[0];
	a.fd = pfd[1];
	if ((r = -pthread_create(&t, NULL, pump_thread, &a)) < 0) {
		safe_close(a.fd);
		return hv_error_set(reterr, r, "cannot start the send: %m");
	}
	for (;;) {
		ssize_t n = read(rd, buf, PUMP_BUFFER);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		if ((r = loop_write(fd, buf, (size_t)n)) < 0)
			break;
	}
	rd = safe_close(rd); /* a sender still writing now gets EPIPE */
	pthread_join(t, NULL);
	if (a.r < 0) {
		r = a.r;
		if (reterr && a.err) {
			hv_error_free(*reterr);
			*reterr = TAKE_PTR(a.err);
		}
	} else if (r < 0)
		hv_error_set(reterr, r, "cannot write the send stream: %m");
	hv_error_free(a.err);
	return r;
}

int
hv_pool_send(struct hv_pool *p, const char *snapshot, const char *base, int fd,
             struct hv_error **reterr)
{
	_cleanup_free_ char *ds = NULL, *snap = NULL, *path = NULL, *bpath = NULL, *line = NULL,
	                    *js = NULL;
	json_auto_t *hdr = NULL;
	json_t *drec, *srec, *brec = NULL;
	const char *bname = NULL;
	int r;

	if ((r = hv_snap_need(p, snapshot, &drec, &srec, &ds, &snap, reterr)) < 0)
		return r;
	if (base) {
		/* "@s1", "s1" or "zones/a@s1": a snapshot of the same dataset. */
		const char *at = strchr(base, '@');
		if (at && at != base &&
		    (strncmp(base, ds, (size_t)(at - base)) != 0 ||
		     strlen(ds) != (size_t)(at - base)))
			return hv_error_set(reterr, -EINVAL,
			                    "incremental base '%s' is not a snapshot of '%s'", base,
			                    ds);
		bname = at ? at + 1 : base;
		brec = hv_db_snapshot(drec, bname);
		if (!brec)
			return hv_error_set(reterr, -ENOENT, "snapshot '%s@%s' does not exist", ds,
			                    bname);
		if (hv_rec_u64(brec, "seq") >= hv_rec_u64(srec, "seq"))
			return hv_error_set(reterr, -EINVAL,
			                    "incremental base '%s@%s' is not older than '%s'", ds,
			                    bname, snapshot);
		if ((r = hv_snap_path(p, brec, &bpath)) < 0)
			return r;
	}
	if ((r = hv_snap_path(p, srec, &path)) < 0)
		return r;
	hdr = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "format", p->ops->send_format, "type",
	                hv_rec_str(drec, "type"), "dataset", ds, "snapshot", snap, "volsize",
	                (json_int_t)hv_rec_u64(drec, "volsize"), "compression",
	                hv_rec_str(drec, "compression") ?: "off");
	if (!hdr || (bname && json_object_set_new(hdr, "base", json_string(bname)) < 0))
		return -ENOMEM;
	js = hv_json_dumps_compact(hdr);
	if (!js || asprintf(&line, SEND_MAGIC "%s\n", js) < 0)
		return -ENOMEM;
	r = loop_write(fd, line, strlen(line));
	if (r < 0)
		return hv_error_set(reterr, r, "cannot write the send stream: %m");
	return send_payload(p, path, bpath, fd, reterr);
}

/* Read the header line without reading past it: the payload belongs to the backend. */
static int
read_header(int fd, json_t **ret, struct hv_error **reterr)
{
	_cleanup_free_ char *line = NULL;
	size_t n;
	int r = read_magic_line(fd, SEND_MAGIC, SEND_HEADER_MAX, &line, &n);

	if (r == -ENODATA)
		return hv_error_set(reterr, -EPROTO,
		                    "the stream ends before its header: expected a "
		                    "Sable send stream (pooladm send)");
	if (r == -EFBIG)
		return hv_error_set(reterr, -EPROTO, "the stream header is over 64 KiB");
	if (r == -EBADMSG)
		return hv_error_set(reterr, -EPROTO,
		                    "this is not a Sable send stream (expected it "
		                    "to begin with '" SEND_MAGIC "')");
	if (r < 0)
		return hv_error_set(reterr, r, "cannot read the stream: %m");
	return hv_json_load_buf(line, n, "stream header", ret, reterr);
}

struct header {
	const char *format, *type, *snapshot, *base, *compression;
	uint64_t volsize;
};

static bool
snapshot_name_ok(const char *snap)
{
	_cleanup_free_ char *full = NULL;

	if (strchr(snap, '/') || strchr(snap, '@') || asprintf(&full, "p/d@%s", snap) < 0)
		return false;
	return hv_dataset_name_check(full, true, NULL) >= 0;
}

static int
check_header(json_t *h, struct header *ret, struct hv_error **reterr)
{
	int64_t vs = 0;
	int r;

	*ret = (struct header){0};
	if ((r = hv_json_get_string(h, "format", &ret->format, reterr)) < 0 ||
	    (r = hv_json_get_string(h, "type", &ret->type, reterr)) < 0 ||
	    (r = hv_json_get_string(h, "snapshot", &ret->snapshot, reterr)) < 0)
		return r == -ENOENT
		               ? hv_error_set(reterr, -EPROTO,
		                              "the stream header lacks format, type or snapshot")
		               : r;
	if ((r = hv_json_get_string(h, "base", &ret->base, reterr)) < 0 && r != -ENOENT)
		return r;
	if ((r = hv_json_get_string(h, "compression", &ret->compression, reterr)) < 0 &&
	    r != -ENOENT)
		return r;
	if ((r = hv_json_get_int(h, "volsize", &vs, reterr)) < 0 && r != -ENOENT)
		return r;
	ret->volsize = vs > 0 ? (uint64_t)vs : 0;
	if (!streq(ret->type, "filesystem") && !streq(ret->type, "volume"))
		return hv_error_set(reterr, -EPROTO,
		                    "the stream carries a '%s', expected a filesystem "
		                    "or a volume",
		                    ret->type);
	if (streq(ret->type, "volume") && ret->volsize == 0)
		return hv_error_set(reterr, -EPROTO, "the stream carries a volume without a size");
	if (!snapshot_name_ok(ret->snapshot) || (ret->base && !snapshot_name_ok(ret->base)))
		return hv_error_set(reterr, -EPROTO, "the stream names an invalid snapshot '%s'",
		                    ret->snapshot);
	if (ret->compression && hv_check_compression(ret->compression, reterr) < 0)
		return -EPROTO;
	return 0;
}

/*
 * Receive the payload into the scratch directory dir, then move dir to
 * snapdir: the received snapshot itself is read-only and cannot be moved.
 * *ret_path is where the snapshot ends up; *ret_rel is that path below
 * .sable, for the snapshot record.
 */
static int
receive_payload(struct hv_pool *p, const struct header *h, int fd, const char *dir,
                const char *snapdir, char **ret_path, char **ret_rel, struct hv_error **reterr)
{
	_cleanup_free_ char *got = NULL, *base = NULL;
	int r;

	if (mkdir(dir, 0700) < 0)
		return hv_error_set(reterr, -errno, "cannot create '%s': %m", dir);
	if ((r = p->ops->receive(p, h->format, fd, dir, &got, reterr)) < 0)
		return r;
	if ((r = fault_point("receive:stream")) < 0)
		return r;
	if ((r = path_basename(got, &base)) < 0)
		return r;
	if (rename(dir, snapdir) < 0)
		return hv_error_set(reterr, -errno, "cannot move '%s' to '%s': %m", dir, snapdir);
	if (asprintf(ret_rel, "snapshots/%s/%s", strrchr(snapdir, '/') + 1, base) < 0)
		return -ENOMEM;
	return path_join(snapdir, base, ret_path);
}

static json_t *
snapshot_record(const char *guid, const char *rel, struct hv_pool *p)
{
	return json_pack("{s:s, s:s, s:I, s:I}", "guid", guid, "path", rel, "creation",
	                 (json_int_t)time(NULL), "seq", (json_int_t)hv_db_next(p, "seq"));
}

static int
receive_full(struct hv_pool *p, const char *name, const struct header *h, int fd,
             struct hv_error **reterr)
{
	_cleanup_free_ char *path = NULL, *parent = NULL, *dir = NULL, *snapdir = NULL,
	                    *snappath = NULL, *rel = NULL;
	_cleanup_free_ uint64_t *groups = NULL;
	char guid[HV_GUID_LEN + 1], dguid[HV_GUID_LEN + 1];
	uint64_t group, tx;
	size_t n_groups;
	json_t *rec, *prec;
	int r;

	if (hv_db_dataset(p, name))
		return hv_error_set(reterr, -EEXIST,
		                    "cannot receive a full stream into '%s': it exists (an "
		                    "incremental stream can update it)",
		                    name);
	if (hv_name_parent(name, &parent) < 0 || !(prec = hv_db_dataset(p, parent)))
		return hv_error_set(reterr, -ENOENT,
		                    "cannot receive into '%s': its parent does not "
		                    "exist",
		                    name);
	if (streq(hv_rec_str(prec, "type"), "volume"))
		return hv_error_set(reterr, -ENOTDIR, "cannot receive into '%s': '%s' is a volume",
		                    name, parent);
	if (hv_db_new_guid(guid) < 0)
		return -EIO;
	tx = hv_rec_u64(json_object_get(p->db, "next"), "tx");
	if ((r = hv_ds_path(p, name, &path)) < 0 || (r = hv_tmp_path(p, tx, "recv", &dir)) < 0 ||
	    (r = hv_snap_guid_path(p, guid, &snapdir)) < 0 ||
	    (r = hv_ds_groups_new(p, name, &group, &groups, &n_groups)) < 0)
		return r;
	if (access(path, F_OK) == 0)
		return hv_error_set(reterr, -EEXIST, "cannot receive into '%s': '%s' exists", name,
		                    path);

	r = hv_tx_begin(p,
	                json_pack("{s:s, s:s, s:s, s:s, s:I}", "op", "receive", "dir", dir,
	                          "snapdir", snapdir, "path", path, "group", (json_int_t)group),
	                reterr);
	if (r < 0)
		return r;
	if ((r = receive_payload(p, h, fd, dir, snapdir, &snappath, &rel, reterr)) < 0 ||
	    (r = p->ops->group_create(p, HV_QGROUP_LEVEL1 | group, reterr)) < 0 ||
	    (r = p->ops->subvol_snapshot(p, snappath, path, false, NULL, groups, n_groups,
	                                 reterr)) < 0 ||
	    (h->compression && !streq(h->compression, "off") &&
	     (r = p->ops->set_compression(p, path, h->compression, reterr)) < 0) ||
	    (r = fault_point("receive:dataset")) < 0)
		return hv_tx_abort(p, r);

	if (hv_db_new_guid(dguid) < 0)
		return hv_tx_abort(p, -EIO);
	rec = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:{s:o}}", "guid", dguid, "type", h->type,
	                "creation", (json_int_t)time(NULL), "group", (json_int_t)group, "quota",
	                (json_int_t)0, "volsize", (json_int_t)h->volsize, "snapshots", h->snapshot,
	                snapshot_record(guid, rel, p));
	if (!rec)
		return hv_tx_abort(p, -ENOMEM);
	if (h->compression && !streq(h->compression, "off"))
		json_object_set_new(rec, "compression", json_string(h->compression));
	if (json_object_set_new(hv_db_datasets(p), name, rec) < 0)
		return hv_tx_abort(p, -ENOMEM);
	r = hv_tx_commit(p, reterr);
	return r < 0 ? hv_tx_abort(p, r) : 0;
}

static int
receive_incremental(struct hv_pool *p, const char *name, const struct header *h, int fd,
                    struct hv_error **reterr)
{
	_cleanup_free_ char *dir = NULL, *snapdir = NULL, *snappath = NULL, *rel = NULL,
	                    *full = NULL;
	char guid[HV_GUID_LEN + 1];
	json_t *drec, *brec, *s;
	const char *sname;
	uint64_t tx;
	int r;

	if ((r = hv_ds_need(p, name, &drec, reterr)) < 0)
		return r;
	brec = hv_db_snapshot(drec, h->base);
	if (!brec)
		return hv_error_set(reterr, -ENOENT,
		                    "cannot receive an incremental stream from '@%s' into '%s': it "
		                    "has no such snapshot",
		                    h->base, name);
	if (hv_db_snapshot(drec, h->snapshot))
		return hv_error_set(reterr, -EEXIST, "snapshot '%s@%s' already exists", name,
		                    h->snapshot);
	json_object_foreach (json_object_get(drec, "snapshots"), sname, s)
		if (hv_rec_u64(s, "seq") > hv_rec_u64(brec, "seq"))
			return hv_error_set(reterr, -EEXIST,
			                    "cannot receive into '%s': it has snapshot '%s' newer "
			                    "than the stream's base '%s'",
			                    name, sname, h->base);
	if (hv_db_new_guid(guid) < 0)
		return -EIO;
	tx = hv_rec_u64(json_object_get(p->db, "next"), "tx");
	if ((r = hv_tmp_path(p, tx, "recv", &dir)) < 0 ||
	    (r = hv_snap_guid_path(p, guid, &snapdir)) < 0)
		return r;

	r = hv_tx_begin(
	        p, json_pack("{s:s, s:s, s:s}", "op", "receive", "dir", dir, "snapdir", snapdir),
	        reterr);
	if (r < 0)
		return r;
	if ((r = receive_payload(p, h, fd, dir, snapdir, &snappath, &rel, reterr)) < 0)
		return hv_tx_abort(p, r);
	if (json_object_set_new(json_object_get(drec, "snapshots"), h->snapshot,
	                        snapshot_record(guid, rel, p)) < 0)
		return hv_tx_abort(p, -ENOMEM);
	if ((r = hv_tx_commit(p, reterr)) < 0)
		return hv_tx_abort(p, r);

	/* The snapshot is ours now; the dataset moves forward to it. */
	if (asprintf(&full, "%s@%s", name, h->snapshot) < 0)
		return -ENOMEM;
	r = hv_pool_rollback(p, full, false, reterr);
	if (r < 0)
		return hv_error_prefix(reterr, r,
		                       "received '%s' but could not roll '%s' forward to "
		                       "it",
		                       full, name);
	return 0;
}

int
hv_pool_receive(struct hv_pool *p, const char *name, int fd, struct hv_error **reterr)
{
	_cleanup_free_ char *pool = NULL;
	json_auto_t *hdr = NULL;
	struct header h;
	int r;

	if ((r = hv_dataset_name_check(name, false, reterr)) < 0)
		return r;
	if ((r = hv_name_pool(name, &pool)) < 0)
		return r;
	if (!streq(pool, p->spec.name))
		return hv_error_set(reterr, -EINVAL, "'%s' is not in pool '%s'", name,
		                    p->spec.name);
	if ((r = read_header(fd, &hdr, reterr)) < 0 || (r = check_header(hdr, &h, reterr)) < 0)
		return r;
	if (h.base)
		return receive_incremental(p, name, &h, fd, reterr);
	return receive_full(p, name, &h, fd, reterr);
}
