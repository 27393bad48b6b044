# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The codec against a real IPVS kernel (run as root in the lab VM: Debian's 6.1 kernel, ipvsadm 1.31).

Every change made through the codec is read back twice: independently with `ipvsadm -S -n`
(compared to the exact line ipvsadm prints) and through the codec. Only documentation
addresses (198.51.100.0/24, 192.0.2.0/24, 203.0.113.0/24, 2001:db8::/32) are used.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import uuid

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _errors as errors
from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs_client as ipvs_client
from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs_codec as codec
from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs_schema as schema
from tests.integration.conftest import ipvsadm, saved_table
from tests.unit.plugins.module_utils import ipvs_reference as ref

pytestmark = pytest.mark.integration

HASHED = 0x2


@pytest.fixture(autouse=True)
def clean(clean_ipvs):  # pylint: disable=unused-argument
    """`ipvsadm -C` before and after every test (the shared clean_ipvs fixture)."""
    yield


@pytest.fixture
def nl():
    with ipvs_client.IpvsClient() as client:
        yield client


def svc(**changes):
    base = {"af": 2, "protocol": 6, "addr": "198.51.100.1", "port": 80, "fwmark": 0, "sched_name": "wlc",
            "flags": 0, "timeout": 0, "netmask": 0xFFFFFFFF, "pe_name": None}
    base.update(changes)
    return base


def dest(**changes):
    base = {"addr": "192.0.2.11", "port": 80, "af": 2, "fwd_method": 3, "weight": 1, "u_thresh": 0, "l_thresh": 0,
            "tun_type": 0, "tun_port": 0, "tun_flags": 0}
    base.update(changes)
    return base


def without_stats(entries):
    return [{k: v for k, v in entry.items() if k not in ("stats", "active_conns", "inact_conns", "persist_conns")} for entry in entries]


def as_read(service):
    """What the kernel gives back for a service the codec created: HASHED set."""
    return {**service, "flags": service["flags"] | HASHED}


# ---------------------------------------------------------------------------------------------
# Services: create with the codec, read back with ipvsadm and with the codec

SERVICE_CASES = {
    "tcp-v4": (svc(), "-A -t 198.51.100.1:80 -s wlc"),
    "udp-ops": (svc(protocol=17, port=53, sched_name="rr", flags=0x4), "-A -u 198.51.100.1:53 -s rr -o"),
    "sctp": (svc(protocol=132, port=3868, sched_name="lc"), "-A --sctp-service 198.51.100.1:3868 -s lc"),
    "tcp-v6": (svc(af=10, addr="2001:db8::1", port=443, netmask=128), "-A -t [2001:db8::1]:443 -s wlc"),
    "fwmark-v4": (svc(protocol=0, addr=None, port=0, fwmark=1, sched_name="rr"), "-A -f 1 -s rr"),
    "fwmark-v6-persistent-prefix": (svc(af=10, protocol=0, addr=None, port=0, fwmark=7, flags=0x1, timeout=60, netmask=64),
                                    "-A -f 7 -6 -s wlc -p 60 -M 64"),
    "persistent-v4-netmask": (svc(flags=0x1, timeout=3600, netmask=0xFFFFFF00), "-A -t 198.51.100.1:80 -s wlc -p 3600 -M 255.255.255.0"),
    "persistent-v6-prefix": (svc(af=10, addr="2001:db8::80", flags=0x1, timeout=360, netmask=48), "-A -t [2001:db8::80]:80 -s wlc -p 360 -M 48"),
    "pcc-port-0": (svc(port=0, flags=0x1, timeout=2678400), "-A -t 198.51.100.1:0 -s wlc -p 2678400"),
    "sh-flags": (svc(sched_name="sh", flags=0x8 | 0x10), "-A -t 198.51.100.1:80 -s sh -b sh-fallback,sh-port"),
    "mh-flags": (svc(sched_name="mh", flags=0x8 | 0x10), "-A -t 198.51.100.1:80 -s mh -b mh-fallback,mh-port"),
    "flag-3": (svc(sched_name="rr", flags=0x20), "-A -t 198.51.100.1:80 -s rr -b flag-3"),
    "sip-pe": (svc(protocol=17, port=5060, flags=0x1, timeout=30, pe_name="sip"), "-A -u 198.51.100.1:5060 -s wlc -p 30 --pe sip"),
    "everything": (svc(protocol=17, port=5060, sched_name="sh", flags=0x1 | 0x4 | 0x8, timeout=120, netmask=0xFFFF0000, pe_name="sip"),
                   "-A -u 198.51.100.1:5060 -s sh -p 120 -M 255.255.0.0 --pe sip -o -b sh-fallback"),
}


@pytest.mark.parametrize("name", sorted(SERVICE_CASES))
def test_service_created_by_the_codec(nl, name):
    service, line = SERVICE_CASES[name]
    nl.add_service(service)
    assert saved_table() == [line]
    (read,) = nl.services()
    assert set(read["stats"]) == set(schema.STATS_KEYS)
    assert without_stats([read]) == [as_read(service)]
    assert without_stats([nl.service(service)]) == [as_read(service)]


DEST_CASES = {
    "dr": (svc(), dest(), "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 1"),
    "masq-other-port": (svc(), dest(port=8080, fwd_method=0, weight=100), "-a -t 198.51.100.1:80 -r 192.0.2.11:8080 -m -w 100"),
    "weight-0": (svc(), dest(weight=0), "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 0"),
    "ipip": (svc(), dest(fwd_method=2, weight=2), "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -i -w 2 --tun-type ipip"),
    "gue-csum": (svc(), dest(fwd_method=2, tun_type=1, tun_port=6080, tun_flags=1),
                 "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum"),
    "gre-remcsum": (svc(), dest(fwd_method=2, tun_type=2, tun_flags=2), "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -i -w 1 --tun-type gre --tun-remcsum"),
    "v6-masq": (svc(af=10, addr="2001:db8::1", netmask=128), dest(addr="2001:db8::4", af=10, fwd_method=0),
                "-a -t [2001:db8::1]:80 -r [2001:db8::4]:80 -m -w 1"),
    "fwmark-v4": (svc(protocol=0, addr=None, port=0, fwmark=1, sched_name="rr"), dest(port=0, fwd_method=0),
                  "-a -f 1 -r 192.0.2.11:0 -m -w 1"),
    "v6-dest-of-v4-fwmark-tunnel": (svc(protocol=0, addr=None, port=0, fwmark=3),
                                    dest(addr="2001:db8::12", af=10, port=0, fwd_method=2, tun_type=1, tun_port=5555),
                                    "-a -f 3 -r [2001:db8::12]:0 -i -w 1 --tun-type gue --tun-port 5555 --tun-nocsum"),
}


@pytest.mark.parametrize("name", sorted(DEST_CASES))
def test_dest_created_by_the_codec(nl, name):
    service, real_server, line = DEST_CASES[name]
    nl.add_service(service)
    nl.add_dest(service, real_server)
    assert line in saved_table()
    (read,) = nl.dests(service)
    assert (read["active_conns"], read["inact_conns"], read["persist_conns"]) == (0, 0, 0)
    assert without_stats([read]) == [real_server]


def test_thresholds_are_set_though_ipvsadm_save_drops_them(nl):
    nl.add_service(svc())
    nl.add_dest(svc(), dest(fwd_method=0, weight=5, u_thresh=100, l_thresh=50))
    assert saved_table() == ["-A -t 198.51.100.1:80 -s wlc", "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -m -w 5"]
    listing = ipvsadm("-L", "-n", "--thresholds").splitlines()
    assert [line.split() for line in listing if "192.0.2.11:80" in line] == [["->", "192.0.2.11:80", "100", "50", "0", "0"]]
    assert nl.dests(svc())[0]["u_thresh"] == 100 and nl.dests(svc())[0]["l_thresh"] == 50


# ---------------------------------------------------------------------------------------------
# Created by ipvsadm, read by the codec


def test_table_made_by_ipvsadm_read_by_the_codec(nl):
    ipvsadm("-A", "-t", "198.51.100.1:80", "-s", "rr", "-p", "3600", "-M", "255.255.255.0")
    ipvsadm("-a", "-t", "198.51.100.1:80", "-r", "192.0.2.11:80", "-g", "-w", "3")
    ipvsadm("-a", "-t", "198.51.100.1:80", "-r", "192.0.2.12:8080", "-m", "-w", "0", "-x", "10", "-y", "5")
    ipvsadm("-A", "-u", "[2001:db8::53]:53", "-s", "sh", "-b", "sh-port", "-o")
    ipvsadm("-A", "-f", "42", "-6", "-s", "wlc", "-p", "-M", "56")
    ipvsadm("-a", "-f", "42", "-6", "-r", "[2001:db8::21]:0", "-i", "--tun-type", "gue", "--tun-port", "6080", "--tun-remcsum", "-w", "7")
    ipvsadm("-A", "--sctp-service", "203.0.113.5:3868", "-s", "lc", "--pe", "sip", "-p", "30")
    services = sorted(without_stats(nl.services()), key=lambda s: (s["fwmark"], s["protocol"]))
    assert services == [
        svc(sched_name="rr", flags=0x1 | HASHED, timeout=3600, netmask=0xFFFFFF00),
        svc(af=10, protocol=17, addr="2001:db8::53", port=53, sched_name="sh", flags=0x4 | 0x10 | HASHED, netmask=128),
        svc(protocol=132, addr="203.0.113.5", port=3868, sched_name="lc", flags=0x1 | HASHED, timeout=30, pe_name="sip"),
        svc(af=10, protocol=0, addr=None, port=0, fwmark=42, flags=0x1 | HASHED, timeout=360, netmask=56),
    ]
    assert sorted(without_stats(nl.dests(services[0])), key=lambda d: d["addr"]) == [
        dest(weight=3),
        dest(addr="192.0.2.12", port=8080, fwd_method=0, weight=0, u_thresh=10, l_thresh=5),
    ]
    assert without_stats(nl.dests(services[3])) == [dest(addr="2001:db8::21", af=10, port=0, fwd_method=2, weight=7, tun_type=1, tun_port=6080, tun_flags=2)]
    assert nl.dests(services[1]) == []
    assert nl.dests(svc(port=9999)) == []  # the kernel dumps nothing for a service that does not exist


def test_ipvsadm_restore_of_a_table_made_by_the_codec_reads_back_identical(nl):
    table = [
        (svc(sched_name="sh", flags=0x1 | 0x8, timeout=600, netmask=0xFFFFFF00), [dest(), dest(addr="192.0.2.12", fwd_method=0, port=8080, weight=0)]),
        (svc(protocol=17, port=5060, flags=0x1 | 0x4, timeout=30, pe_name="sip"), [dest(port=5060, fwd_method=2, tun_type=1, tun_port=6080, tun_flags=2)]),
        (svc(af=10, addr="2001:db8::1", port=443, netmask=128, sched_name="mh", flags=0x10), [dest(addr="2001:db8::11", af=10, port=443)]),
        (svc(af=10, protocol=0, addr=None, port=0, fwmark=5, flags=0x1, timeout=60, netmask=64), [dest(addr="2001:db8::12", af=10, port=0, fwd_method=2)]),
    ]
    requests = []
    for service, real_servers in table:
        requests.append(codec.add_service_request(service))
        requests += [codec.add_dest_request(service, real_server) for real_server in real_servers]
    assert nl.send_batch(requests) == [None] * len(requests)

    def everything():
        return sorted((repr(without_stats([s])), sorted(map(repr, without_stats(nl.dests(s))))) for s in nl.services())

    before = everything()
    saved = ipvsadm("-S", "-n")
    ipvsadm("-C")
    subprocess.run(["ipvsadm", "-R"], input=saved, text=True, check=True)
    assert everything() == before


# ---------------------------------------------------------------------------------------------
# Edits in place keep the identity


def test_edit_service_in_place_keeps_identity_and_real_servers(nl):
    nl.add_service(svc())
    nl.add_dest(svc(), dest())
    nl.add_dest(svc(), dest(addr="192.0.2.12"))
    edited = svc(sched_name="sh", flags=0x1 | 0x8, timeout=600, netmask=0xFFFFFF00)
    nl.edit_service(edited)
    assert saved_table()[0] == "-A -t 198.51.100.1:80 -s sh -p 600 -M 255.255.255.0 -b sh-fallback"
    assert without_stats(nl.services()) == [as_read(edited)]
    assert len(nl.dests(edited)) == 2
    nl.edit_service(svc(sched_name="sh"))  # back: persistence and flags cleared by the full entry
    assert saved_table()[0] == "-A -t 198.51.100.1:80 -s sh"
    assert len(nl.dests(svc())) == 2


def test_edit_service_adds_and_removes_the_persistence_engine(nl):
    nl.add_service(svc(protocol=17, port=5060, flags=0x1, timeout=30))
    nl.edit_service(svc(protocol=17, port=5060, flags=0x1, timeout=30, pe_name="sip"))
    assert saved_table() == ["-A -u 198.51.100.1:5060 -s wlc -p 30 --pe sip"]
    nl.edit_service(svc(protocol=17, port=5060, flags=0x1, timeout=30))
    assert saved_table() == ["-A -u 198.51.100.1:5060 -s wlc -p 30"]


def test_edit_dest_in_place(nl):
    nl.add_service(svc())
    nl.add_dest(svc(), dest())
    nl.edit_dest(svc(), dest(fwd_method=0, weight=9, u_thresh=20, l_thresh=10))
    assert saved_table() == ["-A -t 198.51.100.1:80 -s wlc", "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -m -w 9"]
    assert without_stats(nl.dests(svc())) == [dest(fwd_method=0, weight=9, u_thresh=20, l_thresh=10)]
    nl.edit_dest(svc(), dest(fwd_method=2, tun_type=1, tun_port=6080))
    assert saved_table()[1] == "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum"


def test_delete_dest_and_service(nl):
    nl.add_service(svc())
    nl.add_dest(svc(), dest())
    nl.add_dest(svc(), dest(addr="192.0.2.12"))
    nl.delete_dest(svc(), {"addr": "192.0.2.11", "port": 80})
    assert saved_table() == ["-A -t 198.51.100.1:80 -s wlc", "-a -t 198.51.100.1:80 -r 192.0.2.12:80 -g -w 1"]
    nl.delete_service(svc())
    assert saved_table() == []


# ---------------------------------------------------------------------------------------------
# Errors


def refused(call, *args):
    with pytest.raises(errors.IpvsKernelError) as info:
        call(*args)
    return info.value


def test_errors_map_to_the_right_exception(nl):
    nl.add_service(svc())
    nl.add_dest(svc(), dest())
    exc = refused(nl.add_service, svc())
    assert exc.errno == errno.EEXIST and "the virtual service already exists" in str(exc)
    exc = refused(nl.edit_service, svc(port=81))
    assert exc.errno == errno.ESRCH and str(exc) == "edit service TCP 198.51.100.1:81: the virtual service does not exist (ESRCH)"
    assert refused(nl.delete_service, svc(port=81)).errno == errno.ESRCH
    assert refused(nl.add_dest, svc(port=81), dest()).errno == errno.ESRCH
    assert refused(nl.zero, svc(port=81)).errno == errno.ESRCH
    exc = refused(nl.add_service, svc(port=82, sched_name="nosuchsched"))
    assert exc.errno == errno.ENOENT and "scheduler or persistence engine module not available" in str(exc)
    assert refused(nl.add_service, svc(port=83, flags=1, timeout=10, pe_name="nosuchpe")).errno == errno.ENOENT
    assert refused(nl.add_dest, svc(), dest()).errno == errno.EEXIST
    exc = refused(nl.edit_dest, svc(), dest(addr="192.0.2.99"))
    assert exc.errno == errno.ENOENT and "the real server does not exist" in str(exc)
    assert refused(nl.delete_dest, svc(), dest(addr="192.0.2.99")).errno == errno.ENOENT
    assert refused(nl.add_dest, svc(), dest(addr="192.0.2.12", u_thresh=1, l_thresh=5)).errno == errno.ERANGE
    assert refused(nl.add_dest, svc(), dest(addr="2001:db8::5", af=10)).errno == errno.EINVAL  # mixed family needs tunnel
    assert refused(nl.add_service, svc(af=10, addr="2001:db8::1", netmask=0)).errno == errno.EINVAL
    assert refused(nl.delete_daemon, "backup").errno == errno.ESRCH
    assert saved_table() == ["-A -t 198.51.100.1:80 -s wlc", "-a -t 198.51.100.1:80 -r 192.0.2.11:80 -g -w 1"]
    assert nl.service(svc(port=81)) is None


def test_without_cap_net_admin_every_call_is_a_permission_error():
    code = (
        "from ansible_collections.lvs.ipvs.plugins.module_utils import _errors as e, _ipvs_client as c\n"
        "try:\n"
        "    c.IpvsClient().services()\n"
        "except e.IpvsPermissionError as exc:\n"
        "    print(type(exc).__name__, exc.errno, exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run(["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin", sys.executable, "-c", code],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.stdout.strip() == ("IpvsPermissionError 1 list services: permission denied: managing IPVS needs root / CAP_NET_ADMIN "
                                   "in the network namespace (EPERM)"), proc.stderr


# ---------------------------------------------------------------------------------------------
# Batches, big dumps, global state


def test_batch_pipelines_and_reports_each_request(nl):
    services = [svc(addr=f"198.51.100.{i % 200 + 1}", port=1000 + i // 200, sched_name="rr") for i in range(600)]
    requests = [codec.add_service_request(s) for s in services]
    requests.insert(300, codec.add_service_request(services[0]))  # a duplicate in the middle
    requests.append(codec.add_dest_request(services[1], dest()))
    requests.append(codec.delete_service_request(svc(addr="203.0.113.9")))  # missing
    results = nl.send_batch(requests)
    failed = {i: (r.errno, type(r).__name__) for i, r in enumerate(results) if r is not None}
    assert failed == {300: (errno.EEXIST, "IpvsKernelError"), 602: (errno.ESRCH, "IpvsKernelError")}
    table = saved_table()
    assert len([line for line in table if line.startswith("-A ")]) == 600
    assert "-a -t 198.51.100.2:1000 -r 192.0.2.11:80 -g -w 1" in table


def test_dump_reads_every_part_of_a_big_table(nl):
    requests = [codec.add_service_request(svc(addr=f"198.51.100.{i % 250 + 1}", port=2000 + i // 250)) for i in range(1000)]
    requests += [codec.add_dest_request(svc(addr="198.51.100.1", port=2000), dest(addr=f"192.0.2.{i % 250 + 1}", port=1 + i // 250)) for i in range(600)]
    assert not any(nl.send_batch(requests))
    services = nl.services(stats=False)
    assert len(services) == 1000
    assert {(s["addr"], s["port"]) for s in services} == {(f"198.51.100.{i % 250 + 1}", 2000 + i // 250) for i in range(1000)}
    assert len(nl.dests(svc(addr="198.51.100.1", port=2000), stats=False)) == 600
    assert len([line for line in saved_table() if line.startswith("-a ")]) == 600


def test_timeouts(nl):
    before = nl.timeouts()
    assert before == {"tcp": 900, "tcpfin": 120, "udp": 300}  # the kernel defaults
    try:
        nl.set_timeouts(1000, 0, 200)  # 0 leaves tcpfin unchanged
        assert ipvsadm("-L", "--timeout").strip() == "Timeout (tcp tcpfin udp): 1000 120 200"
        assert nl.timeouts() == {"tcp": 1000, "tcpfin": 120, "udp": 200}
        assert refused(nl.set_timeouts, 2**31, 0, 0).errno == errno.EINVAL
    finally:
        nl.set_timeouts(before["tcp"], before["tcpfin"], before["udp"])
    assert ipvsadm("-L", "--timeout").strip() == "Timeout (tcp tcpfin udp): 900 120 300"


def test_info_matches_ipvsadm(nl):
    info = nl.info()
    assert ipvsadm("-L", "-n").splitlines()[0] == f"IP Virtual Server version {info['version']} (size={info['conn_tab_size']})"
    assert info["version"] == "1.2.1"


def test_zero_and_flush(nl):
    nl.add_service(svc())
    nl.add_service(svc(port=443))
    nl.zero()
    nl.zero(svc())
    nl.flush()
    assert saved_table() == [] and nl.services() == []


def test_sync_daemons(nl):
    assert nl.daemons() == []
    try:
        nl.add_daemon({"state": "backup", "mcast_ifn": "lo", "sync_id": 9, "mcast_group": "239.1.2.3", "mcast_port": 9000, "mcast_ttl": 2, "sync_maxlen": 1400})
        assert ipvsadm("-L", "--daemon").strip() == "backup sync daemon (mcast=lo, syncid=9, maxlen=1400, group=239.1.2.3, port=9000, ttl=2)"
        assert nl.daemons() == [{"state": "backup", "mcast_ifn": "lo", "sync_id": 9, "sync_maxlen": 1400, "mcast_group": "239.1.2.3",
                                 "mcast_port": 9000, "mcast_ttl": 2}]
        assert refused(nl.add_daemon, {"state": "backup", "mcast_ifn": "lo", "sync_id": 1}).errno == errno.EEXIST
        (raw,) = nl.dump_raw(codec.IpvsRequest(schema.IPVS_CMD_GET_DAEMON, b"", "list sync daemons"))
        assert codec.daemon_from_message(raw.data) == ref.daemon_from_message(ref.decode(raw.data))  # as pyroute2 reads it
    finally:
        nl.delete_daemon("backup")
    assert nl.daemons() == [] and ipvsadm("-L", "--daemon").strip() == ""


# ---------------------------------------------------------------------------------------------
# Network namespaces


def test_netns_is_entered_for_the_socket_only():
    name = f"lvs-codec-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        with ipvs_client.IpvsClient(netns=name) as inside:
            inside.add_service(svc(addr="203.0.113.1"))
            assert without_stats(inside.services()) == [as_read(svc(addr="203.0.113.1"))]
        listing = subprocess.run(["ip", "netns", "exec", name, "ipvsadm", "-S", "-n"], capture_output=True, text=True, check=True).stdout
        assert listing.splitlines() == ["-A -t 203.0.113.1:80 -s wlc"]
        assert saved_table() == []
        with ipvs_client.IpvsClient() as outside:
            assert outside.services() == []
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)


def test_missing_netns_is_an_error_and_is_not_created():
    name = f"lvs-missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(errors.IpvsNamespaceError, match="does not exist"):
        ipvs_client.IpvsClient(netns=name)
    assert name not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout


def test_the_kernels_own_replies_read_as_pyroute2_reads_them(nl):
    """The reference encoding (pyroute2's, tests/unit/plugins/module_utils/ipvs_reference.py) on what this kernel sends:
    services and real servers with their counters (STATS64 and its padding); test_sync_daemons does it for a sync daemon."""
    nl.add_service(svc(flags=0x1, timeout=60, netmask=0xFFFFFF00))
    nl.add_dest(svc(), dest(fwd_method=0, weight=5, u_thresh=100, l_thresh=50))
    nl.add_service(svc(af=10, addr="2001:db8::1", port=443, netmask=128))
    nl.add_dest(svc(af=10, addr="2001:db8::1", port=443, netmask=128), dest(addr="2001:db8::11", af=10, port=443))
    raws = nl.dump_raw(codec.IpvsRequest(schema.IPVS_CMD_GET_SERVICE, b"", "list services"))
    assert len(raws) == 2
    for raw in raws:
        service = codec.service_from_message(raw.data)
        assert service == ref.service_from_message(ref.decode(raw.data)) and set(service["stats"]) == set(schema.STATS_KEYS)
        (dest_raw,) = nl.dump_raw(codec.IpvsRequest(schema.IPVS_CMD_GET_DEST, codec.service_nest(service, full=False), "list real servers"))
        assert codec.dest_from_message(dest_raw.data, service["af"]) == ref.dest_from_message(ref.decode(dest_raw.data), service["af"])
