/* SPDX-License-Identifier: MIT */
/*
 * net.json loading: never crashes, every error names the file, and what
 * loads saves to a file that loads back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/net-link.h"
#include "net/net.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_(hv_net_vm_done) struct hv_net_vm vm = {0}, again = {0};
	char path[] = "/tmp/fuzz-netjson-XXXXXX";
	int fd;

	if (net_vm_load_buf((const char *)data, size, "fuzz", &vm, &e) < 0) {
		if (!e || !strstr(e->msg, "fuzz") || strchr(e->msg, '\n'))
			abort(); /* one line that names its source */
		return 0;
	}
	fd = mkstemp(path);
	if (fd < 0)
		return 0;
	close(fd);
	if (hv_net_vm_save(&vm, path, NULL) < 0 || hv_net_vm_load(path, &again, NULL) < 0 ||
	    again.n_nics != vm.n_nics || again.n_routes != vm.n_routes)
		abort();
	for (size_t i = 0; i < vm.n_nics; i++)
		if (strcmp(again.nics[i].mac, vm.nics[i].mac) != 0)
			abort();
	unlink(path);
	return 0;
}
