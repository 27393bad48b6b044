# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fake kernel in place of the netlink client, for tests that run a module's main()."""

from __future__ import annotations

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _kernel, _lock
from tests.unit.plugins.module_utils.fake_kernel import FakeKernel


class Installed:
    """The fake kernel the module runs of a test open: `fake`, replaced by install()."""

    def __init__(self) -> None:
        self.fake = FakeKernel()

    def connect(self, netns):
        return self.fake.connect(netns)

    def install(self, fake: FakeKernel) -> FakeKernel:
        self.fake = fake
        return fake


@pytest.fixture
def kernel(monkeypatch, tmp_path):
    """Module runs open kernel.fake (an empty FakeKernel until the test installs another); the table lock is taken
    under the test's own directory."""
    monkeypatch.setattr(_lock, "LOCK_DIR", str(tmp_path / "lock"))
    installed = Installed()
    monkeypatch.setattr(_kernel, "connect", installed.connect)
    return installed
