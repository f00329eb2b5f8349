"""Shared fixtures for the integration tests.

They run as root (make check runs them only then) against the binaries of
the build named by SABLE_BUILD (default: build-check), each test in a fresh
state root under /tmp. Anything a test creates on the host (network
namespaces, links, mounts, loop devices) is checked for afterwards: a leak
fails the test.
"""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(TOP, os.environ.get("SABLE_BUILD", "build-check"))


def program(name):
    """Path of a built program."""
    path = os.path.join(BUILD, "src", name, name)
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: build first (make check does)")
    return path


class Root:
    """A scratch SABLE_ROOT and a way to run Sable's programs in it."""

    def __init__(self, path):
        self.path = path
        self.env = dict(os.environ, SABLE_ROOT=path)
        self.env.pop("SABLE_LOG_LEVEL", None)

    def file(self, rel):
        return os.path.join(self.path, rel.lstrip("/"))

    def write_config(self, text):
        os.makedirs(self.file("usbkey"), exist_ok=True)
        with open(self.file("usbkey/config"), "w") as f:
            f.write(text)

    def run(self, prog, *args, check=True, netns=None, input=None):
        cmd = [program(prog), *args]
        if netns:
            cmd = ["ip", "netns", "exec", netns, *cmd]
        p = subprocess.run(cmd, env=self.env, capture_output=True, text=True, input=input)
        if check and p.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def json(self, prog, *args, **kw):
        return json.loads(self.run(prog, *args, **kw).stdout)


def host_state():
    """What a test may leave behind on the host, as comparable sets."""
    def lines(cmd):
        p = subprocess.run(cmd, capture_output=True, text=True)
        return set(p.stdout.split("\n")) - {""}

    # iproute2 mounts /run/netns the first time a namespace is made and
    # keeps it, by design: that mount is its own, not a leak. lib/net mounts
    # bpffs at /sys/fs/bpf when the host has not, as systemd does at boot;
    # what it pins there is listed below.
    with open("/proc/mounts") as f:
        mounts = {l.split()[1] for l in f} - {"/run/netns", "/sys/fs/bpf"}
    bpffs = set()
    for d in (os.listdir("/sys/fs/bpf") if os.path.isdir("/sys/fs/bpf") else []):
        if d.startswith("sable-"):
            p = os.path.join("/sys/fs/bpf", d)
            bpffs |= {p} | {os.path.join(p, e) for e in os.listdir(p)}
    cgroups = set()
    for top in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        for d in (os.listdir(top) if os.path.isdir(top) else []):
            p = os.path.join(top, d)
            if os.path.isdir(p):
                cgroups |= {os.path.join(p, e) for e in os.listdir(p)
                            if os.path.isdir(os.path.join(p, e)) and e.startswith("sb")}
    procs = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            if stat[stat.rindex(")") + 2] == "Z":
                continue  # exited, waiting for this machine's init to reap it
            if comm in ("zoneadmd", "zlogin", "zprobe"):
                procs.add(f"{pid} {comm}")
    return {
        "cgroups": cgroups,
        "processes": procs,
        "netns": lines(["ip", "netns", "list"]),
        "links": {l.split(":")[1].strip().split("@")[0]
                  for l in lines(["ip", "-o", "link", "show"])},
        "mounts": mounts,
        "loops": lines(["losetup", "-a"]),
        "bpffs": bpffs,
    }


def drop_node_cgroups(before):
    """Remove the scratch node's own cgroup directories (its prefix, in every hierarchy).

    Sable leaves a node's <prefix> directories in place, as systemd leaves
    machine.slice; the node here lives as long as the test. rmdir removes
    only empty ones: a zone's cgroup left inside still shows as a leak.
    """
    for d in host_state()["cgroups"] - before:
        try:
            os.rmdir(d)
        except OSError:
            pass


@pytest.fixture
def root():
    """A fresh state root; the host must look the same afterwards."""
    if os.geteuid() != 0:
        pytest.skip("integration tests need root")
    before = host_state()
    path = tempfile.mkdtemp(prefix="sable-it-")
    try:
        yield Root(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)
        drop_node_cgroups(before["cgroups"])
    after = host_state()
    leaks = {k: sorted(after[k] - before[k]) for k in after if after[k] - before[k]}
    assert not leaks, f"the test left these behind on the host: {leaks}"


class Pool:
    """A pool named zones in a scratch root, on one backend."""

    def __init__(self, root, backend):
        self.root = root
        self.backend = backend
        self.mnt = root.file("zones")

    def adm(self, *args, check=True, input=None, env=None):
        return self.root.run("pooladm", *args, check=check, input=input)

    def fails(self, *args):
        """Run a pooladm command that must fail with one clear line and change nothing."""
        before = self.state()
        p = self.adm(*args, check=False)
        assert p.returncode != 0, f"pooladm {' '.join(args)} succeeded"
        assert p.stderr.count("\n") == 1 and p.stderr.startswith("pooladm: "), p.stderr
        assert self.state() == before, f"pooladm {' '.join(args)} changed the pool"
        return p.stderr

    def names(self, *args):
        return self.adm("list", "-H", "-o", "name", *args).stdout.split()

    def state(self):
        """Everything list shows, plus the files of the pool (not their times)."""
        listing = self.adm("list", "-H", "-p", "-t", "all", "-o",
                           "name,type,origin,quota,volsize,compression").stdout
        files = []
        for dirpath, dirnames, filenames in os.walk(self.mnt):
            rel = os.path.relpath(dirpath, self.mnt)
            if rel == ".sable" or rel.startswith(".sable/"):
                continue
            files += [os.path.join(rel, f) for f in sorted(dirnames + filenames)]
        return listing, sorted(files)

    def path(self, name):
        return os.path.join(self.root.path, name)

    def db(self):
        with open(os.path.join(self.mnt, ".sable", "pool.json")) as f:
            return json.load(f)


def make_pool(root, backend, size="1G", extra=()):
    if backend == "btrfs":
        root.run("pooladm", "create", "zones", "--size", size, *extra)
    else:
        root.run("pooladm", "create", "zones", "--backend", "dir", *extra)
    return Pool(root, backend)


def drop_pool(pool):
    if pool.backend == "btrfs":
        p = pool.root.run("pooladm", "export", "zones", check=False)
        # A test may have exported it already; one still mounted is a failure to show.
        if p.returncode != 0 and os.path.ismount(pool.mnt):
            raise AssertionError(f"pooladm export zones: {p.stderr.strip()}")


@pytest.fixture(params=["btrfs", "dir"])
def pool(request, root):
    p = make_pool(root, request.param)
    try:
        yield p
    finally:
        drop_pool(p)


@pytest.fixture
def btrfs_pool(root):
    p = make_pool(root, "btrfs")
    try:
        yield p
    finally:
        drop_pool(p)


@pytest.fixture
def netns():
    """Make network namespaces on demand; all are deleted at the end."""
    made = []

    def make(name):
        subprocess.run(["ip", "netns", "add", name], check=True)
        made.append(name)
        return name

    yield make
    for name in made:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture(scope="session")
def busybox_image(tmp_path_factory):
    """The busybox lx image (scripts/mkimage): {"manifest", "file", "uuid"}."""
    out = tmp_path_factory.mktemp("images")
    subprocess.run([os.path.join(TOP, "scripts", "mkimage"), "busybox", str(out)], check=True,
                   capture_output=True)
    manifest = next(str(out / f) for f in os.listdir(out) if f.endswith(".json"))
    image = next(str(out / f) for f in os.listdir(out) if f.endswith(".tar.zst"))
    return {"manifest": manifest, "file": image, "uuid": json.load(open(manifest))["uuid"]}
