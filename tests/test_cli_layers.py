"""``nnmath train --layers "..."`` (a network of layers on the command line) and
``nnmath train --expanded`` (the training set expanded by one-pixel shifts)."""

from __future__ import annotations

import json

import pytest

import nnmath.cli.train as cli_train
from conftest import run_cli
from test_cli_output import tiny_idx_folder

NET = "conv(4,3,relu) pool(2) dense(10,softmax)"
TRAIN = ("train", "--epochs", "2", "--cost", "log_likelihood", "--init", "he")


@pytest.fixture
def no_data(monkeypatch):
    """Loading the data set fails the test: the refusals must come before it."""

    def load(name, expanded=False):
        raise AssertionError("the data set was loaded before the options were checked")

    monkeypatch.setattr(cli_train, "_load", load)


def test_train_a_conv_net_described_on_the_command_line(capsys) -> None:
    code, out, err = run_cli(capsys, *TRAIN, "--layers", "conv(4, 3, act=relu) pool(2) "
                             "dense(10, softmax)", "--optimizer", "adam", "--dtype", "float64",
                             "--patience", "5", "--schedule", "cosine")  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1] == (
        "network conv(4,3,relu) pool(2) flatten dense(10,softmax): log_likelihood cost, float64"
    )
    assert "epoch   2/2" in out and "layers" in out and NET in out and "test accuracy" in out
    code, out, err = run_cli(capsys, *TRAIN, "--layers", NET, "--json")
    result = json.loads(out)
    assert code == 0 and result["layers"] == NET and result["sizes"] == [64, 144, 36, 36, 10]
    assert result["test_accuracy"] > 0.5


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sizes", "64,30,10"], "--sizes does not apply to --layers"),
        (["--activation", "relu"], "--activation does not apply to --layers: write σ in each"),
        (["--output-activation", "softmax"], "--output-activation does not apply to --layers"),
        (["--dropout", "0"], "--dropout does not apply to --layers: put dropout(P)"),
    ],
)
def test_dense_options_beside_layers_are_refused_before_loading(capsys, no_data, extra, message):
    code, _, err = run_cli(capsys, *TRAIN, "--layers", NET, *extra)
    assert code == 2 and message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("conv(4)", "--layers: conv takes (out_channels, kernel_size[, stride, padding, "
                    "activation]); got conv(4) (no kernel_size)"),
        ("convolution(4,3)", "unknown layer 'convolution'"),
    ],
)  # fmt: skip
def test_a_bad_description_is_refused_before_loading(capsys, no_data, text, message) -> None:
    code, _, err = run_cli(capsys, *TRAIN, "--layers", text)
    assert code == 2 and message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("conv(4,9,relu) dense(10,softmax)", "--layers on digits (1, 8, 8): conv(4,9,relu) "
                                             "(layer 1) gets shape (1, 8, 8)"),
        ("conv(4,3,relu) dense(5,softmax)", "5 outputs, and the data has 10 classes"),
    ],
)  # fmt: skip
def test_a_description_that_does_not_fit_the_data_is_refused_before_training(
    capsys, text, message
) -> None:
    code, out, err = run_cli(capsys, *TRAIN, "--layers", text)
    assert code == 2 and message in err and "epoch" not in out


def test_layers_train_on_torch_tensors(capsys) -> None:
    pytest.importorskip("torch")
    code, out, err = run_cli(capsys, *TRAIN, "--layers", NET, "--backend", "torch", "--json")
    assert code == 0, err
    assert json.loads(out)["backend"] == "torch:cpu"


def test_a_network_of_layers_saves_checkpoints_and_predicts(capsys, tmp_path):
    """--save and --checkpoint write a network of layers; nnmath predict reads it back and
    shows its layers, not the flattened sizes."""
    path = tmp_path / "m.safetensors"
    code, out, err = run_cli(capsys, *TRAIN, "--layers", NET, "--save", path)
    assert code == 0 and path.exists(), err
    code, out, err = run_cli(capsys, *TRAIN, "--layers", NET, "--checkpoint", tmp_path / "c")
    assert code == 0, err
    code, out, err = run_cli(capsys, "predict", path, "--dataset", "digits", "--json")
    assert code == 0, err
    code, out, err = run_cli(capsys, "predict", path, "--dataset", "digits")
    assert code == 0 and "layers" in out and "conv(" in out, out


def test_expanded_trains_on_five_times_the_rows_and_names_the_command(capsys, tmp_path):
    folder = tiny_idx_folder(tmp_path)
    code, _, err = run_cli(capsys, "train", "--dataset", folder, "--expanded", "--epochs", "1")
    assert code == 2 and "nnmath data expand mnist --dir" in err and err.count("\n") == 1
    assert run_cli(capsys, "data", "expand", "mnist", "--dir", folder)[0] == 0
    code, out, err = run_cli(capsys, "train", "--dataset", folder, "--expanded", "--epochs", "1",
                             "--layers", "conv(2,2,relu) dense(10,softmax)",
                             "--cost", "log_likelihood")  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"data {folder.name}: 250 training, 10 validation")
    code, _, err = run_cli(capsys, "train", "--expanded")
    assert code == 2 and "--expanded takes MNIST-style data" in err


def test_a_long_description_in_the_curves_title_stays_on_the_canvas(capsys, tmp_path, monkeypatch):
    """The title wraps (nnmath.cli._figures.curves_title): measured by matplotlib's renderer
    just before each figure is written (tests/_layout.py)."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from _layout import layout_problems

    found: list[list[str]] = []
    real = Figure.savefig

    def savefig(fig, fname, *args, **kwargs):
        found.append(layout_problems(fig))
        return real(fig, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    long = (
        "conv(20,3,1,1,relu) pool(2) conv(40,3,1,1,relu) pool(2) dense(100,relu) dense(10,softmax)"
    )
    code, _, err = run_cli(capsys, *TRAIN, "--epochs", "1", "--layers", long, "--eta", "0.03",
                           "--lmbda", "0.1", "--plot", tmp_path)  # fmt: skip
    assert code == 0, err
    assert len(found) == 3  # curves, confusion, misclassified
    assert [p for p in found if p] == []
