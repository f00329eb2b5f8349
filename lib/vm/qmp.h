/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A small QMP client (QEMU's JSON machine protocol) over a unix socket:
 * the greeting, qmp_capabilities, commands matched to their answers by
 * id, and the asynchronous events in between, kept in arrival order. The
 * socket is non-blocking: a supervisor polls hv_qmp_fd() and calls
 * hv_qmp_read_event() when it is readable; commands wait (up to their
 * timeout) for their own answer and queue the events they pass.
 */

#include <jansson.h>
#include <stdint.h>

#include "basic/error.h"

#define HV_QMP_LINE_MAX   (4u * 1024 * 1024) /* one message from QEMU */
#define HV_QMP_EVENTS_MAX 256                /* queued events; older ones are dropped */
#define HV_QMP_TIMEOUT_MS 10000

struct hv_qmp;

/*
 * Connect to the monitor socket at path (any length: a long path is
 * reached through its directory), read the greeting and enter command
 * mode. -ECONNREFUSED/-ENOENT while QEMU is not listening yet.
 */
int hv_qmp_connect(const char *path, int64_t timeout_ms, struct hv_qmp **ret,
                   struct hv_error **reterr);
/*
 * The same on a connected stream fd (taken over, closed on failure too):
 * the greeting and qmp_capabilities. The fuzz target feeds it replies.
 */
int hv_qmp_open_fd(int fd, int64_t timeout_ms, struct hv_qmp **ret, struct hv_error **reterr);
struct hv_qmp *hv_qmp_free(struct hv_qmp *q);
static inline void
hv_qmp_freep(struct hv_qmp **q)
{
	*q = hv_qmp_free(*q);
}

int hv_qmp_fd(const struct hv_qmp *q);

/* QEMU's version as the greeting gave it ({"qemu": {...}, "package": ...}); borrowed. */
const json_t *hv_qmp_version(const struct hv_qmp *q);

/*
 * Run cmd with args (taken over; NULL for none) and wait for its answer:
 * *ret (nullable) is the "return" member. A QMP error becomes -EIO with
 * QEMU's description; -EPIPE when QEMU went away, -ETIMEDOUT.
 */
int hv_qmp_execute(struct hv_qmp *q, const char *cmd, json_t *args, int64_t timeout_ms,
                   json_t **ret, struct hv_error **reterr);

/* The same, passing fd along (SCM_RIGHTS), as getfd and add-fd want it. */
int hv_qmp_execute_fd(struct hv_qmp *q, const char *cmd, json_t *args, int fd, int64_t timeout_ms,
                      json_t **ret, struct hv_error **reterr);

/*
 * Read what is there without blocking and take the oldest event: 1 with
 * *ret (the whole event object: {"event", "data", "timestamp"}), 0 when
 * there is none now, -EPIPE when QEMU closed the connection.
 */
int hv_qmp_read_event(struct hv_qmp *q, json_t **ret);
