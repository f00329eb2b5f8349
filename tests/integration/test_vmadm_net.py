"""vmadm's nics[]: zones on nic tags and etherstubs, protection, live changes, clean-up.

The "physical" NIC of the external tag is the host end of a veth pair whose
far end sits in a router namespace this test makes (198.51.100.1/24,
2001:db8:1::1/64). Nothing here uses any other address, and eth0 is never
touched. The conftest fixtures fail a test that leaves links, namespaces,
mounts, cgroups or processes behind; Node.close() checks the root.
"""
import json
import os
import signal
import subprocess
import time
import uuid as uuidlib

import pytest

from conftest import program
from test_vmadm import Node, node  # noqa: F401  (the fixture)


def sh(*cmd, check=True):
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


def mac_of(link):
    with open(f"/sys/class/net/{link}/address") as f:
        return f.read().strip()


@pytest.fixture
def net(node, netns):
    """A router namespace behind the external tag, and an etherstub stub0."""
    tag = uuidlib.uuid4().hex[:6]
    router = netns(f"sbt-r-{tag}")
    up, far = f"sbtu{tag}", f"sbtr{tag}"
    sh("ip", "link", "add", up, "type", "veth", "peer", "name", far)
    try:
        sh("ip", "link", "set", far, "netns", router)
        sh("ip", "link", "set", up, "up")
        ip = ["ip", "netns", "exec", router, "ip"]
        sh(*ip, "link", "set", far, "name", "eth0")
        sh(*ip, "link", "set", "eth0", "up")
        sh(*ip, "link", "set", "lo", "up")
        sh(*ip, "addr", "add", "198.51.100.1/24", "dev", "eth0")
        sh(*ip, "-6", "addr", "add", "2001:db8:1::1/64", "dev", "eth0", "nodad")
        node.root.run("nictagadm", "add", "external", mac_of(up))
        node.root.run("nictagadm", "add", "-l", "stub0")
        yield {"router": router, "uplink": up}
    finally:
        # The zones go first (Node.close), so the uplink can go now.
        sh("ip", "link", "del", up, check=False)


def in_router(router, *cmd, check=False):
    return sh("ip", "netns", "exec", router, *cmd, check=check)


def nic(tag="external", **kw):
    d = {"nic_tag": tag}
    d.update(kw)
    return d


def zone_links(node, u):
    return node.login(u, "ip -o link show").stdout


def ping(node, u, addr, *extra):
    return node.login(u, f"ping -c 1 -W 2 {' '.join(extra)} {addr}", check=False).returncode == 0


def host_links(node):
    """This root's links (their names carry its prefix): other tests may run beside us."""
    prefix = None
    for line in open(node.root.file("usbkey/config")):
        if line.startswith("sable_prefix="):
            prefix = line.split("=", 1)[1].strip()
    return {l for l in os.listdir("/sys/class/net") if prefix and l.startswith(prefix)}


def test_zones_on_a_tag_reach_each_other_and_the_router(node, net):
    a = node.create(nics=[nic(ips=["198.51.100.10/24", "2001:db8:1::10/64"],
                              gateways=["198.51.100.1"], primary=True)],
                    resolvers=["198.51.100.53"], hostname="alpha")
    b = node.create(nics=[nic(ips=["198.51.100.11/24"])])
    va = node.get(a)
    mac = va["nics"][0]["mac"]
    assert int(mac.split(":")[0], 16) & 0x0F == 2  # SmartOS's X2 first octet
    assert va["nics"][0]["interface"] == "eth0"
    out = zone_links(node, a)
    assert "eth0" in out and mac in out
    assert "198.51.100.10/24" in node.login(a, "ip -4 addr show dev eth0").stdout
    assert "default via 198.51.100.1" in node.login(a, "ip route").stdout
    assert "nameserver 198.51.100.53" in node.login(a, "cat /etc/resolv.conf").stdout
    assert ping(node, a, "198.51.100.11")
    assert ping(node, b, "198.51.100.10")
    assert ping(node, a, "198.51.100.1")
    assert in_router(net["router"], "busybox", "ping", "-c", "1", "-W", "2", "198.51.100.11").returncode == 0
    assert ping(node, a, "2001:db8:1::1")


def test_an_etherstub_is_not_reachable_from_the_uplink(node, net):
    a = node.create(nics=[nic("stub0", ips=["198.51.100.20/24"])])
    b = node.create(nics=[nic("stub0", ips=["198.51.100.21/24"])])
    assert ping(node, a, "198.51.100.21")
    assert not ping(node, a, "198.51.100.1")
    assert in_router(net["router"], "busybox", "ping", "-c", "1", "-W", "1", "198.51.100.20").returncode != 0


def test_spoofed_source_is_dropped_until_allowed(node, net):
    a = node.create(nics=[nic(ips=["198.51.100.30/24"])])
    mac = node.get(a)["nics"][0]["mac"]
    node.login(a, "ip addr add 198.51.100.31/32 dev eth0")
    assert ping(node, a, "198.51.100.1")
    assert not ping(node, a, "198.51.100.1", "-I", "198.51.100.31")
    node.vmadm("update", a, input=json.dumps(
        {"update_nics": [{"mac": mac, "allowed_ips": ["198.51.100.31"]}]}))
    assert ping(node, a, "198.51.100.1", "-I", "198.51.100.31")
    # A change of ips applies live too: the old address no longer passes.
    node.vmadm("update", a, input=json.dumps(
        {"update_nics": [{"mac": mac, "ips": ["198.51.100.32/24"], "allowed_ips": []}]}))
    assert "198.51.100.32/24" in node.login(a, "ip -4 addr show dev eth0").stdout
    assert ping(node, a, "198.51.100.1", "-I", "198.51.100.32")
    assert not ping(node, a, "198.51.100.1", "-I", "198.51.100.31")
    node.vmadm("update", a, input=json.dumps(
        {"update_nics": [{"mac": mac, "allow_ip_spoofing": True}]}))
    assert ping(node, a, "198.51.100.1", "-I", "198.51.100.31")


def test_nics_added_and_removed_on_a_running_zone(node, net):
    a = node.create(nics=[nic(ips=["198.51.100.40/24"])])
    b = node.create(nics=[nic("stub0", ips=["203.0.113.41/24"])])
    node.vmadm("update", a, input=json.dumps(
        {"add_nics": [nic("stub0", ips=["203.0.113.40/24"])]}))
    vm = node.get(a)
    assert [n["interface"] for n in vm["nics"]] == ["eth0", "eth1"]
    assert "eth1" in zone_links(node, a)
    assert ping(node, a, "203.0.113.41")
    node.vmadm("update", a, input=json.dumps({"remove_nics": [vm["nics"][1]["mac"]]}))
    assert "eth1" not in zone_links(node, a)
    assert not ping(node, b, "203.0.113.40")
    # A reboot plugs what the record says.
    node.vmadm("reboot", a)
    assert "eth1" not in zone_links(node, a) and "eth0" in zone_links(node, a)
    assert ping(node, a, "198.51.100.1")


def test_bad_nics_are_refused_and_change_nothing(node, net):
    before = host_links(node)
    cases = [
        (nic("nosuch"), 'Invalid nic tag "nosuch"'),
        (nic(vlan_id=5), "vlan"),
        (nic(mtu=1000), "1500 to 9000"),
        (nic(mac="nonsense"), "mac"),
        (nic(ips=["198.51.100.300/24"]), "ips"),
        (nic(vlan_id=4096), "vlan_id"),
    ]
    for bad, words in cases:
        p = node.vmadm("create", input=json.dumps(
            {"brand": "lx", "image_uuid": node.image, "nics": [bad]}), check=False)
        assert p.returncode == 1, (bad, p.stderr)
        assert p.stderr.count("\n") == 1 and words in p.stderr, (bad, p.stderr)
    a = node.create(nics=[nic(ips=["198.51.100.50/24"])])
    mac = node.get(a)["nics"][0]["mac"]
    p = node.vmadm("create", input=json.dumps(
        {"brand": "lx", "image_uuid": node.image, "nics": [nic(mac=mac)]}), check=False)
    assert p.returncode == 1 and "already used by VM " + a in p.stderr, p.stderr
    p = node.vmadm("update", a, input=json.dumps({"add_nics": [nic("nosuch")]}), check=False)
    assert p.returncode == 1 and 'Invalid nic tag "nosuch"' in p.stderr
    assert len(node.get(a)["nics"]) == 1
    node.vmadm("delete", a)
    assert host_links(node) == before
    assert node.leftovers() == {}


def test_a_vanished_nic_is_named(node, net):
    node.root.run("nictagadm", "add", "ghost", "02:00:00:00:00:01")
    p = node.vmadm("create", input=json.dumps(
        {"brand": "lx", "image_uuid": node.image, "nics": [nic("ghost")]}), check=False)
    assert p.returncode == 1 and "ghost" in p.stderr and "02:00:00:00:00:01" in p.stderr


def test_killed_create_and_killed_supervisor_leave_no_links(node, net):
    before = host_links(node)
    p = node.vmadm("create", input=json.dumps(
        {"brand": "lx", "image_uuid": node.image,
         "nics": [nic(ips=["198.51.100.60/24"], max_bandwidth=100)]}),
        env={"SABLE_FAULT_KILL": "vm-create:boot"}, check=False)
    assert p.returncode == -signal.SIGKILL
    assert node.vmadm("list", "-H").stdout == ""  # the next vmadm undoes it
    assert host_links(node) == before
    # A zone whose supervisor and init die at once: vmadmd's start removes what stays.
    a = node.create(nics=[nic(ips=["198.51.100.61/24"], max_bandwidth=100)])
    node.vmadm("update", a, "autoboot=false")  # vmadmd must not boot it again
    rt = json.load(open(node.root.file(f"var/run/sable/zones/{a}.json")))
    os.kill(rt["zoneadmd_pid"], signal.SIGKILL)
    os.kill(rt["init_pid"], signal.SIGKILL)
    for _ in range(100):
        if not os.path.exists(f"/proc/{rt['init_pid']}"):
            break
        time.sleep(0.05)
    node.start_vmadmd()
    node.stop_vmadmd()
    leftover = {l for l in host_links(node) - before}
    assert leftover == set(), leftover
