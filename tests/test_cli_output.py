"""What the command line prints: plurals and prefixes, no Python reprs, status lines on stderr
(so that a document on stdout holds only itself), no empty columns, no "(0.00 s)"."""

from __future__ import annotations

import json
import re

import pytest

from nnmath.cli import main

#: what a Python repr looks like in a line meant for people: a list, a tuple, None, a class(...)
REPR = re.compile(r"\['|\('|\bNone\b|\b[A-Z][a-z]+\(|=\[|=\(")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


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
