"""Rich display: the MIME bundles IPython's DisplayFormatter builds, read back and checked
against the objects' numbers (HTML and SVG parsed with xml.etree)."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest

import nnmath as nm
from nnmath.activations import Activation
from nnmath.callbacks import History
from nnmath.cli import main
from nnmath.diagnostics import GradCheck, GradCheckRow, gradcheck, trace, vanishing_factors
from nnmath.sweep import summarize

formatters = pytest.importorskip("IPython.core.formatters", reason="tested through IPython")

SVG = "{http://www.w3.org/2000/svg}"


def bundle(obj) -> dict[str, str]:
    data, _ = formatters.DisplayFormatter().format(obj)
    return data


def parse(html: str) -> ET.Element:
    """The HTML as an element tree (it is well-formed: every element closed, text escaped)."""
    HTMLParser().feed(html)  # the browser's parser takes it too
    return ET.fromstring(f"<root>{html}</root>")


def matrix(root: ET.Element, name: str) -> tuple[tuple[int, ...], dict[tuple[int, int], float]]:
    """The shape and the shown entries of the (first) matrix table ``data-name=name``."""
    table = next(t for t in root.iter("table") if t.get("data-name") == name)
    shape = tuple(int(s) for s in table.get("data-shape").split(","))
    cells = {
        (int(td.get("data-i")), int(td.get("data-j"))): float(td.text.replace("−", "-"))
        for td in table.iter("td")
        if td.get("data-i") is not None
    }
    return shape, cells


def dense(root: ET.Element, name: str) -> np.ndarray:
    shape, cells = matrix(root, name)
    rows, cols = shape[0], shape[1] if len(shape) > 1 else 1
    assert len(cells) == rows * cols, f"{name} is elided"
    A = np.array([[cells[i, j] for j in range(cols)] for i in range(rows)])
    return A if len(shape) > 1 else A[:, 0]


def close(shown: np.ndarray, value, digits: int = 4) -> bool:
    """Equal to the ``digits`` significant digits shown."""
    return np.allclose(shown, value, rtol=10 ** (1 - digits), atol=1e-12)


def table_rows(root: ET.Element, cls: str) -> list[list[str]]:
    (table,) = [t for t in root.iter("table") if t.get("class") == cls]
    return [["".join(td.itertext()) for td in tr.iter("td")] for tr in table.find("tbody")]


# ---------------------------------------------------------------------------- Network


def test_network_table_and_diagram():
    act = nm.get_activation("leaky_relu", alpha=0.2)
    net = nm.Network([784, 30, 10], activation=act, output_activation="softmax", seed=0)
    data = bundle(net)
    assert set(data) == {"text/plain", "text/html"}
    root = parse(data["text/html"])
    rows = table_rows(root, "nnmath-layers")
    assert [r[0] for r in rows] == ["2", "3"]
    assert rows[0][1:5] == ["784 → 30", "leaky_relu(alpha=0.2)", "30 × 784", str(30 * 785)]
    assert rows[1][1:5] == ["30 → 10", "softmax", "10 × 30", str(10 * 31)]
    assert f"{30 * 785 + 10 * 31} parameters" in "".join(root.itertext())
    (svg,) = root.iter(f"{SVG}svg")
    groups = [g for g in svg.iter(f"{SVG}g") if g.get("data-layer")]
    assert [int(g.get("data-size")) for g in groups] == [784, 30, 10]
    # more than 8 units: 7 circles and a ⋮; the size is written under the column
    assert [len(list(g.iter(f"{SVG}circle"))) for g in groups] == [7, 7, 7]
    assert "a1: 784" in "".join(groups[0].itertext())  # a¹, a raised tspan, never a raw ^
    (sup,) = [t for t in groups[0].iter(f"{SVG}tspan") if t.get("baseline-shift") == "super"]
    assert sup.text == "1"
    assert "^" not in ET.tostring(root, encoding="unicode")
    small = parse(bundle(nm.Network([2, 3, 1], seed=0))["text/html"])
    circles = [len(list(g.iter(f"{SVG}circle"))) for g in small.iter(f"{SVG}g")]
    assert circles == [2, 3, 1]


def test_text_is_escaped():
    evil = Activation.from_functions(np.tanh, lambda z: 1 - np.tanh(z) ** 2, name="<b>x</b>&")
    net = nm.Network([2, 2, 1], activation=evil, output_activation="identity", seed=0)
    html = bundle(net)["text/html"]
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;&amp;" in html
    root = parse(html)
    assert not list(root.iter("b"))[1:]  # only the heading's own <b>Network</b>
    assert table_rows(root, "nnmath-layers")[0][2] == "<b>x</b>&"


# ---------------------------------------------------------------------------- History


def _svg_series(root: ET.Element) -> dict[str, tuple[list[float], list[tuple[float, float]]]]:
    out = {}
    for poly in root.iter(f"{SVG}polyline"):
        title = poly.find(f"{SVG}title").text
        name, values = title.split(": ", 1)
        pts = [tuple(map(float, p.split(","))) for p in poly.get("points").split()]
        out[name] = ([float(v) for v in values.split(", ")], pts)
    return out


def test_history_plot_and_table():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    net = nm.Network([3, 6, 2], activation="tanh", output_activation="sigmoid", seed=0)
    h = net.fit(X, y, epochs=4, mini_batch_size=10, eta=0.5, validation_data=(X, y), seed=0)
    data = bundle(h)
    assert "text/html" in data
    root = parse(data["text/html"])
    series = _svg_series(root)
    assert set(series) == {"training cost", "validation cost", "validation accuracy"}
    values, pts = series["training cost"]
    assert close(values, h.training_cost, 6) and len(pts) == 4
    # the points are the values on a linear axis: y in pixels falls as the cost rises
    slope, _ = np.polyfit(values, [p[1] for p in pts], 1)
    assert slope < 0
    np.testing.assert_allclose(
        np.polyval(np.polyfit(values, [p[1] for p in pts], 1), values),
        [p[1] for p in pts],
        atol=0.02,
    )
    assert [p[0] for p in pts] == sorted(p[0] for p in pts)
    rows = table_rows(root, "nnmath-history")
    assert [r[0] for r in rows] == ["1", "2", "3", "4"]
    heads = ["".join(th.itertext()) for th in root.iter("th")]
    col = heads.index("validation accuracy")
    assert close([float(r[col]) for r in rows], h.validation_accuracy)
    assert heads[:4] == ["epoch", "training cost", "validation cost", "validation accuracy"]


def test_long_history_is_elided_and_speeds_on_a_log_axis():
    n = 30
    h = History(
        training_cost=[1.0 / (e + 1) for e in range(n)],
        extra={
            "gradient_norms": {
                "epoch": list(range(n + 1)),
                "nabla_b": [[10.0 ** -(e / 10), 10.0 ** -(e / 5)] for e in range(n + 1)],
            }
        },
    )
    root = parse(bundle(h)["text/html"])
    rows = table_rows(root, "nnmath-history")
    assert [r[0] for r in rows] == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "⋮", "30"]
    assert "30 epochs, 19 not shown" in "".join(root.itertext())
    series = _svg_series(root)
    values, pts = series["layer 3"]
    assert len(values) == n + 1
    # log axis: equal ratios are equal steps in pixels
    steps = np.diff([p[1] for p in pts])
    np.testing.assert_allclose(steps, steps[0], atol=0.02)
    assert bundle(History())["text/html"].count("0 epochs") == 1


# ---------------------------------------------------------------------------- Trace


def test_trace_shows_every_equation_with_its_numbers():
    net = nm.Network([2, 3, 2], seed=0)
    t = trace(net, [0.5, 0.1], [1.0, 0.0])
    data = bundle(t)
    assert {"text/html", "text/latex", "text/markdown"} <= set(data)
    root = parse(data["text/html"])
    for layer in t.layers:
        l = layer.layer
        W, b = dense(root, f"w{l}"), dense(root, f"b{l}")
        assert close(W, layer.W) and close(b, layer.b) and close(dense(root, f"z{l}"), layer.z)
        a_prev = dense(root, f"a{l - 1}")
        # checked by hand from the shown numbers: z = W a + b
        assert close(W @ a_prev + b, dense(root, f"z{l}"), 3)
        assert close(dense(root, f"a{l}"), layer.a)
        assert close(dense(root, f"nabla_w{l}"), layer.nabla_w)
        assert close(dense(root, f"nabla_b{l}"), layer.delta)
    # BP1: δ^L = ∇_a C ⊙ σ'(z^L); BP2: δ^2 = ((w^3)ᵀ δ^3) ⊙ σ'(z^2), from the numbers shown
    d3 = dense(root, "delta3")
    assert close(dense(root, "grad_a") * dense(root, "sigma_prime3"), d3, 3)
    assert close(dense(root, "wt_delta2"), dense(root, "w3").T @ d3, 3)
    assert close(dense(root, "wt_delta2") * dense(root, "sigma_prime2"), dense(root, "delta2"), 3)
    text = "".join(root.itertext())
    for rule in ("BP1", "BP2", "BP3", "BP4"):
        assert rule in text
    assert "z<sup>2</sup> = w<sup>2</sup> a<sup>1</sup> + b<sup>2</sup>" in data["text/html"]
    tex = data["text/latex"]
    assert tex.startswith(r"$$\begin{aligned}") and tex.endswith(r"\end{aligned}$$")
    for tag in ("(BP1)", "(BP2)", "(BP3)", "(BP4)", r"z^{2} &= w^{2} a^{1} + b^{2}"):
        assert tag in tex
    w = t.layers[0].W
    assert " & ".join(f"{v:.4g}".replace("−", "-") for v in w[0]) in tex
    md = data["text/markdown"]
    assert md == t.to_markdown() and "w^2 (3 × 2) = [" in md
    assert f"{w[0][0]:.4g}, {w[0][1]:.4g}; {w[1][0]:.4g}" in md


def test_large_matrices_are_elided_with_their_shape():
    net = nm.Network([20, 12, 3], seed=0, output_activation="softmax", cost="log_likelihood")
    t = trace(net, np.linspace(0, 1, 20), 1)
    root = parse(bundle(t)["text/html"])
    shape, cells = matrix(root, "w2")
    assert shape == (12, 20) and len(cells) == 7 * 7
    assert set(i for i, _ in cells) == {0, 1, 2, 3, 4, 5, 11}
    assert cells[11, 19] == pytest.approx(t.layers[0].W[11][19], rel=1e-3)
    assert "w2: 12 × 20, showing 7 of 12 rows and 7 of 20 columns" in "".join(root.itertext())
    shape, cells = matrix(root, "w3")  # 3 rows in full, 12 columns elided
    assert shape == (3, 12) and len(cells) == 3 * 7
    # softmax: σ' is a Jacobian, so BP1 is the Jacobian product, no σ' vector is shown
    assert not [x for x in root.iter("table") if x.get("data-name") == "sigma_prime3"]
    assert "(∂a3/∂z3)ᵀ ∇a C" in "".join(root.itertext())  # (∂a^3/∂z^3)ᵀ ∇_a C
    tex = t.to_latex()
    assert r"\ddots" in tex and r"_{12 \times 20}" in tex
    assert "w^2 (12 × 20) = [" in t.to_markdown() and "…" in t.to_markdown()


def test_cli_trace_prints_w_and_b(capsys):
    assert main(["trace", "--sizes", "2,3,2", "--x", "0.5,0.1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    W2, b2 = data["layers"][0]["W"], data["layers"][0]["b"]
    assert np.allclose(np.array(W2) @ [0.5, 0.1] + b2, data["layers"][0]["z"])
    assert main(["trace", "--sizes", "2,3,2", "--x", "0.5,0.1"]) == 0
    out = capsys.readouterr().out
    assert f"w^2 (3 × 2) = [{W2[0][0]:.4g}, {W2[0][1]:.4g};" in out
    assert f"b^2 (3) = [{b2[0]:.4g}," in out
    assert main(["trace", "--sizes", "2,3,2", "--format", "latex"]) == 0
    assert r"z^{2} &= w^{2} a^{1} + b^{2} = \begin{pmatrix}" in capsys.readouterr().out


# ------------------------------------------------------------------ diagnostics tables


def test_gradcheck_table():
    rng = np.random.default_rng(0)
    net = nm.Network([3, 4, 2], seed=0)
    check = gradcheck(net, rng.normal(size=(4, 3)), rng.integers(0, 2, size=4))
    data = bundle(check)
    assert data["text/markdown"] == check.to_markdown()
    root = parse(data["text/html"])
    rows = table_rows(root, "nnmath-gradcheck")
    assert len(rows) == len(check.rows)
    for shown, r in zip(rows, check.rows):
        assert shown[0] == r.quantity.replace("^", "") and int(shown[1]) == r.layer
        assert float(shown[2]) == pytest.approx(r.max_rel_error, rel=1e-2, abs=1e-300)
        assert int(shown[4]) == r.n_checked and shown[5] == "yes"
    failed = GradCheck([GradCheckRow("δ^L", 3, 0.5, 0.1, 2, False)], 1e-6, 1e-4, 1e-5)
    root = parse(bundle(failed)["text/html"])
    assert [tr.get("class") for tr in root.iter("tr") if tr.get("class")] == ["bad"]
    assert "some equation disagrees" in "".join(root.itertext())


def test_vanishing_factors_table():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 4)), rng.integers(0, 3, size=30)
    f = vanishing_factors(nm.Network([4, 5, 5, 3], seed=0), X, y)
    data = bundle(f)
    assert data["text/markdown"] == f.to_markdown()
    root = parse(data["text/html"])
    rows = table_rows(root, "nnmath-factors")
    assert [int(r[0]) for r in rows] == [x.layer for x in f.layers]
    for shown, x in zip(rows, f.layers):
        assert float(shown[2]) == pytest.approx(x.ratio, rel=1e-2)
        assert float(shown[3]) * float(shown[4]) == pytest.approx(x.ratio, rel=2e-2)
    spectra = table_rows(root, "nnmath-spectra")
    assert [int(r[0]) for r in spectra] == f.jacobian_layers
    assert float(spectra[0][1]) == pytest.approx(f.jacobian_sv[0][0], rel=1e-2)


def test_sweep_summary_table():
    rows = [
        {
            "key": k,
            "activation": act,
            "depth": 2,
            "seed_index": s,
            "test_accuracy": acc,
            "diverged": False,
            "wall_time": 1.0,
        }
        for k, (act, s, acc) in enumerate(
            [("relu", 0, 0.9), ("relu", 1, 0.8), ("<sigmoid>", 0, 0.5), ("<sigmoid>", 1, 0.7)]
        )
    ]
    s = summarize(rows)
    assert isinstance(s, list) and s == [dict(g) for g in s]  # still a plain list of dicts
    data = bundle(s)
    root = parse(data["text/html"])
    heads = ["".join(th.itertext()) for th in root.iter("th")]
    assert heads[:3] == ["activation", "n", "diverged"] and "test_accuracy" in heads
    shown = table_rows(root, "nnmath-summary")
    col = heads.index("test_accuracy")
    mean, std = shown[0][col].split(" ± ")
    assert float(mean) == pytest.approx(0.85) and float(std) == pytest.approx(
        math.sqrt(0.005), rel=1e-2
    )
    assert shown[1][0] == "<sigmoid>" and "&lt;sigmoid&gt;" in data["text/html"]
    assert "| activation | n | diverged |" in data["text/markdown"]


def test_chart_titles_and_captions_set_superscripts_and_matrices_have_brackets() -> None:
    from nnmath.display import line_chart
    from nnmath.display._html import STYLE, table_html

    svg = ET.fromstring(line_chart({"layer 2": [0.1, 0.2]}, "speed ‖∂C/∂b^l‖", log=True))
    (title,) = [t for t in svg.iter(f"{SVG}text") if "speed" in "".join(t.itertext())]
    assert "".join(title.itertext()) == "speed ‖∂C/∂bl‖"  # b with a raised l, no raw ^
    assert [t.get("baseline-shift") for t in title.iter(f"{SVG}tspan")] == ["super"]
    html = table_html(["W^l"], [[1]], caption="a^l = σ(W^l a^{l−1} + b^l)")
    assert "<caption>a<sup>l</sup> = σ(W<sup>l</sup> a<sup>l−1</sup>" in html
    # a matrix is drawn in brackets [ ] (four short ends), not bars | | (a determinant), and
    # its caption stays on one line
    rule = STYLE.split("table.nnmath-matrix{")[1].split("}")[0]
    assert rule.count("no-repeat") == 4 and "top left" in rule and "bottom right" in rule
    assert "white-space:nowrap" in STYLE.split(".nnmath caption{")[1].split("}")[0]


def test_trace_html_has_no_raw_caret() -> None:
    from nnmath.display import trace_html

    net = nm.Network([3, 2, 2], seed=0)
    t = trace(net, np.array([0.1, 0.5, -0.2]), np.array([0.0, 1.0]))
    text = "".join(parse(trace_html(t)).itertext())
    assert "(a1 has 3 entries)" in text  # a¹ as <sup>, as in every equation's label
    assert "^" not in text
