"""pooladm end to end, on a loop-backed btrfs pool and on the dir backend."""
import hashlib
import json
import os
import stat
import subprocess

import pytest

from conftest import drop_pool, make_pool, program


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def tree(top):
    """Every entry below top: type, mode, owner, size, content hash or link target."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, top)
            if stat.S_ISREG(st.st_mode):
                what = hashlib.sha256(read(p)).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                what = os.readlink(p)
            else:
                what = ""
            out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid,
                        st.st_gid, st.st_size if not stat.S_ISDIR(st.st_mode) else 0, what)
    return out


def test_create_list_destroy(pool):
    pool.adm("create", "zones/a")
    pool.adm("create", "-p", "zones/b/c/d")
    assert pool.names() == ["zones", "zones/a", "zones/b", "zones/b/c", "zones/b/c/d"]
    assert os.path.isdir(pool.path("zones/b/c/d"))
    out = pool.adm("list").stdout.splitlines()
    assert out[0].split() == ["NAME", "USED", "AVAIL", "REFER", "MOUNTPOINT"]
    assert out[2].split()[0] == "zones/a" and out[2].split()[-1] == pool.path("zones/a")
    rows = pool.adm("list", "-H", "-p", "-o", "name,type,quota", "zones/a").stdout
    assert rows == "zones/a\tfilesystem\t0\n"
    assert pool.names("-r", "zones/b") == ["zones/b", "zones/b/c", "zones/b/c/d"]
    pool.fails("destroy", "zones/b")  # has children
    pool.adm("destroy", "-r", "zones/b")
    pool.adm("destroy", "zones/a")
    assert pool.names() == ["zones"]
    assert sorted(os.listdir(pool.mnt)) == [".sable"]


BAD_NAMES = ["zones/../etc", "zones//a", "zones/a/", "/zones/a", "zones/.hidden",
             "zones/-x", "zones/a b", "zones/" + "x" * 256, "zones/a@b@c", "zones@snap",
             "zones/a@", "zones/a@b/c", "other/a", "", "zones/a\nb"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names(pool, name):
    err = pool.fails("create", name)
    assert repr(name)[1:-1][:20] in err or "'" in err


def test_bad_input_changes_nothing(pool):
    pool.adm("create", "zones/a")
    pool.adm("snapshot", "zones/a@s")
    pool.fails("create", "zones/a")
    pool.fails("create", "zones/x/y")  # no parent without -p
    pool.fails("snapshot", "zones/a@s")
    pool.fails("snapshot", "zones/missing@s")
    pool.fails("clone", "zones/a@nope", "zones/c")
    pool.fails("clone", "zones/a@s", "zones/a")
    pool.fails("destroy", "zones")
    pool.fails("destroy", "zones/a")  # has a snapshot
    pool.fails("rollback", "zones/a@nope")
    pool.fails("rename", "zones/a", "zones/a/b")
    pool.fails("set", "used=1", "zones/a")
    pool.fails("set", "colour=red", "zones/a")
    pool.fails("set", "compression=gzip-9", "zones/a")
    pool.fails("create", "-V", "0", "zones/v")
    p = pool.adm("frobnicate", check=False)
    assert p.returncode == 2


def test_snapshot_clone_rollback_promote(pool):
    pool.adm("create", "zones/img")
    write(pool.path("zones/img/etc/motd"), b"v1\n")
    pool.adm("snapshot", "zones/img@v1")
    write(pool.path("zones/img/etc/motd"), b"v2\n")
    pool.adm("snapshot", "zones/img@v2")
    write(pool.path("zones/img/etc/motd"), b"v3\n")

    # A zone cannot see snapshots: they are not in the dataset's tree.
    assert sorted(os.listdir(pool.path("zones/img"))) == ["etc"]

    pool.adm("clone", "zones/img@v1", "zones/z1")
    assert read(pool.path("zones/z1/etc/motd")) == b"v1\n"
    write(pool.path("zones/z1/etc/motd"), b"mine\n")
    assert read(pool.path("zones/img/etc/motd")) == b"v3\n"
    origin = pool.adm("list", "-H", "-o", "origin", "zones/z1").stdout.strip()
    assert origin == "zones/img@v1"

    # Rollback: newer snapshots block it unless -r.
    pool.fails("rollback", "zones/img@v1")
    pool.adm("rollback", "zones/img@v2")
    assert read(pool.path("zones/img/etc/motd")) == b"v2\n"
    pool.adm("rollback", "-r", "zones/img@v1")
    assert read(pool.path("zones/img/etc/motd")) == b"v1\n"
    assert pool.names("-t", "snapshot") == ["zones/img@v1"]

    # Destroying the origin needs -R while the clone exists; promote frees it.
    pool.fails("destroy", "zones/img@v1")
    pool.adm("promote", "zones/z1")
    assert pool.adm("list", "-H", "-o", "origin", "zones/img").stdout.strip() == "zones/z1@v1"
    assert pool.names("-t", "snapshot") == ["zones/z1@v1"]
    pool.adm("destroy", "zones/img")
    assert read(pool.path("zones/z1/etc/motd")) == b"mine\n"
    pool.adm("destroy", "-r", "zones/z1")
    assert pool.names("-t", "all") == ["zones"]


def test_rollback_keeps_children(pool):
    pool.adm("create", "zones/z")
    pool.adm("create", "zones/z/data")
    write(pool.path("zones/z/data/keep"), b"child data")
    write(pool.path("zones/z/file"), b"before")
    pool.adm("snapshot", "zones/z@s")
    write(pool.path("zones/z/file"), b"after")
    pool.adm("rollback", "zones/z@s")
    assert read(pool.path("zones/z/file")) == b"before"
    assert read(pool.path("zones/z/data/keep")) == b"child data"
    pool.adm("destroy", "-r", "zones/z")


def test_destroy_dependents(pool):
    pool.adm("create", "zones/img")
    pool.adm("snapshot", "zones/img@final")
    pool.adm("create", "zones/vms")
    pool.adm("clone", "zones/img@final", "zones/vms/a")
    pool.adm("clone", "zones/img@final", "zones/vms/b")
    pool.adm("snapshot", "zones/vms/a@x")
    err = pool.fails("destroy", "-r", "zones/img")
    assert "dependent clones" in err and "-R" in err
    pool.adm("destroy", "-R", "zones/img")
    assert pool.names("-t", "all") == ["zones", "zones/vms"]


def test_rename(pool):
    pool.adm("create", "-p", "zones/a/b")
    pool.adm("snapshot", "zones/a@s")
    write(pool.path("zones/a/b/f"), b"x")
    pool.adm("rename", "zones/a", "zones/c")
    assert pool.names("-t", "all") == ["zones", "zones/c", "zones/c@s", "zones/c/b"]
    assert read(pool.path("zones/c/b/f")) == b"x"
    pool.adm("rename", "zones/c@s", "zones/c@t")
    assert pool.names("-t", "snapshot") == ["zones/c@t"]
    pool.adm("destroy", "-r", "zones/c")


def test_volumes(pool):
    pool.adm("create", "-V", "64M", "zones/disk0")
    f = pool.path("zones/disk0/volume")
    assert os.path.getsize(f) == 64 << 20
    with open(f, "r+b") as fh:
        fh.seek(10 << 20)
        fh.write(b"boot sector")
    pool.adm("snapshot", "zones/disk0@s")
    pool.adm("clone", "zones/disk0@s", "zones/disk1")
    assert read(pool.path("zones/disk1/volume")) == read(f)
    rows = pool.adm("list", "-H", "-p", "-o", "name,type,volsize", "zones/disk1").stdout
    assert rows == f"zones/disk1\tvolume\t{64 << 20}\n"
    pool.adm("set", "volsize=128M", "zones/disk1")
    assert os.path.getsize(pool.path("zones/disk1/volume")) == 128 << 20
    pool.fails("set", "volsize=32M", "zones/disk1")
    pool.fails("create", "zones/disk0/child")
    pool.adm("destroy", "zones/disk1")
    pool.adm("destroy", "-r", "zones/disk0")


def test_send_receive_round_trip(pool):
    pool.adm("create", "zones/src")
    src = pool.path("zones/src")
    write(os.path.join(src, "etc/hostname"), b"node\n")
    write(os.path.join(src, "bin/tool"), os.urandom(300000))
    os.chmod(os.path.join(src, "bin/tool"), 0o4755)
    os.symlink("../etc/hostname", os.path.join(src, "bin/link"))
    os.link(os.path.join(src, "etc/hostname"), os.path.join(src, "etc/hard"))
    os.makedirs(os.path.join(src, "empty"))
    os.chown(os.path.join(src, "etc/hostname"), 1234, 5678)
    pool.adm("snapshot", "zones/src@1")
    stream = pool.root.file("stream1")
    with open(stream, "wb") as f:
        p = subprocess.run([program("pooladm"), "send", "zones/src@1"], env=pool.root.env,
                           stdout=f, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    with open(stream, "rb") as f:
        p = subprocess.run([program("pooladm"), "receive", "zones/dst"], env=pool.root.env,
                           stdin=f, capture_output=True)
    assert p.returncode == 0, p.stderr
    assert tree(pool.path("zones/dst")) == tree(src)
    assert pool.names("-t", "snapshot", "-r", "zones/dst") == ["zones/dst@1"]
    os.unlink(stream)

    if pool.backend == "btrfs":
        # Incremental: only the changes travel; the target rolls forward.
        write(os.path.join(src, "etc/hostname"), b"renamed\n")
        os.unlink(os.path.join(src, "bin/tool"))
        pool.adm("snapshot", "zones/src@2")
        send = subprocess.Popen([program("pooladm"), "send", "-i", "@1",
                                 "zones/src@2"], env=pool.root.env, stdout=subprocess.PIPE)
        p = subprocess.run([program("pooladm"), "receive", "zones/dst"],
                           env=pool.root.env, stdin=send.stdout, capture_output=True)
        send.stdout.close()
        assert send.wait() == 0 and p.returncode == 0, p.stderr
        assert tree(pool.path("zones/dst")) == tree(src)
        assert pool.names("-t", "snapshot", "-r", "zones/dst") == ["zones/dst@1", "zones/dst@2"]
    pool.adm("destroy", "-r", "zones/dst")
    pool.adm("destroy", "-r", "zones/src")


def test_receive_rejects_garbage(pool):
    for data in [b"", b"hello\n", b"SABLE-SEND/1 {\"format\": 1}\n", b"SABLE-SEND/1 not json\n"]:
        p = pool.adm("receive", "zones/x", check=False, input=data.decode())
        assert p.returncode == 1 and p.stderr.count("\n") == 1, p.stderr
    assert pool.names("-t", "all") == ["zones"]
    assert os.listdir(os.path.join(pool.mnt, ".sable", "tmp")) == []


def test_busy_dataset_is_refused(pool):
    pool.adm("create", "zones/z")
    pool.adm("snapshot", "zones/z@s")
    mnt = pool.path("zones/z/proc")
    os.makedirs(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", mnt], check=True)
    try:
        assert "busy" in pool.fails("destroy", "-r", "zones/z")
        assert "busy" in pool.fails("rollback", "zones/z@s")
        assert "busy" in pool.fails("rename", "zones/z", "zones/y")
    finally:
        subprocess.run(["umount", mnt], check=True)
    pool.adm("destroy", "-r", "zones/z")


def test_damaged_database_is_an_error(pool):
    db = os.path.join(pool.mnt, ".sable", "pool.json")
    good = open(db).read()
    with open(db, "w") as f:
        f.write('{"version": 1, "datasets": {"zones": 7}, "next": {}}')
    p = pool.adm("list", check=False)
    assert p.returncode == 1 and "damaged" in p.stderr and p.stderr.count("\n") == 1
    with open(db, "w") as f:
        f.write(good)
    assert pool.names() == ["zones"]


def test_dir_backend_refuses_what_it_cannot_do(root):
    pool = make_pool(root, "dir")
    pool.adm("create", "zones/a")
    assert "accounting" in pool.fails("set", "quota=1G", "zones/a")
    assert "dir" in pool.fails("set", "compression=zstd", "zones/a")
    assert "scrub" in pool.fails("scrub", "zones")
    drop_pool(pool)
