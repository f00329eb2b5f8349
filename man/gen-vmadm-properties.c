/* SPDX-License-Identifier: MIT */
/* Writes vmadm-properties(7) from the property table (lib/core/core-props-man.c). */
#include <stdio.h>

#include "core/vm-props.h"

int
main(void)
{
	return hv_vm_props_man(stdout) < 0 ? 1 : 0;
}
