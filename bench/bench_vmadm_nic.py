"""vmadm create with one NIC, beside the same create without one (issue 7: < 20 ms more).

A scratch SABLE_ROOT with a loop-backed pool, the busybox lx image and two
networks: an etherstub, and a nic tag whose "physical" NIC is the host end
of a veth pair this bench makes (its far end in a namespace of its own).
The creates alternate (no NIC, etherstub NIC, tag NIC) so that drift on
this shared machine hits all three alike; each VM is deleted before the
next create.
"""
import os
import statistics
import subprocess
import uuid as uuidlib

from bench_vmadm import Node
from harness import row

ROUNDS = 25


def rows():
    tag = uuidlib.uuid4().hex[:6]
    ns, up, far = f"sbb-r-{tag}", f"sbbu{tag}", f"sbbr{tag}"
    n = Node()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "link", "add", up, "type", "veth", "peer", "name", far],
                       check=True)
        subprocess.run(["ip", "link", "set", far, "netns", ns], check=True)
        subprocess.run(["ip", "link", "set", up, "up"], check=True)
        mac = open(f"/sys/class/net/{up}/address").read().strip()
        n.run("nictagadm", "add", "external", mac)
        n.run("nictagadm", "add", "-l", "stub0")
        kinds = {
            "none": {},
            "stub": {"nics": [{"nic_tag": "stub0", "ips": ["198.18.0.10/24"]}]},
            "tag": {"nics": [{"nic_tag": "external", "ips": ["198.18.1.10/24"]}]},
        }
        times = {k: [] for k in kinds}
        for i in range(ROUNDS + 3):
            for k, extra in kinds.items():
                u, dt = n.create(**extra)
                n.run("vmadm", "delete", u)
                if i >= 3:  # warm-up
                    times[k].append(dt)
        none = statistics.median(times["none"])
        for k, name in (("stub", "an etherstub"), ("tag", "a nic tag")):
            t = statistics.median(times[k])
            yield row(f"vmadm create → running, one NIC on {name}", t,
                      "the same create without a NIC", none, "s")
            yield row(f"time one NIC on {name} adds to vmadm create", t - none,
                      "budget (issue 7)", 0.020, "s")
    finally:
        n.close()
        subprocess.run(["ip", "link", "del", up], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "del", ns])
