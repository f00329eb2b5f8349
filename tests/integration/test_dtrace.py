"""dtrace: D compiled to eBPF, run as root against the live kernel.

Each test triggers known events itself (a helper making exactly N getppid
calls, a program in a zone) and checks DTrace's exact output. Nothing a
run attaches may outlive it: every test counts the kernel's BPF programs
and links named by dtrace before and after, also after kill -9.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import BUILD, program

PY = sys.executable


def dtrace(*args, check=True, timeout=30, env=None):
    p = subprocess.run([program("dtrace"), *args], capture_output=True, text=True,
                       timeout=timeout, env=env)
    if check and p.returncode != 0:
        raise AssertionError(f"dtrace {args} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def ours():
    """dtrace's programs and links in the kernel now."""
    progs = subprocess.run(["bpftool", "prog", "show"], capture_output=True, text=True).stdout
    links = subprocess.run(["bpftool", "link", "show"], capture_output=True, text=True).stdout
    ids = {l.split(":")[0] for l in progs.splitlines() if "sable_dtrace" in l}
    n_links = sum(1 for l in links.splitlines()
                  if re.match(r"^\d+:", l) and any(f"prog {i} " in l + " " for i in ids))
    return len(ids), n_links


@pytest.fixture
def clean():
    if os.geteuid() != 0:
        pytest.skip("dtrace needs root")
    before = ours()
    yield
    for _ in range(50):
        if ours() == before:
            break
        time.sleep(0.05)
    assert ours() == before, "dtrace left BPF programs or links behind"


def getppid_script(n):
    f = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
    f.write(f"import os\nfor _ in range({n}):\n    os.getppid()\n")
    f.close()
    return f.name


def test_begin_exit_exact(clean):
    p = dtrace("-n", 'BEGIN { printf("hello, %s %d\\n", "world", 42); exit(0); }')
    assert re.fullmatch(r"CPU     ID                    FUNCTION:NAME\n"
                        r" *\d+      1                           :BEGIN hello, world 42\n\n\n",
                        p.stdout), repr(p.stdout)
    assert p.stderr == "dtrace: description 'BEGIN ' matched 1 probe\n"
    q = dtrace("-q", "-n", 'BEGIN { printf("%5d|%-4s|%x\\n", 7, "ab", 255); exit(3); }',
               check=False)
    assert (q.returncode, q.stdout, q.stderr) == (3, "    7|ab  |ff\n\n", "")


def test_end_and_trace(clean):
    p = dtrace("-q", "-n", 'BEGIN { x = 5; exit(0); } END { trace(x * 2); trace("done"); }')
    assert p.stdout == "10done\n"


def test_syscall_count_by_execname(clean):
    script = getppid_script(1000)
    try:
        p = dtrace("-q", "-n", "syscall::getppid:entry /pid == $target/ { @[execname] = count(); }",
                   "-c", f"{PY} {script}")
    finally:
        os.unlink(script)
    m = re.fullmatch(r"\n  (\S+) +(\d+)\n", p.stdout)
    assert m, repr(p.stdout)
    assert int(m.group(2)) == 1000
    assert len(m.group(0).splitlines()[1]) == 2 + 50 + 1 + 16


def test_entry_return_predicate_and_args(clean):
    script = getppid_script(10)
    try:
        p = dtrace("-q", "-n", """
            syscall::getppid:return /pid == $target/ { @r = sum(arg0 == ppid0 ? 1 : 1); }
            syscall::getppid:entry /pid == $target && execname != "nobody"/ { @e = count(); }
            syscall::getppid:return /pid == $target/ { @ret[arg0 > 0] = count(); }
        """.replace("ppid0", "arg0"), "-c", f"{PY} {script}")
    finally:
        os.unlink(script)
    assert p.stdout == "\n" + " " * 15 + "10\n" + " " * 15 + "10\n" + " " * 8 + "1" + " " * 15 + "10\n"


def test_quantize_shape(clean):
    p = dtrace("-q", "-n", "BEGIN { @ = quantize(0); @ = quantize(1); @ = quantize(3); "
               "@ = quantize(3); @ = quantize(100); exit(0); }")
    assert p.stdout == (
        "\n\n"
        "           value  ------------- Distribution ------------- count    \n"
        "              -1 |                                         0        \n"
        "               0 |@@@@@@@@                                 1        \n"
        "               1 |@@@@@@@@                                 1        \n"
        "               2 |@@@@@@@@@@@@@@@@                         2        \n"
        "               4 |                                         0        \n"
        "               8 |                                         0        \n"
        "              16 |                                         0        \n"
        "              32 |                                         0        \n"
        "              64 |@@@@@@@@                                 1        \n"
        "             128 |                                         0        \n"
        "\n")


def test_aggregations_and_variables(clean):
    p = dtrace("-q", "-n", """BEGIN {
        a["x"] = 3; self->t = 4; this->u = 5; g = a["x"] + self->t + this->u;
        @s = sum(g); @mn = min(7); @mn = min(-2); @mx = max(9); @av = avg(10); @av = avg(20);
        @c[strjoin("ab", "cd"), 2] = count();
        printa("%s-%d=%@d\\n", @c);
        exit(0); }""")
    assert p.stdout == ("abcd-2=1\n\n"
                        "               12\n"
                        "               -2\n"
                        "                9\n"
                        "               15\n")


def test_tick_and_profile(clean):
    p = dtrace("-q", "-n", "profile-997 { @p = count(); } tick-100ms { @t = count(); } "
               "tick-1s { exit(0); }", timeout=10)
    values = [int(v) for v in p.stdout.split()]
    assert len(values) == 2 and values[0] > 0 and 8 <= values[1] <= 11, p.stdout


def test_bad_programs(clean):
    for prog, msg in [
        ("BEGIN {\n  x = 1 +;\n}", "-n:2:10: expected an expression near ';'"),
        ("syscall::nosuch:entry { }", "-n:1:1: probe description 'syscall::nosuch:entry' "
                                      "does not match any probes"),
        ('BEGIN { printf("%d", "s"); }', "-n:1:22: printf's %d needs an integer"),
        ("fbt::vfs_read:entry { }", "this kernel has no kprobes"),
    ]:
        p = dtrace("-n", prog, check=False)
        assert p.returncode == 1 and p.stdout == ""
        assert p.stderr.count("\n") == 1 and msg in p.stderr, p.stderr
    p = dtrace("-s", "/nonexistent.d", check=False)
    assert p.returncode == 1 and "failed to open /nonexistent.d" in p.stderr
    p = dtrace("-Z", "-q", "-n", "syscall::nosuch:entry { } BEGIN { exit(0); }")
    assert p.returncode == 0


def test_script_and_macro_args(clean, tmp_path):
    s = tmp_path / "a.d"
    s.write_text("#!/usr/sbin/dtrace -s\nBEGIN { printf(\"%d %s\\n\", $1 + 1, $2); exit(0); }\n")
    p = dtrace("-q", "-s", str(s), "41", "word")
    assert p.stdout == "42 word\n\n"
    out = tmp_path / "out"
    dtrace("-q", "-o", str(out), "-n", 'BEGIN { printf("x"); exit(0); }')
    assert out.read_text() == "x\n"


def test_list():
    p = dtrace("-l", "-n", "syscall::read:*")
    assert p.stdout.splitlines()[0].split() == ["ID", "PROVIDER", "MODULE", "FUNCTION", "NAME"]
    assert [l.split()[1:] for l in p.stdout.splitlines()[1:]] == [
        ["syscall", "read", "entry"], ["syscall", "read", "return"]]


def test_dump_needs_no_kernel():
    for stage in ("ast", "ir", "bpf"):
        p = dtrace(f"--dump={stage}", "-n", "syscall::read:entry { @[execname] = count(); }")
        assert p.stdout


def test_nothing_left_after_kill(clean):
    before = ours()
    d = subprocess.Popen([program("dtrace"), "-q", "-n",
                          "syscall:::entry { @[execname] = count(); } profile-97 { @p = count(); }"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if ours() != before:
            break
        time.sleep(0.05)
    assert ours()[0] > before[0]
    d.send_signal(signal.SIGKILL)
    d.wait()


def test_ctrl_c_prints_aggregations(clean):
    d = subprocess.Popen([program("dtrace"), "-q", "-n", "syscall:::entry { @c = count(); }"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    d.send_signal(signal.SIGINT)
    out, _ = d.communicate(timeout=10)
    assert d.returncode == 0 and re.fullmatch(r"\n +\d+\n", out), repr(out)


def test_zonename(clean, node):
    uuid = node.create()
    script = node.root.file("run.sh")
    with open(script, "w") as f:
        f.write(f"#!/bin/sh\n{program('zlogin')} {uuid} /native/zprobe pid >/dev/null\n"
                f"{BUILD}/tests/helpers/zprobe pid >/dev/null\n")
    os.chmod(script, 0o755)
    p = subprocess.run([program("dtrace"), "-q", "-n",
                        'syscall::getppid:entry /execname == "zprobe"/ { @[zonename] = count(); }',
                        "-c", script], env=node.root.env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    rows = sorted(l.split() for l in p.stdout.splitlines() if l.strip())
    assert rows == sorted([[uuid, "1"], ["global", "1"]]), p.stdout


from test_vmadm import node  # noqa: E402,F401  (the zone fixture)
