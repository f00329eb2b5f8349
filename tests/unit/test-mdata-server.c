/* SPDX-License-Identifier: MIT */
/*
 * The server's connections: many clients at once, none able to hold up
 * another (half a frame and silence, an overlong line, a busy VM), answers
 * in order, and a client that half-closes still gets its answer.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "json/json.h"
#include "mdata/proto.h"
#include "mdata/server.h"
#include "tests.h"

static json_t *vm;
static int busy;

static int
load(void *userdata, json_t **ret, struct hv_error **reterr)
{
	*ret = json_incref(vm);
	return 0;
}

static int
set(void *userdata, const char *map, const char *key, const char *value, size_t size,
    struct hv_error **reterr)
{
	if (busy > 0) {
		busy--;
		return -EAGAIN;
	}
	json_object_set_new(json_object_get(vm, map), key, json_stringn(value, size));
	return 0;
}

static const struct hv_mdata_store store = {load, set};

static struct hv_mdata_server *
server(void)
{
	struct hv_mdata_server *s = NULL;

	json_decref(vm);
	vm = json_pack("{s:s, s:{s:s}}", "uuid", "4f0d9a6e-3c1b-4c8e-9a57-2d6f1b0e7c11",
	               "customer_metadata", "a", "b");
	ASSERT_OK(hv_mdata_server_new(-1, &store, NULL, &s));
	return s;
}

static int
client(struct hv_mdata_server *s)
{
	int sv[2];

	ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
	ASSERT_OK(hv_mdata_server_add(s, sv[0]));
	return sv[1];
}

/* Run the server for ms milliseconds (or until it has nothing to wait for). */
static void
pump(struct hv_mdata_server *s, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p[HV_MDATA_POLLFDS_MAX];
		size_t n = hv_mdata_server_pollfds(s, p, HV_MDATA_POLLFDS_MAX);
		int timeout = hv_mdata_server_timeout(s), k, left;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = ms -
		       (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return;
		k = poll(p, n, timeout < 0 || timeout > left ? left : timeout);
		hv_mdata_server_dispatch(s, p, k > 0 ? n : 0);
	}
}

static void
send_str(int fd, const char *s)
{
	ASSERT_EQ(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* What has arrived on fd (non-blocking). */
static char *
received(int fd)
{
	static char buf[65536];
	ssize_t k = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	buf[k > 0 ? k : 0] = 0;
	return buf;
}

static char *
frame(const char *id, const char *cmd, const char *payload)
{
	char *f = NULL;

	ASSERT_OK(hv_mdata_frame_format(id, cmd, payload, payload ? strlen(payload) : 0, &f, NULL));
	return f;
}

TEST(half_a_frame_blocks_no_one)
{
	struct hv_mdata_server *s = server();
	int a = client(s), b = client(s);
	_cleanup_free_ char *get = frame("00000001", "GET", "a");

	send_str(a, "V2 25 c0eeb3c6 0a1b2c3d GET c2R"); /* and then nothing */
	pump(s, 50);
	send_str(b, get);
	pump(s, 50);
	ASSERT_CONTAINS(received(b), " 00000001 SUCCESS Yg==\n");
	ASSERT_STREQ(received(a), "");
	ASSERT_EQ(hv_mdata_server_clients(s), 2);
	/* the rest of the frame comes, and it is answered */
	send_str(a, "jOnV1aWQ=\n");
	pump(s, 50);
	ASSERT_CONTAINS(received(a), " 0a1b2c3d SUCCESS ");
	close(a);
	close(b);
	hv_mdata_server_free(s);
}

TEST(pipelined_requests_are_answered_in_order)
{
	struct hv_mdata_server *s = server();
	int a = client(s);
	_cleanup_free_ char *g1 = frame("00000001", "GET", "a"),
	                    *g2 = frame("00000002", "KEYS", NULL), *both = NULL;
	char *got;

	ASSERT_TRUE(asprintf(&both, "NEGOTIATE V2\n%sGET a\n%s", g1, g2) > 0);
	send_str(a, both);
	pump(s, 50);
	got = received(a);
	ASSERT_TRUE(strncmp(got, "V2_OK\n", 6) == 0);
	ASSERT_TRUE(strstr(got, " 00000001 SUCCESS") < strstr(got, "SUCCESS\nb\n.\n"));
	ASSERT_TRUE(strstr(got, "SUCCESS\nb\n.\n") < strstr(got, " 00000002 SUCCESS"));
	close(a);
	hv_mdata_server_free(s);
}

TEST(an_overlong_line_is_answered_failure_and_dropped)
{
	struct hv_mdata_server *s = server();
	int a = client(s), b = client(s);
	_cleanup_free_ char *big = malloc(HV_MDATA_LINE_MAX + 100),
	                    *get = frame("00000003", "GET", "a");
	size_t sent = 0, n = HV_MDATA_LINE_MAX + 99;

	memcpy(big, "V2 999999 00000000 5a5a5a5a PUT ", 32);
	memset(big + 32, 'x', n - 33);
	big[n - 1] = '\n';
	while (sent < n) {
		ssize_t k = send(a, big + sent, n - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k > 0)
			sent += (size_t)k;
		pump(s, 5);
	}
	pump(s, 50);
	ASSERT_CONTAINS(received(a), " 5a5a5a5a FAILURE ");
	/* the connection goes on, and so do the others */
	send_str(a, get);
	send_str(b, "GET a\n");
	pump(s, 50);
	ASSERT_CONTAINS(received(a), " 00000003 SUCCESS Yg==\n");
	ASSERT_STREQ(received(b), "SUCCESS\nb\n.\n");
	close(a);
	close(b);
	hv_mdata_server_free(s);
}

TEST(a_busy_vm_delays_the_write_not_the_others)
{
	struct hv_mdata_server *s = server();
	int a = client(s), b = client(s);
	_cleanup_free_ char *put = NULL, *get = frame("00000005", "GET", "a");
	char payload[] = "aw== dg=="; /* k v */

	busy = 3;
	put = frame("00000004", "PUT", payload);
	send_str(a, put);
	pump(s, 5);
	send_str(b, get);
	pump(s, 5);
	ASSERT_CONTAINS(received(b), " 00000005 SUCCESS");
	pump(s, 150);
	ASSERT_EQ(busy, 0);
	ASSERT_CONTAINS(received(a), " 00000004 SUCCESS T0s=\n");
	ASSERT_STREQ(
	        json_string_value(json_object_get(json_object_get(vm, "customer_metadata"), "k")),
	        "v");
	close(a);
	close(b);
	hv_mdata_server_free(s);
}

TEST(a_client_that_half_closes_gets_its_answer)
{
	struct hv_mdata_server *s = server();
	int a = client(s);

	send_str(a, "GET a\n");
	shutdown(a, SHUT_WR);
	pump(s, 50);
	ASSERT_STREQ(received(a), "SUCCESS\nb\n.\n");
	ASSERT_EQ(hv_mdata_server_clients(s), 0);
	close(a);
	hv_mdata_server_free(s);
}

TEST(many_clients_at_once)
{
	struct hv_mdata_server *s = server();
	int fds[64];

	for (size_t i = 0; i < 64; i++) {
		fds[i] = client(s);
		send_str(fds[i], "V2 25 c0eeb3c6 0a1b2c3d GET c2RjOnV1aWQ=\n");
	}
	pump(s, 100);
	ASSERT_EQ(hv_mdata_server_clients(s), 64);
	for (size_t i = 0; i < 64; i++) {
		ASSERT_CONTAINS(received(fds[i]), " 0a1b2c3d SUCCESS ");
		close(fds[i]);
	}
	pump(s, 20);
	ASSERT_EQ(hv_mdata_server_clients(s), 0);
	hv_mdata_server_free(s);
	json_decref(vm);
	vm = NULL;
}
