"""Where the histograms and the update ratio are seen: TensorBoard's event files (read back with
TensorBoard's own EventAccumulator), LivePlot's fourth panel, nnmath.plots.histograms and
`nnmath plot histograms` / `nnmath train --histograms`."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from nnmath.callbacks import Histograms, LivePlot, TensorBoard
from nnmath.cli import main
from nnmath.diagnostics import layer_statistics
from nnmath.diagnostics.updates import HEALTHY_RATIO
from nnmath.layers import Conv2D, Dense, Input, MaxPool2D

EPOCHS = 2
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def digits():
    data = nm.data.load_digits()
    return data.train[0][:300], data.train[1][:300]


def conv_net():
    layers = [Input((1, 8, 8)), Conv2D(3, 3, activation="relu"), MaxPool2D(2)]
    return nm.Network([*layers, Dense(10, "softmax")], cost="log-likelihood", seed=0)


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_tensorboard_histograms_and_update_ratios(digits, tmp_path, kind) -> None:
    ea_module = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    pytest.importorskip("tensorboardX")
    X, y = digits
    net = nm.Network([64, 16, 10], seed=0) if kind == "dense" else conv_net()
    probe = Histograms()  # the same rows and moments as the TensorBoard's: one step shared
    h = net.fit(
        X, y, epochs=EPOCHS, eta=0.1, seed=0, callbacks=[TensorBoard(tmp_path / "tb"), probe]
    )
    ea = ea_module.EventAccumulator(
        str(tmp_path / "tb"), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0}
    )
    ea.Reload()
    layers = h.extra["histograms"]["layers"]
    assert layers == ([2, 3] if kind == "dense" else [2, 5])
    ratios = np.array(h.extra["update_ratio"]["step"])  # (epochs + 1, layers)
    stats = layer_statistics(net, X, y, arrays=True)
    for j, l in enumerate(layers):
        events = ea.Scalars(f"update_ratio/l{l}")
        assert [e.step for e in events] == list(range(EPOCHS + 1))
        np.testing.assert_allclose([e.value for e in events], ratios[:, j], rtol=1e-6)
        for q in ("z", "a", "delta"):
            hist = ea.Histograms(f"{q}/l{l}")
            assert [e.step for e in hist] == list(range(EPOCHS + 1))
            last = hist[-1].histogram_value
            assert last.num == stats.arrays[q][j].size
            assert last.min == pytest.approx(stats.arrays[q][j].min(), rel=1e-6)
            assert last.max == pytest.approx(stats.arrays[q][j].max(), rel=1e-6)


def test_liveplot_draws_the_update_ratio_per_layer(digits, tmp_path) -> None:
    from nnmath.callbacks.liveplot import figure

    X, y = digits
    live = LivePlot(path=tmp_path / "live.png")
    h = nm.Network([64, 16, 10], seed=0).fit(
        X, y, epochs=EPOCHS, eta=0.5, seed=0, callbacks=[live], track_histograms=True
    )
    assert (tmp_path / "live.png").read_bytes().startswith(PNG)
    np.testing.assert_array_equal(live.points["update_ratio"], h.extra["update_ratio"]["step"])
    ax_ratio = figure(h, live.points).axes[3]
    assert ax_ratio.get_yscale() == "log"
    labels = [line.get_label() for line in ax_ratio.lines]
    assert labels == ["l = 2", "l = 3 (output)", "1e-3"]
    assert list(ax_ratio.lines[-1].get_ydata()) == [HEALTHY_RATIO, HEALTHY_RATIO]
    off = LivePlot(path=tmp_path / "off.png", update_ratio=False)
    nm.Network([64, 16, 10], seed=0).fit(X, y, epochs=1, eta=0.5, callbacks=[off])
    assert "update_ratio" not in off.points and len(figure(h, off.points).axes) == 3


def test_the_figure_draws_what_the_history_holds(digits, tmp_path) -> None:
    X, y = digits
    h = conv_net().fit(X, y, epochs=EPOCHS, eta=0.1, seed=0, track_histograms=True)
    fig = nm.plots.histograms(h, quantity="z", path=tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes().startswith(PNG)
    hist_2, band_2, hist_5, band_5, ratio = fig.axes
    assert hist_2.get_title() == "l = 2 (relu): $z^l$"
    assert hist_5.get_title() == "l = 5 (softmax), output: $z^l$"
    medians = [p[0][1] for p in h.extra["histograms"]["z_percentiles"]]
    np.testing.assert_allclose(band_2.lines[0].get_ydata(), medians)
    assert ratio.get_yscale() == "log"
    steps = np.array(h.extra["update_ratio"]["step"])
    np.testing.assert_allclose(ratio.lines[1].get_ydata(), steps[:, 1])
    assert ratio.lines[-1].get_label() == "1e-3 (healthy)"
    once = nm.plots.histograms(conv_net(), X, y, quantity="delta")  # a network, measured once
    assert len(once.axes) == 2 and once.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="track_histograms=True"):
        nm.plots.histograms(nm.History())
    with pytest.raises(ValueError, match="quantity must be one of"):
        nm.plots.histograms(h, quantity="W")


def test_cli_plot_histograms_trains_or_reads_a_checkpoint(tmp_path, capsys) -> None:
    out = tmp_path / "h.png"
    args = ["--dataset", "digits", "--epochs", "2", "--sizes", "64,12,10"]
    assert main(["plot", "histograms", *args, "-o", str(out), "-q"]) == 0
    assert out.read_bytes().startswith(PNG)
    ck = tmp_path / "ck.safetensors"
    assert main(["train", *args, "--histograms", "--checkpoint", str(ck), "-q"]) == 0
    capsys.readouterr()
    assert main(["plot", "histograms", "--model", str(ck), "-o", str(out), "--json"]) == 0
    assert '"epochs": 2' in capsys.readouterr().out  # over the checkpoint's epochs
    bare = tmp_path / "bare.safetensors"
    assert main(["train", *args, "--save", str(bare), "-q"]) == 0
    capsys.readouterr()
    assert main(["plot", "histograms", "--model", str(bare), "-o", str(out), "--json"]) == 0
    assert '"split": "test"' in capsys.readouterr().out  # measured once


def test_the_figures_leave_no_text_clipped_or_overlapping(digits) -> None:
    from _layout import layout_problems
    from nnmath.callbacks.liveplot import figure

    X, y = digits
    deep = nm.Network([64, 30, 30, 10], seed=0)
    h = deep.fit(X, y, epochs=6, eta=0.5, seed=0, track_histograms=True)
    title = "digits: [64,30,30,10] sigmoid/sigmoid, cross_entropy, η = 0.5"
    assert layout_problems(nm.plots.histograms(h, title=title)) == []
    assert layout_problems(nm.plots.histograms(deep, X, y, quantity="z")) == []
    points = {
        "epoch": list(range(7)),
        "nabla_b": [[0.01 * 2**j * (1 + e / 7) for j in range(3)] for e in range(7)],
        "update_ratio": h.extra["update_ratio"]["step"],
    }
    assert layout_problems(figure(h, points)) == []
