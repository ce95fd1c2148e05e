"""What the command line prints: plurals and prefixes, no Python reprs, status lines on stderr
(so that a document on stdout holds only itself), no empty columns, no "(0.00 s)"."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from conftest import run_cli

#: what a Python repr looks like in a line meant for people: a list, a tuple, None, a class(...)
REPR = re.compile(r"\['|\('|\bNone\b|\b[A-Z][a-z]+\(|=\[|=\(")


# ------------------------------------------------------------------ sweep


def test_sweep_without_a_grid_option_runs_the_one_default_point(capsys, tmp_path):
    out = tmp_path / "s.csv"
    code, stdout, err = run_cli(
        capsys, "sweep", "vanishing", "--subset", "100", "--jobs", "1", "--out", out, "--json"
    )
    assert code == 0, err
    report = json.loads(stdout)
    assert report["ran"] == report["total"] == 1 and report["complete"]
    assert report["summary"][0]["depth"] == 1


def test_sweep_errors_carry_the_command_prefix_once(capsys, tmp_path):
    code, _, err = run_cli(
        capsys, "sweep", "vanishing", "--activation", "softmax", "--out", tmp_path / "s.csv"
    )
    assert code == 2 and len(err.splitlines()) == 1
    assert err.count("nnmath sweep") == 1 and err.count("bad value 'softmax'") == 1
    assert err.startswith("nnmath sweep: error: bad value 'softmax' for activation")


def test_sweep_says_one_seed_and_one_task_and_keeps_stdout_for_results(capsys, tmp_path):
    out = tmp_path / "s.csv"
    argv = ["sweep", "vanishing", "--subset", "100", "--jobs", "1", "--out", out]
    code, stdout, err = run_cli(capsys, *argv)
    assert code == 0
    assert "1 task (1 grid point x 1 seed)" in err and "seeds" not in err
    assert "ran 1 task in" in stdout and "nnmath sweep: vanishing on" not in stdout
    assert "±" not in stdout  # one run per grid point: no standard deviation of one number
    code, stdout, err = run_cli(capsys, *argv, "--activation", "sigmoid,relu", "--resume")
    assert code == 0
    assert "2 tasks (2 grid points x 1 seed)" in err
    assert "resuming: 1 task done already, 1 to run" in err


# ------------------------------------------------------------------ reprs, times, plurals


def tiny_idx_folder(folder):
    """A data set of 60 + 20 random 4 x 4 images: its epochs take well under 0.01 s."""
    from nnmath.data.idx import write_idx

    rng = np.random.default_rng(0)
    for prefix, n in (("train", 60), ("t10k", 20)):
        images = rng.integers(0, 256, (n, 4, 4)).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n).astype(np.uint8))
    return folder


def test_train_shows_the_data_and_network_in_words_and_no_zero_epoch_times(capsys, tmp_path):
    data = tiny_idx_folder(tmp_path)
    code, out, _ = run_cli(capsys, "train", "--dataset", data, "--epochs", "3")
    assert code == 0
    head = out.splitlines()[:2]
    assert head[0] == f"data {data.name}: 50 training, 10 validation, 20 test rows, 16 features"
    assert head[1] == (
        "network 16,30,10: sigmoid hidden layer, sigmoid output, cross_entropy cost, float32"
    )
    assert not REPR.search(out), out
    epochs = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == 3 and not any("0.00 s" in line for line in epochs)


def test_an_epoch_time_is_shown_from_a_hundredth_of_a_second():
    from nnmath.cli.train import epoch_seconds

    assert epoch_seconds(0.18) == "  (0.18 s)" and epoch_seconds(0.004) == ""


def test_gradcheck_and_export_print_no_python_reprs(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "gradcheck")
    assert code == 0 and out.startswith("network 4,5,5,3: sigmoid hidden layers, sigmoid output")
    assert not REPR.search(out), out
    pytest.importorskip("onnx")
    import nnmath

    model = tmp_path / "m.safetensors"
    nnmath.Network([4, 3, 2], seed=0).save(model)
    code, out, _ = run_cli(capsys, "export", model, tmp_path / "m.onnx")
    assert code == 0 and "sizes 4,3,2, activations sigmoid,sigmoid, opset" in out
    assert not REPR.search(out), out


def test_a_bad_name_lists_the_choices_without_brackets(capsys):
    code, _, err = run_cli(capsys, "train", "--activation", "sigmod")
    assert code == 2 and "choose one of elu, gelu," in err and "[" not in err
    code, _, err = run_cli(capsys, "train", "--dataset", "digts")
    assert code == 2 and "choose one of digits, fashion-mnist, mnist or" in err


# ------------------------------------------------------------------ Markdown on stdout


def test_vanishing_markdown_on_stdout_holds_only_markdown_without_empty_columns(capsys, tmp_path):
    argv = ["vanishing", "--dataset", "digits", "--subset", "50", "--sizes", "64,8,8,10"]
    code, out, err = run_cli(capsys, *argv, "--markdown", "--plot", tmp_path / "v.png")
    assert code == 0
    lines = [line for line in out.splitlines() if line]
    assert lines[0].startswith("speed of learning") and lines[0].endswith("one seed")
    assert all(line.startswith("|") for line in lines[1:]), out
    assert lines[1] == "| network | σ | init | hidden layer | mean | next/this |"
    assert "figure written to" in err and "seed(s)" not in out
    code, out, _ = run_cli(capsys, *argv, "--seeds", "2")
    assert code == 0 and "mean over 2 seeds" in out and "std" in out and "book" not in out


# ------------------------------------------------------------------ --json / --quiet everywhere


def test_playground_json_and_quiet_give_the_address_for_a_script(tmp_path):
    pytest.importorskip("uvicorn")
    pytest.importorskip("starlette")
    import os
    import subprocess
    import sys
    import urllib.request
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    for flag in ("--json", "--quiet"):
        proc = subprocess.Popen(
            [sys.executable, "-m", "nnmath", "playground", "--no-browser", flag],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        try:
            if flag == "--json":
                lines = [proc.stdout.readline()]
                while lines[-1] and lines[-1].strip() != "}":
                    lines.append(proc.stdout.readline())
                found = json.loads("".join(lines))
                assert found["host"] == "127.0.0.1" and found["url"].endswith(f":{found['port']}/")
                url = found["url"]
            else:
                url = proc.stdout.readline().strip()
                assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url), url
            with urllib.request.urlopen(url, timeout=30) as page:
                assert page.status == 200
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def test_every_command_has_json_and_quiet():
    from nnmath.cli import build_parser

    parser = build_parser()
    missing = []
    for action in parser._subparsers._group_actions[0].choices.items():
        name, sub = action
        leaves = [sub]
        if sub._subparsers is not None:
            leaves = list(sub._subparsers._group_actions[0].choices.values())
        for leaf in leaves:
            flags = {s for a in leaf._actions for s in a.option_strings}
            if not {"--json", "--quiet"} <= flags:
                missing.append(leaf.prog)
    assert missing == []


# ------------------------------------------------------------------ reproduce --out


def test_reproduce_out_writes_the_report_with_figure_paths_relative_to_it(capsys, tmp_path):
    from nnmath.cli.reproduce import write_report
    from nnmath.reproduce import Report

    figure = tmp_path / "figs" / "he2015.png"
    report = Report("he2015", "t", "src", "p", quick=True, seeds=[0], claims=[])
    report.figures.append(str(figure))
    out = tmp_path / "docs" / "notes.md"
    out.parent.mkdir()
    write_report([report], out)
    assert "![he2015](../figs/he2015.png)" in out.read_text()


def test_reproduce_out_keeps_stdout_empty_and_refuses_an_existing_file(capsys, tmp_path):
    out = tmp_path / "report.md"
    code, stdout, err = run_cli(capsys, "reproduce", "mazur-backprop", "--out", out)
    assert code == 0 and stdout == "" and f"wrote {out}" in err
    assert out.read_text().startswith("### mazur-backprop: ")
    code, _, err = run_cli(capsys, "reproduce", "mazur-backprop", "--out", out)
    assert code == 2 and "the file exists; add --overwrite" in err
    code, _, _ = run_cli(capsys, "reproduce", "mazur-backprop", "--out", out, "--overwrite")
    assert code == 0


# ------------------------------------------------------------------ plurals


def test_counts_of_one_are_singular(capsys, tmp_path):
    code, _, err = run_cli(capsys, "trace", "--x", "1")
    assert code == 2 and "--x has 1 value, the network expects 2" in err
    code, out, _ = run_cli(capsys, "gradcheck", "--examples", "1")
    assert "; 1 example, eps" in out.splitlines()[0]
    argv = ["vanishing", "--dataset", "digits", "--subset", "1", "--sizes", "64,5,5,10"]
    code, out, _ = run_cli(capsys, *argv, "--markdown")
    assert code == 0 and "first 1 training row, one seed" in out.splitlines()[0]
