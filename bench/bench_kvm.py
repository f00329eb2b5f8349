"""kvm: vmadm create + boot to the guest's marker beside QEMU started by hand.

A scratch SABLE_ROOT with a loop-backed pool and scripts/mkimage's kvm-linux
image (Debian's kernel, busybox, syslinux on a raw disk). Both sides use the
same disk image, the same machine and the same accelerator (TCG here: this
host's /dev/kvm cannot run guests; set SABLE_BENCH_ACCEL=kvm on a real host),
measured alternately in one run:

- boot: `vmadm create` (clone of the image's volume, the jail, QMP, taps none)
  until SABLE-GUEST-UP is in the console log, beside qemu-system-x86_64 with
  -drive file=<copy of the disk> and the serial port on a pipe, until the
  same marker;
- memory: RSS of QEMU + zoneadmd for an idle 256 MiB guest beside the bare
  QEMU's RSS (the difference is what Sable adds beyond the guest);
- disk: the guest's sequential read of a 1 GiB second disk (its init
  times `dd iflag=direct bs=4M` of /dev/vdb: the virtual disk's speed, not
  the guest page cache's copy, which TCG emulates instruction by
  instruction) beside `dd` of the same volume file on the host.
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

from harness import BUILD, TOP, program, row, drop_node_cgroups

ACCEL = os.environ.get("SABLE_BENCH_ACCEL", "tcg")
RUNS = int(os.environ.get("SABLE_BENCH_KVM_RUNS", "5"))
DISK_RUNS = 3
DISK_MIB = 1024
MARKER = b"SABLE-GUEST-UP"


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Node:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="sable-bench-kvm-")
        os.makedirs(os.path.join(self.root, "usbkey"))
        with open(os.path.join(self.root, "usbkey", "config"), "w") as f:
            f.write(f"zone_uid_base=1450000000\nhvm_accel={ACCEL}\n")
        self.env = dict(os.environ, SABLE_ROOT=self.root)
        self.run("pooladm", "create", "zones", "--size", "8G")
        self.images = os.path.join(self.root, "images")
        os.makedirs(self.images)
        env = dict(os.environ, MDATA_GET=os.path.join(BUILD, "src/mdata-client/mdata-get"))
        subprocess.run([os.path.join(TOP, "scripts", "mkimage"), "kvm-linux", self.images],
                       check=True, capture_output=True, env=env)
        files = os.listdir(self.images)
        self.manifest = os.path.join(self.images, next(f for f in files if f.endswith(".json")))
        self.raw = os.path.join(self.images, next(f for f in files if f.endswith(".disk.raw")))
        zvol = os.path.join(self.images, next(f for f in files if f.endswith(".zvol.zst")))
        self.run("imgadm", "install", "-q", "-m", self.manifest, "-f", zvol)
        self.image = json.load(open(self.manifest))["uuid"]

    def run(self, prog, *args, input=None):
        return subprocess.run([program(prog), *args], env=self.env, check=True,
                              capture_output=True, text=True, input=input)

    def create(self, ram=256, disks=()):
        body = {"brand": "kvm", "ram": ram, "vcpus": 1, "alias": "bench",
                "disks": [{"image_uuid": self.image, "boot": True, "model": "virtio"},
                          *disks]}
        p = self.run("vmadm", "create", input=json.dumps(body))
        return re.search(r"VM ([0-9a-f-]{36})", p.stderr).group(1)

    def console(self, uuid):
        try:
            return open(os.path.join(self.root, "zones", uuid, "logs", "console.log"),
                        "rb").read()
        except FileNotFoundError:
            return b""

    def wait(self, uuid, text, timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            if text in self.console(uuid):
                return
            time.sleep(0.01)
        raise RuntimeError(f"VM {uuid}: no {text!r}")

    def delete(self, uuid):
        self.run("vmadm", "delete", uuid)

    def close(self):
        for vm in json.loads(self.run("vmadm", "lookup", "-j").stdout or "[]"):
            subprocess.run([program("vmadm"), "delete", vm["uuid"]], env=self.env)
        subprocess.run([program("pooladm"), "export", "zones"], env=self.env)
        drop_node_cgroups(self.root)
        shutil.rmtree(self.root, ignore_errors=True)


def bare_boot(raw, ram=256, keep=False):
    """QEMU by hand: the same disk (a copy), machine and accelerator; seconds to the marker."""
    disk = raw + ".bare"
    shutil.copyfile(raw, disk)
    t0 = time.monotonic()
    q = subprocess.Popen(["qemu-system-x86_64", "-machine", f"pc,accel={ACCEL}", "-cpu", "qemu64",
                          "-m", str(ram), "-smp", "1", "-nodefaults", "-no-user-config",
                          "-display", "none", "-drive", f"file={disk},format=raw,if=virtio",
                          "-serial", "stdio"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    buf = b""
    while MARKER not in buf:
        chunk = os.read(q.stdout.fileno(), 4096)
        if not chunk:
            raise RuntimeError("bare QEMU ended before the marker")
        buf += chunk
    t = time.monotonic() - t0
    if keep:
        return t, q
    q.kill()
    q.wait()
    os.unlink(disk)
    return t, None


def rows():
    n = Node()
    try:
        sable, bare = [], []
        for _ in range(RUNS):
            t0 = time.monotonic()
            u = n.create()
            n.wait(u, MARKER)
            sable.append(time.monotonic() - t0)
            n.delete(u)
            bare.append(bare_boot(n.raw)[0])
        yield row("kvm: vmadm create + boot to the guest's marker (" + ACCEL + ")",
                  statistics.median(sable), "qemu-system-x86_64 by hand",
                  statistics.median(bare), "s")

        # Memory of an idle 256 MiB guest: QEMU + its supervisor, beside bare QEMU.
        u = n.create()
        n.wait(u, b"SABLE-MDATA")
        time.sleep(3)
        rt = json.load(open(os.path.join(n.root, "var/run/sable/zones", f"{u}.json")))
        ours = rss_kib(rt["init_pid"]) + rss_kib(rt["zoneadmd_pid"])
        _, q = bare_boot(n.raw, keep=True)
        time.sleep(3)
        theirs = rss_kib(q.pid)
        q.kill()
        q.wait()
        os.unlink(n.raw + ".bare")
        n.delete(u)
        yield row("kvm: host RSS of an idle 256 MiB guest (QEMU + zoneadmd)", ours / 1024,
                  "bare QEMU's RSS", theirs / 1024, "MiB")

        # Disk: the guest reads a 1 GiB disk (O_DIRECT, 4 MiB blocks); the host reads
        # the same volume file; alternately, DISK_RUNS times, medians.
        guest, host = [], []
        for _ in range(DISK_RUNS):
            u = n.create(disks=[{"size": DISK_MIB, "model": "virtio"}])
            vol = json.loads(n.run("vmadm", "get", u).stdout)["disks"][1]["path"]
            n.wait(u, b"SABLE-DD", timeout=300)
            time.sleep(0.5)  # the rest of its line
            line = n.console(u).split(b"SABLE-DD", 1)[1].split(b"\n", 1)[0].decode()
            m = re.search(r"start=([\d.]+) end=([\d.]+)", line)
            guest.append(DISK_MIB / (float(m.group(2)) - float(m.group(1))) if m
                         else float("nan"))
            t0 = time.monotonic()
            subprocess.run(["dd", f"if={vol}", "of=/dev/null", "bs=4M"], check=True,
                           capture_output=True)
            host.append(DISK_MIB / (time.monotonic() - t0))
            n.delete(u)
        yield row(f"kvm: guest sequential read of a {DISK_MIB} MiB disk ({ACCEL})",
                  statistics.median(guest), "dd of the volume file on the host",
                  statistics.median(host), "MiB/s")
    finally:
        n.close()


if __name__ == "__main__":
    for r in rows():
        print(r)
