# Checks run in the kernel after the last cell of notebooks/a_three_compartment_neuron.ipynb.
import numpy as np
from brian2 import nS, pA, pF

# 0. the parameters are Sacramento et al. 2018's (dimensionless there; nS and pF here)
conductances = {key: float(model.parameters[key] / nS) for key in ("g_L", "g_B", "g_A", "g_som")}
assert conductances == {"g_L": 0.1, "g_B": 1.0, "g_A": 0.8, "g_som": 0.8}, conductances
C = float(model.parameters["C"] / pF)
gl, gb, ga, gs = (conductances[key] for key in ("g_L", "g_B", "g_A", "g_som"))

# 1. the recorded dendritic prediction is g_B/(g_L+g_B+g_A) times the recorded basal potential
np.testing.assert_allclose(v_hat, gb / (gl + gb + ga) * v_basal, rtol=1e-9, atol=1e-12)

# 2. the soma obeys C du/dt = -g_L u + g_B (v_B - u) + g_A (v_A - u) + nudge g_som (u_target - u) + I_soma,
#    integrated here step by step from the recorded v_B and u_target (exact for inputs held over a step,
#    v_A at rest): the whole recorded trajectory of each neuron, teachers included
dt = float(t[1] - t[0])                        # ms
current = np.array([0.0, float(I_teach / pA), 0.0])   # pA
nudged = np.array([0.0, 0.0, 1.0])
for k in range(3):
    g = gl + gb + ga + nudged[k] * gs
    decay = np.exp(-dt * g / C)                # C in pF, g in nS: C/g in ms
    u_inf = (gb * v_basal[k] + nudged[k] * gs * u_target[k] + current[k]) / g   # mV, pA/nS = mV
    expected = np.empty_like(u[k])
    expected[0] = u[k][0]
    for step in range(len(expected) - 1):
        expected[step + 1] = u_inf[step] + (expected[step] - u_inf[step]) * decay
    np.testing.assert_allclose(u[k], expected, rtol=1e-9, atol=1e-9)

# 3. the claims of section 1, on time averages: for this linear soma the mean of u - u_inf is exactly
#    -(u_end - u_start)/(N (1 - decay)) on the time grid (the transient from rest), so
#    no teacher: u = v_hat on average; current: u - v_hat = I_soma/(g_L+g_B+g_A); nudging: u = (1-lambda) v_hat + lambda u_target
lam = gs / (gl + gb + ga + gs)
targets = [v_hat[0], v_hat[1] + current[1] / (gl + gb + ga), (1 - lam) * v_hat[2] + lam * u_target[2]]
for k, target in enumerate(targets):
    g = gl + gb + ga + nudged[k] * gs
    bound = abs(u[k][-1] - u[k][0]) / ((len(u[k]) - 1) * (1 - np.exp(-dt * g / C)))
    assert abs(np.mean(u[k][:-1] - target[:-1])) <= bound + 1e-9, (k, np.mean(u[k] - target), bound)
assert abs(np.mean(u[1] - v_hat[1]) - current[1] / (gl + gb + ga)) < 0.02    # the transient costs < 0.02 mV
assert np.mean(np.abs(u[2] - v_hat[2])) > 0.5                                 # the teacher does move the soma

# 4. the clamped steady states are the conductance-weighted means of everything the soma is coupled to
v_A = np.r_[apical_values, np.zeros(2 * n)]
I = np.r_[np.zeros(n), current_values, np.zeros(n)]
on = np.r_[np.zeros(2 * n), np.ones(n)]
target_potential = np.r_[np.zeros(2 * n), gb / (gl + gb + ga) * v_B + target_values]
u_star = (gb * v_B + ga * v_A + I + on * gs * target_potential) / (gl + gb + ga + on * gs)
np.testing.assert_allclose(u_end, u_star, rtol=1e-6, atol=1e-9)
np.testing.assert_allclose(v_hat_end, gb / (gl + gb + ga) * v_B, rtol=1e-9)
# and u - v_hat is linear in each teaching signal with the stated slopes
for row, (x, slope) in enumerate([(apical_values, ga / (gl + gb + ga)), (current_values, 1 / (gl + gb + ga)),
                                   (target_values, lam)]):
    fitted = np.polyfit(x, deviation[row], 1)
    np.testing.assert_allclose(fitted, [slope, 0.0], atol=1e-6)
