/* SPDX-License-Identifier: MIT */
/* hvm.json and hvm-once.json into QEMU's command line: this boot's cdroms and disks. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/strv.h"
#include "vm/machine.h"
#include "tests.h"

#define UUID "3f2c0000-0000-4000-8000-0000000000e1"

static const char hvm[] = "{\"uuid\": \"" UUID "\", \"ram\": 128, \"vcpus\": 1,"
                          " \"disks\": [{\"path\": \"/dev/null\", \"model\": \"virtio\","
                          " \"boot\": true}], \"nics\": []}";

/* A zonepath with hvm.json and the given hvm-once.json (NULL: none). */
static char *
zonepath_with(const char *name, const char *once)
{
	char *zp = NULL, *cfg = NULL, *p = NULL;

	if (asprintf(&zp, "%s/%s", tests_tmpdir(), name) < 0 ||
	    asprintf(&cfg, "%s/config", zp) < 0 || mkdir_p(cfg, 0755) < 0)
		tests_fail(__FILE__, __LINE__, "cannot make %s", name);
	if (asprintf(&p, "%s/hvm.json", cfg) < 0 ||
	    write_file_atomic(p, hvm, strlen(hvm), 0644) < 0)
		tests_fail(__FILE__, __LINE__, "cannot write %s", p);
	free(p);
	p = NULL;
	if (once && (asprintf(&p, "%s/hvm-once.json", cfg) < 0 ||
	             write_file_atomic(p, once, strlen(once), 0600) < 0))
		tests_fail(__FILE__, __LINE__, "cannot write hvm-once.json");
	free(p);
	free(cfg);
	return zp;
}

static char *
joined(char **argv)
{
	_cleanup_free_ char *s = NULL;

	for (size_t i = 0; argv && argv[i]; i++) {
		char *t = NULL;
		if (asprintf(&t, "%s%s ", s ? s : "", argv[i]) < 0)
			return NULL;
		free(s);
		s = t;
	}
	return TAKE_PTR(s);
}

TEST(once_cdrom_and_disk)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_(hv_vm_machine_done) struct hv_vm_machine m = {0};
	_cleanup_strv_free_ char **argv = NULL;
	_cleanup_free_ char *zp = zonepath_with(
	        "a", "{\"order\": \"d\", \"cdroms\": [{\"path\": \"/z/root/a.iso\", \"model\": "
	             "\"ide\"}], \"disks\": [{\"path\": \"/z/root/b.img\", \"model\": \"virtio\"},"
	             " {\"path\": \"/z/root/c.img\", \"model\": \"scsi\"}]}");
	_cleanup_free_ char *once = NULL, *line = NULL;

	ASSERT_OK(hv_vm_machine_load(zp, &m, &e));
	ASSERT_EQ(m.n_once_cdroms, 1);
	ASSERT_EQ(m.n_once_disks, 2);
	ASSERT_TRUE(m.once_disks[0].media == HV_VM_MEDIA_DISK);
	ASSERT_TRUE(m.once_cdroms[0].media == HV_VM_MEDIA_CDROM);
	/* Read once: gone for the next boot. */
	ASSERT_TRUE(asprintf(&once, "%s/config/hvm-once.json", zp) > 0);
	ASSERT_TRUE(access(once, F_OK) < 0);

	ASSERT_OK(hv_vm_qemu_argv(&m, "/usr/bin/qemu-system-x86_64", "tcg", &argv, &e));
	line = joined(argv);
	ASSERT_CONTAINS(line, "-boot order=cd,once=d ");
	ASSERT_CONTAINS(line, "file=/vm/disk0,format=raw,if=virtio,id=disk0");
	ASSERT_CONTAINS(line, "file=/vm/once0,format=raw,if=ide,bus=0,unit=0,media=cdrom,id=once0,"
	                      "readonly=on ");
	ASSERT_CONTAINS(line, "file=/vm/oncedisk0,format=raw,if=virtio,id=oncedisk0,aio=threads ");
	ASSERT_CONTAINS(line, "file=/vm/oncedisk1,format=raw,if=none,id=oncedisk1,media=disk ");
	ASSERT_CONTAINS(line, "scsi-hd,drive=oncedisk1,bus=scsi0.0");
}

TEST(no_once)
{
	_cleanup_hv_error_ struct hv_error *e = NULL;
	_cleanup_(hv_vm_machine_done) struct hv_vm_machine m = {0};
	_cleanup_strv_free_ char **argv = NULL;
	_cleanup_free_ char *zp = zonepath_with("b", NULL), *line = NULL;

	ASSERT_OK(hv_vm_machine_load(zp, &m, &e));
	ASSERT_EQ(m.n_once_cdroms + m.n_once_disks, 0);
	ASSERT_OK(hv_vm_qemu_argv(&m, "/usr/bin/qemu-system-x86_64", "tcg", &argv, &e));
	line = joined(argv);
	ASSERT_TRUE(!strstr(line, "once"));
	ASSERT_CONTAINS(line, "-boot order=cd ");
}

TEST(once_refused)
{
	static const struct {
		const char *once, *msg;
	} cases[] = {
	        {"{\"disks\": [{\"path\": \"/z/root/b.img\", \"model\": \"nvme\"}]}",
	         "disks.0.model 'nvme': expected virtio, ide or scsi"},
	        {"{\"disks\": [{\"path\": \"b.img\", \"model\": \"ide\"}]}",
	         "disks.0.path 'b.img': expected an absolute path"},
	        {"{\"disks\": [{\"model\": \"ide\"}]}", "disks.0: expected an object with a path"},
	        {"{\"disks\": [{\"path\": \"/1\"}, {\"path\": \"/2\"}, {\"path\": \"/3\"},"
	         " {\"path\": \"/4\"}, {\"path\": \"/5\"}]}",
	         "at most 4 disks"},
	        {"{\"cdroms\": [1]}", "cdroms.0: expected an object with a path"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_hv_error_ struct hv_error *e = NULL;
		_cleanup_(hv_vm_machine_done) struct hv_vm_machine m = {0};
		char name[16];
		_cleanup_free_ char *zp = NULL;
		int r;

		snprintf(name, sizeof(name), "bad%zu", i);
		zp = zonepath_with(name, cases[i].once);
		r = hv_vm_machine_load(zp, &m, &e);
		ASSERT_TRUE(r < 0);
		ASSERT_CONTAINS(hv_error_message(e, r), cases[i].msg);
	}
}
