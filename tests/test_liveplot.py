"""LivePlot: the figure written to a file outside a notebook, redrawn per epoch (compiled epoch)
or every k mini-batches (reference loop), and in a real Jupyter kernel one output updated in
place through a display handle."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nnmath as nm
from nnmath.callbacks import LivePlot
from nnmath.callbacks.liveplot import in_notebook
from nnmath.engine import c_available

pytest.importorskip("matplotlib", reason="LivePlot draws with matplotlib")

EPOCHS = 2
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def digits():
    data = nm.data.load_digits()
    return data.train[0][:400], data.train[1][:400], data.validation


def fit(digits, *callbacks, **kw):
    X, y, valid = digits
    net = nm.Network([64, 12, 10], seed=0, dtype="float64")
    opts = dict(epochs=EPOCHS, mini_batch_size=20, eta=0.5, seed=0, validation_data=valid)
    return net.fit(X, y, callbacks=list(callbacks), **{**opts, **kw})


def test_per_epoch_writes_the_figure_and_keeps_the_compiled_epoch(digits, tmp_path) -> None:
    from matplotlib.image import imread

    live = LivePlot(path=tmp_path / "live.png")
    h = fit(digits, live, track_gradients=True)
    if c_available():
        assert h.extra["train_path"] == "c"
    assert not in_notebook() and live.notebook is False
    assert live.draws == 1 + EPOCHS  # before training and after every epoch
    assert live.points["epoch"] == [0.0, 1.0, 2.0]
    speeds = h.extra["gradient_norms"]["nabla_b"]  # the same first rows, the same moments
    np.testing.assert_array_equal(live.points["nabla_b"], speeds)
    data = (tmp_path / "live.png").read_bytes()
    assert data.startswith(PNG)
    height, width, _ = imread(tmp_path / "live.png").shape
    assert width > 3 * height  # four panels side by side
    assert list(tmp_path.iterdir()) == [tmp_path / "live.png"]  # no temporary file left


def test_every_k_mini_batches_takes_the_reference_loop(digits, tmp_path) -> None:
    live = LivePlot(every=5, path=tmp_path / "live.png", min_interval=600)
    h = fit(digits, live)
    assert live.draws == 2  # the first and the last: the others came too soon after
    assert h.extra["train_path"] == "reference"
    assert "LivePlot" in h.extra["fallback_reason"]
    n_batches = 400 // 20
    assert len(live.points["epoch"]) == 1 + EPOCHS * n_batches // 5
    assert live.points["epoch"][1] == pytest.approx(5 / n_batches)
    assert all(0 < c < 10 for c in live.points["cost"]) and all(
        0 <= a <= 1 for a in live.points["accuracy"]
    )
    assert (tmp_path / "live.png").read_bytes().startswith(PNG)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="positive number of mini-batches"):
        LivePlot(every=0)
    with pytest.raises(ValueError, match=r"\.png, \.svg or \.pdf"):
        LivePlot(path="live.gif")


def test_importing_and_drawing_outside_a_notebook_never_imports_ipython(tmp_path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        import nnmath as nm
        from nnmath.callbacks import LivePlot
        assert "matplotlib" not in sys.modules  # imported when the first figure is drawn
        X, y = np.random.default_rng(0).random((40, 4)), np.arange(40) % 3
        live = LivePlot(path={str(tmp_path / "f.svg")!r})
        nm.Network([4, 5, 3], seed=0).fit(X, y, epochs=1, callbacks=[live])
        print("IPython" in sys.modules, "matplotlib" in sys.modules, live.draws)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "2"]
    assert (tmp_path / "f.svg").read_text().lstrip().startswith("<?xml")


def test_in_a_jupyter_kernel_one_output_is_updated_in_place(tmp_path) -> None:
    nbformat = pytest.importorskip("nbformat", reason="the notebook test runs a real kernel")
    nbclient = pytest.importorskip("nbclient", reason="the notebook test runs a real kernel")
    pytest.importorskip("ipykernel", reason="the notebook test runs a real kernel")
    cell = textwrap.dedent(
        """
        import nnmath as nm
        from nnmath.callbacks import LivePlot
        data = nm.data.load_digits()
        live = LivePlot()
        net = nm.Network([64, 12, 10], seed=0)
        h = net.fit(*data.train, epochs=2, mini_batch_size=20, eta=0.5,
                    validation_data=data.validation, callbacks=[live])
        print(live.notebook, live.draws, h.extra["train_path"])
        """
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = nb.cells[0].outputs
    displays = [o for o in outputs if o.output_type == "display_data"]
    assert len(displays) == 1  # three draws, one output: updated in place
    assert displays[0].data["image/png"]  # base64 PNG, the last draw
    printed = "".join(o.text for o in outputs if o.output_type == "stream").split()
    assert printed[:2] == ["True", "3"]
    assert not list(tmp_path.iterdir())  # nothing written to a file in a notebook


def test_the_figure_shows_what_was_measured(digits, tmp_path) -> None:
    from nnmath.callbacks.liveplot import figure

    live = LivePlot(path=tmp_path / "live.png")
    h = fit(digits, live, monitor_training_accuracy=True)
    ax_cost, ax_acc, ax_speed, _ = figure(h, live.points).axes
    assert ax_speed.get_yscale() == "log"
    assert [line.get_label() for line in ax_speed.lines] == ["l = 2", "l = 3 (output)"]
    for j, line in enumerate(ax_speed.lines):
        np.testing.assert_array_equal(line.get_xdata(), live.points["epoch"])
        np.testing.assert_array_equal(line.get_ydata(), [row[j] for row in live.points["nabla_b"]])
    cost = {line.get_label(): line.get_ydata() for line in ax_cost.lines}
    np.testing.assert_array_equal(cost["training"], h.training_cost)
    np.testing.assert_array_equal(cost["validation"], h.validation_cost)
    accuracy = {line.get_label(): line.get_ydata() for line in ax_acc.lines}
    np.testing.assert_array_equal(accuracy["validation"], h.validation_accuracy)
    np.testing.assert_array_equal(accuracy["training"], h.training_accuracy)


def test_watchers_of_one_run_share_one_backward_pass(digits, tmp_path, monkeypatch) -> None:
    from nnmath.callbacks import EpochLogger, TensorBoard, _probe

    pytest.importorskip("tensorboardX", reason="the TensorBoard callback writes with tensorboardX")
    calls = []
    real = _probe.layer_statistics

    def counted(*args, **kwargs):
        calls.append(kwargs.get("arrays", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(_probe, "layer_statistics", counted)
    watchers = [
        TensorBoard(tmp_path / "tb", histograms=False),
        LivePlot(path=tmp_path / "live.png"),
        EpochLogger(tmp_path / "run.csv"),
    ]
    fit(digits, *watchers)
    assert len(calls) == 1 + EPOCHS  # before training and after each epoch, once each
