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
