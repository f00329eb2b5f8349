/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "basic/error.h"
#include "basic/macro.h"

#define EXIT_USAGE 2

extern const char *arg_pool;
extern bool arg_quiet;

/* Log the error once and give its exit status (3 for "not installed"). */
int fail(int r, const struct hv_error *e);
int usage_error(const char *fmt, ...) _printf_(1, 2);
/* getopt from the start, quietly. */
void opts_reset(void);

int cmd_list(int argc, char *argv[]);
int cmd_avail(int argc, char *argv[]);
int cmd_info(int argc, char *argv[]);
int cmd_ancestry(int argc, char *argv[]);
int cmd_vacuum(int argc, char *argv[]);
int cmd_update(int argc, char *argv[]);
int cmd_create(int argc, char *argv[]);
