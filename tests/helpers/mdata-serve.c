/* SPDX-License-Identifier: MIT */
/*
 * mdata-serve SOCKET UUID: serve VM UUID's metadata (its record below
 * $SABLE_ROOT, as zoneadmd does, through lib/mdata's record store) on a unix
 * socket, without a zone. mdata-serve --echo SOCKET: echo every line back,
 * with the same non-blocking poll loop: the benchmark's yardstick.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mdata/record.h"
#include "mdata/server.h"

static int
listen_on(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0)
		return -errno;
	return fd;
}

static int
echo(int lfd)
{
	struct pollfd p[HV_MDATA_POLLFDS_MAX] = {{.fd = lfd, .events = POLLIN}};
	size_t n = 1;

	for (;;) {
		if (poll(p, n, -1) < 0)
			return 1;
		for (size_t i = 1; i < n; i++) {
			char buf[4096];
			ssize_t k;

			if (!p[i].revents)
				continue;
			k = recv(p[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (k <= 0) {
				close(p[i].fd);
				p[i--] = p[--n];
				continue;
			}
			(void)!send(p[i].fd, buf, (size_t)k, MSG_NOSIGNAL);
		}
		if (p[0].revents && n < HV_MDATA_POLLFDS_MAX) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
		}
	}
}

int
main(int argc, char **argv)
{
	struct hv_mdata_record *rec = NULL;
	struct hv_mdata_server *s = NULL;
	int lfd;

	if (argc != 3) {
		fprintf(stderr, "usage: mdata-serve SOCKET UUID | --echo SOCKET\n");
		return 2;
	}
	lfd = listen_on(strcmp(argv[1], "--echo") == 0 ? argv[2] : argv[1]);
	if (lfd < 0)
		return 1;
	if (strcmp(argv[1], "--echo") == 0)
		return echo(lfd);
	if (hv_mdata_record_new(argv[2], &rec) < 0 ||
	    hv_mdata_server_new(lfd, &hv_mdata_record_store, rec, &s) < 0)
		return 1;
	for (;;) {
		struct pollfd p[HV_MDATA_POLLFDS_MAX];
		size_t n = hv_mdata_server_pollfds(s, p, HV_MDATA_POLLFDS_MAX);
		int k = poll(p, n, hv_mdata_server_timeout(s));

		if (k < 0 && errno != EINTR)
			return 1;
		hv_mdata_server_dispatch(s, p, k > 0 ? n : 0);
	}
}
