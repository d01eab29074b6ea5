# Checks run in the kernel after the last cell of notebooks/e_standalone_sweep.ipynb.
import hashlib

import numpy as np

# 1. one compilation, no recompilation: the build compiled; the binary in the build
#    folder, hashed here again, is the one the build made; no generated or compiled file
#    was touched by the reruns; every rerun took a small fraction of the build
assert compiled is True
assert hashlib.sha256((build_dir / "main").read_bytes()).hexdigest() == after_build["binary_sha256"]
assert after_sweep == after_build
assert any(name.endswith(".o") for name in after_build["mtimes"]) and "main.cpp" in after_build["mtimes"]
now = {name: (build_dir / name).stat().st_mtime_ns for name in after_build["mtimes"]}
assert now == after_build["mtimes"]
assert max(p["seconds"] for p in points) < 0.2 * build_seconds, (build_seconds, [p["seconds"] for p in points])

# 2. each run used its value: the parameter read back from the binary's results
np.testing.assert_allclose([p["g_L_used"] for p in points], leak_values, rtol=1e-12)

# 3. the rate falls monotonically with the leak (the same seed gives the same random
#    numbers at every point, and phi(u) falls at every step, so the spike count cannot rise)
counts = np.array([p["spike_count"] for p in points])
assert np.all(np.diff(counts) < 0), counts
assert np.all(np.diff(intensity) < 0), intensity
# the spike count is a Poisson sample of the intensity: within 4 standard errors
expected = intensity * points[0]["N"] * duration
assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected) + 1), (counts, expected)

# 4. the soma, from its equation C du/dt = g_L (E_L - u) + g_B (v_B - u) + g_A (v_A - u)
#    with the swept g_L: its time average is that of u* = (g_L E_L + g_B v_B + g_A v_A) / g_tot
#    (the difference is C/g_tot (u(T) - u(0)) / T, below a microvolt here), and the mean
#    rate is <phi(u*)> with the softplus phi written out here
gB, gA = (float(parameters[k] / nS) for k in ("g_B", "g_A"))
EL = float(parameters["E_L"] / mV)
phi_max, beta, theta = (float(parameters[k]) for k in ("phi_max", "beta", "theta"))
for p in points:
    u_star = (p["g_L"] * EL + gB * p["v_basal"] + gA * p["v_apical"]) / (p["g_L"] + gB + gA)
    spread = p["u"].std()
    assert abs(p["u"].mean() - u_star.mean()) < 0.02 * spread, (p["g_L"], p["u"].mean(), u_star.mean())
    softplus = phi_max * np.log1p(np.exp(beta * (u_star * 1e-3 - theta)))
    assert abs(softplus.mean() - p["intensity"].mean()) < 0.03 * p["intensity"].mean(), p["g_L"]
    # the dendrites do not depend on the soma: the same at every g_L
    np.testing.assert_allclose(p["v_basal"], points[0]["v_basal"], rtol=0, atol=1e-9)
# the notebook's prediction curve, at the swept values
on_grid = np.interp(np.log(leak_values), np.log(leak_grid), prediction)
np.testing.assert_allclose(on_grid, intensity, rtol=0.03)
