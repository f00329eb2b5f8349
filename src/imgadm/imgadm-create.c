/* SPDX-License-Identifier: MIT */
/*
 * imgadm create: an image from a stopped VM, as SmartOS's (smartos.md
 * §4.1): its root becomes a tar of root/... (the layout every zone image
 * has), compressed as -c says, written beside its manifest into -o DIR as
 * <name>-<version>.json and <name>-<version>.tar[.gz|.bz2|.xz|.zst], or
 * published with -p. The file is hashed as it is written; the manifest
 * says what brand it needs and the VM's kernel_version.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/path.h"
#include "basic/time-util.h"
#include "basic/uuid.h"
#include "core/vm.h"
#include "image/hash.h"
#include "image/manifest.h"
#include "image/source.h"
#include "imgadm.h"
#include "json/json.h"
#include "zone/zone.h"

/* The archive's bytes go to the file and through sha1. */
struct sink {
	int fd;
	struct hv_hash *sha1;
	uint64_t size;
};

static la_ssize_t
sink_write(struct archive *a, void *userdata, const void *buf, size_t n)
{
	struct sink *s = userdata;
	int r = loop_write(s->fd, buf, n);

	if (r < 0) {
		archive_set_error(a, -r, "cannot write the image file");
		return -1;
	}
	hv_hash_update(s->sha1, buf, n);
	s->size += n;
	return (la_ssize_t)n;
}

static const char *
suffix_of(enum hv_image_compression c)
{
	static const char *const s[] = {
	        [HV_IMAGE_COMPRESSION_NONE] = "tar",      [HV_IMAGE_COMPRESSION_GZIP] = "tar.gz",
	        [HV_IMAGE_COMPRESSION_BZIP2] = "tar.bz2", [HV_IMAGE_COMPRESSION_XZ] = "tar.xz",
	        [HV_IMAGE_COMPRESSION_ZSTD] = "tar.zst",
	};
	return s[c];
}

static int
add_filter(struct archive *w, enum hv_image_compression c)
{
	switch (c) {
	case HV_IMAGE_COMPRESSION_GZIP:
		return archive_write_add_filter_gzip(w);
	case HV_IMAGE_COMPRESSION_BZIP2:
		return archive_write_add_filter_bzip2(w);
	case HV_IMAGE_COMPRESSION_XZ:
		return archive_write_add_filter_xz(w);
	case HV_IMAGE_COMPRESSION_ZSTD:
		return archive_write_add_filter_zstd(w);
	default:
		return archive_write_add_filter_none(w);
	}
}

/* root/ and everything below it, by walking the VM's root on disk. */
static int
write_tree(struct archive *w, const char *root, struct hv_error **reterr)
{
	struct archive *d = archive_read_disk_new();
	struct archive_entry *e = archive_entry_new();
	size_t skip = strlen(root);
	int r = 0, k;

	if (!d || !e) {
		archive_read_free(d);
		archive_entry_free(e);
		return -ENOMEM;
	}
	/* Numeric owners only: the names on this host mean nothing in the image. */
	archive_read_disk_set_symlink_physical(d);
	archive_read_disk_set_behavior(d, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
	if (archive_read_disk_open(d, root) != ARCHIVE_OK) {
		r = hv_error_set(reterr, -EIO, "'%s': %s", root, archive_error_string(d));
		goto out;
	}
	while ((k = archive_read_next_header2(d, e)) == ARCHIVE_OK) {
		_cleanup_free_ char *name = NULL;
		const char *p = archive_entry_pathname(e);
		unsigned t = archive_entry_filetype(e);

		archive_read_disk_descend(d);
		/* Device nodes and sockets cannot be imported; a zone's /dev is made at boot. */
		if (t == AE_IFCHR || t == AE_IFBLK || t == AE_IFSOCK)
			continue;
		if (asprintf(&name, "root%s", p + skip) < 0) {
			r = -ENOMEM;
			goto out;
		}
		archive_entry_set_pathname(e, name);
		archive_entry_set_uname(e, NULL);
		archive_entry_set_gname(e, NULL);
		if (archive_write_header(w, e) < ARCHIVE_WARN) {
			r = hv_error_set(reterr, -EIO, "'%s': %s", p, archive_error_string(w));
			goto out;
		}
		if (t == AE_IFREG && archive_entry_size(e) > 0) {
			_cleanup_close_ int fd = open(archive_entry_sourcepath(e),
			                              O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			char buf[256 * 1024];
			ssize_t n;

			if (fd < 0) {
				r = hv_error_set(reterr, -errno, "'%s': %m", p);
				goto out;
			}
			while ((n = read(fd, buf, sizeof(buf))) > 0)
				if (archive_write_data(w, buf, (size_t)n) < 0) {
					r = hv_error_set(reterr, -EIO, "%s",
					                 archive_error_string(w));
					goto out;
				}
		}
	}
	if (k != ARCHIVE_EOF)
		r = hv_error_set(reterr, -EIO, "'%s': %s", root, archive_error_string(d));
out:
	archive_entry_free(e);
	archive_read_free(d);
	return r;
}

/* name=, version= and friends, into the manifest. */
static int
apply_fields(json_t *m, int argc, char *argv[], struct hv_error **reterr)
{
	for (int i = optind; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		json_t *v;

		if (!eq || eq == argv[i])
			return hv_error_set(reterr, -EINVAL, "'%s': expected field=value", argv[i]);
		*eq = 0;
		/* "version=2.0" is the string "2.0": only objects, arrays, booleans and
		 * image_size are taken as JSON. */
		v = NULL;
		if (strchr("{[", eq[1]) || streq(eq + 1, "true") || streq(eq + 1, "false") ||
		    streq(argv[i], "image_size"))
			v = json_loads(eq + 1, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
		if (!v)
			v = json_string(eq + 1);
		if (hv_json_set(m, argv[i], v) < 0)
			return -ENOMEM;
	}
	return 0;
}

static json_t *
base_manifest(const json_t *vm)
{
	char id[UUID_STRING_LEN + 1], ts[25];
	struct utsname u;
	const char *kv = json_string_value(json_object_get(vm, "kernel_version"));

	if (uuid_generate_v4(id) < 0)
		return NULL;
	if (!kv && uname(&u) == 0)
		kv = u.release;
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:s, s:{s:s}, s:{s:s?}}", "v", 2,
	                 "uuid", id, "owner",
	                 json_string_value(json_object_get(vm, "owner_uuid"))
	                         ?: "00000000-0000-0000-0000-000000000000",
	                 "type", "lx-dataset", "os", "linux", "state", "active", "disabled", false,
	                 "public", false, "published_at",
	                 format_iso8601_usec(ts, now_usec(CLOCK_REALTIME)), "requirements", "brand",
	                 "lx", "tags", "kernel_version", kv);
}

/* Write the archive of the VM's root into path; fill in files[0]. */
static int
write_image(const char *root, const char *path, enum hv_image_compression c, json_t *m,
            struct hv_error **reterr)
{
	struct sink s = {.fd = -1};
	struct archive *w = archive_write_new();
	char sha1[HV_SHA1_HEX_LEN + 1];
	int r = 0;

	s.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (!w || s.fd < 0 || hv_hash_new(HV_HASH_SHA1, &s.sha1) < 0) {
		r = s.fd < 0 ? hv_error_set(reterr, -errno, "'%s': %m", path) : -ENOMEM;
		goto out;
	}
	archive_write_set_format_pax_restricted(w);
	archive_write_set_bytes_in_last_block(w, 1);
	if (add_filter(w, c) != ARCHIVE_OK ||
	    archive_write_open2(w, &s, NULL, sink_write, NULL, NULL) != ARCHIVE_OK) {
		r = hv_error_set(reterr, -EIO, "'%s': %s", path, archive_error_string(w));
		goto out;
	}
	r = write_tree(w, root, reterr);
	if (archive_write_close(w) != ARCHIVE_OK && r >= 0)
		r = hv_error_set(reterr, -EIO, "'%s': %s", path, archive_error_string(w));
	if (r >= 0 && (r = hv_hash_final_hex(s.sha1, sha1, sizeof(sha1))) >= 0 &&
	    hv_json_set(m, "files",
	                json_pack("[{s:s, s:I, s:s}]", "sha1", sha1, "size", (json_int_t)s.size,
	                          "compression", hv_image_compression_to_string(c))) < 0)
		r = -ENOMEM;
	if (r >= 0 && fsync(s.fd) < 0)
		r = hv_error_set(reterr, -errno, "'%s': %m", path);
out:
	archive_write_free(w);
	hv_hash_free(s.sha1);
	safe_close(s.fd);
	if (r < 0)
		(void)unlink(path);
	return r;
}

static int
publish(const char *url, json_t *m, const char *path, struct hv_error **reterr)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return hv_error_set(reterr, -errno, "'%s': %m", path);
	return hv_image_publish(url, getenv("IMGAPI_TOKEN"), m, fd, reterr);
}

int
cmd_create(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *zonepath = NULL, *root = NULL, *file = NULL, *mpath = NULL,
	                    *text = NULL;
	enum hv_image_compression comp = HV_IMAGE_COMPRESSION_ZSTD;
	struct hv_image_manifest parsed = {0};
	json_auto_t *vm = NULL, *m = NULL;
	const char *outdir = ".", *url = NULL, *vmu;
	int c, r;

	opts_reset();
	while ((c = getopt(argc, argv, "+c:o:p:q")) != -1) {
		if (c == 'c' && (int)(comp = hv_image_compression_from_string(optarg)) < 0)
			return usage_error(
			        "create: compression '%s': expected none, gzip, bzip2, xz "
			        "or zstd",
			        optarg);
		else if (c == 'o')
			outdir = optarg;
		else if (c == 'p')
			url = optarg;
		else if (c != 'c' && c != 'q')
			return usage_error(
			        "usage: imgadm create [-c COMP] [-o DIR] [-p URL] VM_UUID "
			        "name=NAME version=VER [field=value ...]");
	}
	if (optind >= argc || !uuid_is_valid(argv[optind]))
		return usage_error("create: expected the UUID of a stopped VM");
	vmu = argv[optind++];
	if ((r = hv_vm_load(vmu, &vm, &e)) < 0)
		return fail(r, e);
	if (hv_zone_running(vmu, NULL) > 0) {
		r = hv_error_set(&e, -EBUSY, "VM %s is running: stop it first (vmadm stop %s)", vmu,
		                 vmu);
		return fail(r, e);
	}
	if (!(m = base_manifest(vm)))
		return fail(-ENOMEM, NULL);
	if ((r = apply_fields(m, argc, argv, &e)) < 0)
		return fail(r, e);
	if (!json_is_string(json_object_get(m, "name")) ||
	    !json_is_string(json_object_get(m, "version")))
		return usage_error("create: name=NAME and version=VERSION are needed");
	if (hv_vm_zonepath(vmu, &zonepath) < 0 || path_join(zonepath, "root", &root) < 0 ||
	    asprintf(&file, "%s/%s-%s.%s", outdir, json_string_value(json_object_get(m, "name")),
	             json_string_value(json_object_get(m, "version")), suffix_of(comp)) < 0 ||
	    asprintf(&mpath, "%s/%s-%s.json", outdir, json_string_value(json_object_get(m, "name")),
	             json_string_value(json_object_get(m, "version"))) < 0)
		return fail(-ENOMEM, NULL);
	if ((r = write_image(root, file, comp, m, &e)) < 0)
		return fail(r, e);
	/* What we hand out must import: check it as imgadm import will. */
	if ((r = hv_image_manifest_parse(m, &parsed, &e)) < 0 || !(text = hv_json_dumps(m)) ||
	    (r = write_file_atomic(mpath, text, strlen(text), 0644)) < 0) {
		(void)unlink(file);
		hv_image_manifest_done(&parsed);
		return fail(r < 0 ? r : -ENOMEM, e);
	}
	hv_image_manifest_done(&parsed);
	log_info("Created image %s: %s and %s", json_string_value(json_object_get(m, "uuid")),
	         mpath, file);
	if (url && (r = publish(url, m, file, &e)) < 0)
		return fail(r, e);
	return 0;
}
