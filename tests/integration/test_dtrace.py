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


def test_zone_booted_after_start(clean, node):
    """The zone map follows zones that boot while dtrace runs."""
    d = subprocess.Popen([program("dtrace"), "-q", "-x", "switchrate=20ms", "-n",
                          'BEGIN { printf("ready\\n"); } '
                          'syscall::getppid:entry /execname == "zprobe"/ { @[zonename] = count(); }'],
                         env=node.root.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert d.stdout.readline() == "ready\n"
        uuid = node.create()
        time.sleep(0.1)  # a switchrate tick or two: the run file's inotify event is read
        subprocess.run([program("zlogin"), uuid, "/native/zprobe", "pid"], env=node.root.env,
                       check=True, capture_output=True, timeout=30)
    finally:
        d.send_signal(signal.SIGINT)
        out, err = d.communicate(timeout=30)
    assert d.returncode == 0, err
    rows = [l.split() for l in out.splitlines() if l.strip()]
    assert rows == [[uuid, "1"]], out


TRACEE = f"{BUILD}/tests/helpers/tracee"


def test_signed_arithmetic_and_aggregation_actions(clean):
    p = dtrace("-q", "-n", """BEGIN /10 / 2 == 5/ {
        x = -7; printf("%d %d %d %d %d\\n", x / 2, x % 2, 7 / -2, -7 % -2, x >> 1);
        @t["a"] = sum(1); @t["b"] = sum(5); @t["c"] = sum(3); @t["d"] = sum(2);
        trunc(@t, 2); printa(@t);
        @l[1] = sum(4); @l[2] = sum(1); @l[3] = sum(9); trunc(@l, -1);
        @c["p"] = count(); @c["q"] = count(); clear(@c);
        @n = sum(1000); normalize(@n, 10);
        exit(0); }""")
    row = "  {:<50} {:>16}\n".format
    assert p.stdout == ("-3 -1 -3 -1 -4\n"
                        "\n" + row("c", 3) + row("b", 5) +          # printa after trunc(@t, 2)
                        "\n" + " " * 16 + "2" + " " * 16 + "1\n" +  # trunc(@l, -1): the lowest
                        row("p", 0) + row("q", 0) +                 # clear(): keys kept at zero
                        " " * 14 + "100\n"), repr(p.stdout)        # normalize(@n, 10)


def test_probefunc_in_predicates(clean):
    script = getppid_script(7)
    try:
        p = dtrace("-q", "-n", "syscall::getppid:entry, syscall::getpid:entry "
                   '/pid == $target && probefunc == "getppid" && probename != "return"/ '
                   "{ @[probefunc, probeprov] = count(); }", "-c", f"{PY} {script}")
    finally:
        os.unlink(script)
    rows = [l.split() for l in p.stdout.splitlines() if l.strip()]
    assert len(rows) == 1 and rows[0][:2] == ["getppid", "syscall"] and int(rows[0][2]) >= 7, p.stdout


def test_error_probe(clean):
    p = dtrace("-q", "-n", "BEGIN { x = 0; printf(\"%d\\n\", 1 / x); printf(\"not reached\\n\"); }"
               "BEGIN { exit(0); }", check=False)
    assert p.returncode == 0 and p.stdout == "\n", p.stdout
    assert p.stderr == ("dtrace: error on enabled probe ID 1 (ID 1: dtrace:::BEGIN): "
                        "divide-by-zero in action #2 at line 1\n"), p.stderr
    p = dtrace("-q", "-n", """BEGIN { x = 0; y = 5 % x; }
        BEGIN { trace(copyinstr(8)); }
        ERROR { printf("%d %d %d %d %x\\n", arg1, arg2, arg3, arg4, arg5); }
        BEGIN { exit(0); }""")
    assert p.stdout == "1 2 1 4 0\n2 1 2 1 8\n\n", repr(p.stdout)


def test_ppid_errno_vtimestamp(clean, tmp_path):
    s = tmp_path / "a.py"
    s.write_text("import os\nos.getppid()\ntry:\n    open('/nonexistent/x')\nexcept OSError:\n"
                 "    pass\nsum(range(3000000))\nos.getppid()\n")
    d = subprocess.Popen([program("dtrace"), "-q", "-n", """
        syscall::getppid:entry /pid == $target/ { @p[ppid] = count(); }
        syscall::getppid:entry /pid == $target && !self->v/ { self->v = vtimestamp; self->t = timestamp; }
        syscall::getppid:entry /pid == $target && self->v/ {
            @v = max((vtimestamp - self->v) / 1000000); @w = max((timestamp - self->t) / 1000000); }
        syscall::openat:return /pid == $target && errno != 0/ { @e[errno, arg1] = count(); }
        syscall::getppid:return /pid == $target/ { @z[errno] = count(); }""",
                          "-c", f"{PY} {s}"], stdout=subprocess.PIPE, text=True)
    out, _ = d.communicate(timeout=30)
    assert d.returncode == 0
    lines = out.split("\n\n")
    rows = [l.split() for l in out.splitlines() if l.strip()]
    assert [str(d.pid), "2"] in rows, out                       # ppid: dtrace ran the command
    assert any(r[:2] == ["2", "-2"] for r in rows), out           # errno: ENOENT from openat
    assert ["0", "2"] in rows, out                               # getppid never fails
    v, w = (int(r[0]) for r in rows if len(r) == 1)
    assert 0 < v <= w + 10, out                                  # on-CPU ms within wall ms


def test_stacks(clean):
    p = dtrace("-q", "-n", "syscall::getppid:entry /pid == $target/"
               " { @k[stack()] = count(); @u[ustack()] = count(); }", "-c", f"{TRACEE} 10 200")
    blocks = p.stdout.strip("\n").split("\n\n")
    kernel = next(b for b in blocks if "vmlinux`" in b)
    frames = [l for l in kernel.splitlines() if l.strip()]
    assert all(re.fullmatch(r" {14}vmlinux`\w+(\+0x[0-9a-f]+)?", f) for f in frames[:-1]), kernel
    assert any("do_syscall_64" in f for f in frames) and frames[-1] == " " * 16 + "1", kernel
    user = next(b for b in blocks if "tracee`" in b).splitlines()
    assert re.fullmatch(r" {14}tracee`leaf\+0x[0-9a-f]+", user[0]), user
    assert re.fullmatch(r" {14}tracee`middle\+0x[0-9a-f]+", user[1]), user
    assert re.fullmatch(r" {14}tracee`main\+0x[0-9a-f]+", user[2]), user
    assert user[-1] == " " * 16 + "1", user


def test_pid_provider(clean):
    p = dtrace("-q", "-n", "pid$target::leaf:entry { @c = count(); @s = sum(arg0); }"
               " pid$target:tracee:leaf:return { @r = sum(arg1); }"
               ' pid$target::middle:entry /arg0 == 0/ { printf("%s:%s:%s:%s\\n", probeprov, probemod, probefunc, probename); }',
               "-c", f"{TRACEE} 100")
    # dtrace's printf and tracee's own line share stdout from two processes: either
    # may come first. The aggregations come last, at dtrace's end, in order.
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    head = sorted(lines[:2])
    assert head[0] == "10100", p.stdout                          # tracee's own output
    assert re.fullmatch(r"pid\d+:tracee:middle:entry", head[1]), p.stdout
    assert [int(v) for v in lines[2:]] == [100, 4950, 10000], p.stdout
    q = dtrace("-n", "pid$target::no_such_function:entry { }", "-c", f"{TRACEE} 1", check=False)
    assert q.returncode == 1 and "does not match any probes" in q.stderr


def test_sched_io_signal(clean, tmp_path):
    f = tmp_path / "io"
    s = tmp_path / "a.sh"
    s.write_text(f"#!/bin/sh\nsleep 0.05\ndd if=/dev/zero of={f} bs=4096 count=8 oflag=direct,sync "
                 "2>/dev/null\nsleep 5 & kill -USR1 $!\n")
    s.chmod(0o755)
    p = dtrace("-q", "-n", """
        sched:::off-cpu /pid == $target/ { @s["off"] = count(); }
        sched:::on-cpu /pid == $target/ { @s["on"] = count(); }
        io:::start /execname == "dd"/ { @b["start"] = sum(arg1); }
        io:::done /arg2 != 0/ { @d = count(); }
        proc:::signal-send /arg2 == 10/ { printf("%d %s\\n", arg2, execname); }""",
               "-c", str(s))
    rows = [l.split() for l in p.stdout.splitlines() if l.strip()]
    assert ["10", "a.sh"] in rows, p.stdout
    counts = {r[0]: int(r[1]) for r in rows if len(r) == 2 and r[0] in ("on", "off", "start")}
    assert counts["on"] >= 1 and counts["off"] >= 1, p.stdout
    assert counts["start"] >= 8 * 4096, p.stdout
    assert any(len(r) == 1 and int(r[0]) >= 1 for r in rows), p.stdout


from test_vmadm import node  # noqa: E402,F401  (the zone fixture)
