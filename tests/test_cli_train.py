"""End-to-end tests of ``nnmath train`` on the embedded digits data set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnmath.cli import main

SRC = Path(__file__).resolve().parents[1] / "src"


def test_train_json_reports_test_accuracy(capsys) -> None:
    assert main(["train", "--epochs", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["dataset"] == "digits" and result["epochs"] == 3
    assert result["sizes"] == [64, 30, 10]
    assert result["test_accuracy"] > 0.85


def test_train_prints_epochs_and_a_summary(capsys) -> None:
    assert (
        main(
            [
                "train",
                "--epochs",
                "2",
                "--sizes",
                "64,20,10",
                "--activation",
                "relu",
                "--output-activation",
                "softmax",
                "--cost",
                "log_likelihood",
                "--init",
                "he",
                "--optimizer",
                "adam",
                "--eta",
                "0.003",
                "--dtype",
                "float64",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "epoch   1/2" in out and "epoch   2/2" in out
    assert "test accuracy" in out and "64,20,10" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--eta", "fast"], "argument --eta: expected a finite number > 0, got 'fast'"),
        (["train", "--cost", "hinge"], "unknown cost 'hinge'"),
        (["train", "--activation", "no_such_sigma"], "unknown activation 'no_such_sigma'"),
        (["train", "--init", "xavier"], "unknown init 'xavier'"),
        (["train", "--sizes", "10,5,10"], "does not fit the data"),
        (["train", "--dataset", "nope"], "unknown dataset 'nope'"),
        (["train", "--optimizer", "lbfgs"], "unknown optimizer"),
        (
            ["train", "--epochs", "1", "--batch-size", "0"],
            "--batch-size: expected a positive integer",
        ),
    ],
)
def test_bad_options_give_one_line_and_exit_2(argv, message) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nnmath", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert message in lines[0] and "Traceback" not in proc.stderr


def _train_json(capsys, *argv: str) -> tuple[dict, str]:
    assert main(["train", *argv, "--json"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ["--eta", "3.0", "--init", "normal"],  # 99 %, with most hidden units saturated
        ["--sizes", "64,30,10", "--eta", "3.0", "--cost", "quadratic", "--init", "normal"],
        [],  # the defaults
    ],
)
def test_a_run_that_learns_well_is_never_said_to_have_learnt_nothing(capsys, argv) -> None:
    """Saturated hidden units alone are a note with their fraction, not "learnt nothing"
    (which the README's chapter-1 command and MNIST runs at 95 % were told)."""
    result, err = _train_json(capsys, *argv)
    assert result["test_accuracy"] > 0.95
    assert result["warnings"] == [] and "learnt nothing" not in err
    if argv[:2] == ["--eta", "3.0"]:
        (note,) = result["notes"]
        assert "% of the hidden units are saturated" in note and int(note.split("%")[0]) > 50


@pytest.mark.parametrize(
    ("argv", "fix"),
    [
        (["--eta", "60"], "a smaller --eta (e.g. 6, a tenth of 60)"),
        (["--activation", "relu", "--cost", "quadratic"], "--output-activation sigmoid"),
        (["--optimizer", "adam", "--eta", "0.5"], "a smaller --eta (e.g. 0.001, adam's default)"),
        (["--eta", "1e-5"], "a larger --eta (e.g. 0.0001, ten times 1e-05)"),
    ],
)
def test_a_run_that_learns_nothing_says_so_and_hints_only_changes(capsys, argv, fix) -> None:
    """At chance and no better than a constant output: "learnt nothing", the real fix
    first, and no hint that repeats a setting of the run (--init scaled_normal is the
    default; --optimizer adam when it is Adam)."""
    result, err = _train_json(capsys, *argv, "--epochs", "5")
    assert result["test_accuracy"] < 0.2
    (warning,) = [w for w in result["warnings"] if "learnt nothing" in w]
    assert "at chance" in warning
    hint = warning.split("Hint: try ")[1]
    assert hint.startswith(fix) and f"warning: {warning}" in err
    settings = dict(zip(argv[::2], argv[1::2]))
    settings.setdefault("--init", "scaled_normal")
    settings.setdefault("--optimizer", "sgd")
    for option, value in settings.items():
        assert f"{option} {value}" not in hint


@pytest.mark.parametrize(
    ("optimizer", "eta"), [("sgd", "0.5"), ("adam", "0.001"), ("rmsprop", "0.001")]
)
def test_each_optimizer_takes_its_own_eta_when_none_is_given(capsys, optimizer, eta) -> None:
    """--optimizer adam / rmsprop without --eta train with 1e-3 (they scored 10 % and 43 % on
    the digits with SGD's 0.5); plain SGD keeps 0.5."""
    default, _ = _train_json(capsys, "--optimizer", optimizer, "--epochs", "10")
    given, _ = _train_json(capsys, "--optimizer", optimizer, "--eta", eta, "--epochs", "10")
    assert default["training_cost"] == given["training_cost"]
    assert default["test_accuracy"] == given["test_accuracy"] > 0.85


def test_log_likelihood_gets_a_softmax_output_and_a_sigmoid_one_warns(capsys) -> None:
    result, err = _train_json(capsys, "--cost", "log_likelihood", "--epochs", "10")
    assert result["activations"] == ["sigmoid", "softmax"] and result["test_accuracy"] > 0.9
    assert result["warnings"] == [] and "warning" not in err
    result, err = _train_json(
        capsys, "--cost", "log_likelihood", "--output-activation", "sigmoid", "--epochs", "1"
    )
    (warning,) = [w for w in result["warnings"] if "log_likelihood cost" in w]
    assert "output_activation='softmax'" in warning
    assert f"nnmath train: warning: {warning}" in err


def test_an_existing_checkpoint_is_not_overwritten_without_being_told(capsys, tmp_path) -> None:
    ckpt = tmp_path / "run.safetensors"
    argv = ["train", "--epochs", "1", "--checkpoint", str(ckpt), "--quiet"]
    assert main(argv) == 0
    before = ckpt.read_bytes()
    capsys.readouterr()
    assert main([*argv, "--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert "the file exists" in err and "--resume" in err and "--overwrite" in err
    assert len(err.strip().splitlines()) == 1 and ckpt.read_bytes() == before
    assert main([*argv, "--seed", "1", "--overwrite"]) == 0 and ckpt.read_bytes() != before
    assert main([*argv, "--epochs", "2", "--resume"]) == 0
    assert main([*argv, "--resume", "--overwrite"]) == 2
    assert "exclude each other" in capsys.readouterr().err
