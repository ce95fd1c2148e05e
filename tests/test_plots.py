"""Figures render with Agg, hold the right data, and save as valid PNG / SVG files."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from nnmath import History, Network, activations, plots  # noqa: E402
from nnmath.data import load_digits  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG file, read back by matplotlib after checking the signature."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG file"
    image = mpimg.imread(path)
    return image.shape[1], image.shape[0]


def svg_root(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg"), root.tag
    return root


def small_history(epochs: int = 4) -> History:
    h = History()
    h.training_cost = [1.0 / (e + 1) for e in range(epochs)]
    h.validation_cost = [1.2 / (e + 1) for e in range(epochs)]
    h.training_accuracy = [0.5 + 0.1 * e for e in range(epochs)]
    h.validation_accuracy = [0.45 + 0.1 * e for e in range(epochs)]
    h.best_epoch = epochs - 1
    return h


# ------------------------------------------------------------------ package


def test_import_does_not_load_matplotlib():
    code = (
        "import sys, nnmath, nnmath.plots as p; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported eagerly'; "
        "f = p.plot_activations; assert 'matplotlib' not in sys.modules, 'imported on lookup'; "
        "f(n_points=3); assert 'matplotlib' in sys.modules; print('ok')"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_lazy_exports_listed():
    for name in plots.__all__:
        assert callable(getattr(plots, name))
    with pytest.raises(AttributeError):
        plots.no_such_plot  # noqa: B018


# ------------------------------------------------------------------ activations


def test_activations_figure_draws_the_library_functions():
    fig = plots.plot_activations(-4, 4, alpha_leaky=0.2, n_points=401)
    axes = fig.axes
    assert len(axes) == 6
    titles = [ax.get_title() for ax in axes]
    assert titles[:3] == ["sigmoid", "tanh", "ReLU"]
    assert titles[3].startswith("leaky ReLU") and "0.2" in titles[3]
    assert titles[4].startswith("ELU")
    # each panel: σ then σ' computed on the same z, equal to the library's functions
    pairs = [
        (activations.sigmoid, activations.sigmoid_prime),
        (activations.tanh, activations.tanh_prime),
        (activations.relu, activations.relu_prime),
        (lambda z: activations.leaky_relu(z, 0.2), lambda z: activations.leaky_relu_prime(z, 0.2)),
        (activations.elu, activations.elu_prime),
    ]
    for ax, (fn, prime) in zip(axes[:5], pairs, strict=True):
        sigma_line, prime_line = ax.get_lines()[:2]
        z = sigma_line.get_xdata()
        assert z[0] == -4 and z[-1] == 4 and len(z) == 401
        np.testing.assert_allclose(sigma_line.get_ydata(), fn(z))
        y = prime_line.get_ydata()
        ok = ~np.isnan(y)  # NaN only where the derivative jumps (ReLU at 0)
        assert ok.sum() >= len(z) - 2
        np.testing.assert_allclose(y[ok], prime(z)[ok])
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert len(legend) == 2 and all("$" in t for t in legend)  # the formulas
    sig_legend = " ".join(t.get_text() for t in axes[0].get_legend().get_texts())
    assert r"\sigma(z)(1-\sigma(z))" in sig_legend.replace(r"\,", "").replace(" ", "")
    # the sigmoid bound 1/4 is marked: a horizontal line at 0.25 and an annotation
    assert any(np.allclose(line.get_ydata(), 0.25) for line in axes[0].get_lines()[2:])
    assert any("1/4" in t.get_text() for t in axes[0].texts)
    sigmoid_prime_max = np.nanmax(axes[0].get_lines()[1].get_ydata())
    assert sigmoid_prime_max == pytest.approx(0.25, abs=1e-6)


def test_activations_png_has_figsize_times_dpi(tmp_path):
    path = tmp_path / "sub" / "act.png"
    fig = plots.plot_activations(path=path, dpi=50, figsize=(8.0, 5.0), n_points=101)
    assert tuple(fig.get_size_inches()) == (8.0, 5.0)  # the figure asked for, then its file:
    assert png_size(path) == (400, 250)
    assert [p.name for p in path.parent.iterdir()] == ["act.png"]  # no temp files left


def test_activations_svg_is_xml_with_the_figure_size(tmp_path):
    path = tmp_path / "act.svg"
    plots.plot_activations(path=path, n_points=101)
    root = svg_root(path)
    assert root.get("width") == "864pt" and root.get("height") == "504pt"  # 12 x 7 inches


def test_saved_file_gets_the_usual_mode(tmp_path):
    path = tmp_path / "act.png"
    plots.plot_activations(path=path, dpi=20)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_activations_rejects_bad_range():
    with pytest.raises(ValueError, match="z_min must be below z_max"):
        plots.plot_activations(3, 1)


def test_unknown_suffix_leaves_no_file(tmp_path):
    with pytest.raises(ValueError):
        plots.plot_activations(path=tmp_path / "act.nope", dpi=20)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ learning curves


def test_learning_curves_plot_the_history(tmp_path):
    h = small_history(4)
    path = tmp_path / "curves.png"
    fig = plots.plot_learning_curves(h, title="t", path=path, dpi=40)
    ax_cost, ax_acc = fig.axes
    epochs = [1, 2, 3, 4]
    cost_lines = [line for line in ax_cost.get_lines() if line.get_label() != "_nolegend_"]
    np.testing.assert_allclose(cost_lines[0].get_xdata(), epochs)
    np.testing.assert_allclose(cost_lines[0].get_ydata(), h.training_cost)
    np.testing.assert_allclose(cost_lines[1].get_ydata(), h.validation_cost)
    acc = ax_acc.get_lines()
    np.testing.assert_allclose(acc[0].get_ydata(), np.array(h.training_accuracy) * 100)
    np.testing.assert_allclose(acc[1].get_ydata(), np.array(h.validation_accuracy) * 100)
    (legend,) = fig.legends  # one legend for both panels, under them
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[:2] == ["training", "validation (after the epoch)"]
    assert "best validation epoch (4)" in labels
    assert png_size(path) == (440, 180)  # (11, 4.5) inches at 40 dpi


def test_learning_curves_from_a_real_fit():
    data = load_digits()
    net = Network([64, 20, 10], seed=0)
    h = net.fit(*data.train, epochs=2, eta=0.5, validation_data=data.validation, seed=0)
    fig = plots.plot_learning_curves(h)
    assert len(fig.axes[1].get_lines()) >= 1  # validation accuracy only (no training acc.)
    # a student reads 40 % against 82 % at epoch 1 as a bug: the legend says what each is
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == [
        "training (mean over the epoch's mini-batches)",
        "validation (after the epoch)",
    ]
    h = net.fit(*data.train, epochs=1, validation_data=data.validation, monitor="full")
    labels = [t.get_text() for t in plots.plot_learning_curves(h).legends[0].get_texts()]
    assert labels[0] == "training (after the epoch)"


def test_learning_curves_need_an_epoch():
    with pytest.raises(ValueError, match="no completed epoch"):
        plots.plot_learning_curves(History())


def test_learning_curves_without_accuracy_say_so():
    h = History(training_cost=[0.3, 0.2])
    fig = plots.plot_learning_curves(h)
    assert any("no accuracy" in t.get_text() for t in fig.axes[1].texts)


# ------------------------------------------------------------------ confusion matrix


def test_confusion_matrix_counts_by_hand():
    y_true = [0, 0, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 2, 0, 2]
    M = plots.confusion_matrix(y_true, y_pred)
    expected = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    np.testing.assert_array_equal(M, expected)
    assert plots.confusion_matrix(y_true, y_pred, n_classes=5).shape == (5, 5)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "n", "match"),
    [
        ([0, 1], [0], None, "one length"),
        ([0, -1], [0, 1], None, "non-negative integer"),
        ([0.5, 1], [0, 1], None, "non-negative integer"),
        ([0, 4], [0, 1], 3, "n_classes=3"),
    ],
)
def test_confusion_matrix_rejects_bad_labels(y_true, y_pred, n, match):
    with pytest.raises(ValueError, match=match):
        plots.confusion_matrix(np.asarray(y_true), np.asarray(y_pred), n)


def test_confusion_plot_annotates_counts(tmp_path):
    y_true = np.array([0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 2, 0, 2])
    path = tmp_path / "c.png"
    fig = plots.plot_confusion_matrix(y_true, y_pred, class_names=["a", "b", "c"], path=path)
    ax = fig.axes[0]
    cells = sorted(t.get_text() for t in ax.texts)
    assert cells == ["1", "1", "1", "1", "2"]  # non-zero cells only
    assert "accuracy 66.67%" in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    np.testing.assert_array_equal(ax.images[0].get_array(), plots.confusion_matrix(y_true, y_pred))
    assert png_size(path) == (650, 550)


def test_confusion_plot_normalized_rows():
    fig = plots.plot_confusion_matrix([0, 0, 1], [0, 1, 1], normalize=True)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), [[0.5, 0.5], [0.0, 1.0]])


# ------------------------------------------------------------------ misclassified


def test_misclassified_grid_shows_the_wrong_ones(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((30, 16)).astype(np.float32)
    y = np.arange(30) % 3
    y_pred = y.copy()
    wrong = [2, 5, 11, 17, 29]
    y_pred[wrong] = (y[wrong] + 1) % 3
    path = tmp_path / "m.png"
    fig = plots.plot_misclassified(X, y, y_pred, (4, 4), ncols=3, path=path, dpi=50)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 5
    assert [ax.get_title() for ax in shown] == [f"{y[i]} → {y_pred[i]}" for i in wrong]
    np.testing.assert_array_equal(shown[0].images[0].get_array(), X[2].reshape(4, 4))
    # 3 columns, 2 rows of 1.3-inch panels plus 0.5 inch for the title, at 50 dpi; wider
    # only as far as the title needs (it is never clipped)
    width, height = png_size(path)
    assert height == round((2 * 1.3 + 0.5) * 50) and width >= round(3 * 1.3 * 50)
    assert width == round(fig.get_size_inches()[0] * 50) and _text_inside_figure(fig) == []


def test_misclassified_limits_and_empty_case():
    X = np.zeros((10, 4))
    y = np.zeros(10, dtype=int)
    fig = plots.plot_misclassified(X, y, np.ones(10, dtype=int), (2, 2), max_images=3)
    assert sum(bool(ax.images) for ax in fig.axes) == 3
    fig = plots.plot_misclassified(X, y, y, (2, 2))
    assert any("no misclassified" in t.get_text() for ax in fig.axes for t in ax.texts)


def test_misclassified_checks_shapes():
    X = np.zeros((4, 6))
    y = np.zeros(4, dtype=int)
    with pytest.raises(ValueError, match="no image shape"):
        plots.plot_misclassified(X, y, y, None)
    with pytest.raises(ValueError, match="has 4 pixels, but X has 6 features"):
        plots.plot_misclassified(X, y, y, (2, 2))
    with pytest.raises(ValueError, match="one row per label"):
        plots.plot_misclassified(X, y[:3], y, (2, 3))


# ---------------------------------------------------------------- what the newcomer saw


def _text_inside_figure(fig) -> list[str]:
    """The texts (titles, suptitle, labels) whose drawn extent leaves the figure: clipped."""
    if not hasattr(fig.canvas, "get_renderer"):  # a saved figure is closed: draw it again
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    clipped = []
    texts = [fig._suptitle] if fig._suptitle is not None else []
    for ax in fig.axes:
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label]
    for t in texts:
        if not t.get_text() or not t.get_visible():
            continue
        e = t.get_window_extent(renderer)
        if e.x0 < box.x0 - 1 or e.x1 > box.x1 + 1 or e.y0 < box.y0 - 1 or e.y1 > box.y1 + 1:
            clipped.append(t.get_text())
    return clipped


def test_misclassified_titles_are_never_clipped():
    rng = np.random.default_rng(0)
    X = rng.random((50, 64))
    y = np.zeros(50, dtype=int)
    y_pred = y.copy()
    y_pred[[3, 7]] = [4, 9]  # two errors: a narrow grid under a long title
    fig = plots.plot_misclassified(X, y, y_pred, (8, 8))
    assert fig._suptitle.get_text().startswith("misclassified: 2 of 50")
    assert _text_inside_figure(fig) == []
    plt.close(fig)


def test_misclassified_and_confusion_show_fashion_mnist_class_names(tmp_path):
    from nnmath.cli._figures import CLASS_NAMES
    from nnmath.data import LOADERS

    assert set(CLASS_NAMES) <= set(LOADERS)  # keyed by registered data set names
    names = CLASS_NAMES["fashion-mnist"]
    assert len(names) == 10 and names[0] == "T-shirt/top" and names[9] == "Ankle boot"
    X = np.random.default_rng(0).random((4, 784))
    y, y_pred = np.array([4, 6, 9, 0]), np.array([6, 4, 7, 0])
    fig = plots.plot_misclassified(X, y, y_pred, (28, 28), class_names=names)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["Coat → Shirt", "Shirt → Coat", "Ankle boot → Sneaker"]
    assert _text_inside_figure(fig) == []
    plt.close(fig)
    fig = plots.plot_confusion_matrix(y, y_pred, n_classes=10, class_names=names)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == list(names)
    plt.close(fig)


def _capture(monkeypatch, module):
    figures = []

    def save(fig, path, **kw):
        fig.canvas.draw()
        figures.append(fig)
        return Path(path)

    monkeypatch.setattr(module, "save_figure", save)
    return figures


def _sweep_rows():
    rows = []
    for depth in (1, 2, 3):
        for seed in range(4):
            diverged = depth == 3 and seed < 3  # 3 of the 4 deep runs blow up
            acc = 0.1 if diverged else 0.9 - 0.05 * depth + 0.01 * seed
            rows.append(
                {
                    "depth": depth,
                    "activation": "elu",
                    "seed": seed,
                    "diverged": diverged,
                    "validation_accuracy": acc,
                }
            )
    return rows


def test_sweep_accuracy_leaves_diverged_runs_out_and_says_how_many(monkeypatch, tmp_path):
    from nnmath.plots import sweep as sweep_plots
    from nnmath.sweep import summarize

    rows = _sweep_rows()
    summary = summarize(rows, by=["activation", "depth"])
    figures = _capture(monkeypatch, sweep_plots)
    sweep_plots.plot_accuracy_vs_depth(summary, tmp_path / "a.png", rows)
    (fig,) = figures
    assert fig._suptitle.get_text() == "Accuracy against depth (3 of 12 runs diverged)"
    ax = fig.axes[0]
    assert "(%)" in ax.get_ylabel()
    line = ax.get_lines()[0]
    expected_deep = 100 * (0.9 - 0.15 + 0.03)  # the one run that did not diverge
    np.testing.assert_allclose(line.get_ydata(), [86.5, 81.5, expected_deep])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "shaded: ± 1 standard deviation over seeds" in legend
    assert "runs that diverged (k/n at that depth), left out of the mean" in legend
    assert any(t.get_text() == "3/4" for t in ax.texts)
    assert _text_inside_figure(fig) == []
    # without the rows the means hold the diverged runs: the point is marked as such
    sweep_plots.plot_accuracy_vs_depth(summary, tmp_path / "b.png")
    ax = figures[1].axes[0]
    assert ax.get_lines()[0].get_ydata()[2] == pytest.approx(
        100 * summary[2]["validation_accuracy_mean"]
    )
    assert any(t.get_text() == "3/4" for t in ax.texts)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "runs that diverged (k/n at that depth), still in the mean" in legend


def test_speed_figures_write_a_real_superscript_and_label_their_bands(monkeypatch, tmp_path):
    from nnmath.plots import sweep as sweep_plots
    from nnmath.plots import vanishing as vanishing_plots

    figures = _capture(monkeypatch, vanishing_plots)
    result = {
        "label": "sigmoid",
        "sizes": [4, 3, 3, 2],
        "layers": [2, 3],
        "epoch": [0, 1],
        "seeds": [0, 1],
        "mean": [[0.1, 0.2], [0.1, 0.3]],
        "min": [[0.05, 0.1], [0.05, 0.2]],
        "max": [[0.2, 0.3], [0.2, 0.4]],
    }
    vanishing_plots.plot_speeds([result], tmp_path / "v.png")
    ax = figures[0].axes[0]
    assert ax.get_ylabel() == r"speed of learning $\|\partial C/\partial b^l\|$"  # mathtext
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "shaded: min–max over seeds" in legend
    figures = _capture(monkeypatch, sweep_plots)
    summary = [
        {"depth": d, "n": 2, "diverged": 0, "speed_l1_mean": 0.1 / d, "speed_l1_std": 0.01}
        for d in (1, 2)
    ]
    sweep_plots.plot_speed_vs_depth(summary, tmp_path / "s.png")
    assert r"$\|\partial C/\partial b^{2}\|$" in figures[0].axes[0].get_ylabel()


def _grid_rows(etas, activations, seeds=3):
    """Rows of a vanishing sweep over η × σ: the speed at initialisation differs between
    grid points only by the draw of the weights; the accuracy depends on η."""
    rows = []
    for eta in etas:
        for k, act in enumerate(activations):
            for seed in range(seeds):
                rows.append(
                    {
                        "activation": act,
                        "eta": eta,
                        "seed": seed,
                        "diverged": False,
                        "speed_l1": (k + 1) * (1 + 0.01 * seed + 0.001 * eta),
                        "validation_accuracy": 0.5 + 0.1 * k + 0.01 * eta,
                    }
                )
    return rows


def test_sweep_figures_put_the_swept_parameter_on_x_and_name_every_parameter(monkeypatch, tmp_path):
    from nnmath.plots import sweep as sweep_plots
    from nnmath.sweep import summarize

    etas = [0.01, 0.1, 1.0, 10.0]
    rows = _grid_rows(etas, ["sigmoid", "relu"])
    summary = summarize(rows, by=["activation", "eta"])
    figures = _capture(monkeypatch, sweep_plots)
    sweep_plots.plot_sweep(summary, tmp_path, rows)
    speed, accuracy = figures
    # the accuracy: η on a log x axis, one line per σ, the legend names σ
    ax = accuracy.axes[0]
    assert ax.get_xlabel() == "learning rate η" and ax.get_xscale() == "log"
    lines = [ln for ln in ax.get_lines() if ln.get_label() in ("σ = sigmoid", "σ = relu")]
    assert [list(ln.get_xdata()) for ln in lines] == [etas, etas]
    # the speed at initialisation: η acts only in training, so its runs are pooled
    ax = speed.axes[0]
    assert ax.get_xlabel() == "learning rate η"
    assert len([ln for ln in ax.get_lines() if ln.get_label().startswith("σ = ")]) == 2
    # with depth swept too, depth is x and η is pooled into one line per σ, said in the legend
    rows = [dict(r, depth=d) for r in _grid_rows([0.1, 0.5], ["sigmoid", "relu"]) for d in (2, 4)]
    summary = summarize(rows, by=["activation", "eta", "depth"])
    figures.clear()
    sweep_plots.plot_sweep(summary, tmp_path, rows)
    speed, accuracy = figures
    ax = speed.axes[0]
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert labels == ["σ = sigmoid", "σ = relu"]
    legend = ax.get_legend()
    assert legend.get_title().get_text() == (
        "η = 0.1, 0.5:\nacts only in training: runs pooled, one line for all"
    )
    sigmoid = [r["speed_l1"] for r in rows if r["activation"] == "sigmoid" and r["depth"] == 2]
    assert ax.get_lines()[0].get_ydata()[0] == pytest.approx(np.mean(sigmoid))
    ax = accuracy.axes[0]
    names = [t.get_text() for t in ax.get_legend().get_texts()]
    assert names[:4] == [
        "σ = sigmoid, η = 0.1",
        "σ = sigmoid, η = 0.5",
        "σ = relu, η = 0.1",
        "σ = relu, η = 0.5",
    ]
    styles = [(ln.get_color(), ln.get_linestyle()) for ln in ax.get_lines()[:4]]
    assert len(set(styles)) == 4  # colour for σ, dash for η
