"""``nnmath predict MODEL DATA``: predictions on a file of one's own (.csv, .npy, IDX images)
to stdout or ``--out FILE.csv``, with ``--proba``; a data set as DATA gives its accuracy; each
bad input is one error line."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnmath
from conftest import run_cli
from nnmath.data import load_digits
from nnmath.data.idx import write_idx

SRC = Path(__file__).resolve().parents[1] / "src"
pytestmark = pytest.mark.skipif(
    not (hasattr(nnmath, "load") and hasattr(nnmath.Network, "save")),
    reason="nnmath.load / Network.save (model files) are not in this tree",
)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    data = load_digits()
    net = nnmath.Network([64, 20, 10], seed=0)
    net.fit(*data.train, epochs=3, eta=0.5, seed=0)
    path = tmp_path_factory.mktemp("model") / "net.safetensors"
    net.save(path)
    return path, nnmath.load(path), data.test[0][:7].astype(np.float64)


def read_table(text: str) -> list[list[str]]:
    return list(csv.reader(text.splitlines()))


def test_a_csv_with_a_header_row_gives_a_prediction_per_row_on_stdout(capsys, model, tmp_path):
    path, net, X = model
    data = tmp_path / "x.csv"
    header = ",".join(f"pixel{k}" for k in range(64))
    np.savetxt(data, X, delimiter=",", header=header, comments="")
    code, out, err = run_cli(capsys, "predict", path, data)
    assert code == 0 and err == ""
    rows = read_table(out)
    assert rows[0] == ["prediction"]
    assert [int(r[0]) for r in rows[1:]] == net.predict(X).tolist()


def test_a_csv_without_a_header_and_proba_columns(capsys, model, tmp_path):
    path, net, X = model
    data = tmp_path / "x.csv"
    np.savetxt(data, X, delimiter=",")
    code, out, _ = run_cli(capsys, "predict", path, data, "--proba")
    assert code == 0
    rows = read_table(out)
    assert rows[0] == ["prediction", *(f"p{k}" for k in range(10))]
    P = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    assert P.shape == (7, 10) and np.allclose(P.sum(axis=1), 1, atol=1e-4)
    assert [int(r[0]) for r in rows[1:]] == P.argmax(axis=1).tolist() == net.predict(X).tolist()


def test_npy_and_gzip_idx_images(capsys, model, tmp_path):
    path, net, X = model
    np.save(tmp_path / "x.npy", X)
    code, out, _ = run_cli(capsys, "predict", path, tmp_path / "x.npy", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["n"] == 7 and result["predictions"] == net.predict(X).tolist()
    pixels = np.random.default_rng(0).integers(0, 256, size=(5, 8, 8)).astype(np.uint8)
    images = write_idx(tmp_path / "images-idx3-ubyte.gz", pixels)
    code, out, _ = run_cli(capsys, "predict", path, images)
    assert code == 0
    expected = net.predict(pixels.reshape(5, 64) / 255.0).tolist()
    assert [int(r[0]) for r in read_table(out)[1:]] == expected


def test_out_writes_a_csv_and_refuses_to_replace_it_without_overwrite(capsys, model, tmp_path):
    path, net, X = model
    np.save(tmp_path / "x.npy", X)
    target = tmp_path / "predictions.csv"
    code, out, err = run_cli(capsys, "predict", path, tmp_path / "x.npy", "--out", target)
    assert code == 0 and out == "" and "wrote 7 predictions" in err
    assert target.read_text().splitlines()[0] == "prediction"
    before = target.read_text()
    code, _, err = run_cli(capsys, "predict", path, tmp_path / "x.npy", "--out", target, "--proba")
    assert code == 2 and "the file exists; add --overwrite" in err
    assert target.read_text() == before
    code, _, _ = run_cli(
        capsys, "predict", path, tmp_path / "x.npy", "--out", target, "--proba", "--overwrite"
    )
    assert code == 0 and target.read_text().splitlines()[0].startswith("prediction,p0,")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries


def test_a_data_set_as_data_gives_its_accuracy_and_out_its_predictions(capsys, model, tmp_path):
    path, net, _ = model
    data = load_digits()
    code, out, _ = run_cli(capsys, "predict", path, "digits", "--json")
    assert code == 0
    assert json.loads(out)["accuracy"] == pytest.approx(net.accuracy(*data.test))
    target = tmp_path / "d.csv"
    code, out, _ = run_cli(capsys, "predict", path, "digits", "--out", target, "--quiet")
    assert code == 0 and out.startswith("accuracy ")
    rows = read_table(target.read_text())
    assert rows[0] == ["prediction", "label"] and len(rows) == 1 + len(data.test[1])
    assert [int(r[1]) for r in rows[1:]] == data.test[1].tolist()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("wide.csv", "1,2,3\n4,5,6\n", "3 features per example, but the model expects 64"),
        ("one.csv", "1\n2\n", "1 feature per example, but the model expects 64"),
        ("cell.csv", ",".join(["0"] * 63 + ["x"]) + "\n", "line 1, column 64: 'x' is not a"),
        ("nan.csv", ",".join(["0"] * 63 + ["nan"]) + "\n", "example 1, feature 64 is NaN"),
        ("empty.csv", "", "holds no examples"),
        ("ragged.csv", "0,0\n0\n", "line 2 has 1 column, the first row of numbers has 2"),
        ("data.bin", "abc", "not a .csv, .npy or IDX file"),
    ],
)
def test_bad_text_files_are_one_line(capsys, model, tmp_path, name, content, message):
    path, _, _ = model
    (tmp_path / name).write_text(content)
    code, out, err = run_cli(capsys, "predict", path, tmp_path / name)
    assert code == 2 and out == "" and message in err and len(err.splitlines()) == 1


def test_missing_files_and_unknown_names(capsys, model, tmp_path):
    path, _, _ = model
    code, _, err = run_cli(capsys, "predict", path, tmp_path / "none.csv")
    assert code == 2 and "none.csv: no such file" in err
    code, _, err = run_cli(capsys, "predict", path, "digts")
    assert code == 2 and "no data set of that name (did you mean 'digits'?)" in err
    code, _, err = run_cli(capsys, "predict", path, "--proba")
    assert code == 2 and "give --out" in err


def test_npy_is_checked_before_it_is_loaded(capsys, model, tmp_path):
    path, _, _ = model
    huge = tmp_path / "huge.npy"
    with open(huge, "wb") as fh:  # a header declaring 512 MB, and no data
        header = {"shape": (10**6, 64), "fortran_order": False, "descr": "<f8"}
        np.lib.format.write_array_header_1_0(fh, header)
    code, _, err = run_cli(capsys, "predict", path, huge)
    assert code == 2 and "more than the file holds" in err
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    code, _, err = run_cli(capsys, "predict", path, objects)
    assert code == 2 and "holds object values; predictions need numbers" in err


def test_predict_as_a_subprocess_pipes_csv(model, tmp_path):
    path, net, X = model
    np.save(tmp_path / "x.npy", X)
    proc = subprocess.run(
        [sys.executable, "-m", "nnmath", "predict", str(path), str(tmp_path / "x.npy")],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.splitlines() == ["prediction", *map(str, net.predict(X).tolist())]


def test_npy_larger_than_memory_is_refused_before_it_is_read(capsys, model, tmp_path):
    path, _, _ = model
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    rows = 2 * memory // (64 * 8)
    big = tmp_path / "big.npy"
    with open(big, "wb") as fh:  # a sparse file: it holds what it declares, on no disk blocks
        header = {"shape": (rows, 64), "fortran_order": False, "descr": "<f8"}
        np.lib.format.write_array_header_1_0(fh, header)
        fh.truncate(fh.tell() + rows * 64 * 8)
    code, _, err = run_cli(capsys, "predict", path, big)
    assert code == 2 and "more than this machine's" in err and len(err.splitlines()) == 1
