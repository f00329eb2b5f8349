"""Zones: start-to-exit against crun, zlogin against crun exec, 500 idle zones.

A scratch SABLE_ROOT with a loop-backed pool and a busybox image (from
scripts/mkroot-busybox); zones are clones of its snapshot. crun, the
yardstick, runs the same root filesystem with the same namespaces (user with
a 65,536-id map, pid, mount, network, uts, ipc, cgroup). On this host's
hybrid cgroup layout crun refuses to run unless /sys/fs/cgroup/unified is
unmounted in a private mount namespace (../shared/PLATFORM.md), so its
commands run under `unshare -m` with that umount; the wrapper's own cost is
measured in the same run and printed as a row of its own.

The scratch root's var/run is a tmpfs, as /var/run (/run) is on every host
and as crun's own state directory (/run/crun) is: Sable's run state (locks,
sockets, zoneadmd's records) must vanish at a reboot, so it never lives on
a disk filesystem in production.
"""
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid as uuidlib

from harness import TOP, compare, hyperfine, program, row, drop_node_cgroups

WRAP = "unshare -m sh -c 'umount /sys/fs/cgroup/unified && exec {}'"

# A pure cgroup2 host, as most real hosts are: the v1 hierarchies unmounted
# and cgroup2 moved to /sys/fs/cgroup, in a private mount namespace.
V2ONLY = """
for d in /sys/fs/cgroup/*; do
	case "$d" in */unified) ;; *) umount "$d" 2>/dev/null ;; esac
done
mount --move /sys/fs/cgroup/unified /sys/fs/cgroup
exec "$@"
"""


def busybox_root():
    out = subprocess.run([os.path.join(TOP, "scripts", "mkroot-busybox"), "--cache"],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1]


class Scratch:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="sable-bench-")
        os.makedirs(os.path.join(self.root, "usbkey"))
        with open(os.path.join(self.root, "usbkey", "config"), "w") as f:
            f.write("zone_uid_base=1900000000\n")
        self.env = dict(os.environ, SABLE_ROOT=self.root)
        self.run_dir = os.path.join(self.root, "var", "run")
        os.makedirs(self.run_dir)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", self.run_dir],
                       check=True)
        self.run("pooladm", "create", "zones", "--size", "8G")
        self.run("pooladm", "create", "zones/img")
        subprocess.run(["cp", "-a", busybox_root() + "/.",
                        os.path.join(self.root, "zones", "img")], check=True)
        self.run("pooladm", "snapshot", "zones/img@final")
        self.zones = []

    def run(self, prog, *args, check=True):
        return subprocess.run([program(prog), *args], env=self.env, check=check,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def zone(self, **config):
        u = str(uuidlib.uuid4())
        self.run("pooladm", "create", f"zones/{u}")
        self.run("pooladm", "clone", "zones/img@final", f"zones/{u}/root")
        os.makedirs(os.path.join(self.root, "zones", u, "config"))
        cfg = {"uuid": u, "stop_signal": "SIGUSR2"}
        cfg.update(config)
        with open(os.path.join(self.root, "zones", u, "config", "zone.json"), "w") as f:
            json.dump(cfg, f)
        self.run("zoneadm", "-z", u, "install")
        self.zones.append(u)
        return u

    def close(self):
        for u in self.zones:
            self.run("zoneadm", "-z", u, "halt", check=False)
        self.run("pooladm", "export", "zones", check=False)
        subprocess.run(["umount", self.run_dir], check=False)
        drop_node_cgroups(self.root)
        shutil.rmtree(self.root, ignore_errors=True)


def crun_bundle(args):
    b = tempfile.mkdtemp(prefix="sable-bench-crun-")
    os.chmod(b, 0o755)  # the container's mapped root must reach its rootfs
    subprocess.run(["cp", "-a", busybox_root(), os.path.join(b, "rootfs")], check=True)
    subprocess.run(["crun", "spec", "--rootless"], cwd=b, check=True)
    with open(os.path.join(b, "config.json")) as f:
        c = json.load(f)
    c["process"]["args"] = args
    c["process"]["terminal"] = False
    c["root"] = {"path": "rootfs", "readonly": False}
    c["linux"]["namespaces"] = [{"type": t} for t in
                                ("pid", "network", "ipc", "uts", "mount", "user", "cgroup")]
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1900500000, "size": 65536}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 1900500000, "size": 65536}]
    c["linux"].pop("resources", None)
    with open(os.path.join(b, "config.json"), "w") as f:
        json.dump(c, f)
    return b


def meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def rows():
    s = Scratch()
    bundle = crun_bundle(["/bin/true"])
    sleeper = crun_bundle(["/bin/sleep", "3600"])
    try:
        # Start a zone whose first command exits at once, and tear it down.
        u = s.zone(init="/bin/true", restart_init=False)
        zoneadmd = f"{program('zoneadmd')} -z {u}"
        crun = WRAP.format(f"crun --cgroup-manager=cgroupfs run -b {bundle} sb{os.getpid()}")
        wrapper = WRAP.format("true")
        z, c, w = hyperfine([zoneadmd, crun, wrapper], runs=40, warmup=3, env=s.env)
        yield row("zone start→exit→teardown (zoneadmd)", z, "crun run (same namespaces)", c, "s")
        yield row("  crun's wrapper alone (unshare -m + umount)", w, "crun run", c, "s")
        yield row("zone start→exit vs crun minus its wrapper", z, "crun run − wrapper", c - w,
                  "s")

        # The same on a pure cgroup2 layout: no process ever moves between cgroups
        # (clone3 with CLONE_INTO_CGROUP), so no RCU grace period on the start path.
        with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
            f.write(V2ONLY)
        os.chmod(f.name, 0o755)
        try:
            z2, c2 = hyperfine([zoneadmd, f"crun --cgroup-manager=cgroupfs run -b {bundle} "
                                          f"sv{os.getpid()}"], runs=40, warmup=3, env=s.env,
                               prefix=("unshare", "-m", f.name))
        finally:
            os.unlink(f.name)
        yield row("zone start→exit→teardown, cgroup2 host", z2, "crun run, cgroup2 host", c2,
                  "s")

        # zlogin into a running zone vs crun exec into a running container.
        u = s.zone()
        s.run("zoneadm", "-z", u, "boot")
        cid = f"sbx{os.getpid()}"
        subprocess.run(["sh", "-c", WRAP.format(
            f"crun --cgroup-manager=cgroupfs run -d -b {sleeper} {cid}")], check=True)
        try:
            zl = f"{program('zlogin')} {u} true"
            ce = WRAP.format(f"crun exec {cid} /bin/true")
            a, b, w = hyperfine([zl, ce, wrapper], runs=40, warmup=3, env=s.env)
            yield row("zlogin UUID true", a, "crun exec (same namespaces)", b, "s")
            yield row("zlogin vs crun exec minus its wrapper", a, "crun exec − wrapper", b - w,
                      "s")
        finally:
            subprocess.run(["sh", "-c", WRAP.format(f"crun kill {cid} KILL")], check=False)
            time.sleep(0.3)
            subprocess.run(["sh", "-c", WRAP.format(f"crun delete -f {cid}")], check=False)
        s.run("zoneadm", "-z", u, "halt")
    finally:
        s.close()
        shutil.rmtree(bundle, ignore_errors=True)
        shutil.rmtree(sleeper, ignore_errors=True)

    yield from idle_zones(500)


def idle_zones(n):
    s = Scratch()
    try:
        uuids = [s.zone() for _ in range(n)]
        subprocess.run(["sync"], check=True)
        subprocess.run(["sh", "-c", "echo 1 > /proc/sys/vm/drop_caches"], check=True)
        time.sleep(1)
        before = meminfo("MemAvailable")
        boots = []
        for u in uuids:
            t0 = time.perf_counter()
            s.run("zoneadm", "-z", u, "boot")
            boots.append(time.perf_counter() - t0)
        time.sleep(3)
        after = meminfo("MemAvailable")
        rss, pss = [], []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() != "zoneadmd":
                        continue
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    vals = {l.split()[0]: int(l.split()[1]) for l in f if l.split()[0].endswith(":")}
                rss.append(vals["Rss:"])
                pss.append(vals["Pss:"])
            except (OSError, KeyError):
                continue
        assert len(rss) == n, f"{len(rss)} zoneadmd running, expected {n}"
        yield row(f"{n} idle zones: host memory per zone", (before - after) / n * 1024,
                  "budget: 24 GiB / 500", 24 * (1 << 30) / 500, "B")
        yield row("idle zoneadmd RSS (median)", statistics.median(rss) * 1024,
                  "budget: 1 MiB", 1 << 20, "B")
        yield row("idle zoneadmd PSS (median)", statistics.median(pss) * 1024,
                  "budget: 1 MiB", 1 << 20, "B")
        yield row(f"zoneadm boot, last 20 of {n} (median)", statistics.median(boots[-20:]),
                  "first 20 (median)", statistics.median(boots[:20]), "s")
    finally:
        s.close()
