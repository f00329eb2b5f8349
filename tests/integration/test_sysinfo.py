"""sysinfo end to end: JSON, -p, the node config, nic tags, bad input."""
import json
import os
import subprocess

from conftest import program


def test_json_is_valid_and_smartos_shaped(root):
    p = root.run("sysinfo")
    info = json.loads(p.stdout)
    assert p.stderr == ""
    # Through python's json.tool, as an operator would.
    subprocess.run(["python3", "-m", "json.tool"], input=p.stdout, text=True, check=True,
                   capture_output=True)
    # SmartOS's types: these two are strings.
    assert isinstance(info["MiB of Memory"], str) and info["MiB of Memory"].isdigit()
    assert isinstance(info["Boot Time"], str) and info["Boot Time"].isdigit()
    assert info["System Type"] == "Linux"
    assert info["Sable Root"] == root.path
    assert isinstance(info["Network Interfaces"], dict)
    assert "lo" not in info["Network Interfaces"]
    # Sorted keys, two-space indent.
    assert p.stdout == json.dumps(info, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_uuid_is_stable(root):
    a = root.json("sysinfo")["UUID"]
    b = root.json("sysinfo")["UUID"]
    assert a == b


def test_parsable_sources_in_sh(root):
    info = root.json("sysinfo")
    text = root.run("sysinfo", "-p").stdout
    script = text + '\nprintf "%s\\n%s\\n%s\\n" "$UUID" "$MiB_of_Memory" "$Hostname"\n'
    out = subprocess.run(["sh", "-e"], input=script, text=True, capture_output=True, check=True)
    assert out.stdout.split("\n")[:3] == [info["UUID"], info["MiB of Memory"], info["Hostname"]]
    for line in text.splitlines():
        name, _, value = line.partition("=")
        assert name.replace("_", "a").isalnum() and not name[0].isdigit(), line
        assert value.startswith("'") and value.endswith("'"), line


def test_broken_config_names_the_line(root):
    root.write_config("admin_ip=dhcp\n# fine\nthis line is broken\n")
    p = root.run("sysinfo", check=False)
    assert p.returncode == 1
    assert p.stdout == ""
    assert p.stderr == (f"sysinfo: {root.path}/usbkey/config:3: expected key=value, "
                        "got 'this line is broken'\n")
    # The error is also in the program's JSON log.
    with open(root.file("var/log/sable/sysinfo.log")) as f:
        rec = json.loads(f.readlines()[-1])
    assert rec["name"] == "sysinfo" and rec["level"] == 50 and ":3:" in rec["msg"]


def test_config_values_appear(root):
    root.write_config("datacenter_name=us-west-1\nadmin_ip='192.0.2.77'\nsable_prefix=sbtest\n")
    info = root.json("sysinfo")
    assert info["Datacenter Name"] == "us-west-1"
    assert info["Admin IP"] == "192.0.2.77"
    assert info["Sable Prefix"] == "sbtest"
    assert "Admin NIC Tag" not in info


def test_usage_errors(root):
    p = root.run("sysinfo", "-x", check=False)
    assert p.returncode == 2
    assert p.stderr == "sysinfo: unknown option '-x'; expected -f, -p, -u or -h\n"
    p = root.run("sysinfo", "extra", check=False)
    assert p.returncode == 2 and p.stderr.count("\n") == 1
    p = root.run("sysinfo", "-h")
    assert p.returncode == 0 and p.stdout.startswith("Usage: sysinfo")
    p = root.run("sysinfo", "-u")
    assert p.returncode == 0 and p.stdout == ""


def test_bad_sable_root(root):
    env = dict(root.env, SABLE_ROOT="relative/path")
    p = subprocess.run([program("sysinfo")], env=env, capture_output=True, text=True)
    assert p.returncode == 1
    assert p.stderr == "sysinfo: SABLE_ROOT: expected an absolute path without '..'\n"


def test_nic_tags_name_a_veth_uplink(root, netns):
    """A veth named by MAC in the config is listed with its tags; nothing else is."""
    ns = netns("sable-it-sysinfo")
    ip = ["ip", "-n", ns]
    subprocess.run(ip + ["link", "add", "up0", "address", "02:00:5e:00:53:01", "type", "veth",
                         "peer", "name", "up0p", "address", "02:00:5e:00:53:02"], check=True)
    subprocess.run(ip + ["addr", "add", "198.51.100.7/24", "dev", "up0"], check=True)
    subprocess.run(ip + ["link", "set", "up0p", "up"], check=True)
    subprocess.run(ip + ["link", "set", "up0", "up"], check=True)
    # SmartOS writes MACs without leading zeros; tags are sorted.
    root.write_config("admin_nic=2:0:5e:0:53:1\nexternal_nic=02:00:5E:00:53:01\n")
    info = root.json("sysinfo", netns=ns)
    nics = info["Network Interfaces"]
    assert list(nics) == ["up0"], nics
    assert nics["up0"] == {
        "MAC Address": "02:00:5e:00:53:01",
        "ip4addr": "198.51.100.7",
        "Link Status": "up",
        "NIC Names": ["admin", "external"],
    }
    assert info["Admin NIC Tag"] == "admin"
    parsable = root.run("sysinfo", "-p", netns=ns).stdout
    assert "Network_Interface_up0_NIC_Names='admin,external'\n" in parsable
    assert "Network_Interface_up0_IPv4_Address='198.51.100.7'\n" in parsable
