# Checks run in the kernel after the last cell of notebooks/b_voltage_plasticity.ipynb.
import numpy as np
from brian2 import mV, second, volt

# phi and h = d log phi / du written from Urbanczik & Senn 2014 (sigmoid), SI units
par = {key: float(value) for key, value in neuron.parameters.items()}


def phi_reference(v):
    return par["phi_max"] / (1 + par["k"] * np.exp(par["beta"] * (par["theta"] - v)))


def h_reference(v):
    z = par["k"] * np.exp(par["beta"] * (par["theta"] - v))
    return par["beta"] * z / (1 + z)


dt = float(DT)
steps = u["rate"].shape[1]
applied = slice(0, steps - 1)        # the learning of the last, unfinished step is not applied
n_pre, n_post = n_inputs, n_neurons

# 1. rate form, every synapse, recomputed from the recorded potentials and PSP traces:
#    dW_ij = eta sum_n dt (phi(u_i) - phi(v_hat_i)) PSP_j / tau_L
error = (phi_reference(u["rate"]) - phi_reference(v_hat["rate"]))[:, applied]          # (post, steps)
expected_rate = float(eta_rate / (volt * second)) * dt / par["tau_basal"] * error @ psp[:, applied].T   # (post, pre)
change_rate = (w_end["rate"] - float(w_start)).reshape(n_post, n_pre)
scale = np.abs(expected_rate).max()
assert scale > 0.05 * float(w_start), scale                 # the weights did change (by more than 5 %)
assert np.abs(change_rate - expected_rate).max() < 1e-6 * scale

# 2. spike form, every synapse, from the recorded output spikes (a spike in step n counts with
#    h(v_hat) after that step's update, i.e. the sample of step n + 1):
#    dW_ij = eta sum_n [S_i,n h(v_hat_i,n+1) - dt phi(v_hat_i,n) h(v_hat_i,n)] PSP_j,n
vh = v_hat["spike"]
spike_train = np.zeros_like(vh)
np.add.at(spike_train, (spike_neurons, spike_steps), 1.0)
jumps = np.zeros_like(vh)
jumps[:, :-1] = spike_train[:, :-1] * h_reference(vh[:, 1:])
drift = -dt * phi_reference(vh) * h_reference(vh)
eta_s = float(eta_spike / volt**2)
expected_spike = eta_s * (jumps + drift)[:, applied] @ psp[:, applied].T
change_spike = (w_end["spike"] - float(w_start)).reshape(n_post, n_pre)
assert np.abs(change_spike - expected_spike).max() < 1e-6 * np.abs(expected_spike).max()

# 3. the spike form is an unbiased estimate of its rate-form expectation: replacing S by its
#    probability q = 1 - exp(-phi(u) dt) per step, the mean weight change of each neuron lies
#    within 4 standard deviations of the Poisson spike noise
mean_psp = psp.mean(axis=0)
q = 1 - np.exp(-phi_reference(u["spike"][:, 1:]) * dt)             # spike probability in step n
h_next = h_reference(vh[:, 1:])
expectation = eta_s * ((q * h_next + drift[:, :-1]) * mean_psp[:-1]).sum(axis=1)
sd = eta_s * np.sqrt((q * (1 - q) * (h_next * mean_psp[:-1]) ** 2).sum(axis=1))
measured = change_spike.mean(axis=1)
assert np.all(np.abs(measured - expectation) < 4 * sd), (measured, expectation, sd)
assert np.all(np.abs(expectation[[0, -1]]) > 4 * sd[[0, -1]])      # the strongest teachers' drift stands out of the noise

# 4. the claims of the figure: the weight change has the sign of the mismatch (depolarising teachers
#    potentiate), grows with it, and vanishes without a teacher
rate_change = change_rate.mean(axis=1)
mismatch_rate = np.mean(phi_reference(u["rate"]) - phi_reference(v_hat["rate"]), axis=1)
assert np.all(np.diff(rate_change) > 0) and np.all(np.diff(mismatch_rate) > 0)
nonzero = currents != 0
assert np.all(np.sign(rate_change[nonzero]) == np.sign(currents[nonzero]))
assert np.all(np.sign(mismatch_rate[nonzero]) == np.sign(currents[nonzero]))
zero = np.flatnonzero(currents == 0)[0]
assert abs(rate_change[zero]) < 0.02 * np.abs(rate_change).max()
assert measured[0] < 0 < measured[-1]                            # the spike form too: depression and potentiation

# 5. learning a teacher's rate: the students' output spike rates (teacher off) approach their teachers'
def window_rate(times, neurons, start, stop):
    inside = (times >= start) & (times < stop)
    return np.bincount(neurons[inside], minlength=n_pairs) / (stop - start)


rms = {}
for name, (start, stop) in (("before", before), ("after", after)):
    difference = window_rate(*spikes["student"], start, stop) - window_rate(*spikes["teacher"], start, stop)
    rms[name] = np.sqrt(np.mean(difference ** 2))
# (after training the difference of two 2 s Poisson counts alone is sqrt((r_s + r_t)/T), about 6 Hz here)
assert rms["after"] < 0.5 * rms["before"], rms
# ... and so do their dendritic predictions (the expected rates, free of the Poisson count noise)
sampled = {name: (t_states >= start) & (t_states < stop) for name, (start, stop) in (("before", before), ("after", after))}
predicted = {name: phi_reference(student_v_hat[:, mask]).mean(axis=1) - phi_reference(teacher_u[:, mask]).mean(axis=1)
             for name, mask in sampled.items()}
assert np.sqrt(np.mean(predicted["after"] ** 2)) < np.sqrt(np.mean(predicted["before"] ** 2)) / 3, predicted
# the teachers span the range (so that the test is not won by all rates being alike), and the
# students' rates are ordered as their teachers' levels after training
teacher_levels = phi_reference(teacher_u[:, sampled["after"]]).mean(axis=1).reshape(len(levels), per_level).mean(axis=1)
student_levels = phi_reference(student_v_hat[:, sampled["after"]]).mean(axis=1).reshape(len(levels), per_level).mean(axis=1)
assert teacher_levels[-1] > 4 * teacher_levels[0]
assert np.all(np.diff(student_levels) > 0), student_levels
