/* SPDX-License-Identifier: MIT */
/*
 * QMP replies: the input is everything QEMU says on its monitor (the
 * greeting, answers, events, in any order and any shape), fed through a
 * socket to the client as zoneadmd and vmadm use it: the handshake, two
 * commands (their answers carry ids 1, 2 and 3), then every event left.
 * Checks: nothing but an object is handed out, each event has its name,
 * and the client ends (EOF) without blocking.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "fuzz.h"
#include "vm/qmp.h"

#define INPUT_MAX (64 * 1024) /* below a unix socket's buffer: written at once */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(hv_qmp_freep) struct hv_qmp *q = NULL;
	_cleanup_close_ int peer = -EBADF;
	int sv[2], r;
	json_t *ev = NULL;

	if (size > INPUT_MAX || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	peer = sv[1];
	if (write(peer, data, size) != (ssize_t)size || shutdown(peer, SHUT_WR) < 0) {
		close(sv[0]);
		return 0;
	}
	if (hv_qmp_open_fd(sv[0], 1000, &q, NULL) < 0)
		return 0;
	if (hv_qmp_version(q) && !json_is_object(hv_qmp_version(q)))
		abort();
	for (int i = 0; i < 2; i++) {
		json_t *ret = NULL;
		r = hv_qmp_execute(q, i ? "query-vnc" : "query-status", NULL, 1000, &ret, NULL);
		if (r < 0 && r != -EIO && r != -EPIPE && r != -EBADMSG && r != -EMSGSIZE)
			abort();
		json_decref(ret);
	}
	while ((r = hv_qmp_read_event(q, &ev)) > 0) {
		if (!json_is_object(ev) || !json_object_get(ev, "event"))
			abort();
		json_decref(ev);
	}
	return 0;
}
