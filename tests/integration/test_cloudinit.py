"""cloud-init in a Debian lx zone, configured from the zone's metadata.

scripts/mkimage debian-12-cloudinit is the debian-12 image with Debian's
cloud-init, its SmartOS datasource told that it runs in a zone (the
SableZone datasource) and reading the zone's metadata socket, and OpenSSH
(docs/metadata.md, "cloud-init in a zone"). The image comes from mkimage's
cache in /var/cache/sable-test; building it the first time needs Debian's
mirror (a debootstrap and an apt-get install, a minute or two), and the
test is skipped, saying so, only when the image is not cached and the
mirror cannot be reached.

One zone is made with vmadm from that image: a hostname, SSH keys, a
user-script, user-data and cloud-init user-data in customer_metadata, and
a NIC on an etherstub. cloud-init must set the hostname, install root's
keys (which the zone's own sshd then accepts), run the user-script at
every boot, write the user-data, and turn sdc:nics into the network
configuration the zone runtime gave the zone.
"""
import json
import os
import re
import socket
import subprocess

import pytest

from conftest import TOP, drop_pool, make_pool
from test_images import Node, check_manifest, check_tar, install_image, until, \
    wait_for_systemd

MKIMAGE = os.path.join(TOP, "scripts", "mkimage")
MIRROR = "deb.debian.org"


@pytest.fixture(scope="module")
def cloudinit_image(tmp_path_factory):
    """The debian-12-cloudinit image (from mkimage's cache): (manifest, image file)."""
    out = tmp_path_factory.mktemp("debian-12-cloudinit")
    p = subprocess.run([MKIMAGE, "debian-12-cloudinit", str(out)], capture_output=True,
                       text=True)
    if p.returncode != 0:
        # Only a download that failed for want of the mirror is a skip.
        if "debootstrap failed" in p.stderr or "apt-get install" in p.stderr:
            try:
                socket.create_connection((MIRROR, 80), timeout=5).close()
            except OSError as e:
                pytest.skip(f"debian-12-cloudinit is not in /var/cache/sable-test and "
                            f"building it needs Debian's mirror, {MIRROR}:80, which is "
                            f"unreachable ({e})")
        raise AssertionError(f"scripts/mkimage debian-12-cloudinit failed:\n{p.stderr}")
    [mpath] = [os.path.join(out, f) for f in os.listdir(out) if f.endswith(".json")]
    [ipath] = [os.path.join(out, f) for f in os.listdir(out) if f.endswith(".tar.zst")]
    with open(mpath) as f:
        return json.load(f), ipath


def test_mkimage_debian_cloudinit_manifest_and_image(cloudinit_image):
    m, ipath = cloudinit_image
    check_manifest(m, "debian-12-cloudinit", ipath)
    assert re.fullmatch(r"12\.\d{8}\.\d+\.\d+", m["version"]), m["version"]
    assert re.search(r"cloud-init 22\.4\.2-1\+deb12u\d+ ", m["description"]), m["description"]
    entries = check_tar(ipath)
    for must in ("root/etc/cloud/cloud.cfg.d/99_sable.cfg",
                 "root/usr/lib/python3/dist-packages/cloudinit/sources/DataSourceSableZone.py",
                 "root/usr/bin/cloud-init", "root/usr/sbin/sshd", "root/usr/bin/file"):
        assert must in entries, must
    # No host keys (each zone makes its own) and no machine id.
    assert not [n for n in entries if n.startswith("root/etc/ssh/ssh_host_")]
    assert entries["root/etc/machine-id"].size == 0


@pytest.fixture
def ci_node(root, cloudinit_image):
    # stub0 is an etherstub: a switch of the host's own, no uplink.
    root.write_config("zone_uid_base=1670000000\netherstub=stub0\n")
    pool = make_pool(root, "btrfs", size="3G")
    node = Node(root)
    node.image = install_image(root, *cloudinit_image)
    try:
        yield node
    finally:
        node.delete_all()
        drop_pool(pool)


def booted(login):
    """Wait for the zone's systemd; on failure, say what cloud-init logged."""
    try:
        wait_for_systemd(login)
    except AssertionError as e:
        logs = login("journalctl -b --no-pager -u 'cloud-*' | tail -n 40; "
                     "grep -E 'WARNING|ERROR|Traceback' -A3 /var/log/cloud-init.log | "
                     "tail -n 60").stdout
        raise AssertionError(f"{e}\n{logs}") from None


USER_SCRIPT = "echo ran >> /root/user-script.log\n"  # no #!: cloud-init adds bash's
USER_DATA = """#cloud-config
write_files:
  - path: /etc/from-user-data
    content: written by cloud-init
"""


def test_cloudinit_configures_a_zone_from_metadata(ci_node, tmp_path):
    node = ci_node
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci@sable-test",
                    "-f", str(key)], check=True)
    pub = (tmp_path / "id_ed25519.pub").read_text().strip()
    nic = {"nic_tag": "stub0", "interface": "eth0", "mac": "02:00:5e:10:00:0a",
           "ips": ["203.0.113.10/24"], "gateways": ["203.0.113.1"], "primary": True}
    u = node.create(node.image, alias="ci1", hostname="ci-host", nics=[nic],
                    resolvers=["203.0.113.53"],
                    customer_metadata={
                        # cloud-init takes the hostname key before sdc:hostname
                        "hostname": "ci-meta",
                        "root_authorized_keys": pub + "\n",
                        "user-script": USER_SCRIPT,
                        "user-data": "opaque data\n",
                        "cloud-init:user-data": USER_DATA})
    login = lambda c: node.login(u, c, check=False)  # noqa: E731
    sh = lambda c: node.login(u, c).stdout  # noqa: E731
    booted(login)

    # cloud-init ran to its end, from the SableZone datasource on the socket.
    status = login("cloud-init status --long")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "status: done" in status.stdout, status.stdout
    assert "DataSourceSableZone [client=JoyentMetadataSocketClient(" \
           "socketpath=/.zonecontrol/metadata.sock)]" in status.stdout, status.stdout
    result = json.loads(sh("cat /run/cloud-init/result.json"))["v1"]
    assert result["errors"] == [], result
    assert sh("cat /var/lib/cloud/data/instance-id").strip() == u  # sdc:uuid
    assert sh("cloud-init query v1.subplatform").strip() == \
        "socket (/.zonecontrol/metadata.sock)"

    # The hostname: customer_metadata's, so cloud-init's, not the runtime's.
    assert sh("hostname").strip() == "ci-meta"
    assert sh("cat /etc/hostname").strip() == "ci-meta"

    # root's keys, as they are (no disable_root prefix), and the zone's own sshd
    # (host keys made at this zone's first boot) lets the key in.
    assert sh("cat /root/.ssh/authorized_keys").splitlines() == [pub]
    assert sh("stat -c %a /root/.ssh/authorized_keys").strip() == "600"
    # (and Debian's default user's, as Debian's cloud.cfg has it)
    assert sh("cat /home/debian/.ssh/authorized_keys").splitlines() == [pub]
    assert sh("cd /etc/ssh && echo ssh_host_*_key").split() == \
        ["ssh_host_ecdsa_key", "ssh_host_ed25519_key", "ssh_host_rsa_key"]
    node.run("zlogin", u, "cat > /root/id && chmod 600 /root/id", input=key.read_text())
    p = login("ssh -i /root/id -o BatchMode=yes -o StrictHostKeyChecking=no "
              "-o UserKnownHostsFile=/dev/null root@127.0.0.1 'echo in as $(id -un)'")
    assert p.stdout == "in as root\n", p.stdout + p.stderr

    # user-script (bash's #! added), user-data, cloud-init:user-data.
    assert sh("cat /root/user-script.log") == "ran\n"
    assert sh("head -1 /var/lib/cloud/instance/data/user-script").strip() == "#!/bin/bash"
    assert sh("cat /var/db/mdata-user-data") == "opaque data\n"
    assert sh("cat /etc/from-user-data") == "written by cloud-init"

    # sdc:nics, sdc:resolvers and sdc:dns_domain (vmadm's default, "local")
    # as cloud-init's network configuration: what the runtime gave the zone
    # (cloud-init leaves the network to it).
    assert "inet 203.0.113.10/24" in sh("ip -4 addr show eth0")
    netcfg = json.loads(sh(
        "python3 -c 'import json; from cloudinit.sources import pkl_load; "
        "print(json.dumps(pkl_load(\"/var/lib/cloud/instance/obj.pkl\").network_config))'"))
    assert netcfg == {"version": 1, "config": [
        {"type": "physical", "name": "eth0", "mac_address": nic["mac"],
         "subnets": [{"type": "static", "address": "203.0.113.10/24",
                      "gateway": "203.0.113.1"}]},
        {"type": "nameserver", "address": ["203.0.113.53"], "search": ["local"]}]}, netcfg

    # The next boot: the same instance (nothing made again), the user-script again.
    pid = node.get(u)["pid"]
    hostkey = sh("cat /etc/ssh/ssh_host_ed25519_key.pub")
    node.login(u, "reboot", check=False)
    until("the zone coming back", lambda: node.get(u).get("pid", pid) != pid and
          node.get(u)["state"] == "running", 30)
    booted(login)
    assert "status: done" in sh("cloud-init status")
    assert sh("cat /root/user-script.log") == "ran\nran\n"
    assert sh("cat /root/.ssh/authorized_keys").splitlines() == [pub]
    assert sh("cat /etc/ssh/ssh_host_ed25519_key.pub") == hostkey
    # The runtime writes vmadm's hostname at every boot, as the lx brand
    # does; cloud-init then takes /etc/hostname for the user's and keeps it.
    assert sh("hostname").strip() == "ci-host"
