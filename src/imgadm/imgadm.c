/* SPDX-License-Identifier: MIT */
/*
 * imgadm(8): images, as SmartOS's imgadm manages them (smartos.md §4.1):
 * sources, avail/show (a source's images), import/install (into the pool),
 * list/get/info/ancestry (installed ones), delete/vacuum/update, create
 * (from a VM) and publish. Exit status: 0 success, 1 error, 2 usage, 3 the
 * image is not installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "basic/uuid.h"
#include "image/image.h"
#include "image/source.h"
#include "imgadm.h"
#include "json/json.h"

#define MANIFEST_MAX (1024 * 1024)

const char *arg_pool = "zones";
bool arg_quiet;

int
fail(int r, const struct hv_error *e)
{
	log_error("%s", hv_error_message(e, r));
	return r == -ENOENT && e && strstr(hv_error_message(e, r), "not installed")
	               ? HV_IMAGE_EXIT_NOT_INSTALLED
	               : EXIT_FAILURE;
}

static int
want_uuid(const char *cmd, int argc, char *argv[], const char **ret)
{
	if (optind >= argc || !uuid_is_valid(argv[optind]))
		return usage_error("%s: expected an image UUID", cmd);
	*ret = argv[optind++];
	if (optind < argc)
		return usage_error("%s: unexpected argument '%s'", cmd, argv[optind]);
	return 0;
}

/* "[=====>     ] 42%  123.4 MiB": on a terminal only, redrawn in place. */
static void
progress(uint64_t done, uint64_t total, void *userdata)
{
	const char *name = userdata;
	unsigned pct = total ? (unsigned)(done * 100 / total) : 0;
	char bar[41];

	for (unsigned i = 0; i < 40; i++)
		bar[i] = i < pct * 40 / 100 ? '=' : ' ';
	bar[40] = 0;
	fprintf(stderr, "\r%-12.12s [%s] %3u%% %8.1f MiB", name, bar, pct,
	        (double)done / (1 << 20));
	if (done >= total)
		fputc('\n', stderr);
	fflush(stderr);
}

static struct hv_image_install_opts
install_opts(const char *label)
{
	struct hv_image_install_opts o = {.zpool = arg_pool};

	if (!arg_quiet && isatty(STDERR_FILENO)) {
		o.progress = progress;
		o.userdata = (void *)label;
	}
	return o;
}

static int
cmd_import(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_image_install_opts o;
	const char *uuid, *source = NULL;
	int c, r;

	opts_reset();
	while ((c = getopt(argc, argv, "P:qS:C:")) != -1) {
		if (c == 'P')
			arg_pool = optarg;
		else if (c == 'q')
			arg_quiet = true;
		else if (c == 'S')
			source = optarg;
		else if (c != 'C')
			return usage_error("usage: imgadm import [-P POOL] [-q] [-S URL] UUID");
	}
	if ((r = want_uuid("import", argc, argv, &uuid)) != 0)
		return r;
	o = install_opts(uuid);
	r = hv_image_import(uuid, source, &o, &e);
	if (r == -EEXIST) {
		log_info("Image %s is already installed", uuid);
		return 0;
	}
	if (r < 0)
		return fail(r, e);
	log_info("Imported image %s", uuid);
	return 0;
}

static int
cmd_install(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct hv_image_manifest m = {0};
	struct hv_image_install_opts o;
	const char *mpath = NULL, *fpath = NULL;
	size_t n;
	int c, r;

	opts_reset();
	while ((c = getopt(argc, argv, "m:f:P:q")) != -1) {
		if (c == 'm')
			mpath = optarg;
		else if (c == 'f')
			fpath = optarg;
		else if (c == 'P')
			arg_pool = optarg;
		else if (c == 'q')
			arg_quiet = true;
		else
			return usage_error(
			        "usage: imgadm install -m MANIFEST -f FILE [-P POOL] [-q]");
	}
	if (!mpath || !fpath || optind < argc)
		return usage_error("usage: imgadm install -m MANIFEST -f FILE [-P POOL] [-q]");
	if ((r = read_full_file(mpath, MANIFEST_MAX, &text, &n)) < 0) {
		r = hv_error_set(&e, r, "manifest '%s': %m", mpath);
		return fail(r, e);
	}
	if ((r = hv_image_manifest_load(text, n, mpath, &m, &e)) < 0)
		return fail(r, e);
	fd = open(fpath, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = hv_error_set(&e, -errno, "image file '%s': %m", fpath);
		hv_image_manifest_done(&m);
		return fail(r, e);
	}
	o = install_opts(m.name);
	r = hv_image_install(&m, fd, &o, &e);
	if (r == -EEXIST)
		log_info("Image %s (%s@%s) is already installed", m.uuid, m.name, m.version);
	else if (r >= 0)
		log_info("Installed image %s (%s@%s)", m.uuid, m.name, m.version);
	hv_image_manifest_done(&m);
	return r < 0 && r != -EEXIST ? fail(r, e) : 0;
}

static int
cmd_get(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_auto_t *o = NULL;
	const char *uuid;
	int c, r;

	opts_reset();
	while ((c = getopt(argc, argv, "P:r")) != -1)
		if (c == 'P')
			arg_pool = optarg;
		else if (c != 'r')
			return usage_error("usage: imgadm get [-P POOL] [-r] UUID");
	if ((r = want_uuid("get", argc, argv, &uuid)) != 0)
		return r;
	if ((r = hv_image_get(arg_pool, uuid, &o, &e)) < 0)
		return fail(r, e);
	return hv_json_dumpf(o, stdout) < 0 ? fail(-EIO, NULL) : 0;
}

static int
cmd_delete(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	const char *uuid;
	int c, r;

	opts_reset();
	while ((c = getopt(argc, argv, "P:")) != -1)
		if (c == 'P')
			arg_pool = optarg;
		else
			return usage_error("usage: imgadm delete [-P POOL] UUID");
	if ((r = want_uuid("delete", argc, argv, &uuid)) != 0)
		return r;
	if ((r = hv_image_delete(arg_pool, uuid, &e)) < 0)
		return fail(r, e);
	log_info("Deleted image %s", uuid);
	return 0;
}

static int
cmd_sources(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_strv_free_ char **l = NULL;
	const char *add = NULL, *del = NULL;
	bool json = false, force = false, check = false;
	int c, r;

	opts_reset();
	while ((c = getopt(argc, argv, "a:d:jlfckvt:")) != -1) {
		if (c == 'a')
			add = optarg;
		else if (c == 'd')
			del = optarg;
		else if (c == 'j')
			json = true;
		else if (c == 'f')
			force = true;
		else if (c == 'c')
			check = true;
		else if (c == 't' && !streq(optarg, "imgapi"))
			return usage_error(
			        "sources: only imgapi sources are supported (-t imgapi)");
		else if (c != 'l' && c != 'k' && c != 'v' && c != 't')
			return usage_error(
			        "usage: imgadm sources [-l] [-j] [-c] | -a URL [-f] | -d URL");
	}
	if (optind < argc)
		return usage_error("sources: unexpected argument '%s'", argv[optind]);
	if (add) {
		if ((r = hv_image_source_add(add, force, &e)) < 0)
			return fail(r, e);
		log_info("Added image source \"%s\"", add);
		return 0;
	}
	if (del) {
		if ((r = hv_image_source_remove(del, &e)) < 0)
			return fail(r, e);
		log_info("Deleted image source \"%s\"", del);
		return 0;
	}
	if ((r = hv_image_sources(&l, &e)) < 0)
		return fail(r, e);
	if (json) {
		json_auto_t *a = json_array();
		STRV_FOREACH (s, l)
			(void)json_array_append_new(
			        a, json_pack("{s:s, s:s}", "url", *s, "type", "imgapi"));
		return hv_json_dumpf(a, stdout) < 0 ? fail(-EIO, NULL) : 0;
	}
	r = 0;
	STRV_FOREACH (s, l) {
		_cleanup_hv_error_ struct hv_error *pe = NULL;
		if (!check) {
			printf("%s\n", *s);
			continue;
		}
		int k = hv_image_source_ping(*s, &pe);
		printf("%s  %s\n", *s, k < 0 ? hv_error_message(pe, k) : "ok");
		if (k < 0)
			r = EXIT_FAILURE;
	}
	return r;
}

static int
cmd_show(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_strv_free_ char **l = NULL;
	const char *uuid;
	int r;

	opts_reset();
	if (getopt(argc, argv, "") != -1)
		return usage_error("usage: imgadm show UUID");
	if ((r = want_uuid("show", argc, argv, &uuid)) != 0)
		return r;
	if ((r = hv_image_sources(&l, &e)) < 0)
		return fail(r, e);
	STRV_FOREACH (s, l) {
		json_auto_t *m = NULL;
		if (hv_image_source_manifest(*s, uuid, &m, NULL) >= 0)
			return hv_json_dumpf(m, stdout) < 0 ? fail(-EIO, NULL) : 0;
	}
	log_error("image %s was not found in any source", uuid);
	return EXIT_FAILURE;
}

static int
cmd_publish(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_close_ int fd = -EBADF;
	json_auto_t *m = NULL;
	const char *mpath = NULL, *fpath = NULL;
	int c, r;

	opts_reset();
	while ((c = getopt(argc, argv, "m:f:q")) != -1) {
		if (c == 'm')
			mpath = optarg;
		else if (c == 'f')
			fpath = optarg;
		else if (c != 'q')
			return usage_error("usage: imgadm publish -m MANIFEST -f FILE URL");
	}
	if (!mpath || !fpath || optind + 1 != argc)
		return usage_error("usage: imgadm publish -m MANIFEST -f FILE URL");
	if ((r = hv_json_load_file(mpath, MANIFEST_MAX, &m, &e)) < 0)
		return fail(r, e);
	fd = open(fpath, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = hv_error_set(&e, -errno, "image file '%s': %m", fpath);
		return fail(r, e);
	}
	r = hv_image_publish(argv[optind], getenv("IMGAPI_TOKEN"), m, fd, &e);
	if (r < 0)
		return fail(r, e);
	log_info("Published image %s to %s", json_string_value(json_object_get(m, "uuid")) ?: "?",
	         argv[optind]);
	return 0;
}

static const char usage_text[] =
        "Usage: imgadm <command> [options]\n"
        "\n"
        "  sources [-l] [-j] [-c] | -a URL [-f] | -d URL\n"
        "  avail [-j] [-H] [-o field,...] [-s field,...]\n"
        "  show UUID\n"
        "  import [-P POOL] [-q] [-S URL] UUID\n"
        "  install -m MANIFEST -f FILE [-P POOL] [-q]\n"
        "  list [-j] [-H] [-o field,...] [-s field,...] [field=value ...]\n"
        "  get [-P POOL] UUID\n"
        "  info UUID\n"
        "  ancestry [-j] [-H] [-o field,...] UUID\n"
        "  delete [-P POOL] UUID\n"
        "  vacuum [-n] [-f]\n"
        "  update [-n]\n"
        "  create [-c none|gzip|bzip2|xz|zstd] [-o DIR] [-p URL] VM_UUID name=NAME "
        "version=VER [field=value ...]\n"
        "  publish -m MANIFEST -f FILE URL\n"
        "\n"
        "Exit status 3: the image is not installed.\n";

static const struct {
	const char *name;
	int (*fn)(int argc, char *argv[]);
} commands[] = {
        {"sources", cmd_sources}, {"avail", cmd_avail},     {"show", cmd_show},
        {"import", cmd_import},   {"install", cmd_install}, {"list", cmd_list},
        {"get", cmd_get},         {"info", cmd_info},       {"ancestry", cmd_ancestry},
        {"delete", cmd_delete},   {"vacuum", cmd_vacuum},   {"update", cmd_update},
        {"create", cmd_create},   {"publish", cmd_publish},
};

int
main(int argc, char *argv[])
{
	_cleanup_free_ char *logpath = NULL;
	const char *cmd;
	int i = 1;

	(void)hv_root_log_path("imgadm", &logpath);
	log_open("imgadm", logpath);
	for (; i < argc && (streq(argv[i], "-v") || streq(argv[i], "--verbose")); i++)
		log_set_max_level(LOG_DEBUG);
	if (i >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	cmd = argv[i];
	if (streq(cmd, "help") || streq(cmd, "-h") || streq(cmd, "--help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (streq(cmd, "--version")) {
		printf("imgadm (Sable) %s\n", HV_VERSION);
		return 0;
	}
	{
		_cleanup_hv_error_ struct hv_error *e = NULL;
		/* Remove what killed imports left (a no-op when nothing was). */
		if (hv_image_recover(NULL, &e) < 0)
			log_warning("%s", hv_error_message(e, -EIO));
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (streq(cmd, commands[k].name))
			return commands[k].fn(argc - i, argv + i);
	log_error("unknown command '%s' (see imgadm help)", cmd);
	return EXIT_USAGE;
}
