"""imgapid end to end, on loopback only: an IMGAPI in a temporary directory.

Each test starts its own server on 127.0.0.1 port 0 (it prints the port it
got) and stops it at the end, checking that it exited cleanly (ASan's leak
check included) and that nothing listens on its port any more. Neither
root nor a pool is needed.
"""
import base64
import hashlib
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import threading
import time
import uuid as uuidlib

import pytest

from conftest import program

TOKEN = "t0ken-for-tests"
OWNER = "00000000-0000-0000-0000-000000000000"
START_TIMEOUT = 10


def listening(port):
    """Is anything in LISTEN on this TCP port (IPv4 or IPv6)?"""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == "0A":
                        return True
        except FileNotFoundError:
            pass
    return False


class Server:
    """One imgapid process and a small HTTP client for it."""

    def __init__(self, tmp, args=(), env=None, listen="127.0.0.1:0", dir=None):
        self.dir = str(dir or tmp / "images")
        self.errlog = str(tmp / f"imgapid-{time.monotonic_ns()}.err")
        self.err = open(self.errlog, "w")
        self.p = subprocess.Popen(
            [program("imgapid"), "--dir", self.dir, "--listen", listen, *args],
            stdout=subprocess.PIPE, stderr=self.err, text=True,
            env=dict(os.environ, **(env or {})))
        ready, _, _ = select.select([self.p.stdout], [], [], START_TIMEOUT)
        line = self.p.stdout.readline() if ready else ""
        if not line.startswith("listening on http://"):
            self.p.kill()
            self.p.wait()
            raise AssertionError(f"imgapid did not start: {line!r}\n{self.stderr()}")
        self.hostport = line.split("//", 1)[1].strip()
        host, port = self.hostport.rsplit(":", 1)
        self.host = host.strip("[]")
        self.port = int(port)

    def stderr(self):
        with open(self.errlog) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        rc = self.p.wait(20)
        self.err.close()
        deadline = time.monotonic() + 5
        while listening(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not listening(self.port), "the port still listens after imgapid exited"
        with pytest.raises(OSError):
            socket.create_connection((self.host, self.port), timeout=1).close()
        return rc

    def conn(self, timeout=30):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def req(self, method, path, body=None, headers=None, token=None):
        """(status, headers, body bytes); token=True sends the right one."""
        h = dict(headers or {})
        if token is True:
            token = TOKEN
        if token:
            h["Authorization"] = f"Bearer {token}"
        c = self.conn()
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, r.headers, r.read()
        finally:
            c.close()

    def json(self, method, path, body=None, status=200, **kw):
        st, h, data = self.req(method, path, body, **kw)
        assert st == status, f"{method} {path}: {st} {data!r}"
        assert h["Content-Type"] == "application/json"
        return json.loads(data)

    def error(self, method, path, body=None, status=None, code=None, **kw):
        """A request that must fail with IMGAPI's error body; returns its message."""
        st, h, data = self.req(method, path, body, **kw)
        assert st == status, f"{method} {path}: {st} {data!r}"
        e = json.loads(data)
        assert e["code"] == code, e
        assert e["message"] and "\n" not in e["message"], e
        return e

    # The publishing steps.
    def create(self, **fields):
        m = {"name": "img", "version": "1.0", "type": "lx-dataset", "os": "linux",
             "owner": OWNER}
        m.update(fields)
        return self.json("POST", "/images", m, token=True)

    def upload(self, uuid, data, compression="none", sha1=True, status=200):
        q = f"compression={compression}"
        if sha1:
            q += "&sha1=" + (hashlib.sha1(data).hexdigest() if sha1 is True else sha1)
        return self.req("PUT", f"/images/{uuid}/file?{q}", data, token=True)

    def publish(self, data=b"image bytes\n", **fields):
        m = self.create(**fields)
        st, _, body = self.upload(m["uuid"], data)
        assert st == 200, body
        return self.json("POST", f"/images/{m['uuid']}?action=activate", token=True)

    def list(self, query=""):
        return self.json("GET", "/images" + (f"?{query}" if query else ""))

    def image_dir(self, uuid):
        return os.path.join(self.dir, "images", uuid)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path, ["--token", TOKEN])
    try:
        yield s
    finally:
        rc = s.stop()
        assert rc == 0, f"imgapid exited {rc}\n{s.stderr()}"


def raw(server, data, read=True, timeout=10):
    """Send raw bytes on a new connection; the reply's bytes (until close or timeout)."""
    s = socket.create_connection((server.host, server.port), timeout=timeout)
    try:
        s.sendall(data)
        if not read:
            return b""
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out:
                head, _, rest = out.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        if len(rest) >= int(line.split(b":")[1]):
                            return out
        return out
    finally:
        s.close()


def wait_for(cond, timeout=10):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# ---- the basics -------------------------------------------------------------------


def test_ping(server):
    assert server.json("GET", "/ping") == {"ping": "pong", "version": "0.1.0", "imgapi": True}
    st, h, body = server.req("HEAD", "/ping")
    assert st == 200 and body == b""


def test_publish_flow(server):
    data = os.urandom(300_000)
    m = server.create(name="base", version="1.0", public=True, tags={"role": "os"})
    uuid = m["uuid"]
    assert uuidlib.UUID(uuid).version == 4
    assert m["state"] == "unactivated" and m["v"] == 2 and m["disabled"] is False
    assert "files" not in m and "published_at" not in m
    # Unactivated images are not listed by default.
    assert server.list() == []
    assert [i["uuid"] for i in server.list("state=unactivated")] == [uuid]
    st, h, body = server.upload(uuid, data, compression="gzip")
    assert st == 200, body
    m = json.loads(body)
    assert m["files"] == [{"sha1": hashlib.sha1(data).hexdigest(), "size": len(data),
                           "compression": "gzip"}]
    assert m["state"] == "unactivated"
    a = server.json("POST", f"/images/{uuid}?action=activate", token=True)
    assert a["state"] == "active" and a["published_at"].endswith("Z")
    assert server.json("GET", f"/images/{uuid}") == a
    assert server.list() == [a]
    # The file, with the MD5 computed at upload.
    st, h, body = server.req("GET", f"/images/{uuid}/file")
    assert st == 200 and body == data
    assert h["Content-Type"] == "application/octet-stream"
    assert int(h["Content-Length"]) == len(data)
    assert h["Content-MD5"] == base64.b64encode(hashlib.md5(data).digest()).decode()
    # The server's own field only for those who ask.
    full = server.json("GET", f"/images/{uuid}?inclAdminFields=true")
    assert full["files"][0]["contentMD5"] == h["Content-MD5"]
    with open(os.path.join(server.image_dir(uuid), "manifest.json")) as f:
        assert json.load(f) == full
    assert sorted(os.listdir(server.image_dir(uuid))) == ["file", "manifest.json"]


def test_given_uuid_kept_and_server_fields_replaced(server):
    u = str(uuidlib.uuid4()).upper()
    # A manifest as imgadm create writes it: state, files and published_at are the server's.
    m = server.create(uuid=u, state="active", published_at="2020-01-01T00:00:00Z",
                      files=[{"sha1": "0" * 40, "size": 1, "compression": "none"}])
    assert m["uuid"] == u.lower() and m["state"] == "unactivated"
    assert "files" not in m and "published_at" not in m
    server.error("POST", "/images", {"uuid": u.lower(), "name": "b", "version": "1",
                                     "type": "other", "os": "other", "owner": OWNER},
                 token=True, status=409, code="ImageUuidAlreadyExists")


def test_publishing_needs_the_token(server):
    m = server.create()
    uuid = m["uuid"]
    before = sorted(os.listdir(os.path.join(server.dir, "images")))
    for token in (None, "wrong", TOKEN + "x", TOKEN[:-1]):
        e = server.error("POST", "/images", {"name": "x"}, token=token, status=401,
                         code="Unauthorized")
        server.error("PUT", f"/images/{uuid}/file?compression=none", b"abc", token=token,
                     status=401, code="Unauthorized")
        server.error("POST", f"/images/{uuid}?action=activate", token=token, status=401,
                     code="Unauthorized")
        server.error("DELETE", f"/images/{uuid}", token=token, status=401,
                     code="Unauthorized")
    assert "Authorization: Bearer" in e["message"] or "not valid" in e["message"]
    st, h, _ = server.req("POST", "/images", "{}")
    assert st == 401 and h["WWW-Authenticate"].startswith("Bearer")
    st, _, _ = server.req("DELETE", f"/images/{uuid}", headers={"Authorization": "Basic eDp5"})
    assert st == 401
    # Nothing changed.
    assert sorted(os.listdir(os.path.join(server.dir, "images"))) == before
    assert server.json("GET", f"/images/{uuid}") == m


def test_unauthorized_upload_is_not_read(server):
    uuid = server.create()["uuid"]
    # A client that waits for 100 Continue gets the 401 instead, and sends nothing.
    reply = raw(server, (f"PUT /images/{uuid}/file?compression=none HTTP/1.1\r\n"
                         f"Host: x\r\nContent-Length: 104857600\r\n"
                         f"Expect: 100-continue\r\n\r\n").encode())
    assert reply.startswith(b"HTTP/1.1 401 ") and b"100 Continue" not in reply
    # One that does not wait: answered at once too (its body is large), then closed.
    reply = raw(server, (f"PUT /images/{uuid}/file?compression=none HTTP/1.1\r\n"
                         f"Host: x\r\nContent-Length: 104857600\r\n\r\n").encode())
    assert reply.startswith(b"HTTP/1.1 401 ")
    assert "files" not in server.json("GET", f"/images/{uuid}")


def test_token_from_file_and_environment(tmp_path):
    tf = tmp_path / "token"
    tf.write_text("from-file\n")
    s = Server(tmp_path, ["--token-file", str(tf)])
    try:
        s.error("POST", "/images", {}, token=TOKEN, status=401, code="Unauthorized")
        s.json("POST", "/images", {"name": "a", "version": "1", "type": "other", "os": "other",
                                   "owner": OWNER}, token="from-file")
    finally:
        assert s.stop() == 0
    s = Server(tmp_path, env={"IMGAPI_TOKEN": "from-env"})
    try:
        assert s.json("GET", "/images?state=all")[0]["name"] == "a"  # the same directory
        s.json("POST", f"/images/{s.list('state=all')[0]['uuid']}?action=disable",
               token="from-env")
    finally:
        assert s.stop() == 0


def test_command_line_errors(tmp_path):
    def run(*args, env=None):
        e = dict(os.environ, **(env or {}))
        e.pop("IMGAPI_TOKEN", None)
        return subprocess.run([program("imgapid"), *args], capture_output=True, text=True,
                              env=e, timeout=20)

    d = str(tmp_path / "d")
    p = run("--dir", d, "--listen", "127.0.0.1:0")
    assert p.returncode == 1 and "no token" in p.stderr and p.stderr.count("\n") == 1
    p = run("--dir", d, "--listen", "localhost:80", "--token", "x")
    assert p.returncode == 1 and "not ADDR:PORT" in p.stderr
    p = run("--dir", d, "--listen", "127.0.0.1:0", "--token", "has space")
    assert p.returncode == 1 and "printable" in p.stderr
    p = run("--dir", d, "--listen", "127.0.0.1:0", "--token", "a", "--token-file", "/x")
    assert p.returncode == 2
    p = run("--listen", "127.0.0.1:0", "--token", "x")
    assert p.returncode == 2 and "--dir" in p.stderr
    p = run("--bogus")
    assert p.returncode == 2 and "'--bogus'" in p.stderr
    p = run("--help")
    assert p.returncode == 0 and p.stdout.startswith("Usage: imgapid")


def test_one_server_per_directory(server, tmp_path):
    p = subprocess.run([program("imgapid"), "--dir", server.dir, "--listen", "127.0.0.1:0",
                        "--token", "x"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and "another imgapid serves" in p.stderr


def test_ipv6_loopback(tmp_path):
    if not socket.has_ipv6 or not os.path.exists("/proc/net/if_inet6"):
        pytest.skip("no IPv6")
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        pytest.skip("no ::1")
    s = Server(tmp_path, ["--token", TOKEN], listen="[::1]:0")
    try:
        assert s.hostport.startswith("[::1]:")
        assert s.json("GET", "/ping")["ping"] == "pong"
    finally:
        assert s.stop() == 0


# ---- listing ------------------------------------------------------------------------


def test_list_filters(server):
    other = str(uuidlib.uuid4())
    a = server.publish(name="alpine", version="3.18", os="linux", type="lx-dataset",
                       public=True, tags={"role": "base", "n": 3}, billing_tags=["small"])
    b = server.publish(name="alpine", version="3.19.1", os="linux", type="zvol",
                       nic_driver="virtio", disk_driver="virtio", cpu_type="host",
                       image_size=10240, owner=other)
    c = server.publish(name="smartos-base", version="20.4", os="smartos", type="zone-dataset",
                       tags={"role": "base"})
    d = server.create(name="pending", version="1")
    ids = lambda q: [i["uuid"] for i in server.list(q)]  # noqa: E731
    assert ids("") == [a["uuid"], b["uuid"], c["uuid"]]  # published order
    assert ids("sort=published_at.desc") == [c["uuid"], b["uuid"], a["uuid"]]
    assert ids("name=alpine") == [a["uuid"], b["uuid"]]
    assert ids("name=alp") == []
    assert ids("name=~base") == [c["uuid"]]
    assert ids("version=~3.19") == [b["uuid"]]
    assert ids("os=smartos") == [c["uuid"]]
    assert ids("type=zvol") == [b["uuid"]]
    assert ids("type=!zvol") == [a["uuid"], c["uuid"]]
    assert ids(f"owner={other}") == [b["uuid"]]
    assert ids("public=true") == [a["uuid"]]
    assert ids("public=false") == [b["uuid"], c["uuid"]]
    assert ids("tag.role=base") == [a["uuid"], c["uuid"]]
    assert ids("tag.role=base&tag.n=3") == [a["uuid"]]
    assert ids("billing_tag=small") == [a["uuid"]]
    assert ids("state=unactivated") == [d["uuid"]]
    assert ids("state=all") == [d["uuid"], a["uuid"], b["uuid"], c["uuid"]]
    assert ids("state=all&name=pending") == [d["uuid"]]
    assert ids("limit=2") == [a["uuid"], b["uuid"]]
    # imgadm's paging: the marker's image comes again first.
    assert ids(f"limit=2&marker={b['uuid']}") == [b["uuid"], c["uuid"]]
    assert ids(f"sort=published_at.desc&marker={b['uuid']}") == [b["uuid"], a["uuid"]]
    assert ids(f"marker={c['published_at']}") == [c["uuid"]]
    assert ids("marker=2000-01-01") == [a["uuid"], b["uuid"], c["uuid"]]
    assert ids("marker=2999-01-01T00:00:00Z") == []
    # The server's own fields stay out of lists too.
    assert all("contentMD5" not in i["files"][0] for i in server.list())
    assert all("contentMD5" in i["files"][0] for i in server.list("inclAdminFields=true"))
    server.json("POST", f"/images/{c['uuid']}?action=disable", token=True)
    assert ids("") == [a["uuid"], b["uuid"]]
    assert ids("state=disabled") == [c["uuid"]]


@pytest.mark.parametrize("query,field", [
    ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"),
    ("state=gone", "state"), ("type=vm", "type"), ("public=maybe", "public"),
    ("owner=bob", "owner"), ("sort=name", "sort"), ("marker=yesterday", "marker"),
    (f"marker={uuidlib.uuid4()}", "marker"), ("nmae=x", "nmae"), ("name=a&name=b", "name"),
    ("inclAdminFields=2", "inclAdminFields"),
])
def test_list_bad_parameters(server, query, field):
    e = server.error("GET", f"/images?{query}", status=422, code="InvalidParameter")
    assert e["errors"][0]["field"] == field, e
    # The message quotes what was wrong: the value, or the parameter itself.
    assert f"'{query.split('=')[-1]}'" in e["message"] or f"'{field}'" in e["message"], e


def test_list_limit_caps_at_1000(server):
    # Many images: the default page is 1000, the order is stable.
    for i in range(5):
        server.create(name=f"n{i}")
    assert len(server.list("state=all&limit=3")) == 3
    assert len(server.list("state=all")) == 5


# ---- getting and downloading --------------------------------------------------------


def test_get_missing(server):
    u = str(uuidlib.uuid4())
    e = server.error("GET", f"/images/{u}", status=404, code="ResourceNotFound")
    assert u in e["message"]
    server.error("GET", f"/images/{u}/file", status=404, code="ResourceNotFound")
    m = server.create()
    e = server.error("GET", f"/images/{m['uuid']}/file", status=404, code="ResourceNotFound")
    assert "no file" in e["message"]


def test_ranges(server):
    data = bytes(range(256)) * 40  # 10240 bytes
    m = server.publish(data)
    path = f"/images/{m['uuid']}/file"

    def get(r):
        return server.req("GET", path, headers={"Range": r})

    st, h, body = get("bytes=10-19")
    assert st == 206 and body == data[10:20]
    assert h["Content-Range"] == "bytes 10-19/10240" and h["Content-Length"] == "10"
    assert "Content-MD5" not in h
    st, h, body = get("bytes=10000-")
    assert st == 206 and body == data[10000:] and h["Content-Range"] == "bytes 10000-10239/10240"
    st, h, body = get("bytes=-100")
    assert st == 206 and body == data[-100:]
    st, h, body = get("bytes=0-999999")
    assert st == 206 and body == data
    for bad in ("bytes=10240-", "bytes=99999-100000", "bytes=-0", "bytes=5-1", "bytes=a-b",
                "items=0-1", "bytes=0-1,5-6", "bytes=-"):
        st, h, body = get(bad)
        assert st == 416, (bad, st)
        assert h["Content-Range"] == "bytes */10240"
        assert json.loads(body)["code"] == "RequestedRangeNotSatisfiable"
    st, h, body = server.req("HEAD", path)
    assert st == 200 and body == b"" and h["Content-Length"] == "10240"
    assert h["Accept-Ranges"] == "bytes"
    server.error("GET", path + "?index=1", status=422, code="InvalidParameter")


def test_concurrent_downloads(server):
    data = os.urandom(24 << 20)
    m = server.publish(data)
    want = hashlib.sha256(data).hexdigest()
    # Eight responses open at once, read round-robin: a server that served one at
    # a time would stall the second before the first is read to its end.
    conns = [server.conn(timeout=20) for _ in range(8)]
    resps = []
    for c in conns:
        c.request("GET", f"/images/{m['uuid']}/file")
        resps.append(c.getresponse())
    assert all(r.status == 200 for r in resps)
    hashes = [hashlib.sha256() for _ in resps]
    live = set(range(len(resps)))
    while live:
        for i in sorted(live):
            chunk = resps[i].read(256 << 10)
            if chunk:
                hashes[i].update(chunk)
            else:
                live.discard(i)
    for c in conns:
        c.close()
    assert [h.hexdigest() for h in hashes] == [want] * 8

    # And eight threads at full speed.
    results = []

    def fetch():
        st, h, body = server.req("GET", f"/images/{m['uuid']}/file")
        results.append((st, hashlib.sha256(body).hexdigest(), h["Content-MD5"]))

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    assert results == [(200, want, md5)] * 8


# ---- uploads ----------------------------------------------------------------------


def test_truncated_upload_never_activates(server):
    uuid = server.create()["uuid"]
    head = (f"PUT /images/{uuid}/file?compression=none HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Length: 1000000\r\n\r\n").encode()
    raw(server, head + os.urandom(400_000), read=False)  # and the client goes away
    wait_for(lambda: "upload stopped after" in server.stderr())
    m = server.json("GET", f"/images/{uuid}")
    assert "files" not in m and m["state"] == "unactivated"
    assert os.listdir(server.image_dir(uuid)) == ["manifest.json"]
    server.error("POST", f"/images/{uuid}?action=activate", token=True, status=422,
                 code="NoActivationNoFile")
    # A truncated replacement leaves the complete file it was to replace.
    data = b"complete file\n"
    assert server.upload(uuid, data)[0] == 200
    raw(server, head + b"x" * 1000, read=False)
    wait_for(lambda: server.stderr().count("upload stopped after") == 2)
    assert server.req("GET", f"/images/{uuid}/file")[2] == data
    assert sorted(os.listdir(server.image_dir(uuid))) == ["file", "manifest.json"]
    assert server.json("POST", f"/images/{uuid}?action=activate", token=True)["state"] == \
        "active"


def test_crash_mid_upload(tmp_path):
    s = Server(tmp_path, ["--token", TOKEN])
    uuid = s.create()["uuid"]
    sock = socket.create_connection((s.host, s.port))
    sock.sendall((f"PUT /images/{uuid}/file?compression=none HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {TOKEN}\r\nContent-Length: 10000000\r\n\r\n"
                  ).encode() + os.urandom(5_000_000))
    time.sleep(0.3)
    s.p.kill()  # no chance to clean up
    s.p.wait()
    sock.close()
    s.stop()
    # Leftovers a crash could leave: a directory without a manifest, stray temp files.
    half = os.path.join(s.dir, "images", str(uuidlib.uuid4()))
    os.mkdir(half)
    open(os.path.join(half, "file"), "w").close()
    open(os.path.join(s.image_dir(uuid), ".upload.0123456789abcdef"), "w").close()
    open(os.path.join(s.image_dir(uuid), "file"), "w").close()  # renamed, never recorded
    s = Server(tmp_path, ["--token", TOKEN])
    try:
        m = s.json("GET", f"/images/{uuid}")
        assert m["state"] == "unactivated" and "files" not in m
        assert os.listdir(s.image_dir(uuid)) == ["manifest.json"]
        assert not os.path.exists(half)
        s.error("POST", f"/images/{uuid}?action=activate", token=True, status=422,
                code="NoActivationNoFile")
    finally:
        assert s.stop() == 0


def test_images_survive_a_restart(tmp_path):
    data = os.urandom(50_000)
    s = Server(tmp_path, ["--token", TOKEN])
    m = s.publish(data, name="keep")
    assert s.stop() == 0
    s = Server(tmp_path, ["--token", TOKEN])
    try:
        assert s.list() == [m]
        st, h, body = s.req("GET", f"/images/{m['uuid']}/file")
        assert body == data
        assert h["Content-MD5"] == base64.b64encode(hashlib.md5(data).digest()).decode()
    finally:
        assert s.stop() == 0


def test_upload_checks(server):
    uuid = server.create()["uuid"]
    data = b"some bytes"
    e = server.error("PUT", f"/images/{uuid}/file?compression=none&sha1={'0' * 40}", data,
                     token=True, status=422, code="InvalidParameter")
    assert e["errors"][0]["field"] == "sha1" and hashlib.sha1(data).hexdigest() in e["message"]
    for q, field in (("", "compression"), ("compression=lz4", "compression"),
                     ("compression=none&sha1=xyz", "sha1"), ("compression=none&x=1", "x")):
        e = server.error("PUT", f"/images/{uuid}/file?{q}", data, token=True, status=422,
                         code="InvalidParameter")
        assert e["errors"][0]["field"] == field
    assert os.listdir(server.image_dir(uuid)) == ["manifest.json"]
    server.error("PUT", f"/images/{uuidlib.uuid4()}/file?compression=none", data, token=True,
                 status=404, code="ResourceNotFound")
    # zstd is Sable's addition; the sha1 may be left out; chunked bodies work.
    c = server.conn()
    c.request("PUT", f"/images/{uuid}/file?compression=zstd", body=iter([b"ab", b"cd"]),
              headers={"Authorization": f"Bearer {TOKEN}"}, encode_chunked=True)
    r = c.getresponse()
    assert r.status == 200
    f = json.loads(r.read())["files"][0]
    c.close()
    assert f == {"compression": "zstd", "size": 4, "sha1": hashlib.sha1(b"abcd").hexdigest()}
    # Too large, by its Content-Length.
    reply = raw(server, (f"PUT /images/{uuid}/file?compression=none HTTP/1.1\r\nHost: x\r\n"
                         f"Authorization: Bearer {TOKEN}\r\n"
                         f"Content-Length: {20 * 2**30 + 1}\r\n\r\n").encode())
    assert reply.startswith(b"HTTP/1.1 413 ") and b"PayloadTooLarge" in reply


def test_activation_rules(server):
    uuid = server.create()["uuid"]
    e = server.error("POST", f"/images/{uuid}?action=activate", token=True, status=422,
                     code="NoActivationNoFile")
    assert uuid in e["message"]
    server.upload(uuid, b"x")
    server.json("POST", f"/images/{uuid}?action=activate", token=True)
    server.error("POST", f"/images/{uuid}?action=activate", token=True, status=422,
                 code="ImageAlreadyActivated")
    st, _, body = server.upload(uuid, b"y")
    assert st == 422 and json.loads(body)["code"] == "ImageFilesImmutable"
    server.error("POST", f"/images/{uuid}", token=True, status=422, code="InvalidParameter")
    server.error("POST", f"/images/{uuid}?action=explode", token=True, status=422,
                 code="InvalidParameter")
    server.error("POST", f"/images/{uuidlib.uuid4()}?action=activate", token=True, status=404,
                 code="ResourceNotFound")
    m = server.json("POST", f"/images/{uuid}?action=disable", token=True)
    assert m["state"] == "disabled" and m["disabled"] is True
    m = server.json("POST", f"/images/{uuid}?action=enable", token=True)
    assert m["state"] == "active" and m["disabled"] is False


# ---- manifests --------------------------------------------------------------------


def test_manifest_validation(server):
    def bad(body, status=422, code="ValidationFailed"):
        return server.error("POST", "/images", body, token=True, status=status, code=code)

    e = bad({"name": "x", "version": "1", "type": "vm", "os": "linux", "owner": OWNER})
    assert e["errors"][0]["field"] == "type" and "'vm'" in e["message"]
    e = bad({"version": "1", "type": "other", "os": "linux", "owner": OWNER})
    assert e["errors"][0]["field"] == "name"
    e = bad({"name": "x", "version": "1", "type": "other", "os": "linux", "owner": OWNER,
             "uuid": "nope"})
    assert e["errors"][0]["field"] == "uuid"
    e = bad({"name": "x", "version": "1", "type": "zvol", "os": "linux", "owner": OWNER})
    assert e["errors"][0]["field"] in ("nic_driver", "disk_driver", "cpu_type", "image_size")
    bad("[1, 2]")
    e = bad('{"name": "x",', status=400, code="BadRequest")
    assert "manifest:" in e["message"]
    bad('{"name": "x", "name": "y"}', status=400, code="BadRequest")  # duplicate keys
    bad("", status=400, code="BadRequest")
    bad({"name": "x", "version": "1", "type": "other", "os": "linux", "owner": OWNER,
         "origin": str(uuidlib.uuid4())}, code="OriginDoesNotExist")
    assert server.list("state=all") == []
    assert os.listdir(os.path.join(server.dir, "images")) == []


def test_oversize_manifest(server):
    big = json.dumps({"name": "x", "version": "1", "type": "other", "os": "linux",
                      "owner": OWNER, "description": "d" * (1 << 20)})
    server.error("POST", "/images", big, token=True, status=413, code="PayloadTooLarge")
    # A huge one is refused from its Content-Length alone, before its body is read.
    reply = raw(server, (f"POST /images HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}"
                         f"\r\nContent-Length: {1 << 30}\r\n\r\n").encode())
    assert reply.startswith(b"HTTP/1.1 413 ") and b"PayloadTooLarge" in reply
    # Without a length (chunked), the connection is closed once past the limit.
    c = server.conn()
    chunks = iter([big[i:i + 65536].encode() for i in range(0, len(big), 65536)])
    status = None
    try:
        c.request("POST", "/images", body=chunks, encode_chunked=True,
                  headers={"Authorization": f"Bearer {TOKEN}"})
        status = c.getresponse().status
    except (ConnectionError, http.client.HTTPException, OSError):
        pass
    c.close()
    assert status is None, f"a chunked manifest over 1 MiB got a {status} reply"
    # Just under the body limit, but not a valid manifest (description is 512 at most).
    e = server.error("POST", "/images", big[: (1 << 20) - 100] + '"}', token=True,
                     status=422, code="ValidationFailed")
    assert e["errors"][0]["field"] == "description"
    assert server.json("GET", "/ping")["ping"] == "pong"
    assert server.list("state=all") == []


def test_delete(server):
    base = server.publish(name="base")
    child = server.publish(name="child", origin=base["uuid"])
    e = server.error("DELETE", f"/images/{base['uuid']}", token=True, status=422,
                     code="ImageHasDependentImages")
    assert child["uuid"] in e["message"]
    st, _, body = server.req("DELETE", f"/images/{child['uuid']}", token=True)
    assert st == 204 and body == b""
    server.error("GET", f"/images/{child['uuid']}", status=404, code="ResourceNotFound")
    assert not os.path.exists(server.image_dir(child["uuid"]))
    # A download under way finishes after the delete.
    data = os.urandom(16 << 20)
    big = server.publish(data, name="big")
    c = server.conn()
    c.request("GET", f"/images/{big['uuid']}/file")
    r = c.getresponse()
    first = r.read(1 << 20)
    assert server.req("DELETE", f"/images/{big['uuid']}", token=True)[0] == 204
    assert first + r.read() == data
    c.close()
    assert server.req("DELETE", f"/images/{base['uuid']}", token=True)[0] == 204
    server.error("DELETE", f"/images/{base['uuid']}", token=True, status=404,
                 code="ResourceNotFound")
    assert os.listdir(os.path.join(server.dir, "images")) == []


def test_delete_during_an_upload(server):
    uuid = server.create()["uuid"]
    s = socket.create_connection((server.host, server.port), timeout=10)
    s.sendall((f"PUT /images/{uuid}/file?compression=none HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Bearer {TOKEN}\r\nContent-Length: 200000\r\n\r\n"
               ).encode() + b"a" * 100_000)
    time.sleep(0.2)
    assert server.req("DELETE", f"/images/{uuid}", token=True)[0] == 204
    s.sendall(b"a" * 100_000)
    reply = s.recv(65536)
    s.close()
    assert reply.startswith(b"HTTP/1.1 404 ") and b"deleted during the upload" in reply
    assert not os.path.exists(server.image_dir(uuid))


# ---- paths --------------------------------------------------------------------------


def test_bad_uuids_and_paths(server, tmp_path):
    secret = tmp_path / "outside"
    secret.write_text("not for clients")
    m = server.publish(b"inside")
    for path in ("/images/abc", "/images/abc/file", "/images/" + "a" * 36,
                 f"/images/{m['uuid']}x", "/images/%2e%2e", "/images/%2e%2e%00x"):
        e = server.error("GET", path, status=422, code="InvalidParameter")
        assert e["errors"][0]["field"] == "uuid"
    for path in ("/", "/foo", "/images/x/y", f"/images/{m['uuid']}/file/x",
                 f"/images/{m['uuid']}/../../outside", "/images/../outside", "/ping/x",
                 "/%2e%2e/outside", f"/images/{m['uuid']}/manifest.json",
                 "/images/..%2Foutside/file", f"/images/{m['uuid']}%2F..%2F..%2Foutside"):
        st, _, body = server.req("GET", path)
        assert st == 404 and json.loads(body)["code"] == "ResourceNotFound", path
        assert b"not for clients" not in body
    # Upper case is the same image.
    assert server.json("GET", f"/images/{m['uuid'].upper()}")["uuid"] == m["uuid"]
    # Long paths and parameters are refused without echoing all of them.
    e = server.error("GET", "/images?" + "q" * 20000 + "=1", status=422,
                     code="InvalidParameter")
    assert len(e["message"]) < 200
    e = server.error("GET", "/images/" + "z" * 5000, status=422, code="InvalidParameter")
    assert len(e["message"]) < 200
    # Methods.
    st, h, body = server.req("PATCH", f"/images/{m['uuid']}", token=True)
    assert st == 405 and h["Allow"] == "GET, HEAD, POST, DELETE"
    assert json.loads(body)["code"] == "MethodNotAllowed"
    st, h, _ = server.req("DELETE", "/images", token=True)
    assert st == 405 and h["Allow"] == "GET, HEAD, POST"
    st, h, _ = server.req("POST", "/ping")
    assert st == 405


def test_connection_limit_and_idle_timeout(tmp_path):
    s = Server(tmp_path, ["--token", TOKEN, "--max-connections", "2", "--timeout", "2",
                          "--threads", "2"])
    try:
        idle = [socket.create_connection((s.host, s.port)) for _ in range(2)]
        time.sleep(0.2)
        # A third client waits until the idle ones are dropped, then is served.
        t = time.monotonic()
        assert s.json("GET", "/ping")["ping"] == "pong"
        assert 1 < time.monotonic() - t < 10
        for sock in idle:
            sock.settimeout(5)
            assert sock.recv(10) == b""  # closed by the server
            sock.close()
    finally:
        assert s.stop() == 0


def test_keep_alive_after_an_early_error(server):
    # A small body after a refused request is read and dropped: the connection stays usable.
    c = server.conn()
    c.request("POST", "/images", body=b'{"name": "x"}')
    r = c.getresponse()
    assert r.status == 401
    r.read()
    c.request("GET", "/ping")
    r = c.getresponse()
    assert r.status == 200 and json.loads(r.read())["ping"] == "pong"
    c.close()
