"""Rate-based reduction of the dendritic microcircuit: Deep Feedback Control in NumPy.

Source: Meulemans, Tristany Farinha, Garcia Ordonez, Vilimelis Aceituno, Sacramento & Grewe 2021, NeurIPS, doi:10.48550/arXiv.2106.07887; published code ``meulemansalex/deep_feedback_control``.

Modules:

- :mod:`~dendritic.rate.network`: ``RateNetwork`` (W_i, b_i, Q_i, transfer functions),
  ``weight_product_feedback`` (fixed Q), ``random_feedback``.
- :mod:`~dendritic.rate.losses`: MSE and cross-entropy with PyTorch's batch-mean reduction.
- :mod:`~dendritic.rate.dfc`: ``ControllerSettings``, ``output_target``,
  ``analytic_steady_state`` (DFC-SSA), ``simulate`` (Euler dynamics with PI controller,
  running-sum trajectory average), ``convergence``, ``weight_update_from_state``,
  ``dfc_update`` (DFC / DFC-SS / DFC-SSA), ``feedback_gradients`` (sleep phase),
  ``strong_feedback_target``.
- :mod:`~dendritic.rate.references`: ``layer_jacobians``, ``full_jacobian``,
  ``minimum_norm_target``, ``minimum_norm_update``, ``gauss_newton_update``,
  ``backprop_gradients``, ``angle``, ``layer_angles``, ``network_angle``, ``condition_2``.
- :mod:`~dendritic.rate.training`: ``SGD``, ``Adam``, ``MethodConfig``, ``Learner``,
  ``train_epoch``, ``train_feedback_epoch``, ``evaluate``.
- :mod:`~dendritic.rate.checkpoint`: ``save`` / ``load`` of a learner (network, optimisers,
  random state, history), for runs that continue after an interruption.
- :mod:`~dendritic.rate.experiment`: the experiment files (``SCHEMA``, ``load_experiment``),
  ``RunOptions``, ``selected_methods``, ``feedback_epochs``, ``method_config``,
  ``build_student``.
- :mod:`~dendritic.rate.classification`: ``load_classification_data``, ``checkpoint_path``,
  ``train_classifier``, ``run_classification`` (Fashion-MNIST / MNIST).
- :mod:`~dendritic.rate.regression`: the student-teacher task, ``teacher_data``,
  ``alignment`` (angles between updates), ``gauss_newton_setting``, ``train_regression``,
  ``run_regression``.
- :mod:`~dendritic.rate.figure`: ``plot`` of a run's results.
- :mod:`~dendritic.rate.threads`: BLAS limited to ``BLAS_THREADS`` (default 1) in the
  heavy entry points; optional helper thread for ``simulate`` (``HELPER_THREAD``).
- ``network.matmul``: products with float32 inner dimensions blocked (faster here).

Conventions: batches are (B, n) arrays; W_i is (n_i, n_{i-1}); Q_i is (n_i, n_L) or, for
per-sample feedback such as Q = J^T, (B, n_i, n_L); updates are steps to add, averaged
over the batch; time is in units of tau_u.
"""
