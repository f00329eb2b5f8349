"""Images: import throughput against zstd | tar, and provisioning from a big image.

A scratch SABLE_ROOT with a loop-backed pool. The yardsticks, measured in
the same run:

- import: `imgadm install` of a zstd tar image (a tree of real files: this
  host's /usr/include and /usr/share/doc, as root/) against
  `zstd -dc FILE | tar -x -C DIR` of the same file into a directory of the
  same pool; throughput = file size / time, medians of 5 each;
- provisioning: `vmadm create` (to running) from an installed 1 GiB image
  against the same from a 10 MiB image (a clone costs the same whatever
  the image's size), medians of 15 each.
"""
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid as uuidlib

from harness import TOP, program, row, drop_node_cgroups

ZERO = "00000000-0000-0000-0000-000000000000"


class Node:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="sable-bench-")
        self.work = tempfile.mkdtemp(prefix="sable-bench-img-")
        os.makedirs(os.path.join(self.root, "usbkey"))
        with open(os.path.join(self.root, "usbkey", "config"), "w") as f:
            f.write("zone_uid_base=1100000000\n")
        self.env = dict(os.environ, SABLE_ROOT=self.root)
        self.run("pooladm", "create", "zones", "--size", "12G")

    def run(self, prog, *args, input=None):
        return subprocess.run([program(prog), *args], env=self.env, input=input, text=True,
                              check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def image(self, name, tree_args):
        """A zstd tar of root/ made by tar from tree_args; its manifest."""
        tar = os.path.join(self.work, name + ".tar")
        subprocess.run(["tar", "--numeric-owner", "-cf", tar, *tree_args], check=True)
        subprocess.run(["zstd", "-q", "-f", "--rm", "-3", tar], check=True)
        path = tar + ".zst"
        h = hashlib.sha1()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        m = {"v": 2, "uuid": str(uuidlib.uuid4()), "owner": ZERO, "name": name,
             "version": "1", "type": "lx-dataset", "os": "linux", "state": "active",
             "disabled": False, "public": True, "published_at": "2026-11-22T00:00:00.000Z",
             "files": [{"sha1": h.hexdigest(), "size": os.path.getsize(path),
                        "compression": "zstd"}]}
        mpath = os.path.join(self.work, name + ".json")
        with open(mpath, "w") as f:
            json.dump(m, f)
        return m, mpath, path

    def close(self):
        for u in self.run("vmadm", "lookup").stdout.split():
            self.run("vmadm", "delete", u)
        subprocess.run([program("pooladm"), "export", "zones"], env=self.env)
        drop_node_cgroups(self.root)
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.work, ignore_errors=True)


def busybox_root():
    out = subprocess.run([os.path.join(TOP, "scripts", "mkroot-busybox"), "--cache"],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1]


def import_rows(n):
    m, mpath, path = n.image("tree", ["--transform", "s,^,root/,rSh", "-C", "/usr",
                                      "include", "share/doc"])
    size = os.path.getsize(path)
    ours, yard = [], []
    for i in range(5):
        t0 = time.perf_counter()
        n.run("imgadm", "install", "-q", "-m", mpath, "-f", path)
        ours.append(time.perf_counter() - t0)
        n.run("imgadm", "delete", m["uuid"])
        n.run("pooladm", "create", f"zones/untar{i}")
        dest = os.path.join(n.root, "zones", f"untar{i}")
        t0 = time.perf_counter()
        subprocess.run(f"zstd -dc {path} | tar -x -C {dest}", shell=True, check=True)
        yard.append(time.perf_counter() - t0)
        n.run("pooladm", "destroy", f"zones/untar{i}")
    mib = size / (1 << 20)
    yield row(f"import throughput, {mib:.0f} MiB zstd tar (MiB/s)",
              mib / statistics.median(ours), "zstd -dc | tar -x (MiB/s)",
              mib / statistics.median(yard), "MiB/s")


def provision_rows(n):
    bb = busybox_root()
    trees = {}
    for name, mib in (("small", 8), ("big", 1022)):
        d = os.path.join(n.work, name)
        os.makedirs(d)
        subprocess.run(["cp", "-a", bb + "/.", d], check=True)
        with open(os.path.join(d, "blob"), "wb") as f:
            for _ in range(mib):
                f.write(os.urandom(1 << 20))
        trees[name] = n.image(name, ["--transform", "s,^\\.,root,rSh", "-C", d, "."])
    (small_m, small_mp, small_p), (big_m, big_mp, big_p) = trees["small"], trees["big"]
    for mp, p in ((small_mp, small_p), (big_mp, big_p)):
        n.run("imgadm", "install", "-q", "-m", mp, "-f", p)
    times = {small_m["uuid"]: [], big_m["uuid"]: []}
    for i in range(16):
        for img in times:
            payload = json.dumps({"brand": "lx", "image_uuid": img, "max_physical_memory": 64})
            t0 = time.perf_counter()
            u = n.run("vmadm", "create", input=payload).stderr.split()[-1]
            dt = time.perf_counter() - t0
            if i:  # the first of each is a warm-up
                times[img].append(dt)
            n.run("vmadm", "delete", u)
    yield row("vmadm create from a 1 GiB image (median)",
              statistics.median(times[big_m["uuid"]]),
              "from a 10 MiB image (median)", statistics.median(times[small_m["uuid"]]), "s")


def rows():
    n = Node()
    try:
        yield from import_rows(n)
        yield from provision_rows(n)
    finally:
        n.close()
