"""The pool: snapshot and clone latency, O(1) clones, list at scale, clone space.

Each figure runs in a scratch SABLE_ROOT on a loop-backed btrfs pool and is
compared with the bare btrfs-progs command doing the same work on the same
pool in the same run (the yardstick: what the kernel costs without Sable's
names, database and crash journal).
"""
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from harness import program, row, drop_node_cgroups

RUNS = 30


class Scratch:
    def __init__(self, size="8G"):
        self.root = tempfile.mkdtemp(prefix="sable-bench-")
        self.env = dict(os.environ, SABLE_ROOT=self.root)
        self.env.pop("SABLE_LOG_LEVEL", None)
        self.adm("create", "zones", "--size", size)
        self.mnt = os.path.join(self.root, "zones")

    def adm(self, *args):
        subprocess.run([program("pooladm"), *args], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def close(self):
        subprocess.run([program("pooladm"), "export", "zones"], env=self.env, check=False)
        drop_node_cgroups(self.root)
        shutil.rmtree(self.root, ignore_errors=True)


def timed(cmd, env=None):
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def fill(path, mib):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "data"), "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(mib):
            f.write(chunk)
    subprocess.run(["sync"], check=True)


def rows():
    s = Scratch()
    try:
        s.adm("create", "zones/img")
        fill(os.path.join(s.mnt, "img"), 10)
        s.adm("create", "zones/big")
        fill(os.path.join(s.mnt, "big"), 2048)
        bare = os.path.join(s.mnt, "bare")
        subprocess.run(["btrfs", "subvolume", "create", bare], check=True,
                       stdout=subprocess.DEVNULL)

        # Snapshot: pooladm snapshot vs btrfs subvolume snapshot -r, alternating.
        snap, yard = [], []
        for i in range(RUNS):
            snap.append(timed([program("pooladm"), "snapshot", f"zones/img@s{i}"], s.env))
            yard.append(timed(["btrfs", "subvolume", "snapshot", "-r", os.path.join(s.mnt, "img"),
                               os.path.join(bare, f"s{i}")]))
        yield row("pooladm snapshot (median)", statistics.median(snap),
                  "btrfs subvolume snapshot -r", statistics.median(yard), "s")

        # Clone: pooladm clone vs btrfs subvolume snapshot (writable).
        clone, yard = [], []
        for i in range(RUNS):
            clone.append(timed([program("pooladm"), "clone", "zones/img@s0", f"zones/c{i}"], s.env))
            yard.append(timed(["btrfs", "subvolume", "snapshot",
                               os.path.join(bare, "s0"), os.path.join(bare, f"c{i}")]))
        yield row("pooladm clone (median)", statistics.median(clone),
                  "btrfs subvolume snapshot", statistics.median(yard), "s")

        # O(1): cloning 2 GiB costs what cloning 10 MiB costs.
        s.adm("snapshot", "zones/big@s")
        big = [timed([program("pooladm"), "clone", "zones/big@s", f"zones/b{i}"], s.env)
               for i in range(RUNS)]
        yield row("clone 2 GiB / clone 10 MiB (time)", statistics.median(big),
                  "clone of 10 MiB", statistics.median(clone), "s")
    finally:
        s.close()

    # list at scale: 1,000 datasets and 1,000 snapshots.
    s = Scratch(size="4G")
    try:
        s.adm("create", "zones/d")
        batch = []
        for i in range(1000):
            batch.append(subprocess.Popen(
                ["sh", "-c", f"{program('pooladm')} create zones/d/{i} && "
                             f"{program('pooladm')} snapshot zones/d/{i}@s"], env=s.env))
            if len(batch) == 2:
                for p in batch:
                    assert p.wait() == 0
                batch = []
        for p in batch:
            assert p.wait() == 0
        from harness import compare
        r = compare("pooladm list -t all (2,000 rows)", f"{program('pooladm')} list -t all",
                    "btrfs subvolume list", f"btrfs subvolume list {s.mnt}", runs=20,
                    env=s.env)
        yield r
    finally:
        s.close()

    # Space: 200 clones of one image snapshot.
    s = Scratch(size="4G")
    try:
        s.adm("create", "zones/img")
        fill(os.path.join(s.mnt, "img"), 256)
        s.adm("snapshot", "zones/img@final")
        s.adm("create", "zones/vms")

        def pool_used():
            subprocess.run(["btrfs", "filesystem", "sync", s.mnt], check=True)
            st = os.statvfs(s.mnt)
            return (st.f_blocks - st.f_bfree) * st.f_frsize

        before = pool_used()
        for i in range(200):
            s.adm("clone", "zones/img@final", f"zones/vms/{i}")
        after = pool_used()
        yield row("space of 200 clones / image size", (after - before) / (256 << 20),
                  "5 % budget", 0.05, "x")
    finally:
        s.close()
