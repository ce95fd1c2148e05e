"""Sweeps: validation, determinism, local (joblib) vs a real Dask cluster on 127.0.0.1, a worker
killed mid-sweep, resume after an interruption, the results table formats, the CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from conftest import MNIST_FOLDER
from nnmath.cli import main
from nnmath.sweep import (
    Sweep,
    SweepError,
    cache_info,
    load_sweep,
    read_results,
    run_sweep,
    run_task,
    summarize,
)

distributed = pytest.importorskip("distributed", reason="the Dask tests need dask.distributed")

SRC = Path(__file__).resolve().parents[1] / "src"
VOLATILE = ("wall_time", "worker")  # the only columns allowed to differ between runs


def small_sweep(**grid):
    grid = grid or {"activation": ["sigmoid", "relu"], "depth": [1, 2], "epochs": 1}
    return Sweep.create("vanishing", subset=200, seeds=2, **grid)


def stable(rows):
    """Rows sorted by key, without the columns that record where and how long a task ran."""
    return [
        {k: v for k, v in r.items() if k not in VOLATILE}
        for r in sorted(rows, key=lambda r: r["key"])
    ]


def assert_same_rows(a, b):
    a, b = stable(a), stable(b)
    assert [r["key"] for r in a] == [r["key"] for r in b]
    for ra, rb in zip(a, b, strict=True):
        assert ra.keys() == rb.keys()
        for k in ra:
            if isinstance(ra[k], float) and isinstance(rb[k], float):
                assert ra[k] == pytest.approx(rb[k], rel=0, abs=1e-12), k
            else:
                assert ra[k] == rb[k], k


def new_cluster():
    return distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # no fixed port (8787)
    )


@pytest.fixture(scope="module")
def cluster():
    with new_cluster() as c:
        yield c


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The small sweep run in this process, one task after the other."""
    out = tmp_path_factory.mktemp("ref") / "ref.csv"
    result = run_sweep(small_sweep(), out, n_jobs=1)
    assert result.complete and result.ran == 8
    return read_results(out)


# ---------------------------------------------------------------------------- validation


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ('measure = "vanishing"\n[grid]\ndept = [1, 2]\n', "unknown grid parameter 'dept'"),
        ('measure = "vanishing"\n[grid]\n', "the grid is empty"),
        ('measure = "vanishing"\n', "the grid is empty"),
        ('measure = "vanishing"\n[grid]\ndepth = []\n', "'depth' has no values"),
        ('measure = "vanishing"\n[grid]\ninit = ["hee"]\n', "bad value 'hee' for init"),
        ('measure = "vanishing"\n[grid]\ndepth = [0]\n', "bad value 0 for depth"),
        ('measure = "vanishing"\n[grid]\neta = ["fast"]\n', "expected a number"),
        ('measure = "speed"\n[grid]\ndepth = [1]\n', "unknown measure 'speed'"),
        ('measure = "train"\nseed = 3\n[grid]\ndepth = [1]\n', "unknown setting 'seed'"),
        ('dataset = "nope"\n[grid]\ndepth = [1]\n', "unknown dataset 'nope'"),
        ("[grid\ndepth = [1]\n", "not valid TOML"),
    ],
)
def test_bad_sweep_files_give_one_clear_line(tmp_path, text, message):
    path = write(tmp_path / "sweep.toml", text)
    with pytest.raises(SweepError, match=message) as info:
        load_sweep(path)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(f"{path}: ")  # the one line names the file first


def test_unknown_parameter_suggests_the_right_name(tmp_path):
    path = write(tmp_path / "s.toml", '[grid]\nactivaton = ["relu"]\n')
    with pytest.raises(SweepError, match="did you mean 'activation'"):
        load_sweep(path)


def test_bad_sweep_file_on_the_command_line_is_one_line_exit_2(tmp_path):
    path = write(tmp_path / "s.toml", "[grid]\ndepth = [1, 2]\nwidht = [3]\n")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run(
        [sys.executable, "-m", "nnmath", "sweep", "--config", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "unknown grid parameter 'widht'" in proc.stderr
    assert proc.stdout == ""


def test_unreachable_scheduler_is_a_clear_error_and_touches_nothing(tmp_path):
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nobody listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "r.csv"
    with pytest.raises(
        SweepError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"
    ) as info:
        run_sweep(small_sweep(), out, scheduler=f"tcp://127.0.0.1:{port}", connect_timeout=1)
    assert "\n" not in str(info.value)
    assert not out.exists()


def test_existing_results_need_resume_or_overwrite(tmp_path, reference):
    out = tmp_path / "r.csv"
    out.write_text("key\n")
    with pytest.raises(SweepError, match="exists: pass --resume"):
        run_sweep(small_sweep(), out, n_jobs=1)


def test_grid_values_are_normalised_and_defaults_filled():
    sw = Sweep.create("train", activation=["Linear", "ReLU"], eta=1, depth=3)
    assert sw.grid == {"activation": ("identity", "relu"), "eta": (1.0,), "depth": (3,)}
    points = sw.points()
    assert len(points) == 2 and points[0]["width"] == 30 and points[0]["epochs"] == 10
    assert sw.varying == ["activation"]


def test_defaults_that_can_learn_follow_the_optimizer_and_the_cost():
    """Adam and RMSprop take their own η, log-likelihood a softmax output, as nnmath train does;
    a grid that names them keeps its values, and SGD's points keep their η (and their keys)."""
    sw = Sweep.create("train", optimizer=["sgd", "adam", "rmsprop"], cost=["log_likelihood"])
    etas = {p["optimizer"]: p["eta"] for p in sw.points()}
    assert etas == {"sgd": 0.5, "adam": 1e-3, "rmsprop": 1e-3}
    assert {p["output_activation"] for p in sw.points()} == {"softmax"}
    named = Sweep.create("train", optimizer=["adam"], eta=[0.5], output_activation=["sigmoid"])
    assert named.points()[0]["eta"] == 0.5 and named.points()[0]["output_activation"] == "sigmoid"
    sgd = Sweep.create("train", depth=[1])
    assert sgd.points()[0]["eta"] == 0.5 and sgd.points()[0]["output_activation"] == "sigmoid"


# ---------------------------------------------------------------------------- determinism


def test_a_task_depends_on_its_grid_point_only(tmp_path):
    """The same grid point has the same key, seed and result whatever grid or order holds it."""
    a = small_sweep(activation=["sigmoid", "tanh"], depth=[1, 2], epochs=1)
    b = small_sweep(depth=[2, 1], activation=["tanh"], epochs=1)
    ta = {t.key: t for t in a.tasks()}
    tb = b.tasks()
    assert all(t.key in ta and t.entropy == ta[t.key].entropy for t in tb)
    # seeds differ across seed indices and across grid points
    keys = [t.key for t in a.tasks()]
    assert len(set(keys)) == len(keys) == 8
    first = [ta[t.key] for t in tb]
    assert_same_rows([run_task(t) for t in first], [run_task(t) for t in reversed(tb)])
    r0, r1 = run_task(a.tasks()[0]), run_task(a.tasks()[1])  # seed 0 vs seed 1
    assert r0["speed_l1"] != r1["speed_l1"]


def test_vanishing_rows_hold_every_layer_speed(reference):
    deep = [r for r in reference if r["depth"] == 2]
    assert deep
    for r in deep:
        assert r["speed_l1"] > 0 and r["speed_l2"] > 0 and r["speed_out"] > 0
        assert len(r["speeds"]) == 2  # at init and after the one epoch
        assert r["speeds"][0] == [r["speed_l1"], r["speed_l2"], r["speed_out"]]
        assert len(r["epoch_costs"]) == 1 and r["diverged"] is False
    shallow = [r for r in reference if r["depth"] == 1]
    assert all(r["speed_l2"] is None for r in shallow)


def test_speeds_are_the_diagnostics_gradient_norms(reference):
    from nnmath.data import load_dataset
    from nnmath.diagnostics import gradient_norms
    from nnmath.network import Network

    task = small_sweep().tasks()[3]
    row = next(r for r in reference if r["key"] == task.key)
    X, y = load_dataset("digits").train
    p = task.params
    net = Network(
        [64, *[p["width"]] * p["depth"], 10],
        activation=p["activation"],
        output_activation="sigmoid",
        cost=p["cost"],
        init=p["init"],
        rng=np.random.default_rng(task.seed_sequence().spawn(2)[0]),
    )
    assert gradient_norms(net, X[:200], y[:200]).nabla_b == row["speeds"][0]


# ---------------------------------------------------------------------------- local vs Dask


def test_joblib_processes_equal_the_sequential_run(tmp_path, reference):
    result = run_sweep(small_sweep(), tmp_path / "r.csv", n_jobs=2)
    assert result.complete
    assert_same_rows(read_results(tmp_path / "r.csv"), reference)


def test_dask_cluster_equals_the_local_run_row_for_row(tmp_path, cluster, reference):
    out = tmp_path / "dask.csv"
    result = run_sweep(small_sweep(), out, scheduler=cluster.scheduler_address)
    assert result.complete and result.ran == 8
    rows = read_results(out)
    assert_same_rows(rows, reference)
    pids = {r["worker"].rsplit(":", 1)[1] for r in rows}
    assert str(os.getpid()) not in pids  # the tasks really ran on the workers
    # each worker loaded the data set at most once, however many tasks it ran
    with distributed.Client(cluster.scheduler_address) as client:
        info = client.run(cache_info)
    for worker in info.values():
        assert worker["loads"].count(["digits", 200]) <= 1
    assert sum(w["loads"].count(["digits", 200]) for w in info.values()) >= 1


def test_a_worker_killed_mid_sweep_loses_nothing(tmp_path, reference):
    out = tmp_path / "killed.csv"
    killed = {}
    with new_cluster() as c, distributed.Client(c.scheduler_address) as client:

        def kill_a_busy_worker(row, done, total):
            if killed:
                return
            busy = [w for w, keys in client.processing().items() if keys]
            assert busy, "no task in flight to interrupt"
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            killed.update(pid=pid, in_flight=len(client.processing()[busy[0]]))
            os.kill(pid, signal.SIGKILL)

        result = run_sweep(
            small_sweep(),
            out,
            scheduler=c.scheduler_address,
            delay=0.4,
            on_result=kill_a_busy_worker,
        )
    assert killed["in_flight"] >= 1
    assert result.complete
    rows = read_results(out)
    assert len(rows) == 8
    lines = out.read_text().splitlines()
    assert len(lines) == 1 + 8  # header + one line per task: no duplicates in the file
    assert_same_rows(rows, reference)


# ---------------------------------------------------------------------------- resume


class Stop(Exception):
    pass


def test_resume_after_an_interruption_equals_an_uninterrupted_run(tmp_path, reference):
    out = tmp_path / "r.csv"

    def stop_after_three(row, done, total):
        if done == 3:
            raise Stop

    with pytest.raises(Stop):
        run_sweep(small_sweep(), out, n_jobs=1, on_result=stop_after_three)
    assert len(read_results(out)) == 3  # nothing finished is lost
    result = run_sweep(small_sweep(), out, n_jobs=1, resume=True)
    assert (result.skipped, result.ran, result.complete) == (3, 5, True)
    assert_same_rows(read_results(out), reference)
    assert len(out.read_text().splitlines()) == 9


def test_resume_with_max_tasks_on_dask_and_a_cut_off_last_line(tmp_path, cluster, reference):
    out = tmp_path / "r.jsonl"
    first = run_sweep(small_sweep(), out, scheduler=cluster.scheduler_address, max_tasks=5)
    assert (first.ran, first.complete) == (5, False)
    with out.open("a") as fh:  # a row cut short when the process died mid-write
        fh.write('{"key": "deadbeef", "measure": "vanish')
    again = run_sweep(small_sweep(), out, scheduler=cluster.scheduler_address, resume=True)
    assert (again.skipped, again.ran, again.complete) == (5, 3, True)
    assert_same_rows(read_results(out), reference)
    assert all(json.loads(line) for line in out.read_text().splitlines())
    done = run_sweep(small_sweep(), out, resume=True)  # nothing left: nothing runs
    assert done.ran == 0 and done.complete


def _table(path, rows):
    """``rows`` written as a complete results table at ``path`` (CSV or JSON lines)."""
    from nnmath.sweep.table import Writer

    Writer(path, small_sweep().columns(), rows, rewrite=True).close()
    return path


def _edit_lines(path, edits):
    lines = path.read_text().splitlines(keepends=True)
    for number, change in edits.items():  # 1-based line numbers
        lines[number - 1] = change(lines[number - 1])
    path.write_text("".join(lines))


def test_resume_reruns_rows_that_do_not_parse_or_are_not_their_keys(tmp_path, reference):
    """An edited parameter, an accuracy out of range, a row with a cell too many, a line that
    is not JSON: each is reported with its file and line, run again, and the table ends as
    an uninterrupted sweep's (never averaged in as it was)."""
    csv_out = _table(tmp_path / "r.csv", reference)
    _edit_lines(csv_out, {
        2: lambda line: line.replace(",0.5,", ",0.05,", 1),  # eta 0.5 -> 0.05
        4: lambda line: line.rstrip("\n") + ",x\n",  # a cell too many
    })  # fmt: skip
    with pytest.warns(RuntimeWarning, match=r"run again"):
        result = run_sweep(small_sweep(), csv_out, n_jobs=1, resume=True)
    assert result.complete and result.ran == len(reference) - result.skipped
    reasons = " | ".join(result.rejected)
    assert f"{csv_out}, line 2: eta is 0.05, its key's task has 0.5" in reasons
    assert f"{csv_out}, line 4: 32 cells, the header has 31" in reasons
    assert len(result.rejected) == 2 and all(
        r.startswith(f"{csv_out}, line ") for r in result.rejected
    )
    assert_same_rows(read_results(csv_out), reference)

    jsonl = _table(tmp_path / "r.jsonl", reference)
    _edit_lines(jsonl, {3: lambda line: line[:-10] + "\n"})  # cut short: not JSON any more
    jsonl.write_text(jsonl.read_text().replace('"test_accuracy": ', '"test_accuracy": -', 1))
    with pytest.warns(RuntimeWarning):
        result = run_sweep(small_sweep(), jsonl, n_jobs=1, resume=True)
    assert result.ran == 2 and result.complete
    assert any(r.startswith(f"{jsonl}, line 3: not JSON") for r in result.rejected), result.rejected
    assert any("test_accuracy -" in r and "not in [0, 1]" in r for r in result.rejected)
    assert_same_rows(read_results(jsonl), reference)


@pytest.mark.parametrize(
    "suffix, edit, words",
    [
        (".jsonl", {2: lambda line: "[1, 2]\n"}, "line 2: a list, not a JSON object"),
        (".jsonl", {3: lambda line: line.replace('"key"', '"kee"')}, "line 3: the row has no key"),
        (".csv", {1: lambda line: line.replace("key", "id", 1)}, "line 1: the header"),
        (".csv", {1: lambda line: line.replace(",eta,", ",rate,")}, "line 1: the header lacks the columns ['eta']"),  # noqa: E501
        (".csv", {3: lambda line: "," + line.split(",", 1)[1]}, "line 3: the row has no key"),
    ],
)  # fmt: skip
def test_resume_with_a_malformed_table_names_the_file_and_line(tmp_path, reference, suffix,
                                                               edit, words):  # fmt: skip
    out = _table(tmp_path / f"r{suffix}", reference)
    _edit_lines(out, edit)
    before = out.read_bytes()
    with pytest.raises(SweepError, match=re.escape(f"{out}, {words}")):
        run_sweep(small_sweep(), out, n_jobs=1, resume=True)
    assert out.read_bytes() == before  # nothing was run or rewritten


def test_resume_with_a_wider_grid_keeps_old_rows_and_adds_columns(tmp_path, reference):
    out = tmp_path / "r.csv"
    run_sweep(small_sweep(activation=["sigmoid"], depth=[1], epochs=1), out, n_jobs=1)
    result = run_sweep(small_sweep(), out, n_jobs=1, resume=True)
    assert (result.skipped, result.ran) == (2, 6)
    assert_same_rows(read_results(out), reference)


def test_parquet_output_streams_jsonl_and_writes_parquet_at_the_end(tmp_path, reference):
    pytest.importorskip("pyarrow", reason="Parquet output needs pyarrow")
    out = tmp_path / "r.parquet"
    result = run_sweep(small_sweep(), out, n_jobs=1)
    assert result.parquet == out and result.path == tmp_path / "r.jsonl"
    assert_same_rows(read_results(out), reference)
    assert_same_rows(read_results(tmp_path / "r.jsonl"), reference)


#: grid points whose task keys read as numbers: all digits, a float, a leading zero
NUMERIC_KEYS = {6.7: "2000627409046183", 6.82: "20e0495849778995", 187.37: "0190988626396215"}


def numeric_key_sweep():
    return Sweep.create("train", subset=100, seeds=1, epochs=1, width=[3], eta=list(NUMERIC_KEYS))


def test_numeric_looking_task_keys_read_back_as_text_and_resume(tmp_path):
    """About one key in 700 reads as a number; read as one, resume said "the row has no key"
    and only --overwrite (losing every row) got past it."""
    sweep = numeric_key_sweep()
    assert [t.key for t in sweep.tasks()] == list(NUMERIC_KEYS.values())
    for suffix in (".csv", ".jsonl"):
        out = tmp_path / f"r{suffix}"
        first = run_sweep(sweep, out, n_jobs=1, max_tasks=2)
        rows = read_results(out)
        assert [r["key"] for r in rows] == list(NUMERIC_KEYS.values())[:2]
        assert all(type(r["eta"]) is float and type(r["depth"]) is int for r in rows)
        resumed = run_sweep(sweep, out, n_jobs=1, resume=True)
        assert (first.ran, resumed.skipped, resumed.ran, resumed.rejected) == (2, 2, 1, [])
        assert [r["key"] for r in read_results(out)] == list(NUMERIC_KEYS.values())


def test_text_columns_stay_text_and_number_columns_must_hold_numbers(tmp_path):
    from nnmath.sweep.table import column_kind, read_rows

    assert [column_kind(c) for c in ("key", "dataset", "worker", "activation", "eta", "depth",
                                     "speed_l7", "diverged", "speeds", "mine")] == [
        "text", "text", "text", "text", "float", "int", "float", "bool", "json", None]  # fmt: skip
    out = tmp_path / "t.csv"
    out.write_text("key,dataset,worker,eta,depth,diverged,mine\n"
                   "0123456789012345,1e3,007,0.5,2,False,12\n"
                   "1234567890abcdef,x,h:1,fast,2,False,x\n")  # fmt: skip
    rows, clean, rejected = read_rows(out)
    assert rows[0]["key"] == "0123456789012345" and rows[0]["dataset"] == "1e3"
    assert (rows[0]["worker"], rows[0]["eta"], rows[0]["depth"], rows[0]["mine"]) == (
        "007", 0.5, 2, 12)  # fmt: skip
    assert len(rows) == 1 and not clean and "eta is 'fast', not a number" in rejected[0]


def test_the_guide_toml_sweep_has_a_numeric_looking_key():
    """The guide's own 480-task sweep (once the README's) holds one: the case the fix is for."""
    text = (SRC.parent / "docs" / "guide" / "sweeps.md").read_text()
    spec = tomllib.loads(re.search(r"```toml\n(.*?)```", text, re.S).group(1))
    keys = [t.key for t in Sweep.from_dict(spec).tasks()]
    assert len(keys) == 480 and "1162172752546004" in keys


def test_a_grid_too_large_to_hold_is_refused_at_once_with_its_count(tmp_path):
    from nnmath.sweep.spec import MAX_TASKS

    with pytest.raises(SweepError, match=r"1,000,000,000 tasks \(1 grid points x "
                                         r"1,000,000,000 seeds\)"):  # fmt: skip
        Sweep.create("train", seeds=10**9, depth=1)
    huge = write(tmp_path / "huge.toml", "[grid]\n" + "".join(
        f"{name} = {list(range(1, 101))}\n" for name in ("depth", "width", "epochs",
                                                        "mini_batch_size")))  # fmt: skip
    with pytest.raises(SweepError, match=r"100,000,000 tasks") as info:
        load_sweep(huge)
    assert str(info.value).startswith(f"{huge}: ") and f"{MAX_TASKS:,}" in str(info.value)
    direct = Sweep("train", {"depth": (1,)}, seeds=10**9)  # built without from_dict
    with pytest.raises(SweepError, match="1,000,000,000 tasks"):
        direct.tasks()
    assert len(Sweep.create("train", seeds=MAX_TASKS, depth=1).points()) == 1


def test_cli_sweep_with_a_billion_seeds_is_one_line_at_once(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "nnmath", "sweep", "train", "--depth", "1", "--seeds", "1000000000",
         "--out", str(tmp_path / "r.csv")],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(SRC)},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "1,000,000,000 tasks" in proc.stderr and "MemoryError" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "r.csv").exists()


def test_the_test_extra_installs_pyarrow_so_the_parquet_test_runs():
    # without pyarrow in `pip install -e .[test]` the Parquet test above only ever skips
    pyproject = tomllib.loads((SRC.parent / "pyproject.toml").read_text())
    test_extra = pyproject["project"]["optional-dependencies"]["test"]
    specs = {re.match(r"[A-Za-z0-9_.-]+", s).group().lower(): s for s in test_extra}
    assert "pyarrow" in specs, "add pyarrow (with a lower bound) to the test extra"
    assert ">=" in specs["pyarrow"], f"give pyarrow a lower bound, not {specs['pyarrow']!r}"


def test_a_folder_of_idx_files_is_a_data_set(tmp_path):
    mnist = MNIST_FOLDER  # $NNMATH_DATA/mnist, else ../shared/data/mnist (conftest)
    if not (mnist / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST IDX files not found in {mnist}")
    sw = Sweep.create("vanishing", dataset=str(mnist), subset=300, depth=[1, 2], epochs=0)
    result = run_sweep(sw, tmp_path / "r.csv", n_jobs=1)
    rows = read_results(tmp_path / "r.csv")
    assert result.complete and [r["dataset"] for r in rows] == [str(mnist)] * 2
    assert rows[1]["speed_l2"] > 0 and rows[1]["epoch_costs"] == []


def test_an_unknown_data_set_name_is_refused():
    with pytest.raises(SweepError, match="unknown dataset 'mnst'"):
        Sweep.create("train", dataset="mnst", depth=1)


# ---------------------------------------------------------------------------- summary


def test_summarize_means_and_stds_over_seeds():
    rows = [
        {
            "key": "a",
            "depth": 1,
            "activation": "relu",
            "seed_index": 0,
            "speed_l1": 1.0,
            "validation_accuracy": 0.5,
            "diverged": False,
            "wall_time": 1.0,
        },
        {
            "key": "b",
            "depth": 1,
            "activation": "relu",
            "seed_index": 1,
            "speed_l1": 3.0,
            "validation_accuracy": 0.7,
            "diverged": True,
            "wall_time": 1.0,
        },
        {
            "key": "c",
            "depth": 2,
            "activation": "relu",
            "seed_index": 0,
            "speed_l1": 0.5,
            "validation_accuracy": 0.1,
            "diverged": False,
            "wall_time": 1.0,
        },
    ]
    s = summarize(rows)
    assert [g["depth"] for g in s] == [1, 2] and "activation" not in s[0]
    assert s[0]["n"] == 2 and s[0]["diverged"] == 1
    assert s[0]["speed_l1_mean"] == pytest.approx(2.0)
    assert s[0]["speed_l1_std"] == pytest.approx(np.std([1.0, 3.0], ddof=1))
    assert s[1]["speed_l1_std"] == 0.0 and s[1]["validation_accuracy_mean"] == 0.1


# ---------------------------------------------------------------------------- CLI


def test_cli_sweep_writes_table_summary_and_plots(tmp_path, capsys):
    out, plots = tmp_path / "r.csv", tmp_path / "plots"
    argv = [
        "sweep",
        "vanishing",
        "--activation",
        "sigmoid,relu",
        "--depth",
        "1,2",
        "--seeds",
        "2",
        "--subset",
        "200",
        "--epochs",
        "1",
        "--jobs",
        "1",
        "--out",
        str(out),
        "--plot",
        str(plots),
        "--json",
    ]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["complete"] and report["ran"] == 8 and len(report["summary"]) == 4
    for name in ("sweep_speed.png", "sweep_accuracy.png"):
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    by = {(g["activation"], g["depth"]): g for g in report["summary"]}
    rows = read_results(out)
    sig2 = [r["speed_l1"] for r in rows if (r["activation"], r["depth"]) == ("sigmoid", 2)]
    assert by["sigmoid", 2]["speed_l1_mean"] == pytest.approx(np.mean(sig2))
    # a sigmoid network's first layer learns more slowly when it is deeper (Nielsen ch. 5)
    assert by["sigmoid", 2]["speed_l1_mean"] < by["sigmoid", 1]["speed_l1_mean"]

    # the same sweep from a file: the same tasks, all done already
    cfg = write(
        tmp_path / "s.toml",
        'measure = "vanishing"\nsubset = 200\nseeds = 2\n'
        '[grid]\nactivation = ["sigmoid", "relu"]\ndepth = [1, 2]\nepochs = 1\n',
    )
    assert main(["sweep", "--config", str(cfg), "--out", str(out), "--resume", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["ran"], again["skipped"]) == (0, 8)

    assert main(["sweep", "--config", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--resume" in err


# ---------------------------------------------------------------------------- scikit-learn


def test_gridsearchcv_over_nnmath_classifier_on_dask(cluster):
    est = pytest.importorskip(
        "nnmath.estimator", reason="nnmath.estimator.NNMathClassifier is not merged yet"
    )
    from joblib import parallel_backend
    from sklearn.model_selection import GridSearchCV

    from nnmath.data import load_dataset

    X, y = load_dataset("digits").train
    X, y = X[:300], y[:300]
    clf = est.NNMathClassifier()
    params = clf.get_params()
    fixed = {k: v for k, v in {"epochs": 2, "seed": 0, "random_state": 0}.items() if k in params}
    clf.set_params(**fixed)
    grid = {"eta": [0.1, 1.0]} if "eta" in params else {"epochs": [1, 2]}

    def search(**kw):
        return GridSearchCV(clf, grid, cv=2, **kw).fit(X, y)

    local = search(n_jobs=1)
    with distributed.Client(cluster.scheduler_address) as client:
        with distributed.get_task_stream(client) as stream, parallel_backend("dask"):
            remote = search(n_jobs=-1)
    assert len(stream.data) >= 4  # 2 candidates x 2 folds ran on the cluster
    assert remote.best_params_ == local.best_params_
    if "seed" in fixed or "random_state" in fixed:
        np.testing.assert_allclose(
            remote.cv_results_["mean_test_score"],
            local.cv_results_["mean_test_score"],
            rtol=0,
            atol=1e-12,
        )


SWEEP_THEN_WAIT = """
import os, sys
from nnmath.sweep import Sweep, run_sweep
print(os.getpid(), flush=True)
sweep = Sweep.create("vanishing", subset=200, seeds=4, depth=[1, 2], epochs=1)
run_sweep(sweep, sys.argv[1], n_jobs=2, delay=120, overwrite=True)
"""


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return found


def _running(pids: list[int]) -> list[int]:
    alive = []
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] != "Z":
                    alive.append(p)
        except OSError:
            pass
    return alive


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="lists processes through /proc")
@pytest.mark.parametrize("wait", [0.0, 2.5])  # as the workers start, and inside their tasks
def test_local_workers_exit_within_seconds_after_the_sweep_dies(tmp_path, wait):
    import signal
    import subprocess
    import sys
    import time

    argv = [sys.executable, "-c", SWEEP_THEN_WAIT, str(tmp_path / "s.csv")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    workers: list[int] = []
    try:
        pid = int(proc.stdout.readline())
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline:  # the two workers (and trackers)
            workers = _children(pid)
            time.sleep(0.05)
        assert len(workers) >= 2, "the sweep started no workers"
        time.sleep(wait)
        workers = _children(pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    t0 = time.monotonic()
    while _running(workers) and time.monotonic() - t0 < 15:
        time.sleep(0.1)
    left = _running(workers)
    for p in left:  # leave nothing behind, whatever the outcome
        os.kill(p, signal.SIGKILL)
    assert not left, f"{len(left)} worker(s) still running {time.monotonic() - t0:.0f} s on"
