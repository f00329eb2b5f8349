/* SPDX-License-Identifier: MIT */
/*
 * netplug: lib/net's VM entry points for the integration tests (test only).
 *
 *   netplug plug NET_JSON NETNS_PATH       hv_net_vm_plug
 *   netplug nic-plug NET_JSON N NETNS_PATH hv_net_nic_plug of nics[N]
 *   netplug nic-update OLD_JSON NEW_JSON N NETNS_PATH
 *   netplug nic-unplug OWNER MAC           hv_net_nic_unplug
 *   netplug tap NET_JSON                   hv_net_tap_plug of every NIC; prints the names
 *   netplug unplug OWNER                   hv_net_vm_unplug
 *   netplug reconcile [OWNER...]           hv_net_reconcile
 *   netplug load NET_JSON OUT              hv_net_vm_load, then hv_net_vm_save to OUT
 *   netplug vlan                           hv_net_vlan_supported
 *
 * Errors: one line on stderr, exit 1; usage: exit 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/error.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "net/net.h"

static int
open_netns(const char *path, int *ret, struct hv_error **reterr)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return hv_error_set(reterr, -errno, "cannot open '%s': %m", path);
	*ret = fd;
	return 0;
}

static int
nth(const struct hv_net_vm *vm, const char *arg, const struct hv_net_nic **ret,
    struct hv_error **reterr)
{
	unsigned long n = strtoul(arg, NULL, 10);

	if (n >= vm->n_nics)
		return hv_error_set(reterr, -EINVAL, "no nics.%s", arg);
	*ret = &vm->nics[n];
	return 0;
}

static int
run(int argc, char *argv[], struct hv_error **reterr)
{
	_cleanup_(hv_net_vm_done) struct hv_net_vm vm = {0}, vm2 = {0};
	_cleanup_close_ int ns = -EBADF;
	const struct hv_net_nic *nic, *old;
	const char *cmd = argc > 1 ? argv[1] : "";
	int r;

	if (streq(cmd, "plug") && argc == 4) {
		if ((r = hv_net_vm_load(argv[2], &vm, reterr)) < 0 ||
		    (r = open_netns(argv[3], &ns, reterr)) < 0)
			return r;
		return hv_net_vm_plug(&vm, ns, reterr);
	}
	if (streq(cmd, "nic-plug") && argc == 5) {
		if ((r = hv_net_vm_load(argv[2], &vm, reterr)) < 0 ||
		    (r = nth(&vm, argv[3], &nic, reterr)) < 0 ||
		    (r = open_netns(argv[4], &ns, reterr)) < 0)
			return r;
		return hv_net_nic_plug(vm.owner, nic, ns, reterr);
	}
	if (streq(cmd, "nic-update") && argc == 6) {
		if ((r = hv_net_vm_load(argv[2], &vm, reterr)) < 0 ||
		    (r = hv_net_vm_load(argv[3], &vm2, reterr)) < 0 ||
		    (r = nth(&vm, argv[4], &old, reterr)) < 0 ||
		    (r = nth(&vm2, argv[4], &nic, reterr)) < 0 ||
		    (r = open_netns(argv[5], &ns, reterr)) < 0)
			return r;
		return hv_net_nic_update(vm.owner, old, nic, ns, reterr);
	}
	if (streq(cmd, "nic-unplug") && argc == 4)
		return hv_net_nic_unplug(argv[2], argv[3], reterr);
	if (streq(cmd, "tap") && argc == 3) {
		if ((r = hv_net_vm_load(argv[2], &vm, reterr)) < 0)
			return r;
		for (size_t i = 0; i < vm.n_nics; i++) {
			_cleanup_free_ char *name = NULL;

			r = hv_net_tap_plug(vm.owner, &vm.nics[i], &name, reterr);
			if (r < 0)
				return r;
			printf("%s\n", name);
		}
		return 0;
	}
	if (streq(cmd, "unplug") && argc == 3)
		return hv_net_vm_unplug(argv[2], reterr);
	if (streq(cmd, "reconcile"))
		return hv_net_reconcile(argv + 2, reterr);
	if (streq(cmd, "load") && argc == 4) {
		if ((r = hv_net_vm_load(argv[2], &vm, reterr)) < 0)
			return r;
		return hv_net_vm_save(&vm, argv[3], reterr);
	}
	if (streq(cmd, "vlan") && argc == 2)
		return hv_net_vlan_supported(reterr);
	fprintf(stderr, "usage: netplug plug|nic-plug|nic-update|nic-unplug|tap|unplug|"
	                "reconcile|load|vlan ARGS (see netplug.c)\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r = run(argc, argv, &e);

	if (r < 0) {
		fprintf(stderr, "netplug: %s\n", hv_error_message(e, r));
		return 1;
	}
	return 0;
}
