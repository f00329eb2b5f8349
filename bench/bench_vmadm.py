"""vmadm: create to running, creates at scale, list and lookup with 500 VMs.

A scratch SABLE_ROOT with a loop-backed pool and the busybox lx image
(scripts/mkimage, installed with imgadm). The yardsticks, measured in the same run:

- create: the same work done with the primitives by hand (pooladm clone of
  the image, the zone config written by a script, zoneadm install, zoneadm
  boot), and the issue's budget of 50 ms (SmartOS takes seconds to minutes);
- 200 creates one after another: the first 20 against the last 20;
- list / lookup -j with 500 VMs: the budget of 100 ms, and `pooladm list`
  of the same 500 datasets.
"""
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid as uuidlib

from harness import TOP, hyperfine, program, row, drop_node_cgroups

PAYLOAD = {"brand": "lx", "max_physical_memory": 64, "quota": 1, "alias": "bench"}


class Node:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="sable-bench-")
        os.makedirs(os.path.join(self.root, "usbkey"))
        with open(os.path.join(self.root, "usbkey", "config"), "w") as f:
            f.write("zone_uid_base=1400000000\n")
        self.env = dict(os.environ, SABLE_ROOT=self.root)
        # var/run is a tmpfs, as on every host (see bench_zone.py).
        self.run_dir = os.path.join(self.root, "var", "run")
        os.makedirs(self.run_dir)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", self.run_dir],
                       check=True)
        self.run("pooladm", "create", "zones", "--size", "16G")
        out = os.path.join(self.root, "images")
        os.makedirs(out)
        subprocess.run([os.path.join(TOP, "scripts", "mkimage"), "busybox", out], check=True,
                       capture_output=True)
        manifest = [os.path.join(out, f) for f in os.listdir(out) if f.endswith(".json")][0]
        self.image = json.load(open(manifest))["uuid"]
        self.run("imgadm", "install", "-q", "-m", manifest, "-f",
                 manifest[:-len(".json")] + ".tar.zst")

    def run(self, prog, *args, input=None, check=True):
        return subprocess.run([program(prog), *args], env=self.env, input=input, text=True,
                              check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def create(self, **extra):
        body = dict(PAYLOAD, image_uuid=self.image, **extra)
        t0 = time.perf_counter()
        p = self.run("vmadm", "create", input=json.dumps(body))
        dt = time.perf_counter() - t0
        return p.stderr.split()[-1], dt

    def by_hand(self):
        """The primitives vmadm composes, as a script would run them."""
        u = str(uuidlib.uuid4())
        zp = os.path.join(self.root, "zones", u)
        t0 = time.perf_counter()
        self.run("pooladm", "clone", "-o", "quota=1G", f"zones/{self.image}@final", f"zones/{u}")
        os.makedirs(os.path.join(zp, "config"))
        with open(os.path.join(zp, "config", "zone.json"), "w") as f:
            json.dump({"uuid": u, "max_physical_memory": 64, "stop_signal": "SIGUSR2"}, f)
        self.run("zoneadm", "-z", u, "install")
        self.run("zoneadm", "-z", u, "boot")
        dt = time.perf_counter() - t0
        self.run("zoneadm", "-z", u, "halt")
        self.run("zoneadm", "-z", u, "uninstall")
        self.run("pooladm", "destroy", "-r", f"zones/{u}")
        return dt

    def close(self):
        for u in self.run("vmadm", "lookup", check=False).stdout.split():
            self.run("vmadm", "delete", u, check=False)
        self.run("pooladm", "export", "zones", check=False)
        subprocess.run(["umount", self.run_dir], check=False)
        drop_node_cgroups(self.root)
        shutil.rmtree(self.root, ignore_errors=True)


def rows():
    n = Node()
    try:
        # 200 running zones, created one after another on a fresh pool (before
        # any delete: btrfs removes deleted subvolumes later, in the background).
        times = [n.create()[1] for _ in range(200)]
        yield row("vmadm create: last 20 of 200 (median)", statistics.median(times[-20:]),
                  "first 20 (median)", statistics.median(times[:20]), "s")

        # One create at a time to running, deleted again between runs.
        ours, hand = [], []
        for _ in range(3):  # warm-up
            u, _ = n.create()
            n.run("vmadm", "delete", u)
        for _ in range(25):
            u, dt = n.create()
            ours.append(dt)
            state = json.loads(n.run("vmadm", "get", u).stdout)["state"]
            assert state == "running", state
            n.run("vmadm", "delete", u)
            hand.append(n.by_hand())
        yield row("vmadm create → running (25, beside 200 zones)", statistics.median(ours),
                  "the same by hand (clone, install, boot)", statistics.median(hand), "s")
        yield row("vmadm create → running (25, beside 200 zones)", statistics.median(ours),
                  "budget (issue 5)", 0.050, "s")

        # 500 VMs in all (300 more, stopped), then list and lookup.
        for _ in range(300):
            n.create(autoboot=False)
        count = len(n.run("vmadm", "lookup").stdout.split())
        assert count == 500, count
        vmadm = program("vmadm")
        a, b, c = hyperfine([f"{vmadm} list", f"{vmadm} lookup -j",
                             f"{program('pooladm')} list"], runs=20, warmup=2, env=n.env)
        yield row("vmadm list, 500 VMs", a, "budget (issue 5)", 0.100, "s")
        yield row("vmadm lookup -j, 500 VMs", b, "budget (issue 5)", 0.100, "s")
        yield row("vmadm list, 500 VMs", a, "pooladm list (500 datasets)", c, "s")
    finally:
        n.close()
