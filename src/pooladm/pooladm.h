/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "basic/cli.h"
#include "basic/macro.h"
#include "storage/pool.h"

/* Table output shared by list, get and status (pooladm-output.c). */
struct table;
struct table *table_new(char *const *headers, bool header, bool tabs);
int table_add(struct table *t, char *const *cells); /* cells copied; NULL cell prints "-" */
int table_print(struct table *t);
struct table *table_free(struct table *t);

int cmd_list(int argc, char *argv[]);
int cmd_get(int argc, char *argv[]);
int cmd_status(int argc, char *argv[]);

/* Log a failed call's error (one line) and give the exit code for it. */
int fail(int r, struct hv_error *e);
int bad_option(const char *cmd, char *argv[]);
