/* SPDX-License-Identifier: MIT */
/*
 * dtrace: DTrace's command line over lib/trace. Compile every -n and -s
 * into one program, fill the zone map from the zones' run files, attach,
 * run until exit(), Ctrl-C, or the -c/-p process's end, and print. Exit
 * status: exit()'s argument, 1 for any error (DTrace's convention), 2 for
 * a usage error.
 */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/error.h"
#include "basic/fileio.h"
#include "basic/parse.h"
#include "basic/root.h"
#include "json/json.h"
#include "trace/trace.h"

static volatile int stop_flag;
static volatile sig_atomic_t interrupts;
static pid_t child_pid;
static const char *arg_dump;
static bool arg_list, arg_verbose, arg_zdefs_given;
static struct hv_trace_options opts = {.strsize = 256};

#define SOURCES_MAX 64
static struct {
	char *text; /* -n's text or -s's file */
	bool file;
} sources[SOURCES_MAX];
static int n_sources;

static void
on_signal(int sig)
{
	if (sig == SIGCHLD) {
		int status;

		if (child_pid > 0 && waitpid(child_pid, &status, WNOHANG) == child_pid)
			stop_flag = 1;
		return;
	}
	if (interrupts++)
		_exit(1); /* impatient: a second Ctrl-C */
	stop_flag = 1;
}

static int fail(const char *fmt, ...) _printf_(1, 2);
static int
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("dtrace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int
usage(void)
{
	fprintf(stderr,
	        "Usage: dtrace [-lqvwZ] [-c cmd] [-o output] [-p pid] [-s script] [-x opt[=val]]\n"
	        "\t[-n [[[provider:]module:]function:]name [[predicate] action]] "
	        "[--dump=ast|ir|bpf]"
	        " [args ...]\n");
	return 2;
}

static int
parse_option(char *opt)
{
	char *v = strchr(opt, '=');
	uint64_t n;

	if (v)
		*v++ = 0;
	if (streq(opt, "bufsize") || streq(opt, "aggsize")) {
		if (!v || parse_size(v, &n) < 0 || n == 0)
			return fail("invalid value for option '%s': '%s'", opt, strempty(v)),
			       -EINVAL;
		if (streq(opt, "bufsize"))
			opts.bufsize = n;
		return 0;
	}
	if (streq(opt, "strsize")) {
		if (!v || parse_size(v, &n) < 0 || n < 8 || n > 4096)
			return fail("invalid value for option 'strsize': '%s'", strempty(v)),
			       -EINVAL;
		opts.strsize = (unsigned)n;
		return 0;
	}
	if (streq(opt, "switchrate") || streq(opt, "aggrate")) {
		char *end;
		unsigned long x = v ? strtoul(v, &end, 10) : 0;

		if (!v || end == v || x == 0)
			return fail("invalid value for option '%s': '%s'", opt, strempty(v)),
			       -EINVAL;
		if (streq(opt, "switchrate"))
			opts.switchrate_ms = streq(end, "hz") || !*end
			                             ? (unsigned)(1000 / x ? 1000 / x : 1)
			                     : streq(end, "ms") ? (unsigned)x
			                     : streq(end, "s")  ? (unsigned)x * 1000
			                                        : 100;
		return 0;
	}
	if (streq(opt, "quiet")) {
		opts.quiet = true;
		return 0;
	}
	return fail("unknown option '%s'", opt), -EINVAL;
}

struct zonewatch {
	int fd, wd;
	uint64_t ids[4096]; /* the cgroup ids in the map */
	size_t n;
};

/* The zone map: each running zone's cgroup id (zoneadmd's run file) -> its zonename. */
static void
fill_zones(struct hv_trace_program *p, struct zonewatch *w)
{
	uint64_t now[ELEMENTSOF(w->ids)];
	size_t n_now = 0;

	_cleanup_free_ char *dir = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (hv_root_path(HV_RUN_DIR "/zones", &dir) < 0 || !(d = opendir(dir))) {
		for (size_t i = 0; i < w->n; i++)
			(void)hv_trace_zone_unset(p, w->ids[i]);
		w->n = 0;
		return;
	}
	while ((de = readdir(d))) {
		_cleanup_free_ char *path = NULL, *vmpath = NULL, *uuid = NULL, *rel = NULL;
		json_auto_t *o = NULL, *vm = NULL;
		const char *name = NULL;
		int64_t id = 0;
		size_t l = strlen(de->d_name);

		if (l != 36 + 5 || !streq(de->d_name + 36, ".json"))
			continue;
		if (!(uuid = strndup(de->d_name, 36)) ||
		    asprintf(&path, "%s/%s", dir, de->d_name) < 0)
			continue;
		if (hv_json_load_file(path, 64 * 1024, &o, NULL) < 0 ||
		    hv_json_get_int(o, "zoneid", &id, NULL) < 0 || id <= 0)
			continue;
		if (asprintf(&rel, HV_POOL_DIR "/%s/config/vm.json", uuid) >= 0 &&
		    hv_root_path(rel, &vmpath) >= 0 &&
		    hv_json_load_file(vmpath, 4 * 1024 * 1024, &vm, NULL) >= 0)
			(void)hv_json_get_string(vm, "zonename", &name, NULL);
		(void)hv_trace_zone_set(p, (uint64_t)id, name ? name : uuid);
		if (n_now < ELEMENTSOF(now))
			now[n_now++] = (uint64_t)id;
	}
	/* zones gone since: their cgroup ids read as the global zone again */
	for (size_t i = 0; i < w->n; i++) {
		bool kept = false;

		for (size_t j = 0; j < n_now && !kept; j++)
			kept = now[j] == w->ids[i];
		if (!kept)
			(void)hv_trace_zone_unset(p, w->ids[i]);
	}
	memcpy(w->ids, now, n_now * sizeof(*now));
	w->n = n_now;
}

/*
 * -c: the command is stopped right after its exec (ptrace's exec stop,
 * then detached into a SIGSTOP), so pid$target probes see its executable
 * mapped, and continues once BEGIN ran and every probe is attached.
 */
static int
spawn_command(const char *cmd)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char *argv[64], *copy = strdup(cmd), *save = NULL;
		int n = 0;

		for (char *t = strtok_r(copy, " \t", &save); t && n < 63;
		     t = strtok_r(NULL, " \t", &save))
			argv[n++] = t;
		argv[n] = NULL;
		if (n == 0)
			_exit(127);
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "dtrace: failed to execute %s: %m\n", argv[0]);
		_exit(127);
	}
	child_pid = pid;
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	if (!WIFSTOPPED(status)) {
		child_pid = 0;
		return -ENOEXEC;
	}
	if (ptrace(PTRACE_DETACH, pid, NULL, (void *)(intptr_t)SIGSTOP) < 0)
		return -errno;
	return 0;
}

/* The -c command continues once BEGIN ran and every probe is attached. */
static void
release_command(void *userdata)
{
	bool *held = userdata;

	if (*held && child_pid > 0)
		kill(child_pid, SIGCONT);
	*held = false;
}

/*
 * The zone map kept current: zones booted (or halted) after dtrace
 * started are seen at the next switchrate tick after their run file
 * changes (inotify on the run directory; while that directory does not
 * exist, a re-scan every tick).
 */
static void
zonewatch_arm(struct zonewatch *w)
{
	_cleanup_free_ char *dir = NULL;

	if (w->fd < 0)
		w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0 || w->wd >= 0 || hv_root_path(HV_RUN_DIR "/zones", &dir) < 0)
		return;
	w->wd = inotify_add_watch(w->fd, dir,
	                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
	                                  IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF);
}

static void
zone_tick(struct hv_trace_program *p, void *userdata)
{
	struct zonewatch *w = userdata;
	bool changed = w->wd < 0;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while (w->fd >= 0 && (n = read(w->fd, buf, sizeof(buf))) > 0) {
		changed = true;
		for (char *q = buf; q < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)q;

			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
				w->wd = -1;
			q += sizeof(*ev) + ev->len;
		}
	}
	if (!changed)
		return;
	zonewatch_arm(w);
	fill_zones(p, w);
}

static void *
watch_pid(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
		;
	stop_flag = 1;
	return NULL;
}

static char *
read_script(const char *path)
{
	char *text = NULL;
	int r = read_full_file(path, 1024 * 1024, &text, NULL);

	if (r < 0) {
		fail("failed to open %s: %s", path, strerror(-r));
		return NULL;
	}
	return text;
}

/* Each -n/-s compiled alone: its own error locations and its "matched" line. */
static int
compile_each(char **texts)
{
	for (int i = 0; i < n_sources; i++) {
		_cleanup_(hv_trace_program_freep) struct hv_trace_program *p = NULL;
		_cleanup_hv_error_ struct hv_error *e = NULL;
		const char *origin = sources[i].file ? sources[i].text : "-n";
		size_t m;
		int r;

		r = hv_trace_compile(texts[i], origin, &opts, &p, &e);
		if (r < 0)
			return fail("failed to compile %s: %s",
			            sources[i].file ? "script" : "probe description",
			            hv_error_message(e, r));
		m = hv_trace_matched(p);
		if (!opts.quiet && !arg_dump) {
			if (sources[i].file)
				fprintf(stderr, "dtrace: script '%s' matched %zu probe%s\n",
				        sources[i].text, m, m == 1 ? "" : "s");
			else
				fprintf(stderr, "dtrace: description '%.*s' matched %zu probe%s\n",
				        (int)strcspn(texts[i], "/{"), texts[i], m,
				        m == 1 ? "" : "s");
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"dump", required_argument, NULL, 'D'},
	        {"help", no_argument, NULL, 'h'},
	        {},
	};
	_cleanup_(hv_trace_program_freep) struct hv_trace_program *p = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *all = NULL;
	char *texts[SOURCES_MAX] = {NULL}, *cmd = NULL, *ofile = NULL, *list_desc = NULL;
	char *margs[64];
	static struct zonewatch zw = {.fd = -1, .wd = -1};
	int c, r, n_margs = 1, status;
	bool held = false;
	pid_t grab = 0;
	FILE *out = stdout;
	size_t len = 0;

	margs[0] = argv[0];
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+c:ln:o:p:qs:vwx:Z", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
		case 's':
			if (n_sources == SOURCES_MAX)
				return fail("too many -n and -s options");
			sources[n_sources].text = optarg;
			sources[n_sources++].file = c == 's';
			break;
		case 'l':
			arg_list = true;
			break;
		case 'c':
			cmd = optarg;
			break;
		case 'p':
			if (safe_atoi(optarg, &r) < 0 || r <= 0)
				return fail("invalid pid: %s", optarg);
			grab = r;
			break;
		case 'o':
			ofile = optarg;
			break;
		case 'q':
			opts.quiet = true;
			break;
		case 'v':
			arg_verbose = true;
			break;
		case 'w':
			opts.destructive = true;
			break;
		case 'Z':
			opts.zdefs = true;
			arg_zdefs_given = true;
			break;
		case 'x':
			if (parse_option(optarg) < 0)
				return 2;
			break;
		case 'D':
			if (!streq(optarg, "ast") && !streq(optarg, "ir") && !streq(optarg, "bpf"))
				return fail("--dump takes ast, ir or bpf, not '%s'", optarg), 2;
			arg_dump = optarg;
			break;
		case 'h':
			usage();
			return 0;
		default:
			if (optopt)
				fprintf(stderr,
				        "dtrace: option requires an argument or is unknown -- %c\n",
				        optopt);
			return usage();
		}
	}
	for (int i = optind; i < argc && n_margs < 64; i++)
		margs[n_margs++] = argv[i];
	opts.macro_args = margs;
	opts.n_macro_args = n_margs;

	if (arg_list) {
		if (n_sources == 0)
			return hv_trace_list("", stdout, &e) < 0
			               ? fail("%s", hv_error_message(e, -EIO))
			               : 0;
		for (int i = 0; i < n_sources; i++) {
			list_desc = sources[i].file ? NULL : sources[i].text;
			if (list_desc && (r = hv_trace_list(list_desc, stdout, &e)) < 0)
				return fail("%s", hv_error_message(e, r));
		}
		return 0;
	}
	if (n_sources == 0)
		return usage();

	for (int i = 0; i < n_sources; i++) {
		if (sources[i].file) {
			if (!(texts[i] = read_script(sources[i].text)))
				return 1;
		} else if (!(texts[i] = strdup(sources[i].text))) {
			return fail("out of memory");
		}
		len += strlen(texts[i]) + 2;
	}
	if (!(all = calloc(1, len + 1)))
		return fail("out of memory");
	for (int i = 0; i < n_sources; i++) {
		strcat(all, texts[i]);
		strcat(all, "\n");
	}

	if (cmd) {
		if (arg_dump)
			opts.target = 1;
		else if ((r = spawn_command(cmd)) < 0)
			return fail("failed to run '%s': %s", cmd, strerror(-r));
		else
			opts.target = child_pid, held = true;
	} else if (grab) {
		opts.target = grab;
	}

	r = compile_each(texts);
	for (int i = 0; i < n_sources; i++)
		free(texts[i]);
	if (r)
		goto fail_child;
	r = hv_trace_compile(all, n_sources == 1 && sources[0].file ? sources[0].text : "-n", &opts,
	                     &p, &e);
	if (r < 0) {
		fail("failed to compile: %s", hv_error_message(e, r));
		goto fail_child;
	}
	if (arg_dump) {
		hv_trace_dump(p, arg_dump, stdout);
		return 0;
	}
	if (ofile && !(out = fopen(ofile, "ae"))) {
		fail("failed to open output file '%s': %m", ofile);
		goto fail_child;
	}

	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);

	/* the compiled program keeps its own copy of the options */
	hv_trace_set_ready(p, release_command, &held);
	r = hv_trace_load(p, &e);
	if (r < 0) {
		fail("could not enable tracing: %s", hv_error_message(e, r));
		goto fail_child;
	}
	zonewatch_arm(&zw);
	fill_zones(p, &zw);
	hv_trace_set_tick(p, zone_tick, &zw);
	if (grab) {
		pthread_t t;
		int pfd = (int)syscall(SYS_pidfd_open, grab, 0);

		if (pfd < 0) {
			fail("failed to grab pid %d: %m", (int)grab);
			goto fail_child;
		}
		pthread_create(&t, NULL, watch_pid, (void *)(intptr_t)pfd);
		pthread_detach(t);
	}
	r = hv_trace_run(p, out, &stop_flag, &e);
	if (out != stdout)
		fclose(out);
	if (child_pid > 0 && waitpid(child_pid, &status, WNOHANG) == 0) {
		kill(child_pid, SIGKILL);
		waitpid(child_pid, &status, 0);
	}
	if (r < 0)
		return fail("%s", hv_error_message(e, r));
	if (arg_verbose)
		fprintf(stderr, "dtrace: %zu probes\n", hv_trace_matched(p));
	return hv_trace_exit_status(p);

fail_child:
	if (child_pid > 0) {
		kill(child_pid, SIGKILL);
		waitpid(child_pid, &status, 0);
	}
	return 1;
}
