/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The metadata server: what a guest's requests mean (mdata-keys.c) and the
 * connections that carry them (mdata-server.c). lib/mdata knows nothing of
 * where a VM is kept: the caller hands it a store, two callbacks over the
 * VM's record (zoneadmd uses record.h's).
 */

#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/error.h"

/* What a guest may store (the same bounds vmadm's validator puts on the maps). */
#define HV_MDATA_MAP_MAX     1024 /* entries of customer_metadata or internal_metadata */
#define HV_MDATA_MAP_KEY_MAX 256  /* bytes of a key */

struct hv_mdata_store {
	/*
	 * The VM as its guest may see it: the stored record plus the node's
	 * facts (server_uuid, datacenter_name). A new reference, read as the
	 * record is now: a change by vmadm update shows at the next request.
	 */
	int (*load)(void *userdata, json_t **ret, struct hv_error **reterr);
	/*
	 * Set key in map ("customer_metadata" or "internal_metadata") to value
	 * (a string of value_size bytes), or remove it (value NULL), in one
	 * atomic change of the record. -EAGAIN: the VM is busy right now (its
	 * lock is held); the server asks again a little later.
	 */
	int (*set)(void *userdata, const char *map, const char *key, const char *value,
	           size_t value_size, struct hv_error **reterr);
};

/*
 * Answer one request line (without its '\n'; V1 or V2 by its first bytes).
 * ret is the whole answer, lines with their '\n', or NULL when the
 * protocol says to answer nothing (a V2 frame with a bad length or CRC).
 * -EAGAIN: the store is busy; ask again with the same line later.
 */
int hv_mdata_handle(const struct hv_mdata_store *store, void *userdata, const char *line, size_t n,
                    char **ret, size_t *ret_size);

/* The answer to a line longer than HV_MDATA_LINE_MAX, of which head is the start. */
int hv_mdata_handle_oversized(const char *head, size_t n, char **ret, size_t *ret_size);

/*
 * Connections. A guest's requests arrive on any number of connections
 * (HV_MDATA_CLIENTS_MAX at once; more wait in the listen backlog), all
 * non-blocking, each with its own buffers: a half frame or a client that
 * does not read blocks no one else. A connection that stalls (half a line
 * or an unread answer for HV_MDATA_STALL_MS) or idles for HV_MDATA_IDLE_MS
 * is closed. The caller polls: pollfds() before poll(2), dispatch() after.
 */
#define HV_MDATA_CLIENTS_MAX 128
#define HV_MDATA_STALL_MS    10000
#define HV_MDATA_IDLE_MS     300000
#define HV_MDATA_BUSY_MS     10000 /* how long a write waits for the VM's lock */
#define HV_MDATA_POLLFDS_MAX (1 + HV_MDATA_CLIENTS_MAX)

struct hv_mdata_server;

/* Serve on listen_fd (a listening stream socket; taken over, non-blocking). */
int hv_mdata_server_new(int listen_fd, const struct hv_mdata_store *store, void *userdata,
                        struct hv_mdata_server **ret);
struct hv_mdata_server *hv_mdata_server_free(struct hv_mdata_server *s);

/* Serve one connected fd (a serial port's socket, a test's socketpair); taken over. */
int hv_mdata_server_add(struct hv_mdata_server *s, int fd);

/* Fill p (room for max, at least HV_MDATA_POLLFDS_MAX) with what to poll; returns how many. */
size_t hv_mdata_server_pollfds(struct hv_mdata_server *s, struct pollfd *p, size_t max);

/* Milliseconds until the next deadline (-1: none), for poll's timeout. */
int hv_mdata_server_timeout(const struct hv_mdata_server *s);

/* Act on what poll(2) said about the n entries pollfds() filled, and on deadlines. */
void hv_mdata_server_dispatch(struct hv_mdata_server *s, const struct pollfd *p, size_t n);

/* Connections open now. */
size_t hv_mdata_server_clients(const struct hv_mdata_server *s);
