/* SPDX-License-Identifier: MIT */
/* vmadm list and lookup (smartos.md §1.2, §1.3): all VMs, filtered, as a table, uuids or JSON. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/log.h"
#include "basic/path.h"
#include "basic/strv.h"
#include "basic/uuid.h"
#include "core/vm-list.h"
#include "core/vm.h"
#include "json/json.h"
#include "vmadm.h"

#define FILTERS_MAX 64

int
find_sibling(const char *name, char **ret)
{
	_cleanup_free_ char *dir = NULL, *rel = NULL;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *cand[2];

	if (n < 0)
		return -errno;
	self[n] = 0;
	if (path_dirname(self, &dir) < 0 || asprintf(&rel, "../%s/%s", name, name) < 0)
		return -ENOMEM;
	cand[0] = name;
	cand[1] = rel;
	for (size_t i = 0; i < 2; i++) {
		char *p;

		if (path_join(dir, cand[i], &p) < 0)
			return -ENOMEM;
		if (access(p, X_OK) == 0) {
			*ret = p;
			return 0;
		}
		free(p);
	}
	return -ENOENT;
}

/*
 * The filters from the arguments. A bare UUID means uuid=UUID: SmartOS
 * printed nothing for `vmadm list <uuid>` (its issue 41).
 */
static int
filters(int argc, char *argv[], struct hv_vm_filter **ret)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_strv_free_ char **args = calloc(1, sizeof(char *));
	int r;

	if (!args)
		return fail(-ENOMEM, NULL);
	if (argc - optind > FILTERS_MAX)
		return usage_error("at most %d filters", FILTERS_MAX);
	for (int i = optind; i < argc; i++) {
		_cleanup_free_ char *a = NULL;

		if (uuid_is_valid(argv[i]) ? asprintf(&a, "uuid=%s", argv[i]) < 0
		                           : !(a = strdup(argv[i])))
			return fail(-ENOMEM, NULL);
		if (strv_consume(&args, TAKE_PTR(a)) < 0)
			return fail(-ENOMEM, NULL);
	}
	r = hv_vm_filter_parse(args, strv_length(args), ret, &e);
	if (r < 0)
		return usage_error("%s", hv_error_message(e, r));
	return 0;
}

/* Every VM that matches (a new array). */
static int
matching(const struct hv_vm_filter *f, json_t **ret)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_auto_t *all = NULL, *out = json_array();
	size_t i;
	json_t *vm;
	int r;

	if (!out)
		return fail(-ENOMEM, NULL);
	if ((r = hv_vm_get_all(&all, &e)) < 0)
		return fail(r, e);
	json_array_foreach (all, i, vm)
		if (hv_vm_filter_match(f, vm) && json_array_append(out, vm) < 0)
			return fail(-ENOMEM, NULL);
	*ret = TAKE_PTR(out);
	return 0;
}

int
cmd_list(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *text = NULL;
	struct hv_vm_filter *f = NULL;
	struct hv_vm_list_opts o = {0};
	json_auto_t *vms = NULL;
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt(argc, argv, "pHho:s:")) != -1) {
		switch (c) {
		case 'p':
			o.parsable = true;
			break;
		case 'H':
			o.no_header = true;
			break;
		case 'h':
			o.no_header = false;
			break;
		case 'o':
			o.fields = optarg;
			break;
		case 's':
			o.sort = optarg;
			break;
		default:
			return usage_error("usage: vmadm list [-p] [-H] [-o field,...] "
			                   "[-s field,...] [field=value ...]");
		}
	}
	if ((r = filters(argc, argv, &f)) != 0)
		return r;
	r = matching(f, &vms);
	hv_vm_filter_free(f);
	if (r != 0)
		return r;
	r = hv_vm_list_format(vms, &o, &text, &e);
	if (r < 0)
		return r == -EINVAL ? usage_error("%s", hv_error_message(e, r)) : fail(r, e);
	fputs(text, stdout);
	return 0;
}

int
cmd_lookup(int argc, char *argv[])
{
	const char *fields = NULL;
	struct hv_vm_filter *f = NULL;
	json_auto_t *vms = NULL;
	bool json = false, unique = false;
	size_t i;
	json_t *vm;
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt(argc, argv, "j1o:")) != -1) {
		if (c == 'j')
			json = true;
		else if (c == '1')
			unique = true;
		else if (c == 'o')
			fields = optarg;
		else
			return usage_error("usage: vmadm lookup [-j|-1] [-o field,...] "
			                   "[field=value ...]");
	}
	if (fields && !json)
		return usage_error("Cannot specify -o without -j");
	if ((r = filters(argc, argv, &f)) != 0)
		return r;
	r = matching(f, &vms);
	hv_vm_filter_free(f);
	if (r != 0)
		return r;
	if (unique && json_array_size(vms) != 1) {
		log_error("Requested unique lookup but found %zu results.", json_array_size(vms));
		return EXIT_FAILURE;
	}
	if (json) {
		json_auto_t *out = json_array();

		json_array_foreach (vms, i, vm)
			if (!out || json_array_append_new(out, fields ? hv_vm_project(vm, fields)
			                                              : json_incref(vm)) < 0)
				return fail(-ENOMEM, NULL);
		return hv_json_dumpf(out, stdout) < 0 ? fail(-EIO, NULL) : 0;
	}
	json_array_foreach (vms, i, vm)
		printf("%s\n", json_string_value(json_object_get(vm, "uuid")));
	return 0;
}
