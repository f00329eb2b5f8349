/* SPDX-License-Identifier: MIT */
/*
 * Dataset names, as ZFS spells them: "pool/a/b" for filesystems and
 * volumes, "pool/a/b@snap" for snapshots. Every name that reaches the pool
 * goes through hv_dataset_name_check() first, so the rest of lib/storage
 * can build paths from names without fear of "..", empty components or
 * stray '@'.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "storage/storage-name.h"

static bool
component_char(char c, bool snapshot)
{
	return isalnum((unsigned char)c) || strchr("_-.:", c) || (snapshot && c == '%');
}

/* 0, or a static description of what is wrong with one component. */
static const char *
component_problem(const char *c, size_t n, bool snapshot)
{
	if (n == 0)
		return "it has an empty component";
	if (c[0] == '.' || c[0] == '-')
		return "a component starts with '.' or '-'";
	for (size_t i = 0; i < n; i++)
		if (!component_char(c[i], snapshot))
			return snapshot
			               ? "it has a character other than letters, digits and '_-.:%'"
			               : "it has a character other than letters, digits and '_-.:'";
	return NULL;
}

int
hv_dataset_name_check(const char *name, bool allow_snapshot, struct hv_error **reterr)
{
	const char *at, *problem = NULL, *p;
	size_t len, dlen;

	if (!name || !*name)
		return hv_error_set(reterr, -EINVAL, "dataset name is empty");
	len = strlen(name);
	if (len > HV_DATASET_NAME_MAX)
		return hv_error_set(reterr, -ENAMETOOLONG,
		                    "dataset name '%.40s…' is %zu bytes long, expected at most %d",
		                    name, len, HV_DATASET_NAME_MAX);
	at = strchr(name, '@');
	if (at && !allow_snapshot)
		return hv_error_set(reterr, -EINVAL,
		                    "'%s' is a snapshot name, expected a filesystem or volume",
		                    name);
	dlen = at ? (size_t)(at - name) : len;

	/* The dataset part: components separated by single '/'. */
	for (p = name; !problem;) {
		size_t n = strcspn(p, "/@");
		if ((size_t)(p - name) + n > dlen)
			n = dlen - (size_t)(p - name);
		problem = component_problem(p, n, false);
		p += n;
		if ((size_t)(p - name) >= dlen)
			break;
		p++; /* the '/' */
	}
	if (!problem && at) {
		size_t sn = strlen(at + 1);
		if (memchr(name, '/', dlen) == NULL)
			problem = "the pool's root dataset has no snapshots";
		else if (strchr(at + 1, '@'))
			problem = "it has more than one '@'";
		else if (strchr(at + 1, '/'))
			problem = "it has a '/' after the '@'";
		else if (sn > HV_SNAPSHOT_NAME_MAX)
			problem = "the snapshot name is over 64 characters";
		else
			problem = component_problem(at + 1, sn, true);
	}
	if (problem)
		return hv_error_set(reterr, -EINVAL,
		                    "invalid dataset name '%s': %s; expected "
		                    "pool/name[/child...][@snapshot]",
		                    name, problem);
	return 0;
}

int
hv_name_split_snapshot(const char *name, char **ret_dataset, char **ret_snapshot)
{
	const char *at = strchr(name, '@');
	_cleanup_free_ char *ds = NULL, *snap = NULL;

	if (!at)
		return -EINVAL;
	ds = strndup(name, (size_t)(at - name));
	snap = strdup(at + 1);
	if (!ds || !snap)
		return -ENOMEM;
	*ret_dataset = TAKE_PTR(ds);
	*ret_snapshot = TAKE_PTR(snap);
	return 0;
}

int
hv_name_pool(const char *name, char **ret)
{
	size_t n = strcspn(name, "/@");
	char *s = strndup(name, n);

	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int
hv_name_parent(const char *name, char **ret)
{
	const char *slash = strrchr(name, '/');
	char *s;

	if (!slash || strchr(name, '@'))
		return -ENOENT;
	s = strndup(name, (size_t)(slash - name));
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

bool
hv_name_is_descendant(const char *name, const char *ancestor)
{
	size_t n = strlen(ancestor);

	return strncmp(name, ancestor, n) == 0 && name[n] == '/';
}

bool
hv_pool_name_is_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > HV_POOL_NAME_MAX || !islower((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    name[i] != '_')
			return false;
	return true;
}
