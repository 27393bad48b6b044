# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Timeouts as an operation of the planner (_timeouts), and ipvs_timeouts through the engine against the fake kernel."""

from __future__ import annotations

import errno

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils._engine import apply, undo_each
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import TaskError
from ansible_collections.lvs.ipvs.plugins.module_utils._timeouts import Timeouts, TimeoutsOperation, plan_timeouts
from ansible_collections.lvs.ipvs.plugins.modules import ipvs_timeouts
from tests.unit.plugins.module_utils.fake_kernel import FakeKernel, run_main

KERNEL = Timeouts(900, 120, 300)


@pytest.mark.parametrize("want, commands", [
    (Timeouts(), []),
    (Timeouts(tcp=900), []),
    (Timeouts(tcp=7200), ["--set 7200 0 0"]),
    (Timeouts(tcp=900, udp=60), ["--set 0 0 60"]),
    (Timeouts(7200, 60, 60), ["--set 7200 60 60"]),
])
def test_plan_sets_only_what_differs(want, commands):
    assert [operation.render() for operation in plan_timeouts(want, KERNEL)] == commands


def test_undo_puts_back_what_was_changed_only():
    (operation,) = plan_timeouts(Timeouts(tcp=7200, udp=60), KERNEL)
    assert operation.after() == Timeouts(7200, 120, 60)
    assert operation.undo() == TimeoutsOperation(Timeouts(tcp=900, udp=300), Timeouts(7200, 120, 60))
    assert operation.undo().render() == "--set 900 0 300"


def test_a_refused_set_is_reported_and_changes_nothing():
    fake = FakeKernel(refuse={"--set 7200 0 0": errno.EINVAL})
    with pytest.raises(TaskError) as caught:
        apply(fake, plan_timeouts(Timeouts(tcp=7200), Timeouts.from_kernel(fake.timeouts())), undo_each)
    assert str(caught.value).startswith("the kernel refused `ipvsadm --set 7200 0 0`")
    assert caught.value.result["applied_commands"] == [] and caught.value.result["rolled_back_commands"] == []
    assert fake.timeouts() == KERNEL.to_kernel()


def run(args, check=False):
    return run_main(ipvs_timeouts, args, check)


def test_four_steps(kernel):
    args = {"tcp": 7200, "udp": 60}
    results = [run(args, check=True), run(args), run(args, check=True), run(args)]
    assert [result["changed"] for result in results] == [True, True, False, False]
    assert results[0]["commands"] == results[1]["commands"] == ["--set 7200 0 60"]
    assert results[0]["before"] == {"tcp": 900, "tcpfin": 120, "udp": 300}
    assert results[0]["after"] == results[1]["after"] == {"tcp": 7200, "tcpfin": 120, "udp": 60}
    assert results[1]["diff"] == {"before": "--set 900 120 300\n", "after": "--set 7200 120 60\n"}
    assert results[3]["commands"] == [] and results[3]["before"] == results[3]["after"]
    assert kernel.fake.commands == ["--set 7200 0 60"]


def test_out_of_range_changes_nothing(kernel):
    result = run({"tcp": 0})
    assert result["failed"] and result["option"] == "tcp" and "1 to 2147483" in result["msg"]
    assert kernel.fake.sent == []
