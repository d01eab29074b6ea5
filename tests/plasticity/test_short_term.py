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


def _integrated_release(spike_times, U, tau_D, tau_F, f, u_0):
    """Release at each spike, starting at t = 0 from x = 1, u = u_0, with x and u relaxing
    between spikes by numerical integration of tau_D dx/dt = 1 - x, tau_F du/dt = U - u
    (scipy's RK45, not the closed form the package uses), and at each spike: release
    u x, then x -= u x, u += f (1 - u)."""
    from scipy.integrate import solve_ivp

    x, u, last, release = 1.0, u_0, 0.0, []
    for time in spike_times:
        if time > last:
            solution = solve_ivp(lambda _, y: [(1 - y[0]) / tau_D, (U - y[1]) / tau_F], (last, time), [x, u],
                                 rtol=1e-11, atol=1e-13)
            x, u = solution.y[:, -1]
        release.append(u * x)
        x, u, last = x - u * x, u + f * (1 - u), time
    return np.array(release)


def _auryn_stp_release(spike_steps, steps, U, tau_D, tau_F):
    """The published dynamics, step by step as Auryn runs them (``STPConnection``):
    ``init`` leaves u at its default 0.01 (``set_ujump`` comes later), ``evolve`` takes
    Euler steps of x and u, and ``propagate`` calls ``STPConnection::push_attributes``
    (not virtual, so ``STPeTMConnection``'s override with f never runs): release x u,
    then x -= u x, u += U (1 - u). Spikes act after the step's relaxation."""
    x, u, release, spikes = 1.0, 0.01, [], set(spike_steps.tolist())
    for n in range(steps):
        x += DT / tau_D * (1 - x)
        u += DT / tau_F * (U - u)
        if n in spikes:
            release.append(x * u)
            x, u = x - u * x, u + U * (1 - u)
    return np.array(release)


def _trains(rng, n, duration):
    trains = []
    for k in range(n):
        rate = 10 + 15 * k  # from sparse (recovered) to dense (depressed / facilitated)
        times = np.cumsum(rng.exponential(1 / rate, int(3 * rate * duration) + 10))
        times = np.unique(np.rint(times[times < duration - 0.01] / DT)) * DT
        trains.append(times)
    return trains


def _simulate_release(preset, trains, duration):
    n = len(trains)
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
    releases = []
    for k in range(n):
        increments = np.diff(received[k], prepend=0.0)
        steps = np.flatnonzero(increments != 0)
        assert len(steps) == len(trains[k])
        releases.append((steps, increments[steps]))
    return releases


@pytest.mark.parametrize("preset", sorted(short_term.PRESETS))
def test_release_follows_the_tsodyks_markram_equations(preset):
    rng = np.random.default_rng(2)
    duration = 1.0
    trains = _trains(rng, 4, duration)
    parameters = {k: float(v) for k, v in short_term.PRESETS[preset].items()}
    releases = _simulate_release(preset, trains, duration)
    for k, (steps, release) in enumerate(releases):
        assert len(release) > 5
        np.testing.assert_allclose(release, _integrated_release(steps * DT, **parameters), rtol=1e-7)
    # depressing: later spikes of the dense train release less than U; facilitating: more
    late, U = releases[-1][1][5:].mean(), parameters["U"]
    assert (late < 0.8 * U) if preset.startswith("depressing") else (late > 1.5 * U)


@pytest.mark.parametrize("preset", ["depressing", "facilitating"])
def test_default_presets_are_the_published_auryn_dynamics(preset):
    """The default presets reproduce the published code's STP step by step (Euler
    relaxation there, exact here: rtol 1e-2); the extended model's f = 0.1 does not."""
    rng = np.random.default_rng(3)
    duration = 1.0
    trains = _trains(rng, 4, duration)
    p = {k: float(v) for k, v in short_term.PRESETS[preset].items()}
    total = int(round(duration / DT))
    simulated = _simulate_release(preset, trains, duration)
    published = [_auryn_stp_release(steps, total, p["U"], p["tau_D"], p["tau_F"]) for steps, _ in simulated]
    for (_, release), expected in zip(simulated, published):
        np.testing.assert_allclose(release, expected, rtol=1e-2)
    extended = _simulate_release(f"{preset}_extended", trains, duration)
    worst = max(np.max(np.abs(release / expected - 1)) for (_, release), expected in zip(extended, published))
    assert worst > 0.1
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
