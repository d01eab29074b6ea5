"""The spiking XOR of Payeur et al. 2021 (Fig. 4): its protocol as schedule arrays
(:mod:`~dendritic.xor.protocol`), its readout (:mod:`~dendritic.xor.readout`: cost,
tests) and figure (:mod:`~dendritic.xor.figure`). The experiment is
:mod:`dendritic.experiments.xor`; the network is ``models/networks/xor.toml``."""
