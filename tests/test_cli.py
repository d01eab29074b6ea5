"""The command line runs the main experiment end to end and writes HDF5 + PNG."""

from brian2 import second

from dendritic.cli import main
from dendritic.io import read_attributes, read_results


def test_population_experiment_writes_results_and_figure(tmp_path, capsys):
    output = tmp_path / "runs" / "population.h5"
    code = main(["run", "population", "--target", "numpy", "--duration", "200 ms", "--neurons", "30",
                 "--seed", "4", "--output", str(output)])
    assert code == 0
    assert output.exists() and output.with_suffix(".png").stat().st_size > 10_000
    results = read_results(output)
    attrs = read_attributes(output)
    assert attrs["target"] == "numpy" and attrs["seed"] == 4 and attrs["experiment"] == "population"
    spikes = results["spikes"]["pyramidal"]
    assert int(spikes["N"]) == 30 and len(spikes["i"]) > 0
    assert spikes["t"].dim is second.dim
    states = results["states"]["pyramidal"]
    assert states["u"].shape == (30, 200)


def test_bad_model_file_is_reported_not_raised(tmp_path, capsys):
    bad = tmp_path / "net.toml"
    bad.write_text('[run]\nduration = "1 parsec"\n[[populations]]\nname = "p"\nneuron = "urbanczik2014"\nN = 2\n')
    assert main(["run", "population", "--target", "numpy", "--config", str(bad),
                 "--output", str(tmp_path / "x.h5")]) == 2
    assert f"{bad}: key 'run.duration'" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_list_names_experiments_and_models(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "population" in out and "urbanczik2014" in out
