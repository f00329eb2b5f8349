/* SPDX-License-Identifier: MIT */
/*
 * pooladm(8): the pool and its datasets, as zpool(8) and zfs(8) manage
 * them on SmartOS. One command per verb; each parses its own options and
 * calls lib/storage. Exit status: 0 success, 1 error, 2 usage.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/log.h"
#include "basic/parse.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "pooladm.h"

int
fail(int r, struct hv_error *e)
{
	log_error_errno(r, "%s", hv_error_message(e, r));
	return EXIT_FAILURE;
}

int
bad_option(const char *cmd, char *argv[])
{
	log_error("%s: unknown option or missing argument: '%s' (see pooladm help)", cmd,
	          argv[optind > 0 ? optind - 1 : 0]);
	return EXIT_USAGE;
}

/* "-o quota=10G" and friends, for create and clone. */
static int
parse_prop(const char *arg, struct hv_dataset_props *props)
{
	const char *eq = strchr(arg, '=');

	if (!eq)
		return usage_error("property '%s': expected name=value", arg);
	if (strncmp(arg, "quota=", 6) == 0) {
		if (streq(eq + 1, "none"))
			props->quota = 0;
		else if (parse_size(eq + 1, &props->quota) < 0 || props->quota == 0)
			return usage_error("quota '%s': expected a size such as 10G, or none",
			                   eq + 1);
	} else if (strncmp(arg, "compression=", 12) == 0)
		props->compression = eq + 1;
	else
		return usage_error("property '%s': expected quota=SIZE or compression=ALG", arg);
	return 0;
}

static int
open_rw(const char *dataset, struct hv_pool **ret)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r = hv_pool_open_for(dataset, HV_POOL_OPEN_WRITE, ret, &e);

	return r < 0 ? fail(r, e) : 0;
}

static int
create_pool(const char *name, char *const *devices, const char *file, uint64_t size, bool raid1,
            enum hv_pool_backend backend, enum hv_quota_mode qm)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_pool_create_opts o = {
	        .name = name,
	        .backend = backend,
	        .devices = devices && *devices ? devices : NULL,
	        .file = file,
	        .file_size = size,
	        .raid1 = raid1,
	        .quota_mode = qm,
	};
	int r = hv_pool_create(&o, &e);

	return r < 0 ? fail(r, e) : 0;
}

static int
cmd_create(int argc, char *argv[])
{
	static const struct option longopts[] = {
	        {"file", required_argument, NULL, 'f'},
	        {"size", required_argument, NULL, 's'},
	        {"raid1", no_argument, NULL, '1'},
	        {"backend", required_argument, NULL, 'b'},
	        {"quota-mode", required_argument, NULL, 'q'},
	        {},
	};
	struct hv_dataset_props props = {0};
	enum hv_pool_backend backend = HV_POOL_BACKEND_BTRFS;
	enum hv_quota_mode qm = HV_QUOTA_AUTO;
	const char *file = NULL;
	uint64_t size = 0;
	bool raid1 = false, volume = false;
	int c, r;

	opts_reset();
	while ((c = getopt_long(argc, argv, "pV:o:", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			props.parents = true;
			break;
		case 'V':
			volume = true;
			if (parse_size(optarg, &props.volsize) < 0 || props.volsize == 0)
				return usage_error("volume size '%s': expected a size such as 10G",
				                   optarg);
			break;
		case 'o':
			if ((r = parse_prop(optarg, &props)) != 0)
				return r;
			break;
		case 'f':
			file = optarg;
			break;
		case 's':
			if (parse_size(optarg, &size) < 0 || size == 0)
				return usage_error("size '%s': expected a size such as 20G",
				                   optarg);
			break;
		case '1':
			raid1 = true;
			break;
		case 'b':
			backend = hv_pool_backend_from_string(optarg);
			if ((int)backend < 0)
				return usage_error("backend '%s': expected btrfs or dir", optarg);
			break;
		case 'q':
			qm = hv_quota_mode_from_string(optarg);
			if ((int)qm < 0 || qm == HV_QUOTA_NONE)
				return usage_error("quota mode '%s': expected auto, simple or full",
				                   optarg);
			break;
		default:
			return bad_option("create", argv);
		}
	}
	if (optind >= argc)
		return usage_error("%s", "create: expected a pool or dataset name");

	if (!strchr(argv[optind], '/')) {
		/* A pool: "create zones DEVICE…", "create zones --size 20G [--file F]". */
		if (volume || props.parents || props.quota || props.compression)
			return usage_error("create '%s': -V, -p and -o are for datasets",
			                   argv[optind]);
		if (file && !size)
			return usage_error("create '%s': --file needs --size", argv[optind]);
		return create_pool(argv[optind], argv + optind + 1, file, size, raid1, backend, qm);
	}
	if (file || size || raid1 || backend != HV_POOL_BACKEND_BTRFS || qm != HV_QUOTA_AUTO)
		return usage_error("create '%s': --file, --size, --raid1, --backend and "
		                   "--quota-mode are for pools",
		                   argv[optind]);
	if (optind + 1 != argc)
		return usage_error("create: unexpected argument '%s'", argv[optind + 1]);

	_cleanup_hv_pool_ struct hv_pool *p = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;
	if ((r = open_rw(argv[optind], &p)) != 0)
		return r;
	r = hv_pool_create_dataset(p, argv[optind],
	                           volume ? HV_DATASET_VOLUME : HV_DATASET_FILESYSTEM, &props, &e);
	return r < 0 ? fail(r, e) : 0;
}

static int
cmd_destroy(int argc, char *argv[])
{
	_cleanup_hv_pool_ struct hv_pool *p = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;
	unsigned flags = 0;
	int c, r;

	opts_reset();
	while ((c = getopt(argc, argv, "rR")) != -1) {
		if (c == 'r')
			flags |= HV_DESTROY_RECURSIVE;
		else if (c == 'R')
			flags |= HV_DESTROY_DEPENDENTS | HV_DESTROY_RECURSIVE;
		else
			return bad_option("destroy", argv);
	}
	if (argc - optind != 1)
		return usage_error("%s", "destroy: expected one dataset or snapshot name");
	if ((r = open_rw(argv[optind], &p)) != 0)
		return r;
	r = hv_pool_destroy(p, argv[optind], flags, &e);
	return r < 0 ? fail(r, e) : 0;
}

/* Commands of the form "verb [flags] NAME [NAME2]" with one operation each. */
static int
cmd_simple(const char *verb, int argc, char *argv[])
{
	_cleanup_hv_pool_ struct hv_pool *p = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_dataset_props props = {0};
	bool recursive = false;
	int nargs = streq(verb, "rename") || streq(verb, "clone") ? 2 : 1;
	int c, r;

	opts_reset();
	while ((c = getopt(argc, argv, streq(verb, "clone") ? "po:" : "r")) != -1) {
		if (c == 'r' && streq(verb, "rollback"))
			recursive = true;
		else if (c == 'p' && streq(verb, "clone"))
			props.parents = true;
		else if (c == 'o' && streq(verb, "clone")) {
			if ((r = parse_prop(optarg, &props)) != 0)
				return r;
		} else
			return bad_option(verb, argv);
	}
	if (argc - optind != nargs) {
		log_error("%s: expected %s", verb,
		          nargs == 2                                           ? "two names"
		          : streq(verb, "snapshot") || streq(verb, "rollback") ? "one name@snapshot"
		                                                               : "one name");
		return EXIT_USAGE;
	}
	if ((r = open_rw(argv[optind], &p)) != 0)
		return r;
	if (streq(verb, "snapshot"))
		r = hv_pool_snapshot(p, argv[optind], &e);
	else if (streq(verb, "rollback"))
		r = hv_pool_rollback(p, argv[optind], recursive, &e);
	else if (streq(verb, "promote"))
		r = hv_pool_promote(p, argv[optind], &e);
	else if (streq(verb, "rename"))
		r = hv_pool_rename(p, argv[optind], argv[optind + 1], &e);
	else
		r = hv_pool_clone(p, argv[optind], argv[optind + 1], &props, &e);
	return r < 0 ? fail(r, e) : 0;
}

static int
cmd_set(int argc, char *argv[])
{
	_cleanup_hv_pool_ struct hv_pool *p = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *prop = NULL;
	const char *eq;
	int r;

	if (argc != 3)
		return usage_error("%s", "set: expected PROPERTY=VALUE NAME");
	eq = strchr(argv[1], '=');
	if (!eq || eq == argv[1])
		return usage_error("set: '%s': expected PROPERTY=VALUE", argv[1]);
	prop = strndup(argv[1], (size_t)(eq - argv[1]));
	if (!prop)
		return fail(-ENOMEM, NULL);
	if ((r = open_rw(argv[2], &p)) != 0)
		return r;
	r = hv_pool_set(p, argv[2], prop, eq + 1, &e);
	return r < 0 ? fail(r, e) : 0;
}

static int
cmd_import_export(bool import, int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r;

	if (argc > 2 || (!import && argc != 2))
		return usage_error("%s", import ? "import: expected at most one pool name"
		                                : "export: expected one pool name");
	r = import ? hv_pool_import(argc == 2 ? argv[1] : NULL, &e) : hv_pool_export(argv[1], &e);
	return r < 0 ? fail(r, e) : 0;
}

static int
cmd_scrub(int argc, char *argv[])
{
	_cleanup_hv_pool_ struct hv_pool *p = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_scrub_result s;
	int r;

	if (argc != 2 || strchr(argv[1], '/'))
		return usage_error("%s", "scrub: expected one pool name");
	if ((r = open_rw(argv[1], &p)) != 0)
		return r;
	r = hv_pool_scrub(p, &s, &e);
	if (r < 0)
		return fail(r, e);
	printf("scrub of pool '%s': %llu bytes checked, %llu checksum errors, %llu read errors, "
	       "%llu corrected, %llu uncorrectable\n",
	       argv[1], (unsigned long long)s.bytes, (unsigned long long)s.csum_errors,
	       (unsigned long long)s.read_errors, (unsigned long long)s.corrected,
	       (unsigned long long)s.uncorrectable);
	return s.uncorrectable ? EXIT_FAILURE : 0;
}

static int
cmd_send(int argc, char *argv[])
{
	_cleanup_hv_pool_ struct hv_pool *p = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;
	const char *base = NULL;
	int c, r;

	opts_reset();
	while ((c = getopt(argc, argv, "i:")) != -1) {
		if (c != 'i')
			return bad_option("send", argv);
		base = optarg;
	}
	if (argc - optind != 1)
		return usage_error("%s", "send: expected one name@snapshot");
	if (isatty(STDOUT_FILENO))
		return usage_error("%s", "send: refusing to write a stream to a terminal; redirect "
		                         "or pipe it");
	/* A reader, not a writer: sending does not change the pool. */
	r = hv_pool_open_for(argv[optind], 0, &p, &e);
	if (r < 0)
		return fail(r, e);
	r = hv_pool_send(p, argv[optind], base, STDOUT_FILENO, &e);
	return r < 0 ? fail(r, e) : 0;
}

static int
cmd_receive(int argc, char *argv[])
{
	_cleanup_hv_pool_ struct hv_pool *p = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r;

	if (argc != 2)
		return usage_error("%s", "receive: expected one dataset name");
	if (isatty(STDIN_FILENO))
		return usage_error("%s", "receive: refusing to read a stream from a terminal");
	if ((r = open_rw(argv[1], &p)) != 0)
		return r;
	r = hv_pool_receive(p, argv[1], STDIN_FILENO, &e);
	return r < 0 ? fail(r, e) : 0;
}

static const char usage_text[] =
        "Usage: pooladm COMMAND [ARGS]\n"
        "\n"
        "Pools:\n"
        "  create POOL DEVICE... [--raid1] [--quota-mode auto|simple|full]\n"
        "  create POOL --size SIZE [--file PATH]     btrfs on a loop-mounted sparse file\n"
        "  create POOL --backend dir                 plain directories (no btrfs)\n"
        "  import [POOL]        export POOL        status [POOL]        scrub POOL\n"
        "\n"
        "Datasets:\n"
        "  create [-p] [-o quota=SIZE] [-o compression=ALG] NAME\n"
        "  create [-p] -V SIZE [-o ...] NAME          a volume (raw disk image)\n"
        "  destroy [-r] [-R] NAME[@SNAP]\n"
        "  rename NAME NEWNAME          snapshot NAME@SNAP       rollback [-r] NAME@SNAP\n"
        "  clone [-p] [-o ...] NAME@SNAP NEWNAME      promote NAME\n"
        "  list [-t filesystem|volume|snapshot|pool|all] [-o FIELD,...] [-H] [-p] [-r] [NAME]\n"
        "  get [-H] [-p] [-o name,property,value,source] all|PROP[,PROP...] NAME...\n"
        "  set PROP=VALUE NAME          (quota, compression, volsize)\n"
        "  send [-i @SNAP] NAME@SNAP > STREAM         receive NAME < STREAM\n";

int
main(int argc, char *argv[])
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char *argv[]);
	} table[] = {
	        {"create", cmd_create}, {"destroy", cmd_destroy}, {"list", cmd_list},
	        {"get", cmd_get},       {"set", cmd_set},         {"status", cmd_status},
	        {"scrub", cmd_scrub},   {"send", cmd_send},       {"receive", cmd_receive},
	        {"recv", cmd_receive},
	};
	static const char *const simple[] = {"snapshot", "rollback", "promote", "rename", "clone"};
	_cleanup_free_ char *logpath = NULL;
	const char *cmd;
	int status;

	(void)hv_root_log_path("pooladm", &logpath);
	log_open("pooladm", logpath);

	if (cli_usage_or_help(argc, argv, usage_text, &status))
		return status;
	cmd = argv[1];
	if (streq(cmd, "import") || streq(cmd, "export"))
		return cmd_import_export(streq(cmd, "import"), argc - 1, argv + 1);
	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		if (streq(cmd, table[i].name))
			return table[i].fn(argc - 1, argv + 1);
	for (size_t i = 0; i < ELEMENTSOF(simple); i++)
		if (streq(cmd, simple[i]))
			return cmd_simple(cmd, argc - 1, argv + 1);
	log_error("unknown command '%s' (see pooladm help)", cmd);
	return EXIT_USAGE;
}
