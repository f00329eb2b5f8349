"""Link protection, switching and caps of the BPF data path (lib/net).

Each test builds a switch by hand (a bridge, two guest namespaces on veth
ports, named as Sable names them) and drives net-datapath.c through the
test-only CLI tests/helpers/netport. Frames are crafted with raw sockets in
one guest (tests/helpers/frames.py) and counted on the other: each kind of
spoof is dropped while legitimate traffic passes, and passes once its
allow_* flag is set. Addresses: 198.51.100.0/24 and 2001:db8::/32 only.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from conftest import BUILD, TOP

sys.path.insert(0, os.path.join(TOP, "tests", "helpers"))
import frames  # noqa: E402

FRAMES = os.path.join(TOP, "tests", "helpers", "frames.py")
PY = "/usr/bin/python3"
MAC = {"a": "02:00:00:00:00:0a", "b": "02:00:00:00:00:0b"}
IP4 = {"a": "198.51.100.10", "b": "198.51.100.11"}
IP6 = {"a": "2001:db8::10", "b": "2001:db8::11"}


def sh(*cmd, check=True):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if check and p.returncode:
        raise AssertionError(f"{' '.join(cmd)}: {p.stderr}")
    return p


def ifindex(name):
    with open(f"/sys/class/net/{name}/ifindex") as f:
        return int(f.read())


class Lan:
    """A switch with guests a and b, by hand, as lib/net would make it."""

    def __init__(self, netns):
        self.prefix = "tp" + uuid.uuid4().hex[:6]
        self.tag = "t" + self.prefix
        self.bridge = self.prefix + "s000001"
        self.ns = {g: netns(self.prefix + g) for g in "ab"}
        self.port = {g: f"{self.prefix}v00000{g}" for g in "ab"}
        self.tmp = tempfile.mkdtemp(prefix="sable-net-")
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "link", "set", self.bridge, "up")
        for g in "ab":
            sh("ip", "link", "add", self.port[g], "type", "veth", "peer", "name", "eth0",
               "netns", self.ns[g])
            sh("ip", "-n", self.ns[g], "link", "set", "eth0", "address", MAC[g])
            sh("ip", "-n", self.ns[g], "addr", "add", IP4[g] + "/24", "dev", "eth0")
            sh("ip", "-n", self.ns[g], "addr", "add", IP6[g] + "/64", "dev", "eth0", "nodad")
            sh("ip", "-n", self.ns[g], "link", "set", "eth0", "up")
            sh("ip", "link", "set", self.port[g], "master", self.bridge, "up")
        self.netport("switch-attach", self.tag, str(ifindex(self.bridge)), "0")

    def netport(self, *args, check=True):
        p = subprocess.run([os.path.join(BUILD, "tests", "helpers", "netport"), args[0],
                            self.prefix, *args[1:]], capture_output=True, text=True)
        if check and p.returncode:
            raise AssertionError(f"netport {' '.join(args)}: {p.stderr}")
        return p

    def nic(self, g, **kw):
        nic = {"mac": MAC[g], "nic_tag": self.tag, "ips": [IP4[g] + "/24", IP6[g] + "/64"]}
        nic.update(kw)
        path = os.path.join(self.tmp, f"nic-{g}.json")
        with open(path, "w") as f:
            json.dump(nic, f)
        return path

    def attach(self, g, verb="attach", **kw):
        self.netport(verb, self.tag, str(ifindex(self.port[g])), "peer", self.nic(g, **kw))

    def update(self, g, **kw):
        self.attach(g, "update", **kw)

    def detach(self, g):
        self.netport("detach", self.tag, str(ifindex(self.port[g])), MAC[g])

    def count(self, frame_of, sender="a", receiver="b"):
        """Send the frames frame_of(token) returns from sender; how many reach receiver."""
        token = uuid.uuid4().hex.encode()
        fs = frame_of(token)
        fs = fs if isinstance(fs, list) else [fs]
        rx = subprocess.Popen(["ip", "netns", "exec", self.ns[receiver], PY, FRAMES, "count",
                               "eth0", token.decode(), "0.6"], stdout=subprocess.PIPE, text=True)
        assert rx.stdout.readline().strip() == "ready"
        sh("ip", "netns", "exec", self.ns[sender], PY, FRAMES, "send", "eth0",
           *[f.hex() for f in fs])
        out, _ = rx.communicate(timeout=10)
        return int(out)

    def close(self):
        for g in "ab":
            if os.path.exists(f"/sys/class/net/{self.port[g]}"):
                self.netport("detach", self.tag, str(ifindex(self.port[g])), MAC[g],
                             check=False)
        self.netport("switch-detach", self.tag, "0", check=False)
        sh("ip", "link", "del", self.bridge, check=False)
        for g in "ab":
            sh("ip", "link", "del", self.port[g], check=False)
        sh("rm", "-rf", self.tmp)


@pytest.fixture
def lan(root, netns):
    if not os.path.exists(os.path.join(BUILD, "tests", "helpers", "netport")):
        pytest.fail("netport is missing: build first")
    lan = Lan(netns)
    try:
        yield lan
    finally:
        lan.close()


def udp4(src_ip=IP4["a"], src_mac=MAC["a"], to="b"):
    return lambda t: frames.udp4_frame(src_mac, MAC[to], src_ip, IP4[to], t)


def udp6(src_ip=IP6["a"]):
    return lambda t: frames.udp6_frame(MAC["a"], MAC["b"], src_ip, IP6["b"], t)


def test_legitimate_traffic_passes_and_is_switched(lan):
    lan.attach("a")
    lan.attach("b")
    assert lan.count(udp4()) == 1
    assert lan.count(udp6()) == 1
    assert lan.count(udp6("fe80::1")) == 1  # link-local
    assert lan.count(lambda t: frames.arp_frame(MAC["a"], MAC["a"], IP4["a"], IP4["a"], t)) == 1
    assert lan.count(udp4(IP4["b"], MAC["b"], to="a"), sender="b", receiver="a") == 1
    # Switched by the program straight into b (bpf_redirect_peer): b's host end
    # never transmits it, as it would for a frame the bridge forwards.
    tx = f"/sys/class/net/{lan.port['b']}/statistics/tx_packets"
    before = int(open(tx).read())
    assert lan.count(lambda t: [udp4()(t)] * 20) == 20
    assert int(open(tx).read()) - before < 20


@pytest.mark.parametrize("spoof,flag", [
    (udp4("198.51.100.99"), "allow_ip_spoofing"),
    (udp4(src_mac="02:00:00:00:00:99"), "allow_mac_spoofing"),
    (lambda t: frames.arp_frame(MAC["a"], MAC["a"], "198.51.100.50", "198.51.100.50", t),
     "allow_ip_spoofing"),
    (lambda t: frames.arp_frame(MAC["a"], "02:00:00:00:00:99", IP4["a"], IP4["a"], t),
     "allow_mac_spoofing"),
    (udp6("2001:db8::99"), "allow_ip_spoofing"),
    (lambda t: frames.ra_frame(MAC["a"], "fe80::a", t), "allow_dhcp_spoofing"),
    (lambda t: frames.dhcp_frame(MAC["a"], IP4["a"], t), "allow_dhcp_spoofing"),
    (lambda t: frames.dhcp_frame(MAC["a"], IP4["a"], t), "dhcp_server"),
    (lambda t: frames.udp6_frame(MAC["a"], "33:33:00:01:00:02", "fe80::a", "ff02::1:2", t,
                                 547, 546), "allow_dhcp_spoofing"),
    (lambda t: frames.raw_frame(MAC["a"], MAC["b"], 0x88b5, t), "allow_restricted_traffic"),
    (lambda t: frames.vlan_frame(MAC["a"], MAC["b"], 5, t),
     "allow_restricted_traffic"),
], ids=["ip4-source", "mac-source", "garp-other-ip", "arp-other-mac", "ip6-source", "ra",
        "dhcp-offer", "dhcp-server", "dhcpv6-reply", "ethertype", "vlan-tag"])
def test_spoof_dropped_until_allowed(lan, spoof, flag):
    lan.attach("a")
    lan.attach("b")
    assert lan.count(spoof) == 0, "the spoofed frame passed"
    assert lan.count(udp4()) == 1, "legitimate traffic was dropped"
    lan.update("a", **{flag: True})
    assert lan.count(spoof) == 1, f"{flag} did not let the frame pass"
    lan.update("a")
    assert lan.count(spoof) == 0, f"taking {flag} back did not drop the frame again"


def test_allowed_ips(lan):
    lan.attach("a", allowed_ips=["198.51.100.96/28", "198.51.100.200", "2001:db8:1::/48"])
    lan.attach("b")
    assert lan.count(udp4("198.51.100.99")) == 1
    assert lan.count(udp4("198.51.100.200")) == 1
    assert lan.count(udp4("198.51.100.201")) == 0
    assert lan.count(udp4("198.51.100.95")) == 0
    assert lan.count(udp6("2001:db8:1::5")) == 1
    assert lan.count(udp6("2001:db8:2::5")) == 0
    # A gratuitous ARP for an allowed address is no spoof.
    assert lan.count(lambda t: frames.arp_frame(MAC["a"], MAC["a"], "198.51.100.97",
                                                "198.51.100.97", t)) == 1


def test_live_update_of_ips(lan):
    lan.attach("a")
    lan.attach("b")
    assert lan.count(udp4()) == 1
    lan.update("a", ips=["198.51.100.20/24"])
    assert lan.count(udp4()) == 0
    assert lan.count(udp4("198.51.100.20")) == 1
    assert lan.count(udp6()) == 0  # its IPv6 address went too
    assert lan.count(udp6("fe80::1")) == 1


def test_dhcp_and_addrconf(lan):
    lan.attach("a", ips=["dhcp", "addrconf"])
    lan.attach("b")
    # A DHCP client's DISCOVER from 0.0.0.0; not any other traffic from 0.0.0.0.
    assert lan.count(lambda t: frames.dhcp_frame(MAC["a"], "0.0.0.0", t, op=1, sport=68,
                                                 dport=67)) == 1
    assert lan.count(udp4("0.0.0.0")) == 0
    assert lan.count(udp4()) == 0  # no lease yet
    # SLAAC: the MAC's EUI-64 under any prefix, nothing else.
    assert lan.count(udp6("2001:db8:5::ff:fe00:a")) == 1
    assert lan.count(udp6("2001:db8:5::1")) == 0
    # A lease sent to a (a DHCPACK for its MAC) lets it use the address.
    lan.update("b", allow_dhcp_spoofing=True)
    assert lan.count(lambda t: frames.dhcp_frame(MAC["b"], IP4["b"], t, chaddr=MAC["a"],
                                                 msgtype=5), sender="b", receiver="a") == 1
    assert lan.count(udp4("198.51.100.77")) == 1


def test_max_bandwidth_and_nothing_left(lan):
    lan.attach("a", max_bandwidth=100)
    lan.attach("b")
    ifb = lan.prefix + "i00000a"
    assert os.path.exists(f"/sys/class/net/{ifb}")
    assert "tbf" in sh("tc", "qdisc", "show", "dev", lan.port["a"]).stdout
    assert "rate 100Mbit" in sh("tc", "qdisc", "show", "dev", ifb).stdout
    # Shaped traffic still passes both ways, still protected.
    assert lan.count(udp4()) == 1
    assert lan.count(udp4("198.51.100.99")) == 0
    assert lan.count(udp4(IP4["b"], MAC["b"], to="a"), sender="b", receiver="a") == 1
    lan.update("a", max_bandwidth=50)
    assert "rate 50Mbit" in sh("tc", "qdisc", "show", "dev", ifb).stdout
    lan.update("a")
    assert not os.path.exists(f"/sys/class/net/{ifb}")
    assert "tbf" not in sh("tc", "qdisc", "show", "dev", lan.port["a"]).stdout
    assert lan.count(udp4()) == 1
    lan.detach("a")
    lan.detach("b")
    lan.netport("switch-detach", lan.tag, "0")
    assert not os.path.exists(f"/sys/fs/bpf/sable-{lan.prefix}")


def test_reconcile_after_ports_vanish(lan):
    lan.attach("a", max_bandwidth=100)
    lan.attach("b")
    # A crash: the ports' links go without a detach.
    for g in "ab":
        sh("ip", "link", "del", lan.port[g])
    sh("ip", "link", "del", lan.bridge)
    time.sleep(0.1)
    lan.netport("reconcile")
    assert not os.path.exists(f"/sys/class/net/{lan.prefix}i00000a")
    assert not os.path.exists(f"/sys/fs/bpf/sable-{lan.prefix}")


def test_bad_nic_is_one_clear_line(lan):
    p = lan.netport("attach", lan.tag, str(ifindex(lan.port["a"])), "peer",
                    lan.nic("a", ips=["198.51.100.300/24"]), check=False)
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1 and "ips.0 '198.51.100.300/24'" in p.stderr, p.stderr
    p = lan.netport("attach", "nosuchtag", str(ifindex(lan.port["a"])), "peer",
                    lan.nic("a"), check=False)
    assert p.returncode == 1 and "nic tag 'nosuchtag'" in p.stderr, p.stderr
