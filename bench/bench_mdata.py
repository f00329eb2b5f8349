"""Metadata: GET round trips over the socket against a bare echo round trip; 64 clients.

tests/helpers/mdata-serve runs lib/mdata's server with the record store
zoneadmd uses (it stats the VM's record on every request, re-reads it when
it changed) over a VM record in a scratch SABLE_ROOT; its --echo mode is
the yardstick: the same unix socket and poll loop, echoing each line. One
Python client does 10,000 sequential V2 GETs of a customer_metadata key on
each (same client, same frame), and the medians are compared. Then 64
clients connect at once, each sends a GET, and all must be answered.
"""
import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import zlib

from harness import BUILD, row

N = 10000
UUID = "4f0d9a6e-3c1b-4c8e-9a57-2d6f1b0e7c11"


def frame(reqid, code, payload):
    body = f"{reqid} {code} {base64.b64encode(payload.encode()).decode()}"
    return f"V2 {len(body)} {zlib.crc32(body.encode()):08x} {body}\n".encode()


def connect(path):
    for _ in range(500):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            return s
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            time.sleep(0.01)
    raise RuntimeError(f"{path}: no server")


def round_trips(path, req, n=N):
    s = connect(path)
    f = s.makefile("rb")
    times = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        s.sendall(req)
        line = f.readline()
        times.append(time.perf_counter_ns() - t0)
    assert line, "no answer"
    s.close()
    return statistics.median(times) / 1e9, line


def rows():
    serve = os.path.join(BUILD, "tests", "helpers", "mdata-serve")
    root = tempfile.mkdtemp(prefix="sable-bench-md-")
    procs = []
    try:
        cfg = os.path.join(root, "zones", UUID, "config")
        os.makedirs(cfg)
        os.makedirs(os.path.join(root, "usbkey"))
        vm = {"uuid": UUID, "alias": "bench", "customer_metadata": {"role": "web" * 10}}
        json.dump(vm, open(os.path.join(cfg, "vm.json"), "w"))
        md, echo = os.path.join(root, "md.sock"), os.path.join(root, "echo.sock")
        env = dict(os.environ, SABLE_ROOT=root)
        procs.append(subprocess.Popen([serve, md, UUID], env=env))
        procs.append(subprocess.Popen([serve, "--echo", echo], env=env))
        req = frame("0a1b2c3d", "GET", "role")
        s_med, ans = round_trips(md, req)
        assert b" SUCCESS " in ans, ans
        y_med, _ = round_trips(echo, req)
        yield row("metadata GET round trip (10,000 sequential, median)", s_med,
                  "echo round trip, same socket and client", y_med, "s")
        clients = [connect(md) for _ in range(64)]
        for i, c in enumerate(clients):
            c.sendall(frame(f"{i:08x}", "GET", "role"))
        answered = sum(1 for c in clients if b" SUCCESS " in c.makefile("rb").readline())
        for c in clients:
            c.close()
        yield row("concurrent clients answered", answered, "clients connected", 64, "clients")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    for r in rows():
        print(r)
