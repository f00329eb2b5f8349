/* SPDX-License-Identifier: MIT */
/*
 * vmadm events [-fjr] [uuid] (smartos.md §7.4): stay attached to vmadmd's
 * event stream and print one line per event (or, -j, the event object).
 * It ends only when vmadmd goes away (exit 1) or the reader does.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/log.h"
#include "basic/root.h"
#include "basic/uuid.h"
#include "core/vm.h"
#include "json/json.h"
#include "vmadm.h"

#define LINE_MAX_BYTES (16 * 1024 * 1024)

static bool arg_full, arg_json;

static int
connect_vmadmd(FILE **ret)
{
	_cleanup_free_ char *path = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;
	FILE *f;

	if (hv_root_path(HV_RUN_DIR "/vmadmd.events", &path) < 0)
		return -ENOMEM;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	f = fdopen(fd, "r+");
	if (!f) {
		close(fd);
		return -errno;
	}
	*ret = f;
	return 0;
}

/* "[12:34:56.789Z] 54f1cc77 web1 modify": the date and zonename cut short without -f. */
static void
print_prefix(const json_t *ev, char *buf, size_t size)
{
	const char *date = json_string_value(json_object_get(ev, "date"));
	const char *zonename = json_string_value(json_object_get(ev, "zonename"));
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *alias = json_string_value(json_object_get(json_object_get(ev, "vm"), "alias"));
	const char *t = date ? strchr(date, 'T') : NULL;
	int zlen = zonename ? (int)strcspn(zonename, arg_full ? "" : "-") : 0;

	snprintf(buf, size, "[%s] %.*s %.30s %s", arg_full || !t ? (date ?: "-") : t + 1, zlen,
	         zonename ?: "-", alias ?: "-", type ?: "-");
}

static void
print_event(const json_t *ev)
{
	char prefix[512];
	const json_t *changes = json_object_get(ev, "changes");
	const json_t *c;
	size_t i;

	if (arg_json) {
		_cleanup_free_ char *s = hv_json_dumps_compact(ev);
		if (s)
			printf("%s\n", s);
		fflush(stdout);
		return;
	}
	print_prefix(ev, prefix, sizeof(prefix));
	if (!json_array_size(changes)) {
		printf("%s\n", prefix);
		fflush(stdout);
		return;
	}
	json_array_foreach (changes, i, c) {
		_cleanup_free_ char *old = NULL, *new = NULL;
		const json_t *o = json_object_get(c, "oldValue"),
		             *n = json_object_get(c, "newValue");

		old = o ? json_dumps(o, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("-");
		new = n ? json_dumps(n, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("-");
		printf("%s: %s %s :: %s -> %s\n", prefix,
		       json_string_value(json_object_get(c, "prettyPath")) ?: "?",
		       json_string_value(json_object_get(c, "action")) ?: "?", old ?: "-",
		       new ?: "-");
	}
	fflush(stdout);
}

int
cmd_events(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *line = NULL;
	json_auto_t *req = NULL;
	const char *uuid = NULL;
	bool ready = false;
	size_t cap = 0;
	FILE *f = NULL;
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt(argc, argv, "fjr")) != -1) {
		if (c == 'f')
			arg_full = true;
		else if (c == 'j')
			arg_json = true;
		else if (c == 'r')
			ready = true;
		else
			return usage_error("usage: vmadm events [-fjr] [uuid]");
	}
	if (optind < argc) {
		json_auto_t *vm = NULL;
		uuid = argv[optind++];
		if (!uuid_is_valid(uuid) || hv_vm_load(uuid, &vm, NULL) < 0) {
			log_error("VM %s not found", uuid);
			return EXIT_FAILURE;
		}
	}
	if (optind < argc)
		return usage_error("events: unexpected argument '%s'", argv[optind]);
	r = connect_vmadmd(&f);
	if (r < 0) {
		log_error("vmadm events needs vmadmd, which is not running (start it: vmadmd)");
		return EXIT_FAILURE;
	}
	req = json_pack("{s:s?, s:b, s:s?}", "uuid", uuid, "ready", ready, "ident",
	                getenv("VMADM_IDENT"));
	{
		_cleanup_free_ char *s = req ? hv_json_dumps_compact(req) : NULL;
		if (!s || fprintf(f, "%s\n", s) < 0 || fflush(f) != 0) {
			fclose(f);
			return fail(-EIO, NULL);
		}
	}
	while (getline(&line, &cap, f) > 0) {
		json_auto_t *ev = NULL;

		if (hv_json_load_buf(line, strlen(line), "vmadmd", &ev, &e) < 0)
			break;
		print_event(ev);
	}
	fclose(f);
	log_error("vmadmd closed the event stream");
	return EXIT_FAILURE;
}
