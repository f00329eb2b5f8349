/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "basic/cli.h"
#include "basic/error.h"
#include "basic/macro.h"

extern const char *arg_pool;
extern bool arg_quiet;

/* Log the error once and give its exit status (3 for "not installed"). */
int fail(int r, const struct hv_error *e);

int cmd_list(int argc, char *argv[]);
int cmd_avail(int argc, char *argv[]);
int cmd_info(int argc, char *argv[]);
int cmd_ancestry(int argc, char *argv[]);
int cmd_vacuum(int argc, char *argv[]);
int cmd_update(int argc, char *argv[]);
int cmd_create(int argc, char *argv[]);
