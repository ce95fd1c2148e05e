"""End-to-end tests of ``nnmath vanishing``, ``nnmath gradcheck`` and ``nnmath trace``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnmath.cli import main

SRC = Path(__file__).resolve().parents[1] / "src"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-m", "nnmath", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_vanishing_json_and_png_at_initialisation(tmp_path, capsys):
    png = tmp_path / "speeds.png"
    code = main(
        [
            "vanishing",
            "--dataset",
            "digits",
            "--subset",
            "200",
            "--seeds",
            "2",
            "--activation",
            "sigmoid,relu",
            "--plot",
            str(png),
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dataset"] == "digits" and out["subset"] == 200 and out["seeds"] == 2
    results = out["results"]
    assert len(results) == 6  # 3 architectures × 2 activations
    assert [r["sizes"] for r in results[::2]] == [
        [64, 30, 30, 10],
        [64, 30, 30, 30, 10],
        [64, 30, 30, 30, 30, 10],
    ]
    for r in results:
        n_hidden = len(r["sizes"]) - 2
        assert r["layers"] == list(range(2, 2 + n_hidden))
        assert len(r["mean"]) == 1 and len(r["mean"][0]) == n_hidden
        assert len(r["initial_per_seed"]) == 2
        # min, mean and max are those of the seeds' own speeds (not just ordered)
        per_seed = np.array(r["initial_per_seed"])  # (seeds, hidden layers)
        np.testing.assert_allclose(r["min"][0], per_seed.min(axis=0), rtol=1e-12)
        np.testing.assert_allclose(r["mean"][0], per_seed.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(r["max"][0], per_seed.max(axis=0), rtol=1e-12)
        assert (per_seed[0] != per_seed[1]).all()  # two seeds: two draws
        assert r["book"] is None  # the book's numbers are for MNIST's 784 inputs
    # sigmoid: each hidden layer learns slower than the next
    deep_sigmoid = results[4]
    assert deep_sigmoid["activation"] == "sigmoid"
    mean = deep_sigmoid["mean"][0]
    assert all(a < b for a, b in zip(mean, mean[1:]))
    # the PNG is real
    data = png.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    import matplotlib.image as mpimg

    img = mpimg.imread(png)
    assert img.shape[0] > 100 and img.shape[1] > 100


def test_vanishing_training_tracks_every_epoch(tmp_path, capsys):
    svg = tmp_path / "train.svg"
    code = main(
        [
            "vanishing",
            "--dataset",
            "digits",
            "--subset",
            "100",
            "--sizes",
            "64,10,10,10",
            "--epochs",
            "3",
            "--batch-size",
            "50",
            "--plot",
            str(svg),
            "--json",
        ]
    )
    assert code == 0
    r = json.loads(capsys.readouterr().out)["results"][0]
    assert r["epoch"] == [0.0, 1.0, 2.0, 3.0]
    assert len(r["mean"]) == 4 and all(len(row) == 2 for row in r["mean"])
    assert svg.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_vanishing_quiet_prints_the_speeds_after_training(capsys):
    args = [
        "vanishing",
        "--dataset",
        "digits",
        "--subset",
        "100",
        "--sizes",
        "64,10,10,10",
        "--epochs",
        "3",
        "--batch-size",
        "50",
    ]
    assert main([*args, "--json"]) == 0
    mean = json.loads(capsys.readouterr().out)["results"][0]["mean"]
    final = " ".join(f"{v:.3g}" for v in mean[-1])
    assert final != " ".join(f"{v:.3g}" for v in mean[0])  # training changed the speeds
    assert main([*args, "-q"]) == 0
    assert capsys.readouterr().out == f"64,10,10,10 sigmoid scaled_normal: {final}\n"


def test_vanishing_table_and_book_columns(capsys):
    code = main(
        [
            "vanishing",
            "--dataset",
            "digits",
            "--subset",
            "50",
            "--sizes",
            "64,8,8,10",
            "--markdown",
            "--epochs",
            "2",
            "--batch-size",
            "25",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "| network | σ | init | hidden layer | mean |" in out
    assert "| 64,8,8,10 | sigmoid | scaled_normal | 1 (l=2) |" in out
    assert "epoch 2" in out


def test_vanishing_book_numbers_are_attached_to_the_book_networks():
    from nnmath.cli.vanishing import BOOK_SPEEDS

    assert BOOK_SPEEDS[(784, 30, 30, 10)] == [0.07, 0.31]
    assert BOOK_SPEEDS[(784, 30, 30, 30, 30, 10)] == [0.003, 0.017, 0.070, 0.285]


def test_vanishing_bad_sizes_is_one_line_error():
    proc = run_cli("vanishing", "--dataset", "digits", "--sizes", "784,30,10")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "must start with 64" in proc.stderr


def test_gradcheck_command_passes_and_json_parses(capsys):
    assert main(["gradcheck", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True and out["max_error"] < 1e-4
    assert {row["quantity"] for row in out["rows"]} >= {"σ'", "δ^L", "δ^l", "∂C/∂b", "∂C/∂w"}


def test_gradcheck_command_markdown_and_options(capsys):
    code = main(
        [
            "gradcheck",
            "--sizes",
            "3,4,4,2",
            "--activation",
            "tanh",
            "--output-activation",
            "softmax",
            "--cost",
            "log_likelihood",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "| quantity | layer | max relative error |" in out and "all checks passed" in out


def test_gradcheck_command_exit_code_1_on_failure(capsys):
    # a step far too large for central differences: the check must fail, exit code 1
    code = main(["gradcheck", "--eps", "0.5", "--quiet"])
    assert code == 1
    assert "FAILED" in capsys.readouterr().out


def test_trace_command_markdown_latex_json(capsys):
    assert main(["trace", "--x", "0.5,0.1", "--y", "1,0"]) == 0
    md = capsys.readouterr().out
    assert "a^1 = x = [0.5, 0.1]" in md and "| 3 | sigmoid |" in md
    assert main(["trace", "--format", "latex", "--sizes", "2,2,1", "--y", "1"]) == 0
    tex = capsys.readouterr().out
    assert r"\begin{align*}" in tex and r"\delta^{3}" in tex
    assert main(["trace", "--json", "--sizes", "3,4,3", "--y", "2"]) == 0
    t = json.loads(capsys.readouterr().out)
    assert t["y"] == [0.0, 0.0, 1.0] and [layer["layer"] for layer in t["layers"]] == [2, 3]


def test_trace_command_bad_input_is_one_line_error():
    proc = run_cli("trace", "--x", "1,2,3")
    assert proc.returncode == 2
    assert "--x has 3 values, the network expects 2" in proc.stderr


def test_vanishing_default_data_set_is_mnist_or_says_so(capsys):
    # default: MNIST when nnmath.data can load it, else digits with a note on stderr
    assert main(["vanishing", "--subset", "100", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["dataset"] == "mnist" or (
        out["dataset"] == "digits" and "using digits" in captured.err
    )
    if out["dataset"] == "mnist":
        assert [r["book"] for r in out["results"]] == [
            [0.07, 0.31],
            [0.012, 0.060, 0.283],
            [0.003, 0.017, 0.070, 0.285],
        ]


def test_vanishing_factors_option(capsys):
    code = main(
        [
            "vanishing",
            "--dataset",
            "digits",
            "--subset",
            "60",
            "--sizes",
            "64,8,8,8,10",
            "--factors",
            "--json",
        ]
    )
    assert code == 0
    f = json.loads(capsys.readouterr().out)["results"][0]["factors"]
    assert [row["layer"] for row in f["layers"]] == [2, 3, 4]
    for row in f["layers"]:
        assert row["weight_factor"] * row["activation_factor"] == pytest.approx(row["ratio"])
    assert (
        main(
            [
                "vanishing",
                "--dataset",
                "digits",
                "--subset",
                "60",
                "--sizes",
                "64,8,8,10",
                "--factors",
            ]
        )
        == 0
    )
    assert "why it vanishes" in capsys.readouterr().out
