/* SPDX-License-Identifier: MIT */
/*
 * nictagadm(8): the node's nic tags and etherstubs, as SmartOS's
 * nictagadm manages them: add, update, delete, exists, list, vms, vnics.
 * The tags live in the node config ($SABLE_ROOT/usbkey/config); lib/net
 * reads and changes them, lib/core says which VMs use one. Exit status:
 * 0 success, 1 error, 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/cli.h"
#include "basic/log.h"
#include "basic/parse.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "core/vm.h"
#include "json/json.h"
#include "net/net.h"

static const char usage_text[] = "usage: nictagadm add [-v] [-l] [-p mtu=N,mac=MAC] NAME [MAC]\n"
                                 "       nictagadm update [-v] [-p mtu=N,mac=MAC] NAME [MAC]\n"
                                 "       nictagadm delete [-v] [-f] NAME\n"
                                 "       nictagadm exists [-v] [-l] NAME [NAME...]\n"
                                 "       nictagadm list [-v] [-l | -L] [-p] [-H] [-d DELIM]\n"
                                 "       nictagadm vms [-v] NAME\n"
                                 "       nictagadm vnics [-v] [-p] [-H] [-d DELIM] NAME\n";

static int
fail(int r, const struct hv_error *e)
{
	log_error_errno(r, "%s", hv_error_message(e, r));
	return EXIT_FAILURE;
}

static int
bad_option(const char *cmd, char *argv[])
{
	return usage_error("%s: unknown option or missing argument: '%s' (see nictagadm help)", cmd,
	                   argv[optind > 0 ? optind - 1 : 0]);
}

/* -p mtu=N,mac=MAC */
static int
parse_props(const char *cmd, const char *arg, unsigned *mtu, const char **mac, char **mac_buf)
{
	_cleanup_strv_free_ char **l = NULL;

	if (strv_split(arg, ',', &l) < 0)
		return -ENOMEM;
	STRV_FOREACH (p, l) {
		const char *v;
		uint32_t n;

		if ((v = startswith(*p, "mtu="))) {
			if (safe_atou32(v, &n) < 0 || n == 0)
				return usage_error("%s: mtu '%s': expected a number such as 1500",
				                   cmd, v);
			*mtu = n;
		} else if ((v = startswith(*p, "mac="))) {
			free(*mac_buf);
			if (!(*mac_buf = strdup(v)))
				return -ENOMEM;
			*mac = *mac_buf;
		} else
			return usage_error("%s: property '%s': expected mtu=N or mac=MAC", cmd, *p);
	}
	return 0;
}

static int
cmd_add_update(bool add, int argc, char *argv[])
{
	static const struct option options[] = {{}};
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *mac_buf = NULL;
	const char *cmd = add ? "add" : "update", *mac = NULL, *name;
	bool stub = false;
	unsigned mtu = 0;
	int c, r;

	opts_reset();
	while ((c = getopt_long(argc, argv, add ? "vlp:" : "vp:", options, NULL)) >= 0)
		switch (c) {
		case 'v':
			break;
		case 'l':
			stub = true;
			break;
		case 'p':
			r = parse_props(cmd, optarg, &mtu, &mac, &mac_buf);
			if (r != 0)
				return r < 0 ? fail(r, NULL) : r;
			break;
		default:
			return bad_option(cmd, argv);
		}
	if (optind >= argc || argc - optind > 2)
		return usage_error("%s: expected a nic tag name and, for a nic tag, its MAC", cmd);
	name = argv[optind];
	if (argc - optind == 2) {
		if (mac)
			return usage_error("%s: the MAC is given twice (argument and -p mac=)",
			                   cmd);
		mac = argv[optind + 1];
	}
	if (add && stub && mac)
		return usage_error("add -l '%s': an etherstub has no MAC", name);
	if (add && !stub && !mac)
		return usage_error("add '%s': expected its MAC (or -l for an etherstub)", name);
	if (!add && !mac && !mtu)
		return usage_error("update '%s': expected a MAC or -p mtu=N", name);
	r = add ? hv_net_tag_add(name, mac, stub, mtu, &e) : hv_net_tag_update(name, mac, mtu, &e);
	return r < 0 ? fail(r, e) : 0;
}

/* The uuids of the VMs with a NIC on tag, sorted; with nics, their NICs on it too. */
static int
vms_using(const char *tag, json_t **ret, struct hv_error **reterr)
{
	json_auto_t *all = NULL, *out = json_array();
	_cleanup_free_ char *zones = NULL;
	const json_t *vm;
	size_t i;
	int r;

	if (!out)
		return -ENOMEM;
	/* A node without a pool has no VMs. */
	if (hv_root_path(HV_POOL_DIR, &zones) < 0)
		return -ENOMEM;
	if (access(zones, F_OK) < 0) {
		*ret = TAKE_PTR(out);
		return 0;
	}
	r = hv_vm_get_all(&all, reterr);
	if (r < 0)
		return r;
	json_array_foreach (all, i, vm) {
		const json_t *nic;
		size_t k;

		json_array_foreach (json_object_get(vm, "nics"), k, nic) {
			const char *t = json_string_value(json_object_get(nic, "nic_tag"));
			json_t *e;

			if (!t || !streq(t, tag))
				continue;
			e = json_pack("{s:O?, s:O?, s:O?}", "uuid", json_object_get(vm, "uuid"),
			              "mac", json_object_get(nic, "mac"), "interface",
			              json_object_get(nic, "interface"));
			if (!e || json_array_append_new(out, e) < 0)
				return -ENOMEM;
		}
	}
	*ret = TAKE_PTR(out);
	return 0;
}

static int
cmd_delete(int argc, char *argv[])
{
	static const struct option options[] = {{}};
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_(hv_net_tag_done) struct hv_net_tag t = {0};
	json_auto_t *users = NULL;
	bool force = false;
	int c, r;

	opts_reset();
	while ((c = getopt_long(argc, argv, "vf", options, NULL)) >= 0)
		switch (c) {
		case 'v':
			break;
		case 'f':
			force = true;
			break;
		default:
			return bad_option("delete", argv);
		}
	if (argc - optind != 1)
		return usage_error("%s", "delete: expected one nic tag name");
	r = hv_net_tag_get(argv[optind], &t, &e);
	if (r < 0 && r != -ENODEV)
		return fail(r, e);
	if (!force) {
		r = vms_using(argv[optind], &users, &e);
		if (r < 0)
			return fail(r, e);
		if (json_array_size(users) > 0) {
			const json_t *u = json_array_get(users, 0);

			log_error("nic tag \"%s\" is used by VM %s%s (-f deletes it anyway)",
			          argv[optind], json_string_value(json_object_get(u, "uuid")),
			          json_array_size(users) > 1 ? " and others" : "");
			return EXIT_FAILURE;
		}
	}
	hv_error_free(TAKE_PTR(e));
	r = hv_net_tag_delete(argv[optind], &e);
	return r < 0 ? fail(r, e) : 0;
}

static int
cmd_exists(int argc, char *argv[])
{
	static const struct option options[] = {{}};
	bool list = false, all = true;
	int c;

	opts_reset();
	while ((c = getopt_long(argc, argv, "vl", options, NULL)) >= 0)
		switch (c) {
		case 'v':
			break;
		case 'l':
			list = true;
			break;
		default:
			return bad_option("exists", argv);
		}
	if (optind >= argc)
		return usage_error("%s", "exists: expected one or more nic tag names");
	for (int i = optind; i < argc; i++) {
		_cleanup_hv_error_ struct hv_error *e = NULL;
		_cleanup_(hv_net_tag_done) struct hv_net_tag t = {0};
		int r = hv_net_tag_get(argv[i], &t, &e);

		/* A tag whose NIC is away still exists. */
		if (r == -ENOENT) {
			all = false;
			if (list)
				log_error("%s", hv_error_message(e, r));
		} else if (r < 0 && r != -ENODEV)
			return fail(r, e);
	}
	return all ? 0 : EXIT_FAILURE;
}

/* One table row: aligned columns, or fields joined by delim with ':' escaped. */
struct table {
	bool parsable, header;
	const char *delim;
	size_t ncol;
	char **cells; /* row-major */
	size_t n;
};

static int
table_add(struct table *t, const char *const *row)
{
	for (size_t i = 0; i < t->ncol; i++)
		if (strv_push(&t->cells, row[i]) < 0)
			return -ENOMEM;
	t->n++;
	return 0;
}

static void
print_escaped(const char *s, const char *delim)
{
	for (; *s; s++) {
		if (strchr(delim, *s) || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
}

static void
table_print(const struct table *t)
{
	size_t w[8] = {0};

	for (size_t i = 0; i < t->n * t->ncol; i++)
		w[i % t->ncol] = MAX(w[i % t->ncol], strlen(t->cells[i]));
	for (size_t row = t->header ? 0 : 1; row < t->n; row++) {
		for (size_t col = 0; col < t->ncol; col++) {
			const char *s = t->cells[row * t->ncol + col];

			if (t->parsable) {
				if (col > 0)
					fputs(t->delim, stdout);
				print_escaped(s, t->delim);
			} else if (col + 1 < t->ncol)
				printf("%-*s  ", (int)w[col], s);
			else
				fputs(s, stdout);
		}
		putchar('\n');
	}
}

static int
table_options(const char *cmd, int argc, char *argv[], const char *extra, struct table *t,
              bool *stubs_only, bool *no_stubs)
{
	static const struct option options[] = {{}};
	bool delim = false;
	char opts[32];
	int c;

	snprintf(opts, sizeof(opts), "vpHd:%s", extra);
	opts_reset();
	while ((c = getopt_long(argc, argv, opts, options, NULL)) >= 0)
		switch (c) {
		case 'v':
			break;
		case 'p':
			t->parsable = true;
			t->header = false;
			break;
		case 'H':
			t->header = false;
			break;
		case 'd':
			if (!*optarg)
				return usage_error("%s: -d: expected a delimiter", cmd);
			t->delim = optarg;
			delim = true;
			break;
		case 'l':
			*stubs_only = true;
			break;
		case 'L':
			*no_stubs = true;
			break;
		default:
			return bad_option(cmd, argv);
		}
	if (delim && !t->parsable)
		return usage_error("%s: -d needs -p", cmd);
	return 0;
}

static int
cmd_list(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_strv_free_ char **cells = NULL;
	struct table t = {.header = true, .delim = ":", .ncol = 4};
	struct hv_net_tag *tags = NULL;
	bool stubs_only = false, no_stubs = false;
	size_t n = 0;
	int r;

	r = table_options("list", argc, argv, "lL", &t, &stubs_only, &no_stubs);
	if (r != 0)
		return r;
	if (stubs_only && no_stubs)
		return usage_error("%s", "list: -l and -L exclude each other");
	if (optind < argc)
		return usage_error("list: unexpected argument '%s'", argv[optind]);
	r = hv_net_tags_list(&tags, &n, &e);
	if (r < 0)
		return fail(r, e);
	r = table_add(&t, (const char *const[]){"NAME", "MACADDRESS", "LINK", "TYPE"});
	for (size_t i = 0; r >= 0 && i < n; i++) {
		if ((stubs_only && !tags[i].etherstub) || (no_stubs && tags[i].etherstub))
			continue;
		r = table_add(&t, (const char *const[]){
		                          tags[i].name,
		                          tags[i].mac ? tags[i].mac : "-",
		                          tags[i].link ? tags[i].link : "-",
		                          tags[i].etherstub ? "etherstub" : "normal",
		                  });
	}
	hv_net_tags_free(tags, n);
	cells = t.cells;
	if (r < 0)
		return fail(r, NULL);
	table_print(&t);
	return 0;
}

static int
tag_known(const char *name)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_(hv_net_tag_done) struct hv_net_tag t = {0};
	int r = hv_net_tag_get(name, &t, &e);

	return r < 0 && r != -ENODEV ? fail(r, e) : 0;
}

static int
cmd_vms(int argc, char *argv[])
{
	static const struct option options[] = {{}};
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_strv_free_ char **seen = NULL;
	json_auto_t *users = NULL;
	const json_t *u;
	size_t i;
	int c, r;

	opts_reset();
	while ((c = getopt_long(argc, argv, "v", options, NULL)) >= 0)
		if (c != 'v')
			return bad_option("vms", argv);
	if (argc - optind != 1)
		return usage_error("%s", "vms: expected one nic tag name");
	if ((r = tag_known(argv[optind])) != 0)
		return r;
	r = vms_using(argv[optind], &users, &e);
	if (r < 0)
		return fail(r, e);
	json_array_foreach (users, i, u) {
		const char *uuid = json_string_value(json_object_get(u, "uuid"));

		if (uuid && !strv_contains(seen, uuid)) {
			puts(uuid);
			if (strv_push(&seen, uuid) < 0)
				return fail(-ENOMEM, NULL);
		}
	}
	return 0;
}

static int
cmd_vnics(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_strv_free_ char **cells = NULL;
	struct table t = {.header = true, .delim = ":", .ncol = 3};
	json_auto_t *users = NULL;
	bool unused1 = false, unused2 = false;
	const json_t *u;
	size_t i;
	int r;

	r = table_options("vnics", argc, argv, "", &t, &unused1, &unused2);
	if (r != 0)
		return r;
	if (argc - optind != 1)
		return usage_error("%s", "vnics: expected one nic tag name");
	if ((r = tag_known(argv[optind])) != 0)
		return r;
	r = vms_using(argv[optind], &users, &e);
	if (r < 0)
		return fail(r, e);
	r = table_add(&t, (const char *const[]){"MACADDRESS", "VM", "INTERFACE"});
	json_array_foreach (users, i, u) {
		if (r < 0)
			break;
		r = table_add(&t,
		              (const char *const[]){
		                      strempty(json_string_value(json_object_get(u, "mac"))),
		                      strempty(json_string_value(json_object_get(u, "uuid"))),
		                      strempty(json_string_value(json_object_get(u, "interface"))),
		              });
	}
	cells = t.cells;
	if (r < 0)
		return fail(r, NULL);
	table_print(&t);
	return 0;
}

int
main(int argc, char *argv[])
{
	_cleanup_free_ char *logpath = NULL;
	const char *cmd;
	int status;

	(void)hv_root_log_path("nictagadm", &logpath);
	log_open("nictagadm", logpath);
	if (cli_usage_or_help(argc, argv, usage_text, &status))
		return status;
	cmd = argv[1];
	if (streq(cmd, "add") || streq(cmd, "update"))
		return cmd_add_update(streq(cmd, "add"), argc - 1, argv + 1);
	if (streq(cmd, "delete"))
		return cmd_delete(argc - 1, argv + 1);
	if (streq(cmd, "exists"))
		return cmd_exists(argc - 1, argv + 1);
	if (streq(cmd, "list"))
		return cmd_list(argc - 1, argv + 1);
	if (streq(cmd, "vms"))
		return cmd_vms(argc - 1, argv + 1);
	if (streq(cmd, "vnics"))
		return cmd_vnics(argc - 1, argv + 1);
	return usage_error("unknown command '%s' (see nictagadm help)", cmd);
}
