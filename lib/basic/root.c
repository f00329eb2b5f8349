/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/macro.h"
#include "basic/path.h"
#include "basic/root.h"

int
hv_root(char **ret)
{
	const char *e = getenv("SABLE_ROOT");
	char *r;

	if (isempty(e))
		e = "/";
	if (e[0] != '/' || !path_is_safe(e))
		return -EINVAL;
	r = strdup(e);
	if (!r)
		return -ENOMEM;
	*ret = path_simplify(r);
	return 0;
}

int
hv_root_path(const char *rel, char **ret)
{
	_cleanup_free_ char *root = NULL;
	int r;

	r = hv_root(&root);
	if (r < 0)
		return r;
	return path_join_beneath(root, rel, ret);
}

int
hv_root_log_path(const char *program, char **ret)
{
	_cleanup_free_ char *rel = NULL;

	if (asprintf(&rel, HV_LOG_DIR "/%s.log", program) < 0)
		return -ENOMEM;
	return hv_root_path(rel, ret);
}
