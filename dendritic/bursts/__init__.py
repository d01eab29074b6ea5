"""Events and bursts (Payeur et al. 2021, Nature Neuroscience, doi:10.1038/s41593-021-00857-x).

- :mod:`~dendritic.bursts.detection`: online event and burst detection as Brian custom
  events, the code run on them, relay groups, and the NumPy classification it is
  checked against;
- :mod:`~dendritic.bursts.signals`: population event rate, burst rate and burst
  probability in time bins;
- :mod:`~dendritic.bursts.multiplexing`: the analysis of burst multiplexing (Fig. 3):
  binned signals of a circuit run, the correlations of the four relations, the figure.
"""

from dendritic.bursts.detection import (NEVER, classify_spikes, detection_equations, detection_events,
                                        detection_reset, initialise_detection, register_event_code,
                                        relay_group, reset_added_later)
from dendritic.bursts.signals import population_signals

__all__ = ["NEVER", "classify_spikes", "detection_equations", "detection_events", "detection_reset",
           "initialise_detection", "population_signals", "register_event_code", "relay_group", "reset_added_later"]
