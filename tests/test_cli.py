"""End-to-end tests of the ``nnmath`` command line (in-process through ``main`` and as a
subprocess), on the embedded digits with a few epochs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import nnmath
from conftest import run_cli
from nnmath.cli import COMMANDS, main

SRC = Path(__file__).resolve().parents[1] / "src"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HAS_MODEL_FILES = hasattr(nnmath, "load") and hasattr(nnmath.Network, "save")
needs_model_files = pytest.mark.skipif(
    not HAS_MODEL_FILES, reason="nnmath.load / Network.save (model files) are not in this tree"
)


def run_subprocess(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-m", "nnmath", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def png_size(path: Path) -> tuple[int, int]:
    import matplotlib.image as mpimg

    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG file"
    image = mpimg.imread(path)
    return image.shape[1], image.shape[0]


# ------------------------------------------------------------------ help


def test_main_help_lists_every_command_on_one_line(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    lines = out.splitlines()
    for name in COMMANDS:
        rows = [line for line in lines if line.split()[:1] == [name]]
        assert len(rows) == 1, f"{name!r} not listed once in:\n{out}"
        assert len(rows[0].split()) > 2, f"{name!r} has no one-line description"
    assert "COMMAND\n" not in out  # argparse's lone metavar line is gone
    assert {"train", "predict", "plot"} <= set(COMMANDS)


def test_readme_names_every_command():
    readme = (SRC.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    listing = section.split("`nnmath --help` lists", 1)[1].split("`nnmath COMMAND --help`", 1)[0]
    missing = [name for name in COMMANDS if f"`{name}`" not in listing]
    assert not missing, f"README's 'Command line' section does not name {missing}"


@pytest.mark.parametrize(
    "argv",
    [
        ["train"],
        ["predict"],
        ["plot"],
        ["plot", "activations"],
        ["plot", "curves"],
        ["plot", "confusion"],
        ["plot", "misclassified"],
    ],
)
def test_every_command_has_help(capsys, argv):
    code, out, err = run_cli(capsys, *argv, "--help")
    assert code == 0 and err == ""
    assert out.startswith(f"usage: nnmath {' '.join(argv)}")
    assert "--json" in out or argv == ["plot"]
    assert "--debug" in out


def test_version(capsys):
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out.strip() == f"nnmath {nnmath.__version__}"


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "give a command"),
        (["bogus"], "invalid choice"),
        (["train", "--bogus"], "unrecognized arguments"),
        (["train", "--epochs", "0"], "expected a positive integer"),
        (["train", "--epochs", "two"], "expected a positive integer"),
        (["train", "--sizes", "3,4", "--epochs", "1"], "does not fit the data"),
        (["train", "--activation", "nope", "--epochs", "1"], "unknown activation"),
        (["train", "--dataset", "nope", "--epochs", "1"], "unknown dataset"),
        (["plot"], "KIND"),
        (["plot", "activations", "--out", "a.txt"], "unknown image format"),
        (
            ["plot", "activations", "--z-min", "2", "--z-max", "1", "--out", "a.png"],
            "z_min must be below z_max",
        ),
        (["plot", "confusion", "--model", "missing.safetensors", "--out", "c.png"], "missing"),
        (["predict", "missing.safetensors"], "missing"),
    ],
)
def test_bad_input_is_one_stderr_line_with_exit_2(capsys, tmp_path, monkeypatch, argv, expected):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("nnmath") and ": error: " in err
    assert expected in err
    assert "Traceback" not in err + out
    assert not list(tmp_path.iterdir())  # nothing written


def test_bad_option_in_a_subprocess_is_one_line():
    proc = run_subprocess("train", "--epochs", "-3")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("nnmath train: error: argument --epochs")


def _boom(*args, **kwargs):
    raise RuntimeError("boom\nsecond line")


def test_unexpected_error_is_one_line_with_a_debug_hint(capsys, monkeypatch):
    monkeypatch.setattr("nnmath.cli.train.train_network", _boom)
    code, _, err = run_cli(capsys, "train", "--epochs", "1")
    assert code == 2
    assert err.splitlines() == [
        "nnmath train: internal error: RuntimeError: boom "
        "(rerun with --debug for the traceback, and please report it)"
    ]


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_exception_before_or_after_the_command(capsys, monkeypatch, where):
    monkeypatch.setattr("nnmath.cli.train.train_network", _boom)
    argv = ["--debug", "train"] if where == "before" else ["train", "--debug"]
    with pytest.raises(RuntimeError, match="boom"):
        main(argv)


def test_debug_after_a_nested_command_reraises_user_errors():
    with pytest.raises(ValueError, match="z_min"):
        main(["plot", "activations", "--z-min", "1", "--z-max", "0", "--debug"])


def test_debug_not_given_after_the_command_keeps_the_main_flag(capsys, monkeypatch):
    # a sub-command parser must not reset --debug given before the command
    monkeypatch.setattr("nnmath.cli.train.train_network", _boom)
    with pytest.raises(RuntimeError):
        main(["--debug", "train", "--epochs", "1"])


# ------------------------------------------------------------------ train


def test_reader_closing_the_pipe_early_is_no_error():
    # `nnmath gradcheck --json | head -c 10`; here the reader closes its end before reading
    # anything, so the command's output surely meets a broken pipe
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnmath", "gradcheck", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 1  # Python's exit code on EPIPE
    assert "Broken pipe" not in err and "BrokenPipeError" not in err
    assert "error" not in err.lower(), err


def test_train_json_on_digits(capsys):
    code, out, err = run_cli(capsys, "train", "--epochs", "4", "--json", "--seed", "1")
    assert code == 0
    result = json.loads(out)
    assert result["dataset"] == "digits"
    assert result["sizes"] == [64, 30, 10]
    assert result["epochs"] == 4
    assert 0.8 < result["test_accuracy"] <= 1.0  # digits learns fast
    assert "Traceback" not in err


def test_train_quiet_prints_one_line(capsys):
    code, out, err = run_cli(capsys, "train", "--epochs", "2", "--quiet")
    assert code == 0
    assert len(out.splitlines()) == 1 and out.startswith("test accuracy ")
    assert err == ""  # no progress bar: stderr is not a terminal


def test_train_subprocess_quiet():
    proc = run_subprocess("train", "--epochs", "2", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("test accuracy ") and proc.stdout.strip().endswith("%")
    assert proc.stderr == ""


def test_train_plot_dir_writes_the_figures(capsys, tmp_path):
    out_dir = tmp_path / "figs"
    code, out, _ = run_cli(capsys, "train", "--epochs", "2", "--plot", str(out_dir), "--json")
    assert code == 0
    result = json.loads(out)
    names = sorted(Path(p).name for p in result["plots"])
    assert names == ["confusion.png", "curves.png", "misclassified.png"]
    assert sorted(p.name for p in out_dir.iterdir()) == names
    assert png_size(out_dir / "curves.png") == (1100, 450)
    assert png_size(out_dir / "confusion.png") == (650, 550)
    w, h = png_size(out_dir / "misclassified.png")
    assert w > 0 and h > 0


def test_train_plot_onto_a_file_is_an_error(capsys, tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    code, _, err = run_cli(capsys, "train", "--epochs", "1", "--plot", str(target))
    assert code == 2 and "not a folder" in err and len(err.splitlines()) == 1


# ------------------------------------------------------------------ plot


def test_plot_activations_png_and_json(capsys, tmp_path):
    path = tmp_path / "a.png"
    code, out, _ = run_cli(
        capsys, "plot", "activations", "--out", str(path), "--dpi", "40", "--json"
    )
    assert code == 0
    result = json.loads(out)
    assert result == {
        "figure": "activations",
        "path": str(path),
        "format": "png",
        "bytes": path.stat().st_size,
        "width": 480,
        "height": 280,
    }
    assert png_size(path) == (480, 280)


def test_plot_activations_svg(capsys, tmp_path):
    path = tmp_path / "a.svg"
    code, out, _ = run_cli(capsys, "plot", "activations", "-o", str(path))
    assert code == 0 and out.startswith(f"wrote {path}")
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")


@pytest.mark.parametrize(
    ("kind", "size"),
    [("curves", (1100, 450)), ("confusion", (650, 550)), ("misclassified", None)],
)
def test_plot_figures_of_a_quick_training(capsys, tmp_path, kind, size):
    path = tmp_path / f"{kind}.png"
    code, out, err = run_cli(capsys, "plot", kind, "--epochs", "2", "--out", str(path), "--quiet")
    assert code == 0, err
    assert out.strip() == str(path)
    w, h = png_size(path)
    if size is not None:
        assert (w, h) == size


def test_plot_confusion_json_reports_accuracy(capsys, tmp_path):
    path = tmp_path / "c.svg"
    code, out, _ = run_cli(
        capsys,
        "plot",
        "confusion",
        "--epochs",
        "3",
        "--split",
        "validation",
        "--out",
        str(path),
        "--json",
    )
    assert code == 0
    result = json.loads(out)
    assert result["split"] == "validation" and 0.5 < result["accuracy"] <= 1
    assert ET.parse(path).getroot().tag.endswith("svg")


# ------------------------------------------------------------------ predict (model files)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    if not HAS_MODEL_FILES:
        pytest.skip("nnmath.load / Network.save (model files) are not in this tree")
    from nnmath.data import load_digits

    data = load_digits()
    net = nnmath.Network([64, 20, 10], seed=0)
    net.fit(*data.train, epochs=3, eta=0.5, seed=0)
    path = tmp_path_factory.mktemp("model") / "net.safetensors"
    net.save(path)
    return path, net, data


@needs_model_files
def test_predict_prints_the_accuracy_of_a_saved_model(capsys, saved_model):
    path, net, data = saved_model
    code, out, _ = run_cli(capsys, "predict", str(path), "--dataset", "digits", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["accuracy"] == pytest.approx(net.accuracy(*data.test))
    assert result["n"] == len(data.test[1]) and result["sizes"] == [64, 20, 10]
    code, out, _ = run_cli(capsys, "predict", str(path), "--quiet")
    assert code == 0 and out.strip() == f"accuracy {net.accuracy(*data.test):.2%}"


@needs_model_files
def test_plot_confusion_of_a_saved_model(capsys, tmp_path, saved_model):
    path, net, data = saved_model
    out_path = tmp_path / "c.png"
    code, out, _ = run_cli(
        capsys, "plot", "confusion", "--model", str(path), "--out", str(out_path), "--json"
    )
    assert code == 0
    assert json.loads(out)["accuracy"] == pytest.approx(net.accuracy(*data.test))
    assert png_size(out_path) == (650, 550)


@needs_model_files
def test_predict_rejects_a_file_that_is_not_a_model(capsys, tmp_path):
    bogus = tmp_path / "x.safetensors"
    bogus.write_bytes(b"not a model at all")
    code, _, err = run_cli(capsys, "predict", str(bogus))
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err


def test_predict_with_a_directory_is_one_line(capsys, tmp_path):
    if not hasattr(nnmath, "load"):
        pytest.skip("nnmath.load is not in this tree")
    code, _, err = run_cli(capsys, "predict", str(tmp_path))
    assert code == 2 and "is a directory" in err


@pytest.fixture(scope="module")
def trained_net():
    from nnmath.data import load_digits

    data = load_digits()
    net = nnmath.Network([64, 20, 10], seed=0)
    net.fit(*data.train, epochs=3, eta=0.5, seed=0)
    return net, data


def test_predict_and_plot_model_use_nnmath_load(capsys, tmp_path, monkeypatch, trained_net):
    # the CLI side of model files, independent of the file format: nnmath.load gives a Network
    net, data = trained_net
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"placeholder")
    calls = []
    monkeypatch.setattr(nnmath, "load", lambda path: calls.append(str(path)) or net, raising=False)
    code, out, _ = run_cli(capsys, "predict", str(model), "--split", "validation", "--json")
    assert code == 0 and calls == [str(model)]
    result = json.loads(out)
    assert result["split"] == "validation"
    assert result["accuracy"] == pytest.approx(net.accuracy(*data.validation))
    assert result["cost"] == pytest.approx(net.cost(*data.validation), rel=1e-6)
    out_path = tmp_path / "m.png"
    code, out, _ = run_cli(
        capsys, "plot", "misclassified", "--model", str(model), "--out", str(out_path), "--json"
    )
    assert code == 0
    result = json.loads(out)
    wrong = int((net.predict(data.test[0]) != data.test[1]).sum())
    assert result["misclassified"] == wrong and png_size(out_path)[0] > 0
    code, _, err = run_cli(
        capsys, "plot", "curves", "--model", str(model), "--out", str(tmp_path / "c.png")
    )
    assert code == 2 and "cannot load model file" in err  # the placeholder is no model file


def test_plot_curves_reads_the_history_of_a_checkpoint(capsys, tmp_path):
    ckpt, saved = tmp_path / "run.safetensors", tmp_path / "m.safetensors"
    code, out, _ = run_cli(
        capsys,
        "train",
        "--epochs",
        "3",
        "--checkpoint",
        str(ckpt),
        "--save",
        str(saved),
        "--json",
    )
    assert code == 0
    trained = json.loads(out)
    png = tmp_path / "c.png"
    code, out, _ = run_cli(
        capsys, "plot", "curves", "--model", str(ckpt), "--out", str(png), "--json"
    )
    assert code == 0 and json.loads(out)["epochs"] == trained["epochs"] == 3
    assert png_size(png)[0] > 0
    code, _, err = run_cli(capsys, "plot", "curves", "--model", str(saved), "--out", str(png))
    assert code == 2 and "a saved model holds no training history; give the --checkpoint" in err


def test_predict_checks_the_model_fits_the_data(capsys, tmp_path, monkeypatch):
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"placeholder")
    monkeypatch.setattr(nnmath, "load", lambda path: nnmath.Network([10, 3, 10]), raising=False)
    code, _, err = run_cli(capsys, "predict", str(model))
    assert code == 2
    assert "expects 10 inputs (sizes[0]) but data set 'digits' has 64 features" in err


def test_json_numbers_are_plain(capsys):
    # every value json.loads gives back is a plain number / str / list (no NumPy reprs)
    code, out, _ = run_cli(capsys, "train", "--epochs", "1", "--json")
    result = json.loads(out)
    # each value has the JSON type of its meaning (a NumPy scalar would have made the dump fail
    # or turn into a string; json.loads itself can only give these types back)
    kinds = {
        "dataset": str,
        "sizes": list,
        "activations": list,
        "cost": str,
        "epochs": int,
        "training_cost": float,
        "validation_accuracy": float,
        "test_accuracy": float,
        "seconds": float,
        "seconds_per_epoch": float,
        "backend": str,
        "warnings": list,
        "stopped_early": bool,
    }
    for key, kind in kinds.items():
        assert type(result[key]) is kind, (key, result[key])
    assert result["best_epoch"] is None or type(result["best_epoch"]) is int
    assert all(type(s) is int for s in result["sizes"]) and result["sizes"] == [64, 30, 10]
    assert 0 < result["test_accuracy"] <= 1 and result["epochs"] == 1
    assert np.isfinite(result["training_cost"])


def test_every_option_states_its_meaning_and_default():
    import argparse

    from nnmath.cli import _leaf_parsers, build_parser

    missing = []
    for leaf in _leaf_parsers(build_parser()):
        formatter = leaf._get_formatter()
        for action in leaf._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                continue
            if isinstance(action, argparse._SubParsersAction) or action.dest == "debug":
                continue
            name = f"{leaf.prog} {'/'.join(action.option_strings) or action.dest}"
            if not (action.help or "").strip():
                missing.append(f"{name}: no help")
                continue
            flag = isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))
            if action.option_strings and not flag:
                shown = formatter._get_help_string(action)
                if "default" not in shown.lower():
                    missing.append(f"{name}: no default in {shown!r}")
    assert missing == []
    # the formatter adds a default the text left out, as --help shows it
    helps = {"gradcheck": ["ε", "(default 1e-6)", "relative error"], "trace": ["align*"]}
    for command, words in helps.items():
        out = _help_of(command)
        assert all(w in out for w in words), (command, words)
    assert "Network.fit's SGD default is 3.0" in " ".join(_help_of("train").split())


def _help_of(command: str) -> str:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit):
        main([command, "--help"])
    return buf.getvalue()
