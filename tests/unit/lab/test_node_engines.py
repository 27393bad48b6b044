# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node mode's pure parts: the engine choice, the lab network's addresses and MACs, what each engine writes in a root."""

from __future__ import annotations

import ipaddress

import pytest

from tests.lab import engine as lab_engine
from tests.lab import labnet, node, node_qemu, node_uml
from tests.lab.errors import LabError


def test_engine_follows_the_variable_and_refuses_others(monkeypatch):
    monkeypatch.setenv("LVS_IPVS_LAB_ENGINE", "qemu")
    assert node.engine() == "qemu"
    monkeypatch.setenv("LVS_IPVS_LAB_ENGINE", "uml")
    monkeypatch.setattr(node_uml, "usable", lambda: "/dev/net/tun is missing (no TAP for the node)")
    assert node.engine() == "uml"  # asked for: its start then says what is missing
    monkeypatch.setenv("LVS_IPVS_LAB_ENGINE", "kvm")
    with pytest.raises(LabError, match=r"LVS_IPVS_LAB_ENGINE='kvm' is not an engine: use uml or qemu"):
        node.engine()


def test_engine_falls_back_to_qemu_when_uml_cannot_run(monkeypatch):
    monkeypatch.delenv("LVS_IPVS_LAB_ENGINE", raising=False)
    monkeypatch.setattr(lab_engine, "engine", lambda: "qemu")  # fast mode's probe is not what decides for nodes
    monkeypatch.setattr(node_uml, "usable", lambda: "/dev/net/tun is missing (no TAP for the node)")
    assert node.engine() == "qemu"
    monkeypatch.setattr(node_uml, "usable", lambda: None)
    assert node.engine() == "uml"


def test_addresses_stay_in_the_lab_slice_and_skip_taken_ones():
    net = ipaddress.ip_network(f"{labnet.NET}.128/{labnet.PREFIX_LEN}")
    assert ipaddress.ip_address(labnet.GATEWAY) in net
    first = labnet.allocate(set())
    assert first == f"{labnet.NET}.{labnet.FIRST}" and ipaddress.ip_address(first) in net
    assert labnet.allocate({first}) == f"{labnet.NET}.{labnet.FIRST + 1}"
    every = {f"{labnet.NET}.{octet}" for octet in range(labnet.FIRST, labnet.LAST + 1)}
    assert all(ipaddress.ip_address(address) in net for address in every)
    assert ipaddress.ip_address(f"{labnet.NET}.{labnet.LAST}") != net.broadcast_address
    with pytest.raises(LabError, match="no free address left on the lab bridge"):
        labnet.allocate(every)
    # The test hosts' addresses (tests/node/pair_lab.py) are in the slice, on the bridge, and never a node's.
    hosts = {f"{labnet.NET}.{octet}" for octet in labnet.TEST_HOSTS}
    assert hosts == {f"{labnet.NET}.{octet}" for octet in range(176, 191)} and not hosts & every
    assert all(ipaddress.ip_address(address) in net and ipaddress.ip_address(address) != net.broadcast_address for address in hosts)
    # Never this machine's own network, never the test hosts' ranges inside a node (VIPs from .1, the HA link at .252/30).
    assert not net.overlaps(ipaddress.ip_network("192.0.2.0/24"))
    assert not net.overlaps(ipaddress.ip_network("198.51.100.252/30")) and ipaddress.ip_address("198.51.100.1") not in net


def test_each_node_has_its_own_mac_and_tap():
    addresses = [f"{labnet.NET}.{octet}" for octet in range(labnet.FIRST, labnet.LAST + 1)]
    macs = {labnet.mac_address(address) for address in addresses}
    assert len(macs) == len(addresses)
    assert all(int(mac.split(":")[0], 16) & 0b11 == 0b10 for mac in macs)  # locally administered, unicast
    assert labnet.tap_name(addresses[0]) == f"tap{labnet.FIRST}" and all(len(labnet.tap_name(a)) <= 15 for a in addresses)


def test_each_engine_writes_its_network_and_boot_files(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc" / "systemd" / "network").mkdir(parents=True)
    (root / "usr" / "sbin").mkdir(parents=True)
    (root / "sbin").symlink_to("usr/sbin")
    kernel = node_uml.UmlKernel(tmp_path / "linux", tmp_path / "modules" / "6.1.99", "6.1.99")
    node_uml.prepare_root(root, f"{labnet.NET}.131", kernel)
    network = (root / "etc" / "systemd" / "network" / "10-lab.network").read_text()
    assert f"Address={labnet.NET}.131/{labnet.PREFIX_LEN}" in network and "DHCP" not in network and "Gateway" not in network
    init = (root / "usr" / "sbin" / "lab-uml-init").read_text()
    assert f"ro,{kernel.modules} none /usr/lib/modules/6.1.99" in init and init.rstrip().endswith('exec /sbin/init "$@"')
    assert (root / "usr" / "lib" / "modules" / "6.1.99").is_dir()
    node_qemu.prepare_root(root)
    assert "DHCP=ipv4" in (root / "etc" / "systemd" / "network" / "10-lab.network").read_text()
