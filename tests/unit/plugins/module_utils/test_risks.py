# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The risky combinations the modules warn about (_risks), alone and through a module run on the fake kernel."""

from __future__ import annotations

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils._model import real_server_from_params, service_from_params
from ansible_collections.lvs.ipvs.plugins.module_utils._planner import make_table
from ansible_collections.lvs.ipvs.plugins.module_utils._risks import risks
from ansible_collections.lvs.ipvs.plugins.modules import ipvs_real_server, ipvs_service
from tests.unit.plugins.module_utils.fake_kernel import FakeKernel, run_main, warnings

VIP = {"protocol": "tcp", "address": "198.51.100.1", "port": 80}
SAFE = {"expire_quiescent_template": 1, "sync_persist_mode": 0, "sloppy_tcp": 0}


def table(service_options, weights):
    service = service_from_params(dict(VIP, state="present", **service_options))
    servers = [real_server_from_params({"server": f"192.0.2.{11 + index}", "weight": weight}, service) for index, weight in enumerate(weights)]
    return make_table([(service, servers)]), service.key


def test_a_persistent_service_with_a_weight_0_server_and_expire_quiescent_template_0():
    have, dummy = table({"persistence_timeout": 600}, [1, 0])
    found = risks(have, dict(SAFE, expire_quiescent_template=0))
    assert len(found) == 1
    assert found[0].startswith("-t 198.51.100.1:80 is persistent and net.ipv4.vs.expire_quiescent_template is 0: its real servers at "
                               "weight 0 (192.0.2.12:80) keep the clients pinned to them for up to 600 s")
    assert risks(have, SAFE) == []


def test_a_quiescing_health_check_counts_as_a_weight_0_server():
    have, key = table({"persistence_timeout": 600}, [1, 1])
    assert risks(have, dict(SAFE, expire_quiescent_template=0)) == []
    found = risks(have, dict(SAFE, expire_quiescent_template=0), quiescing={key})
    assert len(found) == 1 and "a real server its health check quiesces" in found[0]


@pytest.mark.parametrize("scheduler", ["sh", "mh"])
def test_sh_and_mh_without_their_fallback_flag_while_a_server_is_at_weight_0(scheduler):
    have, dummy = table({"scheduler": scheduler}, [1, 0])
    assert risks(have, SAFE) == [f"-t 198.51.100.1:80 uses the {scheduler} scheduler without {scheduler}-fallback: the clients hashed to "
                                 f"192.0.2.12:80 at weight 0 are sent nowhere; add {scheduler}-fallback to scheduler_flags"]
    with_fallback, dummy = table({"scheduler": scheduler, "scheduler_flags": [f"{scheduler}-fallback"]}, [1, 0])
    assert risks(with_fallback, SAFE) == []
    all_up, dummy = table({"scheduler": scheduler}, [1, 1])
    assert risks(all_up, SAFE) == []


def test_sync_persist_mode_without_sloppy_tcp_matters_for_persistent_services():
    persistent, dummy = table({"persistence_timeout": 600}, [1])
    plain, dummy = table({}, [1])
    settings = dict(SAFE, sync_persist_mode=1)
    assert len(risks(persistent, settings)) == 1 and "sloppy_tcp is 0" in risks(persistent, settings)[0]
    assert risks(plain, settings) == []
    assert risks(persistent, dict(settings, sloppy_tcp=1)) == []


def test_an_unreadable_sysctl_warns_nothing():
    have, dummy = table({"persistence_timeout": 600}, [0])
    assert risks(have, {"expire_quiescent_template": None, "sync_persist_mode": None, "sloppy_tcp": None}) == []


@pytest.mark.parametrize("expire, warned", [(0, True), (1, False)])
def test_draining_a_real_server_of_a_persistent_service_warns_by_the_sysctl(kernel, expire, warned):
    kernel.install(FakeKernel(sysctls={"expire_quiescent_template": expire}))
    result = run_main(ipvs_service, dict(VIP, persistence_timeout=600, real_servers=[{"server": "192.0.2.11"}, {"server": "192.0.2.12"}]))
    assert result["changed"] and not warnings(result)
    result = run_main(ipvs_real_server, dict(VIP, server="192.0.2.12", state="drained"))
    assert result["commands"] == ["-e -t 198.51.100.1:80 -r 192.0.2.12:80 -g -w 0"]
    assert bool([w for w in warnings(result) if "expire_quiescent_template is 0" in w]) is warned


def test_the_warning_is_about_the_task_s_own_service(kernel):
    other = {"protocol": "tcp", "address": "198.51.100.2", "port": 80}
    kernel.install(FakeKernel())
    run_main(ipvs_service, dict(other, persistence_timeout=600, real_servers=[{"server": "192.0.2.11", "weight": 0}]))
    result = run_main(ipvs_service, dict(VIP, real_servers=[{"server": "192.0.2.11"}]))
    assert result["changed"] and not warnings(result)
