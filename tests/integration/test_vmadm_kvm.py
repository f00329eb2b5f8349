"""The kvm brand: QEMU under TCG, jailed, driven over QMP, on a loop-backed pool.

The guest is scripts/mkimage's kvm-linux (Debian's kernel and busybox on a
raw disk): it prints SABLE-GUEST-UP on ttyS0, reads sdc:uuid over ttyS1
(SABLE-MDATA <uuid>) and powers off on the ACPI power button. This host's
/dev/kvm cannot run guests (PLATFORM.md), so the node config says
hvm_accel=tcg; a boot takes a few seconds.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid as uuidlib

import pytest

from conftest import BUILD, TOP, make_pool, program

BOOT_TIMEOUT = 60


@pytest.fixture(scope="session")
def kvm_image(tmp_path_factory):
    if not shutil.which("qemu-system-x86_64"):
        pytest.skip("qemu-system-x86_64 is missing (scripts/deps installs it)")
    out = tmp_path_factory.mktemp("kvm-images")
    env = dict(os.environ, MDATA_GET=os.path.join(BUILD, "src", "mdata-client", "mdata-get"))
    for name in ("kvm-linux", "kvm-linux-iso"):
        subprocess.run([os.path.join(TOP, "scripts", "mkimage"), name, str(out)], check=True,
                       capture_output=True, env=env)
    files = os.listdir(out)
    manifest = str(out / next(f for f in files if f.endswith(".json")))
    return {"manifest": manifest,
            "file": str(out / next(f for f in files if f.endswith(".zvol.zst"))),
            "iso": str(out / next(f for f in files if f.endswith(".iso"))),
            "uuid": json.load(open(manifest))["uuid"]}


class KvmNode:
    def __init__(self, root, image):
        self.root = root
        self.image = image
        self.vmadmd = None
        root.run("imgadm", "install", "-q", "-m", image["manifest"], "-f", image["file"])

    def start_vmadmd(self):
        self.vmadmd = subprocess.Popen([program("vmadmd")], env=self.root.env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sock = self.root.file("var/run/sable/vmadmd.events")
        for _ in range(200):
            if os.path.exists(sock):
                return
            time.sleep(0.02)
        raise AssertionError("vmadmd did not come up")

    def stop_vmadmd(self):
        if self.vmadmd:
            self.vmadmd.send_signal(signal.SIGTERM)
            assert self.vmadmd.wait(10) == 0
            self.vmadmd = None

    def vmadm(self, *args, check=True, input=None):
        p = subprocess.run([program("vmadm"), *args], env=self.root.env, capture_output=True,
                           text=True, input=input)
        if check and p.returncode != 0:
            raise AssertionError(f"vmadm {' '.join(args)} exited {p.returncode}\n"
                                 f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def payload(self, **kw):
        body = {"brand": "kvm", "ram": 128, "vcpus": 1, "alias": "kvm-test",
                "disks": [{"image_uuid": self.image["uuid"], "boot": True,
                           "model": "virtio"}]}
        body.update(kw)
        return body

    def create(self, **kw):
        p = self.vmadm("create", input=json.dumps(self.payload(**kw)))
        m = re.fullmatch(r"Successfully created VM ([0-9a-f-]{36})\n", p.stderr)
        assert m, p.stderr
        return m.group(1)

    def refused(self, payload, *needles):
        before = self.state()
        p = self.vmadm("create", input=json.dumps(payload), check=False)
        assert p.returncode == 1, p
        assert p.stderr.count("\n") == 1, p.stderr
        for n in needles:
            assert n in p.stderr, p.stderr
        assert self.state() == before
        return p.stderr

    def state(self):
        out = self.root.run("pooladm", "list", "-H", "-o", "name", "-t", "all").stdout
        run = self.root.file("var/run/sable/zones")
        return (sorted(out.split()),
                sorted(os.listdir(run)) if os.path.isdir(run) else [],
                self.vmadm("list", "-H").stdout)

    def zonepath(self, uuid):
        return self.root.file(f"zones/{uuid}")

    def console(self, uuid):
        try:
            with open(os.path.join(self.zonepath(uuid), "logs", "console.log"), "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_console(self, uuid, text, count=1, timeout=BOOT_TIMEOUT):
        end = time.time() + timeout
        while time.time() < end:
            if self.console(uuid).count(text) >= count:
                return
            time.sleep(0.1)
        raise AssertionError(f"no {text!r} (x{count}) on the console of {uuid}:\n"
                             + self.console(uuid)[-2000:])

    def runtime(self, uuid):
        return json.load(open(self.root.file(f"var/run/sable/zones/{uuid}.json")))

    def record(self, uuid):
        return json.load(open(os.path.join(self.zonepath(uuid), "config", "vm.json")))

    def close(self):
        self.stop_vmadmd()
        for vm in json.loads(self.vmadm("lookup", "-j", check=False).stdout or "[]"):
            self.vmadm("delete", vm["uuid"], check=False)


@pytest.fixture
def kvm(root, kvm_image):
    root.write_config("zone_uid_base=1610000000\nhvm_accel=tcg\n")
    pool = make_pool(root, "btrfs", size="2G")
    n = KvmNode(root, kvm_image)
    try:
        yield n
        n.close()
        left = [d for d in n.state()[0] if "-disk" in d or "@" not in d and
                not os.path.exists(root.file(f"var/imgadm/images/{d.replace('/', '-')}.json"))]
        assert left == ["zones"], n.state()
    finally:
        n.close()
        for _ in range(50):  # a volume's removal may keep the pool busy briefly
            p = root.run("pooladm", "export", "zones", check=False)
            if p.returncode == 0:
                break
            time.sleep(0.1)
        assert p.returncode == 0, p.stderr


def qemu_pids(uuid):
    out = subprocess.run(["pgrep", "-f", f"process={uuid}"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_boot_metadata_jail_info_and_graceful_stop(kvm):
    u = kvm.create()
    kvm.wait_console(u, "SABLE-GUEST-UP")
    kvm.wait_console(u, f"SABLE-MDATA {u}")
    vm = json.loads(kvm.vmadm("get", u).stdout)
    assert vm["state"] == "running" and vm["brand"] == "kvm"
    disk = vm["disks"][0]
    assert disk["zfs_filesystem"] == f"zones/{u}-disk0"
    # The disk is an O(1) clone of the image's volume.
    origin = kvm.root.run("pooladm", "list", "-H", "-o", "origin", f"zones/{u}-disk0").stdout
    assert origin.strip() == f"zones/{kvm.image['uuid']}@final"
    # QEMU: named for the VM, unprivileged, no new privileges, seccomp, its own namespaces.
    [pid] = qemu_pids(u)
    status = open(f"/proc/{pid}/status").read()
    assert re.search(r"Uid:\s+1610000000\s", status), status
    assert re.search(r"NoNewPrivs:\s+1", status) and re.search(r"Seccomp:\s+2", status)
    assert re.search(r"CapEff:\s+0+\n", status)
    for ns in ("mnt", "pid", "ipc", "uts", "net"):
        assert os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}")
    cmdline = open(f"/proc/{pid}/cmdline").read().split("\0")
    assert cmdline[cmdline.index("-name") + 1].startswith(u)
    assert any("product=SmartDC HVM" in a for a in cmdline)
    # Only its own disk is in its world.
    root_entries = os.listdir(f"/proc/{pid}/root/vm")
    assert sorted(root_entries) == ["disk0", "run"], root_entries
    info = json.loads(kvm.vmadm("info", u, "status,version,block").stdout)
    assert info["status"]["status"] == "running"
    assert info["version"]["qemu"]["major"] >= 7
    assert info["block"][0]["inserted"]["file"] == "/vm/disk0"
    assert set(json.loads(kvm.vmadm("info", u).stdout)) >= {"status", "vnc", "chardev", "cpus"}
    kvm.vmadm("sysrq", u, "nmi")
    kvm.vmadm("sysrq", u, "screenshot")
    assert open(os.path.join(kvm.zonepath(u), "root/tmp/vm.ppm"), "rb").read(2) == b"P6"
    # Graceful stop: the ACPI power button, and the guest powers off.
    kvm.vmadm("stop", u)
    assert "SABLE-GUEST-POWEROFF" in kvm.console(u)
    assert qemu_pids(u) == []
    assert kvm.runtime(u)["exit_status"] == 0
    run = os.listdir(os.path.join(kvm.zonepath(u), "root/tmp"))
    assert not [f for f in run if f in ("vm.qmp", "vm.sup", "vm.console", "vm.ttyb")], run


def test_iso_boot_once_forced_stop_and_reboot(kvm):
    u = kvm.create(autoboot=False)
    shutil.copy(kvm.image["iso"], os.path.join(kvm.zonepath(u), "root", "install.iso"))
    kvm.vmadm("start", u, "order=d", "cdrom=/install.iso,ide")
    kvm.wait_console(u, "SABLE-GUEST-UP")
    assert "ISOLINUX" in kvm.console(u)
    # reboot -F resets the machine: the once= boot is over, it comes up from its disk.
    kvm.vmadm("reboot", "-F", u)
    kvm.wait_console(u, "SABLE-GUEST-UP", count=2)
    assert "SYSLINUX" in kvm.console(u).split("SABLE-GUEST-UP")[1]
    kvm.vmadm("stop", "-F", u)
    assert qemu_pids(u) == []
    # A cdrom outside the zone root is refused.
    p = kvm.vmadm("start", u, "order=d", "cdrom=/../../etc/passwd,ide", check=False)
    assert p.returncode == 1 and "inside the zone root" in p.stderr, p.stderr
    assert qemu_pids(u) == []


def test_kill_qemu_and_supervisor(kvm):
    u = kvm.create()
    kvm.wait_console(u, "SABLE-GUEST-UP")
    # The supervisor dies: QEMU runs on, and a new zoneadmd adopts it.
    rt = kvm.runtime(u)
    os.kill(rt["zoneadmd_pid"], signal.SIGKILL)
    time.sleep(0.2)
    assert qemu_pids(u) == [rt["init_pid"]]
    subprocess.Popen([program("zoneadmd"), "-z", u], env=kvm.root.env,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(100):
        if kvm.runtime(u)["zoneadmd_pid"] != rt["zoneadmd_pid"]:
            break
        time.sleep(0.05)
    assert kvm.runtime(u)["init_pid"] == rt["init_pid"]
    kvm.vmadm("stop", u)  # over the adopted QMP monitor: the power button
    assert "SABLE-GUEST-POWEROFF" in kvm.console(u)
    # QEMU dies: the VM is recorded stopped with its exit status, its sockets go.
    kvm.vmadm("start", u)
    kvm.wait_console(u, "SABLE-GUEST-UP", count=2)
    [pid] = qemu_pids(u)
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        if kvm.runtime(u)["state"] == "installed":
            break
        time.sleep(0.05)
    assert kvm.runtime(u)["state"] == "installed"
    assert kvm.runtime(u)["exit_status"] == 128 + signal.SIGKILL
    assert json.loads(kvm.vmadm("get", u).stdout)["state"] == "stopped"
    assert not os.path.exists(os.path.join(kvm.zonepath(u), "root/tmp/vm.qmp"))


def test_bad_input_is_refused_and_leaves_nothing(kvm, busybox_image):
    p = kvm.payload()
    kvm.refused({k: v for k, v in p.items() if k != "ram"}, "ram")
    kvm.refused(dict(p, vcpus=0), "vcpus")
    kvm.refused(dict(p, disks=[{"size": 64, "model": "virtio"}]), "boot disk")
    # A disk image of the wrong type: an lx image is no disk.
    kvm.root.run("imgadm", "install", "-q", "-m", busybox_image["manifest"], "-f",
                 busybox_image["file"])
    kvm.refused(dict(p, disks=[{"image_uuid": busybox_image["uuid"], "boot": True,
                                "model": "virtio"}]), "zvol")
    # QEMU failing to start: its own words, and nothing left.
    err = kvm.refused(dict(p, qemu_extra_opts="-no-such-option"), "QEMU exited",
                      "no-such-option")
    assert "invalid option" in err
    # A VNC port in use.
    import socket
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    s.listen(1)
    port = s.getsockname()[1]
    kvm.refused(dict(p, vnc_port=port), f"vnc_port {port}", "in use")
    s.close()


def wait_for(what, timeout=BOOT_TIMEOUT):
    end = time.time() + timeout
    while time.time() < end:
        v = what()
        if v:
            return v
        time.sleep(0.05)
    return what()


def memory_cgroup(pid):
    """The memory cgroup directory of pid (cgroup v1 here, v2 on pure hosts)."""
    for line in open(f"/proc/{pid}/cgroup"):
        n, ctrl, path = line.rstrip("\n").split(":", 2)
        if "memory" in ctrl.split(","):
            return "/sys/fs/cgroup/memory" + path, "memory.limit_in_bytes"
    for line in open(f"/proc/{pid}/cgroup"):
        if line.startswith("0::"):
            return "/sys/fs/cgroup" + line[3:].strip(), "memory.max"
    raise AssertionError(f"pid {pid} has no memory cgroup")


def test_five_vms_at_once_each_capped_and_alone_with_its_disk(kvm):
    made, errors = [], []

    def create(i):
        try:
            made.append(kvm.create(alias=f"kvm-{i}", ram=96))
        except AssertionError as e:
            errors.append(str(e))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(made) == 5, errors
    for u in made:
        kvm.wait_console(u, f"SABLE-MDATA {u}", timeout=120)
    disks = {u: json.loads(kvm.vmadm("get", u).stdout)["disks"][0]["path"] for u in made}
    for u in made:
        vm = json.loads(kvm.vmadm("get", u).stdout)
        [pid] = qemu_pids(u)
        # Its memory cap: max_physical_memory (ram + 1024 MiB by default), QEMU inside it.
        assert vm["max_physical_memory"] == 96 + 1024
        cg, limit = memory_cgroup(pid)
        assert u in cg, cg
        assert int(open(os.path.join(cg, limit)).read()) == vm["max_physical_memory"] << 20
        procs = open(os.path.join(cg, "cgroup.procs")).read().split()
        assert str(pid) in procs
        # Its world: its own disk and socket directory, no other guest's disk, no pool.
        assert sorted(os.listdir(f"/proc/{pid}/root/vm")) == ["disk0", "run"]
        for other, path in disks.items():
            assert not os.path.exists(f"/proc/{pid}/root{path}"), (u, other, path)
        assert not os.path.exists(f"/proc/{pid}/root{kvm.root.path}")
        assert set(os.listdir(f"/proc/{pid}/root")) <= {"bin", "dev", "etc", "lib", "lib64",
                                                       "proc", "usr", "vm"}
    errors.clear()

    def stop(u):
        p = kvm.vmadm("stop", u, check=False)
        if p.returncode:
            errors.append(p.stderr)

    threads = [threading.Thread(target=stop, args=(u,)) for u in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for u in made:
        assert qemu_pids(u) == []
        assert "SABLE-GUEST-POWEROFF" in kvm.console(u)
        assert json.loads(kvm.vmadm("get", u).stdout)["state"] == "stopped"


def read_events(ev, until, timeout=BOOT_TIMEOUT):
    """vmadm events -j lines until one satisfies until(event); all of them."""
    import select
    got = []
    end = time.time() + timeout
    fd = ev.stdout.fileno()
    while time.time() < end:
        if not select.select([fd], [], [], 0.1)[0]:
            continue
        chunk = os.read(fd, 65536).decode()
        assert chunk, f"vmadm events ended; got {got}"
        ev.buf = getattr(ev, "buf", "") + chunk
        *lines, ev.buf = ev.buf.split("\n")
        for line in lines:
            got.append(json.loads(line))
            if until(got[-1]):
                return got
    raise AssertionError(f"no such event in time; got {got}")


def state_change(new):
    return lambda e: any(c["prettyPath"] == "state" and c["newValue"] == new
                         for c in e.get("changes", []))


def qmp(zonepath, *cmds):
    """Run QMP commands on the VM's vm.qmp socket, as an operator would."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.path.join(zonepath, "root/tmp/vm.qmp"))
    f = s.makefile("rw")
    json.loads(f.readline())
    out = []
    for c in ("qmp_capabilities",) + cmds:
        f.write(json.dumps({"execute": c}) + "\n")
        f.flush()
        while True:
            m = json.loads(f.readline())
            if "return" in m or "error" in m:
                out.append(m)
                break
    s.close()
    return out[1:]


def test_qemu_events_vnc_exit_record_and_autoboot(kvm):
    kvm.start_vmadmd()
    ev = subprocess.Popen([program("vmadm"), "events", "-j"], env=kvm.root.env,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        u = kvm.create(vnc_port=0)
        kvm.wait_console(u, "SABLE-GUEST-UP")
        read_events(ev, state_change("running"))
        # vnc_port 0: a free port, reported by info vnc, where QEMU's VNC server answers.
        vnc = json.loads(kvm.vmadm("info", u, "vnc").stdout)["vnc"]
        assert vnc["port"] > 0 and vnc["unix_socket"].endswith("/root/tmp/vm.vnc")
        with socket.create_connection(("127.0.0.1", vnc["port"]), timeout=10) as c:
            assert c.recv(12).startswith(b"RFB 003.")
        # QEMU's events: STOP and RESUME pause the VM and back, RESET is a new boot.
        boot = json.loads(kvm.vmadm("get", u).stdout)["boot_timestamp"]
        qmp(kvm.zonepath(u), "stop")
        read_events(ev, state_change("paused"))
        assert json.loads(kvm.vmadm("get", u).stdout)["state"] == "paused"
        qmp(kvm.zonepath(u), "cont")
        read_events(ev, state_change("running"))
        time.sleep(1.1)  # boot_timestamp has seconds
        kvm.vmadm("reboot", "-F", u)
        read_events(ev, lambda e: any(c["prettyPath"] == "boot_timestamp"
                                      for c in e.get("changes", [])))
        assert json.loads(kvm.vmadm("get", u).stdout)["boot_timestamp"] != boot
        kvm.wait_console(u, "SABLE-GUEST-UP", count=2)
        # kill -9 of QEMU: stopped, and vmadmd keeps the exit in the VM's record.
        [pid] = qemu_pids(u)
        os.kill(pid, signal.SIGKILL)
        read_events(ev, state_change("stopped"))
    finally:
        ev.kill()
        ev.wait()
    rec = wait_for(lambda: "exit_status" in kvm.record(u) and kvm.record(u))
    assert rec["exit_status"] == 128 + signal.SIGKILL and "exit_timestamp" in rec
    assert rec["autoboot"] is True
    # A host boot (vmadmd's once-per-boot marker gone): the autoboot VM runs again.
    kvm.stop_vmadmd()
    os.unlink(kvm.root.file("var/run/sable/vmadmd.autobooted"))
    kvm.start_vmadmd()
    kvm.wait_console(u, "SABLE-GUEST-UP", count=3)
    assert json.loads(kvm.vmadm("get", u).stdout)["state"] == "running"
    kvm.vmadm("stop", "-F", u)


def test_a_nic_on_a_tag_has_link(kvm, netns):
    """The guest's virtio NIC is a tap on the external tag; a host beyond the uplink pings it."""
    tag = uuidlib.uuid4().hex[:6]
    router = netns(f"sbt-k-{tag}")
    up, far = f"sbku{tag}", f"sbkr{tag}"

    def sh(*cmd):
        return subprocess.run(cmd, capture_output=True, text=True, check=True)

    sh("ip", "link", "add", up, "type", "veth", "peer", "name", far)
    try:
        sh("ip", "link", "set", far, "netns", router)
        sh("ip", "link", "set", up, "up")
        ip = ["ip", "netns", "exec", router, "ip"]
        sh(*ip, "link", "set", far, "name", "eth0")
        sh(*ip, "link", "set", "eth0", "up")
        sh(*ip, "addr", "add", "198.51.100.1/24", "dev", "eth0")
        mac = open(f"/sys/class/net/{up}/address").read().strip()
        kvm.root.run("nictagadm", "add", "external", mac)
        u = kvm.create(nics=[{"nic_tag": "external", "ips": ["198.51.100.40/24"],
                              "model": "virtio", "primary": True}])
        kvm.wait_console(u, "SABLE-NET eth0 198.51.100.40/24")
        guest_mac = json.loads(kvm.vmadm("get", u).stdout)["nics"][0]["mac"]
        p = subprocess.run(["ip", "netns", "exec", router, "busybox", "ping", "-c", "1", "-W", "5",
                            "198.51.100.40"], capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr + kvm.console(u)[-1500:]
        neigh = subprocess.run(["ip", "netns", "exec", router, "ip", "neigh"],
                               capture_output=True, text=True).stdout
        assert guest_mac in neigh, neigh
        kvm.vmadm("delete", u)
    finally:
        subprocess.run(["ip", "link", "del", up], capture_output=True)


def console_sock(kvm, u):
    s = socket.socket(socket.AF_UNIX)
    s.connect(kvm.root.file(f"var/run/sable/zones/{u}.console"))
    return s


_typed = iter(range(1000, 1000000))


def console_run(kvm, u, cmd, timeout=BOOT_TIMEOUT):
    """Type cmd at the guest's console shell (ttyS0) and wait for it to finish.

    The shell starts when the guest's init is done, so the console is first
    asked to echo a marker until it does; the marker is computed by the
    shell ($((...))) so that the typed line's echo never matches it.
    """
    end = time.time() + timeout
    while True:
        n = next(_typed)
        with console_sock(kvm, u) as s:
            s.sendall(f"echo SABLE-READY-$(({n}+0))\n".encode())
        try:
            kvm.wait_console(u, f"SABLE-READY-{n}\r", timeout=2)
            break
        except AssertionError:
            if time.time() > end:
                raise
    n = next(_typed)
    start = len(kvm.console(u))
    with console_sock(kvm, u) as s:
        s.sendall(f"{cmd}; echo SABLE-DONE-$(({n}+0))\n".encode())
    kvm.wait_console(u, f"SABLE-DONE-{n}\r", timeout=max(1, end - time.time()))
    out = kvm.console(u)[start:]
    return out[:out.index(f"SABLE-DONE-{n}\r")]


def test_start_with_an_extra_disk_for_one_boot(kvm):
    u = kvm.create(autoboot=False)
    zroot = os.path.join(kvm.zonepath(u), "root")
    with open(os.path.join(zroot, "extra.img"), "wb") as f:
        f.truncate(8 << 20)
    os.mkdir(os.path.join(zroot, "adir"))
    os.symlink("/etc/passwd", os.path.join(zroot, "link.img"))
    once = os.path.join(kvm.zonepath(u), "config", "hvm-once.json")
    # Bad input: one line that names the thing, exit 1, nothing started or left.
    for arg, needles in (("disk=/../../../etc/passwd,virtio", ["disk '/../../../etc/passwd'",
                                                               "inside the zone root"]),
                         ("disk=/missing.img,virtio", ["disk '/missing.img'", "No such file"]),
                         ("disk=/extra.img", ["disk '/extra.img'", "model"]),
                         ("disk=/extra.img,nvme", ["disk '/extra.img,nvme'", "ide, scsi or virtio"]),
                         ("disk=/adir,virtio", ["disk '/adir'", "regular file"]),
                         ("disk=/link.img,virtio", ["disk '/link.img'", "symlinks"]),
                         ("disk=relative.img,ide", ["disk 'relative.img'", "absolute"])):
        p = kvm.vmadm("start", u, arg, check=False)
        assert p.returncode == 1 and p.stderr.count("\n") == 1, (arg, p.stderr)
        for n in needles:
            assert n in p.stderr, (arg, p.stderr)
        assert qemu_pids(u) == [] and not os.path.exists(once)
        assert json.loads(kvm.vmadm("get", u).stdout)["state"] == "stopped"
    p = kvm.vmadm("start", u, *[f"disk=/extra.img,virtio"] * 5, check=False)
    assert p.returncode == 1 and "at most 4" in p.stderr, p.stderr
    # The guest sees the extra disk (its init reads /dev/vdb: SABLE-DD) for this boot.
    kvm.vmadm("start", u, "disk=/extra.img,virtio")
    kvm.wait_console(u, "SABLE-DD")
    [pid] = qemu_pids(u)
    assert sorted(os.listdir(f"/proc/{pid}/root/vm")) == ["disk0", "oncedisk0", "run"]
    block = json.loads(kvm.vmadm("info", u, "block").stdout)["block"]
    assert [b["inserted"]["file"] for b in block] == ["/vm/disk0", "/vm/oncedisk0"], block
    assert "vdb" in console_run(kvm, u, "ls /sys/block")
    assert not os.path.exists(once)
    kvm.vmadm("stop", "-F", u)
    # The next start is without it.
    kvm.vmadm("start", u)
    kvm.wait_console(u, "SABLE-GUEST-UP", count=2)
    [pid] = qemu_pids(u)
    assert sorted(os.listdir(f"/proc/{pid}/root/vm")) == ["disk0", "run"]
    out = console_run(kvm, u, "ls /sys/block")
    assert "vda" in out and "vdb" not in out, out
    assert kvm.console(u).count("SABLE-DD") == 1
    kvm.vmadm("stop", "-F", u)


def vmadm_bg(kvm, *args):
    return subprocess.Popen([program("vmadm"), *args], env=kvm.root.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stopping(kvm, u, to, timeout_s, t0):
    """Wait for the VM to show SmartOS's stopping state; check its transition; return it."""
    vm = wait_for(lambda: (lambda v: v["state"] == "stopping" and v)(
        json.loads(kvm.vmadm("get", u).stdout)), timeout=20)
    assert vm, json.loads(kvm.vmadm("get", u).stdout)
    assert vm["transition_to"] == to, vm
    # The forced stop's deadline: the button's press plus the timeout, in ms.
    assert t0 * 1000 + timeout_s * 1000 - 1000 <= vm["transition_expire"] \
        <= time.time() * 1000 + timeout_s * 1000, (vm["transition_expire"], t0)
    listed = kvm.vmadm("list", "-H", "-o", "uuid,state", f"uuid={u}").stdout.split()
    assert listed == [u, "stopping"], listed
    return vm


def settled(kvm, u, state):
    vm = json.loads(kvm.vmadm("get", u).stdout)
    assert vm["state"] == state, vm
    assert "transition_to" not in vm and "transition_expire" not in vm, vm
    assert "transition_to" not in kvm.runtime(u)


def test_stopping_states_while_the_guest_powers_off(kvm):
    u = kvm.create()
    kvm.wait_console(u, f"SABLE-MDATA {u}")
    # The guest's power button handler waits for /tmp/go before it powers off.
    slow = "rm -f /tmp/go; sed -i 's|^sync$|while [ ! -e /tmp/go ]; do sleep 0.1; done; sync|' " \
           "/etc/acpi/PWRF/00000080"
    console_run(kvm, u, slow)
    # A graceful reboot: stopping, on its way to start, then running again.
    t0 = time.time()
    p = vmadm_bg(kvm, "reboot", u)
    stopping(kvm, u, "start", 180, t0)
    console_run(kvm, u, "touch /tmp/go")
    assert p.wait(60) == 0, p.communicate()
    settled(kvm, u, "running")
    kvm.wait_console(u, "SABLE-GUEST-UP", count=2)
    # A graceful stop with -t: stopping, on its way to stopped, then stopped.
    console_run(kvm, u, slow)
    t0 = time.time()
    p = vmadm_bg(kvm, "stop", "-t", "60", u)
    stopping(kvm, u, "stopped", 60, t0)
    console_run(kvm, u, "touch /tmp/go")
    assert p.wait(60) == 0, p.communicate()
    settled(kvm, u, "stopped")
    assert kvm.console(u).count("SABLE-GUEST-POWEROFF") == 2


def test_a_guest_that_ignores_the_button_is_forced_at_the_deadline(kvm):
    u = kvm.create()
    kvm.wait_console(u, f"SABLE-MDATA {u}")
    console_run(kvm, u, "killall acpid")
    t0 = time.time()
    p = vmadm_bg(kvm, "stop", "-t", "3", u)
    stopping(kvm, u, "stopped", 3, t0)
    assert p.wait(30) == 0, p.communicate()
    assert time.time() - t0 >= 2.5
    settled(kvm, u, "stopped")
    assert "SABLE-GUEST-POWEROFF" not in kvm.console(u)
    # A graceful reboot that runs out of time (vmadm's is 180 s; zoneadmd's own control
    # socket takes a shorter one): QEMU is forced off and started again, as on SmartOS.
    kvm.vmadm("start", u)
    kvm.wait_console(u, "SABLE-GUEST-UP", count=2)
    console_run(kvm, u, "killall acpid")
    [pid] = qemu_pids(u)
    t0 = time.time()
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as c:
        c.connect(kvm.root.file(f"var/run/sable/zones/{u}.ctl"))
        c.send(b"reboot 3")
        stopping(kvm, u, "start", 3, t0)
        c.settimeout(60)
        assert c.recv(256) == b"ok"
    settled(kvm, u, "running")
    assert qemu_pids(u) not in ([], [pid])
    kvm.wait_console(u, "SABLE-GUEST-UP", count=3)
    # The supervisor dies during the wait: a new one waits on, to the same deadline.
    console_run(kvm, u, "killall acpid")
    t0 = time.time()
    p = vmadm_bg(kvm, "stop", "-t", "12", u)
    vm = stopping(kvm, u, "stopped", 12, t0)
    old = kvm.runtime(u)["zoneadmd_pid"]
    os.kill(old, signal.SIGKILL)
    p.wait(10)
    subprocess.Popen([program("zoneadmd"), "-z", u], env=kvm.root.env,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    assert wait_for(lambda: kvm.runtime(u)["zoneadmd_pid"] != old, 10)
    assert kvm.runtime(u)["transition_expire"] == vm["transition_expire"]
    assert json.loads(kvm.vmadm("get", u).stdout)["state"] == "stopping"
    assert qemu_pids(u) and time.time() * 1000 < vm["transition_expire"]
    assert wait_for(lambda: not qemu_pids(u), timeout=20)
    assert time.time() * 1000 >= vm["transition_expire"] - 200
    wait_for(lambda: json.loads(kvm.vmadm("get", u).stdout)["state"] == "stopped", 10)
    settled(kvm, u, "stopped")


def test_a_guest_that_touches_all_its_ram_stays_within_its_cap(kvm):
    """The guest fills its RAM; QEMU's cgroup stays within max_physical_memory and QEMU lives."""
    ram, cap = 256, 256 + 256  # the least max_physical_memory vmadm allows: ram + 256
    u = kvm.create(ram=ram, max_physical_memory=cap)
    kvm.wait_console(u, f"SABLE-MDATA {u}")
    [pid] = qemu_pids(u)
    cg, limit = memory_cgroup(pid)
    v1 = limit == "memory.limit_in_bytes"
    usage_file = "memory.usage_in_bytes" if v1 else "memory.current"

    def usage():
        return int(open(os.path.join(cg, usage_file)).read())

    assert int(open(os.path.join(cg, limit)).read()) == cap << 20
    # All the guest's available memory into its rootfs (pages its kernel cannot drop).
    out = console_run(kvm, u, "m=$(awk '/MemAvailable/{print int($2/1024)-16}' /proc/meminfo); "
                              "echo SABLE-FILL-$m; dd if=/dev/zero of=/fill bs=1M count=$m; "
                              "grep MemAvailable /proc/meminfo", timeout=180)
    filled = int(re.search(r"SABLE-FILL-(\d+)", out).group(1))
    assert filled > ram // 2, out
    after = usage()
    peak = int(open(os.path.join(cg, "memory.max_usage_in_bytes" if v1 else "memory.peak"))
               .read()) if v1 or os.path.exists(os.path.join(cg, "memory.peak")) else after
    # The guest's pages are QEMU's, resident and charged to its cgroup, under the cap.
    rss = int(re.search(r"RssAnon:\s+(\d+) kB", open(f"/proc/{pid}/status").read()).group(1))
    assert rss << 10 >= filled << 20 and after >= rss << 10, (rss, after, filled)
    assert after <= cap << 20 and peak <= cap << 20
    assert qemu_pids(u) == [pid]
    # The guest lives on: it answers and can give its memory back.
    assert "SABLE-FREED-42" in console_run(kvm, u, "rm /fill; echo SABLE-FREED-$((6*7))")
    kvm.vmadm("stop", "-F", u)


def test_a_guest_cannot_spoof_its_ip_or_mac(kvm, netns):
    """A guest that takes an address or a MAC not in its payload reaches nothing; its own do."""
    tag = uuidlib.uuid4().hex[:6]
    router = netns(f"sbt-s-{tag}")
    up, far = f"sbsu{tag}", f"sbsr{tag}"

    def sh(*cmd):
        return subprocess.run(cmd, capture_output=True, text=True, check=True)

    def ping():
        out = console_run(kvm, u, "ping -c 1 -W 2 198.51.100.1 >/dev/null 2>&1; "
                                  "echo SABLE-PING-rc$?")
        return re.search(r"SABLE-PING-rc(\d+)", out).group(1) == "0"

    sh("ip", "link", "add", up, "type", "veth", "peer", "name", far)
    try:
        sh("ip", "link", "set", far, "netns", router)
        sh("ip", "link", "set", up, "up")
        ip = ["ip", "netns", "exec", router, "ip"]
        sh(*ip, "link", "set", far, "name", "eth0")
        sh(*ip, "link", "set", "eth0", "up")
        sh(*ip, "addr", "add", "198.51.100.1/24", "dev", "eth0")
        kvm.root.run("nictagadm", "add", "external",
                     open(f"/sys/class/net/{up}/address").read().strip())
        u = kvm.create(nics=[{"nic_tag": "external", "ips": ["198.51.100.40/24"],
                              "model": "virtio", "primary": True}])
        kvm.wait_console(u, "SABLE-NET eth0 198.51.100.40/24")
        mac = json.loads(kvm.vmadm("get", u).stdout)["nics"][0]["mac"]
        assert ping(), kvm.console(u)[-1500:]
        # Another address: its packets and ARP are dropped at its port.
        console_run(kvm, u, "ip addr flush dev eth0; ip addr add 198.51.100.41/24 dev eth0")
        assert not ping()
        neigh = sh(*ip, "neigh", "show", "198.51.100.41").stdout
        assert "lladdr" not in neigh, neigh
        console_run(kvm, u, "ip addr flush dev eth0; ip addr add 198.51.100.40/24 dev eth0")
        assert ping()
        # Another MAC: likewise.
        console_run(kvm, u, "ip link set eth0 down; ip link set eth0 address 02:00:5e:10:00:99; "
                            "ip link set eth0 up; ip addr add 198.51.100.40/24 dev eth0 2>/dev/null")
        assert not ping()
        neigh = sh(*ip, "neigh").stdout
        assert "02:00:5e:10:00:99" not in neigh, neigh
        console_run(kvm, u, f"ip link set eth0 down; ip link set eth0 address {mac}; "
                            "ip link set eth0 up; ip addr add 198.51.100.40/24 dev eth0 2>/dev/null")
        assert ping()
        kvm.vmadm("delete", u)
    finally:
        subprocess.run(["ip", "link", "del", up], capture_output=True)
