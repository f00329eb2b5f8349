"""sysinfo: the whole node as JSON, against util-linux's lscpu -J, which
reads the same /proc and /sys sources for its (smaller) CPU report."""
from harness import compare, program


def rows():
    yield compare("sysinfo (full JSON)", program("sysinfo"), "lscpu -J", "lscpu -J")
    yield compare("sysinfo -p (shell lines)", program("sysinfo") + " -p", "lscpu -J", "lscpu -J")
