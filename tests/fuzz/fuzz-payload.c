/* SPDX-License-Identifier: MIT */
/*
 * VM payloads: validation as a create and as an update of an lx and a kvm
 * VM, then, when valid, create defaults and the update itself. A valid
 * create payload must take its defaults; a failure must leave a report
 * with a message, and a failed update must leave the VM as it was.
 */
#include <stdlib.h>
#include <string.h>

#include "core/vm-props.h"
#include "fuzz.h"
#include "json/json.h"

static const char lx_vm[] =
        "{\"brand\":\"lx\",\"uuid\":\"54f1cc77-68f1-42ab-acac-5c4f64f5d6e0\","
        "\"max_physical_memory\":1024,\"max_locked_memory\":512,\"max_swap\":2048,\"tmpfs\":512,"
        "\"tags\":{\"role\":\"web\"},\"nics\":[{\"mac\":\"b2:1e:ba:a5:6e:71\",\"interface\":"
        "\"eth0\",\"ips\":[\"10.0.0.5/24\"],\"primary\":true},{\"mac\":\"b2:1e:ba:a5:6e:72\","
        "\"interface\":\"eth1\",\"ips\":[\"dhcp\"]}],\"filesystems\":[{\"type\":\"lofs\","
        "\"source\":\"/a\",\"target\":\"/b\"}]}";
static const char kvm_vm[] =
        "{\"brand\":\"kvm\",\"ram\":1024,\"max_physical_memory\":2048,\"nics\":[{\"mac\":"
        "\"b2:1e:ba:a5:6e:71\",\"model\":\"virtio\"}],\"disks\":[{\"path\":\"/dev/zvol/rdsk/"
        "zones/x-disk0\",\"model\":\"virtio\",\"size\":10}]}";

static void
check_failure(int r, const struct hv_vm_report *rep, const struct hv_error *e)
{
	if (r != -EINVAL)
		return; /* -ENOMEM */
	if (!e || !rep->messages || strcmp(e->msg, rep->messages[0]) != 0)
		abort();
}

static void
try_create(const json_t *payload)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_vm_report rep = {0};
	json_t *vm, *j;
	int r;

	r = hv_vm_validate(HV_VM_ACTION_CREATE, NULL, payload, &rep, &e);
	j = hv_vm_report_to_json(&rep);
	json_decref(j);
	if (r < 0) {
		check_failure(r, &rep, e);
		hv_vm_report_done(&rep);
		return;
	}
	hv_vm_report_done(&rep);
	vm = json_deep_copy(payload);
	if (!vm)
		return;
	r = hv_vm_apply_create_defaults(vm, UINT64_C(1325313522457), &e);
	if (r < 0 && r != -ENOMEM)
		abort(); /* validation let through what defaults cannot take */
	json_decref(vm);
}

static void
try_update(const json_t *payload, const char *base, const char *brand)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_vm_report rep = {0};
	json_t *vm = NULL, *copy;
	int r;

	r = hv_vm_validate(HV_VM_ACTION_UPDATE, brand, payload, &rep, &e);
	if (r < 0) {
		check_failure(r, &rep, e);
		hv_vm_report_done(&rep);
		return;
	}
	hv_vm_report_done(&rep);
	if (hv_json_load_buf(base, strlen(base), "base", &vm, NULL) < 0)
		abort();
	copy = json_deep_copy(vm);
	r = hv_vm_apply_update(vm, payload, &e);
	if (r < 0 && copy && !json_equal(vm, copy))
		abort(); /* a failed update changed the VM */
	json_decref(copy);
	json_decref(vm);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_t *payload = NULL;

	if (size > 1024 * 1024)
		return 0; /* callers refuse larger payloads */
	if (hv_json_load_buf((const char *)data, size, "fuzz", &payload, &e) < 0)
		return 0;
	try_create(payload);
	try_update(payload, lx_vm, "lx");
	try_update(payload, kvm_vm, "kvm");
	json_decref(payload);
	return 0;
}
