"""Toy student-teacher constants and data shared by the rate tests (SCIENCE.md section 3):
teacher 15-1000x4-5 ReLU, student 15-10-10-5 tanh with linear output."""


from dendritic.rate import dfc
from dendritic.rate.network import RateNetwork

def _toy_controller():
    """The learned-feedback toy controller of the shipped ``dfc_toy.toml`` (the published
    Fig. 3 toy settings), so that the tests exercise the file's values."""
    from dendritic.rate.experiment import load_experiment, method_config

    methods = {m["name"]: m for m in load_experiment("dfc_toy")["methods"]}
    return method_config(methods["dfc_learned"], "mse").controller


TOY_CONTROLLER = _toy_controller()
TOY_FEEDBACK_CONTROLLER = dfc.ControllerSettings(alpha=0.25, k_p=0.1, dt=0.002, steps=50, time_constant_ratio=0.01,
                                                 apical_time_constant=0.3, sigma=0.01)
TOY_TARGET_STEPSIZE = 0.05
TOY_GAMMA = 0.1


def make_teacher_data(rng, n, n_labelled=None):
    """n inputs uniform in [-1, 1] and the teacher's outputs for the first ``n_labelled``
    (default all); the sleep phase needs inputs only, and the 1000-wide teacher is slow."""
    teacher = RateNetwork.create([15, 1000, 1000, 1000, 1000, 5], hidden_activation="relu", rng=rng,
                                 init="he_normal", bias_scale=0.1)
    x = rng.uniform(-1.0, 1.0, (n, 15))
    return x, teacher.predict(x[:n_labelled])


