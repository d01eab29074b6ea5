# Checks run in the kernel after the last cell of notebooks/f_saved_runs.ipynb. The file is
# read again here with h5py alone (SI values, units as attributes), not with dendritic.io.
import contextlib
import io
from pathlib import Path

import h5py
import numpy as np

with h5py.File("population.h5", "r") as f:
    attrs = dict(f.attrs)
    T = float(f["network/duration"][()])
    spikes = {name: (int(g["N"][()]), g["i"][:], g["t"][:]) for name, g in f["spikes"].items()}
    s = f["states/pyramidal"]
    u, v_basal, v_apical, prediction, rate = (s[k][:] for k in ("u", "v_basal", "v_apical", "dendritic_prediction", "rate"))
    units = {k: s[k].attrs["unit"] for k in ("u", "rate", "t")}
    p = {k: float(f[f"parameters/pyramidal/{k}"][()]) for k in ("g_L", "g_B", "g_A", "E_L")}
    groups = []
    f.visit(groups.append)

# 1. the run asked for: experiment, target, seed, duration
assert attrs["experiment"] == "population" and attrs["target"] == "numpy" and int(attrs["seed"]) == 1
assert abs(T - 0.5) < 1e-12
assert units["u"] in ("V", "volt") and units["t"] in ("s", "second") and units["rate"] in ("Hz", "hertz")
for n, i, t in spikes.values():
    assert len(i) == len(t) and (len(i) == 0 or (0 <= i.min() and i.max() < n and 0 <= t.min() and t.max() < T))

# 2. the notebook's summary and figure are the file's numbers
for name, (n, i, t) in spikes.items():
    assert summary[name]["N"] == n and summary[name]["spikes"] == len(i)
    assert abs(float(summary[name]["rate"]) - len(i) / (n * T)) < 1e-9 * max(1.0, len(i) / (n * T))
n, i, t = spikes["pyramidal"]
assert abs(drawn["population_rate"].sum() * 0.01 * n - len(i)) < 1e-6
np.testing.assert_allclose(np.asarray(states["u"]), u)    # the reader restores volts exactly
assert spike_count_h5py == len(i) and n_pyramidal == n

# 3. the stored dendritic prediction is the model's, E_L + g_B / (g_L + g_B + g_A) (v_B - E_L)
g_total = p["g_L"] + p["g_B"] + p["g_A"]
np.testing.assert_allclose(prediction, p["E_L"] + p["g_B"] / g_total * (v_basal - p["E_L"]), rtol=1e-9, atol=1e-12)
# 4. the soma's time average is that of u* = (g_L E_L + g_B v_B + g_A v_A) / g_total
#    (C du/dt = g_total (u* - u): the averages differ by C/g_total (u(T) - u(0)) / T)
u_star = (p["g_L"] * p["E_L"] + p["g_B"] * v_basal + p["g_A"] * v_apical) / g_total
assert abs(u.mean() - u_star.mean()) < 0.02 * u.std(), (u.mean(), u_star.mean())
# 5. the spikes are Poisson samples of the stored intensity phi(u): the total count within
#    4 standard errors, and per neuron the dispersion of the counts about phi(u) T is
#    Poisson's, mean of (count - expected)^2 / expected near 1 (s.d. 0.1 for 200 neurons)
expected = rate.mean(axis=1).sum() * T
assert abs(len(i) - expected) < 4 * np.sqrt(expected), (len(i), expected)
per_neuron = drawn["intensity"] * T
dispersion = np.mean((drawn["measured"] * T - per_neuron) ** 2 / per_neuron)
assert 0.6 < dispersion < 1.5, dispersion

# 6. `dendritic show` names every root attribute and every group of the file
text = io.StringIO()
with contextlib.redirect_stdout(text):
    assert dendritic(["show", "population.h5"]) == 0
shown = text.getvalue()
assert all(f"{key}:" in shown for key in attrs)
assert all(f"{name.split('/')[-1]}" in shown for name in groups)

# 7. the figures: the run's, the notebook's redrawn one and the package's redrawn one
for name in ("population.png", "population_from_file.png", "population_redrawn.png"):
    assert Path(name).stat().st_size > 10_000, name
