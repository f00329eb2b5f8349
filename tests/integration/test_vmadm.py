"""vmadm and vmadmd: SmartOS payloads in, SmartOS shapes out, on a loop-backed pool.

Each test gets a scratch root with a btrfs pool, the busybox lx image
(scripts/mkimage, installed with imgadm) and /native carrying the probe, and must leave
the host as it found it (conftest: cgroups, processes, mounts, loops).
Besides that, a deleted or failed VM must leave nothing in the root
either: no dataset, record, intent, id range or run file (clean()).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid as uuidlib

import pytest

from conftest import BUILD, TOP, drop_pool, make_pool, program

class Node:
    """A root with a pool and an image, and vmadm in it."""

    def __init__(self, root, pool, image):
        self.root = root
        self.pool = pool
        self.image = image["uuid"]
        root.run("imgadm", "install", "-q", "-m", image["manifest"], "-f", image["file"])
        native = root.file("native")
        os.makedirs(native, exist_ok=True)
        shutil.copy(os.path.join(BUILD, "tests", "helpers", "zprobe"), native)
        # The in-zone tools, as an installed node has them (/native/usr/sbin).
        sbin = os.path.join(native, "usr", "sbin")
        os.makedirs(sbin, exist_ok=True)
        for tool in ("mdata-get", "mdata-put", "mdata-delete", "mdata-list"):
            shutil.copy(os.path.join(BUILD, "src", "mdata-client", tool), sbin)
        with open(root.file("usbkey/config"), "a") as f:
            f.write(f"zone_native_dir={native}\n")
        self.vmadmd = None

    def vmadm(self, *args, check=True, input=None, env=None):
        cmd = [program("vmadm"), *args]
        p = subprocess.run(cmd, env=dict(self.root.env, **(env or {})), capture_output=True,
                           text=True, input=input)
        if check and p.returncode != 0:
            raise AssertionError(f"vmadm {' '.join(args)} exited {p.returncode}\n"
                                 f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def create(self, **payload):
        body = {"brand": "lx", "image_uuid": self.image, "max_physical_memory": 128,
                "quota": 1, "alias": "test"}
        body.update(payload)
        p = self.vmadm("create", input=json.dumps(body))
        m = re.fullmatch(r"Successfully created VM ([0-9a-f-]{36})\n", p.stderr)
        assert m, p.stderr
        return m.group(1)

    def get(self, uuid):
        return json.loads(self.vmadm("get", uuid).stdout)

    def login(self, uuid, *cmd, check=True):
        return self.root.run("zlogin", uuid, *cmd, check=check)

    def probe(self, uuid, *args):
        return json.loads(self.login(uuid, "/native/zprobe", *args).stdout)

    def datasets(self):
        out = self.root.run("pooladm", "list", "-H", "-o", "name", "-t", "all").stdout
        return sorted(n for n in out.split() if n != "zones" and self.image not in n)

    def leftovers(self):
        """What VMs left in the root: datasets, intents, id ranges, run files."""
        found = {"datasets": self.datasets()}
        d = self.root.file("var/lib/sable/vm-intents")
        found["intents"] = sorted(os.listdir(d)) if os.path.isdir(d) else []
        idmap = self.root.file("var/lib/sable/idmap")
        found["ids"] = open(idmap).read().split() if os.path.exists(idmap) else []
        run = self.root.file("var/run/sable/zones")
        found["run"] = sorted(f for f in os.listdir(run) if f != "idmap") \
            if os.path.isdir(run) else []
        return {k: v for k, v in found.items() if v}

    def start_vmadmd(self):
        self.vmadmd = subprocess.Popen([program("vmadmd")], env=self.root.env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       text=True)
        sock = self.root.file("var/run/sable/vmadmd.events")
        for _ in range(200):
            if os.path.exists(sock):
                return
            time.sleep(0.02)
        raise AssertionError("vmadmd did not come up: " + self.vmadmd.stderr.read())

    def stop_vmadmd(self):
        if self.vmadmd:
            self.vmadmd.send_signal(signal.SIGTERM)
            assert self.vmadmd.wait(10) == 0
            self.vmadmd = None

    def close(self):
        self.stop_vmadmd()
        for vm in json.loads(self.vmadm("lookup", "-j", check=False).stdout or "[]"):
            self.vmadm("delete", vm["uuid"], check=False)
        # Anything a VM made must be gone with it.
        assert self.leftovers() == {}, self.leftovers()


@pytest.fixture
def node(root, busybox_image):
    root.write_config("zone_uid_base=1600000000\n")
    pool = make_pool(root, "btrfs", size="3G")
    n = Node(root, pool, busybox_image)
    try:
        yield n
        n.close()
    finally:
        n.stop_vmadmd()
        for vm in json.loads(n.vmadm("lookup", "-j", check=False).stdout or "[]"):
            n.vmadm("delete", vm["uuid"], check=False)
        drop_pool(pool)


def test_create_get_list_lookup_delete(node):
    u = node.create(alias="web01", hostname="web01", tags={"role": "web"})
    vm = node.get(u)
    assert vm["uuid"] == u and vm["brand"] == "lx" and vm["alias"] == "web01"
    assert vm["state"] == "running" and vm["zone_state"] == "running"
    assert vm["pid"] > 1 and vm["autoboot"] is True
    assert vm["zonepath"] == node.root.file(f"zones/{u}")
    assert vm["zfs_filesystem"] == f"zones/{u}" and vm["zpool"] == "zones"
    assert vm["type"] == "LX" and vm["hvm"] is False and vm["snapshots"] == []
    assert vm["image_uuid"] == node.image and vm["tags"] == {"role": "web"}
    # SmartOS's defaults (smartos.md 2.1)
    assert vm["max_physical_memory"] == 128 and vm["max_swap"] == 256
    assert vm["max_locked_memory"] == 128 and vm["tmpfs"] == 128
    assert vm["cpu_shares"] == 100 and vm["max_lwps"] == 2000 and vm["quota"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", vm["create_timestamp"])
    # The guest runs, with its hostname, as root of its own namespace.
    assert node.login(u, "hostname").stdout.strip() == "web01"
    assert node.login(u, "uname", "-s").stdout.strip() == "Linux"

    table = node.vmadm("list").stdout.splitlines()
    assert re.fullmatch(r"UUID +TYPE +RAM +STATE +ALIAS", table[0])
    assert re.fullmatch(rf"{u} +LX +128 +running +web01", table[1])
    assert node.vmadm("list", "-p", "-o", "uuid,state").stdout == f"{u}:running\n"
    assert node.vmadm("lookup", "alias=web01").stdout == f"{u}\n"
    assert node.vmadm("lookup", "alias=~^web").stdout == f"{u}\n"
    assert node.vmadm("lookup", "tags.role=web").stdout == f"{u}\n"
    assert node.vmadm("lookup", "alias=nope").stdout == ""
    assert json.loads(node.vmadm("lookup", "-j", "-o", "uuid,alias").stdout) == \
        [{"uuid": u, "alias": "web01"}]
    # SmartOS printed nothing for `vmadm list <uuid>` (issue 41); here it is a filter.
    assert u in node.vmadm("list", u).stdout

    p = node.vmadm("delete", u)
    assert p.stderr == f"Successfully deleted VM {u}\n"
    p = node.vmadm("get", u, check=False)
    assert p.returncode == 1 and p.stderr == f"zoneadm: {u}: No such zone configured\n"
    assert node.leftovers() == {}


def test_payload_errors_name_the_property_and_change_nothing(node):
    def refused(payload, *needles, code=1):
        before = node.leftovers()
        p = node.vmadm("create", input=json.dumps(payload), check=False)
        assert p.returncode == code, p.stderr
        for n in needles:
            assert n in p.stderr, p.stderr
        assert node.leftovers() == before
        assert node.vmadm("list", "-H").stdout == listed
        return p.stderr

    listed = ""

    base = {"brand": "lx", "image_uuid": node.image}
    err = refused(dict(base, max_physical_memroy=512), "max_physical_memroy",
                  "max_physical_memory")
    assert "did you mean" in err
    refused(dict(base, nics=[{"nic_tag": "admin", "ipz": ["dhcp"]}]), "nics.0.ipz")
    refused(dict(base, max_physical_memory="lots"), "max_physical_memory")
    refused({"brand": "lx"}, "image_uuid")
    refused({"brand": "joyent", "image_uuid": node.image}, "joyent", "lx")
    refused({"image_uuid": node.image}, "lx")
    missing = str(uuidlib.uuid4())
    refused(dict(base, image_uuid=missing), missing, "imgadm import")
    p = node.vmadm("create", input="{\"brand\": \"lx\",", check=False)
    assert p.returncode == 1 and "Invalid JSON payload" in p.stderr
    p = node.vmadm("create", input="[1, 2]", check=False)
    assert p.returncode == 1 and "expected an object" in p.stderr
    # A uuid that exists already.
    u = node.create()
    listed = node.vmadm("list", "-H").stdout
    refused(dict(base, uuid=u), u, "already exists")


def test_validate_prints_smartos_shapes(node):
    p = node.vmadm("validate", "create", input=json.dumps({"brand": "lx", "image_uuid": node.image}))
    assert p.returncode == 0 and p.stderr == "VALID 'create' payload for lx brand VMs.\n"
    # The lx example of smartos.md section 3 validates as it is.
    example = {
        "brand": "lx", "kernel_version": "4.3.0",
        "image_uuid": "7b5981c4-1889-11e7-b4c5-3f3bdfc9b88b", "alias": "deb01",
        "max_physical_memory": 1024, "quota": 10, "resolvers": ["9.9.9.9"],
        "nics": [{"nic_tag": "admin", "ips": ["dhcp"], "primary": True}],
        "customer_metadata": {"root_authorized_keys": "ssh-ed25519 AAAA... me@host"}}
    assert node.vmadm("validate", "create", input=json.dumps(example)).returncode == 0
    p = node.vmadm("validate", "create", check=False,
                   input=json.dumps({"brand": "lx", "ram": "x", "bogus": 1}))
    assert p.returncode == 1
    out = json.loads(p.stdout)
    assert out["bad_properties"] == ["bogus"] and out["bad_values"] == ["ram"]
    assert out["missing_properties"] == ["image_uuid"]
    p = node.vmadm("validate", "update", "lx", input=json.dumps({"set_tags": {"a": "b"}}))
    assert p.returncode == 0 and "VALID 'update' payload for lx brand VMs." in p.stderr


def test_usage_and_aliases(node):
    p = node.vmadm(check=False)
    assert p.returncode == 2 and "Usage: vmadm" in p.stderr and p.stdout == ""
    p = node.vmadm("help")
    assert p.returncode == 0 and "Usage: vmadm" in p.stdout
    p = node.vmadm("frobnicate", check=False)
    assert p.returncode == 2 and 'Invalid command: "frobnicate".' in p.stderr
    p = node.vmadm("get", "not-a-uuid", check=False)
    assert p.returncode == 2 and "Invalid or missing UUID for get" in p.stderr
    p = node.vmadm("lookup", "-o", "uuid", check=False)
    assert p.returncode == 2 and "Cannot specify -o without -j" in p.stderr
    p = node.vmadm("lookup", "bogus=1", check=False)
    assert p.returncode == 2 and 'Invalid filter key: "bogus"' in p.stderr
    u = node.create(autoboot=False)
    assert node.get(u)["state"] == "stopped"
    assert node.vmadm("json", u).stdout == node.vmadm("get", u).stdout
    node.vmadm("boot", u)
    assert node.get(u)["state"] == "running"
    node.vmadm("halt", u, "-F")
    assert node.get(u)["state"] == "stopped"
    node.vmadm("destroy", u)


def test_start_stop_reboot_are_idempotent_and_keep_autoboot(node):
    u = node.create()
    p = node.vmadm("start", u)
    assert p.returncode == 0 and "already running" in p.stderr
    node.vmadm("stop", u)
    vm = node.get(u)
    assert vm["state"] == "stopped" and vm["autoboot"] is False
    assert "pid" not in vm
    p = node.vmadm("stop", u)
    assert p.returncode == 0 and "not running" in p.stderr
    p = node.vmadm("reboot", u)
    assert p.returncode == 0 and "not running" in p.stderr
    p = node.vmadm("stop", u, "-t", "5", check=False)
    assert p.returncode == 1 and "Timeout option is only supported" in p.stderr
    node.vmadm("start", u)
    vm = node.get(u)
    assert vm["state"] == "running" and vm["autoboot"] is True
    pid = vm["pid"]
    node.vmadm("reboot", u)
    vm = node.get(u)
    assert vm["state"] == "running" and vm["pid"] != pid
    # kill: init dies of it; restart_init (the default) brings the zone back up.
    node.vmadm("kill", "-s", "KILL", u)
    for _ in range(100):
        vm = node.get(u)
        if vm.get("exit_status") == 128 + signal.SIGKILL and vm["state"] == "running":
            break
        time.sleep(0.05)
    assert vm["exit_status"] == 128 + signal.SIGKILL and vm["state"] == "running"
    assert vm["pid"] != pid


def test_update_live_properties_reach_the_running_zone(node):
    u = node.create(max_physical_memory=128, cpu_cap=100, max_lwps=300)
    node.vmadm("update", u, input=json.dumps({
        "max_physical_memory": 192, "cpu_cap": 50, "max_lwps": 250, "tmpfs": 32,
        "cpu_shares": 200, "zfs_io_priority": 50, "alias": "renamed",
        "set_tags": {"a": "1", "b": "2"}, "set_customer_metadata": {"k": "v"}}))
    vm = node.get(u)
    assert vm["max_physical_memory"] == 192 and vm["cpu_cap"] == 50
    assert vm["alias"] == "renamed" and vm["tags"] == {"a": "1", "b": "2"}
    assert vm["customer_metadata"] == {"k": "v"}
    # From inside: the zone's own cgroup limits and /tmp size.
    cg = node.probe(u, "limits")["cgroup"]

    def value(*names):
        vals = [v for k, v in cg.items() if os.path.basename(k) in names]
        assert vals, (names, cg)
        return vals[0]
    assert int(value("memory.limit_in_bytes", "memory.max")) == 192 << 20
    assert value("pids.max") == "250"
    if any(k.endswith("cpu.max") for k in cg):
        quota, period = value("cpu.max").split()
    else:
        quota, period = value("cpu.cfs_quota_us"), value("cpu.cfs_period_us")
    assert int(quota) * 100 // int(period) == 50
    # The rest of the live family, as the layout shows it.
    if any(k.endswith("/cpu.shares") for k in cg):
        assert value("cpu.shares") == str(200 * 1024 // 100)
    if any(k.endswith("/memory.memsw.limit_in_bytes") for k in cg):
        assert int(value("memory.memsw.limit_in_bytes")) == vm["max_swap"] << 20
    if any(k.endswith("/memory.swap.max") for k in cg):
        assert int(value("memory.swap.max")) == (vm["max_swap"] - 192) << 20
    if any(k.endswith("/blkio.weight") for k in cg):
        assert value("blkio.weight") == "50"
    if any(k.endswith("/io.weight") for k in cg):
        assert value("io.weight").split()[-1] == "50"
    df = node.login(u, "df", "-k", "/tmp").stdout.splitlines()[-1].split()
    assert int(df[1]) == 32 * 1024
    # The command-line form; and maps lose keys with remove_.
    node.vmadm("update", u, "quota=2", "alias=again")
    node.vmadm("update", u, input=json.dumps({"remove_tags": ["a"]}))
    vm = node.get(u)
    assert vm["quota"] == 2 and vm["alias"] == "again" and vm["tags"] == {"b": "2"}
    quota = node.root.run("pooladm", "list", "-H", "-p", "-o", "quota", f"zones/{u}").stdout
    assert int(quota) == 2 << 30
    # A misspelt property changes nothing and says what was meant.
    p = node.vmadm("update", u, input=json.dumps({"max_lwpz": 10}), check=False)
    assert p.returncode == 1 and "max_lwps" in p.stderr
    assert node.get(u)["max_lwps"] == 250


def test_snapshots_and_rollback_restore_data(node):
    u = node.create()
    node.login(u, "echo one > /root/data")
    p = node.vmadm("create-snapshot", u, "first")
    assert p.stderr == f"Created snapshot first for VM {u}\n"
    node.login(u, "echo two > /root/data")
    node.vmadm("create-snapshot", u, "second")
    snaps = node.get(u)["snapshots"]
    assert [s["name"] for s in snaps] == ["second", "first"]
    node.vmadm("update", u, "alias=kept")
    node.vmadm("rollback-snapshot", u, "first")
    vm = node.get(u)
    assert vm["state"] == "running" and vm["alias"] == "kept"  # config is not rolled back
    assert node.login(u, "cat /root/data").stdout == "one\n"
    assert [s["name"] for s in vm["snapshots"]] == ["first"]  # newer ones go, as ZFS
    p = node.vmadm("create-snapshot", u, "bad/name", check=False)
    assert p.returncode == 1 and "bad/name" in p.stderr
    node.vmadm("delete-snapshot", u, "first")
    assert node.get(u)["snapshots"] == []
    p = node.vmadm("delete-snapshot", u, "first", check=False)
    assert p.returncode == 1


STEPS = ["intent", "dataset", "config", "ids", "record", "boot"]


@pytest.mark.parametrize("step", STEPS)
def test_create_failing_at_any_step_leaves_nothing(node, step):
    p = node.vmadm("create", input=json.dumps({"brand": "lx", "image_uuid": node.image}),
                   env={"SABLE_FAULT_FAIL": f"vm-create:{step}"}, check=False)
    assert p.returncode == 1, p.stderr
    assert node.leftovers() == {}
    assert node.vmadm("list", "-H").stdout == ""


@pytest.mark.parametrize("step", STEPS)
def test_create_killed_at_any_step_is_undone_by_the_next_vmadm(node, step):
    p = node.vmadm("create", input=json.dumps({"brand": "lx", "image_uuid": node.image}),
                   env={"SABLE_FAULT_KILL": f"vm-create:{step}"}, check=False)
    assert p.returncode == -signal.SIGKILL, p
    # The next vmadm (any command) finds the intent of a dead owner and purges.
    assert node.vmadm("list", "-H").stdout == ""
    assert node.leftovers() == {}


def test_delete_killed_half_way_is_finished(node):
    u = node.create()
    p = node.vmadm("delete", u, env={"SABLE_FAULT_KILL": "vm-delete:intent"}, check=False)
    assert p.returncode == -signal.SIGKILL
    assert node.vmadm("list", "-H").stdout == ""
    assert node.leftovers() == {}


def test_parallel_creates_and_operations(node):
    payload = json.dumps({"brand": "lx", "image_uuid": node.image, "autoboot": False,
                          "max_physical_memory": 64})
    procs = [subprocess.Popen([program("vmadm"), "create"], env=node.root.env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(16)]
    uuids = []
    for p in procs:
        out, err = p.communicate(payload)
        assert p.returncode == 0, err
        uuids.append(err.split()[-1])
    assert len(set(uuids)) == 16
    vms = json.loads(node.vmadm("lookup", "-j").stdout)
    assert sorted(v["uuid"] for v in vms) == sorted(uuids)
    assert len({v["zonedid"] for v in vms}) == 16  # distinct id ranges
    # Many operations on one VM at once: each finishes, none corrupts the record.
    u = uuids[0]
    ops = [["start", u], ["stop", u], ["update", u, "alias=a"], ["start", u],
           ["update", u, "alias=b"], ["stop", u, "-F"]] * 2
    procs = [subprocess.Popen([program("vmadm"), *op], env=node.root.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for op in ops]
    for p in procs:
        _, err = p.communicate()
        assert p.returncode == 0, err
    vm = node.get(u)
    assert vm["alias"] in ("a", "b") and vm["state"] in ("running", "stopped")


def read_events(proc, n, timeout=15):
    """n events from a `vmadm events -j` child."""
    out = []
    done = threading.Event()

    def reader():
        for line in proc.stdout:
            out.append(json.loads(line))
            if len(out) >= n:
                break
        done.set()
    threading.Thread(target=reader, daemon=True).start()
    done.wait(timeout)
    return out


def test_vmadmd_events_autoboot_and_exit_status(node):
    p = node.vmadm("events", check=False)
    assert p.returncode == 1 and "vmadmd" in p.stderr
    node.start_vmadmd()
    ev = subprocess.Popen([program("vmadm"), "events", "-j", "-r"], env=node.root.env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert read_events(ev, 1)[0]["type"] == "ready"
        u = node.create(autoboot=True)
        v = node.create(autoboot=False)
        node.vmadm("update", v, "alias=changed")
        got = []
        while not any(c["prettyPath"] == "alias" and c["newValue"] == "changed"
                      for e in got for c in e.get("changes", [])):
            more = read_events(ev, 1)
            assert more, got
            got += more
        # u: create (provisioning), modify (running); v: create, modify (alias).
        assert [e["uuid"] for e in got if e["type"] == "create"] == [u, v]
        assert all(e["type"] in ("create", "modify") for e in got)
    finally:
        ev.kill()
        ev.wait()
    # A guest that powers itself off: vmadmd keeps its exit in the record.
    node.login(u, "poweroff", check=False)
    for _ in range(100):
        rec = json.load(open(node.root.file(f"zones/{u}/config/vm.json")))
        if "exit_status" in rec:
            break
        time.sleep(0.1)
    assert rec["exit_status"] >= 0 and "exit_timestamp" in rec
    assert rec["autoboot"] is True  # a shutdown inside the guest leaves it (SmartOS 7.2)
    # vmadmd restarts without touching guests.
    w = node.create(autoboot=True)
    pid = node.get(w)["pid"]
    node.stop_vmadmd()
    node.start_vmadmd()
    assert node.get(w)["pid"] == pid
    # A simulated host reboot: everything stops, the run directory (a tmpfs) empties.
    node.stop_vmadmd()
    node.vmadm("stop", w, "-F")
    node.vmadm("update", w, "autoboot=true")
    shutil.rmtree(node.root.file("var/run/sable"))
    node.start_vmadmd()
    for _ in range(100):
        if node.get(w)["state"] == "running" and node.get(u)["state"] == "running":
            break
        time.sleep(0.1)
    assert node.get(w)["state"] == "running" and node.get(u)["state"] == "running"
    assert node.get(v)["state"] == "stopped"  # autoboot false stays down


def test_send_receive_round_trip_to_another_root(node):
    from conftest import Root
    import tempfile
    u = node.create(alias="traveller", max_physical_memory=96)
    node.login(u, "echo payload > /root/data")
    other = Root(tempfile.mkdtemp(prefix="sable-it-"))
    other.write_config("zone_uid_base=1500000000\n")
    pool2 = make_pool(other, "btrfs", size="2G")
    try:
        send = subprocess.Popen([program("vmadm"), "send", u], env=node.root.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        recv = subprocess.run([program("vmadm"), "receive"], env=other.env, stdin=send.stdout,
                              capture_output=True, text=True)
        send.stdout.close()
        assert send.wait() == 0, send.stderr.read()
        assert recv.returncode == 0, recv.stderr
        assert recv.stderr == f"Successfully received VM {u}\n"
        assert node.get(u)["state"] == "stopped"  # send stops the VM, as SmartOS
        got = json.loads(subprocess.run([program("vmadm"), "get", u], env=other.env,
                                        capture_output=True, text=True, check=True).stdout)
        assert got["alias"] == "traveller" and got["max_physical_memory"] == 96
        assert got["state"] == "stopped" and got["zonepath"] == other.file(f"zones/{u}")
        p = subprocess.run([program("vmadm"), "start", u], env=other.env, capture_output=True,
                           text=True)
        assert p.returncode == 0, p.stderr
        assert other.run("zlogin", u, "cat /root/data").stdout == "payload\n"
        # The same VM twice on one node: refused, the first untouched.
        again = subprocess.run([program("vmadm"), "send", u], env=node.root.env,
                               capture_output=True)
        p = subprocess.run([program("vmadm"), "receive"], env=other.env, input=again.stdout,
                           capture_output=True)
        assert p.returncode == 1 and b"already exists" in p.stderr
        subprocess.run([program("vmadm"), "delete", u], env=other.env, check=True,
                       capture_output=True)
        # A stream cut short leaves nothing behind.
        p = subprocess.run([program("vmadm"), "receive"], env=other.env,
                           input=again.stdout[:len(again.stdout) // 2], capture_output=True)
        assert p.returncode == 1, p.stderr
        out = other.run("pooladm", "list", "-H", "-o", "name").stdout.split()
        assert out == ["zones"], out
        assert not os.listdir(other.file("var/lib/sable/vm-intents"))
    finally:
        drop_pool(pool2)
        shutil.rmtree(other.path, ignore_errors=True)


def test_reprovision_gives_a_fresh_root_and_keeps_the_config(node):
    u = node.create(alias="keep-me")
    node.login(u, "echo old > /root/data")
    node.vmadm("reprovision", u, input=json.dumps({"image_uuid": node.image}))
    vm = node.get(u)
    assert vm["alias"] == "keep-me" and vm["state"] == "running"
    assert node.login(u, "cat /root/data", check=False).returncode != 0
    p = node.vmadm("reprovision", u, input=json.dumps({"image_uuid": node.image, "ram": 5}),
                   check=False)
    assert p.returncode == 1 and "ram" in p.stderr
    # Killed half way: the next vmadm puts the old root back.
    node.login(u, "echo again > /root/data")
    p = node.vmadm("reprovision", u, input=json.dumps({"image_uuid": node.image}),
                   env={"SABLE_FAULT_KILL": "vm-reprovision:clone"}, check=False)
    assert p.returncode == -signal.SIGKILL
    node.vmadm("start", u)
    assert node.login(u, "cat /root/data").stdout == "again\n"
    assert node.datasets() == [f"zones/{u}"]
