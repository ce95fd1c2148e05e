"""Sweeps over networks of layers: ``layers = "conv(...) ..."`` in a sweep file or on the
command line, checked up front, run, written to the table and read back on resume."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from nnmath.sweep import Sweep, SweepError, load_sweep, read_results, run_sweep

CONV = "conv(2,3,relu) pool(2) dense(10,softmax)"
DENSE = "dense(12,relu) dense(10,softmax)"


def layer_sweep(**extra) -> Sweep:
    grid = {"layers": [CONV, DENSE], "cost": "log_likelihood", "epochs": 1, **extra}
    return Sweep.create("train", subset=60, seeds=1, **grid)


def test_a_grid_of_descriptions_has_its_own_columns_and_canonical_values() -> None:
    sweep = Sweep.create("train", layers=["conv(2, 3, act=relu)  pool(2) dense(10,softmax)"])
    assert sweep.grid["layers"] == (CONV,)  # one spelling, one task key
    cols = sweep.columns()
    assert "layers" in cols and not {"depth", "width", "activation"} & set(cols)
    assert "layers" not in Sweep.create("train", depth=[1, 2]).columns()
    assert all(t.params["layers"] == CONV and "depth" not in t.params for t in sweep.tasks())


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"layers": [CONV], "depth": [1, 2]}, "depth does not apply to layers"),
        ({"layers": ["conv(2)"]}, "bad value 'conv(2)' for layers: conv takes (out_channels"),
        ({"layers": ["conv(2,9,relu) dense(10,softmax)"]},
         "on digits (1, 8, 8): conv(2,9,relu) (layer 1) gets shape (1, 8, 8)"),
        ({"layers": ["dense(3,softmax)"]}, "3 outputs, and the data has 10 classes"),
        ({"layers": [3]}, "expected a layer description (a string)"),
        ({"layers": [CONV, "conv(2,3,relu)   pool(2) dense(10,softmax)"]}, "repeats a value"),
    ],
)  # fmt: skip
def test_descriptions_are_checked_before_any_task_runs(grid, message) -> None:
    with pytest.raises(SweepError) as info:
        Sweep.create("train", **grid)
    assert message in str(info.value)


def test_a_layer_sweep_runs_resumes_and_summarises(tmp_path) -> None:
    out = tmp_path / "r.csv"
    first = run_sweep(layer_sweep(), out, n_jobs=1, max_tasks=1)
    resumed = run_sweep(layer_sweep(), out, n_jobs=1, resume=True)
    assert (first.ran, resumed.skipped, resumed.ran, resumed.rejected) == (1, 1, 1, [])
    rows = read_results(out)
    assert [r["layers"] for r in rows] == [CONV, DENSE]
    assert all(0 <= r["validation_accuracy"] <= 1 and r["epochs_run"] == 1 for r in rows)
    summary = resumed.summary()
    assert [g["layers"] for g in summary] == [CONV, DENSE]


def test_a_vanishing_sweep_of_layers_records_each_layers_speed(tmp_path) -> None:
    sweep = Sweep.create("vanishing", subset=40, layers=[CONV], cost="log_likelihood", epochs=1)
    assert [c for c in sweep.columns() if c.startswith("speed_l")] == ["speed_l1"]
    (row,) = run_sweep(sweep, tmp_path / "v.jsonl", n_jobs=1).rows
    assert row["speed_l1"] > 0 and row["speed_out"] > 0 and len(row["speeds"]) == 2


def test_a_sweep_file_gives_layers_and_the_command_line_a_grid(tmp_path, capsys) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text(f'subset = 60\n[grid]\nlayers = "{CONV}"\ncost = "log_likelihood"\n'
                    "epochs = 1\n")  # fmt: skip
    assert load_sweep(toml).grid["layers"] == (CONV,)
    out = tmp_path / "cli.csv"
    code, stdout, err = run_cli(capsys, "sweep", "train", "--layers", CONV, "--layers", DENSE,
                                "--cost", "log_likelihood", "--epochs", "1", "--subset", "60",
                                "--jobs", "1", "--out", out)  # fmt: skip
    assert code == 0, err
    assert CONV in stdout and DENSE in stdout  # the summary table's rows
    code, stdout, err = run_cli(capsys, "sweep", "--config", toml, "--out", tmp_path / "f.csv",
                                "--jobs", "1", "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(stdout)["total"] == 1
    code, _, err = run_cli(capsys, "sweep", "train", "--layers", CONV, "--depth", "2")
    assert code == 2 and "depth does not apply to layers" in err
