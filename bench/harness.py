"""The benchmark harness: time Sable beside its yardstick, in one run.

compare() runs both commands under hyperfine (warm-up, then N runs,
interleaved by hyperfine's order: Sable first, yardstick second) and
returns one table row with both medians and their ratio. Medians, not
means: this machine is shared and noisy. A ratio below 1 means Sable is
faster than its yardstick.
"""
import json
import os
import subprocess
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, os.environ.get("SABLE_BENCH_BUILD", "build"))


def program(name):
    return os.path.join(BUILD, "src", name, name)


def hyperfine(commands, runs=50, warmup=5, env=None, prefix=()):
    """Median seconds of each command, from one hyperfine invocation (run under prefix)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        p = subprocess.run([*prefix, "hyperfine", "--style", "none", "--shell", "none",
                            "--warmup", str(warmup), "--runs", str(runs),
                            "--export-json", out.name, *commands],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           env=env)
        if p.returncode:
            raise RuntimeError(f"hyperfine failed: {p.stderr}")
        data = json.load(open(out.name))
    return [r["median"] for r in data["results"]]


def compare(figure, sable, yard_name, yard, runs=50, warmup=5, env=None):
    s, y = hyperfine([sable, yard], runs=runs, warmup=warmup, env=env)
    return {"figure": figure, "sable": s, "yardstick": yard_name, "yard": y,
            "unit": "s", "ratio": s / y}


def row(figure, sable, yard_name, yard, unit):
    """A row measured by other means (sizes, counts, throughput)."""
    return {"figure": figure, "sable": sable, "yardstick": yard_name, "yard": yard,
            "unit": unit, "ratio": sable / yard if yard else float("nan")}


def drop_node_cgroups(root):
    """Remove a scratch node's own cgroup directories (<prefix> in every hierarchy).

    Sable leaves them in place for the node's life, as systemd leaves
    machine.slice; a bench's node ends with the bench. Only empty ones go.
    """
    try:
        with open(os.path.join(root, "usbkey", "config")) as f:
            prefix = next((l.split("=", 1)[1].strip() for l in f
                           if l.startswith("sable_prefix=")), None)
    except OSError:
        return
    if not prefix:
        return
    top = "/sys/fs/cgroup"
    for d in [top] + [os.path.join(top, h) for h in os.listdir(top)]:
        try:
            os.rmdir(os.path.join(d, prefix))
        except OSError:
            pass
