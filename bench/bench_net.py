"""Networks: TCP between two zones on one switch, against a bare veth pair.

Three paths between two network namespaces, measured with iperf3 (-t 5,
TCP, receiver's rate) in interleaved rounds so that the machine's swings
hit all three alike: (1) a bare veth pair, (2) veth + Linux bridge, (3)
Sable's path: veths on a bridge with the BPF port program attached with
link protection on (tests/helpers/netport drives lib/net's data path
directly on links made here). Medians over the rounds; the issue's figure
is Sable/bare >= 0.90. Then max_bandwidth=100 on one port, both ways,
against the 100 Mbit/s it promises. Addresses: 198.18.0.0/15 only.
"""
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid

from harness import BUILD, row

ROUNDS = 3
SECONDS = 5


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def ifindex(name):
    with open(f"/sys/class/net/{name}/ifindex") as f:
        return int(f.read())


def iperf(client_ns, server_ns, server_ip, reverse=False):
    """Gbit/s received, client → server (reverse: server → client)."""
    srv = subprocess.Popen(["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            p = subprocess.run(["ip", "netns", "exec", client_ns, "iperf3", "-c", server_ip,
                                "-t", str(SECONDS), "-J", *(["-R"] if reverse else [])],
                               capture_output=True, text=True)
            end = json.loads(p.stdout or "{}").get("end", {}) if p.returncode == 0 else {}
            if "sum_received" in end:
                return end["sum_received"]["bits_per_second"] / 1e9
            time.sleep(0.1)  # the server was not listening yet
        raise RuntimeError(f"iperf3 failed: {p.stdout[-300:]}")
    finally:
        srv.kill()
        srv.wait()


class Setup:
    """Namespaces and links of one path; all removed by close()."""

    def __init__(self):
        self.ns, self.links, self.detach = [], [], []

    def netns(self, name):
        sh("ip", "netns", "add", name)
        self.ns.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def close(self):
        for d in self.detach:
            subprocess.run(d, capture_output=True)
        for link in self.links:
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        for n in self.ns:
            subprocess.run(["ip", "netns", "del", n], capture_output=True)


def guest(s, ns, port, mac, ip, bridge):
    """A veth with its guest end eth0 in ns and its host end port on bridge."""
    sh("ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
    s.links.append(port)
    sh("ip", "-n", ns, "link", "set", "eth0", "address", mac)
    sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", "eth0")
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    sh("ip", "link", "set", port, "master", bridge, "up")


def build(kind, tag, tmp, cap=0):
    """Two namespaces joined by kind (bare, bridge, sable); (setup, ns a, ns b, b's IP)."""
    s = Setup()
    a, b = s.netns(tag + "a"), s.netns(tag + "b")
    try:
        if kind == "bare":
            sh("ip", "-n", a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
               "netns", b)
            for n, ip in ((a, "198.18.0.1"), (b, "198.18.0.2")):
                sh("ip", "-n", n, "addr", "add", ip + "/24", "dev", "eth0")
                sh("ip", "-n", n, "link", "set", "eth0", "up")
            return s, a, b, "198.18.0.2"
        bridge = tag + "s000001"
        sh("ip", "link", "add", bridge, "type", "bridge")
        s.links.append(bridge)
        sh("ip", "link", "set", bridge, "up")
        macs = {"a": "02:00:00:00:01:0a", "b": "02:00:00:00:01:0b"}
        ips = {"a": "198.18.0.1", "b": "198.18.0.2"}
        for g, n in (("a", a), ("b", b)):
            guest(s, n, f"{tag}v00000{g}", macs[g], ips[g], bridge)
        if kind == "sable":
            netport = os.path.join(BUILD, "tests", "helpers", "netport")
            sh(netport, "switch-attach", tag, "t", str(ifindex(bridge)), "0")
            s.detach.append([netport, "switch-detach", tag, "t", "0"])
            for g in "ab":
                nic = {"mac": macs[g], "nic_tag": "t", "ips": [ips[g] + "/24"],
                       "max_bandwidth": cap if g == "a" else 0}
                path = os.path.join(tmp, f"{tag}{g}.json")
                with open(path, "w") as f:
                    json.dump(nic, f)
                port = f"{tag}v00000{g}"
                sh(netport, "attach", tag, "t", str(ifindex(port)), "peer", path)
                s.detach.insert(0, [netport, "detach", tag, "t", str(ifindex(port)), macs[g]])
        return s, a, b, ips["b"]
    except BaseException:
        s.close()
        raise


def measure(kind, tmp, cap=0, reverse=False):
    tag = "bn" + uuid.uuid4().hex[:6]
    s, a, b, ip = build(kind, tag, tmp, cap)
    try:
        return iperf(a, b, ip, reverse)
    finally:
        s.close()


def rows():
    if os.geteuid() != 0:
        return []
    res = {"bare": [], "bridge": [], "sable": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(ROUNDS):
            for kind in res:
                res[kind].append(measure(kind, tmp))
        out_of = measure("sable", tmp, cap=100) * 1000
        into = measure("sable", tmp, cap=100, reverse=True) * 1000
    med = {k: statistics.median(v) for k, v in res.items()}
    return [
        row("TCP zone to zone, protection on (iperf3 5 s)", med["sable"], "bare veth pair",
            med["bare"], "Gbit/s"),
        row("TCP zone to zone, protection on (iperf3 5 s)", med["sable"], "veth + bridge",
            med["bridge"], "Gbit/s"),
        row("max_bandwidth=100, out of the zone", out_of, "the cap", 100.0, "Mbit/s"),
        row("max_bandwidth=100, into the zone", into, "the cap", 100.0, "Mbit/s"),
    ]
