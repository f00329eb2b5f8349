/* SPDX-License-Identifier: MIT */
/*
 * Looking at many VMs (core/vm-list.h): the `vmadm list` table against
 * golden text, filters, flattening, dotted keys, `lookup -j -o`
 * projection and the changes `vmadm events` reports. The table and filter
 * cases read headers, widths and listable fields from the property table.
 */
#include <stdlib.h>
#include <time.h>

#include "basic/cleanup.h"
#include "basic/strv.h"
#include "core/vm-list.h"
#include "core/vm-props.h"
#include "json/json.h"
#include "tests.h"

/* Five VMs as `vmadm get` prints them (the members these tests need). */
static const char fixture[] =
        "[\n"
        "{\"uuid\": \"54f1cc77-68f1-42ab-acac-5c4f64f5d6e0\", \"brand\": \"joyent\",\n"
        " \"type\": \"OS\", \"max_physical_memory\": 256, \"state\": \"running\",\n"
        " \"alias\": \"web1\", \"autoboot\": true, \"tags\": {\"role\": \"web\"},\n"
        " \"customer_metadata\": {\"user-script\": \"x\"},\n"
        " \"nics\": [{\"mac\": \"02:00:00:00:00:01\", \"ip\": \"10.0.0.5\",\n"
        "            \"ips\": [\"10.0.0.5/24\"], \"nic_tag\": \"admin\", \"primary\": true}]},\n"
        "{\"uuid\": \"aaaaaaaa-0000-4000-8000-000000000002\", \"brand\": \"lx\", \"type\": "
        "\"LX\",\n"
        " \"max_physical_memory\": 1024, \"ram\": 9999, \"state\": \"stopped\",\n"
        " \"alias\": \"db-primary-long-name\", \"autoboot\": true,\n"
        " \"tags\": {\"role\": \"db\", \"a.b\": \"dotted\"},\n"
        " \"nics\": [{\"mac\": \"02:00:00:00:00:02\", \"ips\": [\"10.0.0.6/24\", "
        "\"10.0.1.6/24\"],\n"
        "            \"nic_tag\": \"admin\"},\n"
        "           {\"mac\": \"02:00:00:00:00:03\", \"ips\": [\"192.168.1.6/24\"],\n"
        "            \"nic_tag\": \"external\", \"vlan_id\": 12}]},\n"
        "{\"uuid\": \"bbbbbbbb-0000-4000-8000-000000000003\", \"brand\": \"kvm\", \"type\": "
        "\"KVM\",\n"
        " \"ram\": 1024, \"max_physical_memory\": 1280, \"state\": \"running\", \"alias\": "
        "\"kvm1\",\n"
        " \"autoboot\": true,\n"
        " \"disks\": [{\"path\": \"/dev/zvol/rdsk/zones/bbbbbbbb-disk0\", \"boot\": true,\n"
        "             \"size\": 10240, \"model\": \"virtio\"}],\n"
        " \"nics\": [{\"mac\": \"02:00:00:00:00:04\", \"ips\": [\"10.0.0.7/24\"],\n"
        "            \"model\": \"virtio\", \"nic_tag\": \"admin\"}]},\n"
        "{\"uuid\": \"cccccccc-0000-4000-8000-000000000004\", \"brand\": \"bhyve\",\n"
        " \"type\": \"BHYVE\", \"ram\": 2048, \"state\": \"provisioning\", \"autoboot\": false,\n"
        " \"cpu_cap\": 0},\n"
        "{\"uuid\": \"00000000-0000-4000-8000-000000000005\", \"brand\": \"lx\", \"type\": "
        "\"LX\",\n"
        " \"max_physical_memory\": 256, \"state\": \"running\", \"alias\": \"web2\",\n"
        " \"autoboot\": true, \"internal_metadata\": {\"k\": 1}}\n"
        "]\n";

static json_t *
load(const char *text)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_t *j = NULL;
	int r = hv_json_load_buf(text, strlen(text), "fixture", &j, &e);

	if (r < 0)
		tests_fail(__FILE__, __LINE__, "fixture: %s", hv_error_message(e, r));
	return j;
}

static void
need_table(void)
{
	if (!hv_vm_prop_find("alias") || !hv_vm_prop_find("alias")->header)
		SKIP("the property table is not there yet");
}

static char *
list(const char *fields, const char *sort, bool parsable, bool no_header)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_vm_list_opts o = {fields, sort, parsable, no_header};
	json_t *vms = load(fixture);
	char *text = NULL;
	int r = hv_vm_list_format(vms, &o, &text, &e);

	json_decref(vms);
	if (r < 0)
		tests_fail(__FILE__, __LINE__, "list -o %s -s %s: %s", fields, sort,
		           hv_error_message(e, r));
	return text;
}

static char *
list_err(const char *fields, const char *sort)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_vm_list_opts o = {.fields = fields, .sort = sort};
	json_t *vms = load(fixture);
	char *text = NULL;
	int r = hv_vm_list_format(vms, &o, &text, &e);

	json_decref(vms);
	if (r != -EINVAL)
		tests_fail(__FILE__, __LINE__, "list -o %s -s %s: %d, expected -EINVAL", fields,
		           sort, r);
	return strdup(e->msg);
}

TEST(default_table)
{
	_cleanup_free_ char *t = NULL;

	need_table();
	t = list(NULL, NULL, false, false);
	ASSERT_STREQ(
	        t, "UUID                                  TYPE  RAM      STATE             ALIAS\n"
	           "00000000-0000-4000-8000-000000000005  LX    256      running           web2\n"
	           "54f1cc77-68f1-42ab-acac-5c4f64f5d6e0  OS    256      running           web1\n"
	           "aaaaaaaa-0000-4000-8000-000000000002  LX    1024     stopped           "
	           "db-primary-long-name\n"
	           "bbbbbbbb-0000-4000-8000-000000000003  KVM   1024     running           kvm1\n"
	           "cccccccc-0000-4000-8000-000000000004  BHYV  2048     provisioning      -\n");
}

TEST(explicit_defaults_are_the_defaults)
{
	_cleanup_free_ char *a = NULL, *b = NULL;

	need_table();
	a = list(NULL, NULL, false, false);
	b = list("uuid,type,ram,state,alias", "ram,uuid", false, false);
	ASSERT_STREQ(a, b);
}

TEST(sort_numeric_descending_ties_by_uuid)
{
	_cleanup_free_ char *t = NULL, *u = NULL;

	need_table();
	/* numerically 2048 > 1024 > 256 (as strings "256" would come last); ties stay by uuid */
	t = list("alias,ram", "-ram", false, true);
	ASSERT_STREQ(t, "-           2048\n"
	                "db-primary-long-name  1024\n"
	                "kvm1        1024\n"
	                "web2        256\n"
	                "web1        256\n");
	u = list("alias,ram", "+ram", false, true);
	ASSERT_STREQ(u, "web2        256\n"
	                "web1        256\n"
	                "db-primary-long-name  1024\n"
	                "kvm1        1024\n"
	                "-           2048\n");
}

TEST(sort_strings_missing_last_or_first)
{
	_cleanup_free_ char *a = NULL, *d = NULL, *m = NULL;

	need_table();
	a = list("alias", "alias", true, false);
	ASSERT_STREQ(a, "db-primary-long-name\nkvm1\nweb1\nweb2\n\n");
	d = list("alias", "-alias", true, false);
	ASSERT_STREQ(d, "\nweb2\nweb1\nkvm1\ndb-primary-long-name\n");
	/* two keys: state, then ram descending */
	m = list("state,ram,alias", "state,-ram", true, false);
	ASSERT_STREQ(m, "provisioning:2048:\n"
	                "running:1024:kvm1\n"
	                "running:256:web2\n"
	                "running:256:web1\n"
	                "stopped:1024:db-primary-long-name\n");
}

TEST(parsable_and_no_header)
{
	_cleanup_free_ char *p = NULL, *h = NULL, *hp = NULL;

	need_table();
	p = list("uuid,type,alias,ram", NULL, true, false);
	ASSERT_STREQ(p, "00000000-0000-4000-8000-000000000005:LX:web2:256\n"
	                "54f1cc77-68f1-42ab-acac-5c4f64f5d6e0:OS:web1:256\n"
	                "aaaaaaaa-0000-4000-8000-000000000002:LX:db-primary-long-name:1024\n"
	                "bbbbbbbb-0000-4000-8000-000000000003:KVM:kvm1:1024\n"
	                "cccccccc-0000-4000-8000-000000000004:BHYV::2048\n");
	h = list("type,state", "-ram", false, true);
	ASSERT_STREQ(h, "BHYV  provisioning\n"
	                "LX    stopped\n"
	                "KVM   running\n"
	                "LX    running\n"
	                "OS    running\n");
	/* -p never prints the header, -H or not */
	hp = list("type", NULL, true, true);
	ASSERT_STREQ(hp, "LX\nOS\nLX\nKVM\nBHYV\n");
}

TEST(sub_fields_missing_values_false_and_zero)
{
	_cleanup_free_ char *t = NULL, *f = NULL;

	need_table();
	t = list("alias,nics.0.ips,tags.role,nics.1.vlan_id", "uuid", false, false);
	ASSERT_STREQ(t, "ALIAS       NICS.0.IPS            TAGS.ROLE             NICS.1.VLAN_ID\n"
	                "web2        -                     -                     -\n"
	                "web1        10.0.0.5/24           web                   -\n"
	                "db-primary-long-name  10.0.0.6/24,10.0.1.6/24  db                    12\n"
	                "kvm1        10.0.0.7/24           -                     -\n"
	                "-           -                     -                     -\n");
	/* false and 0 are values, not "missing" */
	f = list("uuid,autoboot,cpu_cap", "-ram", true, false);
	ASSERT_STREQ(f, "cccccccc-0000-4000-8000-000000000004:false:0\n"
	                "aaaaaaaa-0000-4000-8000-000000000002:true:\n"
	                "bbbbbbbb-0000-4000-8000-000000000003:true:\n"
	                "00000000-0000-4000-8000-000000000005:true:\n"
	                "54f1cc77-68f1-42ab-acac-5c4f64f5d6e0:true:\n");
}

TEST(ram_comes_from_max_physical_memory_for_os_vms)
{
	_cleanup_free_ char *t = NULL;

	need_table();
	/* lx: 1024 from max_physical_memory, not its ram 9999; kvm: its ram, not 1280 */
	t = list("uuid,ram,max_physical_memory", "uuid", true, false);
	ASSERT_STREQ(t, "00000000-0000-4000-8000-000000000005:256:256\n"
	                "54f1cc77-68f1-42ab-acac-5c4f64f5d6e0:256:256\n"
	                "aaaaaaaa-0000-4000-8000-000000000002:1024:1024\n"
	                "bbbbbbbb-0000-4000-8000-000000000003:1024:1280\n"
	                "cccccccc-0000-4000-8000-000000000004:2048:\n");
}

TEST(empty_list_and_utf8_widths)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *t = NULL, *u = NULL, *h = NULL;
	struct hv_vm_list_opts o = {.fields = "alias,state", .sort = "alias"};
	struct hv_vm_list_opts hdr = {.no_header = true};
	json_t *none, *vms;

	need_table();
	none = json_array();
	vms = load("[{\"uuid\": \"u1\", \"alias\": \"caf\xc3\xa9\", \"state\": \"ok\"},"
	           " {\"uuid\": \"u2\", \"alias\": \"\", \"state\": \"ok\"}]");
	ASSERT_OK(hv_vm_list_format(none, NULL, &t, &e));
	ASSERT_STREQ(
	        t,
	        "UUID                                  TYPE  RAM      STATE             ALIAS\n");
	ASSERT_OK(hv_vm_list_format(none, &hdr, &h, &e));
	ASSERT_STREQ(h, "");
	/* width counts characters; an empty string is shown as missing */
	ASSERT_OK(hv_vm_list_format(vms, &o, &u, &e));
	ASSERT_STREQ(u, "ALIAS       STATE\n"
	                "caf\xc3\xa9        ok\n"
	                "-           ok\n");
	json_decref(none);
	json_decref(vms);
}

TEST(bad_fields)
{
	_cleanup_free_ char *w = NULL, *s = NULL, *u = NULL, *x = NULL, *m = NULL, *n = NULL;
	_cleanup_hv_error_ struct hv_error *e = NULL;
	json_t *obj;
	char *text = NULL;

	need_table();
	obj = json_object();
	w = list_err("uuid,nics.*.ip", NULL);
	ASSERT_CONTAINS(w, "invalid output field 'nics.*.ip'");
	ASSERT_CONTAINS(w, "nics.0.ip");
	s = list_err(NULL, "-disks.*.size");
	ASSERT_CONTAINS(s, "invalid sort field 'disks.*.size'");
	u = list_err("uuid,bogus", NULL);
	ASSERT_CONTAINS(u, "invalid output field 'bogus'");
	ASSERT_CONTAINS(u, "listable property");
	ASSERT_CONTAINS(u, "tags.role");
	x = list_err(NULL, "+nope");
	ASSERT_CONTAINS(x, "invalid sort field 'nope'");
	m = list_err("nics.0.bogus", NULL);
	ASSERT_CONTAINS(m, "'nics.0.bogus'");
	n = list_err("uuid,,alias", NULL);
	ASSERT_CONTAINS(n, "invalid output field ''");
	ASSERT_ERR(hv_vm_list_format(obj, NULL, &text, &e), -EINVAL);
	json_decref(obj);
}

/* The aliases (or uuids, without one) of the fixture's VMs that match, joined with ','. */
static char *
matching(const char *const *args)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_strv_free_ char **out = NULL;
	struct hv_vm_filter *f = NULL;
	json_t *vms = load(fixture), *vm;
	size_t i, n = strv_length((char *const *)args);
	int r = hv_vm_filter_parse((char *const *)args, n, &f, &e);

	if (r < 0)
		tests_fail(__FILE__, __LINE__, "filter %s: %s", args[0], hv_error_message(e, r));
	json_array_foreach (vms, i, vm)
		if (hv_vm_filter_match(f, vm)) {
			const char *a = json_string_value(json_object_get(vm, "alias"));

			strv_push(&out, a ? a : json_string_value(json_object_get(vm, "uuid")));
		}
	hv_vm_filter_free(f);
	json_decref(vms);
	return out ? strv_join(out, ",") : strdup("");
}

#define ASSERT_MATCHING(expected, ...)                                                        \
	do {                                                                                  \
		_cleanup_free_ char *_m = matching((const char *const[]){__VA_ARGS__, NULL}); \
		ASSERT_STREQ(_m, expected);                                                   \
	} while (0)

static char *
filter_err(int code, const char *const *args)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_vm_filter *f = NULL;
	int r = hv_vm_filter_parse((char *const *)args, strv_length((char *const *)args), &f, &e);

	hv_vm_filter_free(f);
	if (r != code)
		tests_fail(__FILE__, __LINE__, "filter %s: %d, expected %d", args[0], r, code);
	return strdup(e->msg);
}

#define FILTER_ERR(code, ...) filter_err(code, (const char *const[]){__VA_ARGS__, NULL})

TEST(filter_exact)
{
	need_table();
	ASSERT_MATCHING("web1", "alias=web1");
	ASSERT_MATCHING("web1,kvm1,web2", "state=running");
	ASSERT_MATCHING("cccccccc-0000-4000-8000-000000000004",
	                "uuid=cccccccc-0000-4000-8000-000000000004");
	/* integers by their decimal text; ram as list shows it */
	ASSERT_MATCHING("web1,web2", "ram=256");
	ASSERT_MATCHING("db-primary-long-name,kvm1", "ram=1024");
	ASSERT_MATCHING("", "ram=9999");
	ASSERT_MATCHING("cccccccc-0000-4000-8000-000000000004", "autoboot=false");
	ASSERT_MATCHING("cccccccc-0000-4000-8000-000000000004", "type=BHYVE");
	/* absent never matches, not even an empty value */
	ASSERT_MATCHING("", "alias=");
	ASSERT_MATCHING("", "alias=web");
}

TEST(filter_regex_and_and)
{
	need_table();
	ASSERT_MATCHING("web1,web2", "alias=~^web");
	ASSERT_MATCHING("web1,kvm1,web2", "alias=~^(web|kvm)[0-9]$");
	ASSERT_MATCHING("db-primary-long-name", "alias=~long");
	ASSERT_MATCHING("db-primary-long-name,kvm1", "ram=~^10");
	ASSERT_MATCHING("web1,web2", "state=running", "alias=~web");
	ASSERT_MATCHING("kvm1", "state=running", "ram=1024", "type=KVM");
	ASSERT_MATCHING("", "state=stopped", "alias=~web");
}

TEST(filter_elements_and_maps)
{
	/* none of these keys needs the table */
	ASSERT_MATCHING("web1", "nics.*.ip=10.0.0.5");
	ASSERT_MATCHING("web1", "nics.0.ip=10.0.0.5");
	ASSERT_MATCHING("db-primary-long-name", "nics.*.ips=192.168.1.6/24");
	ASSERT_MATCHING("db-primary-long-name", "nics.*.ips=10.0.1.6/24");
	ASSERT_MATCHING("web1,db-primary-long-name,kvm1", "nics.*.ips=~^10\\.0\\.0\\.");
	ASSERT_MATCHING("db-primary-long-name", "nics.1.nic_tag=external");
	ASSERT_MATCHING("", "nics.0.nic_tag=external");
	ASSERT_MATCHING("db-primary-long-name", "nics.*.vlan_id=12");
	ASSERT_MATCHING("web1", "nics.*.primary=true");
	ASSERT_MATCHING("kvm1", "nics.*.model=virtio");
	ASSERT_MATCHING("kvm1", "disks.*.boot=true");
	ASSERT_MATCHING("kvm1", "disks.0.size=10240");
	ASSERT_MATCHING("db-primary-long-name", "tags.role=db");
	ASSERT_MATCHING("web1,db-primary-long-name", "tags.role=~.");
	ASSERT_MATCHING("db-primary-long-name", "tags.a.b=dotted");
	ASSERT_MATCHING("web1", "customer_metadata.user-script=x");
	ASSERT_MATCHING("web2", "internal_metadata.k=1");
	ASSERT_MATCHING("", "tags.nope=x");
}

TEST(filter_null_and_empty)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	struct hv_vm_filter *f = NULL;
	json_t *vm = load("{\"tags\": {\"x\": null, \"o\": {\"a\": 1}}}");
	char *args[] = {(char *)"tags.x=", (char *)"tags.x=null", (char *)"tags.x=~.*",
	                (char *)"tags.o=~.*"};

	for (size_t i = 0; i < 4; i++) {
		ASSERT_OK(hv_vm_filter_parse(&args[i], 1, &f, &e));
		ASSERT_FALSE(hv_vm_filter_match(f, vm));
		f = hv_vm_filter_free(f);
	}
	/* no filters: everything matches */
	ASSERT_OK(hv_vm_filter_parse(NULL, 0, &f, &e));
	ASSERT_TRUE(hv_vm_filter_match(f, vm));
	ASSERT_TRUE(hv_vm_filter_match(NULL, vm));
	hv_vm_filter_free(f);
	json_decref(vm);
}

TEST(filter_errors)
{
	_cleanup_free_ char *k = NULL, *n = NULL, *x = NULL, *t = NULL, *eq = NULL, *re = NULL;
	_cleanup_free_ char *lng = NULL, *big = malloc(2000);
	char *args[65];

	k = FILTER_ERR(-EINVAL, "bogus=1");
	ASSERT_STREQ(k, "Invalid filter key: \"bogus\"");
	n = FILTER_ERR(-EINVAL, "tags.x=1", "nics.*.bogus=1");
	ASSERT_STREQ(n, "Invalid filter key: \"nics.*.bogus\"");
	x = FILTER_ERR(-EINVAL, "nics.x.ip=1");
	ASSERT_STREQ(x, "Invalid filter key: \"nics.x.ip\"");
	t = FILTER_ERR(-EINVAL, "tags.=1");
	ASSERT_STREQ(t, "Invalid filter key: \"tags.\"");
	eq = FILTER_ERR(-EINVAL, "web1");
	ASSERT_CONTAINS(eq, "'web1'");
	ASSERT_CONTAINS(eq, "key=value");
	re = FILTER_ERR(-EINVAL, "tags.role=~(");
	ASSERT_CONTAINS(re, "regular expression");
	ASSERT_CONTAINS(re, "'tags.role=~('");

	for (size_t i = 0; i < 65; i++)
		args[i] = (char *)"tags.a=b";
	{
		_cleanup_hv_error_ struct hv_error *e = NULL;
		struct hv_vm_filter *f = NULL;

		ASSERT_ERR(hv_vm_filter_parse(args, 65, &f, &e), -E2BIG);
		ASSERT_CONTAINS(e->msg, "at most 64");
		ASSERT_OK(hv_vm_filter_parse(args, 64, &f, NULL));
		hv_vm_filter_free(f);
	}
	ASSERT_TRUE(big != NULL);
	memcpy(big, "tags.a=~", 8);
	memset(big + 8, 'a', 1990);
	big[1998] = 0;
	lng = FILTER_ERR(-EINVAL, big);
	ASSERT_CONTAINS(lng, "longer than");
}

TEST(filter_needs_table_keys)
{
	_cleanup_free_ char *m = NULL;

	need_table();
	/* a property that is not listable is no filter key */
	m = FILTER_ERR(-EINVAL, "customer_metadata=x");
	ASSERT_STREQ(m, "Invalid filter key: \"customer_metadata\"");
}

TEST(scalar_text_and_list_field_key)
{
	const char *vals = "[\"s\", -3, 1.5, 100.0, 0.1, 1e21, true, false, null, [1], {}]";
	const char *want[] = {"s", "-3", "1.5", "100", "0.1", "1e+21", "true", "false"};
	json_t *a = load(vals), *kvm = load("{\"brand\": \"kvm\", \"max_physical_memory\": 1}");
	json_t *lx = load("{\"brand\": \"lx\", \"max_physical_memory\": 1}");
	json_t *bare = load("{\"brand\": \"lx\", \"ram\": 1}");
	char buf[HV_VM_TEXT_MAX];

	for (size_t i = 0; i < json_array_size(a); i++)
		if (i < 8)
			ASSERT_STREQ(hv_vm_scalar_text(json_array_get(a, i), buf), want[i]);
		else
			ASSERT_TRUE(hv_vm_scalar_text(json_array_get(a, i), buf) == NULL);
	ASSERT_STREQ(hv_vm_list_field_key(kvm, "ram"), "ram");
	ASSERT_STREQ(hv_vm_list_field_key(lx, "ram"), "max_physical_memory");
	ASSERT_STREQ(hv_vm_list_field_key(bare, "ram"), "ram");
	ASSERT_STREQ(hv_vm_list_field_key(lx, "alias"), "alias");
	json_decref(a);
	json_decref(kvm);
	json_decref(lx);
	json_decref(bare);
}

static bool
count_value(const json_t *v, void *userdata)
{
	(*(size_t *)userdata)++;
	return false;
}

TEST(key_any_visits_every_element)
{
	json_t *vms = load(fixture), *vm = json_array_get(vms, 1);
	size_t n = 0;

	ASSERT_FALSE(hv_vm_key_any(vm, "nics.*.ips", count_value, &n));
	ASSERT_EQ(n, 2);
	n = 0;
	ASSERT_FALSE(hv_vm_key_any(vm, "nics.*.ips.*", count_value, &n));
	ASSERT_EQ(n, 3);
	n = 0;
	ASSERT_FALSE(hv_vm_key_any(vm, "nics.*.nope", count_value, &n));
	ASSERT_EQ(n, 0);
	json_decref(vms);
}

static char *
compact(const json_t *j)
{
	char *s = hv_json_dumps_compact(j);

	ASSERT_TRUE(s != NULL);
	return s;
}

TEST(flatten)
{
	json_t *vm = load("{\"a\": 1, \"b\": {\"c\": [1, {\"d\": true}], \"e\": {}}, \"f\": [],"
	                  " \"g\": null, \"tags\": {\"x.y\": \"z\"}, \"r\": [\"8.8.8.8\"]}");
	json_t *flat = hv_vm_flatten(vm);
	_cleanup_free_ char *s = compact(flat);

	ASSERT_STREQ(s, "{\"a\":1,\"b.c.0\":1,\"b.c.1.d\":true,\"g\":null,\"r.0\":\"8.8.8.8\","
	                "\"tags.x.y\":\"z\"}");
	/* every flattened key looks up the same value */
	{
		const char *k;
		json_t *v;

		json_object_foreach (flat, k, v)
			ASSERT_TRUE(json_equal(hv_vm_lookup_key(vm, k), v));
	}
	json_decref(flat);
	json_decref(vm);
}

TEST(lookup_key)
{
	json_t *vms = load(fixture), *vm = json_array_get(vms, 1);

	ASSERT_STREQ(json_string_value(hv_vm_lookup_key(vm, "nics.1.mac")), "02:00:00:00:00:03");
	ASSERT_STREQ(json_string_value(hv_vm_lookup_key(vm, "nics.0.ips.1")), "10.0.1.6/24");
	ASSERT_STREQ(json_string_value(hv_vm_lookup_key(vm, "tags.a.b")), "dotted");
	ASSERT_STREQ(json_string_value(hv_vm_lookup_key(vm, "alias")), "db-primary-long-name");
	ASSERT_TRUE(json_is_object(hv_vm_lookup_key(vm, "nics.0")));
	ASSERT_TRUE(hv_vm_lookup_key(vm, "nics.2.mac") == NULL);
	ASSERT_TRUE(hv_vm_lookup_key(vm, "nics.*.mac") == NULL);
	ASSERT_TRUE(hv_vm_lookup_key(vm, "nics.01.mac") == NULL);
	ASSERT_TRUE(hv_vm_lookup_key(vm, "nics.-1.mac") == NULL);
	ASSERT_TRUE(hv_vm_lookup_key(vm, "alias.x") == NULL);
	ASSERT_TRUE(hv_vm_lookup_key(vm, "") == NULL);
	ASSERT_TRUE(hv_vm_lookup_key(vm, "nics.") == NULL);
	ASSERT_TRUE(hv_vm_lookup_key(NULL, "alias") == NULL);
	json_decref(vms);
}

static char *
project(const char *fields)
{
	json_t *vms = load(fixture);
	json_t *p = hv_vm_project(json_array_get(vms, 1), fields);
	char *s = compact(p);

	json_decref(p);
	json_decref(vms);
	return s;
}

TEST(project)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

	a = project("uuid,nics.1.mac,nics.0.ips,tags.role,nope");
	ASSERT_STREQ(a, "{\"nics\":[{\"ips\":[\"10.0.0.6/24\",\"10.0.1.6/24\"]},"
	                "{\"mac\":\"02:00:00:00:00:03\"}],\"tags\":{\"role\":\"db\"},"
	                "\"uuid\":\"aaaaaaaa-0000-4000-8000-000000000002\"}");
	/* only the elements asked for, in the VM's order */
	b = project("nics.1.nic_tag");
	ASSERT_STREQ(b, "{\"nics\":[{\"nic_tag\":\"external\"}]}");
	c = project("nics.*.mac,alias");
	ASSERT_STREQ(
	        c, "{\"alias\":\"db-primary-long-name\",\"nics\":[{\"mac\":\"02:00:00:00:00:02\"},"
	           "{\"mac\":\"02:00:00:00:00:03\"}]}");
	d = project("tags.a.b,nics.0.ips.1,nope.x");
	ASSERT_STREQ(d, "{\"nics\":[{\"ips\":[\"10.0.1.6/24\"]}],\"tags\":{\"a.b\":\"dotted\"}}");
	e = project("");
	ASSERT_STREQ(e, "{}");
}

static char *
diff(const char *old, const char *new)
{
	json_t *a = old ? load(old) : NULL, *b = load(new);
	json_t *d = hv_vm_diff(a, b);
	char *s = compact(d);

	json_decref(a);
	json_decref(b);
	json_decref(d);
	return s;
}

#define NIC(m, ip) "{\"mac\": \"" m "\", \"ips\": [\"" ip "\"]}"
#define NIC_A      NIC("02:00:00:00:00:0a", "10.0.0.10/24")
#define NIC_B      NIC("02:00:00:00:00:0b", "10.0.0.11/24")
#define NIC_C      NIC("02:00:00:00:00:0c", "10.0.0.12/24")
#define NIC_C2     NIC("02:00:00:00:00:0c", "10.0.0.99/24")

TEST(diff_identical_and_scalar)
{
	_cleanup_free_ char *same = NULL, *alias = NULL, *lm = NULL;
	const char *vm = "{\"alias\": \"web1\", \"nics\": [" NIC_A "], \"tags\": {\"a\": 1}}";

	same = diff(vm, vm);
	ASSERT_STREQ(same, "[]");
	alias = diff("{\"alias\": \"web1\", \"ram\": 256}", "{\"alias\": \"web3\", \"ram\": 256}");
	ASSERT_STREQ(alias, "[{\"action\":\"changed\",\"newValue\":\"web3\",\"oldValue\":\"web1\","
	                    "\"path\":[\"alias\"],\"prettyPath\":\"alias\"}]");
	/* kept: SmartOS reports it too */
	lm = diff("{\"last_modified\": \"2024-01-01T00:00:00.000Z\"}",
	          "{\"last_modified\": \"2024-01-01T00:00:01.000Z\"}");
	ASSERT_CONTAINS(lm, "\"prettyPath\":\"last_modified\"");
}

TEST(diff_nic_added_in_the_middle_and_removed)
{
	_cleanup_free_ char *add = NULL, *rm = NULL, *ips = NULL;

	add = diff("{\"nics\": [" NIC_A ", " NIC_C "]}",
	           "{\"nics\": [" NIC_A ", " NIC_B ", " NIC_C "]}");
	ASSERT_STREQ(add, "[{\"action\":\"added\",\"newValue\":{\"ips\":[\"10.0.0.11/24\"],"
	                  "\"mac\":\"02:00:00:00:00:0b\"},\"path\":[\"nics\",1],"
	                  "\"prettyPath\":\"nics.*\"}]");
	rm = diff("{\"nics\": [" NIC_A ", " NIC_B ", " NIC_C "]}",
	          "{\"nics\": [" NIC_A ", " NIC_C "]}");
	ASSERT_STREQ(rm, "[{\"action\":\"removed\",\"oldValue\":{\"ips\":[\"10.0.0.11/24\"],"
	                 "\"mac\":\"02:00:00:00:00:0b\"},\"path\":[\"nics\",1],"
	                 "\"prettyPath\":\"nics.*\"}]");
	/* the moved NIC's ips changed: one change, at its new index */
	ips = diff("{\"nics\": [" NIC_A ", " NIC_C "]}",
	           "{\"nics\": [" NIC_A ", " NIC_B ", " NIC_C2 "]}");
	ASSERT_STREQ(ips, "[{\"action\":\"changed\",\"newValue\":[\"10.0.0.99/24\"],"
	                  "\"oldValue\":[\"10.0.0.12/24\"],\"path\":[\"nics\",2,\"ips\"],"
	                  "\"prettyPath\":\"nics.*.ips\"},"
	                  "{\"action\":\"added\",\"newValue\":{\"ips\":[\"10.0.0.11/24\"],"
	                  "\"mac\":\"02:00:00:00:00:0b\"},\"path\":[\"nics\",1],"
	                  "\"prettyPath\":\"nics.*\"}]");
}

TEST(diff_members_and_arrays)
{
	_cleanup_free_ char *tags = NULL, *disk = NULL, *snap = NULL, *type = NULL, *none = NULL;

	tags = diff("{\"tags\": {\"role\": \"web\", \"old\": 1}}",
	            "{\"tags\": {\"role\": \"web\", \"a.b\": true}}");
	ASSERT_STREQ(tags, "[{\"action\":\"added\",\"newValue\":true,\"path\":[\"tags\",\"a.b\"],"
	                   "\"prettyPath\":\"tags[a.b]\"},"
	                   "{\"action\":\"removed\",\"oldValue\":1,\"path\":[\"tags\",\"old\"],"
	                   "\"prettyPath\":\"tags.old\"}]");
	/* disks pair by path: a size change at a new position is one change */
	disk = diff(
	        "{\"disks\": [{\"path\": \"/d0\", \"size\": 1}, {\"path\": \"/d1\", \"size\": 2}]}",
	        "{\"disks\": [{\"path\": \"/d1\", \"size\": 3}, {\"path\": \"/d0\", \"size\": "
	        "1}]}");
	ASSERT_STREQ(disk, "[{\"action\":\"changed\",\"newValue\":3,\"oldValue\":2,"
	                   "\"path\":[\"disks\",0,\"size\"],\"prettyPath\":\"disks.*.size\"}]");
	/* an array of objects without a key member: elements pair by equality */
	snap = diff("{\"snapshots\": [{\"name\": \"a\"}]}",
	            "{\"snapshots\": [{\"name\": \"b\"}, {\"name\": \"a\"}]}");
	ASSERT_STREQ(snap, "[{\"action\":\"added\",\"newValue\":{\"name\":\"b\"},"
	                   "\"path\":[\"snapshots\",0],\"prettyPath\":\"snapshots.*\"}]");
	type = diff("{\"x\": \"s\"}", "{\"x\": {\"a\": 1}}");
	ASSERT_STREQ(type, "[{\"action\":\"changed\",\"newValue\":{\"a\":1},\"oldValue\":\"s\","
	                   "\"path\":[\"x\"],\"prettyPath\":\"x\"}]");
	none = diff(NULL, "{\"a\": 1}");
	ASSERT_STREQ(none, "[{\"action\":\"added\",\"newValue\":1,\"path\":[\"a\"],"
	                   "\"prettyPath\":\"a\"}]");
}

/* 500 VMs: filter, list and project well under the 100 ms budget (a loose bound under ASan). */
TEST(five_hundred_vms)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_free_ char *text = NULL;
	struct hv_vm_filter *f = NULL;
	char *args[] = {(char *)"nics.*.nic_tag=admin", (char *)"alias=~^vm"};
	json_t *all, *base, *vms;
	struct timespec a, b;
	size_t hits = 0;

	need_table();
	all = load(fixture);
	base = json_array_get(all, 1);
	vms = json_array();
	for (int i = 0; i < 500; i++) {
		json_t *vm = json_deep_copy(base);
		char uuid[37], alias[16];

		snprintf(uuid, sizeof uuid, "%08x-0000-4000-8000-%012x", (unsigned)(i * 7919 % 500),
		         (unsigned)i);
		snprintf(alias, sizeof alias, "vm%d", i);
		json_object_set_new(vm, "uuid", json_string(uuid));
		json_object_set_new(vm, "alias", json_string(alias));
		json_object_set_new(vm, "max_physical_memory", json_integer(128 * (i % 7 + 1)));
		json_array_append_new(vms, vm);
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	ASSERT_OK(hv_vm_filter_parse(args, 2, &f, &e));
	for (size_t i = 0; i < json_array_size(vms); i++) {
		hits += hv_vm_filter_match(f, json_array_get(vms, i));
		json_decref(hv_vm_project(json_array_get(vms, i), "uuid,alias,nics.*.mac"));
	}
	ASSERT_OK(hv_vm_list_format(vms, NULL, &text, &e));
	clock_gettime(CLOCK_MONOTONIC, &b);
	ASSERT_EQ(hits, 500);
	ASSERT_TRUE((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 500);
	hv_vm_filter_free(f);
	json_decref(vms);
	json_decref(all);
}
