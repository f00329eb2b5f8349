/* SPDX-License-Identifier: MIT */
/*
 * vmadmd(8): the host's VM daemon. One per state root, started at host
 * boot, restartable at will: it owns no guest (each zone's zoneadmd is its
 * parent), so stopping it never stops a VM.
 *
 * At start it finishes or undoes interrupted vmadm operations, boots every
 * VM with autoboot=true once per host boot (a marker in the run directory,
 * which a reboot empties), gives a zoneadmd back to any zone that runs
 * without one, and removes links and data-path entries no VM owns. Then it
 * watches: vmadm tells it about each change over a
 * datagram socket, zoneadmd's state files change under inotify, and a scan
 * every few seconds catches anything else. Each VM's new object is
 * compared with the last one seen; the differences go to every `vmadm
 * events` listener as SmartOS's create/modify/delete events, and a zone
 * that stopped has its exit_status and exit_timestamp written into its
 * record, so they survive a host reboot.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/lock.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/root.h"
#include "basic/time-util.h"
#include "basic/uuid.h"
#include "core/vm-list.h"
#include "core/vm.h"
#include "json/json.h"
#include "zone/zone.h"

#define LISTENERS_MAX    64
#define SCAN_INTERVAL_MS 5000
#define REQUEST_MAX      4096

struct listener {
	int fd;
	char uuid[UUID_STRING_LEN + 1]; /* "" = every VM */
};

struct daemon {
	json_t *vms; /* uuid -> the object last seen */
	int sigfd, notify, listen, inotify;
	struct listener listeners[LISTENERS_MAX];
	uint64_t next_scan;
};

static int
run_path(const char *name, char **ret)
{
	_cleanup_free_ char *rel = NULL;

	if (asprintf(&rel, HV_RUN_DIR "/%s", name) < 0)
		return -ENOMEM;
	return hv_root_path(rel, ret);
}

static int
bind_unix(const char *name, int type)
{
	_cleanup_free_ char *path = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF;

	if (run_path(name, &path) < 0 || strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(path); /* we hold vmadmd's lock: a stale socket is ours */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	if (type == SOCK_STREAM && listen(fd, 16) < 0)
		return -errno;
	return TAKE_FD(fd);
}

/* ---- events ------------------------------------------------------------------ */

static json_t *
event_new(const char *type, const char *uuid, const json_t *vm)
{
	char ts[25];
	const char *zonename = vm ? json_string_value(json_object_get(vm, "zonename")) : NULL;

	return json_pack("{s:s, s:s, s:s, s:s, s:O?}", "type", type, "date",
	                 format_iso8601_usec(ts, now_usec(CLOCK_REALTIME)), "uuid", uuid,
	                 "zonename", zonename ?: uuid, "vm", vm);
}

static void
drop_listener(struct listener *l)
{
	l->fd = safe_close(l->fd);
	l->uuid[0] = 0;
}

static void
send_line(struct listener *l, const json_t *o)
{
	_cleanup_free_ char *s = hv_json_dumps_compact(o);
	size_t n;

	if (!s)
		return;
	n = strlen(s);
	s[n] = '\n';
	/* A listener that cannot keep up is let go rather than made to block the others. */
	if (send(l->fd, s, n + 1, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)(n + 1))
		drop_listener(l);
	s[n] = 0;
}

static void
broadcast(struct daemon *d, const char *uuid, json_t *ev)
{
	if (!ev)
		return;
	for (size_t i = 0; i < LISTENERS_MAX; i++) {
		struct listener *l = &d->listeners[i];

		if (l->fd >= 0 && (!l->uuid[0] || streq(l->uuid, uuid)))
			send_line(l, ev);
	}
	json_decref(ev);
}

/* ---- what changed ------------------------------------------------------------ */

/* Keep a stopped zone's exit in its record, where a host reboot does not erase it. */
static void
persist_exit(const char *uuid, const json_t *vm)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	const json_t *st = json_object_get(vm, "exit_status"),
	             *ts = json_object_get(vm, "exit_timestamp");
	json_auto_t *rec = NULL, *payload = NULL;

	if (!st || !ts ||
	    !streq(strempty(json_string_value(json_object_get(vm, "zone_state"))), "installed"))
		return;
	if (hv_vm_load(uuid, &rec, NULL) < 0 ||
	    (json_equal(json_object_get(rec, "exit_status"), st) &&
	     json_equal(json_object_get(rec, "exit_timestamp"), ts)))
		return;
	if (hv_vm_record_exit(uuid, st, ts, &e) < 0)
		log_warning("VM %s: cannot record its exit: %s", uuid, hv_error_message(e, -EIO));
}

static void
refresh(struct daemon *d, const char *uuid)
{
	json_auto_t *vm = NULL, *changes = NULL;
	json_t *old = json_object_get(d->vms, uuid), *ev;

	if (hv_vm_get(uuid, &vm, NULL) < 0) {
		if (old) {
			broadcast(d, uuid, event_new("delete", uuid, NULL));
			(void)json_object_del(d->vms, uuid);
		}
		return;
	}
	if (!old) {
		broadcast(d, uuid, event_new("create", uuid, vm));
	} else {
		changes = hv_vm_diff(old, vm);
		if (json_array_size(changes) == 0)
			return;
		ev = event_new("modify", uuid, vm);
		if (ev && hv_json_set(ev, "changes", json_incref(changes)) >= 0)
			broadcast(d, uuid, ev);
		else
			json_decref(ev);
	}
	persist_exit(uuid, vm);
	(void)json_object_set(d->vms, uuid, vm);
}

/* Every VM again: catches whatever no notification told us. */
static void
scan(struct daemon *d)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_auto_t *all = NULL, *seen = json_object();
	const char *uuid;
	json_t *vm, *tmp;
	size_t i;

	if (hv_vm_recover(&e) < 0)
		log_warning("%s", hv_error_message(e, -EIO));
	if (!seen || hv_vm_get_all(&all, NULL) < 0)
		return;
	json_array_foreach (all, i, vm) {
		uuid = json_string_value(json_object_get(vm, "uuid"));
		if (uuid && json_object_set_new(seen, uuid, json_true()) >= 0)
			refresh(d, uuid);
	}
	json_object_foreach_safe (d->vms, tmp, uuid, vm)
		if (!json_object_get(seen, uuid))
			refresh(d, uuid);
	d->next_scan = now_usec(CLOCK_MONOTONIC) + SCAN_INTERVAL_MS * USEC_PER_MSEC;
}

/* ---- start-up ----------------------------------------------------------------- */

/* Boot every autoboot VM once per host boot: the marker lives on the run tmpfs. */
static void
autoboot(void)
{
	_cleanup_free_ char *marker = NULL;
	json_auto_t *all = NULL;
	json_t *vm;
	size_t i;

	if (run_path("vmadmd.autobooted", &marker) < 0 || access(marker, F_OK) == 0)
		return;
	if (hv_vm_get_all(&all, NULL) >= 0)
		json_array_foreach (all, i, vm) {
			_cleanup_hv_error_ struct hv_error *e = NULL;
			const char *uuid = json_string_value(json_object_get(vm, "uuid"));
			int r;

			if (!uuid || !json_is_true(json_object_get(vm, "autoboot")))
				continue;
			r = hv_vm_start(uuid, &e);
			if (r >= 0)
				log_info("VM %s: booted (autoboot)", uuid);
			else if (r != -EALREADY)
				log_error("VM %s: autoboot failed: %s", uuid,
				          hv_error_message(e, r));
		}
	(void)write_file_replace(marker, "", 0, 0600);
}

/* A zone that runs without its zoneadmd (it was killed) gets a new one, which adopts it. */
static void
adopt_orphans(void)
{
	json_auto_t *all = NULL;
	json_t *vm;
	size_t i;

	if (hv_vm_get_all(&all, NULL) < 0)
		return;
	json_array_foreach (all, i, vm) {
		_cleanup_hv_error_ struct hv_error *e = NULL;
		_cleanup_free_ char *lockpath = NULL;
		_cleanup_close_ int lock = -EBADF;
		const char *uuid = json_string_value(json_object_get(vm, "uuid"));

		if (!uuid || hv_zone_running(uuid, NULL) <= 0 ||
		    hv_zone_runtime_path(uuid, ".lock", &lockpath) < 0 ||
		    lock_file(lockpath, LOCK_EX, 0, &lock) < 0)
			continue; /* down, or its zoneadmd holds the lock */
		lock = safe_close(lock);
		if (hv_zone_boot(uuid, &e) < 0)
			log_warning("VM %s: no zoneadmd, and a new one failed: %s", uuid,
			            hv_error_message(e, -EIO));
		else
			log_info("VM %s: a new zoneadmd adopted the running zone", uuid);
	}
}

/* Links and data-path entries that a crash left behind with no VM to own them go. */
static void
reconcile_net(void)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r = hv_vm_net_reconcile(&e);

	if (r < 0)
		log_warning("cannot clean up the network: %s", hv_error_message(e, r));
}

static int
setup(struct daemon *d)
{
	_cleanup_free_ char *zones = NULL;
	sigset_t mask;
	int r;

	if ((r = run_path("zones", &zones)) < 0 || (r = mkdir_p(zones, 0700)) < 0)
		return log_error_errno(r, "cannot create the run directory: %m");
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->notify = bind_unix("vmadmd.notify", SOCK_DGRAM);
	d->listen = bind_unix("vmadmd.events", SOCK_STREAM);
	d->inotify = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (d->sigfd < 0 || d->notify < 0 || d->listen < 0 || d->inotify < 0)
		return log_error_errno(d->notify < 0   ? d->notify
		                       : d->listen < 0 ? d->listen
		                                       : -errno,
		                       "cannot set up vmadmd's sockets: %m");
	if (inotify_add_watch(d->inotify, zones, IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE) < 0)
		return log_error_errno(errno, "cannot watch '%s': %m", zones);
	return 0;
}

/* ---- the loop ---------------------------------------------------------------- */

/* "<uuid>.json" (zoneadmd's state file) -> uuid. */
static bool
uuid_of_state_file(const char *name, char ret[static UUID_STRING_LEN + 1])
{
	if (strlen(name) != UUID_STRING_LEN + 5 || !streq(name + UUID_STRING_LEN, ".json"))
		return false;
	memcpy(ret, name, UUID_STRING_LEN);
	ret[UUID_STRING_LEN] = 0;
	return uuid_is_valid(ret);
}

static void
on_inotify(struct daemon *d)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(d->inotify, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			char uuid[UUID_STRING_LEN + 1];

			if (ev->len && uuid_of_state_file(ev->name, uuid))
				refresh(d, uuid);
			p += sizeof(*ev) + ev->len;
		}
}

static void
on_notify(struct daemon *d)
{
	char buf[128];
	ssize_t n;

	while ((n = recv(d->notify, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = 0;
		if (uuid_is_valid(buf))
			refresh(d, buf);
	}
}

/* A new listener says what it wants in one line: {"uuid"?, "ready"?}. */
static void
on_listen(struct daemon *d)
{
	_cleanup_close_ int fd = accept4(d->listen, NULL, NULL, SOCK_CLOEXEC);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[REQUEST_MAX];
	json_auto_t *req = NULL;
	const char *uuid = NULL;
	struct listener *l = NULL;
	ssize_t n;

	if (fd < 0 || poll(&p, 1, 1000) <= 0 || (n = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return;
	buf[n] = 0;
	if (hv_json_load_buf(buf, (size_t)n, "listener", &req, NULL) < 0 || !json_is_object(req))
		return;
	(void)hv_json_get_string(req, "uuid", &uuid, NULL);
	if (uuid && !uuid_is_valid(uuid))
		return;
	for (size_t i = 0; i < LISTENERS_MAX && !l; i++)
		if (d->listeners[i].fd < 0)
			l = &d->listeners[i];
	if (!l)
		return; /* full: the listener sees its stream end */
	l->fd = TAKE_FD(fd);
	snprintf(l->uuid, sizeof(l->uuid), "%s", strempty(uuid));
	if (json_is_true(json_object_get(req, "ready"))) {
		char id[UUID_STRING_LEN + 1];
		json_auto_t *vms = json_object(), *ev = NULL;
		const char *k;
		json_t *vm;

		json_object_foreach (d->vms, k, vm)
			if (vms && (!uuid || streq(k, uuid)))
				(void)json_object_set(vms, k, vm);
		if (uuid_generate_v4(id) >= 0 && (ev = event_new("ready", id, NULL)) &&
		    hv_json_set(ev, "vms", json_incref(vms)) >= 0) {
			(void)json_object_del(ev, "zonename");
			send_line(l, ev);
		}
	}
}

static int
loop(struct daemon *d)
{
	for (;;) {
		struct pollfd p[4 + LISTENERS_MAX];
		uint64_t now = now_usec(CLOCK_MONOTONIC);
		int timeout = now >= d->next_scan ? 0 : (int)((d->next_scan - now) / USEC_PER_MSEC);
		size_t n = 0;

		p[n++] = (struct pollfd){.fd = d->sigfd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = d->notify, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = d->listen, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = d->inotify, .events = POLLIN};
		for (size_t i = 0; i < LISTENERS_MAX; i++)
			p[n++] = (struct pollfd){.fd = d->listeners[i].fd, .events = 0};
		if (poll(p, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			return log_error_errno(errno, "poll: %m");
		}
		if (p[0].revents) {
			struct signalfd_siginfo si;
			if (read(d->sigfd, &si, sizeof(si)) == sizeof(si))
				return 0; /* SIGTERM/SIGINT: the guests run on */
		}
		if (p[1].revents)
			on_notify(d);
		if (p[3].revents)
			on_inotify(d);
		if (p[2].revents)
			on_listen(d);
		for (size_t i = 0; i < LISTENERS_MAX; i++)
			if (p[4 + i].revents & (POLLHUP | POLLERR))
				drop_listener(&d->listeners[i]);
		if (now_usec(CLOCK_MONOTONIC) >= d->next_scan)
			scan(d);
	}
}

static const char usage_text[] = "Usage: vmadmd\n"
                                 "Runs until SIGTERM; see vmadmd(8).\n";

int
main(int argc, char *argv[])
{
	_cleanup_free_ char *logpath = NULL, *lockpath = NULL, *rundir = NULL;
	_cleanup_close_ int lock = -EBADF;
	struct daemon d = {.sigfd = -1, .notify = -1, .listen = -1, .inotify = -1};
	int r;

	(void)hv_root_log_path("vmadmd", &logpath);
	log_open("vmadmd", logpath);
	if (argc > 1) {
		bool help = streq(argv[1], "-h") || streq(argv[1], "--help");
		fputs(usage_text, help ? stdout : stderr);
		return help ? 0 : 2;
	}
	for (size_t i = 0; i < LISTENERS_MAX; i++)
		d.listeners[i].fd = -1;
	if (run_path("", &rundir) < 0 || mkdir_p(rundir, 0755) < 0 ||
	    run_path("vmadmd.lock", &lockpath) < 0)
		return log_error_errno(ENOMEM, "cannot create the run directory"), 1;
	r = lock_file(lockpath, LOCK_EX, 0, &lock);
	if (r < 0) {
		log_error("vmadmd already runs for this root");
		return 1;
	}
	if (setup(&d) < 0)
		return 1;
	d.vms = json_object();
	if (!d.vms)
		return 1;
	scan(&d); /* recover, and learn every VM before anyone listens */
	autoboot();
	adopt_orphans();
	reconcile_net();
	log_info("vmadmd: watching %zu VMs", json_object_size(d.vms));
	r = loop(&d);
	for (size_t i = 0; i < LISTENERS_MAX; i++)
		safe_close(d.listeners[i].fd);
	safe_close(d.sigfd);
	safe_close(d.notify);
	safe_close(d.listen);
	safe_close(d.inotify);
	json_decref(d.vms);
	return r < 0 ? 1 : 0;
}
