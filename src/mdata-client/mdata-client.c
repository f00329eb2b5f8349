/* SPDX-License-Identifier: MIT */
/*
 * mdata-get, mdata-put, mdata-delete, mdata-list: the guest's side of the
 * metadata protocol (smartos.md §5), with the behaviour and exit codes of
 * Joyent's mdata-client. One source, four static programs (MDATA_TOOL
 * says which), built to run in any guest: they need nothing but the
 * kernel.
 *
 * Transport: $MDATA_SOCKET (a unix socket) or $MDATA_SERIAL (a serial
 * device) when set; else the first socket that exists of
 * /native/.zonecontrol/metadata.sock (lx zones), /.zonecontrol/metadata.sock
 * and /var/run/smartdc/metadata.sock; else the second serial port,
 * /dev/ttyS1 (VMs). A serial port is locked, put in raw mode, drained and
 * reset with "\n" (the host answers "invalid command").
 *
 * Then NEGOTIATE V2; a host that does not answer V2_OK is spoken to in
 * V1, which has no PUT or DELETE. An unanswered request (6 s before
 * negotiation, 45 s after) resets the transport and tries again, for ever,
 * as Joyent's client does: mdata-get blocks until the service is there.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "mdata/proto.h"

enum { EXIT_FOUND = 0, EXIT_NOTFOUND = 1, EXIT_ERROR = 2, EXIT_USAGE = 3 };
enum tool { TOOL_GET, TOOL_PUT, TOOL_DELETE, TOOL_LIST };

#define NEGOTIATE_TIMEOUT_MS 6000
#define REQUEST_TIMEOUT_MS   45000
#define VALUE_MAX            (HV_MDATA_LINE_MAX / 2)
#define ANSWER_MAX           (16u * 1024u * 1024u)

static const char *const sockets[] = {"/native/.zonecontrol/metadata.sock",
                                      "/.zonecontrol/metadata.sock",
                                      "/var/run/smartdc/metadata.sock"};

struct conn {
	int fd;
	bool serial;
	bool v2;
	char *buf; /* bytes read past the last line */
	size_t len, cap;
};

static const char *progname = "mdata";

static void
fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* One line (without '\n', NUL-terminated, malloc'd) within deadline; -ETIMEDOUT, -EPIPE. */
static int
read_line(struct conn *c, uint64_t deadline, char **ret, size_t *ret_len)
{
	for (;;) {
		char *nl = c->buf ? memchr(c->buf, '\n', c->len) : NULL;
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		uint64_t now = now_ms();
		ssize_t k;

		if (nl) {
			size_t n = (size_t)(nl - c->buf);
			char *line = malloc(n + 1);
			if (!line)
				return -ENOMEM;
			memcpy(line, c->buf, n);
			line[n] = 0;
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			*ret = line;
			*ret_len = n;
			return 0;
		}
		if (c->len >= ANSWER_MAX)
			return -EFBIG;
		if (now >= deadline)
			return -ETIMEDOUT;
		k = poll(&p, 1, (int)(deadline - now));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ETIMEDOUT;
		if (c->cap - c->len < 4096) {
			char *b = realloc(c->buf, c->cap + 65536);
			if (!b)
				return -ENOMEM;
			c->buf = b;
			c->cap += 65536;
		}
		k = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0)
			return -errno;
		if (k == 0) {
			if (c->serial) { /* a raw tty with VTIME: no data yet */
				usleep(10000);
				continue;
			}
			return -EPIPE;
		}
		c->len += (size_t)k;
	}
}

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
}

static int
open_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

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
	return fd;
}

static int
open_serial(struct conn *c, const char *dev)
{
	struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	struct termios t;
	char scrap[256];
	char *line = NULL;
	size_t n;
	int r;

	c->fd = open(dev, O_RDWR | O_EXCL | O_NOCTTY | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	c->serial = true;
	/* Several readers on one port interfere (cloud-init issue 3109): one at a time. */
	if (fcntl(c->fd, F_SETLKW, &l) < 0 || tcgetattr(c->fd, &t) < 0)
		return -errno;
	cfmakeraw(&t);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 1;
	if (tcsetattr(c->fd, TCSAFLUSH, &t) < 0)
		return -errno;
	while (read(c->fd, scrap, sizeof(scrap)) > 0)
		; /* a half answer someone else left */
	/* The reset: an empty line, which any V1 or V2 host calls an invalid command. */
	if ((r = write_all(c->fd, "\n", 1)) < 0 ||
	    (r = read_line(c, now_ms() + 2000, &line, &n)) < 0)
		return r;
	r = strcmp(line, "invalid command") == 0 ? 0 : -EPROTO;
	free(line);
	return r;
}

/* Open the transport; a permanent failure (nothing to open) is -ENOENT. */
static int
transport_open(struct conn *c)
{
	const char *env;
	struct stat st;

	c->fd = -1;
	c->serial = false;
	if ((env = getenv("MDATA_SOCKET")) && *env)
		return (c->fd = open_socket(env)) < 0 ? c->fd : 0;
	if ((env = getenv("MDATA_SERIAL")) && *env)
		return open_serial(c, env);
	for (size_t i = 0; i < sizeof(sockets) / sizeof(sockets[0]); i++)
		if (stat(sockets[i], &st) == 0 && S_ISSOCK(st.st_mode))
			return (c->fd = open_socket(sockets[i])) < 0 ? c->fd : 0;
	if (stat("/dev/ttyS1", &st) == 0)
		return open_serial(c, "/dev/ttyS1");
	return -ENOENT;
}

static int
negotiate(struct conn *c)
{
	char *line = NULL;
	size_t n;
	int r;

	if ((r = write_all(c->fd, "NEGOTIATE V2\n", 13)) < 0 ||
	    (r = read_line(c, now_ms() + NEGOTIATE_TIMEOUT_MS, &line, &n)) < 0)
		return r;
	c->v2 = strcmp(line, "V2_OK") == 0;
	free(line);
	return 0;
}

/* Open and negotiate, retrying while the host is not (yet) there. */
static int
connect_host(struct conn *c)
{
	for (unsigned tries = 0;; tries++) {
		int r = transport_open(c);
		if (r >= 0)
			r = negotiate(c);
		if (r >= 0)
			return 0;
		conn_close(c);
		/* A host that is (re)starting is waited for; anything else will not get better. */
		if (r == -ECONNREFUSED || r == -EAGAIN || r == -ETIMEDOUT || r == -EPIPE ||
		    r == -ECONNRESET || r == -EINTR || r == -EBUSY || (r == -ENOENT && tries > 0)) {
			sleep(1);
			continue;
		}
		if (r == -ENOENT)
			fail("cannot find the metadata service (no socket, no serial port)");
		else
			fail("cannot open the metadata service: %s", strerror(-r));
		return -EACCES; /* said: nothing more to say */
	}
}

struct answer {
	char code[16]; /* SUCCESS, NOTFOUND, FAILURE */
	char *value;
	size_t size;
};

static int
request_v2(struct conn *c, const char *cmd, const char *payload, size_t n, struct answer *a)
{
	unsigned char rnd[4];
	char reqid[9], *frame = NULL;
	size_t frame_len;
	uint64_t deadline = now_ms() + REQUEST_TIMEOUT_MS;
	int r;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -errno;
	snprintf(reqid, sizeof(reqid), "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
	if ((r = hv_mdata_frame_format(reqid, cmd, payload, n, &frame, &frame_len)) < 0)
		return r;
	r = write_all(c->fd, frame, frame_len);
	free(frame);
	while (r >= 0) {
		struct hv_mdata_frame f;
		char *line = NULL;
		size_t len;

		if ((r = read_line(c, deadline, &line, &len)) < 0)
			break;
		/* Not ours, or not a frame: ignored, as Joyent's client does. */
		if (hv_mdata_frame_parse(line, len, &f) < 0 || f.reqid_len != 8 ||
		    memcmp(f.reqid, reqid, 8) != 0 || f.code_len >= sizeof(a->code)) {
			free(line);
			continue;
		}
		memcpy(a->code, f.code, f.code_len);
		a->code[f.code_len] = 0;
		a->value = NULL;
		a->size = 0;
		r = f.payload
		            ? hv_mdata_base64_decode(f.payload, f.payload_len, &a->value, &a->size)
		            : 0;
		free(line);
		return r < 0 ? -EPROTO : 0;
	}
	return r;
}

static int
request_v1(struct conn *c, const char *cmd, const char *arg, struct answer *a)
{
	uint64_t deadline = now_ms() + REQUEST_TIMEOUT_MS;
	char *req = NULL, *line = NULL;
	FILE *f;
	size_t len;
	int r;

	if (asprintf(&req, "%s%s%s\n", cmd, arg ? " " : "", arg ? arg : "") < 0)
		return -ENOMEM;
	r = write_all(c->fd, req, strlen(req));
	free(req);
	if (r < 0 || (r = read_line(c, deadline, &line, &len)) < 0)
		return r;
	snprintf(a->code, sizeof(a->code), "%s",
	         strcmp(line, "SUCCESS") == 0    ? "SUCCESS"
	         : strcmp(line, "NOTFOUND") == 0 ? "NOTFOUND"
	                                         : "FAILURE");
	free(line);
	a->value = NULL;
	a->size = 0;
	if (strcmp(a->code, "SUCCESS") != 0)
		return 0;
	f = open_memstream(&a->value, &a->size);
	if (!f)
		return -ENOMEM;
	for (bool first = true;; first = false) {
		if ((r = read_line(c, deadline, &line, &len)) < 0)
			break;
		if (strcmp(line, ".") == 0) {
			free(line);
			break;
		}
		fprintf(f, "%s%s", first ? "" : "\n", line[0] == '.' ? line + 1 : line);
		free(line);
	}
	fclose(f);
	return r < 0 ? r : 0;
}

/* Run one request to its answer, resetting and retrying on timeouts. */
static int
run(const char *cmd, const char *arg, size_t arg_size, struct answer *a)
{
	struct conn c = {.fd = -1};
	int r;

	for (;;) {
		if ((r = connect_host(&c)) < 0)
			return r;
		if (!c.v2 && (strcmp(cmd, "PUT") == 0 || strcmp(cmd, "DELETE") == 0)) {
			conn_close(&c);
			fail("the metadata host does not speak protocol version 2, which %s needs",
			     cmd);
			return -EPROTONOSUPPORT;
		}
		r = c.v2 ? request_v2(&c, cmd, arg, arg_size, a) : request_v1(&c, cmd, arg, a);
		conn_close(&c);
		if (r >= 0 || (r != -ETIMEDOUT && r != -EPIPE && r != -ECONNRESET))
			return r;
	}
}

static int
read_stdin(char **ret, size_t *ret_size)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t k;
		if (n == cap) {
			char *b;
			if (cap >= VALUE_MAX * 2) {
				free(buf);
				return -EFBIG;
			}
			b = realloc(buf, cap *= 2);
			if (!b) {
				free(buf);
				return -ENOMEM;
			}
			buf = b;
		}
		k = read(STDIN_FILENO, buf + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			free(buf);
			return -errno;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	*ret = buf;
	*ret_size = n;
	return 0;
}

/* PUT's payload: b64(key) " " b64(value). */
static int
put_payload(const char *key, const char *value, size_t n, char **ret, size_t *ret_size)
{
	char *k = NULL, *v = NULL;
	int r;

	if ((r = hv_mdata_base64_encode(key, strlen(key), &k, NULL)) < 0 ||
	    (r = hv_mdata_base64_encode(value, n, &v, NULL)) < 0) {
		free(k);
		return r;
	}
	r = asprintf(ret, "%s %s", k, v);
	free(k);
	free(v);
	if (r < 0)
		return -ENOMEM;
	*ret_size = (size_t)r;
	return 0;
}

static int
usage(enum tool t)
{
	static const char *const u[] = {"<keyname>", "<keyname> [ <value> ]", "<keyname>", ""};
	fprintf(stderr, "Usage: %s %s\n", progname, u[t]);
	return EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	enum tool t = MDATA_TOOL;
	struct answer a = {{0}};
	char *payload = NULL, *value = NULL;
	size_t payload_size = 0, value_size;
	const char *key = argc > 1 ? argv[1] : NULL;
	int r, ret;

	progname = (const char *[]){"mdata-get", "mdata-put", "mdata-delete", "mdata-list"}[t];
	if ((t == TOOL_LIST && argc != 1) || (t == TOOL_PUT && (argc < 2 || argc > 3)) ||
	    ((t == TOOL_GET || t == TOOL_DELETE) && argc != 2) || (key && !*key))
		return usage(t);
	if (t == TOOL_PUT) {
		if (argc == 3) {
			value = strdup(argv[2]);
			value_size = strlen(argv[2]);
			if (!value)
				return EXIT_ERROR;
		} else if (isatty(STDIN_FILENO)) {
			fail("refusing to read the value from a terminal: give it as an argument");
			return EXIT_USAGE;
		} else if ((r = read_stdin(&value, &value_size)) < 0) {
			fail("cannot read the value from stdin: %s", strerror(-r));
			return EXIT_ERROR;
		}
		r = put_payload(key, value, value_size, &payload, &payload_size);
		free(value);
		if (r < 0)
			return EXIT_ERROR;
	} else if (key) {
		payload = strdup(key);
		payload_size = strlen(key);
	}

	r = run((const char *[]){"GET", "PUT", "DELETE", "KEYS"}[t], payload, payload_size, &a);
	free(payload);
	if (r < 0) {
		if (r != -ENOENT && r != -EPROTONOSUPPORT && r != -EACCES && r != -EPERM)
			fail("metadata request failed: %s", strerror(-r));
		return EXIT_ERROR;
	}
	if (strcmp(a.code, "SUCCESS") == 0) {
		ret = EXIT_FOUND;
		if (t == TOOL_GET || (t == TOOL_LIST && a.size > 0)) {
			fwrite(a.value, 1, a.size, stdout);
			if (a.size == 0 || a.value[a.size - 1] != '\n')
				fputc('\n', stdout);
		}
	} else if (strcmp(a.code, "NOTFOUND") == 0 && t == TOOL_GET) {
		fprintf(stderr, "No metadata for '%s'\n", key);
		ret = EXIT_NOTFOUND;
	} else {
		const char *what = t == TOOL_GET      ? "getting"
		                   : t == TOOL_PUT    ? "putting"
		                   : t == TOOL_DELETE ? "deleting"
		                                      : "listing";
		fprintf(stderr, "Error %s metadata%s%s%s: %.*s\n", what, key ? " for key '" : "",
		        key ? key : "", key ? "'" : "", (int)a.size, a.value ? a.value : "");
		ret = EXIT_ERROR;
	}
	free(a.value);
	if (fflush(stdout) != 0)
		return EXIT_ERROR;
	return ret;
}
