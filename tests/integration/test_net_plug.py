"""lib/net's VM entry points: plug, unplug, reconcile, taps.

Zones are stood in for by network namespaces the test makes; the nic tag
"external" has a fake uplink, a veth pair whose far end is in a "router"
namespace (198.51.100.1, 2001:db8::1), and "stub0" is an etherstub. The
test-only CLI tests/helpers/netplug drives lib/net. Addresses: only
198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32, inside the namespaces.
"""
import json
import os
import subprocess
import uuid

import pytest

from conftest import BUILD

NETPLUG = os.path.join(BUILD, "tests", "helpers", "netplug")
OWNER = {"a": "3f2c0000-0000-4000-8000-0000000000aa", "b": "3f2c0000-0000-4000-8000-0000000000bb"}


def sh(*cmd, check=True):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if check and p.returncode:
        raise AssertionError(f"{' '.join(cmd)}: {p.stderr}")
    return p


def ping(ns, addr, v6=False):
    cmd = ["ip", "netns", "exec", ns, "busybox", "ping", "-c", "1", "-W", "2"]
    return sh(*cmd, *(["-6"] if v6 else []), addr, check=False).returncode == 0


class Net:
    def __init__(self, root, netns):
        self.root = root
        self.id = uuid.uuid4().hex[:6]
        self.router = netns("ntr" + self.id)
        self.ns = {g: netns(f"nt{g}{self.id}") for g in "ab"}
        self.uplink = "ntu" + self.id
        sh("ip", "link", "add", self.uplink, "type", "veth", "peer", "name", "up0", "netns",
           self.router)
        for a in ("198.51.100.1/24", "203.0.113.1/24", "2001:db8::1/64"):
            sh("ip", "-n", self.router, "addr", "add", a, "dev", "up0", "nodad")
        sh("ip", "-n", self.router, "link", "set", "up0", "up")
        with open(f"/sys/class/net/{self.uplink}/address") as f:
            mac = f.read().strip()
        root.write_config(f"external_nic={mac}\netherstub=stub0\n")

    def close(self):
        sh("ip", "link", "del", self.uplink, check=False)

    def payload(self, g, **extra):
        i = {"a": 10, "b": 11}[g]
        nic = {"mac": f"02:00:00:00:00:{i:02x}", "nic_tag": "external", "interface": "eth0",
               "ips": [f"198.51.100.{i}/24", f"2001:db8::{i:x}/64"],
               "gateways": ["198.51.100.1", "2001:db8::1"], "primary": True}
        nic.update(extra)
        stub = {"mac": f"02:00:00:00:01:{i:02x}", "nic_tag": "stub0", "interface": "eth1",
                "ips": [f"203.0.113.{i}/24"]}
        return {"owner": OWNER[g], "nics": [nic, stub],
                "routes": [{"dest": "198.18.0.0/15", "gateway": "198.51.100.1"}]}

    def write(self, name, payload):
        path = self.root.file(name)
        with open(path, "w") as f:
            json.dump(payload, f)
        return path

    def netplug(self, *args, check=True):
        p = subprocess.run([NETPLUG, *args], env=self.root.env, capture_output=True, text=True)
        if check and p.returncode:
            raise AssertionError(f"netplug {' '.join(args)}: {p.stderr}")
        return p

    def plug(self, g, payload=None):
        path = self.write(f"{g}.json", payload or self.payload(g))
        return self.netplug("plug", path, f"/run/netns/{self.ns[g]}")

    def fails(self, *args):
        before = self.links()
        p = self.netplug(*args, check=False)
        assert p.returncode == 1, p
        assert p.stderr.count("\n") == 1 and p.stderr.startswith("netplug: "), p.stderr
        assert self.links() == before, "a failed plug left links behind"
        return p.stderr

    def prefix(self):
        with open(self.root.file("usbkey/config")) as f:
            for line in f:
                if line.startswith("sable_prefix="):
                    return line.strip().split("=", 1)[1]
        return None

    def links(self):
        """This root's links on the host, and every namespace's."""
        prefix = self.prefix()
        names = [l.split(":")[1].strip().split("@")[0]
                 for l in sh("ip", "-o", "link").stdout.splitlines()]
        out = {"host": sorted(n for n in names if prefix and n.startswith(prefix))}
        for g, ns in self.ns.items():
            out[g] = sorted(l.split(":")[1].strip().split("@")[0]
                            for l in sh("ip", "-n", ns, "-o", "link").stdout.splitlines())
        return out


@pytest.fixture
def net(root, netns):
    n = Net(root, netns)
    try:
        yield n
    finally:
        n.netplug("reconcile", check=False)
        n.close()


def test_two_zones_on_a_tag_and_an_etherstub(net):
    net.plug("a")
    net.plug("b")
    a, b = net.ns["a"], net.ns["b"]
    assert ping(a, "198.51.100.11") and ping(b, "198.51.100.10")
    assert ping(a, "198.51.100.1") and ping(b, "198.51.100.1")
    assert ping(a, "2001:db8::b", v6=True) and ping(a, "2001:db8::1", v6=True)
    assert ping(a, "203.0.113.11")
    # The etherstub is the zones' own: the router cannot reach it.
    assert not ping(net.router, "203.0.113.10")

    # Inside: the guest's names, MACs, addresses, default routes and routes.
    link = json.loads(sh("ip", "-n", a, "-j", "addr", "show", "eth0").stdout)[0]
    assert link["address"] == "02:00:00:00:00:0a" and link["operstate"] == "UP"
    addrs = {i["local"] for i in link["addr_info"]}
    assert {"198.51.100.10", "2001:db8::a"} <= addrs
    routes = sh("ip", "-n", a, "route").stdout
    assert "default via 198.51.100.1 dev eth0" in routes
    assert "198.18.0.0/15 via 198.51.100.1 dev eth0" in routes
    assert "default via 2001:db8::1 dev eth0" in sh("ip", "-n", a, "-6", "route").stdout
    assert "UP" in sh("ip", "-n", a, "link", "show", "lo").stdout

    # Every host link carries the prefix and says whose it is.
    prefix = net.prefix()
    aliases = [l for l in sh("ip", "-o", "-d", "link").stdout.splitlines()
               if l.split(":")[1].strip().startswith(prefix)]
    assert len(aliases) == 6  # two switches, four ports
    for l in aliases:
        assert f"alias sable {prefix} " in l

    # Unplug of one VM leaves the other working; the last one takes the switches.
    net.netplug("unplug", OWNER["a"])
    assert net.links()["a"] == ["lo"]
    assert ping(b, "198.51.100.1")
    net.netplug("unplug", OWNER["a"])  # idempotent
    net.netplug("unplug", OWNER["b"])
    assert net.links() == {"host": [], "a": ["lo"], "b": ["lo"]}
    # The uplink is free again.
    assert "master" not in sh("ip", "link", "show", net.uplink).stdout


def test_dhcp_addrconf_and_no_gateways_off_primary(net):
    p = net.payload("a", ips=["dhcp", "addrconf"], primary=False)
    p["routes"] = []
    net.plug("a", p)
    text = sh("ip", "-n", net.ns["a"], "addr", "show", "eth0").stdout
    assert "inet " not in text and "2001:db8" not in text and "state UP" in text
    assert "default" not in sh("ip", "-n", net.ns["a"], "route").stdout


def test_reconcile(net):
    net.plug("a")
    net.plug("b")
    net.netplug("reconcile", OWNER["b"])
    assert net.links()["a"] == ["lo"]
    assert net.links()["b"] == ["eth0", "eth1", "lo"]
    assert ping(net.ns["b"], "198.51.100.1")
    # A tag deleted from the config: its switch goes, even with ports on it.
    with open(net.root.file("usbkey/config")) as f:
        text = f.read()
    net.root.write_config(text.replace("etherstub=stub0\n", ""))
    net.netplug("reconcile", OWNER["b"])
    assert net.links()["b"] == ["eth0", "lo"]
    net.netplug("reconcile")
    assert net.links() == {"host": [], "a": ["lo"], "b": ["lo"]}


def test_bad_tag_and_vanished_nic(net):
    bad = net.payload("a")
    bad["nics"][1]["nic_tag"] = "nope"
    err = net.fails("plug", net.write("bad.json", bad), f"/run/netns/{net.ns['a']}")
    assert 'Invalid nic tag "nope"' in err
    # All or nothing: the first NIC, already plugged, went again.
    assert net.links()["a"] == ["lo"]

    with open(net.root.file("usbkey/config"), "a") as f:
        f.write("gone_nic=02:11:22:33:44:55\n")
    bad["nics"][1]["nic_tag"] = "gone"
    err = net.fails("plug", net.write("bad.json", bad), f"/run/netns/{net.ns['a']}")
    assert 'nic tag "gone": its NIC 02:11:22:33:44:55 is not on this host' in err

    # The uplink vanishes while no switch holds it.
    sh("ip", "link", "set", net.uplink, "netns", net.router)
    err = net.fails("plug", net.write("a.json", net.payload("a")), f"/run/netns/{net.ns['a']}")
    assert 'nic tag "external": its NIC' in err and "is not on this host" in err


def test_bad_input(net):
    ns = f"/run/netns/{net.ns['a']}"
    p = net.payload("a")
    p["nics"][0]["ips"] = ["198.51.100.300/24"]
    assert "nics.0.ips.0: '198.51.100.300/24': expected" in net.fails(
        "plug", net.write("x.json", p), ns)
    p = net.payload("a")
    p["nics"][1]["mac"] = p["nics"][0]["mac"]
    assert "nics.1.mac" in net.fails("plug", net.write("x.json", p), ns)
    p = net.payload("a", vlan_id=5)
    err = net.fails("plug", net.write("x.json", p), ns)
    assert "vlan_id 5" in err
    # An interface the zone has already.
    sh("ip", "-n", net.ns["a"], "link", "add", "eth0", "type", "veth", "peer", "name", "x0")
    err = net.fails("plug", net.write("a.json", net.payload("a")), ns)
    assert "the zone has an interface eth0 already" in err
    # Plugging the same VM twice.
    sh("ip", "-n", net.ns["a"], "link", "del", "eth0")
    net.plug("a")
    assert "has it plugged already" in net.fails("plug", net.root.file("a.json"), ns)


def test_nic_plug_update_unplug(net):
    p = net.payload("a")
    path = net.write("a.json", p)
    ns = f"/run/netns/{net.ns['a']}"
    net.netplug("nic-plug", path, "0", ns)
    assert net.links()["a"] == ["eth0", "lo"]
    assert ping(net.ns["a"], "198.51.100.1")
    q = json.loads(json.dumps(p))
    q["nics"][0]["ips"] = ["198.51.100.20/24", "2001:db8::a/64"]
    net.netplug("nic-update", path, net.write("b.json", q), "0", ns)
    addrs = sh("ip", "-n", net.ns["a"], "-4", "addr", "show", "eth0").stdout
    assert "198.51.100.20/24" in addrs and "198.51.100.10/24" not in addrs
    assert ping(net.ns["a"], "198.51.100.1")
    net.netplug("nic-unplug", OWNER["a"], "02:00:00:00:00:0A")
    assert net.links() == {"host": [], "a": ["lo"], "b": ["lo"]}


def test_tap(net):
    out = net.netplug("tap", net.write("a.json", net.payload("a"))).stdout.split()
    assert len(out) == 2
    for name in out:
        assert len(name) <= 15 and name.startswith(net.prefix())
        assert "master" in sh("ip", "link", "show", name).stdout
    net.netplug("unplug", OWNER["a"])
    assert net.links()["host"] == []
