/* SPDX-License-Identifier: MIT */
/*
 * The QMP client (qmp.h). QEMU writes one JSON object per line: the
 * greeting first, then answers ({"return"} or {"error"}, carrying our
 * "id") and events ({"event"}) in any order. We read into one buffer,
 * split at newlines, and hand out whole objects; a line longer than
 * HV_QMP_LINE_MAX is a broken peer. Every id is a fresh number, so a late
 * answer to a command that timed out is never taken for another's.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/macro.h"
#include "basic/path.h"
#include "basic/time-util.h"
#include "json/json.h"
#include "vm/qmp.h"

struct hv_qmp {
	int fd;
	char *buf;
	size_t len, cap;
	uint64_t next_id;
	json_t *events; /* array, oldest first */
	json_t *version;
};

struct hv_qmp *
hv_qmp_free(struct hv_qmp *q)
{
	if (!q)
		return NULL;
	safe_close(q->fd);
	free(q->buf);
	json_decref(q->events);
	json_decref(q->version);
	free(q);
	return NULL;
}

int
hv_qmp_fd(const struct hv_qmp *q)
{
	return q ? q->fd : -EBADF;
}

const json_t *
hv_qmp_version(const struct hv_qmp *q)
{
	return q ? q->version : NULL;
}

/* Connect a stream socket to path; a path too long for sun_path goes through its directory. */
static int
connect_unix(const char *path, int *ret)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF, dir = -EBADF;
	_cleanup_free_ char *d = NULL, *base = NULL;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (strlen(path) < sizeof(sa.sun_path))
		strcpy(sa.sun_path, path);
	else {
		if (path_dirname(path, &d) < 0 || !(base = strdup(strrchr(path, '/') + 1)))
			return -ENOMEM;
		dir = open(d, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dir < 0)
			return -errno;
		snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dir, base);
		if (strlen(sa.sun_path) + 1 >= sizeof(sa.sun_path))
			return -ENAMETOOLONG;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	*ret = TAKE_FD(fd);
	return 0;
}

/* Read what is readable now into the buffer: >0 bytes read, 0 nothing, -EPIPE at EOF. */
static int
fill(struct hv_qmp *q)
{
	ssize_t n;

	if (q->cap - q->len < 4096) {
		size_t cap = q->cap ? q->cap * 2 : 16384;
		char *b;

		if (cap > HV_QMP_LINE_MAX + 4096)
			cap = HV_QMP_LINE_MAX + 4096;
		if (cap - q->len < 1)
			return -EMSGSIZE;
		if (!(b = realloc(q->buf, cap)))
			return -ENOMEM;
		q->buf = b;
		q->cap = cap;
	}
	n = read(q->fd, q->buf + q->len, q->cap - q->len);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	q->len += (size_t)n;
	return (int)n;
}

/* The next whole message in the buffer: 1 with *ret, 0 when none is complete. */
static int
next_message(struct hv_qmp *q, json_t **ret)
{
	char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
	json_t *o;
	size_t n;

	if (!nl)
		return q->len >= HV_QMP_LINE_MAX ? -EMSGSIZE : 0;
	n = (size_t)(nl - q->buf);
	o = json_loadb(q->buf, n, JSON_DISABLE_EOF_CHECK, NULL);
	memmove(q->buf, nl + 1, q->len - n - 1);
	q->len -= n + 1;
	if (!json_is_object(o)) {
		json_decref(o);
		return -EBADMSG;
	}
	*ret = o;
	return 1;
}

static int
wait_readable(int fd, uint64_t deadline)
{
	uint64_t now = now_usec(CLOCK_MONOTONIC);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;

	if (now >= deadline)
		return -ETIMEDOUT;
	r = poll(&p, 1, (int)((deadline - now + 999) / 1000));
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

static void
queue_event(struct hv_qmp *q, json_t *ev)
{
	if (json_array_size(q->events) >= HV_QMP_EVENTS_MAX)
		(void)json_array_remove(q->events, 0);
	(void)json_array_append_new(q->events, ev);
}

/* Wait for a message that is not an event (the greeting, an answer); events are queued. */
static int
read_reply(struct hv_qmp *q, uint64_t deadline, uint64_t id, json_t **ret)
{
	for (;;) {
		json_t *o = NULL;
		int r = next_message(q, &o);

		if (r < 0)
			return r;
		if (r > 0) {
			json_t *jid = json_object_get(o, "id");
			if (json_object_get(o, "event")) {
				queue_event(q, o);
				continue;
			}
			if (id &&
			    (!json_is_integer(jid) || (uint64_t)json_integer_value(jid) != id)) {
				json_decref(o); /* a late answer to an abandoned command */
				continue;
			}
			*ret = o;
			return 0;
		}
		if ((r = wait_readable(q->fd, deadline)) < 0)
			return r;
		if ((r = fill(q)) < 0)
			return r;
	}
}

static int
send_all(int fd, const char *s, size_t n, int pass_fd, uint64_t deadline)
{
	bool first = true;

	while (n > 0) {
		struct iovec iov = {.iov_base = (void *)s, .iov_len = n};
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t k;

		if (first && pass_fd >= 0) {
			struct cmsghdr *c;

			memset(&u, 0, sizeof(u));
			mh.msg_control = u.buf;
			mh.msg_controllen = sizeof(u.buf);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
		}
		k = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (k < 0 && errno == EAGAIN) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			uint64_t now = now_usec(CLOCK_MONOTONIC);
			if (now >= deadline)
				return -ETIMEDOUT;
			(void)poll(&p, 1, (int)((deadline - now + 999) / 1000));
			continue;
		}
		if (k < 0)
			return errno == EINTR ? 0 : -errno;
		first = false;
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

static int
execute(struct hv_qmp *q, const char *cmd, json_t *args, int pass_fd, int64_t timeout_ms,
        json_t **ret, struct hv_error **reterr)
{
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) +
	                    (uint64_t)(timeout_ms < 0 ? HV_QMP_TIMEOUT_MS : timeout_ms) * 1000;
	json_auto_t *msg = json_object(), *answer = NULL;
	_cleanup_free_ char *text = NULL, *line = NULL;
	uint64_t id = ++q->next_id;
	json_t *err;
	int r;

	if (!msg || hv_json_set(msg, "execute", json_string(cmd)) < 0 ||
	    hv_json_set(msg, "id", json_integer((json_int_t)id)) < 0) {
		json_decref(args);
		return -ENOMEM;
	}
	if (args && hv_json_set(msg, "arguments", args) < 0)
		return -ENOMEM;
	if (!(text = json_dumps(msg, JSON_COMPACT)) || asprintf(&line, "%s\n", text) < 0)
		return -ENOMEM;
	r = send_all(q->fd, line, strlen(line), pass_fd, deadline);
	if (r >= 0)
		r = read_reply(q, deadline, id, &answer);
	if (r < 0)
		return hv_error_set(reterr, r, "QMP %s: %s", cmd,
		                    r == -EPIPE || r == -ECONNRESET ? "QEMU went away"
		                    : r == -ETIMEDOUT               ? "no answer in time"
		                                                    : "%m");
	if ((err = json_object_get(answer, "error")))
		return hv_error_set(reterr, -EIO, "QMP %s: %s", cmd,
		                    strempty(json_string_value(json_object_get(err, "desc"))));
	if (ret)
		*ret = json_incref(json_object_get(answer, "return"));
	return 0;
}

int
hv_qmp_execute(struct hv_qmp *q, const char *cmd, json_t *args, int64_t timeout_ms, json_t **ret,
               struct hv_error **reterr)
{
	return execute(q, cmd, args, -1, timeout_ms, ret, reterr);
}

int
hv_qmp_execute_fd(struct hv_qmp *q, const char *cmd, json_t *args, int fd, int64_t timeout_ms,
                  json_t **ret, struct hv_error **reterr)
{
	return execute(q, cmd, args, fd, timeout_ms, ret, reterr);
}

int
hv_qmp_read_event(struct hv_qmp *q, json_t **ret)
{
	int r;

	for (;;) {
		json_t *o = NULL;

		if (json_array_size(q->events) > 0) {
			*ret = json_incref(json_array_get(q->events, 0));
			(void)json_array_remove(q->events, 0);
			return 1;
		}
		r = next_message(q, &o);
		if (r < 0)
			return r;
		if (r > 0) {
			if (json_object_get(o, "event"))
				queue_event(q, o);
			else
				json_decref(o); /* a late answer */
			continue;
		}
		r = fill(q);
		if (r <= 0)
			return r;
	}
}

int
hv_qmp_open_fd(int fd, int64_t timeout_ms, struct hv_qmp **ret, struct hv_error **reterr)
{
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) +
	                    (uint64_t)(timeout_ms < 0 ? HV_QMP_TIMEOUT_MS : timeout_ms) * 1000;
	_cleanup_(hv_qmp_freep) struct hv_qmp *q = calloc(1, sizeof(*q));
	json_auto_t *greeting = NULL;
	int r;

	if (!q || !(q->events = json_array())) {
		safe_close(fd);
		return -ENOMEM;
	}
	q->fd = fd;
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		return hv_error_set(reterr, -errno, "QMP: %m");
	r = read_reply(q, deadline, 0, &greeting);
	if (r < 0)
		return hv_error_set(reterr, r, "no greeting: %m");
	if (!json_object_get(greeting, "QMP"))
		return hv_error_set(reterr, -EPROTO, "not a QMP greeting");
	q->version = json_object_get(json_object_get(greeting, "QMP"), "version");
	q->version = json_is_object(q->version) ? json_incref(q->version) : NULL;
	r = hv_qmp_execute(q, "qmp_capabilities", NULL, timeout_ms, NULL, reterr);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(q);
	return 0;
}

int
hv_qmp_connect(const char *path, int64_t timeout_ms, struct hv_qmp **ret, struct hv_error **reterr)
{
	int fd = -EBADF, r;

	r = connect_unix(path, &fd);
	if (r < 0)
		return hv_error_set(reterr, r, "QMP socket '%s': %m", path);
	r = hv_qmp_open_fd(fd, timeout_ms, ret, reterr);
	return r < 0 ? hv_error_prefix(reterr, r, "QMP socket '%s'", path) : 0;
}
