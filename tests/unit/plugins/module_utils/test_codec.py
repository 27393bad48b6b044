# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The codec: kernel dicts -> netlink bytes -> kernel dicts, byte orders, attribute numbers, errors, transport.

Runs with pyroute2 0.9 (the venv) and 0.7.2 (Debian's python3-pyroute2 for /usr/bin/python3).
Kernel-format replies are built here with a tiny TLV writer of our own, independent of pyroute2,
from the layout of include/uapi/linux/ip_vs.h and net/netfilter/ipvs/ip_vs_ctl.c; every message
is also read by the reference encoding, pyroute2's (ipvs_reference), and test_codec_reference.py
compares the two codecs message by message.
"""

from __future__ import annotations

import errno
import os
import socket
import shutil
import struct
import subprocess
import sys
import uuid

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _errors as errors
from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs_client as ipvs_client
from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs_codec as codec
from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs_schema as schema
from ansible_collections.lvs.ipvs.plugins.module_utils import _netlink_socket as transport
from ansible_collections.lvs.ipvs.plugins.module_utils import _netns as netns
from ansible_collections.lvs.ipvs.plugins.module_utils import _pyroute2 as pr2
from tests.unit.plugins.module_utils import ipvs_reference as ref

FAMILY_ID = 0x2A  # any id: the codec takes the one the kernel gives

# ---------------------------------------------------------------------------------------------
# An independent netlink writer / reader (plain struct), to check bytes without trusting pyroute2


def tlv(kind: int, payload: bytes) -> bytes:
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def u8(kind: int, value: int) -> bytes:
    return tlv(kind, struct.pack("=B", value))


def u16(kind: int, value: int) -> bytes:
    return tlv(kind, struct.pack("=H", value))


def be16(kind: int, value: int) -> bytes:
    return tlv(kind, struct.pack(">H", value))


def u32(kind: int, value: int) -> bytes:
    return tlv(kind, struct.pack("=I", value))


def u64(kind: int, value: int) -> bytes:
    return tlv(kind, struct.pack("=Q", value))


def string(kind: int, value: str) -> bytes:
    return tlv(kind, value.encode() + b"\0")


def genl(cmd: int, attrs: bytes, seq: int = 1, mtype: int = FAMILY_ID, flags: int = 0) -> bytes:
    body = struct.pack("=BBH", cmd, 1, 0) + attrs
    return struct.pack("=IHHII", 16 + len(body), mtype, flags, seq, 0) + body


def parse_tlvs(data: bytes) -> dict[int, bytes]:
    """{attribute type: payload} of one level (the first occurrence of each type)."""
    found: dict[int, bytes] = {}
    offset = 0
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        found.setdefault(kind & 0x3FFF, data[offset + 4:offset + length])
        offset += (length + 3) & ~3
    return found


def request_attrs(data: bytes) -> tuple[dict, int, dict[int, bytes]]:
    """(netlink header, genl cmd, top-level attributes) of one encoded request."""
    length, mtype, flags, seq, pid = struct.unpack_from("=IHHII", data)
    assert length == len(data)
    cmd, version, reserved = struct.unpack_from("=BBH", data, 16)
    assert (version, reserved) == (1, 0)
    return {"type": mtype, "flags": flags, "seq": seq, "pid": pid}, cmd, parse_tlvs(data[20:])


def roundtrip_message(request: codec.IpvsRequest, seq: int = 7):
    """Our request as pyroute2 reads it."""
    data = request.encode(FAMILY_ID, seq)
    (raw,) = transport.split_messages(data)
    return ref.decode(raw.data)


def read_service(data: bytes, stats: bool = True) -> dict:
    """A service message read by our codec, which must read it as the reference does."""
    ours = codec.service_from_message(data, stats)
    assert ours == ref.service_from_message(ref.decode(data), stats)
    return ours


def read_dest(data: bytes, service_af: int = 2) -> dict:
    ours = codec.dest_from_message(data, service_af)
    assert ours == ref.dest_from_message(ref.decode(data), service_af)
    return ours


# ---------------------------------------------------------------------------------------------
# The numbers, checked one by one against include/uapi/linux/ip_vs.h (copied here by hand)

UAPI = {
    "IpvsMessage": {
        1: "IPVS_CMD_ATTR_SERVICE", 2: "IPVS_CMD_ATTR_DEST", 3: "IPVS_CMD_ATTR_DAEMON",
        4: "IPVS_CMD_ATTR_TIMEOUT_TCP", 5: "IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", 6: "IPVS_CMD_ATTR_TIMEOUT_UDP",
    },
    "IpvsService": {
        1: "IPVS_SVC_ATTR_AF", 2: "IPVS_SVC_ATTR_PROTOCOL", 3: "IPVS_SVC_ATTR_ADDR", 4: "IPVS_SVC_ATTR_PORT",
        5: "IPVS_SVC_ATTR_FWMARK", 6: "IPVS_SVC_ATTR_SCHED_NAME", 7: "IPVS_SVC_ATTR_FLAGS", 8: "IPVS_SVC_ATTR_TIMEOUT",
        9: "IPVS_SVC_ATTR_NETMASK", 10: "IPVS_SVC_ATTR_STATS", 11: "IPVS_SVC_ATTR_PE_NAME", 12: "IPVS_SVC_ATTR_STATS64",
    },
    "IpvsDest": {
        1: "IPVS_DEST_ATTR_ADDR", 2: "IPVS_DEST_ATTR_PORT", 3: "IPVS_DEST_ATTR_FWD_METHOD", 4: "IPVS_DEST_ATTR_WEIGHT",
        5: "IPVS_DEST_ATTR_U_THRESH", 6: "IPVS_DEST_ATTR_L_THRESH", 7: "IPVS_DEST_ATTR_ACTIVE_CONNS",
        8: "IPVS_DEST_ATTR_INACT_CONNS", 9: "IPVS_DEST_ATTR_PERSIST_CONNS", 10: "IPVS_DEST_ATTR_STATS",
        11: "IPVS_DEST_ATTR_ADDR_FAMILY", 12: "IPVS_DEST_ATTR_STATS64", 13: "IPVS_DEST_ATTR_TUN_TYPE",
        14: "IPVS_DEST_ATTR_TUN_PORT", 15: "IPVS_DEST_ATTR_TUN_FLAGS",
    },
    "IpvsDaemon": {
        1: "IPVS_DAEMON_ATTR_STATE", 2: "IPVS_DAEMON_ATTR_MCAST_IFN", 3: "IPVS_DAEMON_ATTR_SYNC_ID",
        4: "IPVS_DAEMON_ATTR_SYNC_MAXLEN", 5: "IPVS_DAEMON_ATTR_MCAST_GROUP", 6: "IPVS_DAEMON_ATTR_MCAST_GROUP6",
        7: "IPVS_DAEMON_ATTR_MCAST_PORT", 8: "IPVS_DAEMON_ATTR_MCAST_TTL",
    },
    "IpvsStats": {
        1: "IPVS_STATS_ATTR_CONNS", 2: "IPVS_STATS_ATTR_INPKTS", 3: "IPVS_STATS_ATTR_OUTPKTS", 4: "IPVS_STATS_ATTR_INBYTES",
        5: "IPVS_STATS_ATTR_OUTBYTES", 6: "IPVS_STATS_ATTR_CPS", 7: "IPVS_STATS_ATTR_INPPS", 8: "IPVS_STATS_ATTR_OUTPPS",
        9: "IPVS_STATS_ATTR_INBPS", 10: "IPVS_STATS_ATTR_OUTBPS", 11: "IPVS_STATS_ATTR_PAD",
    },
    "IpvsInfoMessage": {1: "IPVS_INFO_ATTR_VERSION", 2: "IPVS_INFO_ATTR_CONN_TAB_SIZE"},
}
UAPI["IpvsStats64"] = UAPI["IpvsStats"]

UAPI_COMMANDS = {
    "NEW_SERVICE": 1, "SET_SERVICE": 2, "DEL_SERVICE": 3, "GET_SERVICE": 4, "NEW_DEST": 5, "SET_DEST": 6,
    "DEL_DEST": 7, "GET_DEST": 8, "NEW_DAEMON": 9, "DEL_DAEMON": 10, "GET_DAEMON": 11, "SET_CONFIG": 12,
    "GET_CONFIG": 13, "SET_INFO": 14, "GET_INFO": 15, "ZERO": 16, "FLUSH": 17,
}


@pytest.mark.parametrize("class_name", sorted(UAPI))
def test_attribute_numbers_are_those_of_the_uapi_header(class_name):
    numbered = {number: name for number, name, _kind in getattr(ref, class_name).nla_map if number}
    assert numbered == UAPI[class_name]
    assert {number: name for number, name in UAPI[class_name].items() if getattr(schema, name) == number} == UAPI[class_name]


def test_command_numbers_are_those_of_the_uapi_header():
    assert {name: getattr(schema, f"IPVS_CMD_{name}") for name in UAPI_COMMANDS} == UAPI_COMMANDS
    assert {name: number for number, name in schema.COMMAND_NAMES.items()} == UAPI_COMMANDS


def test_flag_and_state_numbers():
    assert (schema.IP_VS_SVC_F_PERSISTENT, schema.IP_VS_SVC_F_HASHED, schema.IP_VS_SVC_F_ONEPACKET) == (1, 2, 4)
    assert (schema.IP_VS_SVC_F_SCHED1, schema.IP_VS_SVC_F_SCHED2, schema.IP_VS_SVC_F_SCHED3) == (8, 16, 32)
    assert (schema.IP_VS_STATE_MASTER, schema.IP_VS_STATE_BACKUP) == (1, 2)


def test_pyroute2_is_importable_here():
    assert pr2.PYROUTE2_IMPORT_ERROR is None and pr2.PYROUTE2_IMPORT_ERROR_TRACEBACK is None


def test_without_pyroute2_the_codec_imports_and_says_so():
    code = (
        "import sys\n"
        "sys.modules['pyroute2'] = sys.modules['pr2modules'] = None\n"
        "from ansible_collections.lvs.ipvs.plugins.module_utils import _errors, _ipvs_client, _pyroute2\n"
        "assert isinstance(_pyroute2.PYROUTE2_IMPORT_ERROR, ImportError), _pyroute2.PYROUTE2_IMPORT_ERROR\n"
        "assert 'Traceback' in _pyroute2.PYROUTE2_IMPORT_ERROR_TRACEBACK and 'pyroute2' in _pyroute2.PYROUTE2_IMPORT_ERROR_TRACEBACK\n"
        "try:\n"
        "    _ipvs_client.IpvsClient()\n"
        "except _errors.IpvsError as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("lvs.ipvs needs pyroute2 0.5.0 or newer on the managed node"), proc.stdout
    assert "python3-pyroute2" in proc.stdout and "pip install 'pyroute2>=0.5.0'" in proc.stdout


def test_only_pyroute2_submodules_are_imported():
    folder = os.path.dirname(codec.__file__)
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), encoding="utf-8") as source:
            text = source.read()
        assert "import pyroute2\n" not in text and "from pyroute2 import" not in text and "pyroute2.ipvs" not in text, name


# ---------------------------------------------------------------------------------------------
# Services


def svc(**changes):
    base = {"af": 2, "protocol": 6, "addr": "198.51.100.1", "port": 80, "fwmark": 0, "sched_name": "wlc",
            "flags": 0, "timeout": 0, "netmask": 0xFFFFFFFF, "pe_name": None}
    base.update(changes)
    return base


SERVICES = {
    "tcp-v4": svc(),
    "udp-v4-ops": svc(protocol=17, port=53, flags=schema.IP_VS_SVC_F_ONEPACKET, sched_name="rr"),
    "sctp-v4": svc(protocol=132, port=3868, sched_name="lc"),
    "tcp-v6": svc(af=10, addr="2001:db8::1", port=443, netmask=128),
    "udp-v6-high-port": svc(af=10, protocol=17, addr="2001:db8:ffff::abcd", port=65535, netmask=128, sched_name="sed"),
    "fwmark-v4": svc(protocol=0, addr=None, port=0, fwmark=1, sched_name="rr"),
    "fwmark-v6": svc(af=10, protocol=0, addr=None, port=0, fwmark=0xFFFFFFFF, netmask=128),
    "persistent-v4-netmask": svc(flags=schema.IP_VS_SVC_F_PERSISTENT, timeout=3600, netmask=0xFFFFFF00),
    "persistent-v6-prefix": svc(af=10, addr="2001:db8::80", flags=schema.IP_VS_SVC_F_PERSISTENT, timeout=360, netmask=64),
    "persistent-fwmark-v6-prefix": svc(af=10, protocol=0, addr=None, port=0, fwmark=7, flags=1, timeout=60, netmask=48),
    "pcc-port-0": svc(port=0, flags=schema.IP_VS_SVC_F_PERSISTENT, timeout=2678400),
    "sip-pe": svc(protocol=17, port=5060, flags=schema.IP_VS_SVC_F_PERSISTENT, timeout=30, pe_name="sip"),
    "sh-fallback-port": svc(sched_name="sh", flags=schema.IP_VS_SVC_F_SCHED1 | schema.IP_VS_SVC_F_SCHED2),
    "mh-flag3": svc(sched_name="mh", flags=schema.IP_VS_SVC_F_SCHED3),
    "all-flag-bits": svc(protocol=17, sched_name="mh", flags=0x1 | 0x4 | 0x8 | 0x10 | 0x20, timeout=5, netmask=0xFFFF0000),
    "twos": svc(sched_name="twos"),
}


@pytest.mark.parametrize("make", [codec.add_service_request, codec.edit_service_request], ids=["add", "edit"])
@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_round_trip(make, name):
    service = SERVICES[name]
    msg = roundtrip_message(make(service))
    assert msg["cmd"] == (schema.IPVS_CMD_NEW_SERVICE if make is codec.add_service_request else schema.IPVS_CMD_SET_SERVICE)
    assert ref.service_from_message(msg) == service
    assert read_service(make(service).encode(FAMILY_ID, 7)) == service


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_full_entry_carries_every_attribute_the_kernel_requires(name):
    service = SERVICES[name]
    header, cmd, top = request_attrs(codec.edit_service_request(service).encode(FAMILY_ID, 3))
    assert header == {"type": FAMILY_ID, "flags": 0x1 | 0x4, "seq": 3, "pid": 0}  # NLM_F_REQUEST | NLM_F_ACK
    assert cmd == 2
    inner = parse_tlvs(top[1])
    required = {1, 6, 7, 8, 9} | ({5} if service["fwmark"] else {2, 3, 4})
    assert required <= set(inner)
    assert (11 in inner) == bool(service["pe_name"])
    if service["fwmark"]:
        assert not {2, 3, 4} & set(inner)


@pytest.mark.parametrize("name", ["tcp-v4", "tcp-v6", "fwmark-v4", "fwmark-v6"])
def test_service_delete_sends_only_the_key(name):
    service = SERVICES[name]
    _header, cmd, top = request_attrs(codec.delete_service_request(service).encode(FAMILY_ID, 1))
    assert cmd == 3
    keys = {1, 5} if service["fwmark"] else {1, 2, 3, 4}
    assert set(parse_tlvs(top[1])) == keys


def test_service_port_is_big_endian():
    _header, _cmd, top = request_attrs(codec.add_service_request(svc(port=0x1234)).encode(FAMILY_ID, 1))
    assert parse_tlvs(top[1])[4] == b"\x12\x34"
    _header, _cmd, top = request_attrs(codec.add_service_request(svc(port=80)).encode(FAMILY_ID, 1))
    assert parse_tlvs(top[1])[4] == b"\x00\x50"


def test_service_ipv4_netmask_is_network_byte_order():
    _header, _cmd, top = request_attrs(codec.add_service_request(svc(netmask=0xFFFFFF00, flags=1, timeout=60)).encode(FAMILY_ID, 1))
    assert parse_tlvs(top[1])[9] == bytes([0xFF, 0xFF, 0xFF, 0x00])


def test_service_ipv6_netmask_is_a_native_prefix_length():
    _header, _cmd, top = request_attrs(codec.add_service_request(svc(af=10, addr="2001:db8::1", netmask=64)).encode(FAMILY_ID, 1))
    assert parse_tlvs(top[1])[9] == struct.pack("=I", 64)


def test_service_address_is_16_bytes_with_ipv4_first():
    _header, _cmd, top = request_attrs(codec.add_service_request(svc()).encode(FAMILY_ID, 1))
    inner = parse_tlvs(top[1])
    assert inner[3] == bytes([198, 51, 100, 1]) + bytes(12)
    assert inner[1] == struct.pack("=H", 2) and inner[2] == struct.pack("=H", 6)
    _header, _cmd, top = request_attrs(codec.add_service_request(svc(af=10, addr="2001:db8::1")).encode(FAMILY_ID, 1))
    assert parse_tlvs(top[1])[3] == socket.inet_pton(socket.AF_INET6, "2001:db8::1")


def test_service_scheduler_and_pe_are_nul_terminated():
    _header, _cmd, top = request_attrs(codec.add_service_request(svc(sched_name="wrr", pe_name="sip")).encode(FAMILY_ID, 1))
    inner = parse_tlvs(top[1])
    assert inner[6] == b"wrr\0" and inner[11] == b"sip\0"


def test_hashed_is_never_sent_and_masked_out():
    _header, _cmd, top = request_attrs(codec.add_service_request(svc(flags=0x3F)).encode(FAMILY_ID, 1))
    flags, mask = struct.unpack("=II", parse_tlvs(top[1])[7])
    assert flags == 0x3F & ~0x2
    assert mask == 0xFFFFFFFF & ~0x2


def test_request_can_be_encoded_again():
    request = codec.add_dest_request(svc(), {"addr": "192.0.2.11", "port": 80, "fwd_method": 3, "weight": 1})
    assert request.encode(FAMILY_ID, 5) == request.encode(FAMILY_ID, 5)
    assert request.encode(FAMILY_ID, 5) != request.encode(FAMILY_ID, 6)


# ---------------------------------------------------------------------------------------------
# Real servers


def dest(**changes):
    base = {"addr": "192.0.2.11", "port": 80, "af": 2, "fwd_method": 3, "weight": 1, "u_thresh": 0, "l_thresh": 0,
            "tun_type": 0, "tun_port": 0, "tun_flags": 0}
    base.update(changes)
    return base


DESTS = {
    "dr-v4": (svc(), dest()),
    "masq-v4-thresholds": (svc(), dest(port=8080, fwd_method=0, weight=100, u_thresh=5000, l_thresh=4000)),
    "local": (svc(), dest(addr="127.0.0.1", fwd_method=1)),
    "weight-0-quiesced": (svc(), dest(weight=0)),
    "big-weight": (svc(), dest(weight=0x7FFFFFFF)),
    "dr-v6": (svc(af=10, addr="2001:db8::1", netmask=128), dest(addr="2001:db8::11", af=10)),
    "ipip": (svc(), dest(fwd_method=2)),
    "gue-csum": (svc(), dest(fwd_method=2, tun_type=1, tun_port=6080, tun_flags=1)),
    "gue-remcsum-high-port": (svc(), dest(fwd_method=2, tun_type=1, tun_port=0xFEDC, tun_flags=2)),
    "gre": (svc(), dest(fwd_method=2, tun_type=2)),
    "v6-dest-of-v4-fwmark-tunnel": (svc(protocol=0, addr=None, port=0, fwmark=3), dest(addr="2001:db8::12", af=10, port=0, fwd_method=2)),
    "v4-dest-of-v6-service-tunnel": (svc(af=10, addr="2001:db8::1", netmask=128), dest(fwd_method=2, tun_type=2)),
}


@pytest.mark.parametrize("make", [codec.add_dest_request, codec.edit_dest_request], ids=["add", "edit"])
@pytest.mark.parametrize("name", sorted(DESTS))
def test_dest_round_trip(make, name):
    service, real_server = DESTS[name]
    msg = roundtrip_message(make(service, real_server))
    assert msg["cmd"] == (schema.IPVS_CMD_NEW_DEST if make is codec.add_dest_request else schema.IPVS_CMD_SET_DEST)
    assert ref.dest_from_message(msg, service["af"]) == real_server
    assert read_dest(make(service, real_server).encode(FAMILY_ID, 7), service["af"]) == real_server
    key = {k: v for k, v in ref.service_from_message(msg).items() if k in ("af", "protocol", "addr", "port", "fwmark")}
    assert key == {k: service[k] for k in key}


@pytest.mark.parametrize("name", sorted(DESTS))
def test_dest_ops_send_the_address_family(name):
    service, real_server = DESTS[name]
    for make in (codec.add_dest_request, codec.edit_dest_request, codec.delete_dest_request):
        _header, _cmd, top = request_attrs(make(service, real_server).encode(FAMILY_ID, 1))
        assert parse_tlvs(top[2])[11] == struct.pack("=H", real_server["af"])


def test_dest_delete_sends_the_service_key_and_the_dest_key():
    _header, cmd, top = request_attrs(codec.delete_dest_request(svc(), dest(fwd_method=0, weight=5)).encode(FAMILY_ID, 1))
    assert cmd == 7
    assert set(parse_tlvs(top[1])) == {1, 2, 3, 4}
    assert set(parse_tlvs(top[2])) == {1, 2, 11}


def test_dest_full_entry_carries_every_attribute_the_kernel_requires():
    _header, cmd, top = request_attrs(codec.add_dest_request(svc(), dest()).encode(FAMILY_ID, 1))
    assert cmd == 5
    assert {1, 2, 3, 4, 5, 6, 11} <= set(parse_tlvs(top[2]))


def test_dest_ports_are_big_endian():
    request = codec.add_dest_request(svc(), dest(port=0x1F90, fwd_method=2, tun_type=1, tun_port=6080, tun_flags=1))
    _header, _cmd, top = request_attrs(request.encode(FAMILY_ID, 1))
    inner = parse_tlvs(top[2])
    assert inner[2] == b"\x1f\x90"
    assert inner[14] == b"\x17\xc0"  # 6080 = 0x17c0, most significant byte first
    assert inner[13] == b"\x01"  # TUN_TYPE u8
    assert inner[15] == struct.pack("=H", 1)  # TUN_FLAGS u16, host order
    assert inner[1] == bytes([192, 0, 2, 11]) + bytes(12)


def test_dest_without_tunnel_keys_sends_no_tunnel_attributes():
    real_server = {"addr": "192.0.2.11", "port": 80, "fwd_method": 3, "weight": 1}
    _header, _cmd, top = request_attrs(codec.add_dest_request(svc(), real_server).encode(FAMILY_ID, 1))
    inner = parse_tlvs(top[2])
    assert not {13, 14, 15} & set(inner)
    assert inner[11] == struct.pack("=H", 2)  # the family is inferred from the address when absent


# ---------------------------------------------------------------------------------------------
# Kernel replies, built byte by byte as ip_vs_genl_fill_service / _fill_dest do


def stats_nest(kind: int, values: dict, wide: bool) -> bytes:
    body = b""
    for number, key in enumerate(schema.STATS_KEYS, start=1):
        if wide or key in ("inbytes", "outbytes"):
            body += u32(11, 0) + u64(number, values[key])  # IPVS_STATS_ATTR_PAD before u64, as nla_put_u64_64bit may do
        else:
            body += u32(number, values[key])
    return tlv(kind, body)


STATS32 = {"conns": 1, "inpkts": 2, "outpkts": 3, "inbytes": 4, "outbytes": 5, "cps": 6, "inpps": 7, "outpps": 8, "inbps": 9, "outbps": 10}
STATS64 = {key: value + (1 << 40) for key, value in STATS32.items()}


def kernel_service_reply(fwmark: int = 0, stats64: bool = True) -> bytes:
    attrs = u16(1, 2)
    if fwmark:
        attrs += u32(5, fwmark)
    else:
        attrs += u16(2, 6) + tlv(3, bytes([198, 51, 100, 1]) + bytes(12)) + be16(4, 8080)
    attrs += string(6, "wlc") + string(11, "sip") + tlv(7, struct.pack("=II", 0x1 | 0x2, 0xFFFFFFFF)) + u32(8, 360)
    attrs += tlv(9, bytes([0xFF, 0xFF, 0xFF, 0x00])) + stats_nest(10, STATS32, wide=False)
    if stats64:
        attrs += stats_nest(12, STATS64, wide=True)
    return genl(schema.IPVS_CMD_NEW_SERVICE, tlv(1, attrs), flags=0x2)


def test_decode_kernel_service_reply():
    data = kernel_service_reply()
    assert read_service(data) == {
        "af": 2, "protocol": 6, "addr": "198.51.100.1", "port": 8080, "fwmark": 0, "sched_name": "wlc",
        "flags": 0x3, "timeout": 360, "netmask": 0xFFFFFF00, "pe_name": "sip", "stats": STATS64,
    }


def test_decode_kernel_service_reply_keeps_hashed_and_falls_back_to_32_bit_stats():
    data = kernel_service_reply(fwmark=9, stats64=False)
    decoded = read_service(data)
    assert decoded["flags"] & schema.IP_VS_SVC_F_HASHED
    assert (decoded["protocol"], decoded["addr"], decoded["port"], decoded["fwmark"]) == (0, None, 0, 9)
    assert decoded["stats"] == STATS32


def test_decode_without_stats_when_asked():
    data = kernel_service_reply()
    assert "stats" not in read_service(data, stats=False)


def test_decode_kernel_ipv6_service_reply_prefix_length():
    attrs = u16(1, 10) + u16(2, 17) + tlv(3, socket.inet_pton(socket.AF_INET6, "2001:db8::53")) + be16(4, 53)
    attrs += string(6, "rr") + tlv(7, struct.pack("=II", 0x2, 0xFFFFFFFF)) + u32(8, 0) + u32(9, 128)
    data = genl(schema.IPVS_CMD_NEW_SERVICE, tlv(1, attrs))
    decoded = read_service(data)
    assert (decoded["addr"], decoded["port"], decoded["netmask"], decoded["pe_name"]) == ("2001:db8::53", 53, 128, None)


def kernel_dest_reply(af_attr: bool = True) -> bytes:
    attrs = tlv(1, socket.inet_pton(socket.AF_INET6, "2001:db8::11")) + be16(2, 80) + u32(3, 2) + u32(4, 7)
    attrs += u8(13, 1) + be16(14, 6080) + u16(15, 1) + u32(5, 100) + u32(6, 50) + u32(7, 11) + u32(8, 12) + u32(9, 13)
    if af_attr:
        attrs += u16(11, 10)
    attrs += stats_nest(10, STATS32, wide=False) + stats_nest(12, STATS64, wide=True)
    return genl(schema.IPVS_CMD_NEW_DEST, tlv(2, attrs), flags=0x2)


def test_decode_kernel_dest_reply():
    data = kernel_dest_reply()
    assert read_dest(data, service_af=2) == {
        "addr": "2001:db8::11", "port": 80, "af": 10, "fwd_method": 2, "weight": 7, "u_thresh": 100, "l_thresh": 50,
        "tun_type": 1, "tun_port": 6080, "tun_flags": 1, "active_conns": 11, "inact_conns": 12, "persist_conns": 13,
        "stats": STATS64,
    }


def test_decode_dest_without_address_family_uses_the_service_family():
    data = kernel_dest_reply(af_attr=False)
    assert read_dest(data, service_af=10)["addr"] == "2001:db8::11"


def test_decode_dest_reply_tun_port_byte_order():
    attrs = tlv(1, bytes([192, 0, 2, 1]) + bytes(12)) + be16(2, 1) + u32(3, 2) + u32(4, 1) + u8(13, 1) + be16(14, 0x1234) + u16(11, 2)
    data = genl(schema.IPVS_CMD_NEW_DEST, tlv(2, attrs))
    assert read_dest(data)["tun_port"] == 0x1234


def test_unknown_attributes_of_newer_kernels_are_ignored():
    attrs = u16(1, 2) + u32(5, 4) + string(6, "rr") + tlv(7, struct.pack("=II", 2, 0xFFFFFFFF)) + u32(8, 0) + u32(9, 0xFFFFFFFF)
    attrs += tlv(13, b"future attribute")
    data = genl(schema.IPVS_CMD_NEW_SERVICE, tlv(1, attrs) + tlv(99, b"x"))
    assert read_service(data)["fwmark"] == 4


# ---------------------------------------------------------------------------------------------
# Config, info, daemons


@pytest.mark.parametrize("values", [(900, 120, 300), (1, 2, 3), (0x7FFFFFFF, 0, 4294967295)])
def test_timeouts_round_trip(values):
    msg = roundtrip_message(codec.set_timeouts_request(*values))
    assert msg["cmd"] == schema.IPVS_CMD_SET_CONFIG
    assert ref.timeouts_from_message(msg) == dict(zip(("tcp", "tcpfin", "udp"), values))
    assert codec.timeouts_from_message(codec.set_timeouts_request(*values).encode(FAMILY_ID, 7)) == dict(zip(("tcp", "tcpfin", "udp"), values))


def test_timeouts_none_is_not_sent():
    _header, cmd, top = request_attrs(codec.set_timeouts_request(100, None, None).encode(FAMILY_ID, 1))
    assert cmd == 12
    assert top == {4: struct.pack("=I", 100)}


def test_decode_kernel_config_reply():
    data = genl(schema.IPVS_CMD_SET_CONFIG, u32(4, 900) + u32(5, 120) + u32(6, 300))
    assert codec.timeouts_from_message(data) == {"tcp": 900, "tcpfin": 120, "udp": 300}
    assert ref.timeouts_from_message(ref.decode(data)) == {"tcp": 900, "tcpfin": 120, "udp": 300}


def test_decode_kernel_info_reply_with_its_own_class():
    data = genl(schema.IPVS_CMD_SET_INFO, u32(1, 0x010201) + u32(2, 4096))
    assert codec.info_from_message(data) == {"version": "1.2.1", "conn_tab_size": 4096}
    assert ref.info_from_message(ref.decode(data, ref.IpvsInfoMessage)) == {"version": "1.2.1", "conn_tab_size": 4096}
    # Why a separate class: with the command attributes, attribute 1 would be read as a service.
    assert ref.decode(data).get_attr("IPVS_CMD_ATTR_SERVICE") is not None


DAEMONS = [
    {"state": "master", "mcast_ifn": "eth0", "sync_id": 5, "sync_maxlen": 1472, "mcast_group": "224.0.0.81", "mcast_port": 8848, "mcast_ttl": 1},
    {"state": "backup", "mcast_ifn": "bond0.100", "sync_id": 0xFFFFFFFF, "sync_maxlen": 1400, "mcast_group": "ff02::1:81", "mcast_port": 9000,
     "mcast_ttl": 255},
]


@pytest.mark.parametrize("daemon", DAEMONS, ids=["master-v4", "backup-v6"])
def test_daemon_round_trip(daemon):
    msg = roundtrip_message(codec.add_daemon_request(daemon))
    assert msg["cmd"] == schema.IPVS_CMD_NEW_DAEMON
    assert ref.daemon_from_message(msg) == daemon
    assert codec.daemon_from_message(codec.add_daemon_request(daemon).encode(FAMILY_ID, 7)) == daemon


def test_daemon_byte_layout():
    _header, _cmd, top = request_attrs(codec.add_daemon_request(DAEMONS[0]).encode(FAMILY_ID, 1))
    inner = parse_tlvs(top[3])
    assert inner[1] == struct.pack("=I", 1) and inner[2] == b"eth0\0" and inner[3] == struct.pack("=I", 5)
    assert inner[4] == struct.pack("=H", 1472) and inner[5] == bytes([224, 0, 0, 81])
    assert inner[7] == struct.pack("=H", 8848) and inner[8] == b"\x01"  # MCAST_PORT is host order (nla_get_u16)


def test_daemon_delete_and_kernel_reply_of_an_old_kernel():
    _header, cmd, top = request_attrs(codec.delete_daemon_request("backup").encode(FAMILY_ID, 1))
    assert cmd == schema.IPVS_CMD_DEL_DAEMON and parse_tlvs(top[3]) == {1: struct.pack("=I", 2)}
    data = genl(schema.IPVS_CMD_NEW_DAEMON, tlv(3, u32(1, 1) + string(2, "eth1") + u32(3, 9)))
    assert ref.daemon_from_message(ref.decode(data)) == codec.daemon_from_message(data) == {
        "state": "master", "mcast_ifn": "eth1", "sync_id": 9, "sync_maxlen": 0, "mcast_group": None, "mcast_port": 0, "mcast_ttl": 0,
    }


def test_zero_and_flush_requests():
    assert request_attrs(codec.flush_request().encode(FAMILY_ID, 1))[1:] == (17, {})
    assert request_attrs(codec.zero_request().encode(FAMILY_ID, 1))[1:] == (16, {})
    _header, cmd, top = request_attrs(codec.zero_request(svc()).encode(FAMILY_ID, 1))
    assert cmd == 16 and set(parse_tlvs(top[1])) == {1, 2, 3, 4}


# ---------------------------------------------------------------------------------------------
# Invalid input is refused before anything is sent


@pytest.mark.parametrize("bad, match", [
    (svc(addr="198.51.100.300"), "not an IPv4 address"),
    (svc(af=10), "not an IPv6 address"),
    (svc(af=7), "af must be"),
    (svc(port=65536), "port must be an integer from 0 to 65535"),
    (svc(timeout=-1), "timeout"),
    (svc(netmask=None), "no 'netmask'"),
    (svc(sched_name=None), "no 'sched_name'"),
    (svc(addr=None), "no 'addr'"),
])
def test_invalid_service(bad, match):
    with pytest.raises(ValueError, match=match):
        codec.add_service_request(bad)


def test_invalid_dest_and_daemon():
    with pytest.raises(ValueError, match="weight"):
        codec.add_dest_request(svc(), dest(weight=-1))
    with pytest.raises(ValueError, match="tun_port"):
        codec.add_dest_request(svc(), dest(tun_port=70000))
    with pytest.raises(ValueError, match="no 'fwd_method'"):
        codec.edit_dest_request(svc(), {"addr": "192.0.2.1", "port": 80, "weight": 1})
    with pytest.raises(ValueError, match="'master' or 'backup'"):
        codec.delete_daemon_request("primary")


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("code, cmd, cls, text", [
    (errno.EPERM, schema.IPVS_CMD_NEW_SERVICE, errors.IpvsPermissionError, "needs root / CAP_NET_ADMIN"),
    (errno.EACCES, schema.IPVS_CMD_GET_SERVICE, errors.IpvsPermissionError, "needs root / CAP_NET_ADMIN"),
    (errno.EEXIST, schema.IPVS_CMD_NEW_SERVICE, errors.IpvsKernelError, "the virtual service already exists"),
    (errno.EEXIST, schema.IPVS_CMD_NEW_DEST, errors.IpvsKernelError, "the real server already exists"),
    (errno.ESRCH, schema.IPVS_CMD_SET_SERVICE, errors.IpvsKernelError, "the virtual service does not exist"),
    (errno.ENOENT, schema.IPVS_CMD_NEW_SERVICE, errors.IpvsKernelError, "scheduler or persistence engine module not available"),
    (errno.ENOENT, schema.IPVS_CMD_DEL_DEST, errors.IpvsKernelError, "the real server does not exist"),
    (errno.EINVAL, schema.IPVS_CMD_NEW_SERVICE, errors.IpvsKernelError, "invalid argument"),
    (errno.ERANGE, schema.IPVS_CMD_NEW_DEST, errors.IpvsKernelError, "weight must be >= 0"),
    (errno.EBUSY, schema.IPVS_CMD_FLUSH, errors.IpvsKernelError, os.strerror(errno.EBUSY)),
])
def test_kernel_errors_are_named_sentences(code, cmd, cls, text):
    request = codec.IpvsRequest(cmd, b"", "do something")
    exc = ipvs_client.kernel_error(code, request)
    assert type(exc) is cls  # pylint: disable=unidiomatic-typecheck
    assert isinstance(exc, errors.IpvsKernelError) and isinstance(exc, errors.IpvsError)
    assert exc.errno == code and exc.request is request
    assert str(exc).startswith("do something: ") and text in str(exc)
    assert f"({errno.errorcode[code]})" in str(exc)


def test_kernel_error_keeps_the_kernel_text():
    exc = ipvs_client.kernel_error(errno.EINVAL, codec.add_service_request(svc()), "Unknown attribute type")
    assert str(exc) == "add service TCP 198.51.100.1:80: invalid argument: the kernel rejected a value or a combination of values (EINVAL); " \
                       "the kernel says: Unknown attribute type"


def nlmsg_error(code: int, seq: int, text: str | None = None) -> bytes:
    inner = struct.pack("=IHHII", 36, FAMILY_ID, 5, seq, 0)
    body = struct.pack("=i", -code) + inner
    flags = 0x100  # NLM_F_CAPPED
    if text:
        body += string(1, text)
        flags |= 0x200  # NLM_F_ACK_TLVS
    return struct.pack("=IHHII", 16 + len(body), 2, flags, seq, 0) + body


def test_error_of_reads_the_code_and_the_extended_ack_text():
    (ack,) = transport.split_messages(nlmsg_error(0, 4))
    assert transport.error_of(ack) == (0, None)
    (err,) = transport.split_messages(nlmsg_error(errno.EEXIST, 5, "already there"))
    assert transport.error_of(err) == (errno.EEXIST, "already there")


def test_split_messages_aligns_and_rejects_garbage():
    data = genl(1, string(6, "a"), seq=1) + genl(2, b"", seq=2)
    assert [raw.seq for raw in transport.split_messages(data)] == [1, 2]
    with pytest.raises(errors.IpvsError, match="malformed"):
        transport.split_messages(struct.pack("=IHHII", 99, 2, 0, 0, 0))


# ---------------------------------------------------------------------------------------------
# The transport, with scripted datagrams: every part of a dump, acks matched by sequence number


class ScriptedChannel(transport.GenlChannel):
    """A GenlChannel whose kernel is a script: answer(sent_bytes) -> datagrams."""

    def __init__(self, answer):  # pylint: disable=super-init-not-called
        self.answer = answer
        self.queue: list[bytes] = []
        self.sent: list[bytes] = []
        self._seq = 100

    def send(self, data: bytes) -> None:
        self.sent.append(data)
        self.queue.extend(self.answer(data))

    def receive(self):
        return transport.split_messages(self.queue.pop(0))

    def close(self) -> None:
        pass


def test_dump_reads_every_part_up_to_done():
    def kernel(data):
        seq = struct.unpack_from("=I", data, 8)[0]
        part = [genl(1, tlv(1, u16(1, 2) + u32(5, n)), seq=seq, flags=0x2) for n in range(3)]
        done = struct.pack("=IHHIIi", 20, 3, 0x2, seq, 0, 0)
        stale_ack = nlmsg_error(0, seq - 1)
        return [b"".join(part), stale_ack + part[0], b"".join(part[1:]), done]

    channel = ScriptedChannel(kernel)
    seq = channel.next_seq()
    raws = channel.exchange(codec.flush_request().encode(FAMILY_ID, seq), seq, dump=True)
    assert len(raws) == 6
    assert [read_service(raw.data)["fwmark"] for raw in raws] == [0, 1, 2, 0, 1, 2]


def test_dump_error_raises():
    channel = ScriptedChannel(lambda data: [nlmsg_error(errno.EPERM, struct.unpack_from("=I", data, 8)[0])])
    seq = channel.next_seq()
    with pytest.raises(pr2.NetlinkError) as info:
        channel.exchange(codec.flush_request().encode(FAMILY_ID, seq), seq, dump=True)
    assert info.value.code == errno.EPERM


def test_request_collects_replies_before_the_ack():
    def kernel(data):
        seq = struct.unpack_from("=I", data, 8)[0]
        return [genl(schema.IPVS_CMD_SET_CONFIG, u32(4, 1), seq=seq) + nlmsg_error(0, seq)]

    channel = ScriptedChannel(kernel)
    seq = channel.next_seq()
    (raw,) = channel.exchange(codec.flush_request().encode(FAMILY_ID, seq), seq, dump=False)
    assert codec.timeouts_from_message(raw.data)["tcp"] == 1


def test_pipeline_matches_each_ack_to_its_request():
    def kernel(data):
        acks = [nlmsg_error(errno.EEXIST if raw.seq % 3 == 0 else 0, raw.seq, "dup" if raw.seq % 3 == 0 else None)
                for raw in transport.split_messages(data)]
        acks.reverse()  # whatever the order, each answer goes to its request
        return [acks[0], b"".join(acks[1:])]

    channel = ScriptedChannel(kernel)
    requests = [codec.add_service_request(svc(port=port)) for port in range(1, 11)]
    results = channel.pipeline([lambda seq, r=r: r.encode(FAMILY_ID, seq) for r in requests], chunk=4)
    assert len(channel.sent) == 3  # 4 + 4 + 2 requests, one datagram each
    assert [len(transport.split_messages(d)) for d in channel.sent] == [4, 4, 2]
    expected = [(errno.EEXIST, "dup") if seq % 3 == 0 else (0, None) for seq in range(101, 111)]
    assert results == expected


def test_send_batch_returns_one_result_per_request():
    client = ipvs_client.IpvsClient.__new__(ipvs_client.IpvsClient)
    client.family_id, client.batch_size, client.netns = FAMILY_ID, 2, None
    client._channel = ScriptedChannel(  # pylint: disable=protected-access
        lambda data: [b"".join(nlmsg_error(errno.ESRCH if raw.seq == 102 else 0, raw.seq) for raw in transport.split_messages(data))])
    requests = [codec.delete_service_request(svc(port=port)) for port in (1, 2, 3)]
    results = client.send_batch(requests)
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], errors.IpvsKernelError) and results[1].errno == errno.ESRCH
    assert str(results[1]) == "delete service TCP 198.51.100.1:2: the virtual service does not exist (ESRCH)"


# ---------------------------------------------------------------------------------------------
# This machine's kernel: generic netlink works, IPVS does not


def test_channel_resolves_a_real_family_and_dumps_all_families():
    channel = transport.GenlChannel()
    try:
        assert channel.resolve_family("nlctrl") == transport.GENL_ID_CTRL
        with pytest.raises(pr2.NetlinkError) as info:
            channel.resolve_family(f"nofam{uuid.uuid4().hex[:6]}")  # GENL_NAMSIZ is 16
        assert info.value.code == errno.ENOENT
        with pytest.raises(pr2.NetlinkError) as info:
            channel.resolve_family("x" * 40)
        assert info.value.code == errno.EINVAL  # too long: with NETLINK_EXT_ACK the kernel says why
        assert info.value.args[1] != os.strerror(errno.EINVAL)

        def getfamily(name, flags):
            def encode(seq):
                msg = pr2.ctrlmsg()
                msg["cmd"], msg["version"] = transport.CTRL_CMD_GETFAMILY, 1
                msg["attrs"] = [["CTRL_ATTR_FAMILY_NAME", name]] if name else []
                msg["header"].update({"type": transport.GENL_ID_CTRL, "flags": flags, "sequence_number": seq, "pid": 0})
                msg.encode()
                return bytes(msg.data)
            return encode

        seq = channel.next_seq()
        raws = channel.exchange(getfamily(None, transport.NLM_F_REQUEST | transport.NLM_F_DUMP)(seq), seq, dump=True)
        names = [ref.decode(raw.data, pr2.ctrlmsg).get_attr("CTRL_ATTR_FAMILY_NAME") for raw in raws]
        assert "nlctrl" in names and len(names) == len(set(names))
        results = channel.pipeline([getfamily(name, transport.NLM_F_REQUEST | transport.NLM_F_ACK) for name in ["nlctrl", "nofamily"] * 100], chunk=16)
        assert [code for code, _text in results] == [0, errno.ENOENT] * 100
    finally:
        channel.close()


def test_ipvs_is_unavailable_on_this_machine():
    try:
        client = ipvs_client.IpvsClient()
    except errors.IpvsUnavailable as exc:
        assert str(exc) == "ip_vs is not available on this host: load it with `modprobe ip_vs`"
        assert not os.path.exists("/proc/net/ip_vs")
    else:  # pragma: no cover - only on a machine with IPVS (the lab VM)
        client.close()
        pytest.skip("this machine has IPVS")


# ---------------------------------------------------------------------------------------------
# Network namespaces: entered for the socket only, never created


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../../proc/1/ns/net", "x\0y"])
def test_netns_names_that_are_not_names(name):
    with pytest.raises(errors.IpvsNamespaceError, match="is not a network namespace name"):
        ipvs_client.IpvsClient(netns=name)


def test_missing_netns_is_a_clear_error_and_is_not_created():
    name = f"lvs-ipvs-missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(errors.IpvsNamespaceError, match=f"network namespace '{name}' does not exist"):
        ipvs_client.IpvsClient(netns=name)
    with pytest.raises(errors.IpvsNamespaceError, match=f"network namespace '{name}' does not exist"):
        with netns.in_netns(name):
            pass  # pragma: no cover
    assert not os.path.exists(os.path.join(netns.NETNS_RUN_DIR, name))


def test_no_netns_means_stay_here():
    before = _own_netns_inode()
    with netns.in_netns(None):
        assert _own_netns_inode() == before


def _own_netns_inode() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


@pytest.mark.netns
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"), reason="needs root and iproute2")
def test_socket_is_made_inside_the_netns_and_the_thread_comes_back():
    name = f"lvs-ipvs-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        before = _own_netns_inode()
        inside = netns.open_socket_in_netns(name, _own_netns_inode)
        assert inside == os.stat(os.path.join(netns.NETNS_RUN_DIR, name)).st_ino != before
        assert _own_netns_inode() == before
        with pytest.raises(ZeroDivisionError):
            netns.open_socket_in_netns(name, lambda: 1 // 0)
        assert _own_netns_inode() == before
        with netns.in_netns(name):
            assert _own_netns_inode() == inside
        assert _own_netns_inode() == before
        with pytest.raises(KeyError):
            with netns.in_netns(name):
                raise KeyError("inside")
        assert _own_netns_inode() == before
        channel = transport.GenlChannel(name)
        try:
            assert channel.resolve_family("nlctrl") == transport.GENL_ID_CTRL
        finally:
            channel.close()
        try:
            client = ipvs_client.IpvsClient(netns=name)
        except errors.IpvsUnavailable as exc:  # this machine
            assert str(exc) == f"ip_vs is not available on this host (network namespace {name}): load it with `modprobe ip_vs`"
        else:  # pragma: no cover - a machine with IPVS (the lab VM): a fresh namespace has an empty table
            with client:
                assert client.services() == []
        assert _own_netns_inode() == before
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)


# ---------------------------------------------------------------------------------------------
# The reference encoding (pyroute2's genlmsg / nla, ipvs_reference), both ways: our request bytes are pyroute2's bytes
# (so pyroute2 decodes them, above); pyroute2's replies, counters included, are read by us as pyroute2 reads them.

SERVICE_COMMANDS = [(codec.add_service_request, schema.IPVS_CMD_NEW_SERVICE, True), (codec.edit_service_request, schema.IPVS_CMD_SET_SERVICE, True),
                    (codec.delete_service_request, schema.IPVS_CMD_DEL_SERVICE, False)]
DEST_COMMANDS = [(codec.add_dest_request, schema.IPVS_CMD_NEW_DEST, True), (codec.edit_dest_request, schema.IPVS_CMD_SET_DEST, True),
                 (codec.delete_dest_request, schema.IPVS_CMD_DEL_DEST, False)]


@pytest.mark.parametrize("make, cmd, full", SERVICE_COMMANDS, ids=["add", "edit", "delete"])
@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_requests_are_the_reference_bytes(make, cmd, full, name):
    assert make(SERVICES[name]).encode(FAMILY_ID, 11, 0x5) == ref.service_request(cmd, SERVICES[name], full, FAMILY_ID, 11)
    assert codec.zero_request(SERVICES[name]).encode(FAMILY_ID, 3) == ref.service_request(schema.IPVS_CMD_ZERO, SERVICES[name], False, FAMILY_ID, 3)


TUNNEL_KEYS_ABSENT = {"addr": "192.0.2.11", "port": 80, "fwd_method": 2, "weight": 3}
V6_WITHOUT_AF = {"addr": "2001:db8::11", "port": 443, "fwd_method": 0, "weight": 1, "u_thresh": 10, "l_thresh": 5}


@pytest.mark.parametrize("make, cmd, full", DEST_COMMANDS, ids=["add", "edit", "delete"])
@pytest.mark.parametrize("name", sorted(DESTS) + ["tunnel-keys-absent", "v6-without-af"])
def test_dest_requests_are_the_reference_bytes(make, cmd, full, name):
    service, real_server = DESTS.get(name) or (SERVICES["tcp-v6"] if name == "v6-without-af" else svc(),
                                               V6_WITHOUT_AF if name == "v6-without-af" else TUNNEL_KEYS_ABSENT)
    assert make(service, real_server).encode(FAMILY_ID, 12, 0x5) == ref.dest_request(cmd, service, real_server, full, FAMILY_ID, 12)


MINIMAL_DAEMON = {"state": "backup", "mcast_ifn": "eth0", "sync_id": 0}


@pytest.mark.parametrize("daemon", DAEMONS + [MINIMAL_DAEMON], ids=["master-v4", "backup-v6", "minimal"])
def test_daemon_requests_and_replies_are_the_reference_bytes(daemon):
    assert codec.add_daemon_request(daemon).encode(FAMILY_ID, 13) == ref.daemon_request(daemon, FAMILY_ID, 13)
    expected = {"sync_maxlen": 0, "mcast_group": None, "mcast_port": 0, "mcast_ttl": 0, **daemon}
    assert codec.daemon_from_message(ref.daemon_reply(daemon)) == ref.daemon_from_message(ref.decode(ref.daemon_reply(daemon))) == expected
    delete = ref.encode(schema.IPVS_CMD_DEL_DAEMON, [ref.nest("IPVS_CMD_ATTR_DAEMON", [["IPVS_DAEMON_ATTR_STATE", ref.STATES[daemon["state"]]]])],
                        FAMILY_ID, 14)
    assert codec.delete_daemon_request(daemon["state"]).encode(FAMILY_ID, 14) == delete


@pytest.mark.parametrize("values", [(900, 120, 300), (100, None, None), (None, 0, 4294967295), (None, None, None)])
def test_timeouts_requests_are_the_reference_bytes(values):
    assert codec.set_timeouts_request(*values).encode(FAMILY_ID, 15) == ref.timeouts_request(*values, FAMILY_ID, 15)
    timeouts = dict(zip(("tcp", "tcpfin", "udp"), (value or 0 for value in values)))
    assert codec.timeouts_from_message(ref.timeouts_reply(timeouts)) == timeouts


def test_flush_and_zero_all_are_the_reference_bytes():
    assert codec.flush_request().encode(FAMILY_ID, 16) == ref.encode(schema.IPVS_CMD_FLUSH, [], FAMILY_ID, 16)
    assert codec.zero_request().encode(FAMILY_ID, 17) == ref.encode(schema.IPVS_CMD_ZERO, [], FAMILY_ID, 17)


@pytest.mark.parametrize("code, size", [(0x010201, 4096), (0x010203, 1 << 20), (0, 0)])
def test_info_replies_of_the_reference(code, size):
    data = ref.info_reply(code, size)
    assert codec.info_from_message(data) == ref.info_from_message(ref.decode(data, ref.IpvsInfoMessage))
    assert codec.info_from_message(data)["conn_tab_size"] == size


STATS_BIG = {key: (1 << 40) + number for number, key in enumerate(schema.STATS_KEYS)}


@pytest.mark.parametrize("stats_name, counters", [("IPVS_SVC_ATTR_STATS", STATS32), ("IPVS_SVC_ATTR_STATS64", STATS_BIG), (None, None)],
                         ids=["stats", "stats64", "none"])
@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_replies_of_the_reference(name, stats_name, counters):
    service = dict(SERVICES[name], flags=SERVICES[name]["flags"] | schema.IP_VS_SVC_F_HASHED)
    if counters is not None:
        service["stats"] = counters
    data = ref.service_reply(service, stats_name or "")
    assert read_service(data) == service
    assert codec.service_values(data) == tuple(dict(service, flags=SERVICES[name]["flags"])[key] for key in codec.SERVICE_KEYS)


@pytest.mark.parametrize("stats_name, counters", [("IPVS_DEST_ATTR_STATS", STATS32), ("IPVS_DEST_ATTR_STATS64", STATS_BIG), (None, None)],
                         ids=["stats", "stats64", "none"])
@pytest.mark.parametrize("name", sorted(DESTS))
def test_dest_replies_of_the_reference(name, stats_name, counters):
    service, real_server = DESTS[name]
    reply = dict(real_server, active_conns=7, inact_conns=0xFFFFFFFF, persist_conns=1)
    if counters is not None:
        reply["stats"] = counters
    data = ref.dest_reply(reply, stats_name or "")
    assert read_dest(data, service["af"]) == reply
    af, raw_address, values = codec.dest_values(data, service["af"])
    assert (af, codec.address_text(af, raw_address), values) == (real_server["af"], real_server["addr"], tuple(real_server[k] for k in codec.DEST_KEYS))
