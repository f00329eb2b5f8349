/* SPDX-License-Identifier: MIT */
/*
 * netport: the data path's entry points on links a test made (test only).
 *
 *   netport switch-attach PREFIX TAG BRIDGE_IFINDEX UPLINK_IFINDEX|0
 *   netport switch-detach PREFIX TAG UPLINK_IFINDEX|0
 *   netport attach|update PREFIX TAG PORT_IFINDEX peer|tap NIC_JSON
 *   netport detach PREFIX TAG PORT_IFINDEX MAC
 *   netport reconcile PREFIX
 *
 * NIC_JSON is one nics[] entry as vmadm takes it (mac, ips, allowed_ips,
 * allow_*, dhcp_server, max_bandwidth). Errors: one line on stderr, exit 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "basic/cleanup.h"
#include "basic/error.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "json/json.h"
#include "net/net-internal.h"
#include "net/net.h"

static int
strv_member(const json_t *o, const char *key, char ***ret)
{
	const json_t *a = json_object_get(o, key), *v;
	size_t i;

	json_array_foreach (a, i, v) {
		int r = strv_push(ret, json_string_value(v) ? json_string_value(v) : "");
		if (r < 0)
			return r;
	}
	return 0;
}

static int
nic_load(const char *path, struct hv_net_nic *n, struct hv_error **reterr)
{
	json_t *j = NULL;
	int r;

	r = hv_json_load_file(path, 1 << 20, &j, reterr);
	if (r < 0)
		return r;
	n->mac = strdup(json_string_value(json_object_get(j, "mac")) ?: "");
	n->tag = strdup(json_string_value(json_object_get(j, "nic_tag")) ?: "");
	r = strv_member(j, "ips", &n->ips);
	if (r >= 0)
		r = strv_member(j, "allowed_ips", &n->allowed_ips);
	n->allow_ip_spoofing = json_is_true(json_object_get(j, "allow_ip_spoofing"));
	n->allow_mac_spoofing = json_is_true(json_object_get(j, "allow_mac_spoofing"));
	n->allow_dhcp_spoofing = json_is_true(json_object_get(j, "allow_dhcp_spoofing")) ||
	                         json_is_true(json_object_get(j, "dhcp_server"));
	n->allow_restricted_traffic = json_is_true(json_object_get(j, "allow_restricted_traffic"));
	n->max_bandwidth = (unsigned)json_integer_value(json_object_get(j, "max_bandwidth"));
	json_decref(j);
	if (r < 0 || !n->mac || !n->tag)
		return hv_error_set(reterr, -ENOMEM, "%s: out of memory", path);
	return 0;
}

static void
nic_free(struct hv_net_nic *n)
{
	free(n->mac);
	free(n->tag);
	strv_free(n->ips);
	strv_free(n->allowed_ips);
}

static int
run(int argc, char **argv, struct hv_error **reterr)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (streq(cmd, "switch-attach") && argc == 6)
		return net_switch_attach(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), reterr);
	if (streq(cmd, "switch-detach") && argc == 5)
		return net_switch_detach(argv[2], argv[3], atoi(argv[4]), reterr);
	if ((streq(cmd, "attach") || streq(cmd, "update")) && argc == 7) {
		struct hv_net_nic nic = {0};
		bool peer = streq(argv[5], "peer");
		int r;

		r = nic_load(argv[6], &nic, reterr);
		if (r >= 0)
			r = (streq(cmd, "attach") ? net_port_attach : net_port_update)(
			        argv[2], argv[3], atoi(argv[4]), peer, &nic, reterr);
		nic_free(&nic);
		return r;
	}
	if (streq(cmd, "detach") && argc == 6)
		return net_port_detach(argv[2], argv[3], atoi(argv[4]), argv[5], reterr);
	if (streq(cmd, "reconcile") && argc == 3)
		return net_datapath_reconcile(argv[2], reterr);
	return hv_error_set(reterr, -EINVAL,
	                    "usage: netport switch-attach|switch-detach|attach|"
	                    "update|detach|reconcile …");
}

int
main(int argc, char **argv)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	int r = run(argc, argv, &e);

	if (r < 0) {
		fprintf(stderr, "netport: %s\n", hv_error_message(e, r));
		return 1;
	}
	return 0;
}
