"""nictagadm: nic tags and etherstubs in the node config.

Every test runs on a scratch SABLE_ROOT; the MACs are ones no link of a
test machine has, so no NIC is found (LINK '-') and none is touched.
"""
import json
import os
import subprocess
import uuid

import pytest

from conftest import drop_pool, make_pool

MAC1 = "02:aa:bb:cc:dd:01"
MAC2 = "02:aa:bb:cc:dd:02"


def config(root):
    path = root.file("usbkey/config")
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        return f.read()


def ok(root, *args):
    return root.run("nictagadm", *args).stdout


def fails(root, *args, code=1):
    """A refused command: exit code, one line naming nictagadm, nothing changed."""
    before = config(root)
    p = root.run("nictagadm", *args, check=False)
    assert p.returncode == code, (args, p.returncode, p.stderr)
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("nictagadm: "), p.stderr
    assert config(root) == before, f"nictagadm {' '.join(args)} changed the config"
    return p.stderr


def test_add_list_exists_update_delete(root):
    root.write_config("# the node\nhostname=n1\n")
    ok(root, "add", "external", MAC1.upper())
    ok(root, "add", "-l", "stub0")
    ok(root, "add", "-p", "mtu=9000,mac=" + MAC2, "admin")
    ok(root, "add", "-l", "-p", "mtu=600", "stub1")
    assert config(root) == ("# the node\nhostname=n1\nexternal_nic=02:aa:bb:cc:dd:01\n"
                            "etherstub=stub0,stub1\nadmin_nic=02:aa:bb:cc:dd:02\n"
                            "admin_mtu=9000\nstub1_mtu=600\n")

    lines = ok(root, "list").splitlines()
    assert lines[0].split() == ["NAME", "MACADDRESS", "LINK", "TYPE"]
    assert [l.split() for l in lines[1:]] == [
        ["admin", MAC2, "-", "normal"],
        ["external", MAC1, "-", "normal"],
        ["stub0", "-", "-", "etherstub"],
        ["stub1", "-", "-", "etherstub"],
    ]
    assert ok(root, "list", "-p", "-L") == (
        "admin:02\\:aa\\:bb\\:cc\\:dd\\:02:-:normal\n"
        "external:02\\:aa\\:bb\\:cc\\:dd\\:01:-:normal\n")
    assert ok(root, "list", "-p", "-l", "-d", ",") == "stub0,-,-,etherstub\nstub1,-,-,etherstub\n"
    assert ok(root, "list", "-H", "-l").split() == ["stub0", "-", "-", "etherstub",
                                                   "stub1", "-", "-", "etherstub"]

    ok(root, "exists", "external", "stub0", "admin")
    p = root.run("nictagadm", "exists", "external", "nope", check=False)
    assert p.returncode == 1 and p.stderr == ""
    assert fails(root, "exists", "-l", "nope", "external") == 'nictagadm: Invalid nic tag "nope"\n'

    ok(root, "update", "external", MAC2)
    ok(root, "update", "-p", "mtu=1600", "external")
    ok(root, "update", "-p", "mtu=1000", "stub0")
    assert "external_nic=02:aa:bb:cc:dd:02\n" in config(root)
    assert "external_mtu=1600\n" in config(root)
    assert "stub0_mtu=1000\n" in config(root)

    assert ok(root, "vms", "external") == ""
    assert ok(root, "vnics", "external").split() == ["MACADDRESS", "VM", "INTERFACE"]

    ok(root, "delete", "external")
    ok(root, "delete", "stub0")
    ok(root, "delete", "-f", "stub1")
    ok(root, "delete", "admin")
    assert config(root) == "# the node\nhostname=n1\n"
    assert ok(root, "list", "-H") == ""


def test_bad_input(root):
    root.write_config("external_nic=02:aa:bb:cc:dd:01\netherstub=stub0\n")
    assert "MAC '02:aa:bb:cc:dd': expected six hex octets" in fails(
        root, "add", "x", "02:aa:bb:cc:dd")
    assert "MAC 'zz:aa:bb:cc:dd:ee'" in fails(root, "add", "x", "zz:aa:bb:cc:dd:ee")
    assert fails(root, "add", "external", MAC2) == \
        'nictagadm: nic tag "external" already exists\n'
    assert "already exists (an etherstub)" in fails(root, "add", "-l", "stub0")
    assert "already exists" in fails(root, "add", "stub0", MAC2)
    assert "nic tag name '9x'" in fails(root, "add", "9x", MAC2)
    assert "nic tag name 'a-b'" in fails(root, "add", "a-b", MAC2)
    assert "mtu 1400: expected 1500 to 9000" in fails(root, "add", "-p", "mtu=1400", "x", MAC2)
    assert "mtu 9001: expected 576 to 9000" in fails(root, "add", "-l", "-p", "mtu=9001", "y")
    assert "mtu 100: expected 1500 to 9000" in fails(root, "update", "-p", "mtu=100", "external")
    assert "is an etherstub: it has no MAC" in fails(root, "update", "stub0", MAC2)
    assert fails(root, "update", "nope", MAC2) == 'nictagadm: Invalid nic tag "nope"\n'
    assert fails(root, "delete", "nope") == 'nictagadm: Invalid nic tag "nope"\n'
    assert fails(root, "vms", "nope") == 'nictagadm: Invalid nic tag "nope"\n'

    # Usage errors: exit 2.
    fails(root, "add", "-l", "s", MAC2, code=2)
    fails(root, "add", "x", code=2)
    fails(root, "add", "-p", "speed=10", "x", MAC2, code=2)
    fails(root, "add", "-p", "mtu=big", "x", MAC2, code=2)
    fails(root, "update", "external", code=2)
    fails(root, "delete", code=2)
    fails(root, "exists", code=2)
    fails(root, "list", "-l", "-L", code=2)
    fails(root, "list", "-d", ",", code=2)
    fails(root, "list", "-x", code=2)
    fails(root, "frob", code=2)


def test_broken_config_is_named(root):
    root.write_config("external_nic=aggr0\n")
    assert "config:1: external_nic 'aggr0': expected a MAC address" in fails(root, "list")
    assert "external_nic 'aggr0'" in fails(root, "add", "-l", "stub0")


def test_delete_refused_while_a_vm_uses_the_tag(root, busybox_image):
    # A fake NIC for the tag: a veth pair on the host (this kernel has no dummy links).
    nic = "ntg" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "link", "add", nic, "type", "veth", "peer", "name", nic + "p"],
                   check=True)
    pool = make_pool(root, "btrfs")
    try:
        with open(f"/sys/class/net/{nic}/address") as f:
            mac = f.read().strip()
        with open(root.file("usbkey/config"), "a") as f:
            f.write(f"external_nic={mac}\n")
        root.run("imgadm", "install", "-q", "-m", busybox_image["manifest"], "-f",
                 busybox_image["file"])
        payload = {"brand": "lx", "image_uuid": busybox_image["uuid"], "autoboot": False,
                   "max_physical_memory": 128,
                   "nics": [{"nic_tag": "external", "mac": "02:00:00:00:00:0a",
                             "ips": ["198.51.100.10/24"]}]}
        p = root.run("vmadm", "create", input=json.dumps(payload), check=False)
        if p.returncode != 0:
            pytest.skip(f"vmadm cannot create a VM with a NIC here: {p.stderr.strip()}")
        vm = p.stderr.split()[-1]
        assert ok(root, "vms", "external") == vm + "\n"
        assert ok(root, "vnics", "-p", "external") == f"02\\:00\\:00\\:00\\:00\\:0a:{vm}:eth0\n"
        assert f"used by VM {vm}" in fails(root, "delete", "external")
        ok(root, "delete", "-f", "external")
        root.run("vmadm", "delete", vm, check=False)
    finally:
        drop_pool(pool)
        subprocess.run(["ip", "link", "del", nic], check=False)
