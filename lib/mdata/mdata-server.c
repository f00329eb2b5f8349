/* SPDX-License-Identifier: MIT */
/*
 * The metadata server's connections: theory of operation.
 *
 * One server serves one guest (its zoneadmd runs it), on a listening
 * socket and on any connected fds it is given. Every fd is non-blocking
 * and every connection has its own input and output buffers, so nothing a
 * client does (half a frame and silence, a flood, never reading its
 * answers) can block another: the server only ever does what poll(2) said
 * will not block.
 *
 * A connection reads until it has a whole line, answers it, and reads no
 * more while an answer is unsent: at most one answer per connection is
 * ever buffered, and clients that pipeline wait on their own socket. Lines
 * longer than HV_MDATA_LINE_MAX are not kept: their bytes are dropped as
 * they arrive and the request is answered FAILURE. A write that finds the
 * VM's lock held waits (without blocking anyone) and is tried again every
 * RETRY_MS for HV_MDATA_BUSY_MS, then fails. Deadlines close connections
 * that stall or idle (server.h); buffers are freed when empty, so an idle
 * server holds next to nothing.
 *
 * Buffers are bounded: HV_MDATA_CLIENTS_MAX connections, each with at most
 * one line (HV_MDATA_LINE_MAX plus one read) and one answer (an answer is
 * at most the record's size, which the store bounds, times 4/3).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/macro.h"
#include "mdata/proto.h"
#include "mdata/server.h"

#define READ_CHUNK (64u * 1024u)
#define HEAD_MAX   128 /* what is kept of an overlong line: enough for its request id */
#define RETRY_MS   20

struct client {
	int fd;
	char *in; /* bytes not yet answered */
	size_t in_len, in_cap;
	bool discarding; /* inside an overlong line: drop up to its '\n' */
	bool eof;        /* the client has sent all it will */
	char head[HEAD_MAX];
	size_t head_len;
	char *out; /* the answer being sent */
	size_t out_len, out_off;
	uint64_t last_io;    /* ms */
	uint64_t busy_since; /* ms; 0: the line at the front is not waiting for the VM */
	uint64_t retry_at;   /* ms */
};

struct hv_mdata_server {
	int listen_fd;
	const struct hv_mdata_store *store;
	void *userdata;
	struct client *clients[HV_MDATA_CLIENTS_MAX];
	size_t n_clients;
	int polled[HV_MDATA_POLLFDS_MAX]; /* what each pollfd was: a client's slot, or -1 */
	size_t n_polled;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
client_close(struct hv_mdata_server *s, size_t i)
{
	struct client *c = s->clients[i];

	if (!c)
		return;
	safe_close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
	s->clients[i] = NULL;
	s->n_clients--;
}

int
hv_mdata_server_add(struct hv_mdata_server *s, int fd)
{
	struct client *c;

	for (size_t i = 0; i < HV_MDATA_CLIENTS_MAX; i++) {
		if (s->clients[i])
			continue;
		c = calloc(1, sizeof(*c));
		if (!c) {
			safe_close(fd);
			return -ENOMEM;
		}
		c->fd = fd;
		c->last_io = now_ms();
		s->clients[i] = c;
		s->n_clients++;
		return 0;
	}
	safe_close(fd);
	return -EMFILE;
}

int
hv_mdata_server_new(int listen_fd, const struct hv_mdata_store *store, void *userdata,
                    struct hv_mdata_server **ret)
{
	struct hv_mdata_server *s = calloc(1, sizeof(*s));

	if (!s) {
		safe_close(listen_fd);
		return -ENOMEM;
	}
	s->listen_fd = listen_fd;
	s->store = store;
	s->userdata = userdata;
	*ret = s;
	return 0;
}

struct hv_mdata_server *
hv_mdata_server_free(struct hv_mdata_server *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < HV_MDATA_CLIENTS_MAX; i++)
		client_close(s, i);
	safe_close(s->listen_fd);
	free(s);
	return NULL;
}

size_t
hv_mdata_server_clients(const struct hv_mdata_server *s)
{
	return s ? s->n_clients : 0;
}

/* A store that turns "busy" into a failure: for a write that has waited long enough. */
struct give_up {
	const struct hv_mdata_store *inner;
	void *userdata;
};

static int
give_up_load(void *userdata, json_t **ret, struct hv_error **reterr)
{
	struct give_up *g = userdata;
	return g->inner->load(g->userdata, ret, reterr);
}

static int
give_up_set(void *userdata, const char *map, const char *key, const char *value, size_t size,
            struct hv_error **reterr)
{
	struct give_up *g = userdata;
	int r = g->inner->set(g->userdata, map, key, value, size, reterr);

	if (r == -EAGAIN)
		return hv_error_set(reterr, -EBUSY, "the VM is busy: another operation holds it");
	return r;
}

static const struct hv_mdata_store give_up_store = {give_up_load, give_up_set};

static void
consume(struct client *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
	if (c->in_len == 0) {
		c->in = (free(c->in), NULL); /* an idle connection holds no buffer */
		c->in_cap = 0;
	}
}

/* Send what is buffered; false when the connection is dead. */
static bool
flush(struct client *c, uint64_t now)
{
	while (c->out && c->out_off < c->out_len) {
		ssize_t k = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno == EAGAIN;
		c->out_off += (size_t)k;
		c->last_io = now;
	}
	c->out = (free(c->out), NULL);
	c->out_len = c->out_off = 0;
	return true;
}

/* Answer the lines that are complete, one at a time; false when the connection is dead. */
static bool
process(struct hv_mdata_server *s, struct client *c, uint64_t now)
{
	while (!c->out && c->in_len > 0) {
		char *nl = memchr(c->in, '\n', c->in_len);
		size_t len = nl ? (size_t)(nl - c->in) : c->in_len;
		char *ans = NULL;
		size_t ans_len = 0;
		int r;

		if (c->discarding || len > HV_MDATA_LINE_MAX) {
			if (!c->discarding) {
				c->head_len = MIN(len, (size_t)HEAD_MAX);
				memcpy(c->head, c->in, c->head_len);
				c->discarding = true;
			}
			if (!nl) {
				consume(c, c->in_len);
				break;
			}
			consume(c, len + 1);
			c->discarding = false;
			r = hv_mdata_handle_oversized(c->head, c->head_len, &ans, &ans_len);
		} else if (!nl)
			break; /* half a line: wait for the rest (or the deadline) */
		else if (c->retry_at > now)
			break;
		else {
			struct give_up g = {s->store, s->userdata};
			bool final = c->busy_since && now - c->busy_since >= HV_MDATA_BUSY_MS;

			r = final ? hv_mdata_handle(&give_up_store, &g, c->in, len, &ans, &ans_len)
			          : hv_mdata_handle(s->store, s->userdata, c->in, len, &ans,
			                            &ans_len);
			if (r == -EAGAIN) {
				if (!c->busy_since)
					c->busy_since = now;
				c->retry_at = now + RETRY_MS;
				break;
			}
			c->busy_since = c->retry_at = 0;
			consume(c, len + 1);
		}
		if (r < 0)
			return false;
		c->out = ans;
		c->out_len = ans_len;
		c->out_off = 0;
		if (!flush(c, now))
			return false;
	}
	/* A client that said all it will is done once everything is answered. */
	return !(c->eof && !c->out && (c->in_len == 0 || !memchr(c->in, '\n', c->in_len)));
}

static bool
client_read(struct client *c, uint64_t now)
{
	for (;;) {
		ssize_t k;

		if (c->in_cap - c->in_len < READ_CHUNK) {
			size_t cap = c->in_len + READ_CHUNK;
			char *p = realloc(c->in, cap);
			if (!p)
				return false;
			c->in = p;
			c->in_cap = cap;
		}
		k = recv(c->fd, c->in + c->in_len, READ_CHUNK, MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno == EAGAIN;
		if (k == 0) {
			c->eof = true;
			return true;
		}
		c->in_len += (size_t)k;
		c->last_io = now;
		/* One read at a time: what is read is answered (or dropped) before more comes. */
		return true;
	}
}

static uint64_t
deadline(const struct client *c)
{
	if (c->busy_since && !c->out)
		return c->retry_at;
	if (c->out || c->in_len > 0 || c->discarding)
		return c->last_io + HV_MDATA_STALL_MS;
	return c->last_io + HV_MDATA_IDLE_MS;
}

size_t
hv_mdata_server_pollfds(struct hv_mdata_server *s, struct pollfd *p, size_t max)
{
	size_t n = 0;

	if (!s)
		return 0;
	s->n_polled = 0;
	if (s->listen_fd >= 0 && s->n_clients < HV_MDATA_CLIENTS_MAX && n < max) {
		p[n] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
		s->polled[n++] = -1;
	}
	for (size_t i = 0; i < HV_MDATA_CLIENTS_MAX && n < max; i++) {
		struct client *c = s->clients[i];
		short ev;

		if (!c)
			continue;
		/* Nothing more is read while an answer waits, or a write waits for the VM. */
		ev = c->out ? POLLOUT : c->busy_since || c->eof ? 0 : POLLIN;
		/* (a hung-up peer would wake poll at once for ever: such waits are timed) */
		p[n] = (struct pollfd){.fd = ev ? c->fd : -1, .events = ev};
		s->polled[n++] = (int)i;
	}
	s->n_polled = n;
	return n;
}

int
hv_mdata_server_timeout(const struct hv_mdata_server *s)
{
	uint64_t now = now_ms(), first = UINT64_MAX;

	if (!s)
		return -1;
	for (size_t i = 0; i < HV_MDATA_CLIENTS_MAX; i++)
		if (s->clients[i])
			first = MIN(first, deadline(s->clients[i]));
	if (first == UINT64_MAX)
		return -1;
	return first <= now ? 0 : (int)MIN(first - now, (uint64_t)INT32_MAX);
}

static void
accept_all(struct hv_mdata_server *s)
{
	while (s->n_clients < HV_MDATA_CLIENTS_MAX) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0)
			return;
		(void)hv_mdata_server_add(s, fd);
	}
}

void
hv_mdata_server_dispatch(struct hv_mdata_server *s, const struct pollfd *p, size_t n)
{
	uint64_t now = now_ms();

	if (!s)
		return;
	for (size_t k = 0; k < n && k < s->n_polled; k++) {
		struct client *c;
		bool alive = true;

		if (!p[k].revents)
			continue;
		if (s->polled[k] < 0) {
			accept_all(s);
			continue;
		}
		c = s->clients[s->polled[k]];
		if (!c)
			continue;
		if (p[k].revents & POLLOUT)
			alive = flush(c, now);
		if (alive && (p[k].revents & (POLLIN | POLLHUP | POLLERR)) && !c->out)
			alive = client_read(c, now);
		if (alive && (p[k].revents & POLLERR))
			alive = false;
		if (alive)
			alive = process(s, c, now);
		if (!alive)
			client_close(s, (size_t)s->polled[k]);
	}
	/* Deadlines: writes that may retry now, and connections that stalled or idled. */
	for (size_t i = 0; i < HV_MDATA_CLIENTS_MAX; i++) {
		struct client *c = s->clients[i];

		if (!c || deadline(c) > now)
			continue;
		if (c->busy_since && !c->out) {
			if (!process(s, c, now))
				client_close(s, i);
		} else
			client_close(s, i);
	}
	s->n_polled = 0;
}
