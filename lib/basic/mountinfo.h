/* SPDX-License-Identifier: MIT */
#pragma once

/* /proc/self/mountinfo, one line at a time. */

/* The fields of one mountinfo line we use: pointers into the (modified) line. */
struct mountinfo_line {
	char *mount_point; /* unescaped ("\040" → ' ') */
	char *fstype;
	char *source;
	char *super_options;
};

/* Split one line in place. -EBADMSG when it is not a mountinfo line. */
int mountinfo_parse_line(char *line, struct mountinfo_line *ret);

/* Undo mountinfo's octal escapes (\040 for space, \011, \012, \134) in place. */
void mountinfo_unescape(char *s);
