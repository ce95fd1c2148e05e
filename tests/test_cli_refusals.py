"""The command line refuses early and clearly, and says what happened: outputs checked before
the data is loaded, ranges and names of options, sizes that cannot fit, a run that learnt
nothing, Ctrl-C with a checkpoint, early stopping's restored epoch."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex

import pytest

import nnmath
from nnmath.cli import main
from nnmath.cli import train as cli_train
from nnmath.cli._common import check_output_path


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def no_data(monkeypatch):
    """Loading the data set fails the test: every refusal below must come before it."""

    def load(name):
        raise AssertionError("the data set was loaded before the options were checked")

    monkeypatch.setattr(cli_train, "_load", load)


def _a_file(path):
    path.write_text("x")
    return path


@pytest.mark.parametrize(
    ("option", "make", "message"),
    [
        ("--save", lambda p: p, "is a folder; give a file name inside it"),
        ("--save", lambda p: p / "missing" / "m.safetensors", "does not exist; create it first"),
        ("--checkpoint", lambda p: p, "is a folder"),
        ("--checkpoint", lambda p: p / "no" / "c.safetensors", "does not exist"),
        ("--plot", lambda p: _a_file(p / "f"), "is a file, not a folder"),
    ],
)
def test_output_paths_are_checked_before_the_data_is_loaded(
    capsys, tmp_path, no_data, option, make, message
):
    path = make(tmp_path)
    code, out, err = run_cli(capsys, "train", option, str(path))
    assert code == 2 and out == ""
    assert err.startswith(f"nnmath train: error: {option} {path}: ") and message in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "example"),
    [
        (["train", "--save", "{dir}"], "model.safetensors"),
        (["train", "--log", "{dir}"], "log.csv"),
        (["sweep", "train", "--out", "{dir}", "--depth", "1"], "results.csv"),
        (["vanishing", "--plot", "{dir}"], "speeds.png"),
        (["plot", "curves", "--out", "{dir}.png"], "curves.png"),
    ],
)
def test_a_folder_given_for_a_file_suggests_a_file_of_its_kind(capsys, tmp_path, argv, example):
    (tmp_path / "out").mkdir()
    (tmp_path / "out.png").mkdir()  # a folder with an image's name
    argv = [a.format(dir=tmp_path / "out") for a in argv]
    code, _, err = run_cli(capsys, *argv)
    folder = next(a for a in argv if a.startswith(str(tmp_path)))
    assert code == 2 and err.rstrip().endswith(f"e.g. {folder}/{example}"), err


def test_an_unwritable_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        try:
            (folder / "probe").write_text("x")  # root may write anyway
            pytest.skip("this user may write into a read-only folder (root)")
        except PermissionError:
            pass
        with pytest.raises(Exception, match="permission denied"):
            check_output_path(folder / "m.safetensors", "--save")
        with pytest.raises(Exception, match="permission denied"):
            check_output_path(folder / "plots", "--plot", folder=True)
    finally:
        folder.chmod(0o700)


def test_a_missing_plot_folder_is_fine_and_a_missing_extra_is_named(
    capsys, tmp_path, monkeypatch, no_data
):
    assert check_output_path(tmp_path / "a" / "b", "--plot", folder=True) == tmp_path / "a" / "b"
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name)
    )
    code, _, err = run_cli(capsys, "train", "--plot", str(tmp_path / "plots"))
    assert code == 2 and "--plot needs matplotlib: pip install 'nnmath[plot]'" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--seed", "-1"], "argument --seed: expected an integer ≥ 0, got '-1'"),
        (["train", "--patience", "0"], "argument --patience: expected a positive integer"),
        (["train", "--lmbda", "nan"], "argument --lmbda: expected a finite number ≥ 0, got 'nan'"),
        (["train", "--eta", "0"], "argument --eta: expected a finite number > 0"),
        (["train", "--eta", "inf"], "argument --eta: expected a finite number > 0"),
        (
            ["train", "--momentum", "1"],
            "argument --momentum: expected a finite number ≥ 0 and < 1, got '1'",
        ),
        (["train", "--batch-size", "0"], "argument --batch-size: expected a positive integer"),
        (["trace", "--digits", "-1"], "argument --digits: expected an integer ≥ 1 and ≤ 17"),
        (["gradcheck", "--eps", "-1"], "argument --eps: expected a finite number > 0"),
        (["sweep", "--max-tasks", "0"], "argument --max-tasks: expected a positive integer"),
        (["sweep", "--seeds", "0"], "argument --seeds: expected a positive integer"),
        (["train", "--optimizer", "adma"], "unknown optimizer 'adma' (did you mean 'adam'?)"),
        (["train", "--activation", "sigmod"], "(did you mean 'sigmoid'?)"),
        (["train", "--cost", "cross_entropi"], "(did you mean 'cross_entropy'?)"),
        (["train", "--schedule", "cosin"], "invalid choice: 'cosin' (choose from"),
        (["train", "--schedule", "cosin"], "(did you mean 'cosine'?)"),
        (["train", "--init", "hee"], "(did you mean 'he'?)"),
        (["train", "--dataset", "fashon-mnist"], "(did you mean 'fashion-mnist'?)"),
        (["trian"], "invalid choice: 'trian' (choose from"),
        (["trian"], "(did you mean 'train'?)"),
        (["trace", "--format", "latx"], "(did you mean 'latex'?)"),
    ],
)
def test_option_values_are_refused_by_name(capsys, no_data, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and message in err and len(err.splitlines()) == 1


def test_an_absurd_layer_is_refused_before_allocating(capsys):
    with pytest.raises(ValueError, match=r"would need 300,000,000,040 bytes \(300 GB\)"):
        nnmath.Network([64, 10**9, 10])  # 3·10^11 bytes of float32: never allocated
    code, _, err = run_cli(capsys, "train", "--sizes", "64,1000000000,10")
    assert code == 2 and "300,000,000,040 bytes" in err and "more than this machine" in err


def test_mini_batch_buffers_beyond_memory_are_refused(capsys, monkeypatch):
    from nnmath import validation

    monkeypatch.setattr(validation, "physical_memory", lambda: 100_000)  # 100 kB "machine"
    code, _, err = run_cli(capsys, "train", "--sizes", "64,30,10", "--batch-size", "500")
    assert code == 2 and "a training pass over --batch-size 500 would need 624,000 bytes" in err
    assert "at most 80 examples a mini-batch fit" in err  # 100,000 // (3 · 104 · 4 bytes)


def test_batch_size_beyond_the_data_is_clipped_with_a_note(capsys):
    code, out, err = run_cli(capsys, "train", "--epochs", "1", "--batch-size", "100000", "--json")
    assert code == 0
    assert "note: --batch-size 100000 is more than the 1257 training rows; using 1257" in err
    assert json.loads(out)["epochs"] == 1


def test_a_run_that_learns_nothing_says_so_with_a_hint(capsys):
    code, out, err = run_cli(capsys, "train", "--eta", "60", "--epochs", "3", "--json")
    assert code == 0
    (warning,) = [w for w in json.loads(out)["warnings"] if "learnt nothing" in w]
    assert "at chance" in warning and "did not fall" in warning
    assert "Hint: try a smaller --eta" in warning
    assert f"warning: {warning}" in err
    # the same network with the default η learns: no warning
    code, out, err = run_cli(capsys, "train", "--epochs", "3", "--json")
    assert code == 0 and json.loads(out)["warnings"] == [] and "warning" not in err
    # η = 1e6 blows the weights up (no NaN): a divergence, one line naming η
    code, out, err = run_cli(capsys, "train", "--eta", "1e6", "--epochs", "3", "--json")
    assert code == 2 and "training diverged in epoch 1: the weights exploded" in err
    assert "eta (now 1e+06)" in err and len(err.strip().splitlines()) == 1


def test_ctrl_c_prints_the_command_that_resumes(capsys, tmp_path, monkeypatch):
    from nnmath.callbacks import Checkpoint

    ckpt = tmp_path / "run.safetensors"
    argv = ["train", "--epochs", "4", "--checkpoint", str(ckpt), "--quiet"]
    save = Checkpoint.on_epoch_end

    def interrupt_after_epoch_2(self, net, history, epoch):
        save(self, net, history, epoch)
        if epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(Checkpoint, "on_epoch_end", interrupt_after_epoch_2)
    code, _, err = run_cli(capsys, *argv)
    assert code == 130 and "interrupted" in err and str(ckpt) in err
    command = err.strip().splitlines()[-1].strip()
    assert command == shlex.join(["nnmath", *argv, "--resume"])
    monkeypatch.setattr(Checkpoint, "on_epoch_end", save)
    code, out, _ = run_cli(capsys, *shlex.split(command)[1:])  # the printed command works
    assert code == 0 and "test accuracy" in out
    # without a checkpoint there is nothing to resume: the plain message
    monkeypatch.setattr(cli_train, "_load", lambda name: (_ for _ in ()).throw(KeyboardInterrupt))
    code, _, err = run_cli(capsys, "train")
    assert code == 130 and err.strip() == "nnmath: interrupted"


def test_early_stopping_says_which_epoch_it_restored(capsys):
    argv = ["train", "--eta", "3", "--epochs", "40", "--patience", "2"]
    code, out, _ = run_cli(capsys, *argv, "--json")
    result = json.loads(out)
    assert code == 0 and result["stopped_early"] and result["epochs"] < 40
    best = result["best_epoch"]  # 0-based, as History.best_epoch
    assert result["epochs"] == best + 1 + 2
    code, out, err = run_cli(capsys, *argv)
    assert code == 0
    assert (
        f"stopped after epoch {best + 3}; restored the weights of epoch {best + 1} "
        "(validation accuracy" in err
    )
    assert re.search(rf"best validation epoch\s*│\s*{best + 1}\s*│", out)


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["sweep", "train", "--plot", "{file}", "--depth", "1"], "--plot"),
        (["sweep", "train", "--out", "{dir}", "--depth", "1"], "--out"),
        (["vanishing", "--plot", "{dir}"], "--plot"),
        (["plot", "curves", "--out", "{file}/c.png"], "--out"),  # a missing folder is made
    ],
)
def test_other_commands_check_their_outputs_before_working(capsys, tmp_path, argv, option):
    (tmp_path / "f").write_text("x")
    paths = {"file": tmp_path / "f", "dir": tmp_path, "missing": tmp_path / "no"}
    argv = [a.format(**paths) for a in argv]
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and f"error: {option} " in err and len(err.splitlines()) == 1


def test_predict_of_an_onnx_file_names_the_format_and_the_reader(capsys, tmp_path):
    pytest.importorskip("onnx", reason="writes an ONNX file")
    path = nnmath.to_onnx(nnmath.Network([64, 10], seed=0), tmp_path / "model.onnx")
    code, out, err = run_cli(capsys, "predict", str(path))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "this is an ONNX model" in err and "nnmath.from_onnx" in err
    assert "header length" not in err
