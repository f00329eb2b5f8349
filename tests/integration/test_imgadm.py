"""imgadm: installing, importing, creating and publishing images.

Images here are made by the tests themselves (tarfile, zstd) so that every
bad case can be built: absolute paths, "..", device nodes, links out of the
root, wrong hashes and sizes, truncated files. Each bad install must fail
with one clear line, leave no dataset, manifest or intent, and write
nothing outside the pool (a canary file outside must stay as it is).
"""
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
import uuid as uuidlib

import pytest

from conftest import BUILD, TOP, Root, drop_pool, make_pool, program

ZERO = "00000000-0000-0000-0000-000000000000"


def busybox_root():
    p = subprocess.run([os.path.join(TOP, "scripts", "mkroot-busybox"), "--cache"],
                       capture_output=True, text=True, check=True)
    return p.stdout.strip().splitlines()[-1]


def manifest_for(path, **over):
    data = open(path, "rb").read()
    comp = {".zst": "zstd", ".gz": "gzip", ".xz": "xz", ".bz2": "bzip2"}.get(
        os.path.splitext(path)[1], "none")
    m = {"v": 2, "uuid": str(uuidlib.uuid4()), "owner": ZERO, "name": "test",
         "version": "1.0", "type": "lx-dataset", "os": "linux", "state": "active",
         "disabled": False, "public": True, "published_at": "2026-11-22T00:00:00.000Z",
         "files": [{"sha1": hashlib.sha1(data).hexdigest(), "size": len(data),
                    "compression": comp}],
         "requirements": {"brand": "lx"}, "tags": {"kernel_version": "6.18"}}
    m.update(over)
    return m


def zstd(path):
    subprocess.run(["zstd", "-q", "-f", "--rm", path], check=True)
    return path + ".zst"


def busybox_image(outdir, name="busybox"):
    """A zone image: a tar of root/ from the busybox root, zstd."""
    tar = os.path.join(outdir, f"{name}.tar")
    subprocess.run(["tar", "-C", busybox_root(), "--numeric-owner",
                    "--transform", "s,^\\.,root,rSh", "-cf", tar, "."], check=True)
    return zstd(tar)


def evil_tar(outdir, name, add):
    """A tar with root/ and whatever add(tf) puts in."""
    path = os.path.join(outdir, name + ".tar")
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        d = tarfile.TarInfo("root")
        d.type = tarfile.DIRTYPE
        d.mode = 0o755
        tf.addfile(d)
        add(tf)
    return path


def member(tf, name, data=b"x", **kw):
    info = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(info, k, v)
    if info.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    else:
        tf.addfile(info)


class Node:
    def __init__(self, root):
        self.root = root
        self.work = tempfile.mkdtemp(prefix="sable-img-")
        self.canary = os.path.join(self.work, "canary")
        with open(self.canary, "w") as f:
            f.write("untouched\n")

    def run(self, prog, *args, check=True, input=None, env=None):
        p = subprocess.run([program(prog), *args], env=dict(self.root.env, **(env or {})),
                           capture_output=True, text=True, input=input)
        if check and p.returncode != 0:
            raise AssertionError(f"{prog} {' '.join(args)} exited {p.returncode}\n"
                                 f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def install(self, manifest, path, check=True, env=None):
        mpath = os.path.join(self.work, manifest["uuid"] + ".json")
        with open(mpath, "w") as f:
            json.dump(manifest, f)
        return self.run("imgadm", "install", "-m", mpath, "-f", path, check=check, env=env)

    def state(self):
        """Datasets, manifests and intents of images, and the canary."""
        ds = self.run("pooladm", "list", "-H", "-o", "name", "-t", "all").stdout.split()
        cache = self.root.file("var/imgadm/images")
        intents = self.root.file("var/imgadm/importing")
        return (sorted(ds), sorted(os.listdir(cache)) if os.path.isdir(cache) else [],
                sorted(os.listdir(intents)) if os.path.isdir(intents) else [],
                open(self.canary).read())

    def close(self):
        shutil.rmtree(self.work, ignore_errors=True)


@pytest.fixture
def node(root):
    root.write_config("zone_uid_base=1300000000\n")
    pool = make_pool(root, "btrfs", size="2G")
    n = Node(root)
    try:
        yield n
    finally:
        for vm in n.run("vmadm", "lookup", check=False).stdout.split():
            n.run("vmadm", "delete", vm, check=False)
        n.close()
        drop_pool(pool)


def test_install_list_get_provision_delete(node):
    path = busybox_image(node.work)
    m = manifest_for(path, name="busybox", version="1.35")
    p = node.install(m, path)
    assert f"Installed image {m['uuid']} (busybox@1.35)" in p.stderr
    # Installed as SmartOS has it: the dataset, its @final, the manifest cache.
    names = node.run("pooladm", "list", "-H", "-o", "name", "-t", "all").stdout.split()
    assert f"zones/{m['uuid']}" in names and f"zones/{m['uuid']}@final" in names
    assert os.path.isdir(node.root.file(f"zones/{m['uuid']}/root/bin"))
    table = node.run("imgadm", "list").stdout.splitlines()
    assert table[0].split() == ["UUID", "NAME", "VERSION", "OS", "TYPE", "PUB"]
    assert table[1].split() == [m["uuid"], "busybox", "1.35", "linux", "lx-dataset",
                                "2026-11-22"]
    got = json.loads(node.run("imgadm", "get", m["uuid"]).stdout)
    assert got["manifest"]["uuid"] == m["uuid"] and got["zpool"] == "zones"
    assert got["clones"] == 0
    assert node.run("imgadm", "list", "-H", "-o", "uuid", "name=~busy").stdout.strip() == \
        m["uuid"]
    assert node.run("imgadm", "list", "-H", "name=other").stdout == ""
    # Twice: said, not an error.
    p = node.install(m, path)
    assert "already installed" in p.stderr
    # A VM from it; the image is busy while the VM exists.
    p = node.run("vmadm", "create", input=json.dumps({"brand": "lx", "image_uuid": m["uuid"]}))
    vm = p.stderr.split()[-1]
    assert node.run("zlogin", vm, "echo hi").stdout == "hi\n"
    p = node.run("imgadm", "delete", m["uuid"], check=False)
    assert p.returncode == 1 and "in use" in p.stderr and vm in p.stderr
    assert json.loads(node.run("imgadm", "get", m["uuid"]).stdout)["clones"] == 1
    node.run("vmadm", "delete", vm)
    node.run("imgadm", "delete", m["uuid"])
    p = node.run("imgadm", "get", m["uuid"], check=False)
    assert p.returncode == 3 and f"Image {m['uuid']} not installed" in p.stderr


def bad_cases(work):
    """(name, manifest overrides or None, file path, expected words)."""
    good = busybox_image(work, "good")
    cases = []
    cases.append(("absolute path", evil_tar(work, "abs", lambda tf: member(tf, "/etc/evil")),
                  "absolute"))
    cases.append(("dotdot", evil_tar(work, "dotdot", lambda tf: member(
        tf, "root/../../canary", b"owned\n")), ".."))
    cases.append(("device node", evil_tar(work, "dev", lambda tf: member(
        tf, "root/dev/sda", type=tarfile.BLKTYPE, devmajor=8, devminor=0)), "device"))
    cases.append(("symlink out, then through it", evil_tar(work, "link", lambda tf: (
        member(tf, "root/out", type=tarfile.SYMTYPE, linkname=os.path.dirname(
            os.path.join(work, "canary"))),
        member(tf, "root/out/canary", b"owned\n"))), "root/out/canary"))
    cases.append(("hardlink out", evil_tar(work, "hard", lambda tf: member(
        tf, "root/h", type=tarfile.LNKTYPE, linkname="../canary")), ".."))
    cases.append(("not under root/", evil_tar(work, "other", lambda tf: member(
        tf, "etc/passwd")), "root/"))
    return good, cases


def test_bad_images_fail_cleanly_and_write_nothing_outside(node):
    good, cases = bad_cases(node.work)
    before = node.state()
    for what, path, words in cases:
        m = manifest_for(path)
        p = node.install(m, path, check=False)
        assert p.returncode == 1, (what, p.stderr)
        assert p.stderr.count("\n") == 1 and words in p.stderr, (what, p.stderr)
        assert node.state() == before, what
    data = open(good, "rb").read()
    wrong = [
        ("sha1 differs", dict(files=[{"sha1": "0" * 40, "size": len(data),
                                      "compression": "zstd"}]), good, "sha1"),
        ("size differs", dict(files=[{"sha1": hashlib.sha1(data).hexdigest(),
                                      "size": len(data) + 10, "compression": "zstd"}]),
         good, "ends after"),
        ("longer than said", dict(files=[{"sha1": hashlib.sha1(data).hexdigest(),
                                          "size": len(data) - 10, "compression": "zstd"}]),
         good, "longer"),
    ]
    trunc = os.path.join(node.work, "trunc.tar.zst")
    with open(trunc, "wb") as f:
        f.write(data[:len(data) // 2])
    wrong.append(("truncated", dict(files=[{"sha1": hashlib.sha1(data).hexdigest(),
                                            "size": len(data), "compression": "zstd"}]),
                  trunc, "ends after"))
    for what, over, path, words in wrong:
        m = manifest_for(good, **over)
        p = node.install(m, path, check=False)
        assert p.returncode == 1 and words in p.stderr, (what, p.stderr)
        assert p.stderr.count("\n") == 1, (what, p.stderr)
        assert node.state() == before, what
    # Manifests that are wrong in themselves.
    for over, words in ((dict(v=1), "v"), (dict(type="floppy"), "type"),
                        (dict(files=[{"sha1": "xyz", "size": 1, "compression": "zstd"}]),
                         "files.0.sha1"),
                        (dict(files=[{"sha1": "0" * 40, "size": 1, "compression": "lz4"}]),
                         "compression")):
        p = node.install(manifest_for(good, **over), good, check=False)
        assert p.returncode == 1 and words in p.stderr, (over, p.stderr)
        assert node.state() == before
    # An image of the wrong type for the brand.
    m = manifest_for(good, type="zone-dataset")
    node.install(m, good)
    p = node.run("vmadm", "create", check=False,
                 input=json.dumps({"brand": "lx", "image_uuid": m["uuid"]}))
    assert p.returncode == 1 and "zone-dataset" in p.stderr


def test_killed_install_is_cleaned_by_the_next_imgadm(node):
    path = busybox_image(node.work)
    before = node.state()
    for point in ("image-install:unpacked", "image-install:renamed"):
        m = manifest_for(path)
        p = node.install(m, path, check=False, env={"SABLE_FAULT_KILL": point})
        assert p.returncode == -signal.SIGKILL, p.stderr
        node.run("imgadm", "list")  # any imgadm removes what the dead one left
        assert node.state() == before, point


def test_zvol_and_send_stream_images(node):
    disk = os.path.join(node.work, "disk.raw")
    with open(disk, "wb") as f:
        f.write(os.urandom(1 << 20))
        f.write(b"\0" * (3 << 20))
        f.write(b"end-of-disk")
    raw = open(disk, "rb").read()
    subprocess.run(["gzip", "-k", disk], check=True)
    m = manifest_for(disk + ".gz", type="zvol", image_size=8, nic_driver="virtio",
                     disk_driver="virtio", cpu_type="host", requirements={"brand": "kvm"})
    node.install(m, disk + ".gz")
    vol = node.root.file(f"zones/{m['uuid']}/volume")
    with open(vol, "rb") as f:
        assert f.read(len(raw)) == raw
    # A pool send stream of a zone dataset is an image file too.
    node.run("pooladm", "create", "zones/src")
    os.makedirs(node.root.file("zones/src/root/etc"))
    with open(node.root.file("zones/src/root/etc/motd"), "w") as f:
        f.write("sent\n")
    node.run("pooladm", "snapshot", "zones/src@s")
    stream = os.path.join(node.work, "stream")
    with open(stream, "wb") as f:
        subprocess.run([program("pooladm"), "send", "zones/src@s"], env=node.root.env,
                       stdout=f, check=True)
    m = manifest_for(stream)
    node.install(m, stream)
    assert open(node.root.file(f"zones/{m['uuid']}/root/etc/motd")).read() == "sent\n"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def imgapid(tmp_path):
    port = free_port()
    d = tmp_path / "imgapi"
    d.mkdir()
    p = subprocess.Popen([program("imgapid"), "--dir", str(d), "--listen",
                          f"127.0.0.1:{port}", "--token", "s3cret"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.02)
    try:
        yield url
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(10)


def test_create_publish_import_round_trip(node, imgapid):
    # A golden image from a VM: data written inside comes back in a VM on another node.
    bb = busybox_image(node.work)
    base = manifest_for(bb, name="busybox", version="1.0")
    node.install(base, bb)
    vm = node.run("vmadm", "create", input=json.dumps(
        {"brand": "lx", "image_uuid": base["uuid"]})).stderr.split()[-1]
    node.run("zlogin", vm, "echo golden > /etc/motd; mkdir -p /srv && echo x > /srv/y")
    p = node.run("imgadm", "create", "-o", node.work, vm, "name=golden", "version=2.0",
                 check=False)
    assert p.returncode == 1 and "running" in p.stderr
    node.run("vmadm", "stop", vm, "-F")
    p = node.run("imgadm", "create", "-o", node.work, "-p", imgapid, vm, "name=golden",
                 "version=2.0", env={"IMGAPI_TOKEN": "s3cret"})
    mpath = os.path.join(node.work, "golden-2.0.json")
    m = json.load(open(mpath))
    assert m["type"] == "lx-dataset" and m["files"][0]["compression"] == "zstd"
    assert os.path.getsize(os.path.join(node.work, "golden-2.0.tar.zst")) == \
        m["files"][0]["size"]
    # Another state root: a source, import, provision.
    other = Root(tempfile.mkdtemp(prefix="sable-it-"))
    other.write_config("zone_uid_base=1200000000\n")
    pool2 = make_pool(other, "btrfs", size="2G")
    try:
        def run2(*args, **kw):
            return subprocess.run([program(args[0]), *args[1:]], env=other.env,
                                  capture_output=True, text=True, **kw)
        p = run2("imgadm", "sources", "-a", imgapid)
        assert p.returncode == 0, p.stderr
        assert run2("imgadm", "sources").stdout.split() == [imgapid]
        avail = run2("imgadm", "avail", "-H", "-o", "uuid,name").stdout.split()
        assert avail == [m["uuid"], "golden"]
        # Two imports at once install it once.
        procs = [subprocess.Popen([program("imgadm"), "import", "-q", m["uuid"]],
                                  env=other.env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for q in procs:
            out, err = q.communicate()
            assert q.returncode == 0, err
        assert run2("imgadm", "list", "-H", "-o", "uuid").stdout.split() == [m["uuid"]]
        p = run2("vmadm", "create", input=json.dumps({"brand": "lx", "image_uuid": m["uuid"]}))
        assert p.returncode == 0, p.stderr
        vm2 = p.stderr.split()[-1]
        got = run2("zlogin", vm2, "cat /etc/motd /srv/y").stdout
        assert got == "golden\nx\n"
        run2("vmadm", "delete", vm2)
        # Unknown image, unreachable source: one line each.
        p = run2("imgadm", "import", str(uuidlib.uuid4()))
        assert p.returncode == 1 and "not found" in p.stderr and p.stderr.count("\n") == 1
        p = run2("imgadm", "import", "-S", "http://127.0.0.1:1", str(uuidlib.uuid4()))
        assert p.returncode == 1 and p.stderr.count("\n") == 1
    finally:
        for v in subprocess.run([program("vmadm"), "lookup"], env=other.env,
                                capture_output=True, text=True).stdout.split():
            subprocess.run([program("vmadm"), "delete", v], env=other.env)
        drop_pool(pool2)
        shutil.rmtree(other.path, ignore_errors=True)


@pytest.mark.parametrize("compress", [[], ["gzip", "-k"], ["bzip2", "-k"], ["xz", "-k"]])
def test_every_compression_installs(node, compress):
    tar = os.path.join(node.work, "plain.tar")
    subprocess.run(["tar", "-C", busybox_root(), "--numeric-owner",
                    "--transform", "s,^\\.,root,rSh", "-cf", tar, "."], check=True)
    path = tar
    if compress:
        subprocess.run([*compress, tar], check=True)
        path = tar + {"gzip": ".gz", "bzip2": ".bz2", "xz": ".xz"}[compress[0]]
    m = manifest_for(path)
    node.install(m, path)
    assert os.path.exists(node.root.file(f"zones/{m['uuid']}/root/bin/busybox"))


def test_info_ancestry_update_vacuum(node):
    path = busybox_image(node.work)
    base = manifest_for(path, name="base", version="1")
    node.install(base, path)
    # An incremental image on top: a tar that adds a file and removes one.
    inc = evil_tar(node.work, "inc", lambda tf: (member(tf, "root/etc/added", b"yes\n"),
                                                 member(tf, "root/etc/.wh.inittab")))
    child = manifest_for(inc, name="child", version="2", origin=base["uuid"])
    node.install(child, inc)
    zp = node.root.file(f"zones/{child['uuid']}/root/etc")
    assert open(os.path.join(zp, "added")).read() == "yes\n"
    assert not os.path.exists(os.path.join(zp, "inittab"))
    assert os.path.exists(node.root.file(f"zones/{base['uuid']}/root/etc/inittab"))
    info = node.run("imgadm", "info", child["uuid"]).stdout
    assert f"Origin       {base['uuid']}" in info and "Name         child" in info
    anc = node.run("imgadm", "ancestry", child["uuid"]).stdout.split()
    assert anc.index(child["uuid"]) < anc.index(base["uuid"])
    # A lost @final is noticed and taken again.
    node.run("pooladm", "destroy", f"zones/{base['uuid']}@final", check=False)
    p = node.run("imgadm", "update", "-n")
    assert "no @final" in p.stdout or p.stdout == ""
    node.run("imgadm", "update")
    # vacuum: the base is the child's origin (and its clone): only the child can go.
    p = node.run("imgadm", "vacuum", "-n")
    assert child["uuid"] in p.stdout and base["uuid"] not in p.stdout
    p = node.run("imgadm", "vacuum", check=False)
    assert p.returncode == 2 and "-f" in p.stderr
    node.run("imgadm", "vacuum", "-f")
    left = node.run("imgadm", "list", "-H", "-o", "uuid").stdout.split()
    assert left == [base["uuid"]]


def test_a_source_that_answers_garbage(node):
    import http.server
    import threading

    class Garbage(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html>not json</html>" if "/images/" in self.path else b"{}"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}"
        p = node.run("imgadm", "sources", "-a", url, check=False)
        assert p.returncode == 1 and "not an IMGAPI" in p.stderr
        before = node.state()
        p = node.run("imgadm", "import", "-S", url, str(uuidlib.uuid4()), check=False)
        assert p.returncode == 1 and "JSON" in p.stderr and p.stderr.count("\n") == 1
        assert node.state() == before
    finally:
        srv.shutdown()
