/* SPDX-License-Identifier: MIT */
/*
 * Entering a running zone, as zlogin does: a process joins the zone's
 * cgroups (as host root, while it still may), then every namespace of the
 * zone's init through its pidfd, forks so that its child is inside the
 * zone's pid namespace, and that child takes the zone's root or a user of
 * the zone's /etc/passwd with exactly the capabilities and seccomp filter
 * the zone's own processes have. The zone's init is never touched.
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/parse.h"
#include "zone/zone-internal.h"
#include "zone/zone-security.h"

void
hv_passwd_done(struct hv_passwd *p)
{
	free(p->name);
	free(p->home);
	free(p->shell);
	*p = (struct hv_passwd){0};
}

int
hv_passwd_lookup(const char *path, const char *user, struct hv_passwd *ret)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[1024];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *fields[7] = {0}, *p = line;
		uint32_t uid, gid;
		int n = 0;

		line[strcspn(line, "\n")] = 0;
		for (; n < 7; n++) {
			fields[n] = p;
			p = strchr(p, ':');
			if (!p)
				break;
			*p++ = 0;
		}
		if (n != 6 || safe_atou32(fields[2], &uid) < 0 || safe_atou32(fields[3], &gid) < 0)
			continue;
		if (user ? !streq(fields[0], user) : uid != 0)
			continue;
		ret->name = strdup(fields[0]);
		ret->home = strdup(*fields[5] ? fields[5] : "/");
		ret->shell = strdup(*fields[6] ? fields[6] : "/bin/sh");
		ret->uid = uid;
		ret->gid = gid;
		if (!ret->name || !ret->home || !ret->shell) {
			hv_passwd_done(ret);
			return -ENOMEM;
		}
		return 0;
	}
	return -ENOENT;
}

int
hv_zone_enter(const struct hv_zone_config *c, int init_pidfd, struct hv_error **reterr)
{
	struct hv_cgroup *cg = NULL;
	int r;

	r = hv_cgroup_open(c->prefix, c->uuid, &cg, reterr);
	if (r >= 0)
		r = hv_cgroup_attach(cg, getpid(), reterr);
	hv_cgroup_free(cg);
	if (r < 0)
		return r;
	if (setns(init_pidfd, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET |
	                              CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP) < 0)
		return hv_error_set(reterr, -errno, "cannot enter zone '%s': %m", c->uuid);
	return 0;
}

int
hv_zone_become(const char *user, char **ret_home, char **ret_shell, struct hv_error **reterr)
{
	struct hv_passwd pw = {0};
	int r;

	r = hv_passwd_lookup("/etc/passwd", user, &pw);
	if (r == -ENOENT && !user) {
		/* A zone without /etc/passwd (a bare root): root still exists. */
		pw = (struct hv_passwd){strdup("root"), strdup("/"), strdup("/bin/sh"), 0, 0};
		if (!pw.name || !pw.home || !pw.shell) {
			hv_passwd_done(&pw);
			return -ENOMEM;
		}
	} else if (r < 0)
		return hv_error_set(reterr, r == -ENOENT ? -ENOENT : r,
		                    "user '%s' does not exist in the zone", user ? user : "root");
	if (setgroups(0, NULL) < 0 || setresgid(pw.gid, pw.gid, pw.gid) < 0)
		r = hv_error_set(reterr, -errno, "cannot take gid %u: %m", (unsigned)pw.gid);
	else if ((r = hv_zone_drop_capabilities(reterr)) >= 0 &&
	         (r = hv_zone_load_seccomp(reterr)) >= 0 && setresuid(pw.uid, pw.uid, pw.uid) < 0)
		r = hv_error_set(reterr, -errno, "cannot take uid %u: %m", (unsigned)pw.uid);
	if (r >= 0) {
		*ret_home = TAKE_PTR(pw.home);
		*ret_shell = TAKE_PTR(pw.shell);
	}
	hv_passwd_done(&pw);
	return r < 0 ? r : 0;
}
