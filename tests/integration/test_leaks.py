"""The leak check itself must work, or every other test's cleanup check is empty."""
import subprocess

import conftest


def test_host_state_sees_a_namespace(root):
    before = conftest.host_state()
    subprocess.run(["ip", "netns", "add", "sable-it-leakcheck"], check=True)
    try:
        assert conftest.host_state()["netns"] - before["netns"]
    finally:
        subprocess.run(["ip", "netns", "del", "sable-it-leakcheck"], check=True)
    assert conftest.host_state()["netns"] == before["netns"]
