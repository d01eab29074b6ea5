"""Shared fixtures: Brian targets are reset around every test."""

import logging

import pytest

from brian2 import prefs, set_device
from brian2.devices import device
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice


@pytest.fixture(autouse=True)
def runtime_device():
    """Each test starts on the runtime device and leaves no standalone state behind."""
    logging.getLogger("brian2").setLevel(logging.ERROR)
    yield
    from brian2 import get_device

    if isinstance(get_device(), CPPStandaloneDevice):
        device.reinit()
    set_device("runtime")
    prefs.codegen.target = "numpy"


def pytest_configure(config):
    logging.getLogger("brian2").setLevel(logging.ERROR)
