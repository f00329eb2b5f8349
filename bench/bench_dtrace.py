"""dtrace beside bpftrace (Debian's), in one run.

- start-up to the first event, one syscall probe: a program that exits on
  its own first epoll_wait (both tools poll their buffers with it), so the
  time is start, compile, load, attach, first event, exit;
- the same for every syscall's entry (bpftrace: all sys_enter_* tracepoints);
- per-event overhead: a syscall-heavy loop (dd, 1-byte reads and writes)
  with no tracer, under `syscall:::entry { @[execname] = count(); }` and
  under bpftrace's equivalent;
- dtrace's peak RSS for those programs.

bpftrace needs tracefs, which is mounted only in a private mount namespace
(unshare -m), as PLATFORM.md says.
"""
import os
import shutil
import subprocess
import time

from harness import compare, hyperfine, program, row

TRACEFS = "mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing; "


def bpftrace_cmd(prog):
    return ["unshare", "-m", "sh", "-c", TRACEFS + f"exec bpftrace -e '{prog}'"]


def loop_seconds(n=200000):
    t = time.monotonic()
    subprocess.run(["dd", "if=/dev/zero", "of=/dev/null", "bs=1", f"count={n}"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.monotonic() - t


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def under(cmd, ready_after=0.5, rounds=5):
    """The loop's median time while cmd traces."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(ready_after)
    try:
        return median([loop_seconds() for _ in range(rounds)])
    finally:
        p.send_signal(2)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def peak_rss_kib(cmd):
    """VmHWM of the tracer after a second of tracing and a loop of syscalls."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    loop_seconds()
    with open(f"/proc/{p.pid}/status") as f:
        hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    p.send_signal(2)
    p.wait(30)
    return hwm


def rows():
    if os.geteuid() != 0:
        return
    dtrace = program("dtrace")
    have_bpftrace = shutil.which("bpftrace") is not None
    one_d = f"{dtrace} -q -n 'syscall::epoll_wait:entry {{ exit(0); }}'"
    all_d = f"{dtrace} -q -n 'syscall:::entry {{ exit(0); }}'"
    one_b = ("unshare -m sh -c '" + TRACEFS +
             "exec bpftrace -e \"tracepoint:syscalls:sys_enter_epoll_wait { exit(); }\"'")
    all_b = ("unshare -m sh -c '" + TRACEFS +
             "exec bpftrace -e \"tracepoint:syscalls:sys_enter_* { exit(); }\"'")
    if have_bpftrace:
        yield compare("dtrace start to first event, one syscall probe", one_d,
                      "bpftrace", one_b, runs=10, warmup=1)
        yield compare("dtrace start to first event, every syscall entry", all_d,
                      "bpftrace", all_b, runs=3, warmup=0)
    else:
        yield row("dtrace start to first event, one syscall probe",
                  hyperfine([one_d], runs=20, warmup=2)[0], "bpftrace (not installed)",
                  float("nan"), "s")

    base = median([loop_seconds() for _ in range(5)])
    d = under([dtrace, "-q", "-n", "syscall:::entry { @[execname] = count(); }"])
    yield row("syscall loop (400k syscalls), no tracer", base, "same", base, "s")
    if have_bpftrace:
        b = under(bpftrace_cmd("tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }"),
                  ready_after=3)
        yield row("syscall loop under @[execname] = count()", d, "bpftrace", b, "s")
    else:
        yield row("syscall loop under @[execname] = count()", d, "no tracer", base, "s")
    rss = peak_rss_kib([dtrace, "-q", "-n", "syscall:::entry { @[execname] = count(); }"])
    yield row("dtrace peak RSS, syscall:::entry count", rss / 1024, "the 10 MiB goal", 10, "MiB")
