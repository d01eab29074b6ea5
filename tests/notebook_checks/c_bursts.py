# Checks run in the kernel after the last cell of notebooks/c_bursts.ipynb.
import numpy as np

DT_STEPS = 1e-4          # s, the neuron's Euler step (Backend default 0.1 ms)
WINDOW_STEPS = 160       # 16 ms: a burst is a second spike within 16 ms of an event


def events_and_bursts(neurons, times, n):
    """Per-neuron counts of events (first spike of a train: no spike in the previous 16 ms)
    and bursts (a second spike within 16 ms of an event), from the paper's definition,
    and the number of intervals of exactly 16 ms (on the float time grid they may fall
    either way)."""
    steps = np.round(np.asarray(times) / DT_STEPS).astype(np.int64)
    order = np.lexsort((steps, neurons))
    neurons, steps = np.asarray(neurons)[order], steps[order]
    first = np.r_[True, neurons[1:] != neurons[:-1]]
    interval = np.r_[0, np.diff(steps)]
    is_event = first | (interval >= WINDOW_STEPS)
    is_burst = ~is_event & np.r_[False, is_event[:-1]]
    ambiguous = np.sum(~first & (interval == WINDOW_STEPS))
    return (np.bincount(neurons[is_event], minlength=n), np.bincount(neurons[is_burst], minlength=n), ambiguous)


# 1. the online detectors (Brian custom events) count what the definition counts, neuron by neuron
for (i, t), online_events, online_bursts, n in (
        (tuning_spikes, tuning_events, tuning_bursts, len(apical_of)),
        (population_spikes, population_events, population_bursts, n_population)):
    offline_events, offline_bursts, ambiguous = events_and_bursts(i, t, n)
    assert offline_bursts.sum() > 1000, offline_bursts.sum()
    assert np.abs(np.bincount(online_events, minlength=n) - offline_events).sum() <= ambiguous
    assert np.abs(np.bincount(online_bursts, minlength=n) - offline_bursts).sum() <= 2 * ambiguous

# 2. apical drive raises the burst probability: at every somatic level it rises from 0 to 300 pA in
#    every step by more than 3 binomial standard errors, and is at least twice as high at 400 pA as at 0
P, n_events = burst_probability, event_count
se = np.sqrt(P * (1 - P) / n_events)
rise = P[:, 1:4] - P[:, 0:3]
assert np.all(rise > 3 * np.sqrt(se[:, 1:4] ** 2 + se[:, 0:3] ** 2)), rise
assert np.all(P[:, -1] > 2 * P[:, 0])
# ... while somatic drive raises the event rate: from -100 to +100 pA at every apical level by more than
#     3 Poisson standard errors of the counts, and on average over the apical levels at each step
rate_se = np.sqrt(n_events) / (per_condition * duration)
assert np.all(event_rate[-1] - event_rate[0] > 3 * np.sqrt(rate_se[-1] ** 2 + rate_se[0] ** 2)), event_rate
assert np.all(np.diff(event_rate.mean(axis=1)) > 3 * np.sqrt((rate_se ** 2).mean(axis=1)[1:] / len(apical_drives)))
# ... and moves the burst probability much less than the apical drive does
assert np.all(np.abs(P[-1] - P[0]) < (P[:, 3] - P[:, 0]).min() / 3)

# 3. multiplexing: binned from the recorded times (independently of population_signals), the
#    population event rate follows the somatic input and the burst probability the dendritic input,
#    each far more than the other input; the inputs are averaged over each bin from their definition
edges = np.arange(burn_in, burn_in + analysed + bin_width / 2, bin_width)
E = np.histogram(event_times, edges)[0] / (n_population * bin_width)
B = np.histogram(burst_times, edges)[0] / (n_population * bin_width)
np.testing.assert_allclose(E, signals["event_rate"], rtol=1e-12)
np.testing.assert_allclose(B, signals["burst_rate"], rtol=1e-12)
prob = B / E


def bin_mean_of_sine(period, amplitude, offset):
    a, b = edges[:-1], edges[1:]
    return offset + amplitude * period / (2 * np.pi) * (np.cos(2 * np.pi * a / period) - np.cos(2 * np.pi * b / period)) / (b - a)


soma = bin_mean_of_sine(somatic_period, 200.0, 0.0)
dend = bin_mean_of_sine(dendritic_period, 100.0, 100.0)
corr = lambda x, y: np.corrcoef(x, y)[0, 1]   # noqa: E731
assert np.all(E > 0)
assert corr(E, soma) > 0.8 and abs(corr(E, dend)) < 0.3, (corr(E, soma), corr(E, dend))
assert corr(prob, dend) > 0.75 and corr(prob, dend) > corr(prob, soma) + 0.4, (corr(prob, dend), corr(prob, soma))

# 4. BDSP under the burst-Poisson protocol
eta, tau_pre, tau_avg = settings["eta"], float(settings["tau_pre"]), float(settings["tau_avg"])
T = float(first["duration"])
for P_bar_0, result in protocol.items():
    change, sem = result["weight_change_mean"][0], result["weight_change_sem"][0]
    # the protocol delivers the burst probabilities it was asked for (binomial error of the counts)
    n_post_events = np.asarray(result["measured_event_rate"][0]) * T * 40
    measured_p = result["measured_burst_probability"][0]
    assert np.all(np.abs(measured_p - p_values) < 4 * np.sqrt(p_values * (1 - p_values) / n_post_events) + 1e-12)
    # sign: depression below the moving average, potentiation above (beyond 4 standard errors)
    far = np.abs(p_values - P_bar_0) >= 0.1 - 1e-9
    assert np.all(np.sign(change[far]) == np.sign(p_values[far] - P_bar_0))
    assert np.all(np.abs(change[far]) > 4 * sem[far])
    # the zero crossing of a least-squares line lies at P_bar(0), within 4 of its standard errors
    slope, intercept = np.polyfit(p_values, change, 1)
    crossing = -intercept / slope
    assert abs(crossing - P_bar_0) < 4 * sem.max() / slope / np.sqrt(len(p_values)) + 1e-3, (P_bar_0, crossing)
    # magnitude: the mean field eta E^2 tau_pre (p - P_bar(0)) tau_avg (1 - exp(-T/tau_avg)), written here
    # from the rule (independent trains: <E_tilde_pre> = E tau_pre; P_bar relaxes from P_bar(0) to p),
    # with the measured event rates, within 4 standard errors of each condition's mean
    E_measured = np.asarray(result["measured_event_rate"][0])
    predicted = eta * E_measured ** 2 * tau_pre * (p_values - P_bar_0) * tau_avg * (1 - np.exp(-T / tau_avg))
    assert np.all(np.abs(change - predicted) < 4 * sem), (change - predicted) / sem
# one curve as a function of p - P_bar(0): equal distances from the moving average give equal changes
changes = {P_bar_0: result["weight_change_mean"][0] for P_bar_0, result in protocol.items()}
sems = {P_bar_0: result["weight_change_sem"][0] for P_bar_0, result in protocol.items()}
shift = int(round(0.1 / (p_values[1] - p_values[0])))   # 0.1 apart
for low, high in ((0.1, 0.2), (0.2, 0.3)):
    a, b = changes[low][:-shift], changes[high][shift:]   # the same p - P_bar(0)
    bound = 4 * np.sqrt(sems[low][:-shift] ** 2 + sems[high][shift:] ** 2)
    assert np.all(np.abs(a - b) < bound), (low, high, a - b)
