/* SPDX-License-Identifier: MIT */
/*
 * vmadm(8): create, inspect, change and destroy VMs from SmartOS's JSON
 * payloads (smartos.md §1). Machine data goes to stdout (get, list, lookup,
 * info), people's lines to stderr; exit 0 success, 1 error, 2 usage. Unlike
 * SmartOS, an unknown or misspelt property is an error, not a warning.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/log.h"
#include "basic/parse.h"
#include "basic/root.h"
#include "basic/strv.h"
#include "basic/uuid.h"
#include "core/vm-list.h"
#include "core/vm-props.h"
#include "core/vm.h"
#include "json/json.h"
#include "vmadm.h"

#define PAYLOAD_MAX (1024 * 1024)

int
fail(int r, const struct hv_error *e)
{
	const char *msg = hv_error_message(e, r);

	/* SmartOS's exact words, which scripts match, come without our prefix. */
	if (r == -ENOENT && strstr(msg, "No such zone configured"))
		log_notice("%s", msg);
	else
		log_error("%s", msg);
	return EXIT_FAILURE;
}

/* "Invalid or missing UUID for <cmd>": SmartOS checks length and dashes; we check hex too. */
static int
want_uuid(const char *cmd, int argc, char *argv[], const char **ret)
{
	if (optind == 0) /* no getopt ran: argv[0] is the command */
		optind = 1;
	if (optind >= argc || !uuid_is_valid(argv[optind]))
		return usage_error("Invalid or missing UUID for %s", cmd);
	*ret = argv[optind++];
	return 0;
}

static int
no_more_args(const char *cmd, int argc, char *argv[])
{
	if (optind < argc)
		return usage_error("%s: unexpected argument '%s'", cmd, argv[optind]);
	return 0;
}

int
read_payload(const char *file, json_t **ret)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r;

	if (!file || streq(file, "-")) {
		if (isatty(STDIN_FILENO))
			return usage_error("no payload: give -f FILE or pipe the JSON in "
			                   "(a terminal is not read)");
		file = "-";
	}
	r = hv_json_load_file(file, PAYLOAD_MAX, ret, &e);
	if (r < 0) {
		log_error("Invalid JSON payload: %s", hv_error_message(e, r));
		return EXIT_FAILURE;
	}
	if (!json_is_object(*ret)) {
		log_error("Invalid JSON payload: expected an object, got %s",
		          hv_json_type_name(*ret));
		json_decref(TAKE_PTR(*ret));
		return EXIT_FAILURE;
	}
	return 0;
}

/* Print every problem of a payload, one line each, on stderr. */
static void
print_problems(const struct hv_vm_report *rep)
{
	STRV_FOREACH (m, rep->messages)
		log_error("%s", *m);
}

static int
cmd_create(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_vm_report rep = {0};
	json_auto_t *payload = NULL;
	const char *file = NULL;
	char uuid[UUID_STRING_LEN + 1];
	int c, r;

	opts_reset();
	while ((c = getopt(argc, argv, "f:")) != -1) {
		if (c != 'f')
			return usage_error(
			        "create: unknown option (usage: vmadm create [-f FILE])");
		file = optarg;
	}
	if ((r = no_more_args("create", argc, argv)) != 0)
		return r;
	if ((r = read_payload(file, &payload)) != 0)
		return r;
	/* All of a payload's problems at once, not the first only. */
	r = hv_vm_validate(HV_VM_ACTION_CREATE, NULL, payload, &rep, &e);
	if (r == -EINVAL) {
		print_problems(&rep);
		hv_vm_report_done(&rep);
		return EXIT_FAILURE;
	}
	hv_vm_report_done(&rep);
	if (r < 0)
		return fail(r, e);
	r = hv_vm_create(payload, uuid, &e);
	if (r < 0)
		return fail(r, e);
	log_info("Successfully created VM %s", uuid);
	return 0;
}

static int
cmd_validate(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_vm_report rep = {0};
	json_auto_t *payload = NULL, *out = NULL;
	const char *file = NULL, *action, *brand = NULL;
	int c, r;

	opts_reset();
	while ((c = getopt(argc, argv, "f:")) != -1) {
		if (c != 'f')
			return usage_error("usage: vmadm validate create|update BRAND [-f FILE]");
		file = optarg;
	}
	if (optind >= argc || (!streq(argv[optind], "create") && !streq(argv[optind], "update")))
		return usage_error("usage: vmadm validate create|update BRAND [-f FILE]");
	action = argv[optind++];
	if (streq(action, "update")) {
		if (optind >= argc)
			return usage_error("validate update: which brand? (lx, kvm)");
		brand = argv[optind++];
	} else if (optind < argc)
		brand = argv[optind++];
	/* getopt stops at the first word: -f may come after them too. */
	if (optind < argc && streq(argv[optind], "-f") && optind + 1 < argc) {
		file = argv[optind + 1];
		optind += 2;
	}
	if ((r = no_more_args("validate", argc, argv)) != 0)
		return r;
	if ((r = read_payload(file, &payload)) != 0)
		return r;
	r = hv_vm_validate(streq(action, "create") ? HV_VM_ACTION_CREATE : HV_VM_ACTION_UPDATE,
	                   streq(action, "create") ? NULL : brand, payload, &rep, &e);
	if (r == 0) {
		const char *b = brand;
		if (!b)
			(void)hv_json_get_string(payload, "brand", &b, NULL);
		log_info("VALID '%s' payload for %s brand VMs.", action, strempty(b));
		hv_vm_report_done(&rep);
		return 0;
	}
	if (r != -EINVAL) {
		hv_vm_report_done(&rep);
		return fail(r, e);
	}
	print_problems(&rep);
	out = hv_vm_report_to_json(&rep);
	hv_vm_report_done(&rep);
	if (!out || hv_json_dumpf(out, stdout) < 0)
		return fail(-ENOMEM, NULL);
	return EXIT_FAILURE;
}

static int
cmd_get(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_auto_t *vm = NULL;
	const char *uuid;
	int r;

	opts_reset();
	if (getopt(argc, argv, "") != -1)
		return usage_error("usage: vmadm get UUID");
	if ((r = want_uuid("get", argc, argv, &uuid)) != 0 ||
	    (r = no_more_args("get", argc, argv)) != 0)
		return r;
	r = hv_vm_get(uuid, &vm, &e);
	if (r < 0)
		return fail(r, e);
	return hv_json_dumpf(vm, stdout) < 0 ? fail(-EIO, NULL) : 0;
}

/* The end of a state change: SmartOS's no-ops (noop) are a line and success. */
static int
finish(int r, const struct hv_error *e, int noop, const char *done, const char *uuid)
{
	if (r == noop) {
		log_info("%s", hv_error_message(e, r));
		return 0;
	}
	if (r < 0)
		return fail(r, e);
	log_info("%s %s", done, uuid);
	return 0;
}

static int
cmd_start(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	const char *uuid;
	int r;

	opts_reset();
	if (getopt(argc, argv, "") != -1)
		return usage_error("usage: vmadm start UUID");
	if ((r = want_uuid("start", argc, argv, &uuid)) != 0)
		return r;
	/* order=, cdrom=, disk=: kvm boot options, for this boot only. */
	if (optind < argc) {
		_cleanup_strv_free_ char **cdroms = NULL, **disks = NULL;
		const char *order = NULL;

		for (int i = optind; i < argc; i++) {
			if (startswith(argv[i], "order="))
				order = argv[i] + 6;
			else if (startswith(argv[i], "cdrom=")) {
				if (strv_push(&cdroms, argv[i] + 6) < 0)
					return fail(-ENOMEM, NULL);
			} else if (startswith(argv[i], "disk=")) {
				if (strv_push(&disks, argv[i] + 5) < 0)
					return fail(-ENOMEM, NULL);
			} else
				return usage_error("start: '%s': expected order=X, "
				                   "cdrom=/path,model or disk=/path,model",
				                   argv[i]);
		}
		r = hv_vm_start_hvm(uuid, order, cdroms, disks, &e);
	} else
		r = hv_vm_start(uuid, &e);
	return finish(r, e, -EALREADY, "Successfully started VM", uuid);
}

static int
cmd_stop(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	const char *uuid;
	bool force = false;
	int c, r, timeout = -1;

	opts_reset();
	/* Options before or after the UUID, as in SmartOS's usage. */
	for (int pass = 0; pass < 2; pass++) {
		while ((c = getopt(argc, argv, "+Ft:")) != -1) {
			if (c == 'F')
				force = true;
			else if (c != 't' || safe_atoi(optarg, &timeout) < 0 || timeout < 0)
				return usage_error("usage: vmadm stop UUID [-F] [-t SECONDS]");
		}
		if (pass == 0 && (r = want_uuid("stop", argc, argv, &uuid)) != 0)
			return r;
	}
	if ((r = no_more_args("stop", argc, argv)) != 0)
		return r;
	r = hv_vm_stop(uuid, force, timeout, &e);
	return finish(r, e, -ESRCH, "Successfully completed stop for VM", uuid);
}

static int
cmd_reboot(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	const char *uuid;
	bool force = false;
	int r;

	opts_reset();
	for (int pass = 0; pass < 2; pass++) {
		int c;
		while ((c = getopt(argc, argv, "+F")) != -1) {
			if (c != 'F')
				return usage_error("usage: vmadm reboot UUID [-F]");
			force = true;
		}
		if (pass == 0 && (r = want_uuid("reboot", argc, argv, &uuid)) != 0)
			return r;
	}
	if ((r = no_more_args("reboot", argc, argv)) != 0)
		return r;
	r = hv_vm_reboot(uuid, force, &e);
	return finish(r, e, -ESRCH, "Successfully completed reboot for VM", uuid);
}

static int
parse_signal(const char *s, int *ret)
{
	if (startswith(s, "SIG"))
		s += 3;
	for (int i = 1; i < NSIG; i++) {
		const char *name = sigabbrev_np(i);
		if (name && strcasecmp(s, name) == 0) {
			*ret = i;
			return 0;
		}
	}
	return safe_atoi(s, ret) >= 0 && *ret > 0 && *ret < NSIG ? 0 : -EINVAL;
}

static int
cmd_kill(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	const char *uuid;
	int sig = SIGTERM, r, i = 1;

	if (i < argc && streq(argv[i], "-s") && i + 1 < argc) {
		if (parse_signal(argv[i + 1], &sig) < 0)
			return usage_error("kill: '%s' is not a signal", argv[i + 1]);
		i += 2;
	} else if (i < argc && argv[i][0] == '-' && argv[i][1]) {
		if (parse_signal(argv[i] + 1, &sig) < 0)
			return usage_error("kill: '%s' is not a signal", argv[i] + 1);
		i++;
	}
	optind = i;
	if ((r = want_uuid("kill", argc, argv, &uuid)) != 0 ||
	    (r = no_more_args("kill", argc, argv)) != 0)
		return r;
	r = hv_vm_kill(uuid, sig, &e);
	if (r < 0)
		return fail(r, e);
	log_info("Successfully sent %s to VM %s", sigabbrev_np(sig) ?: "signal", uuid);
	return 0;
}

/* "<cmd> UUID [-f FILE]": the UUID and the payload's file, if one is named. */
static int
uuid_and_file(const char *cmd, int argc, char *argv[], const char **ret_uuid, const char **ret_file)
{
	int r;

	opts_reset();
	*ret_file = NULL;
	if ((r = want_uuid(cmd, argc, argv, ret_uuid)) != 0)
		return r;
	if (optind + 1 < argc && streq(argv[optind], "-f")) {
		*ret_file = argv[optind + 1];
		optind += 2;
		return no_more_args(cmd, argc, argv);
	}
	return 0;
}

static int
cmd_update(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_auto_t *payload = NULL;
	const char *uuid, *file;
	int r;

	if ((r = uuid_and_file("update", argc, argv, &uuid, &file)) != 0)
		return r;
	if (file || optind >= argc)
		r = read_payload(file, &payload);
	else {
		r = hv_vm_update_from_args(argv + optind, (size_t)(argc - optind), &payload, &e);
		if (r < 0)
			return usage_error("%s", hv_error_message(e, r));
	}
	if (r != 0)
		return r;
	r = hv_vm_update(uuid, payload, &e);
	if (r < 0)
		return fail(r, e);
	log_info("Successfully updated VM %s", uuid);
	return 0;
}

static int
cmd_delete(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	const char *uuid;
	int r;

	opts_reset();
	if (getopt(argc, argv, "") != -1)
		return usage_error("usage: vmadm delete UUID");
	if ((r = want_uuid("delete", argc, argv, &uuid)) != 0 ||
	    (r = no_more_args("delete", argc, argv)) != 0)
		return r;
	r = hv_vm_delete(uuid, &e);
	if (r < 0)
		return fail(r, e);
	log_info("Successfully deleted VM %s", uuid);
	return 0;
}

static int
cmd_snapshot(const char *cmd, int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	const char *uuid, *name;
	int r;

	opts_reset();
	if ((r = want_uuid(cmd, argc, argv, &uuid)) != 0)
		return r;
	if (optind >= argc)
		return usage_error("usage: vmadm %s UUID SNAPNAME", cmd);
	name = argv[optind++];
	if ((r = no_more_args(cmd, argc, argv)) != 0)
		return r;
	if (streq(cmd, "create-snapshot"))
		r = hv_vm_snapshot_create(uuid, name, &e);
	else if (streq(cmd, "rollback-snapshot"))
		r = hv_vm_snapshot_rollback(uuid, name, &e);
	else
		r = hv_vm_snapshot_delete(uuid, name, &e);
	if (r < 0)
		return fail(r, e);
	if (streq(cmd, "create-snapshot"))
		log_info("Created snapshot %s for VM %s", name, uuid);
	else if (streq(cmd, "rollback-snapshot"))
		log_info("Rolled back snapshot %s for VM %s", name, uuid);
	else
		log_info("Deleted snapshot %s for VM %s", name, uuid);
	return 0;
}

/* OS VMs: the zone's console, through zlogin -C (which sits beside us). */
static int
cmd_console(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *zlogin = NULL;
	json_auto_t *vm = NULL;
	const char *uuid;
	int r;

	opts_reset();
	if ((r = want_uuid("console", argc, argv, &uuid)) != 0 ||
	    (r = no_more_args("console", argc, argv)) != 0)
		return r;
	if ((r = hv_vm_load(uuid, &vm, &e)) < 0)
		return fail(r, e);
	if ((r = find_sibling("zlogin", &zlogin)) < 0)
		return fail(r, NULL);
	execl(zlogin, "zlogin", "-C", uuid, (char *)NULL);
	return fail(-errno, NULL);
}

static int
cmd_info(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_auto_t *vm = NULL;
	const char *uuid, *brand = "lx";
	int r;

	_cleanup_free_ char *types = NULL;

	opts_reset();
	if ((r = want_uuid("info", argc, argv, &uuid)) != 0)
		return r;
	if ((r = hv_vm_load(uuid, &vm, &e)) < 0)
		return fail(r, e);
	(void)hv_json_get_string(vm, "brand", &brand, NULL);
	if (!streq(brand, "kvm")) {
		log_error("info: VM %s is of brand %s; info is for kvm VMs", uuid, brand);
		return EXIT_FAILURE;
	}
	/* Types separated by commas or spaces, as SmartOS's. */
	types = strv_join(argv + optind, ",");
	if (!types)
		return fail(-ENOMEM, NULL);
	json_decref(vm);
	vm = NULL;
	if ((r = hv_vm_info(uuid, types, &vm, &e)) < 0)
		return fail(r, e);
	return hv_json_dumpf(vm, stdout) < 0 ? fail(-EIO, NULL) : 0;
}

static int
cmd_sysrq(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *file = NULL;
	const char *uuid;
	int r;

	opts_reset();
	if ((r = want_uuid("sysrq", argc, argv, &uuid)) != 0)
		return r;
	if (optind + 1 != argc)
		return usage_error("usage: vmadm sysrq UUID nmi|screenshot");
	r = hv_vm_sysrq(uuid, argv[optind], &file, &e);
	if (r < 0)
		return fail(r, e);
	if (file)
		log_info("Wrote the screenshot of VM %s to %s", uuid, file);
	else
		log_info("Sent %s to VM %s", argv[optind], uuid);
	return 0;
}

static int
cmd_send(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	const char *uuid;
	int r;

	opts_reset();
	if ((r = want_uuid("send", argc, argv, &uuid)) != 0 ||
	    (r = no_more_args("send", argc, argv)) != 0)
		return r;
	if (isatty(STDOUT_FILENO))
		return usage_error("send: standard output is a terminal; pipe it "
		                   "(vmadm send UUID | ssh host vmadm receive)");
	r = hv_vm_send(uuid, STDOUT_FILENO, &e);
	if (r < 0)
		return fail(r, e);
	log_info("Successfully sent VM %s", uuid);
	return 0;
}

static int
cmd_receive(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_close_ int fd = -EBADF;
	const char *file = NULL;
	char uuid[UUID_STRING_LEN + 1];
	int c, r;

	opts_reset();
	while ((c = getopt(argc, argv, "f:")) != -1) {
		if (c != 'f')
			return usage_error("usage: vmadm receive [-f FILE]");
		file = optarg;
	}
	if ((r = no_more_args("receive", argc, argv)) != 0)
		return r;
	if (file && !streq(file, "-")) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail(-errno, NULL);
	} else if (isatty(STDIN_FILENO))
		return usage_error("receive: standard input is a terminal; pipe a stream in");
	r = hv_vm_receive(fd >= 0 ? fd : STDIN_FILENO, uuid, &e);
	if (r < 0)
		return fail(r, e);
	log_info("Successfully received VM %s", uuid);
	return 0;
}

static int
cmd_reprovision(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_auto_t *payload = NULL;
	const char *uuid, *file;
	int r;

	if ((r = uuid_and_file("reprovision", argc, argv, &uuid, &file)) != 0 ||
	    (r = no_more_args("reprovision", argc, argv)) != 0 ||
	    (r = read_payload(file, &payload)) != 0)
		return r;
	r = hv_vm_reprovision(uuid, payload, &e);
	if (r < 0)
		return fail(r, e);
	log_info("Successfully reprovisioned VM %s", uuid);
	return 0;
}

static const char usage_text[] =
        "Usage: vmadm <command> [options]\n"
        "\n"
        "  create [-f <filename>]\n"
        "  create-snapshot <uuid> <snapname>\n"
        "  console <uuid>\n"
        "  delete <uuid>\n"
        "  delete-snapshot <uuid> <snapname>\n"
        "  events [-fjr] [uuid]\n"
        "  get <uuid>\n"
        "  info <uuid> [type,...]\n"
        "  kill [-s SIGNAL|-SIGNAL] <uuid>\n"
        "  list [-p] [-H] [-o field,...] [-s field,...] [field=value ...]\n"
        "  lookup [-j|-1] [-o field,...] [field=value ...]\n"
        "  reboot <uuid> [-F]\n"
        "  receive [-f <filename>]\n"
        "  reprovision <uuid> [-f <filename>]\n"
        "  rollback-snapshot <uuid> <snapname>\n"
        "  send <uuid>\n"
        "  start <uuid> [order=cdn] [cdrom=/path,model ...] [disk=/path,model ...]\n"
        "  stop <uuid> [-F] [-t timeout]\n"
        "  sysrq <uuid> nmi|screenshot\n"
        "  update <uuid> [-f <filename>]\n"
        "   -or- update <uuid> property=value [property=value ...]\n"
        "  validate create [-f <filename>]\n"
        "  validate update <brand> [-f <filename>]\n"
        "\n"
        "Aliases: boot=start, halt=stop, destroy=delete, json=get, recv=receive.\n"
        "Properties: vmadm-properties(7). Unknown properties are errors.\n";

static const struct {
	const char *name;
	const char *alias_of;
} aliases[] = {
        {"boot", "start"}, {"halt", "stop"},    {"destroy", "delete"},
        {"json", "get"},   {"recv", "receive"},
};

static int
dispatch(const char *cmd, int argc, char *argv[])
{
	if (streq(cmd, "create"))
		return cmd_create(argc, argv);
	if (streq(cmd, "validate"))
		return cmd_validate(argc, argv);
	if (streq(cmd, "get"))
		return cmd_get(argc, argv);
	if (streq(cmd, "list"))
		return cmd_list(argc, argv);
	if (streq(cmd, "lookup"))
		return cmd_lookup(argc, argv);
	if (streq(cmd, "start"))
		return cmd_start(argc, argv);
	if (streq(cmd, "stop"))
		return cmd_stop(argc, argv);
	if (streq(cmd, "reboot"))
		return cmd_reboot(argc, argv);
	if (streq(cmd, "kill"))
		return cmd_kill(argc, argv);
	if (streq(cmd, "update"))
		return cmd_update(argc, argv);
	if (streq(cmd, "delete"))
		return cmd_delete(argc, argv);
	if (streq(cmd, "create-snapshot") || streq(cmd, "rollback-snapshot") ||
	    streq(cmd, "delete-snapshot"))
		return cmd_snapshot(cmd, argc, argv);
	if (streq(cmd, "console"))
		return cmd_console(argc, argv);
	if (streq(cmd, "info"))
		return cmd_info(argc, argv);
	if (streq(cmd, "sysrq"))
		return cmd_sysrq(argc, argv);
	if (streq(cmd, "events"))
		return cmd_events(argc, argv);
	if (streq(cmd, "send"))
		return cmd_send(argc, argv);
	if (streq(cmd, "receive"))
		return cmd_receive(argc, argv);
	if (streq(cmd, "reprovision"))
		return cmd_reprovision(argc, argv);
	log_error("Invalid command: \"%s\".", cmd);
	return EXIT_USAGE;
}

int
main(int argc, char *argv[])
{
	_cleanup_free_ char *logpath = NULL;
	const char *cmd;
	int i = 1;

	(void)hv_root_log_path("vmadm", &logpath);
	log_open("vmadm", logpath);
	/* -d/--debug and -v/--verbose: accepted everywhere; they raise the log level. */
	for (; i < argc; i++) {
		if (streq(argv[i], "-d") || streq(argv[i], "--debug") || streq(argv[i], "-v") ||
		    streq(argv[i], "--verbose"))
			log_set_max_level(LOG_DEBUG);
		else
			break;
	}
	if (i >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	cmd = argv[i];
	if (streq(cmd, "help") || streq(cmd, "-h") || streq(cmd, "-?") || streq(cmd, "--help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	for (size_t a = 0; a < ELEMENTSOF(aliases); a++)
		if (streq(cmd, aliases[a].name))
			cmd = aliases[a].alias_of;
	if (!streq(cmd, "events") && !streq(cmd, "validate")) {
		_cleanup_hv_error_ struct hv_error *e = NULL;
		/* Finish what an interrupted vmadm left (a no-op when nothing did). */
		if (hv_vm_recover(&e) < 0)
			log_warning("%s", hv_error_message(e, -EIO));
	}
	return dispatch(cmd, argc - i, argv + i);
}
