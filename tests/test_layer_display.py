"""The rich display of a network of layers (the layer table and the block diagram of the
book's chapter-6 net, read back and laid out in a real headless Chromium), and the chapter-6
figures of a convolution's filters and one example's feature maps."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import nnmath as nm
from conftest import headless_chromium
from test_layer_diagnostics import CHAPTER_6, examples, small_net

SVG = "{http://www.w3.org/2000/svg}"
ARTEFACTS = Path(os.environ.get("NNMATH_ARTEFACTS", Path(__file__).parents[1] / "build/artefacts"))


def chapter_6() -> nm.Network:
    return nm.Network(CHAPTER_6, cost="log_likelihood", init="he", seed=0)


def test_the_table_lists_every_layer_with_its_output_shape_and_parameters() -> None:
    from test_display import bundle, parse, table_rows

    net = chapter_6()
    data = bundle(net)
    root = parse(data["text/html"])
    rows = table_rows(root, "nnmath-layers")
    assert [r[1] for r in rows] == [
        "input x",
        "Conv2D 5×5",
        "MaxPool2D 2×2",
        "Conv2D 5×5",
        "MaxPool2D 2×2",
        "Flatten",
        "Dense",
        "Dropout 0.5",
        "Dense",
        "Dropout 0.5",
        "Dense",
    ]
    assert [r[2] for r in rows][:6] == [
        "1 × 28 × 28",
        "20 × 24 × 24",
        "20 × 12 × 12",
        "40 × 8 × 8",
        "40 × 4 × 4",
        "640",
    ]
    assert [r[3] for r in rows][1:3] == ["relu", ""] and rows[-1][3] == "softmax"
    counts = [int(r[5]) for r in rows]
    assert counts == [0, 20 * 25 + 20, 0, 40 * 20 * 25 + 40, 0, 0, 641000, 0, 1001000, 0, 10010]
    assert rows[3][4] == "40 × 20 × 5 × 5"
    assert f"{sum(counts)} parameters" in "".join(root.itertext())
    (svg,) = root.iter(f"{SVG}svg")
    groups = [g for g in svg.iter(f"{SVG}g") if g.get("data-layer")]
    assert [g.get("data-kind") for g in groups][:3] == ["input", "conv2d", "maxpool2d"]
    assert [int(g.get("data-layer")) for g in groups] == list(range(1, 12))
    stack = [len(list(g.iter(f"{SVG}rect"))) for g in groups[:5]]
    assert stack == [1, 8, 8, 8, 8]  # feature maps: at most 8 drawn, the shape says 20 or 40
    assert "^" not in ET.tostring(svg, encoding="unicode")


# ------------------------------------------------------------- in a real browser

#: every <text> of the diagram: outside the <svg>, or overlapping another (more than 0.5 px)
TEXT_PROBLEMS = """
const svg = document.querySelector('svg'); const box = svg.getBoundingClientRect();
const texts = [...svg.querySelectorAll('text')]
  .map(t => [t.textContent, t.getBoundingClientRect()]);
const out = [];
for (const [s, r] of texts) {
  if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5
      || r.bottom > box.bottom + 0.5) out.push('outside: ' + s);
}
for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
  const [a, p] = texts[i], [b, q] = texts[j];
  if (Math.min(p.right, q.right) - Math.max(p.left, q.left) > 0.5
      && Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top) > 0.5) {
    out.push('overlap: ' + a + ' / ' + b);
  }
}
return out;
"""


def test_the_chapter_6_diagram_reads_in_chromium(tmp_path) -> None:
    page, small = tmp_path / "net.html", small_net()
    with headless_chromium() as driver:
        dense = nm.Network([784, 30, 10], seed=0)  # the dense diagram is held to it too
        for net, name in ((chapter_6(), "chapter6"), (small, "small"), (dense, "dense")):
            page.write_text(
                "<!doctype html><meta charset='utf-8'><body>" + net._repr_html_() + "</body>",
                encoding="utf-8",
            )
            driver.get(page.as_uri())
            assert driver.execute_script(TEXT_PROBLEMS) == [], name
            ARTEFACTS.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(ARTEFACTS / f"layers_{name}.png"))


# ------------------------------------------------------------ filters, maps


def test_the_filters_and_feature_maps_figures(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from _layout import layout_problems

    net = chapter_6()
    fig = nm.plots.filters(net, path=tmp_path / "filters.png")
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 20 and images[0].images[0].get_array().shape == (5, 5)
    assert layout_problems(fig) == [] and (tmp_path / "filters.png").stat().st_size > 0
    x = np.random.default_rng(0).random((1, 28, 28))
    fig = nm.plots.feature_maps(net, x, path=tmp_path / "maps.png")
    maps = [ax for ax in fig.axes if ax.images]
    assert len(maps) == 21  # x and the 20 maps of a^2
    first = np.asarray(maps[1].images[0].get_array())
    expected = net.layers[1].forward(x.reshape(1, 28, 28, 1).astype(np.float32)).a[0, ..., 0]
    np.testing.assert_allclose(first, expected, rtol=1e-5)
    assert layout_problems(fig) == [] and callable(nm.plots.filters)  # not the module
    fig = nm.plots.feature_maps(small_net(), examples(1)[0][0], layer=3)  # a max-pooling
    assert len([ax for ax in fig.axes if ax.images]) == 4
    with pytest.raises(ValueError, match="choose \\[2, 4\\]"):
        nm.plots.filters(small_net(), layer=3)
    with pytest.raises(ValueError, match="dense Network has none"):
        nm.plots.filters(nm.Network([4, 3, 2]))
