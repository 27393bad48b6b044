# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""Normalised virtual services and real servers, built from kernel dicts or module parameters.

Equal meaning gives equal objects: HASHED is stripped, addresses are canonical text, scheduler
flags carry the scheduler's own names, persistence granularity is a prefix length, options that
do not apply (granularity of a non-persistent service, tunnel options of a DR server) are None.
Validation of module parameters raises OptionError before anything touches the kernel.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import typing as t

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError
from ansible_collections.lvs.ipvs.plugins.module_utils._fields import (
    DEFAULT_SCHEDULER,
    FAMILIES,
    FORWARDING,
    FWMARK,
    Integer,
    LOCAL,
    LOWER_THRESHOLD,
    PERSISTENCE_ENGINES,
    PERSISTENCE_TIMEOUT,
    PORT,
    PROTOCOLS as _PROTOCOLS,
    SCHEDULERS,
    SERVER_PORT,
    TUNNEL_CHECKSUMS as _TUNNEL_CHECKSUMS,
    TUNNEL_PORT,
    TUNNEL_TYPES as _TUNNEL_TYPES,
    UPPER_THRESHOLD,
    WEIGHT,
    in_range,
    kernel_numbers,
)

FAMILY_OF_AF = {choice.kernel: choice.name for choice in FAMILIES}
AF_OF_FAMILY = kernel_numbers(FAMILIES)
FULL_PREFIX = {"ipv4": 32, "ipv6": 128}

PROTOCOLS = kernel_numbers(_PROTOCOLS)
PROTOCOL_NAMES = {number: name for name, number in PROTOCOLS.items()}

FLAG_PERSISTENT = 0x1
FLAG_HASHED = 0x2
FLAG_ONEPACKET = 0x4
FLAG_SCHED1 = 0x8
FLAG_SCHED2 = 0x10
FLAG_SCHED3 = 0x20
SCHED_FLAG_BITS = (FLAG_SCHED1, FLAG_SCHED2, FLAG_SCHED3)

# ipvsadm -b: sh and mh name the first two bits; flag-N names a bit for any scheduler.
RAW_FLAG_NAMES = ("flag-1", "flag-2", "flag-3")
SCHEDULER_FLAG_NAMES = {
    "sh": ("sh-fallback", "sh-port", "flag-3"),
    "mh": ("mh-fallback", "mh-port", "flag-3"),
}
SCHEDULER_FLAGS = ("sh-fallback", "sh-port", "mh-fallback", "mh-port") + RAW_FLAG_NAMES
_BIT_OF_FLAG = {name: bit for names in (RAW_FLAG_NAMES,) + tuple(SCHEDULER_FLAG_NAMES.values()) for name, bit in zip(names, SCHED_FLAG_BITS)}

FORWARDING_ALIASES = {name: choice.name for choice in FORWARDING for name in (choice.name,) + choice.aliases}
FWD_METHODS = kernel_numbers(FORWARDING + (LOCAL,))
_FORWARDING_ACCEPTED = ", ".join(f"{choice.name} ({', '.join(choice.aliases)})" for choice in FORWARDING)  # dr (route, gate), ...
TUNNEL_TYPES = kernel_numbers(_TUNNEL_TYPES)
TUNNEL_CHECKSUMS = kernel_numbers(_TUNNEL_CHECKSUMS)


@dataclasses.dataclass(frozen=True)
class Service:
    """One virtual service: protocol + address + port, or fwmark (+ family)."""

    family: str
    protocol: t.Optional[str] = None
    address: t.Optional[str] = None
    port: t.Optional[int] = None
    fwmark: t.Optional[int] = None
    scheduler: str = DEFAULT_SCHEDULER
    scheduler_flags: t.Tuple[str, ...] = ()
    persistence_timeout: t.Optional[int] = None
    # Prefix length when persistent, None when not. A non-contiguous IPv4 mask found in the
    # kernel stays a dotted string so it never equals a valid request and gets fixed.
    persistence_granularity: t.Union[int, str, None] = None
    persistence_engine: t.Optional[str] = None
    one_packet: bool = False

    def __post_init__(self) -> None:
        if self.address is not None:
            object.__setattr__(self, "address", canonical_address(self.address))
        bits = flag_bits(self.scheduler_flags)
        object.__setattr__(self, "scheduler_flags", flag_names(self.scheduler, bits))

    @property
    def key(self) -> t.Tuple[t.Any, ...]:
        """Identity: (family, fwmark) or (family, protocol, address, port)."""
        if self.fwmark is not None:
            return (self.family, self.fwmark)
        return (self.family, self.protocol, self.address, self.port)


@dataclasses.dataclass(frozen=True)
class RealServer:
    """One real server (destination) of a virtual service; identity (address, port)."""

    address: str
    port: int
    forwarding: str = "dr"
    weight: int = 1
    upper_threshold: int = 0
    lower_threshold: int = 0
    tunnel_type: t.Optional[str] = None
    tunnel_port: t.Optional[int] = None
    tunnel_checksum: t.Optional[str] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", canonical_address(self.address))

    @property
    def family(self) -> str:
        return "ipv6" if ":" in self.address else "ipv4"

    @property
    def key(self) -> t.Tuple[str, int]:
        return (self.address, self.port)


# The fields besides identity (Service.key, RealServer.key) and a real server's weight: what an edit in place (-E, -e)
# changes, for the comparisons whose sentences name a field (the health checks' drift, the parity of two directors).
SERVICE_IDENTITY = ("family", "protocol", "address", "port", "fwmark")
SERVICE_FIELDS = tuple(field.name for field in dataclasses.fields(Service) if field.name not in SERVICE_IDENTITY)
SERVER_FIELDS = tuple(field.name for field in dataclasses.fields(RealServer) if field.name not in ("address", "port", "weight"))


# A table of thousands of services repeats a few hundred addresses (VIPs, real-server farms):
# each is parsed once per module run.
@functools.lru_cache(maxsize=None)
def canonical_address(text: str) -> str:
    """The canonical text of an IP address (ValueError if it is not one)."""
    return str(ipaddress.ip_address(text))


@functools.lru_cache(maxsize=None)
def address_number(text: str) -> int:
    """An IP address as an integer, for sorting."""
    return int(ipaddress.ip_address(text))


def service_sort_key(service: Service) -> t.Tuple[int, int, int, int, int]:
    """Order of ipvsadm's sorted listing: fwmark, family, protocol, address, port."""
    address = address_number(service.address) if service.address else 0
    return (service.fwmark or 0, AF_OF_FAMILY[service.family], PROTOCOLS.get(service.protocol or "", 0), address, service.port or 0)


def real_server_sort_key(real_server: RealServer) -> t.Tuple[int, int, int]:
    return (AF_OF_FAMILY[real_server.family], address_number(real_server.address), real_server.port)


# Scheduler flags

def flag_bits(names: t.Iterable[str]) -> int:
    """The SCHED1..3 bits of flag names; ValueError for an unknown name."""
    bits = 0
    for name in names:
        if name not in _BIT_OF_FLAG:
            raise ValueError(f"unknown scheduler flag {name!r}")
        bits |= _BIT_OF_FLAG[name]
    return bits


def flag_names(scheduler: str, bits: int) -> t.Tuple[str, ...]:
    """The names of the set SCHED1..3 bits as the scheduler calls them, in bit order."""
    names = SCHEDULER_FLAG_NAMES.get(scheduler, RAW_FLAG_NAMES)
    return tuple(name for name, bit in zip(names, SCHED_FLAG_BITS) if bits & bit)


# Netmasks

def mask_to_prefix(mask: int) -> t.Optional[int]:
    """Prefix length of a contiguous IPv4 mask (host-order int), None when not contiguous."""
    host_bits = ~mask & 0xFFFFFFFF
    if host_bits & (host_bits + 1):
        return None
    return 32 - host_bits.bit_length()


def prefix_to_mask(prefix: int) -> int:
    return (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF


def granularity_to_netmask(family: str, granularity: t.Union[int, str, None]) -> int:
    """The kernel NETMASK value: IPv4 a host-order mask, IPv6 a prefix length; None means a single client."""
    if granularity is None:
        granularity = FULL_PREFIX[family]
    if isinstance(granularity, str):
        return int(ipaddress.IPv4Address(granularity))
    return prefix_to_mask(granularity) if family == "ipv4" else granularity


def _granularity_from_netmask(family: str, netmask: int) -> t.Union[int, str]:
    if family == "ipv6":
        return netmask
    prefix = mask_to_prefix(netmask)
    return str(ipaddress.IPv4Address(netmask)) if prefix is None else prefix


# Kernel dicts (docs/internals.md)

def service_from_kernel(entry: t.Mapping[str, t.Any]) -> Service:
    family = FAMILY_OF_AF[entry["af"]]
    flags = entry["flags"] & ~FLAG_HASHED
    persistent = bool(flags & FLAG_PERSISTENT)
    fwmark = entry.get("fwmark") or None
    return Service(
        family=family,
        protocol=None if fwmark else PROTOCOL_NAMES[entry["protocol"]],
        address=None if fwmark else entry["addr"],
        port=None if fwmark else entry["port"],
        fwmark=fwmark,
        scheduler=entry["sched_name"],
        scheduler_flags=flag_names(entry["sched_name"], flags),
        persistence_timeout=entry["timeout"] if persistent else None,
        # The kernel keeps a netmask for every service; it only matters with persistence.
        persistence_granularity=_granularity_from_netmask(family, entry["netmask"]) if persistent else None,
        persistence_engine=entry.get("pe_name") or None,
        one_packet=bool(flags & FLAG_ONEPACKET),
    )


def service_to_kernel(service: Service) -> t.Dict[str, t.Any]:
    """A full service entry (NEW/SET_SERVICE need every field); the complete flag word, HASHED excluded."""
    flags = flag_bits(service.scheduler_flags)
    if service.persistence_timeout is not None:
        flags |= FLAG_PERSISTENT
    if service.one_packet:
        flags |= FLAG_ONEPACKET
    return {
        "af": AF_OF_FAMILY[service.family],
        "protocol": PROTOCOLS[service.protocol] if service.protocol else 0,
        "addr": service.address,
        "port": service.port or 0,
        "fwmark": service.fwmark or 0,
        "sched_name": service.scheduler,
        "flags": flags,
        "timeout": service.persistence_timeout or 0,
        "netmask": granularity_to_netmask(service.family, service.persistence_granularity),
        "pe_name": service.persistence_engine,
    }


def _name_of(table: t.Mapping[str, int], value: int) -> str:
    """The name of a kernel number; an unknown number stays visible as its decimal text."""
    for name, number in table.items():
        if number == value:
            return name
    return str(value)


def _number_of(table: t.Mapping[str, int], name: t.Optional[str]) -> int:
    if name is None:
        return 0
    return table[name] if name in table else int(name)


def real_server_from_kernel(entry: t.Mapping[str, t.Any], service: Service) -> RealServer:
    """A real server from a kernel dest dict of `service`; tunnel fields only where they apply."""
    forwarding = _name_of(FWD_METHODS, entry["fwd_method"])
    tunnel_type = tunnel_port = tunnel_checksum = None
    if forwarding == "tunnel":
        tunnel_type = _name_of(TUNNEL_TYPES, entry.get("tun_type", 0))
        if tunnel_type == "gue":
            tunnel_port = entry.get("tun_port", 0)
        if tunnel_type != "ipip":
            tunnel_checksum = _name_of(TUNNEL_CHECKSUMS, entry.get("tun_flags", 0))
    return RealServer(
        address=entry["addr"],
        port=entry["port"],
        forwarding=forwarding,
        weight=entry["weight"],
        upper_threshold=entry["u_thresh"],
        lower_threshold=entry["l_thresh"],
        tunnel_type=tunnel_type,
        tunnel_port=tunnel_port,
        tunnel_checksum=tunnel_checksum,
    )


def real_server_to_kernel(real_server: RealServer, service: Service) -> t.Dict[str, t.Any]:
    """A full dest entry for NEW/SET_DEST in `service` (the codec sends the service key next to it)."""
    return {
        "addr": real_server.address,
        "port": real_server.port,
        "af": AF_OF_FAMILY[real_server.family],
        "fwd_method": _number_of(FWD_METHODS, real_server.forwarding),
        "weight": real_server.weight,
        "u_thresh": real_server.upper_threshold,
        "l_thresh": real_server.lower_threshold,
        "tun_type": _number_of(TUNNEL_TYPES, real_server.tunnel_type),
        "tun_port": real_server.tunnel_port or 0,
        "tun_flags": _number_of(TUNNEL_CHECKSUMS, real_server.tunnel_checksum),
    }


# Module parameters

def _choice(option: str, value: t.Any, choices: t.Iterable[str]) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise OptionError(option, f"{value!r} is not valid; accepted: {', '.join(choices)}")
    return t.cast(str, value)


def _address(option: str, value: t.Any) -> t.Tuple[str, str]:
    """Canonical text and family of an IP address literal (no names, no scope)."""
    accepted = "an IPv4 or IPv6 address such as 198.51.100.1 or 2001:db8::1"
    try:
        address, family = _parsed_address(str(value).strip())
    except ValueError:
        raise OptionError(option, f"{value!r} is not an IP address; accepted: {accepted}") from None
    if "%" in address:
        raise OptionError(option, f"{value!r} has a scope; accepted: {accepted}")
    return address, family


@functools.lru_cache(maxsize=None)
def _parsed_address(text: str) -> t.Tuple[str, str]:
    """(canonical text, family) of an address literal, ValueError if it is none; once per text (big tables repeat them)."""
    address = ipaddress.ip_address(text)
    return str(address), f"ipv{address.version}"


def _granularity(family: str, value: t.Any) -> int:
    option = "persistence_granularity"
    if isinstance(value, str):
        value = value.strip()
        value = value[1:] if value.startswith("/") else value
    if family == "ipv6":
        accepted = "a prefix length from 1 to 128 (IPv6 takes no dotted netmask)"
        if isinstance(value, str) and "." in value:
            raise OptionError(option, f"{value!r} is a dotted netmask but the service is IPv6; accepted: {accepted}")
        return in_range(option, value, 1, 128, accepted)
    accepted = "a netmask such as 255.255.255.0, or a prefix length from 1 to 32"
    if isinstance(value, str) and "." in value:
        try:
            mask = int(ipaddress.IPv4Address(value))
        except ValueError:
            raise OptionError(option, f"{value!r} is not a netmask; accepted: {accepted}") from None
        prefix = mask_to_prefix(mask)
        if prefix is None:
            raise OptionError(option, f"{value} is not a contiguous netmask; accepted: {accepted}")
        return in_range(option, prefix, 1, 32, accepted)
    return in_range(option, value, 1, 32, accepted)


def _scheduler_flags(scheduler: str, value: t.Any) -> t.Tuple[str, ...]:
    option = "scheduler_flags"
    names = [name.strip() for name in value.split(",") if name.strip()] if isinstance(value, str) else list(value or ())
    own = SCHEDULER_FLAG_NAMES.get(scheduler, RAW_FLAG_NAMES)
    accepted = f"for scheduler {scheduler}: " + ", ".join(sorted(set(own) | set(RAW_FLAG_NAMES)))
    for name in names:
        if name not in SCHEDULER_FLAGS:
            raise OptionError(option, f"{name!r} is not a scheduler flag; accepted: {accepted}")
        if name not in own and name not in RAW_FLAG_NAMES:
            owner = name.split("-")[0]
            raise OptionError(option, f"{name} is a flag of scheduler {owner}, not {scheduler}; accepted: {accepted}")
    return flag_names(scheduler, flag_bits(names))


def service_from_params(params: t.Mapping[str, t.Any]) -> Service:
    """Validate the options that describe one service (the names of ipvs_service) and normalise them.

    With state=absent only the identity matters, so port 0 is accepted without persistence there.
    persistence_timeout is an integer; ipvsadm's `-p` without a value means 360.
    """
    fwmark = params.get("fwmark")
    if fwmark is not None:
        for option in ("protocol", "address", "port"):
            if params.get(option) is not None:
                raise OptionError(option, "cannot be combined with fwmark; accepted: either fwmark (and family), or protocol, address and port")
        fwmark = FWMARK.check(fwmark)
        family = _choice("family", params.get("family") or "ipv4", AF_OF_FAMILY)
        protocol = address = port = None
    else:
        accepted = {"protocol": "tcp, udp, sctp", "address": "an IPv4 or IPv6 address", "port": "0 to 65535"}
        for option in ("protocol", "address", "port"):
            if params.get(option) is None:
                raise OptionError(option, f"missing: a service is named by protocol, address and port, or by fwmark; accepted: {accepted[option]}")
        protocol = _choice("protocol", params["protocol"], PROTOCOLS)
        address, family = _address("address", params["address"])
        if params.get("family") not in (None, family):
            raise OptionError("family", f"{params['family']!r} does not match address {address}; accepted: {family}, or leave family unset")
        port = PORT.check(params["port"])

    scheduler = _choice("scheduler", params.get("scheduler") or DEFAULT_SCHEDULER, SCHEDULERS)
    scheduler_flags = _scheduler_flags(scheduler, params.get("scheduler_flags"))

    timeout = params.get("persistence_timeout")
    if timeout is not None:
        timeout = PERSISTENCE_TIMEOUT.check(timeout)
    granularity = params.get("persistence_granularity")
    if granularity not in (None, ""):
        if timeout is None:
            raise OptionError("persistence_granularity", "needs persistence_timeout; accepted: a granularity only together with persistence_timeout")
        granularity = _granularity(family, granularity)
    else:
        granularity = FULL_PREFIX[family] if timeout is not None else None
    engine = params.get("persistence_engine") or None
    if engine is not None:
        engine = _choice("persistence_engine", engine, PERSISTENCE_ENGINES)
        if timeout is None:
            raise OptionError("persistence_engine", "needs persistence_timeout; accepted: sip together with persistence_timeout")
    if port == 0 and timeout is None and params.get("state") != "absent":
        raise OptionError("port", "0 (every port of the VIP, PCC) needs persistence_timeout; accepted: 1 to 65535, or 0 with persistence_timeout")
    one_packet = bool(params.get("one_packet"))
    if one_packet and protocol not in (None, "udp"):
        raise OptionError("one_packet", f"does not apply to a {protocol} service; accepted: true only for udp and fwmark services, else false")

    return Service(
        family=family, protocol=protocol, address=address, port=port, fwmark=fwmark,
        scheduler=scheduler, scheduler_flags=scheduler_flags,
        persistence_timeout=timeout, persistence_granularity=granularity, persistence_engine=engine,
        one_packet=one_packet,
    )


def _server_port(params: t.Mapping[str, t.Any], service: Service, forwarding: str) -> int:
    server_port = params.get("server_port")
    if server_port is not None:
        server_port = SERVER_PORT.check(server_port)
    if service.fwmark is not None:
        # A fwmark service has no port of its own: 0 keeps the packet's destination port.
        return 0 if server_port is None else server_port
    if forwarding in ("dr", "tunnel"):
        # DR and tunnel forward the packet unchanged, so ipvsadm silently uses the service port. Silently
        # ignoring another value would report what the kernel does not hold, so a different port is an error.
        if server_port not in (None, service.port):
            raise OptionError("server_port", f"{server_port} differs from the service port {service.port}, which {forwarding} forwarding always uses; "
                              f"accepted: {service.port} or unset, or forwarding nat to change the port")
        return t.cast(int, service.port)
    return t.cast(int, service.port) if server_port is None else server_port


def _tunnel(params: t.Mapping[str, t.Any], forwarding: str) -> t.Tuple[t.Optional[str], t.Optional[int], t.Optional[str]]:
    given = {option: params.get(option) for option in ("tunnel_type", "tunnel_port", "tunnel_checksum")}
    if forwarding != "tunnel":
        for option, value in given.items():
            if value is not None:
                raise OptionError(option, f"does not apply to forwarding {forwarding}; accepted: only with forwarding tunnel")
        return None, None, None
    tunnel_type = _choice("tunnel_type", given["tunnel_type"] or "ipip", TUNNEL_TYPES)
    tunnel_port = given["tunnel_port"]
    if tunnel_type == "gue":
        if tunnel_port is None:
            raise OptionError("tunnel_port", "missing: tunnel_type gue needs the UDP port of the tunnel; accepted: 1 to 65535")
        tunnel_port = TUNNEL_PORT.check(tunnel_port)
    elif tunnel_port is not None:
        raise OptionError("tunnel_port", f"does not apply to tunnel_type {tunnel_type}; accepted: only with tunnel_type gue")
    checksum = given["tunnel_checksum"]
    if checksum is None:
        return tunnel_type, tunnel_port, (None if tunnel_type == "ipip" else "nocsum")
    checksum = _choice("tunnel_checksum", checksum, TUNNEL_CHECKSUMS)
    if tunnel_type == "ipip":
        raise OptionError("tunnel_checksum", "does not apply to tunnel_type ipip; accepted: nocsum, csum, remcsum with gue; nocsum, csum with gre")
    if checksum == "remcsum" and tunnel_type != "gue":
        raise OptionError("tunnel_checksum", f"remcsum does not apply to tunnel_type {tunnel_type}; accepted: nocsum, csum (remcsum only with gue)")
    return tunnel_type, tunnel_port, checksum


def _threshold(params: t.Mapping[str, t.Any], field: Integer) -> int:
    value = params.get(field.option)
    return 0 if value is None else field.check(value)


def real_server_from_params(params: t.Mapping[str, t.Any], service: Service) -> RealServer:
    """Validate the options of one real server of `service` and normalise them.

    state=drained gives weight 0 (whatever weight says); state=absent is the caller's business.
    """
    _choice("state", params.get("state") or "present", ("present", "absent", "drained"))
    if params.get("server") is None:
        raise OptionError("server", "missing; accepted: the IPv4 or IPv6 address of the real server")
    address, family = _address("server", params["server"])
    forwarding = FORWARDING_ALIASES.get(params.get("forwarding") or "dr")
    if forwarding is None:
        raise OptionError("forwarding", f"{params['forwarding']!r} is not valid; accepted: {_FORWARDING_ACCEPTED}")
    if family != service.family and forwarding != "tunnel":
        raise OptionError("server", f"{address} is {family} but the service is {service.family}; accepted: an {service.family} address, "
                          "or forwarding tunnel")
    port = _server_port(params, service, forwarding)
    weight = params.get("weight")
    weight = 1 if weight is None else WEIGHT.check(weight)
    if params.get("state") == "drained":
        weight = 0
    upper, lower = (_threshold(params, field) for field in (UPPER_THRESHOLD, LOWER_THRESHOLD))
    if lower > upper:
        # The kernel refuses it (ERANGE), also with upper 0 (no limit).
        raise OptionError("lower_threshold", f"{lower} is above upper_threshold {upper}; accepted: 0, or at most upper_threshold")
    tunnel_type, tunnel_port, tunnel_checksum = _tunnel(params, forwarding)
    return RealServer(
        address=address, port=port, forwarding=forwarding, weight=weight, upper_threshold=upper, lower_threshold=lower,
        tunnel_type=tunnel_type, tunnel_port=tunnel_port, tunnel_checksum=tunnel_checksum,
    )


def real_servers_from_params(entries: t.Sequence[t.Mapping[str, t.Any]], service: Service) -> t.Tuple[t.List[RealServer], t.List[RealServer]]:
    """Validate a real_servers list: (present or drained servers, servers to remove); each server once."""
    present: t.List[RealServer] = []
    absent: t.List[RealServer] = []
    seen: t.Dict[t.Tuple[str, int], int] = {}
    for index, entry in enumerate(entries):
        try:
            real_server = real_server_from_params(entry, service)
        except OptionError as error:
            raise OptionError(f"real_servers[{index}].{error.option}", error.message) from None
        if real_server.key in seen:
            raise OptionError("real_servers", f"{render_address_port(*real_server.key)} is listed twice (entries {seen[real_server.key]} and {index}); "
                              "accepted: each real server address and port once")
        seen[real_server.key] = index
        (absent if entry.get("state") == "absent" else present).append(real_server)
    return present, absent


def render_address_port(address: str, port: int) -> str:
    """ipvsadm's address:port, IPv6 in brackets."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
