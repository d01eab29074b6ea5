"""Tsodyks-Markram short-term plasticity against an independent integration of its
differential equations, and the event-only / burst-only channels against the NumPy
classification."""

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, SpikeGeneratorGroup, StateMonitor, Synapses, second

from dendritic import bursts
from dendritic.backend import Backend
from dendritic.plasticity import short_term

DT = 1e-4


def _integrated_release(spike_times, U, tau_D, tau_F, f):
    """Release at each spike, with x and u relaxing between spikes by numerical
    integration of tau_D dx/dt = 1 - x, tau_F du/dt = U - u (scipy's RK45, not the
    closed form the package uses), and the spike updates of Auryn's
    ``STPeTMConnection::push_attributes``: release u x, then x -= u x, u += f (1 - u)."""
    from scipy.integrate import solve_ivp

    x, u, last, release = 1.0, U, None, []
    for time in spike_times:
        if last is not None:
            solution = solve_ivp(lambda _, y: [(1 - y[0]) / tau_D, (U - y[1]) / tau_F], (last, time), [x, u],
                                 rtol=1e-11, atol=1e-13)
            x, u = solution.y[:, -1]
        release.append(u * x)
        x, u, last = x - u * x, u + f * (1 - u), time
    return np.array(release)


def _trains(rng, n, duration):
    trains = []
    for k in range(n):
        rate = 10 + 15 * k  # from sparse (recovered) to dense (depressed / facilitated)
        times = np.cumsum(rng.exponential(1 / rate, int(3 * rate * duration) + 10))
        times = np.unique(np.rint(times[times < duration - 0.01] / DT)) * DT
        trains.append(times)
    return trains


@pytest.mark.parametrize("preset", ["depressing", "facilitating"])
def test_release_follows_the_tsodyks_markram_recursion(preset):
    rng = np.random.default_rng(2)
    duration, n = 1.0, 4
    trains = _trains(rng, n, duration)
    with Backend("numpy", seed=None, dt=DT * second) as backend:
        indices = np.concatenate([np.full(len(tr), k) for k, tr in enumerate(trains)])
        generator = SpikeGeneratorGroup(n, indices, np.concatenate(trains) * second)
        relay = bursts.relay_group(n, "relay", short_term.neuron_equations("stp"),
                                   {"spike": [short_term.event_code("stp")]})
        force = Synapses(generator, relay, on_pre="forced_post = 1")
        force.connect(j="i")
        target = NeuronGroup(n, "received : 1", name="target")
        transmit = Synapses(relay, target, "w : 1", on_pre=f"received_post += w*{short_term.efficacy('stp')}")
        transmit.connect(j="i")
        transmit.w = 1.0
        short_term.set_parameters(relay, "stp", **short_term.PRESETS[preset])
        backend.parameters_set()
        bursts.initialise_detection(relay)
        short_term.initialise(relay, "stp")
        monitor = StateMonitor(target, "received", record=True, when="end")
        Network(generator, relay, force, target, transmit, monitor).run(duration * second)
        received = np.asarray(monitor.received[:])
    parameters = {k: float(v) for k, v in short_term.PRESETS[preset].items()}
    for k in range(n):
        increments = np.diff(received[k], prepend=0.0)
        steps = np.flatnonzero(increments != 0)
        release = increments[steps]
        expected = _integrated_release(steps * DT, **parameters)
        assert len(release) == len(trains[k]) > 5
        np.testing.assert_allclose(release, expected, rtol=1e-7)
        if k == n - 1:
            late = release[5:]
    first = parameters["U"]
    assert np.isclose(received[0][received[0] > 0][0], first)  # the first spike releases U
    # depressing: later spikes of the dense train release less; facilitating: more
    assert (late.mean() < 0.8 * first) if preset == "depressing" else (late.mean() > 1.5 * first)


@pytest.mark.parametrize("transmit", ["events", "bursts"])
def test_event_and_burst_channels_transmit_only_their_spikes(transmit):
    rng = np.random.default_rng(5)
    duration, n = 1.0, 3
    trains = []
    for _ in range(n):  # trains with bursts: pairs 3-10 ms apart
        starts = np.cumsum(0.02 + rng.exponential(0.05, 40))
        starts = starts[starts < duration - 0.05]
        pairs = rng.random(len(starts)) < 0.5
        times = np.sort(np.concatenate([starts, starts[pairs] + rng.uniform(0.003, 0.010, pairs.sum())]))
        trains.append(np.unique(np.rint(times / DT)) * DT)
    with Backend("numpy", seed=None, dt=DT * second):
        indices = np.concatenate([np.full(len(tr), k) for k, tr in enumerate(trains)])
        generator = SpikeGeneratorGroup(n, indices, np.concatenate(trains) * second)
        relay = bursts.relay_group(n, "relay")
        force = Synapses(generator, relay, on_pre="forced_post = 1")
        force.connect(j="i")
        target = NeuronGroup(n, "received : 1", name="target")
        channel = Synapses(relay, target, on_pre="received_post += 1",
                           on_event={"pre": short_term.transmission_event(transmit)})
        channel.connect(j="i")
        bursts.initialise_detection(relay)
        Network(generator, relay, force, target, channel).run(duration * second)
        received = np.asarray(target.received[:])
    for k in range(n):
        _, is_event, is_burst = bursts.classify_spikes(np.zeros(len(trains[k])), trains[k] + DT, 0.016)
        expected = is_event.sum() if transmit == "events" else is_burst.sum()
        assert 5 < expected < len(trains[k])
        assert received[k] == expected
