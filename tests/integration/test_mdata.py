"""The metadata service: mdata-* in running zones, against vmadm's records.

zoneadmd serves each zone's metadata on a socket that the zone sees at
/native/.zonecontrol/metadata.sock and /.zonecontrol/metadata.sock. These
tests drive it from inside zones (zlogin + the static mdata-* tools in
/native/usr/sbin) and from the host (raw frames on the same socket, as a
misbehaving guest would send them).
"""
import base64
import json
import os
import socket
import time
import zlib

import pytest

from test_vmadm import node  # noqa: F401  (the fixture)


def control_sock(node, u):
    return node.root.file(f"var/run/sable/zonecontrol/{u}/metadata.sock")


def connect(node, u):
    """A client on the host, through the socket's directory (sun_path is short)."""
    d = os.open(os.path.dirname(control_sock(node, u)), os.O_PATH)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(f"/proc/self/fd/{d}/metadata.sock")
    finally:
        os.close(d)
    s.settimeout(5)
    return s


def frame(reqid, code, payload=None):
    body = f"{reqid} {code}"
    if payload is not None:
        body += " " + base64.b64encode(payload.encode()).decode()
    return f"V2 {len(body)} {zlib.crc32(body.encode()):08x} {body}\n".encode()


def read_line(s):
    buf = b""
    while not buf.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            raise EOFError(buf)
        buf += c
    return buf[:-1].decode()


def answer(s, reqid):
    line = read_line(s)
    parts = line.split(" ")
    assert parts[0] == "V2" and parts[3] == reqid, line
    body = line.split(" ", 3)[3]
    assert int(parts[1]) == len(body) and int(parts[2], 16) == zlib.crc32(body.encode()), line
    payload = base64.b64decode(parts[5]).decode() if len(parts) > 5 else ""
    return parts[4], payload


def mdata(node, u, tool, *args, input=None, check=True):
    # zlogin passes stdin through (and makes one shell command line of the words)
    return node.root.run("zlogin", u, "/native/usr/sbin/" + tool, *args, check=check,
                         input=input)


def test_mdata_tools_in_a_zone(node):
    u = node.create(alias="md1", hostname="md1",
                    customer_metadata={"user-script": "#!/bin/sh\necho hi\n", "n": 7,
                                       "root_authorized_keys": "ssh-ed25519 AAAA me@host"},
                    internal_metadata={"secret_pw": "pw1", "hidden": "x"},
                    tags={"role": "db"})
    # both paths exist in the zone, and only root may use them
    p = node.login(u, "ls", "-la", "/native/.zonecontrol/", "/.zonecontrol/")
    assert p.stdout.count("metadata.sock") == 2, p.stdout
    assert mdata(node, u, "mdata-get", "sdc:uuid").stdout == u + "\n"
    assert mdata(node, u, "mdata-get", "sdc:alias").stdout == "md1\n"
    assert mdata(node, u, "mdata-get", "sdc:hostname").stdout == "md1\n"
    assert mdata(node, u, "mdata-get", "sdc:tags.role").stdout == "db\n"
    assert mdata(node, u, "mdata-get", "user-script").stdout == "#!/bin/sh\necho hi\n"
    assert mdata(node, u, "mdata-get", "n").stdout == "7\n"
    assert mdata(node, u, "mdata-get", "secret_pw").stdout == "pw1\n"
    p = mdata(node, u, "mdata-get", "hidden", check=False)
    assert p.returncode == 1 and p.stderr == "No metadata for 'hidden'\n"
    assert sorted(mdata(node, u, "mdata-list").stdout.split()) == \
        ["n", "root_authorized_keys", "secret_pw", "user-script"]
    # usage errors: 3
    assert mdata(node, u, "mdata-get", check=False).returncode == 3
    assert mdata(node, u, "mdata-list", "x", check=False).returncode == 3

    # a guest write is in the record at once, and vmadm get shows it
    assert mdata(node, u, "mdata-put", "role", "web").returncode == 0
    assert node.get(u)["customer_metadata"]["role"] == "web"
    mdata(node, u, "mdata-put", "from-stdin", input="line one\nline two\n")
    assert node.get(u)["customer_metadata"]["from-stdin"] == "line one\nline two\n"
    mdata(node, u, "mdata-put", "admin_pw", "hunter2")
    vm = node.get(u)
    assert vm["internal_metadata"]["admin_pw"] == "hunter2"
    assert "admin_pw" not in vm["customer_metadata"]
    assert mdata(node, u, "mdata-delete", "role").returncode == 0
    assert "role" not in node.get(u)["customer_metadata"]
    assert mdata(node, u, "mdata-delete", "never-was").returncode == 0
    p = mdata(node, u, "mdata-put", "sdc:alias", "evil", check=False)
    assert p.returncode == 2 and 'Cannot update the "sdc" Namespace.' in p.stderr
    p = mdata(node, u, "mdata-put", "empty", "", check=False)
    assert p.returncode == 2 and "Invalid PUT Request" in p.stderr

    # vmadm update shows at the next request
    node.vmadm("update", u, input=json.dumps({"set_customer_metadata": {"fresh": "v1"},
                                              "alias": "md1b"}))
    assert mdata(node, u, "mdata-get", "fresh").stdout == "v1\n"
    assert mdata(node, u, "mdata-get", "sdc:alias").stdout == "md1b\n"
    node.vmadm("update", u, input=json.dumps({"set_customer_metadata": {"fresh": "v2"}}))
    assert mdata(node, u, "mdata-get", "fresh").stdout == "v2\n"
    node.vmadm("update", u, input=json.dumps({"remove_customer_metadata": ["fresh"]}))
    assert mdata(node, u, "mdata-get", "fresh", check=False).returncode == 1


def test_a_zone_reaches_only_its_own_metadata(node):
    a = node.create(alias="a", customer_metadata={"who": "a"})
    b = node.create(alias="b", customer_metadata={"who": "b", "secret": "b-only"})
    assert mdata(node, a, "mdata-get", "who").stdout == "a\n"
    assert mdata(node, b, "mdata-get", "who").stdout == "b\n"
    assert mdata(node, a, "mdata-get", "secret", check=False).returncode == 1
    # path tricks: nothing of the host, or of b, is reachable from a
    b_host = control_sock(node, b)
    tricks = [b_host, "/native/.zonecontrol/../../" + b_host.lstrip("/"),
              f"/.zonecontrol/../var/run/sable/zonecontrol/{b}/metadata.sock",
              "/proc/1/root/.zonecontrol/../../" + b_host.lstrip("/"),
              f"/native/.zonecontrol/../{b}/metadata.sock"]
    for t in tricks:
        p = node.root.run("zlogin", a, "env", f"MDATA_SOCKET={t}",
                          "/native/usr/sbin/mdata-get", "who", check=False)
        assert p.returncode == 2 and "b\n" != p.stdout, (t, p.stdout, p.stderr)
    # the socket belongs to the zone's root alone, and the directory is read-only in the zone
    p = node.login(a, "sh", "-c", "touch /.zonecontrol/x; rm -f /.zonecontrol/metadata.sock; "
                   "ls /.zonecontrol", check=False)
    assert p.stdout.split() == ["metadata.sock"], p.stdout
    uid = os.stat(control_sock(node, a)).st_uid
    assert uid == node.get(a).get("uid_base", uid) and uid != 0
    assert os.stat(control_sock(node, a)).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(control_sock(node, a))).st_mode & 0o777 == 0o700


def test_bad_frames_and_hung_clients_do_not_stop_the_server(node):
    u = node.create(alias="bad", customer_metadata={"k": "v"})
    good = connect(node, u)

    def still_serves():
        good.sendall(frame("0000beef", "GET", "k"))
        assert answer(good, "0000beef") == ("SUCCESS", "v")

    still_serves()
    hung = connect(node, u)
    hung.sendall(b"V2 25 c0eeb3c6 0a1b2c3d GET c2R")  # half a frame, then nothing
    still_serves()
    s = connect(node, u)
    s.sendall(b"NEGOTIATE V2\n")
    assert read_line(s) == "V2_OK"
    # wrong CRC, wrong length: no answer at all; the next frame is answered
    s.sendall(b"V2 25 c0eeb3c7 0a1b2c3d GET c2RjOnV1aWQ=\n")
    s.sendall(b"V2 24 c0eeb3c6 0a1b2c3d GET c2RjOnV1aWQ=\n")
    s.sendall(frame("00000001", "GET", "sdc:uuid"))
    assert answer(s, "00000001") == ("SUCCESS", u)
    # bad base64, unknown command: FAILURE
    body = "00000002 GET !!notbase64"
    s.sendall(f"V2 {len(body)} {zlib.crc32(body.encode()):08x} {body}\n".encode())
    assert answer(s, "00000002") == ("FAILURE", "Invalid base64 payload")
    s.sendall(frame("00000003", "FROB", "x"))
    assert answer(s, "00000003") == ("FAILURE", "Unknown command FROB")
    # oversized: answered FAILURE, dropped, the connection goes on
    big = b"V2 999999 00000000 00000004 PUT " + b"A" * (300 * 1024) + b"\n"
    s.sendall(big)
    assert answer(s, "00000004") == ("FAILURE", "request too large")
    # binary garbage: V1's "invalid command"
    s.sendall(bytes(range(1, 10)) + b"\xff\xfe\x00garbage\n")
    assert read_line(s) == "invalid command"
    s.sendall(frame("00000005", "GET", "k"))
    assert answer(s, "00000005") == ("SUCCESS", "v")
    still_serves()
    # a zone's guest sees the same from inside, while all that goes on
    assert mdata(node, u, "mdata-get", "k").stdout == "v\n"
    for c in (good, hung, s):
        c.close()


def test_64_clients_at_once_and_restart_of_zoneadmd(node):
    u = node.create(alias="many", customer_metadata={"k": "v"})
    clients = [connect(node, u) for _ in range(64)]
    for i, c in enumerate(clients):
        c.sendall(frame(f"{i:08x}", "GET", "k"))
    for i, c in enumerate(clients):
        assert answer(c, f"{i:08x}") == ("SUCCESS", "v")
    for c in clients:
        c.close()
    # a new zoneadmd serves the running zone on the same path
    run = json.load(open(node.root.file(f"var/run/sable/zones/{u}.json")))
    os.kill(run["zoneadmd_pid"], 15)
    for _ in range(200):
        try:
            os.kill(run["zoneadmd_pid"], 0)
            time.sleep(0.02)
        except ProcessLookupError:
            break
    node.root.run("zoneadm", "-z", u, "boot")
    assert mdata(node, u, "mdata-get", "k").stdout == "v\n"
