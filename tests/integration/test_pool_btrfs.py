"""btrfs pools: quotas, compression, devices, import/export, scrub, crash safety."""
import json
import os
import re
import subprocess
import uuid

import pytest

from conftest import drop_pool, make_pool, program


def dd(path, mib, check=True):
    """Write mib MiB of incompressible data; returns dd's result."""
    return subprocess.run(["dd", "if=/dev/urandom", f"of={path}", "bs=1M", f"count={mib}",
                           "conv=fsync"], capture_output=True, text=True, check=check)


def subvolumes(pool):
    out = subprocess.run(["btrfs", "subvolume", "list", "-o" if False else "-a", pool.mnt],
                         capture_output=True, text=True, check=True).stdout
    return sorted(l.split(" path ")[1].replace("<FS_TREE>/", "") for l in out.splitlines())


def test_quota_enforced(btrfs_pool):
    pool = btrfs_pool
    pool.adm("create", "-o", "quota=20M", "zones/q")
    r = dd(pool.path("zones/q/big"), 40, check=False)
    assert r.returncode != 0 and "Disk quota exceeded" in r.stderr
    # Only that dataset is limited.
    pool.adm("create", "zones/free")
    dd(pool.path("zones/free/big"), 40)
    used = int(pool.adm("get", "-H", "-p", "-o", "value", "used", "zones/q").stdout)
    assert 10 << 20 < used <= 21 << 20
    assert "smaller than" in pool.fails("set", "quota=5M", "zones/q")
    pool.adm("set", "quota=none", "zones/q")
    dd(pool.path("zones/q/more"), 10)
    assert pool.adm("get", "-H", "-o", "value", "quota", "zones/q").stdout.strip() == "none"


def test_child_and_clone_cannot_escape_parent_quota(btrfs_pool):
    pool = btrfs_pool
    pool.adm("create", "zones/img")
    dd(pool.path("zones/img/base"), 30)
    pool.adm("snapshot", "zones/img@final")
    pool.adm("create", "-o", "quota=20M", "zones/zone")
    pool.adm("create", "zones/zone/data")
    r = dd(pool.path("zones/zone/data/big"), 40, check=False)
    assert "Disk quota exceeded" in r.stderr
    subprocess.run(["rm", "-f", pool.path("zones/zone/data/big")], check=True)
    subprocess.run(["sync"], check=True)
    # A clone of a 30 MiB image under a 20 MiB quota: the image is not charged, its writes are.
    pool.adm("clone", "zones/img@final", "zones/zone/root")
    assert os.path.getsize(pool.path("zones/zone/root/base")) == 30 << 20
    r = dd(pool.path("zones/zone/root/new"), 40, check=False)
    assert "Disk quota exceeded" in r.stderr
    avail = int(pool.adm("get", "-H", "-p", "-o", "value", "avail", "zones/zone/root").stdout)
    assert avail < 20 << 20


def used(pool, name):
    subprocess.run(["btrfs", "filesystem", "sync", pool.mnt], check=True)
    return int(pool.adm("get", "-H", "-p", "-o", "value", "used", name).stdout)


def test_moving_a_dataset_moves_its_charge(btrfs_pool):
    pool = btrfs_pool
    pool.adm("create", "-o", "quota=40M", "zones/a")
    pool.adm("create", "-o", "quota=40M", "zones/b")
    pool.adm("create", "zones/a/x")
    dd(pool.path("zones/a/x/data"), 25)
    pool.adm("snapshot", "zones/a/x@s")
    assert used(pool, "zones/a") > 24 << 20
    pool.adm("rename", "zones/a/x", "zones/b/x")
    assert used(pool, "zones/a") < 1 << 20
    assert used(pool, "zones/b") > 24 << 20
    # zones/a has its room back; zones/b is held to its quota with x inside.
    dd(pool.path("zones/a/new"), 30)
    r = dd(pool.path("zones/b/x/more"), 30, check=False)
    assert "Disk quota exceeded" in r.stderr


def test_compression(btrfs_pool):
    pool = btrfs_pool
    pool.adm("create", "-o", "compression=zstd", "zones/c")
    assert os.getxattr(pool.path("zones/c"), "btrfs.compression") == b"zstd"
    pool.adm("create", "zones/c/child")  # inherits
    assert os.getxattr(pool.path("zones/c/child"), "btrfs.compression") == b"zstd"
    with open(pool.path("zones/c/text"), "wb") as f:
        f.write(b"sable " * 2000000)
    pool.adm("set", "compression=off", "zones/c")
    assert pool.adm("get", "-H", "-o", "value", "compression", "zones/c").stdout == "off\n"


def test_export_import(root):
    pool = make_pool(root, "btrfs")
    pool.adm("create", "zones/keep")
    with open(pool.path("zones/keep/f"), "w") as f:
        f.write("still here")
    pool.adm("export", "zones")
    p = pool.adm("list", check=False)
    assert p.returncode == 1 and "not imported" in p.stderr
    assert "not imported" in pool.adm("export", "zones", check=False).stderr
    pool.adm("import")  # every recorded pool
    assert open(pool.path("zones/keep/f")).read() == "still here"
    assert "already imported" in pool.adm("import", "zones", check=False).stderr
    status = pool.adm("status", "zones").stdout
    assert "state: ONLINE" in status and "backend: btrfs" in status
    drop_pool(pool)


def test_import_by_label(root):
    """A node config that knows nothing of the pool: it is found by its label.

    The pool gets a name no other filesystem on this host carries, so that a
    pool of another root (a real node, a parallel run) cannot make the label
    ambiguous."""
    name = "lbl" + uuid.uuid4().hex[:12]
    root.run("pooladm", "create", name, "--size", "1G")
    root.run("pooladm", "create", f"{name}/keep")
    img = root.file(f"var/lib/sable/{name}.img")
    root.run("pooladm", "export", name)
    cfg = root.file("usbkey/config")
    lines = [l for l in open(cfg) if not l.startswith(f"pool_{name}_")]
    open(cfg, "w").writelines(lines)
    loop = subprocess.run(["losetup", "-f", "--show", img], capture_output=True, text=True,
                          check=True).stdout.strip()
    try:
        root.run("pooladm", "import", name)
        out = root.run("pooladm", "list", "-H", "-o", "name", "-r", name).stdout.split()
        assert out == [name, f"{name}/keep"]
        assert f"pool_{name}_uuid=" in open(cfg).read()
    finally:
        root.run("pooladm", "export", name, check=False)
        subprocess.run(["losetup", "-d", loop], check=False, capture_output=True)


def test_create_refuses_bad_devices(root):
    p = root.run("pooladm", "create", "zones", "/dev/nonexistent", check=False)
    assert p.returncode == 1 and p.stderr.count("\n") == 1
    img = root.file("existing.img")
    open(img, "w").write("x")
    p = root.run("pooladm", "create", "zones", "--size", "1G", "--file", img, check=False)
    assert p.returncode == 1 and "exists" in p.stderr
    assert open(img).read() == "x"
    assert not os.path.exists(root.file("zones")) or os.listdir(root.file("zones")) == []
    p = root.run("pooladm", "create", "Zones!", "--size", "1G", check=False)
    assert p.returncode == 1 and "invalid pool name" in p.stderr


def test_raid1_scrub_finds_and_repairs_corruption(root):
    files = [root.file(f"d{i}.img") for i in range(2)]
    loops = []
    for f in files:
        subprocess.run(["truncate", "-s", "512M", f], check=True)
        loops.append(subprocess.run(["losetup", "-f", "--show", f], capture_output=True,
                                    text=True, check=True).stdout.strip())
    try:
        root.run("pooladm", "create", "zones", *loops, "--raid1")
        status = root.run("pooladm", "status").stdout
        assert "raid1" in status and all(l in status for l in loops)
        root.run("pooladm", "create", "zones/data")
        dd(root.file("zones/data/blob"), 100)
        before = subprocess.run(["sha256sum", root.file("zones/data/blob")],
                                capture_output=True, text=True).stdout.split()[0]
        root.run("pooladm", "export", "zones")
        # Damage one mirror in the middle: data extents live there, copies are on the other.
        with open(files[1], "r+b") as f:
            f.seek(200 << 20)
            f.write(b"\xa5" * (40 << 20))
        root.run("pooladm", "import", "zones")
        out = root.run("pooladm", "scrub", "zones").stdout
        m = re.search(r"(\d+) checksum errors.* (\d+) corrected, (\d+) uncorrectable", out)
        assert m and int(m.group(1)) > 0 and int(m.group(2)) > 0 and m.group(3) == "0", out
        after = subprocess.run(["sha256sum", root.file("zones/data/blob")],
                               capture_output=True, text=True).stdout.split()[0]
        assert after == before
        root.run("pooladm", "export", "zones")
    finally:
        for l in loops:
            subprocess.run(["losetup", "-d", l], check=False)


def test_full_pool_fails_cleanly(root):
    pool = make_pool(root, "btrfs", size="256M")
    pool.adm("create", "zones/fill")
    dd(pool.path("zones/fill/x"), 400, check=False)
    subprocess.run(["sync"], check=True)
    before = pool.state()
    p = pool.adm("create", "-V", "64M", "zones/v", check=False)
    # A sparse volume may fit in metadata; a clone or dataset either fully exists or not at all.
    if p.returncode != 0:
        assert p.stderr.count("\n") == 1
        assert pool.state() == before
    drop_pool(pool)


# Crash safety: kill -9 at every step of the multi-step operations.
SCENARIOS = {
    "create": (["create", "zones/new"], ["create:begin", "create:subvol", "create:commit"]),
    "snapshot": (["snapshot", "zones/base@s2"],
                 ["snapshot:begin", "snapshot:subvol", "snapshot:commit"]),
    "clone": (["clone", "zones/base@s1", "zones/c"],
              ["clone:begin", "clone:subvol", "clone:commit"]),
    "rollback": (["rollback", "-r", "zones/base@s1"],
                 ["rollback:begin", "rollback:snapshot", "rollback:child", "rollback:aside",
                  "rollback:swapped", "rollback:commit"]),
    "destroy": (["destroy", "-r", "zones/base/kid"], ["destroy:commit"]),
    "rename": (["rename", "zones/base/kid", "zones/base/kid2"], ["rename:begin", "rename:moved"]),
    "move": (["rename", "zones/base/kid", "zones/other/kid"],
             ["rename:begin", "rename:regrouped", "rename:moved"]),
}


def setup_crash_pool(pool):
    pool.adm("create", "zones/other")
    pool.adm("create", "zones/base")
    pool.adm("create", "zones/base/kid")
    with open(pool.path("zones/base/file"), "w") as f:
        f.write("one")
    pool.adm("snapshot", "zones/base@s1")
    with open(pool.path("zones/base/file"), "w") as f:
        f.write("two")
    pool.adm("snapshot", "zones/base@later")
    with open(pool.path("zones/base/kid/k"), "w") as f:
        f.write("kid")


def fresh_crash_pool(root, backend):
    subprocess.run(["rm", "-rf", root.file("zones"), root.file("var"), root.file("usbkey")],
                   check=True)
    pool = make_pool(root, backend)
    setup_crash_pool(pool)
    return pool


@pytest.mark.parametrize("backend", ["btrfs", "dir"])
@pytest.mark.parametrize("op", sorted(SCENARIOS))
def test_kill_at_every_step(root, backend, op):
    args, points = SCENARIOS[op]
    pool = fresh_crash_pool(root, backend)
    old = pool.state()
    pool.adm(*args)
    new = pool.state()
    drop_pool(pool)
    for point in points:
        pool = fresh_crash_pool(root, backend)
        env = dict(root.env, SABLE_FAULT_KILL=point)
        p = subprocess.run([program("pooladm"), *args], env=env, capture_output=True)
        assert p.returncode == -9, (point, p.returncode, p.stderr)
        # Readers see the old or the new list, never a half-made one...
        assert pool.state()[0] in (old[0], new[0]), point
        # ...and the next command repairs (or finishes) before doing its own work.
        pool.adm(*args, check=False)
        assert pool.state() == new, point
        db = pool.db()
        assert "pending" not in db, (point, db.get("pending"))
        assert os.listdir(os.path.join(pool.mnt, ".sable", "tmp")) == [], point
        snaps = {v["guid"] for d in db["datasets"].values() for v in d["snapshots"].values()}
        assert set(os.listdir(os.path.join(pool.mnt, ".sable", "snapshots"))) == snaps, point
        if backend == "btrfs":
            names = [n for n in db["datasets"] if n != "zones"]
            subs = [s for s in subvolumes(pool) if not s.startswith(".sable/")]
            assert sorted(subs) == sorted(n[len("zones/"):] for n in names), (point, subs)
        drop_pool(pool)


def test_sysinfo_shows_the_pool(btrfs_pool):
    info = btrfs_pool.root.json("sysinfo")
    assert info["Zpool"] == "zones"
    assert info["Zpool Profile"] == "striped"
    assert info["Zpool Backend"] == "btrfs"
    assert info["Zpool Size in GiB"] == 1
    assert info["Zpool Disks"].startswith("/dev/loop")
    btrfs_pool.adm("export", "zones")
    assert "Zpool" not in btrfs_pool.root.json("sysinfo")
    btrfs_pool.adm("import", "zones")
