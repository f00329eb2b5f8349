/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>

#include "basic/cli.h"
#include "basic/error.h"

/* Log the error (once) and give the exit status for it. */
int fail(int r, const struct hv_error *e);
/* The payload from -f FILE or stdin (never a terminal); 0 or an exit status. */
int read_payload(const char *file, json_t **ret);
/* A program installed beside vmadm (or, in a build tree, in ../<name>/). */
int find_sibling(const char *name, char **ret);

int cmd_list(int argc, char *argv[]);
int cmd_lookup(int argc, char *argv[]);
int cmd_events(int argc, char *argv[]);
