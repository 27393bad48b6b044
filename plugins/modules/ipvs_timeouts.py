#!/usr/bin/python
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ipvs_timeouts
short_description: Set IPVS's global idle timeouts for TCP, TCP after FIN, and UDP
version_added: 0.1.0
description:
  - Sets what C(ipvsadm --set tcp tcpfin udp) sets and C(ipvsadm -Ln --timeout) shows. The kernel's defaults are 900, 120 and 300 seconds.
  - A timeout that is not given is left as it is.
  - Keep O(tcpfin) below the persistence timeouts of your services, so finished connections do not keep renewing templates.
  - C(ipvsadm -S) does not save these timeouts; the C(director) role makes them survive a reboot.
author:
  - lvs.ipvs contributors (@lvs-ipvs)
extends_documentation_fragment:
  - lvs.ipvs._attributes
  - lvs.ipvs._attributes.ALL
  - lvs.ipvs._netns
options:
  tcp:
    description: Idle timeout of established TCP connections, in seconds (1 to 2147483).
    type: int
  tcpfin:
    description: Timeout of TCP connections after a FIN, in seconds (1 to 2147483).
    type: int
  udp:
    description: Idle timeout of UDP connections, in seconds (1 to 2147483).
    type: int
seealso:
  - module: lvs.ipvs.ipvs_info
"""

EXAMPLES = r"""
- name: The article's advice - tcpfin well below the persistence timeout
  lvs.ipvs.ipvs_timeouts:
    tcp: 900
    tcpfin: 30
    udp: 300
"""

RETURN = r"""
before:
  description: The timeouts before the run.
  returned: always
  type: dict
  sample: {"tcp": 900, "tcpfin": 120, "udp": 300}
after:
  description: The timeouts after the run (in check mode, as they would be).
  returned: always
  type: dict
  sample: {"tcp": 900, "tcpfin": 30, "udp": 300}
commands:
  description: What was sent (or would be), as C(ipvsadm) command lines.
  returned: always
  type: list
  elements: str
  sample: ["--set 900 30 300"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils._argspec import ipvs_timeouts_spec
from ansible_collections.lvs.ipvs.plugins.module_utils._timeouts_task import run_timeouts


def main() -> None:
    module = AnsibleModule(supports_check_mode=True, **ipvs_timeouts_spec())
    run_timeouts(module)


if __name__ == "__main__":
    main()
