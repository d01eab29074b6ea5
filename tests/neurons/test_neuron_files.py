"""Every parameter file in ``models/neurons/`` loads through the one loader into the one
model class and builds into a group on every target, with the same state after a short
deterministic run on numpy and cpp_standalone, and (opt-in, ``-m slow``: ~3 min of cold
Cython compilation for ~90 code objects) on cython."""

import numpy as np
import pytest
from brian2 import Hz, Network, StateMonitor, ms, pA

from dendritic import config as cfg
from dendritic.backend import Backend
from dendritic.neurons import KINDS, NeuronModel, load_neuron

FILES = sorted(path.stem for path in (cfg.MODELS_DIR / "neurons").glob("*.toml"))
#: a drive per input kind that moves every neuron away from rest without randomness
#: (the rate controller: a target rate, switched on)
DRIVES = {"I_soma": 300 * pA, "I_dend": 200 * pA, "I_ext": 150 * pA, "r_target": 10 * Hz, "on": 1}


def test_every_file_loads_into_one_model_class():
    kinds = set()
    for name in FILES:
        model = load_neuron(name)
        assert isinstance(model, NeuronModel) and model.kind in KINDS
        assert set(model.options) == set(model.spec.header)
        kinds.add(model.kind)
    assert kinds == set(KINDS)  # every registered kind has a file


def _run(target, tmp_path):
    states = {}
    with Backend(target, build_dir=tmp_path / "build", seed=None) as backend:
        groups, monitors = [], []
        for name in FILES:
            model = load_neuron(name)
            if "phi_max" in model.parameters:  # Poisson output off: no random numbers drawn
                model = model.with_parameters(phi_max=0 * model.parameters["phi_max"])
            group = model.make_group(3, name=name)
            for key, value in DRIVES.items():
                if key in model.spec.inputs:
                    setattr(group, key, value)
            groups.append((model, group))
        backend.parameters_set()
        for model, group in groups:
            model.initialise(group)
            monitors.append(StateMonitor(group, model.spec.potential, record=True, name=f"{group.name}_v"))
        backend.run(Network(*(g for _, g in groups), *monitors), 5 * ms)
        for (model, group), monitor in zip(groups, monitors):
            states[group.name] = np.asarray(getattr(monitor, model.spec.potential)[:])
    return states


@pytest.mark.standalone
@pytest.mark.parametrize("target", ["cpp_standalone", pytest.param("cython", marks=pytest.mark.slow)])
def test_every_file_builds_and_runs_alike_on_numpy_and(target, tmp_path):
    reference_run, run = _run("numpy", tmp_path / "numpy"), _run(target, tmp_path / target)
    for name in FILES:
        reference = reference_run[name]
        assert np.ptp(reference) > 0, f"{name}: the drive did not move the potential"
        np.testing.assert_allclose(run[name], reference, rtol=1e-9, atol=1e-15, err_msg=f"{name} {target}")
