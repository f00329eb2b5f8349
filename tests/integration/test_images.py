"""Base images (scripts/mkimage) and a Debian zone that boots its own systemd.

The busybox image is built afresh (well under a second); the debian-12
image comes from mkimage's cache in /var/cache/sable-test (the first run on
a machine takes a debootstrap from Debian's mirror, a minute or so). Images
are installed by hand, as imgadm will install them (install_image), into a
scratch root with a btrfs pool; each test boots one zone and leaves the
host as it found it (conftest's root fixture: cgroups, processes, mounts,
loop devices).

The Debian zones boot on this host's hybrid cgroup layout and on a pure
cgroup2 layout, emulated in a private mount namespace (V2Namespace) where
every command of the test runs, the detached zoneadmd included.
"""
import hashlib
import json
import os
import pty
import re
import select
import signal
import subprocess
import tarfile
import time
import uuid as uuidlib

import pytest

from conftest import TOP, drop_pool, make_pool, program

MKIMAGE = os.path.join(TOP, "scripts", "mkimage")
BOOT_TIMEOUT = 60  # seconds for systemd to reach multi-user.target


def mkimage(name, outdir):
    """Run scripts/mkimage; return (manifest, manifest path, image file path)."""
    p = subprocess.run([MKIMAGE, name, str(outdir)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    files = sorted(os.listdir(outdir))
    assert len(files) == 2, files
    mpath, ipath = (os.path.join(outdir, f) for f in files)
    assert mpath.endswith(".json") and ipath.endswith(".tar.zst"), files
    with open(mpath) as f:
        m = json.load(f)
    return m, mpath, ipath


def install_image(root, manifest, image_file):
    """Install an image with imgadm (the manifest as a file beside the image)."""
    mpath = image_file + ".manifest.json"
    with open(mpath, "w") as f:
        json.dump(manifest, f)
    try:
        root.run("imgadm", "install", "-q", "-m", mpath, "-f", image_file)
    finally:
        os.unlink(mpath)
    return manifest["uuid"]


def check_manifest(m, name, image_file):
    assert m["v"] == 2 and m["name"] == name
    assert str(uuidlib.UUID(m["uuid"])) == m["uuid"]
    assert m["owner"] == "00000000-0000-0000-0000-000000000000"
    assert m["type"] == "lx-dataset" and m["os"] == "linux" and m["state"] == "active"
    assert m["disabled"] is False and m["public"] is True
    assert m["description"] and m["version"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", m["published_at"])
    assert m["requirements"] == {"brand": "lx"}
    assert m["tags"]["role"] == "os"
    assert os.uname().release.startswith(m["tags"]["kernel_version"])
    assert os.path.basename(image_file) == f"{name}-{m['version']}.tar.zst"
    [f] = m["files"]
    assert f["compression"] == "zstd"
    h = hashlib.sha1()
    with open(image_file, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    assert f["sha1"] == h.hexdigest() and f["size"] == os.path.getsize(image_file)


def tar_entries(image_file):
    """The image's tar members, streamed through zstd."""
    z = subprocess.Popen(["zstd", "-q", "-d", "-c", image_file], stdout=subprocess.PIPE)
    with tarfile.open(fileobj=z.stdout, mode="r|") as t:
        members = list(t)
    z.stdout.close()
    assert z.wait() == 0
    return members


def check_tar(image_file):
    members = tar_entries(image_file)
    names = [m.name for m in members]
    assert names[0] in ("root", "root/")
    for m in members:
        n = m.name
        assert n == "root" or n.startswith("root/"), n
        assert not n.startswith("/") and ".." not in n.split("/"), n
        if m.islnk():  # hard links point inside the archive
            assert m.linkname.startswith("root/"), m.linkname
    assert names == sorted(names, key=lambda n: n.split("/")), "entries are not sorted"
    return {m.name: m for m in members}


class Node:
    """A scratch root with a btrfs pool, images installed by hand, and vmadm."""

    def __init__(self, root, wrap=()):
        self.root = root
        self.wrap = list(wrap)  # e.g. nsenter into a private mount namespace

    def run(self, prog, *args, check=True, input=None):
        cmd = [*self.wrap, program(prog), *args]
        p = subprocess.run(cmd, env=self.root.env, capture_output=True, text=True, input=input)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}\n"
                                 f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def vmadm(self, *args, **kw):
        return self.run("vmadm", *args, **kw)

    def create(self, image, **payload):
        body = {"brand": "lx", "image_uuid": image, "max_physical_memory": 512, "quota": 2,
                "alias": "images-test"}
        body.update(payload)
        p = self.vmadm("create", input=json.dumps(body))
        m = re.fullmatch(r"Successfully created VM ([0-9a-f-]{36})\n", p.stderr)
        assert m, p.stderr
        return m.group(1)

    def get(self, u):
        return json.loads(self.vmadm("get", u).stdout)

    def login(self, u, command, check=True):
        """Run command (one string, as zlogin runs it under the zone's shell)."""
        return self.run("zlogin", u, command, check=check)

    def delete_all(self):
        for vm in json.loads(self.vmadm("lookup", "-j", check=False).stdout or "[]"):
            self.vmadm("delete", vm["uuid"], check=False)


def until(what, fn, timeout):
    """Call fn until it returns something true; that value, or fail saying what."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.2)


def systemd_state(login):
    """`systemctl is-system-running` in the zone ('' while the zone is down)."""
    p = login("systemctl is-system-running")
    return p.stdout.strip()


def wait_for_systemd(login, timeout=BOOT_TIMEOUT):
    """Wait for systemd to finish starting up; it must be running, no unit failed."""
    state = until("systemd reaching multi-user.target",
                  lambda: (s := systemd_state(login)) in ("running", "degraded") and s,
                  timeout)
    failed = login("systemctl --failed --plain --no-legend --no-pager").stdout
    assert failed.strip() == "", f"failed units in the zone:\n{failed}"
    assert state == "running", state
    assert login("systemctl is-active multi-user.target").stdout.strip() == "active"
    return state


def interactive_login(argv, env, script, timeout=15):
    """Drive an interactive zlogin on a pty: send script, return everything read."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, env)
    out = b""
    sent = ended = False
    end = time.monotonic() + timeout
    try:
        while not ended and time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the session ended
                    chunk = b""
                out += chunk
                ended = not chunk
            # A prompt ('# ' for root) means the login shell is ready.
            if not sent and out.rstrip().endswith(b"#"):
                os.write(fd, script.encode())
                sent = True
        if not ended:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert sent, f"no shell prompt: {out!r}"
    assert ended, f"the session did not end within {timeout} s: {out!r}"
    return out.decode(errors="replace"), os.waitstatus_to_exitcode(status)


def check_login_shell(argv, env):
    out, code = interactive_login(
        argv, env, "echo shell=$0 tty=$(tty) uid=$(id -u); exit 3\n")
    assert code == 3, out
    assert re.search(r"shell=-bash tty=/dev/pts/\d+ uid=0", out), out


# ---- (a) the busybox image --------------------------------------------------------------


def test_mkimage_busybox_writes_one_manifest_and_one_image(root, tmp_path):
    m, mpath, ipath = mkimage("busybox", tmp_path)
    check_manifest(m, "busybox", ipath)
    assert os.path.basename(mpath) == f"busybox-{m['version']}.json"
    assert re.fullmatch(r"\d+\.\d+\.\d+", m["version"])
    entries = check_tar(ipath)
    for must in ("root/bin/busybox", "root/sbin/init", "root/etc/inittab", "root/etc/passwd"):
        assert must in entries, must
    assert all(e.uid == 0 and e.gid == 0 for e in entries.values())
    # Built again: the same file, so the same manifest (uuid included).
    again = tmp_path / "again"
    again.mkdir()
    m2, _, ipath2 = mkimage("busybox", again)
    assert m2 == m
    with open(ipath, "rb") as a, open(ipath2, "rb") as b:
        assert a.read() == b.read()
    # Usage errors.
    p = subprocess.run([MKIMAGE, "centos", str(tmp_path)], capture_output=True, text=True)
    assert p.returncode == 2 and "usage" in p.stderr

    # The image is what an lx zone boots: install it as imgadm will, and create a VM.
    root.write_config("zone_uid_base=1640000000\n")
    pool = make_pool(root, "btrfs", size="1G")
    node = Node(root)
    try:
        image = install_image(root, m, ipath)
        u = node.create(image, hostname="bb1", max_physical_memory=128, quota=1)
        assert node.get(u)["state"] == "running"
        assert node.login(u, "hostname").stdout.strip() == "bb1"
    finally:
        node.delete_all()
        drop_pool(pool)


# ---- (b) the debian-12 image on this host ------------------------------------------------


@pytest.fixture(scope="module")
def debian(tmp_path_factory):
    """The debian-12 image (from mkimage's cache), built once for this module."""
    out = tmp_path_factory.mktemp("debian-12")
    m, mpath, ipath = mkimage("debian-12", out)
    return m, ipath


def test_mkimage_debian_manifest_and_image(debian):
    m, ipath = debian
    check_manifest(m, "debian-12", ipath)
    assert re.fullmatch(r"12\.\d{8}\.\d+", m["version"])
    entries = check_tar(ipath)
    # systemd is the image's own init, and the image carries no machine id.
    init = entries["root/sbin/init"] if "root/sbin/init" in entries else \
        entries["root/usr/sbin/init"]
    assert init.issym() and init.linkname.endswith("lib/systemd/systemd"), init.linkname
    assert entries["root/etc/machine-id"].size == 0
    for pkg in ("systemd", "dbus", "iproute2", "procps"):
        assert f"root/usr/share/doc/{pkg}" in entries, pkg
    assert not [n for n in entries if n.startswith("root/var/cache/apt/archives/")
                and n.endswith(".deb")]


@pytest.fixture
def debian_node(root, debian):
    root.write_config("zone_uid_base=1650000000\n")
    pool = make_pool(root, "btrfs", size="3G")
    node = Node(root)
    node.image = install_image(root, *debian)
    try:
        yield node
    finally:
        node.delete_all()
        drop_pool(pool)


def test_debian_zone_boots_systemd_login_reboot_poweroff(debian_node):
    node = debian_node
    u = node.create(node.image, hostname="deb1")
    vm = node.get(u)
    assert vm["state"] == "running"
    login = lambda c: node.login(u, c, check=False)  # noqa: E731
    wait_for_systemd(login)

    # The zone is what it says: Debian, in a container, with its own name and id.
    assert "bookworm" in node.login(u, "cat /etc/os-release").stdout
    assert node.login(u, "hostname").stdout.strip() == "deb1"
    assert login("systemd-detect-virt").stdout.strip() == "container-other"
    assert node.login(u, "cat /etc/machine-id").stdout.strip() == u.replace("-", "")
    assert node.login(u, "ps -o comm= -p 1").stdout.strip() == "systemd"
    assert node.login(u, "findmnt -no FSTYPE /run/lock").stdout.strip() == "tmpfs"
    p = node.login(u, "echo out; echo err >&2; exit 7", check=False)
    assert (p.returncode, p.stdout, p.stderr) == (7, "out\n", "err\n")

    # An interactive login shell on a pty.
    check_login_shell([program("zlogin"), u], node.root.env)
    check_login_shell([program("zlogin"), "-l", "root", u], node.root.env)

    # reboot inside: the zone's init ends with SIGHUP, zoneadmd starts it again.
    pid = vm["pid"]
    node.login(u, "reboot", check=False)
    until("the zone coming back", lambda: node.get(u).get("pid", pid) != pid and
          node.get(u)["state"] == "running", 30)
    wait_for_systemd(login)
    assert node.login(u, "cat /etc/machine-id").stdout.strip() == u.replace("-", "")

    # poweroff inside: init ends with SIGINT, the zone stays down.
    node.login(u, "poweroff", check=False)
    until("the zone stopping", lambda: node.get(u)["state"] == "stopped", 30)
    time.sleep(1)
    assert node.get(u)["state"] == "stopped"


# ---- (c) the debian-12 image on a pure cgroup2 host ---------------------------------------

# A pure cgroup2 host, as most real hosts are: the v1 hierarchies unmounted
# and cgroup2 moved to /sys/fs/cgroup (bench/bench_zone.py's V2ONLY), in a
# private mount namespace that lives as long as its sleeper (or any zone
# process started in it).
V2ONLY = """
for d in /sys/fs/cgroup/*; do
	case "$d" in */unified) ;; *) umount "$d" 2>/dev/null ;; esac
done
mount --move /sys/fs/cgroup/unified /sys/fs/cgroup || exit 1
echo ready
exec sleep 86400
"""


class V2Namespace:
    def __init__(self):
        self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private",
                                      "sh", "-c", V2ONLY], stdout=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True)
        assert self.proc.stdout.readline().strip() == "ready", "no cgroup2-only namespace"
        self.wrap = ["nsenter", "-t", str(self.proc.pid), "-m"]

    def close(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def v2_node(root, debian):
    if not os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers") and \
            not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        pytest.skip("no cgroup2 filesystem on this host")
    root.write_config("zone_uid_base=1660000000\n")
    pool = make_pool(root, "btrfs", size="3G")
    image = install_image(root, *debian)
    ns = V2Namespace() if os.path.exists("/sys/fs/cgroup/unified") else None
    node = Node(root, wrap=ns.wrap if ns else ())
    node.image = image
    zones = []
    node.zones = zones
    try:
        yield node
    finally:
        for u in zones:
            node.run("zoneadm", "-z", u, "halt", check=False)
            node.run("zoneadm", "-z", u, "uninstall", check=False)
        if ns:
            ns.close()
        drop_pool(pool)


def test_debian_zone_boots_systemd_on_cgroup2(v2_node):
    node = v2_node
    fs = subprocess.run([*node.wrap, "stat", "-fc", "%T", "/sys/fs/cgroup"],
                        capture_output=True, text=True, check=True).stdout.strip()
    assert fs == "cgroup2fs", fs
    # A zone of the image, configured by hand: vmadm's memory limit needs a
    # memory controller on cgroup2, which this host keeps on v1 (a real v2 host
    # has it), so this zone has no limits.
    u = str(uuidlib.uuid4())
    node.zones.append(u)
    node.run("pooladm", "clone", f"zones/{node.image}@final", f"zones/{u}")
    os.makedirs(node.root.file(f"zones/{u}/config"))
    with open(node.root.file(f"zones/{u}/config/zone.json"), "w") as f:
        json.dump({"uuid": u, "hostname": "deb2", "stop_signal": "SIGRTMIN+4"}, f)
    node.run("zoneadm", "-z", u, "install")
    node.run("zoneadm", "-z", u, "boot")
    login = lambda c: node.login(u, c, check=False)  # noqa: E731
    wait_for_systemd(login)
    assert node.login(u, "stat -fc %T /sys/fs/cgroup").stdout.strip() == "cgroup2fs"
    assert node.login(u, "cat /proc/1/cgroup").stdout.strip().endswith("\n0::/init.scope")

    # A real v2 host's controllers: the zone's systemd enables them below
    # the zone's node, which from then on may hold no process. hugetlb, the
    # one controller this host's cgroup2 has, makes that so here too.
    def runtime():
        with open(node.root.file(f"var/run/sable/zones/{u}.json")) as f:
            return json.load(f)

    pid = runtime()["init_pid"]
    with open(f"/proc/{pid}/cgroup") as f:
        [rel] = [line[3:].strip() for line in f if line.startswith("0::")]
    zone = os.path.dirname(rel)  # <prefix>/<uuid>; init is in <uuid>/init.scope
    assert zone.endswith("/" + u), rel
    shell = [*node.wrap, "sh", "-c"]
    subprocess.run([*shell, f"echo +hugetlb > /sys/fs/cgroup{os.path.dirname(zone)}/"
                    f"cgroup.subtree_control && echo +hugetlb > /sys/fs/cgroup{zone}/"
                    "cgroup.subtree_control"], check=False)
    enabled = subprocess.run([*shell, f"cat /sys/fs/cgroup{zone}/cgroup.subtree_control"],
                             capture_output=True, text=True, check=True).stdout
    assert enabled.strip(), "no controller enabled below the zone's node"
    # zlogin joins the zone's init where it is, a command and a login shell.
    assert node.login(u, "cat /proc/self/cgroup").stdout.strip().endswith("0::/init.scope")
    check_login_shell([*node.wrap, program("zlogin"), u], node.root.env)

    node.login(u, "reboot", check=False)
    until("the zone coming back", lambda: runtime()["init_pid"] not in (0, pid) and
          runtime()["state"] == "running", 30)
    wait_for_systemd(login)
    node.login(u, "poweroff", check=False)
    until("the zone stopping", lambda: runtime()["state"] == "installed", 30)
    assert "running" not in node.run("zoneadm", "list", "-cv").stdout
