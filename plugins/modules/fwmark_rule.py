#!/usr/bin/python
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: fwmark_rule
short_description: Mark packets for several ports of a VIP with one firewall mark, for a fwmark IPVS service
version_added: 0.1.0
description:
  - Sets a firewall mark on packets to a destination (a VIP or a network), protocol and list of ports, optionally only from a
    source network, so that one fwmark virtual service (M(lvs.ipvs.ipvs_service) with O(lvs.ipvs.ipvs_service#module:fwmark))
    balances them together. This is the PNMPP recipe - C(iptables -t mangle -A PREROUTING -d VIP -p tcp --dport 80 -j MARK
    --set-mark 8), the same for 443 - as one task; M(ansible.builtin.iptables) cannot set a mark.
  - Each rule has a name, written into the kernel as the comment C(lvs.ipvs:<name>). The module reads the kernel once, compares
    in memory, and changes only rules with that tag; it never changes anything else.
  - With the nftables backend the rules live in the module's own C(inet) table O(table), in a C(prerouting) chain (type filter,
    priority mangle) and, while a rule is O(local), an C(output) chain (type route, priority mangle, as iptables' mangle OUTPUT).
    Every change is one nft JSON batch, committed as one transaction. Only that table is listed. Chains and the table are removed
    when nothing is left in them.
  - With the iptables backend the rules are lines of the mangle table's C(PREROUTING) and C(OUTPUT) chains (C(ip6tables) for
    IPv6), C(-m multiport --dports) for several ports, C(-j MARK). Each family is read once (C(iptables -t mangle -S)) and
    changed with one C(iptables-restore --noflush) batch.
  - Every option is validated before the kernel is read; an invalid task changes nothing.
author:
  - lvs.ipvs contributors (@lvs-ipvs)
extends_documentation_fragment:
  - lvs.ipvs._attributes
  - lvs.ipvs._attributes.ALL
options:
  name:
    description:
      - Name of the rule, its identity in the kernel (the comment C(lvs.ipvs:<name>)). 1 to 100 letters, digits and characters of C(._-:/,+@).
      - When omitted, the name is derived from O(protocol), O(destination), O(ports) and O(source), for example
        C(tcp-198.51.100.1-80,443). Then a change of the ports is another rule (the old one stays unless O(purge=true));
        give a name to change the ports of a rule in place.
      - Mutually exclusive with O(rules).
    type: str
  mark:
    description:
      - The firewall mark to set, 1 to 4294967295. The fwmark of the virtual service (C(ipvsadm -f)).
      - Required with O(state=present).
    type: int
  destination:
    description:
      - Destination address (the VIP) or network in CIDR notation, IPv4 or IPv6, such as V(198.51.100.1) or V(2001:db8::/64).
      - Required with O(state=present), and with O(state=absent) when O(name) is not given.
    type: str
  protocol:
    description:
      - Transport protocol of the packets to mark.
    type: str
    choices: [tcp, udp, sctp]
    default: tcp
  ports:
    description:
      - Destination ports to mark, each 1 to 65535, and ranges such as V(8000-8080) (V(8000:8080) works too).
      - Overlapping and adjacent ports are merged; order does not matter.
      - Required with O(state=present), and with O(state=absent) when O(name) is not given.
    type: list
    elements: str
  source:
    description:
      - Mark only packets from this address or network (CIDR), of the family of O(destination).
    type: str
  local:
    description:
      - Also mark packets the director sends itself (an output hook; C(OUTPUT) with iptables), so that a test from the
        director reaches the fwmark service. Locally generated packets never pass the prerouting hook.
    type: bool
    default: false
  rules:
    description:
      - Several rules in one task, read once and changed in one batch; each takes the options of one rule.
      - Mutually exclusive with O(name), O(mark), O(destination), O(protocol), O(ports), O(source) and O(local).
      - With O(purge=true) this list is the whole truth; V([]) with O(purge=true) removes every rule of this collection.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the rule; derived from the match when omitted (see O(name)).
        type: str
      mark:
        description: The firewall mark to set, 1 to 4294967295.
        type: int
      destination:
        description: Destination address or network (CIDR), IPv4 or IPv6.
        type: str
      protocol:
        description: Transport protocol.
        type: str
        choices: [tcp, udp, sctp]
        default: tcp
      ports:
        description: Destination ports and ranges such as V(8000-8080).
        type: list
        elements: str
      source:
        description: Source address or network (CIDR), of the family of O(rules[].destination).
        type: str
      local:
        description: Also mark locally generated packets (see O(local)).
        type: bool
        default: false
  purge:
    description:
      - Remove every rule tagged by this collection that this task does not declare (in O(table) with nftables; in mangle
        C(PREROUTING) and C(OUTPUT), both families, with iptables). This is how a role keeps exactly the rules it declares.
      - Rules without the C(lvs.ipvs:) tag are never touched.
      - Only with O(state=present).
    type: bool
    default: false
  state:
    description:
      - V(present) adds the rule or changes it in place (one transaction); V(absent) removes the rule with this name
        (or the derived name), whatever it matches.
    type: str
    choices: [present, absent]
    default: present
  backend:
    description:
      - V(nftables) uses nft's JSON, through the libnftables Python binding where it can be imported, else the C(nft) program.
      - V(iptables) uses C(iptables), C(ip6tables), C(iptables-restore) and C(ip6tables-restore) (nf_tables or legacy variant).
      - V(auto) uses nftables where C(nft) works, else iptables.
      - The backends do not see each other's rules; after switching, remove the rules of the old one with O(state=absent) or
        O(purge=true) and that O(backend).
    type: str
    choices: [auto, nftables, iptables]
    default: auto
  table:
    description:
      - Name of the module's own C(inet) table (nftables backend). A letter or C(_), then up to 63 letters, digits or C(_).
      - The iptables backend always uses the mangle table and ignores this option.
    type: str
    default: lvs_ipvs
requirements:
  - Python 3.7 to 3.13 on the managed node, as far as the ansible-core in use supports it there (3.7 needs ansible-core 2.17)
  - "nftables backend: C(nft) built with JSON support, or the libnftables Python binding (Debian: C(python3-nftables)); tested with nftables 1.0.6
    (Debian 12)"
  - "iptables backend: C(iptables) with the MARK target and the comment and multiport matches, nf_tables or legacy variant; tested with 1.8.9 (Debian 12)"
  - root, or C(CAP_NET_ADMIN)
notes:
  - When several rules match one packet, the last one to run sets the mark; give rules for one packet one mark.
  - With iptables, IPv4 and IPv6 are two commits (C(iptables-restore) and C(ip6tables-restore)); each alone is atomic.
  - A changed rule is replaced in place with nftables (C(replace rule ... handle)); with iptables its old line is deleted and the
    new one appended, in the same commit.
  - More than 15 ports (a range counts as two) become several iptables lines with the same tag (the limit of C(-m multiport)).
seealso:
  - module: lvs.ipvs.ipvs_service
"""

EXAMPLES = r"""
- name: PNMPP - HTTP and HTTPS of the VIP get mark 8 (iptables -t mangle -A PREROUTING -d VIP -p tcp --dport 80/443 -j MARK --set-mark 8)
  lvs.ipvs.fwmark_rule:
    name: shop
    mark: 8
    destination: 198.51.100.1
    protocol: tcp
    ports: [80, 443]

- name: The fwmark service that balances them together
  lvs.ipvs.ipvs_service:
    fwmark: 8
    scheduler: rr
    persistence_timeout: 600

- name: Mark the director's own test traffic too, and a range of ports of an IPv6 VIP
  lvs.ipvs.fwmark_rule:
    name: shop-v6
    mark: 9
    destination: 2001:db8::10
    ports: [80, 443, "8000-8080"]
    local: true

- name: A role declares all its rules; rules of this collection it does not declare go
  lvs.ipvs.fwmark_rule:
    rules:
      - name: shop
        mark: 8
        destination: 198.51.100.1
        ports: [80, 443]
      - name: voip
        mark: 10
        destination: 198.51.100.2
        protocol: udp
        ports: ["5060-5061"]
        source: 192.0.2.0/24
    purge: true

- name: Remove one rule
  lvs.ipvs.fwmark_rule:
    name: shop-v6
    state: absent

- name: Remove every rule of this collection (and with nftables its table)
  lvs.ipvs.fwmark_rule:
    rules: []
    purge: true

- name: Force the iptables backend
  lvs.ipvs.fwmark_rule:
    mark: 8
    destination: 198.51.100.1
    ports: [80, 443]
    backend: iptables
"""

RETURN = r"""
backend:
  description: The backend used.
  returned: success
  type: str
  sample: nftables
interface:
  description: How the backend was driven - V(libnftables) (the Python binding), V(nft) (the program), or V(iptables-restore).
  returned: success
  type: str
  sample: libnftables
commands:
  description:
    - What was sent (in check mode, what would be), as nft commands (sent as one JSON batch) or as C(iptables) / C(ip6tables)
      lines (sent as one C(iptables-restore --noflush) batch per family).
  returned: success
  type: list
  elements: str
  sample:
    - add table inet lvs_ipvs
    - add chain inet lvs_ipvs prerouting { type filter hook prerouting priority mangle; policy accept; }
    - add rule inet lvs_ipvs prerouting ip daddr 198.51.100.1 tcp dport { 80, 443 } counter meta mark set 0x00000008 comment "lvs.ipvs:shop"
rules:
  description:
    - The rules of this collection in the kernel after the run (read back; in check mode, as they would be), sorted by name.
    - Fields are null for a tagged rule that does something this module does not write (C(text) shows it).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The name (the tag is C(lvs.ipvs:<name>)).
      type: str
    mark:
      description: The mark set.
      type: int
    family:
      description: V(ipv4) or V(ipv6).
      type: str
    destination:
      description: Destination network in CIDR notation.
      type: str
    protocol:
      description: V(tcp), V(udp) or V(sctp).
      type: str
    ports:
      description: Destination ports and ranges, merged and sorted.
      type: list
      elements: str
    source:
      description: Source network, or null.
      type: str
    local:
      description: Whether locally generated packets are marked too.
      type: bool
    text:
      description: The kernel rules of this rule, as nft or C(iptables -S) prints them.
      type: list
      elements: str
  sample:
    - name: shop
      mark: 8
      family: ipv4
      destination: 198.51.100.1/32
      protocol: tcp
      ports: ["80", "443"]
      source: null
      local: false
      text: ['ip daddr 198.51.100.1 tcp dport { 80, 443 } counter meta mark set 0x00000008 comment "lvs.ipvs:shop"']
option:
  description: On a validation failure, the option that is wrong.
  returned: failure
  type: str
  sample: ports
"""

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError
from ansible_collections.lvs.ipvs.plugins.module_utils._check_mode import assume
from ansible_collections.lvs.ipvs.plugins.module_utils._argspec import fwmark_rule_spec
from ansible_collections.lvs.ipvs.plugins.module_utils._fwmark import BackendError, request_from_params, run
from ansible_collections.lvs.ipvs.plugins.module_utils._fwmark_iptables import IptablesBackend
from ansible_collections.lvs.ipvs.plugins.module_utils._fwmark_nft import NftBackend, open_interface


class NftNotInstalled:
    """Stands in for nft in check mode where it is not installed yet: lists our table as missing (an empty ruleset)."""

    name = "nft"

    def __call__(self, batch: t.Dict[str, t.Any]) -> t.Tuple[int, t.Optional[t.Dict[str, t.Any]], str]:
        return 1, None, "Error: No such file or directory (nft is not installed)"


def select_backend(choice: str, table: str, runner: t.Callable[..., t.Tuple[int, str, str]], which: t.Callable[[str], t.Optional[str]],
                   check_mode: bool = False, warn: t.Optional[t.Callable[[str], None]] = None) -> t.Any:
    """nftables where nft works (for auto: lists our table without an error), else iptables.

    In check mode, where neither nft nor its Python binding is installed and iptables is not asked for, the nftables
    backend plans against an empty ruleset and a warning says so (an earlier task installs nftables: the director role does).
    """
    if choice != "iptables":
        interface = open_interface(runner, which)
        why = "neither the nftables Python binding nor the nft program is installed"
        if interface is None and check_mode and warn is not None and (choice == "nftables" or not which("iptables")):
            assume(warn, f"{why} (backend={choice})", "installs")
            return NftBackend(NftNotInstalled(), table)
        if interface is not None:
            backend = NftBackend(interface, table)
            try:
                backend.read()
                return backend
            except BackendError as exc:
                why = str(exc)
        if choice == "nftables":
            raise BackendError(f"backend=nftables does not work here: {why}")
    return IptablesBackend(runner, which)


def execute(params: t.Mapping[str, t.Any], runner: t.Callable[..., t.Tuple[int, str, str]], which: t.Callable[[str], t.Optional[str]],
            check_mode: bool, diff: bool, warn: t.Optional[t.Callable[[str], None]] = None) -> t.Dict[str, t.Any]:
    """Validate, choose the backend, run. Raises OptionError before anything is read, BackendError when the kernel refuses."""
    request = request_from_params(params)
    backend = select_backend(request.backend, request.table, runner, which, check_mode, warn)
    return run(backend, request, check_mode=check_mode, diff=diff)


def main() -> None:
    module = AnsibleModule(supports_check_mode=True, **fwmark_rule_spec())

    def runner(args: t.List[str], data: t.Optional[str] = None) -> t.Tuple[int, str, str]:
        return module.run_command(args, data=data, environ_update={"LC_ALL": "C", "LANG": "C"})

    try:
        result = execute(module.params, runner, module.get_bin_path, module.check_mode, module._diff, module.warn)
    except OptionError as exc:
        module.fail_json(msg=str(exc), option=exc.option)
    except BackendError as exc:
        module.fail_json(msg=str(exc), commands=exc.commands)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
