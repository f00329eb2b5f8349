/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/mountinfo.h"

void
mountinfo_unescape(char *s)
{
	char *w = s;

	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*w++ = (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
			p += 3;
		} else
			*w++ = *p;
	}
	*w = 0;
}

/*
 * "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue":
 * field 5 is the mount point; after the optional fields and "-" come the
 * filesystem type, the source and the super options.
 */
int
mountinfo_parse_line(char *line, struct mountinfo_line *ret)
{
	char *save = NULL, *where = NULL, *f[3] = {NULL, NULL, NULL};
	int i = 0, after = -1;

	for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save), i++) {
		if (i == 4)
			where = t;
		else if (after >= 0 && after < 3)
			f[after++] = t;
		else if (i > 5 && after < 0 && streq(t, "-"))
			after = 0;
	}
	if (!where || !f[0] || !f[2])
		return -EBADMSG;
	mountinfo_unescape(where);
	mountinfo_unescape(f[1]);
	*ret = (struct mountinfo_line){where, f[0], f[1], f[2]};
	return 0;
}
