"""Zones: isolation, security, resource controls, supervisor, zlogin.

Each test makes a scratch root with a loop-backed pool, a busybox zone root
(scripts/mkroot-busybox, cached) and the static probe (tests/helpers/zprobe)
shown at /native in the zone, and checks the host is as before afterwards
(conftest's root fixture: no cgroups, processes, mounts or loop devices left).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid as uuidlib

import pytest

from conftest import BUILD, TOP, drop_pool, make_pool, program


def busybox_root():
    p = subprocess.run([os.path.join(TOP, "scripts", "mkroot-busybox"), "--cache"],
                       capture_output=True, text=True, check=True)
    return p.stdout.strip().splitlines()[-1]


class Zone:
    def __init__(self, pool, **config):
        self.pool = pool
        self.root = pool.root
        self.uuid = str(uuidlib.uuid4())
        self.zonepath = pool.path(f"zones/{self.uuid}")
        pool.adm("create", f"zones/{self.uuid}")
        subprocess.run(["cp", "-a", busybox_root() + "/.", os.path.join(self.zonepath, "root")],
                       check=True)
        native = self.root.file("native")
        os.makedirs(native, exist_ok=True)
        shutil.copy(os.path.join(BUILD, "tests", "helpers", "zprobe"), native)
        self.config = {"uuid": self.uuid, "hostname": "zone1", "native": native,
                       "stop_signal": "SIGUSR2", "max_lwps": 200}
        self.config.update(config)
        self.write_config()
        self.adm("install")

    def write_config(self, config=None):
        os.makedirs(os.path.join(self.zonepath, "config"), exist_ok=True)
        path = os.path.join(self.zonepath, "config", "zone.json")
        data = dict(config or self.config)
        if os.path.exists(path) and "uid_base" in json.load(open(path)):
            data.setdefault("uid_base", json.load(open(path))["uid_base"])
        with open(path, "w") as f:
            json.dump(data, f)

    def adm(self, *args, check=True):
        return self.root.run("zoneadm", "-z", self.uuid, *args, check=check)

    def login(self, *cmd, check=True, input=None, user=None):
        args = ["-l", user] if user else []
        return self.root.run("zlogin", *args, self.uuid, *cmd, check=check, input=input)

    def probe(self, *args, check=True):
        out = self.login("/native/zprobe", *args, check=check).stdout
        return json.loads(out) if out.strip().startswith("{") else out

    def runtime(self):
        with open(self.root.file(f"var/run/sable/zones/{self.uuid}.json")) as f:
            return json.load(f)

    def halt(self):
        self.adm("halt", check=False)


@pytest.fixture
def zpool(root):
    # Ids of its own, apart from a real installation's (zoneadm.8).
    root.write_config("zone_uid_base=1800000000\n")
    p = make_pool(root, "btrfs", size="2G")
    try:
        yield p
    finally:
        drop_pool(p)


@pytest.fixture
def zone(zpool):
    z = Zone(zpool)
    z.adm("boot")
    try:
        yield z
    finally:
        z.halt()


def host_hostname():
    return socket.gethostname()


def test_boot_login_and_isolation(zone):
    assert zone.runtime()["state"] == "running"
    assert zone.uuid in zone.root.run("zoneadm", "list").stdout
    ident = zone.probe("id")
    assert ident["uid"] == 0 and ident["euid"] == 0
    assert zone.login("hostname").stdout.strip() == "zone1"
    assert host_hostname() != "zone1"
    # Own namespaces: none shared with the host.
    host_ns = {n: os.stat(f"/proc/self/ns/{n}").st_ino
               for n in ("pid", "mnt", "net", "uts", "ipc", "user", "cgroup")}
    zns = zone.probe("ns")
    for n, ino in host_ns.items():
        assert zns[n] != ino, n
    # Zone root is an unprivileged host user.
    init = zone.runtime()["init_pid"]
    with open(f"/proc/{init}/status") as f:
        uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
    assert int(uids[0]) >= 1800000000
    # Only the zone's processes are visible.
    ps = zone.login("ps", "-o", "pid,comm").stdout
    assert "zoneadmd" not in ps and "pytest" not in ps
    assert zone.login("cat", "/proc/1/cmdline").stdout.startswith("init")


def test_zlogin_passes_io_and_status(zone):
    assert zone.login("exit 7", check=False).returncode == 7
    p = zone.login("cat", input="hello zone\n")
    assert p.stdout == "hello zone\n"
    p = zone.login("echo", "out;", "echo", "err", ">&2")
    assert p.stdout == "out\n" and p.stderr == "err\n"
    p = zone.login("/native/zprobe", "pid")
    assert json.loads(p.stdout)["pid"] > 1


def test_filesystem_view(zone):
    mounts = {m["target"]: m for m in zone.probe("mounts")["mounts"]}
    for t in ("/", "/proc", "/sys", "/dev", "/dev/pts", "/tmp", "/run", "/native"):
        assert t in mounts, t
    assert sorted(os.listdir(os.path.join(zone.zonepath, "root"))) != []
    dev = zone.login("ls", "/dev").stdout.split()
    assert set(dev) <= {"null", "zero", "full", "random", "urandom", "tty", "console", "ptmx",
                        "pts", "shm", "mqueue", "fd", "stdin", "stdout", "stderr"}, dev
    # /sys and /proc/sys are read-only; /proc/sys/net is the zone's own.
    assert zone.login("touch /sys/x", check=False).returncode != 0
    assert zone.login("echo 1 > /proc/sys/kernel/sysrq", check=False).returncode != 0
    assert zone.login("echo 1 > /proc/sys/net/ipv4/ip_forward").returncode == 0
    assert zone.login("echo x > /native/x", check=False).returncode != 0
    assert zone.login("echo data > /tmp/f && cat /tmp/f").stdout == "data\n"


SECURITY = [
    ("init_module", "load a kernel module"),
    ("finit_module", "load a kernel module from a file"),
    ("kexec_load", "load a new kernel"),
    ("bpf", "load BPF"),
    ("perf_event_open", "open perf events"),
    ("keyctl", "use the kernel keyring"),
    ("add_key", "add a key"),
    ("open_by_handle_at", "open files by handle (host escape)"),
    ("swapon", "enable swap"),
    ("settimeofday", "set the clock"),
    ("clock_settime", "set the clock"),
]


@pytest.mark.parametrize("syscall,what", SECURITY)
def test_dangerous_syscalls_are_denied(zone, syscall, what):
    r = zone.probe("syscall", syscall)
    assert r["errno"] == 1, f"{what}: {r}"  # EPERM


def test_host_is_out_of_reach(zone):
    before = host_hostname()
    # sysrq: masked and read-only.
    assert zone.login("echo h > /proc/sysrq-trigger", check=False).returncode != 0
    # Block devices: none to open, none to make.
    assert zone.probe("mknod", "/tmp/sda")["errno"] in (1, 13)
    disk = sorted(d for d in os.listdir("/sys/block") if not d.startswith(("loop", "ram")))[0]
    assert zone.probe("open", f"/dev/{disk}")["errno"] == 2
    # /proc/1/root is the zone's own root.
    with open(os.path.join(zone.zonepath, "root", "marker"), "w") as f:
        f.write("zone")
    assert zone.login("cat", "/proc/1/root/marker").stdout == "zone"
    # A host process cannot be signalled or traced: it is not there.
    assert zone.login("kill", "-0", str(os.getpid()), check=False).returncode != 0
    # Hostname changes stay in the zone; the clock cannot be set.
    zone.probe("sethostname", "changed")
    assert host_hostname() == before
    assert zone.probe("settime")["errno"] == 1
    # No leaked descriptors in the zone's init.
    init = zone.runtime()["init_pid"]
    assert sorted(os.listdir(f"/proc/{init}/fd"), key=int) == ["0", "1", "2"]
    # proc mounted anew inside shows the zone's processes, not the host's.
    out = zone.login("mkdir -p /tmp/p && mount -t proc proc /tmp/p && cat /tmp/p/1/cmdline",
                     check=False)
    assert out.returncode != 0 or out.stdout.startswith("init")


def test_fork_bomb_is_held(zpool):
    z = Zone(zpool, max_lwps=60)
    z.adm("boot")
    try:
        r = z.probe("forkbomb", "500")
        assert r["forked"] < 60
        assert host_hostname()  # the host answers
    finally:
        z.halt()


def test_memory_limit_kills_in_the_zone_only(zpool):
    z = Zone(zpool, max_physical_memory=64, max_swap=64)
    z.adm("boot")
    try:
        p = z.login("/native/zprobe", "alloc", "256", check=False)
        assert p.returncode in (137, 128 + 9), (p.returncode, p.stdout, p.stderr)
        assert z.runtime()["state"] == "running"
        assert z.login("true").returncode == 0
    finally:
        z.halt()


def test_cpu_cap(zpool):
    z = Zone(zpool, cpu_cap=20)
    z.adm("boot")
    try:
        r = z.probe("spin", "3")
        share = r["cpu"] / r["wall"]
        assert share <= 0.20 * 1.10, share
        assert share >= 0.10, share  # the cap, not a stall
    finally:
        z.halt()


def test_quota_stops_writes(zpool):
    z = Zone(zpool)
    zpool.adm("set", "quota=40M", f"zones/{z.uuid}")
    z.adm("boot")
    try:
        r = z.probe("write", "/big", "100")
        assert r["errno"] == 122, r  # EDQUOT
    finally:
        z.halt()


def test_live_limit_update(zone):
    """Limits change on a running zone, without a reboot."""
    init = zone.runtime()["init_pid"]
    assert zone.probe("forkbomb", "100")["forked"] >= 90
    zone.write_config(dict(zone.config, max_lwps=30, tmpfs=16))
    zone.adm("update")
    assert zone.runtime()["init_pid"] == init
    assert zone.probe("forkbomb", "100")["forked"] < 30
    df = zone.login("df", "-k", "/tmp").stdout.splitlines()[-1].split()
    assert int(df[1]) == 16 * 1024, df


def test_supervisor_can_die_and_come_back(zone):
    rt = zone.runtime()
    os.kill(rt["zoneadmd_pid"], signal.SIGKILL)
    time.sleep(0.2)
    os.kill(rt["init_pid"], 0)  # the zone lives
    assert zone.login("true").returncode == 0
    zone.adm("boot")  # a new zoneadmd adopts the running zone
    rt2 = zone.runtime()
    assert rt2["init_pid"] == rt["init_pid"] and rt2["zoneadmd_pid"] != rt["zoneadmd_pid"]
    assert rt2["state"] == "running"
    assert zone.login("true").returncode == 0


def test_reboot_and_halt_from_inside(zone):
    first = zone.runtime()["init_pid"]
    zone.login("reboot", check=False)
    for _ in range(100):
        rt = zone.runtime()
        if rt["state"] == "running" and rt["init_pid"] != first:
            break
        time.sleep(0.05)
    assert rt["init_pid"] != first and rt["state"] == "running"
    zone.login("poweroff", check=False)
    for _ in range(100):
        rt = zone.runtime()
        if rt["state"] == "installed":
            break
        time.sleep(0.05)
    # The zone is down; its record says how its init ended (SIGINT: halt).
    assert rt["state"] == "installed" and rt["exit_status"] == 128 + 2
    assert zone.uuid not in zone.root.run("zoneadm", "list").stdout


def test_console_log_and_attach(zone):
    zone.login("echo to-the-console > /dev/console")
    log = os.path.join(zone.zonepath, "logs", "console.log")
    for _ in range(50):
        if "to-the-console" in open(log).read():
            break
        time.sleep(0.05)
    assert "to-the-console" in open(log).read()
    p = subprocess.run([program("zlogin"), "-C", "-Q", zone.uuid], input="~.",
                       env=zone.root.env, capture_output=True, text=True, timeout=10)
    assert p.returncode == 0


def alive(pid):
    """True while pid runs (a zombie has exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def test_graceful_shutdown(zone):
    zoneadmd = zone.runtime()["zoneadmd_pid"]
    zone.adm("shutdown", "-t", "10")
    assert zone.uuid not in zone.root.run("zoneadm", "list").stdout
    # Down means zoneadmd is gone too: nothing holds the zone's dataset.
    assert not alive(zoneadmd)


def test_halt_returns_when_zoneadmd_is_gone(zone):
    zone.login("echo held > /dev/console")
    zoneadmd = zone.runtime()["zoneadmd_pid"]
    zone.adm("halt")
    assert not alive(zoneadmd)
    zone.pool.adm("destroy", f"zones/{zone.uuid}")


def test_bad_input(zpool):
    z = Zone(zpool)
    # A zone already running.
    z.adm("boot")
    p = z.adm("boot", check=False)
    assert p.returncode == 1 and p.stderr.count("\n") == 1
    z.halt()
    # Corrupt configs: one clear line, nothing started.
    for bad, word in [({"max_lwps": 0}, "max_lwps"), ({"max_physical_memory": -5},
                      "max_physical_memory"), ({"maxlwps": 5}, "maxlwps"),
                      ({"brand": "joyent"}, "brand")]:
        z.write_config(dict(z.config, **bad))
        p = z.adm("boot", check=False)
        assert p.returncode == 1 and word in p.stderr and p.stderr.count("\n") == 1, p.stderr
    z.write_config(z.config)
    # A missing root.
    os.rename(os.path.join(z.zonepath, "root"), os.path.join(z.zonepath, "gone"))
    p = z.adm("boot", check=False)
    assert p.returncode == 1 and "root" in p.stderr and p.stderr.count("\n") == 1
    os.rename(os.path.join(z.zonepath, "gone"), os.path.join(z.zonepath, "root"))
    # An init that does not exist.
    z.write_config(dict(z.config, init="/sbin/nothing-here"))
    p = z.adm("boot", check=False)
    assert p.returncode == 1 and "nothing-here" in p.stderr
    z.write_config(z.config)
    z.adm("boot")
    z.halt()
    z.adm("uninstall")


def test_id_range_taken(zpool):
    a = Zone(zpool)
    b = Zone(zpool)
    base_a = json.load(open(os.path.join(a.zonepath, "config", "zone.json")))["uid_base"]
    base_b = json.load(open(os.path.join(b.zonepath, "config", "zone.json")))["uid_base"]
    assert base_a != base_b and abs(base_a - base_b) >= 65536
    # b's config claims a's range: refused, nothing started.
    b.write_config(dict(b.config, uid_base=base_a))
    p = b.adm("boot", check=False)
    assert p.returncode == 1 and "belongs to zone" in p.stderr and p.stderr.count("\n") == 1
    a.adm("uninstall")


def test_interactive_login_and_users(zone):
    import pty
    import select

    with open(os.path.join(zone.zonepath, "root", "etc", "passwd"), "a") as f:
        f.write("ops:x:1000:1000:ops:/tmp:/bin/sh\n")
    assert zone.login("id", "-u", user="ops").stdout.strip() == "1000"
    assert zone.login("id", "-u", user="nobody-here", check=False).returncode == 1

    pid, fd = pty.fork()
    if pid == 0:
        os.execve(program("zlogin"), ["zlogin", "-Q", zone.uuid], zone.root.env)
    out = b""
    os.write(fd, b"echo $((6*7)); tty; exit 3\n")
    deadline = time.time() + 10
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    _, status = os.waitpid(pid, 0)
    assert b"42" in out and b"/dev/pts/" in out, out
    assert os.waitstatus_to_exitcode(status) == 3
