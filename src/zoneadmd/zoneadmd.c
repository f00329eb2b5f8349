/* SPDX-License-Identifier: MIT */
/*
 * zoneadmd(8): one supervisor per running zone, as on SmartOS.
 *
 * It builds the zone and is the parent of its init; holds the console pty,
 * logs it to <zonepath>/logs/console.log (rotated at 1 MiB) and lends it to
 * `zlogin -C`; restarts init when restart_init says so and when the zone
 * reboots itself; stops the zone on request (gracefully: the stop signal to
 * init, then SIGKILL to everything after the timeout) and removes the
 * zone's cgroups when it is down. At every boot it plugs the zone's NICs
 * (<zonepath>/config/net.json, lib/net) into the new network namespace
 * before init runs, and unplugs what stays on the host when the zone goes
 * down.
 *
 * It keeps what it knows in $SABLE_ROOT/var/run/sable/zones/<uuid>.json.
 * Killing zoneadmd does not kill the zone: a new zoneadmd finds the init
 * by pid and start time, holds it by pidfd again, and gives the zone a new
 * console (the old one went with the dead supervisor). One zoneadmd per
 * zone: <uuid>.lock says who.
 *
 * A kvm zone's one process is QEMU (lib/vm, vm-jail.c has the theory):
 * zoneadmd starts it in its jail instead of an init, plugs the VM's NICs
 * as taps whose fds QEMU gets, and holds QEMU's supervisor monitor
 * (vm.sup), its first serial port (vm.console: logged and lent like a
 * zone's console) and its second (vm.ttyb, where the metadata server
 * answers the guest). A graceful stop is an ACPI power button press, a
 * halt is QMP quit; QEMU's exit is the zone going down. QEMU serves all
 * those sockets, so a new zoneadmd simply connects again.
 *
 * Control: a SOCK_SEQPACKET socket <uuid>.ctl takes one command per
 * connection ("halt", "shutdown <seconds>", "reboot", "update", "status")
 * and answers when it is done ("update" re-reads the config and applies
 * its limits to the running zone). Console: a stream socket <uuid>.console.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/config.h"
#include "basic/fileio.h"
#include "basic/lock.h"
#include "basic/log.h"
#include "basic/root.h"
#include "basic/path.h"
#include "basic/strv.h"
#include "basic/macro.h"
#include "basic/time-util.h"
#include "net/net.h"
#include "mdata/record.h"
#include "vm/machine.h"
#include "vm/qmp.h"
#include "zone/zone-cgroup.h"
#include "zone/zone.h"

#define CONSOLE_LOG_MAX   (1024 * 1024)
#define MAX_CLIENTS       8
#define RESTART_WINDOW_US (60 * USEC_PER_SEC)
#define RESTART_MAX       10
#define TRIM_DELAY_US     USEC_PER_SEC

enum stop_kind { STOP_NONE, STOP_HALT, STOP_SHUTDOWN, STOP_REBOOT };

struct daemon {
	struct hv_zone_config c;
	struct hv_cgroup *cg;
	struct hv_zone_runtime rt;
	int pidfd;      /* the zone's init */
	bool our_child; /* we started it (else adopted: no exit status) */
	int console;    /* pty master */
	int console_log;
	int ctl_listen, con_listen, sigfd;
	int waiters[MAX_CLIENTS]; /* control connections waiting for the zone to go down */
	int viewers[MAX_CLIENTS]; /* console connections */
	enum stop_kind stopping;
	uint64_t stop_deadline; /* monotonic µs; 0: none */
	uint64_t trim_at;       /* monotonic µs: drop_startup_text() then; 0: done */
	uint64_t restarts[RESTART_MAX];
	size_t n_restarts;
	bool plugged;               /* NICs of ours may be on the host */
	struct hv_mdata_server *md; /* the guest's metadata, on <control dir>/metadata.sock */
	struct hv_mdata_record *md_record;
	bool hvm;           /* brand kvm: the zone's process is QEMU */
	struct hv_qmp *qmp; /* QEMU's supervisor monitor (vm.sup) */
	int vnc_listen;     /* vnc_port's TCP listener, or -1 */
};

static const char *arg_uuid;
static int arg_notify_fd = -1;

static void
notify(const char *msg, bool keep_open)
{
	if (arg_notify_fd < 0)
		return;
	(void)!write(arg_notify_fd, msg, strlen(msg));
	/*
	 * A failure keeps the fd to our exit: the waiter reads to end-of-file,
	 * so it returns only once we are gone, with everything we held (the
	 * console log on the zone's dataset, our locks) released.
	 */
	if (!keep_open)
		arg_notify_fd = safe_close(arg_notify_fd);
}

static int
set_state(struct daemon *d, enum hv_zone_state s)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r;

	if (d->rt.state != s)
		log_info("zone %s: %s", d->c.uuid, hv_zone_state_to_string(s));
	d->rt.state = s;
	d->rt.zoneadmd_pid = getpid();
	r = hv_zone_runtime_save(d->c.uuid, &d->rt, &e);
	if (r < 0)
		log_warning_errno(r, "zone %s: %s", d->c.uuid, hv_error_message(e, r));
	return r;
}

/*
 * A kvm VM's graceful stop or reboot in the run record, as SmartOS's
 * transition_to and transition_expire: where it ends (NULL: it is over)
 * and when it is forced (ms since the epoch). vmadm shows the VM as
 * stopping meanwhile; a new zoneadmd picks the wait up from it.
 */
static void
set_transition(struct daemon *d, const char *to, unsigned timeout_s)
{
	snprintf(d->rt.transition_to, sizeof(d->rt.transition_to), "%s", strempty(to));
	d->rt.transition_expire =
	        to ? now_usec(CLOCK_REALTIME) / USEC_PER_MSEC + (uint64_t)timeout_s * 1000 : 0;
}

/* ---- console ---------------------------------------------------------------- */

static void
console_log_open(struct daemon *d)
{
	_cleanup_free_ char *dir = NULL, *path = NULL;

	d->console_log = safe_close(d->console_log);
	if (asprintf(&dir, "%s/logs", d->c.zonepath) < 0 ||
	    asprintf(&path, "%s/console.log", dir) < 0 || mkdir_p(dir, 0700) < 0)
		return;
	d->console_log = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
}

static void
console_log_write(struct daemon *d, const char *buf, size_t n)
{
	struct stat st;

	if (d->console_log < 0)
		return;
	if (fstat(d->console_log, &st) == 0 && st.st_size + (off_t)n > CONSOLE_LOG_MAX) {
		_cleanup_free_ char *cur = NULL, *old = NULL;
		/* Rotate: one previous log is kept as console.log.0. */
		if (asprintf(&cur, "%s/logs/console.log", d->c.zonepath) >= 0 &&
		    asprintf(&old, "%s.0", cur) >= 0 && rename(cur, old) == 0)
			console_log_open(d);
	}
	if (d->console_log >= 0)
		(void)!write(d->console_log, buf, n);
}

static void
console_read(struct daemon *d)
{
	char buf[4096];
	ssize_t n = read(d->console, buf, sizeof(buf));

	if (n == 0 && d->hvm) {
		d->console = safe_close(d->console); /* QEMU went away */
		return;
	}
	if (n <= 0)
		return; /* EIO while no one has the slave open: nothing to do */
	console_log_write(d, buf, (size_t)n);
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (d->viewers[i] >= 0 &&
		    send(d->viewers[i], buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
		    errno != EAGAIN)
			d->viewers[i] = safe_close(d->viewers[i]);
}

static void
console_input(struct daemon *d, size_t i)
{
	char buf[4096];
	ssize_t n = read(d->viewers[i], buf, sizeof(buf));

	if (n <= 0) {
		d->viewers[i] = safe_close(d->viewers[i]);
		return;
	}
	if (d->console >= 0)
		(void)loop_write(d->console, buf, (size_t)n);
}

/* ---- sockets ----------------------------------------------------------------- */

static int
listen_on(const char *uuid, const char *suffix, int type)
{
	_cleanup_free_ char *path = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF;
	int r;

	if ((r = hv_zone_runtime_path(uuid, suffix, &path)) < 0)
		return r;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	(void)unlink(path); /* ours: we hold the zone's lock */
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0)
		return -errno;
	(void)chmod(path, 0600);
	return TAKE_FD(fd);
}

static void
remove_sockets(const char *uuid)
{
	static const char *const suffixes[] = {".ctl", ".console"};

	for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
		_cleanup_free_ char *p = NULL;
		if (hv_zone_runtime_path(uuid, suffixes[i], &p) >= 0)
			(void)unlink(p);
	}
	(void)hv_zone_control_dir_remove(uuid);
}

/*
 * The metadata server (lib/mdata) on <control dir>/metadata.sock, which the
 * zone sees as /.zonecontrol/metadata.sock and /native/.zonecontrol/
 * metadata.sock. It is up before the zone boots, so a guest that asks
 * early (cloud-init) finds it. A zone without it still runs.
 */
static void
metadata_open(struct daemon *d)
{
	_cleanup_free_ char *dir = NULL;
	int fd = -EBADF, r;

	if ((r = hv_zone_control_dir(&d->c, &dir)) < 0 ||
	    (r = hv_mdata_record_new(d->c.uuid, &d->md_record)) < 0 ||
	    (r = hv_mdata_listen(dir, d->c.uid_base, d->c.uid_base, &fd)) < 0 ||
	    (r = hv_mdata_server_new(fd, &hv_mdata_record_store, d->md_record, &d->md)) < 0)
		log_warning_errno(r, "zone %s: no metadata service: %m", d->c.uuid);
}

static void reply(int fd, const char *fmt, ...) _printf_(2, 3);
static void
reply(int fd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	(void)send(fd, buf, strlen(buf), MSG_NOSIGNAL);
}

static bool
add_client(int *list, int fd)
{
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (list[i] < 0) {
			list[i] = fd;
			return true;
		}
	return false;
}

/* ---- lifecycle --------------------------------------------------------------- */

static int
chown_delegated(struct daemon *d)
{
	/* systemd in the zone manages its own subtree: the hierarchies it writes are its. */
	static const char *const files[] = {"", "/cgroup.procs", "/cgroup.threads",
	                                    "/cgroup.subtree_control", "/tasks"};
	const char *dirs[] = {hv_cgroup_path(d->cg, NULL), hv_cgroup_path(d->cg, "systemd")};

	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		for (size_t j = 0; dirs[i] && j < ELEMENTSOF(files); j++) {
			char p[PATH_MAX];
			snprintf(p, sizeof(p), "%s%s", dirs[i], files[j]);
			if (chown(p, d->c.uid_base, d->c.uid_base) < 0 && errno != ENOENT)
				return -errno;
		}
	return 0;
}

/* The zone's NICs into its new network namespace, before its init runs. */
static int
plug_nics(pid_t pid, void *userdata, struct hv_error **reterr)
{
	struct daemon *d = userdata;
	_cleanup_(hv_net_vm_done) struct hv_net_vm net = {0};
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int netns = -EBADF;
	char ns[64];
	int r;

	if (path_join(d->c.zonepath, "config/net.json", &path) < 0)
		return -ENOMEM;
	if (access(path, F_OK) < 0)
		return 0;
	if ((r = hv_net_vm_load(path, &net, reterr)) < 0)
		return r;
	snprintf(ns, sizeof(ns), "/proc/%d/ns/net", (int)pid);
	netns = open(ns, O_RDONLY | O_CLOEXEC);
	if (netns < 0)
		return hv_error_set(reterr, -errno, "cannot open the zone's network namespace: %m");
	d->plugged = true;
	return hv_net_vm_plug(&net, netns, reterr);
}

static void
unplug_nics(struct daemon *d)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r;

	if (!d->plugged)
		return;
	r = hv_net_vm_unplug(d->c.uuid, &e);
	if (r < 0)
		log_warning("zone %s: %s", d->c.uuid, hv_error_message(e, r));
	else
		d->plugged = false;
}

/* ---- kvm: QEMU as the zone's process ------------------------------------------------ */

static int
connect_socket(const char *zonepath, const char *name, int *ret)
{
	_cleanup_free_ char *path = NULL, *dir = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF, dfd = -EBADF;

	if (hv_vm_run_dir(zonepath, &dir) < 0)
		return -ENOMEM;
	/* Through the directory: a deep zonepath does not fit in sun_path. */
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd, name);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	*ret = TAKE_FD(fd);
	return 0;
}

/* The guest's serial ports: ttyS0 is the console, ttyS1 the metadata port. */
static void
hvm_connect_serial(struct daemon *d)
{
	int fd = -EBADF, r;

	d->console = safe_close(d->console);
	if ((r = connect_socket(d->c.zonepath, "vm.console", &d->console)) < 0)
		log_warning_errno(r, "VM %s: no console: %m", d->c.uuid);
	r = connect_socket(d->c.zonepath, "vm.ttyb", &fd);
	if (r >= 0 && d->md)
		r = hv_mdata_server_add(d->md, fd);
	else if (r >= 0) {
		safe_close(fd);
		r = -ENOTCONN;
	}
	if (r < 0)
		log_warning_errno(r, "VM %s: no metadata on ttyS1: %m", d->c.uuid);
}

static void
hvm_vnc_close(struct daemon *d)
{
	d->vnc_listen = safe_close(d->vnc_listen);
	d->rt.vnc_port = 0;
}

/*
 * vnc_port: ours to listen on (QEMU has no network); each client is handed
 * to QEMU. 0 takes a free port (the kernel's choice, as SmartOS's random
 * port), -1 none; the port in use is kept in the run record, where vmadm
 * info vnc finds it and a new zoneadmd takes the same one again.
 */
static int
hvm_vnc_listen(struct daemon *d, int port, struct hv_error **reterr)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	_cleanup_(hv_config_freep) struct hv_config *cfg = NULL;
	socklen_t len = sizeof(sa);
	_cleanup_close_ int fd = -EBADF;
	const char *admin;
	int one = 1;

	if (port < 0)
		return 0;
	/*
	 * On the admin network, as SmartOS does (admin_ip when it is a static
	 * address), and otherwise on loopback only: a console is never offered
	 * to every network the host is on.
	 */
	if (hv_node_config_load(&cfg, NULL) >= 0 && (admin = hv_config_get(cfg, "admin_ip")) &&
	    inet_pton(AF_INET, admin, &sa.sin_addr) != 1)
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return hv_error_set(reterr, -errno, "VNC: socket: %m");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return hv_error_set(reterr, -errno, "vnc_port %d: %s", port,
		                    errno == EADDRINUSE ? "the port is in use" : strerror(errno));
	if (listen(fd, 4) < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return hv_error_set(reterr, -errno, "vnc_port %d: %m", port);
	d->vnc_listen = TAKE_FD(fd);
	d->rt.vnc_port = ntohs(sa.sin_port);
	return 0;
}

static void
hvm_vnc_accept(struct daemon *d)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_close_ int fd = accept4(d->vnc_listen, NULL, NULL, SOCK_CLOEXEC);
	int r;

	if (fd < 0 || !d->qmp)
		return;
	r = hv_qmp_execute_fd(d->qmp, "getfd", json_pack("{s:s}", "fdname", "vnc"), fd, -1, NULL,
	                      &e);
	if (r >= 0)
		r = hv_qmp_execute(d->qmp, "add_client",
		                   json_pack("{s:s, s:s}", "protocol", "vnc", "fdname", "vnc"), -1,
		                   NULL, &e);
	if (r < 0)
		log_warning("VM %s: VNC client: %s", d->c.uuid, hv_error_message(e, r));
}

/* The VM's NICs as taps on their switches, each opened for QEMU. */
static int
hvm_plug(struct daemon *d, struct hv_vm_machine *m, struct hv_error **reterr)
{
	_cleanup_(hv_net_vm_done) struct hv_net_vm net = {0};
	_cleanup_free_ char *path = NULL;
	int r;

	if (m->n_nics == 0)
		return 0;
	if (path_join(d->c.zonepath, "config/net.json", &path) < 0)
		return -ENOMEM;
	if ((r = hv_net_vm_load(path, &net, reterr)) < 0)
		return r;
	for (size_t i = 0; i < m->n_nics; i++) {
		struct hv_vm_nic *n = &m->nics[i];
		const struct hv_net_nic *nic = NULL;

		for (size_t k = 0; k < net.n_nics; k++)
			if (strcasecmp(net.nics[k].mac, n->mac) == 0)
				nic = &net.nics[k];
		if (!nic)
			return hv_error_set(reterr, -ENOENT, "NIC %s: not in %s", n->mac, path);
		d->plugged = true;
		if ((r = hv_net_tap_plug(d->c.uuid, nic, &n->tap, reterr)) < 0 ||
		    (r = hv_vm_tap_open(n->tap, &n->fd, reterr)) < 0)
			return r;
	}
	return 0;
}

static void
hvm_remove_sockets(struct daemon *d)
{
	static const char *const names[] = {"vm.qmp", "vm.sup", "vm.console", "vm.ttyb", "vm.vnc"};

	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		_cleanup_free_ char *p = NULL;
		if (hv_vm_socket_path(d->c.zonepath, names[i], &p) >= 0)
			(void)unlink(p);
	}
}

static int
hvm_boot(struct daemon *d, struct hv_error **reterr)
{
	_cleanup_(hv_vm_machine_done) struct hv_vm_machine m = {0};
	_cleanup_free_ char *accel = NULL, *why = NULL, *qemu = NULL, *log = NULL;
	_cleanup_strv_free_ char **argv = NULL;
	_cleanup_close_ int cgfd = -EBADF;
	struct hv_cgroup_join join = {.n = 0};
	struct hv_vm_jail j;
	pid_t pid;
	int r;

	if (!d->c.uid_base)
		return hv_error_set(reterr, -EINVAL, "VM %s has no id range", d->c.uuid);
	if (!d->cg && (r = hv_cgroup_create(d->c.prefix, d->c.uuid, &d->cg, reterr)) < 0)
		return r;
	if ((r = hv_cgroup_set_limits(d->cg, &d->c.limits, reterr)) < 0)
		return r;
	if ((r = hv_vm_machine_load(d->c.zonepath, &m, reterr)) < 0 ||
	    (r = hv_vm_accel(&accel, &why, reterr)) < 0 || (r = hv_vm_qemu_path(&qemu, reterr)) < 0)
		return r;
	log_info("VM %s: accelerator %s (%s)", d->c.uuid, accel, strempty(why));
	if ((r = hvm_vnc_listen(d, m.vnc_port, reterr)) < 0 || (r = hvm_plug(d, &m, reterr)) < 0 ||
	    (r = hv_vm_qemu_argv(&m, qemu, accel, &argv, reterr)) < 0)
		return r;
	if (path_join(d->c.zonepath, "logs/qemu.log", &log) < 0)
		return -ENOMEM;
	(void)set_state(d, HV_ZONE_READY);
	hvm_remove_sockets(d);
	cgfd = hv_cgroup_open_v2_fd(d->cg, NULL);
	if ((r = hv_cgroup_join_prepare(d->cg, cgfd < 0, &join, reterr)) < 0)
		return r;
	j = (struct hv_vm_jail){.m = &m,
	                        .argv = argv,
	                        .uid = d->c.uid_base,
	                        .cgroup_fd = cgfd,
	                        .qemu = qemu,
	                        .log = log,
	                        .kvm = streq(accel, "kvm"),
	                        .join = &join};
	d->qmp = hv_qmp_free(d->qmp);
	r = hv_vm_jail_start(&j, &pid, &d->pidfd, &d->qmp, reterr);
	hv_cgroup_join_done(&join);
	if (r < 0)
		return hv_error_prefix(reterr, r, "VM %s", d->c.uuid);
	if (m.vnc_password && (r = hv_qmp_execute(d->qmp, "change-vnc-password",
	                                          json_pack("{s:s}", "password", m.vnc_password),
	                                          -1, NULL, reterr)) < 0)
		return r;
	hvm_connect_serial(d);
	d->our_child = true;
	d->rt.init_pid = pid;
	(void)hv_proc_starttime(pid, &d->rt.init_starttime);
	d->rt.boot_timestamp = (uint64_t)time(NULL);
	d->rt.zoneid = hv_cgroup_id(d->cg);
	d->rt.paused = false;
	set_transition(d, NULL, 0);
	(void)set_state(d, HV_ZONE_RUNNING);
	return 0;
}

/* After adoption: QEMU's sockets again. */
static int
hvm_adopt(struct daemon *d, struct hv_error **reterr)
{
	_cleanup_(hv_vm_machine_done) struct hv_vm_machine m = {0};
	_cleanup_free_ char *sup = NULL;
	json_auto_t *status = NULL;
	int r, port;

	if (hv_vm_socket_path(d->c.zonepath, "vm.sup", &sup) < 0)
		return -ENOMEM;
	if ((r = hv_qmp_connect(sup, -1, &d->qmp, reterr)) < 0)
		return r;
	hvm_connect_serial(d);
	if (hv_qmp_execute(d->qmp, "query-status", NULL, -1, &status, NULL) >= 0)
		d->rt.paused = streq(strempty(json_string_value(json_object_get(status, "status"))),
		                     "paused");
	/* The port the old zoneadmd had, when vnc_port let it choose. */
	port = d->rt.vnc_port;
	d->rt.vnc_port = 0;
	if (hv_vm_machine_load(d->c.zonepath, &m, NULL) < 0)
		return 0;
	if (m.vnc_port != 0 || port <= 0 || hvm_vnc_listen(d, port, NULL) < 0) {
		_cleanup_hv_error_ struct hv_error *e = NULL;
		if ((r = hvm_vnc_listen(d, m.vnc_port, &e)) < 0)
			log_warning("VM %s: %s", d->c.uuid, hv_error_message(e, r));
	}
	return 0;
}

/*
 * QEMU's events become the VM's state in the run record, which vmadmd
 * watches and turns into `vmadm events` (as SmartOS's vmadmd turns them
 * into the VM's state): STOP/RESUME pause and resume it (state paused),
 * RESET is a new boot (boot_timestamp), SHUTDOWN is the machine going down
 * (shutting_down, then QEMU exits and the zone is stopped).
 */
static void
hvm_event(struct daemon *d, const char *name)
{
	if (streq(name, "STOP"))
		d->rt.paused = true;
	else if (streq(name, "RESUME"))
		d->rt.paused = false;
	else if (streq(name, "RESET")) {
		d->rt.paused = false;
		d->rt.boot_timestamp = (uint64_t)time(NULL);
	} else if (streq(name, "SHUTDOWN")) {
		(void)set_state(d, HV_ZONE_SHUTTING_DOWN);
		return;
	} else
		return;
	(void)set_state(d, d->rt.state);
}

static void
hvm_events(struct daemon *d)
{
	json_t *ev = NULL;
	int r;

	while ((r = hv_qmp_read_event(d->qmp, &ev)) > 0) {
		const char *name = strempty(json_string_value(json_object_get(ev, "event")));

		log_info("VM %s: QEMU event %s", d->c.uuid, name);
		hvm_event(d, name);
		json_decref(ev);
	}
	if (r < 0)
		d->qmp = hv_qmp_free(d->qmp); /* QEMU is going: its pidfd says the rest */
}

static int
boot(struct daemon *d, struct hv_error **reterr)
{
	const struct hv_zone_hook hook = {plug_nics, d};
	struct hv_zone_started z;
	int r;

	/* A config may name an id range that is not (or no longer) this zone's. */
	if (d->c.uid_base && (r = hv_zone_ids_check(d->c.uuid, d->c.uid_base, reterr)) < 0)
		return r;
	if (d->hvm)
		return hvm_boot(d, reterr);
	if (!d->cg && (r = hv_cgroup_create(d->c.prefix, d->c.uuid, &d->cg, reterr)) < 0)
		return r;
	if ((r = hv_cgroup_set_limits(d->cg, &d->c.limits, reterr)) < 0 ||
	    (r = hv_cgroup_limit_devices(d->cg, reterr)) < 0)
		return r;
	if ((r = chown_delegated(d)) < 0)
		return hv_error_set(reterr, r, "cannot delegate the zone's cgroups: %m");
	(void)set_state(d, HV_ZONE_READY);
	r = hv_zone_start(&d->c, d->cg, &hook, &z, reterr);
	if (r < 0)
		return r;
	d->pidfd = z.pidfd;
	d->console = safe_close(d->console);
	d->console = z.console_fd;
	d->our_child = true;
	d->rt.init_pid = z.pid;
	(void)hv_proc_starttime(z.pid, &d->rt.init_starttime);
	d->rt.boot_timestamp = (uint64_t)time(NULL);
	d->rt.zoneid = hv_cgroup_id(d->cg);
	(void)set_state(d, HV_ZONE_RUNNING);
	return 0;
}

/* After adoption the console went with the old zoneadmd: give the zone a new one. */
static int
new_console(struct daemon *d)
{
	_cleanup_close_ int master = -EBADF, slave = -EBADF;
	int unlock = 0, status;
	pid_t pid;

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return -errno;
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0 || fchown(slave, d->c.uid_base, d->c.uid_base) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char src[64];
		snprintf(src, sizeof(src), "/proc/self/fd/%d", slave);
		if (setns(d->pidfd, CLONE_NEWUSER | CLONE_NEWNS) < 0 ||
		    mount(src, "/dev/console", NULL, MS_BIND, NULL) < 0)
			_exit(1);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -EIO;
	d->console = safe_close(d->console);
	d->console = TAKE_FD(master);
	return 0;
}

static int
adopt(struct daemon *d, struct hv_error **reterr)
{
	int r;

	r = hv_cgroup_open(d->c.prefix, d->c.uuid, &d->cg, reterr);
	if (r < 0)
		return r;
	d->our_child = false;
	/* Whatever the old zoneadmd plugged is ours to unplug when the zone goes down. */
	d->plugged = true;
	if (d->hvm && (r = hvm_adopt(d, reterr)) < 0)
		return r;
	if (!d->hvm && new_console(d) < 0)
		log_warning("zone %s: running without a console (cannot attach a new one)",
		            d->c.uuid);
	log_info("zone %s: adopted (init is pid %d)", d->c.uuid, (int)d->rt.init_pid);
	if (d->hvm && d->rt.transition_to[0]) {
		/* The old zoneadmd was waiting for the guest: wait on, to the same deadline. */
		uint64_t now = now_usec(CLOCK_REALTIME) / USEC_PER_MSEC;
		uint64_t left = d->rt.transition_expire > now ? d->rt.transition_expire - now : 0;

		d->stopping = streq(d->rt.transition_to, "start") ? STOP_REBOOT : STOP_SHUTDOWN;
		d->stop_deadline = now_usec(CLOCK_MONOTONIC) + left * USEC_PER_MSEC;
		return set_state(d, HV_ZONE_SHUTTING_DOWN);
	}
	return set_state(d, HV_ZONE_RUNNING);
}

/* Everything of the zone is gone: its processes, its cgroups, our records. */
static void
cleanup_down(struct daemon *d)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	unsigned n = 1;

	/* When init dies the kernel kills its pid namespace; zlogin strays may linger briefly. */
	for (int i = 0; i < 500 && d->cg; i++) {
		if (hv_cgroup_count_procs(d->cg, &n, NULL) < 0 || n == 0)
			break;
		(void)hv_cgroup_kill_all(d->cg, NULL);
		usleep(10000);
	}
	if (d->cg && hv_cgroup_destroy(d->cg, &e) < 0)
		log_warning("zone %s: %s", d->c.uuid, hv_error_message(e, -EBUSY));
	d->cg = hv_cgroup_free(d->cg); /* a reboot makes them anew */
	unplug_nics(d);
	if (d->hvm) {
		d->qmp = hv_qmp_free(d->qmp);
		hvm_vnc_close(d);
		hvm_remove_sockets(d);
	}
	d->pidfd = safe_close(d->pidfd);
	d->console = safe_close(d->console);
	d->rt.init_pid = 0;
	d->rt.zoneid = 0;
	d->rt.paused = false;
	if (d->stopping != STOP_REBOOT)
		set_transition(d, NULL, 0); /* a reboot's ends when the VM runs again */
	(void)set_state(d, HV_ZONE_INSTALLED);
}

/*
 * Answer who waits for the zone to go down (or come up again). With
 * keep, their connections stay open to zoneadmd's exit: a client reads its
 * answer, then the connection's end, and returns only when zoneadmd no
 * longer holds anything in the zone's dataset (its console log, the
 * metadata socket), so the dataset can be destroyed or the pool exported.
 */
static void
answer_waiters(struct daemon *d, const char *msg, bool keep)
{
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (d->waiters[i] >= 0) {
			reply(d->waiters[i], "%s", msg);
			if (!keep)
				d->waiters[i] = safe_close(d->waiters[i]);
		}
}

static bool
restart_allowed(struct daemon *d)
{
	uint64_t now = now_usec(CLOCK_MONOTONIC);
	size_t k = 0;

	/* At most RESTART_MAX restarts a minute: an init that dies at once must not spin. */
	for (size_t i = 0; i < d->n_restarts; i++)
		if (now - d->restarts[i] < RESTART_WINDOW_US)
			d->restarts[k++] = d->restarts[i];
	d->n_restarts = k;
	if (k >= RESTART_MAX)
		return false;
	d->restarts[d->n_restarts++] = now;
	return true;
}

/* Init is gone. Returns true when zoneadmd should exit. */
static bool
init_exited(struct daemon *d)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	siginfo_t si = {0};
	bool reboot = false;
	int status = -1, r;

	if (d->our_child && waitid(P_PIDFD, (id_t)d->pidfd, &si, WEXITED) == 0)
		status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	d->rt.exit_status = status;
	d->rt.exit_timestamp = (uint64_t)time(NULL);
	log_info("zone %s: init exited (status %d)", d->c.uuid, status);

	/* reboot(2) in a pid namespace ends its init with SIGHUP (restart) or SIGINT (halt). */
	/* A QEMU that exits or dies is a VM that stopped, unless we were rebooting it. */
	if (d->stopping == STOP_REBOOT ||
	    (!d->hvm && d->stopping == STOP_NONE && status == 128 + SIGHUP))
		reboot = true;
	else if (!d->hvm && d->stopping == STOP_NONE && status != 128 + SIGINT &&
	         d->c.restart_init) {
		if (restart_allowed(d))
			reboot = true;
		else
			log_error("zone %s: init exited %d times within a minute, not restarting",
			          d->c.uuid, RESTART_MAX);
	}
	(void)set_state(d, HV_ZONE_SHUTTING_DOWN);
	cleanup_down(d);
	d->stopping = STOP_NONE;
	d->stop_deadline = 0;
	if (!reboot) {
		answer_waiters(d, "ok", true);
		return true;
	}
	r = boot(d, &e);
	if (r < 0) {
		log_error_errno(r, "zone %s: reboot failed: %s", d->c.uuid, hv_error_message(e, r));
		cleanup_down(d);
		answer_waiters(d, "error: reboot failed", true);
		return true;
	}
	answer_waiters(d, "ok", false);
	return false;
}

static void
stop(struct daemon *d, enum stop_kind kind, unsigned timeout_s)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;

	if (d->hvm && kind == STOP_REBOOT && !timeout_s && d->qmp && d->stopping != STOP_REBOOT) {
		/*
		 * reboot -F: the machine is reset; QEMU stays. A graceful reboot
		 * that ran out of time instead ends as SmartOS's does, a forced
		 * stop and a start: QEMU quits below and is started again.
		 */
		if (hv_qmp_execute(d->qmp, "system_reset", NULL, -1, NULL, &e) >= 0)
			return;
	}
	if (d->hvm && (kind == STOP_SHUTDOWN || (kind == STOP_REBOOT && timeout_s))) {
		/* The ACPI power button; QEMU exits when the guest powers off. */
		d->stopping = kind;
		set_transition(d, kind == STOP_REBOOT ? "start" : "stopped", timeout_s);
		(void)set_state(d, HV_ZONE_SHUTTING_DOWN);
		if (!d->qmp || hv_qmp_execute(d->qmp, "system_powerdown", NULL, -1, NULL, &e) < 0)
			log_warning("VM %s: cannot press the power button: %s", d->c.uuid,
			            hv_error_message(e, -ENOTCONN));
		d->stop_deadline = now_usec(CLOCK_MONOTONIC) + (uint64_t)timeout_s * USEC_PER_SEC;
		return;
	}
	if (d->hvm && d->qmp) {
		/* Now: QEMU quits (and is killed if it does not). */
		d->stopping = kind;
		(void)set_state(d, HV_ZONE_SHUTTING_DOWN);
		if (hv_qmp_execute(d->qmp, "quit", NULL, 2000, NULL, NULL) >= 0 &&
		    waitid(P_PIDFD, (id_t)d->pidfd, &(siginfo_t){0},
		           WEXITED | WNOWAIT | (d->our_child ? 0 : WNOHANG)) >= 0)
			return;
	}
	if (kind == STOP_SHUTDOWN || (kind == STOP_REBOOT && timeout_s)) {
		d->stopping = kind;
		(void)set_state(d, HV_ZONE_SHUTTING_DOWN);
		if (pidfd_send_signal(d->pidfd, d->c.stop_signal, NULL, 0) < 0)
			log_warning_errno(errno, "zone %s: cannot signal init: %m", d->c.uuid);
		d->stop_deadline = now_usec(CLOCK_MONOTONIC) + (uint64_t)timeout_s * USEC_PER_SEC;
		return;
	}
	/* Now: everything in the zone is killed; init's exit does the rest. */
	d->stopping = kind;
	(void)set_state(d, HV_ZONE_SHUTTING_DOWN);
	if (hv_cgroup_kill_all(d->cg, NULL) < 0)
		(void)pidfd_send_signal(d->pidfd, SIGKILL, NULL, 0);
}

/* Remount the zone's /tmp with a new size, from inside its mount namespace. */
static int
resize_tmp(struct daemon *d, uint64_t bytes)
{
	char opts[64];
	int status;
	pid_t pid;

	snprintf(opts, sizeof(opts), bytes ? "size=%llu" : "size=0", (unsigned long long)bytes);
	if (!bytes)
		snprintf(opts, sizeof(opts), "size=50%%");
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (setns(d->pidfd, CLONE_NEWUSER | CLONE_NEWNS) < 0 ||
		    mount(NULL, "/tmp", NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV, opts) < 0)
			_exit(1);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -EIO;
	return 0;
}

/* Re-read the zone's config and apply what can change while it runs. */
static int
update(struct daemon *d, struct hv_error **reterr)
{
	struct hv_zone_config c = {0};
	struct rlimit rl;
	int r;

	r = hv_zone_config_load(d->c.uuid, &c, reterr);
	if (r < 0)
		return r;
	r = hv_cgroup_set_limits(d->cg, &c.limits, reterr);
	if (r >= 0 && c.limits.tmpfs != d->c.limits.tmpfs &&
	    (r = resize_tmp(d, c.limits.tmpfs)) < 0)
		hv_error_set(reterr, r, "cannot resize the zone's /tmp: %m");
	if (r >= 0 && c.limits.locked && prlimit(d->rt.init_pid, RLIMIT_MEMLOCK, NULL, &rl) == 0) {
		rlim_t v = c.limits.locked;
		if (rl.rlim_max != RLIM_INFINITY && v > rl.rlim_max)
			v = rl.rlim_max; /* never above what the host allows */
		rl.rlim_cur = rl.rlim_max = v;
		(void)prlimit(d->rt.init_pid, RLIMIT_MEMLOCK, &rl, NULL);
	}
	if (r < 0) {
		hv_zone_config_done(&c);
		return r;
	}
	/* Keep the new config; only the limits and /tmp took effect now. */
	hv_zone_config_done(&d->c);
	d->c = c;
	log_info("zone %s: limits updated", d->c.uuid);
	return 0;
}

static void
control(struct daemon *d)
{
	_cleanup_close_ int fd = accept4(d->ctl_listen, NULL, NULL, SOCK_CLOEXEC);
	char cmd[256];
	unsigned timeout = 60;
	ssize_t n;

	if (fd < 0)
		return;
	n = recv(fd, cmd, sizeof(cmd) - 1, 0);
	if (n <= 0)
		return;
	cmd[n] = 0;
	if (streq(cmd, "status")) {
		reply(fd, "%s %d", hv_zone_state_to_string(d->rt.state), (int)d->rt.init_pid);
		return;
	}
	if (streq(cmd, "update")) {
		_cleanup_hv_error_ struct hv_error *e = NULL;
		int r = update(d, &e);
		if (r < 0)
			reply(fd, "error: %s", hv_error_message(e, r));
		else
			reply(fd, "ok");
		return;
	}
	if (streq(cmd, "halt"))
		stop(d, STOP_HALT, 0);
	else if (sscanf(cmd, "shutdown %u", &timeout) == 1 || streq(cmd, "shutdown"))
		stop(d, STOP_SHUTDOWN, timeout);
	else if (streq(cmd, "reboot") && d->hvm) {
		stop(d, STOP_REBOOT, 0);
		reply(fd, "ok");
		return;
	} else if (streq(cmd, "reboot"))
		stop(d, STOP_REBOOT, 0);
	else if (sscanf(cmd, "reboot %u", &timeout) == 1)
		stop(d, STOP_REBOOT, timeout);
	else {
		reply(fd, "error: unknown command '%s'", cmd);
		return;
	}
	/* Answered when the zone is down (or up again, for reboot). */
	if (!add_client(d->waiters, fd))
		reply(fd, "ok");
	else
		fd = -EBADF;
}

/*
 * An idle supervisor should cost next to nothing. Building a zone runs a
 * lot of code (BPF, seccomp, netlink, JSON) and reads a lot of constant
 * data (the port program's object, netlink's tables) that the idle loop
 * never needs again: drop those pages from our page tables (they stay in
 * the page cache, shared, and fault back in if ever used). Only mappings
 * of files that hold no page of our own (smaps' Anonymous: 0): their pages
 * are the file's, so nothing can be lost. A read-only mapping that was
 * written before it was sealed (RELRO) holds private copies and is kept.
 * Done once the zone has run for TRIM_DELAY_US: a zone whose init exits at
 * once (a job, a failed start) never pays for it.
 */
static void
drop_startup_text(void)
{
	struct {
		unsigned long a, b;
	} drop[32];
	size_t n = 0;
	unsigned long a = 0, b = 0;
	bool candidate = false;
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "re");

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long x, y, anon;
		char perm[8], path[256] = "";

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &x, &y, perm, path) >= 3) {
			a = x, b = y;
			candidate = (streq(perm, "r-xp") || streq(perm, "r--p")) && path[0] == '/';
		} else if (candidate && sscanf(line, "Anonymous: %lu kB", &anon) == 1) {
			if (anon == 0 && n < ELEMENTSOF(drop))
				drop[n++] = (typeof(drop[0])){a, b};
			candidate = false;
		}
	}
	if (f)
		fclose(f);
	/* The heap the start freed (libseccomp's filter database, JSON) goes back too. */
	(void)malloc_trim(0);
	/* Last, and with nothing in between: the parsing above would fault them back in. */
	for (size_t i = 0; i < n; i++)
		(void)madvise((void *)drop[i].a, drop[i].b - drop[i].a, MADV_DONTNEED);
}

static int
loop(struct daemon *d)
{
	for (;;) {
		struct pollfd p[7 + 2 * MAX_CLIENTS + HV_MDATA_POLLFDS_MAX];
		size_t n = 0, viewers_at, md_at, md_n, hvm_at;
		int timeout = -1, k, md_timeout;

		p[n++] = (struct pollfd){.fd = d->pidfd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = d->ctl_listen, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = d->con_listen, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = d->sigfd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = d->console, .events = POLLIN};
		viewers_at = n;
		for (size_t i = 0; i < MAX_CLIENTS; i++)
			p[n++] = (struct pollfd){.fd = d->viewers[i], .events = POLLIN};
		hvm_at = n;
		p[n++] = (struct pollfd){.fd = d->qmp ? hv_qmp_fd(d->qmp) : -1, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = d->vnc_listen, .events = POLLIN};
		md_at = n;
		md_n = hv_mdata_server_pollfds(d->md, p + n, HV_MDATA_POLLFDS_MAX);
		n += md_n;
		if (d->stop_deadline) {
			uint64_t now = now_usec(CLOCK_MONOTONIC);
			timeout = now >= d->stop_deadline
			                  ? 0
			                  : (int)((d->stop_deadline - now + 999) / 1000);
		}
		md_timeout = hv_mdata_server_timeout(d->md);
		if (md_timeout >= 0 && (timeout < 0 || md_timeout < timeout))
			timeout = md_timeout;
		if (d->trim_at) {
			uint64_t now = now_usec(CLOCK_MONOTONIC);
			int t = now >= d->trim_at ? 0 : (int)((d->trim_at - now + 999) / 1000);

			if (timeout < 0 || t < timeout)
				timeout = t;
		}
		k = poll(p, n, timeout);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return log_error_errno(errno, "poll: %m");
		hv_mdata_server_dispatch(d->md, p + md_at, k > 0 ? md_n : 0);
		if (d->trim_at && now_usec(CLOCK_MONOTONIC) >= d->trim_at) {
			d->trim_at = 0;
			drop_startup_text();
		}
		if (k == 0 && d->stop_deadline && now_usec(CLOCK_MONOTONIC) >= d->stop_deadline) {
			log_info("zone %s: init did not stop in time, killing the zone", d->c.uuid);
			d->stop_deadline = 0;
			stop(d, d->stopping == STOP_REBOOT ? STOP_REBOOT : STOP_HALT, 0);
			continue;
		}
		if (p[0].revents && init_exited(d))
			return 0;
		if (p[1].revents)
			control(d);
		if (p[2].revents) {
			int fd = accept4(d->con_listen, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0 && !add_client(d->viewers, fd))
				safe_close(fd);
		}
		if (p[3].revents) {
			struct signalfd_siginfo si;
			if (read(d->sigfd, &si, sizeof(si)) == sizeof(si) &&
			    (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)) {
				/* Leave the zone running: a new zoneadmd adopts it. */
				log_info("zone %s: zoneadmd exits, the zone runs on", d->c.uuid);
				return 0;
			}
		}
		if (p[4].revents)
			console_read(d);
		if (p[hvm_at].revents && d->qmp)
			hvm_events(d);
		if (p[hvm_at + 1].revents)
			hvm_vnc_accept(d);
		for (size_t i = 0; i < MAX_CLIENTS; i++)
			if (p[viewers_at + i].revents)
				console_input(d, i);
	}
}

static int
parse_argv(int argc, char *argv[])
{
	static const struct option opts[] = {{"notify-fd", required_argument, NULL, 'n'}, {}};
	int c;

	while ((c = getopt_long(argc, argv, "z:", opts, NULL)) != -1) {
		if (c == 'z')
			arg_uuid = optarg;
		else if (c == 'n') {
			arg_notify_fd = atoi(optarg);
			/* Ours alone: the zone must not inherit it (the waiter would never see
			 * EOF). */
			if (fcntl(arg_notify_fd, F_SETFD, FD_CLOEXEC) < 0)
				arg_notify_fd = -1;
		} else {
			log_error("usage: zoneadmd -z UUID [--notify-fd FD]");
			return -EINVAL;
		}
	}
	if (!arg_uuid || optind != argc || !uuid_is_valid(arg_uuid)) {
		log_error("usage: zoneadmd -z UUID [--notify-fd FD]");
		return -EINVAL;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *logpath = NULL, *lockpath = NULL, *rundir = NULL;
	_cleanup_close_ int lock = -EBADF;
	struct daemon d = {.pidfd = -1,
	                   .console = -1,
	                   .console_log = -1,
	                   .ctl_listen = -1,
	                   .con_listen = -1,
	                   .sigfd = -1,
	                   .vnc_listen = -1};
	sigset_t mask;
	int r;

	(void)hv_root_log_path("zoneadmd", &logpath);
	log_open("zoneadmd", logpath);
	if (parse_argv(argc, argv) < 0)
		return 2;
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		d.waiters[i] = d.viewers[i] = -1;

	if ((r = hv_zone_config_load(arg_uuid, &d.c, &e)) < 0)
		goto fail;
	d.hvm = streq(d.c.brand, "kvm");
	if ((r = hv_root_path(HV_RUN_DIR "/zones", &rundir)) < 0 ||
	    (r = mkdir_p(rundir, 0700)) < 0 ||
	    (r = hv_zone_runtime_path(arg_uuid, ".lock", &lockpath)) < 0) {
		hv_error_set(&e, r, "cannot create the run directory: %m");
		goto fail;
	}
	r = lock_file(lockpath, LOCK_EX, 0, &lock);
	if (r < 0) {
		r = hv_error_set(&e, r == -ETIMEDOUT ? -EALREADY : r,
		                 "zone %s already has a zoneadmd", arg_uuid);
		goto fail_unlocked;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d.ctl_listen = listen_on(arg_uuid, ".ctl", SOCK_SEQPACKET);
	d.con_listen = listen_on(arg_uuid, ".console", SOCK_STREAM);
	if (d.sigfd < 0 || d.ctl_listen < 0 || d.con_listen < 0) {
		r = hv_error_set(&e, d.ctl_listen < 0 ? d.ctl_listen : -EIO,
		                 "cannot set up zoneadmd's sockets: %m");
		goto fail;
	}
	console_log_open(&d);
	metadata_open(&d);

	/* A zone that still runs (its zoneadmd died) is adopted, not booted again. */
	if (hv_zone_runtime_load(arg_uuid, &d.rt, NULL) >= 0 &&
	    hv_zone_init_pidfd(&d.rt, &d.pidfd) >= 0)
		r = adopt(&d, &e);
	else {
		d.rt = (struct hv_zone_runtime){.exit_status = -1};
		r = boot(&d, &e);
		if (r < 0)
			cleanup_down(&d);
	}
	if (r < 0)
		goto fail;
	notify("ok\n", false);
	d.trim_at = now_usec(CLOCK_MONOTONIC) + TRIM_DELAY_US;
	r = loop(&d);
	/* A zone that went down keeps its record: state installed, how init ended. */
	if (d.rt.state == HV_ZONE_INSTALLED)
		remove_sockets(arg_uuid);
	hv_mdata_server_free(d.md);
	hv_mdata_record_free(d.md_record);
	hv_qmp_free(d.qmp);
	hv_cgroup_free(d.cg);
	hv_zone_config_done(&d.c);
	return r < 0 ? 1 : 0;
fail:
	/* We hold the zone's lock: what is recorded is ours to remove. */
	remove_sockets(arg_uuid);
	(void)hv_zone_runtime_remove(arg_uuid);
fail_unlocked:
	log_error_errno(r, "%s", hv_error_message(e, r));
	if (arg_notify_fd >= 0) {
		char msg[1100];
		snprintf(msg, sizeof(msg), "error: %s\n", hv_error_message(e, r));
		notify(msg, true);
	}
	hv_cgroup_free(d.cg);
	hv_zone_config_done(&d.c);
	return 1;
}
