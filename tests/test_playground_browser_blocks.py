"""The playground's batch normalisation and residual toggles in a real headless Chromium (as
tests/test_playground_browser.py, whose server, browser and helpers these tests share): an
8-layer sigmoid network's speeds of learning, measured in the page with and without BN; the
BN tags and skip arcs drawn; the URL's toggles checked. Screenshots go to
``$NNMATH_ARTEFACTS`` (default ``build/artefacts``)."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("uvicorn", reason="the playground needs the extra nnmath[playground]")
pytest.importorskip("selenium.webdriver", reason="the browser tests need selenium")

from selenium.webdriver.common.by import By  # noqa: E402

import test_playground_browser as base  # noqa: E402
from test_playground_browser import (  # noqa: E402
    EIGHT_SIGMOID,
    LABEL_PROBLEMS,
    PATIENCE,
    click_canvas,
    console_errors,
    js,
    message,
    open_page,
    shoot,
    speeds,
    value,
    wait,
)

# the same fixtures: one server and one Chromium for this module
server, browser = base.server, base.browser

EPOCHS = 3  # whole epochs of each run, by the epoch button: the same numbers every time


def train_epochs(browser, epochs: int) -> list[float]:
    """Press "epoch" ``epochs`` times (each waits for its frame); the hidden layers' speeds."""
    for e in range(1, epochs + 1):
        browser.find_element(By.ID, "epoch-button").click()
        wait(lambda e=e: value(browser, "epoch") == e, PATIENCE, f"epoch {e}")
    table = speeds(browser)
    assert len(table) == 9 and [act for act, _ in table] == ["sigmoid"] * 8 + ["softmax"]
    return [v for _, v in table][:-1]


def spread(hidden: list[float]) -> float:
    """Orders of magnitude between the first hidden layer's speed and the last's."""
    return abs(math.log10(hidden[0] / hidden[-1]))


def toggle(browser, element_id: str, built_key: str) -> None:
    """Click a toggle and wait for the new network's first frame, at epoch 0."""
    browser.find_element(By.ID, element_id).click()
    wait(
        lambda: js(browser, f"return state.snap && state.built.config.{built_key} === true;"),
        PATIENCE,
        f"the network with {built_key}",
    )
    wait(lambda: value(browser, "epoch") == 0 and len(speeds(browser)) == 9, PATIENCE, "epoch 0")


def pixel(browser, x: float, y: float) -> list[int]:
    return js(
        browser,
        "const c = document.getElementById('network').getContext('2d');"
        "return [...c.getImageData(Math.round(arguments[0]), Math.round(arguments[1]), 1, 1)"
        ".data];",
        x,
        y,
    )


def test_batch_norm_brings_the_eight_sigmoid_layers_speeds_of_learning_together(server, browser):
    open_page(browser, server, EIGHT_SIGMOID)
    wait(lambda: len(speeds(browser)) == 9, PATIENCE, "nine layers of speeds")
    plain = spread(train_epochs(browser, EPOCHS))
    title = browser.find_element(By.ID, "speed-title").text
    assert "∂C/∂b" in title and "β" not in title
    toggle(browser, "batch_norm", "batch_norm")
    assert "batch_norm=true" in browser.current_url
    assert "the network changed (batch_norm)" in message(browser)
    bn = spread(train_epochs(browser, EPOCHS))
    print(f"\nfirst and last hidden speeds {plain:.1f}, with BN {bn:.1f} orders of magnitude apart")
    assert plain > 2  # eight sigmoid layers: orders of magnitude between the first and last
    assert bn < plain / 3, (plain, bn)  # BN: the speeds come together
    assert "β" in browser.find_element(By.ID, "speed-title").text  # which gradient is drawn
    assert "BN" in browser.find_element(By.ID, "network-legend").text
    tags = js(  # under each hidden layer's last unit, left of the tag's text: its purple
        browser,
        "return state.layout.slice(1, -1).map((u) => { const p = u[u.length - 1];"
        " return [p.x - 9, p.y + p.box / 2 + 9]; });",
    )
    assert [pixel(browser, x, y)[:3] for x, y in tags] == [[0x5B, 0x3C, 0x88]] * 8
    shoot(browser, "playground-batch-norm-1400x900.png")
    assert js(browser, LABEL_PROBLEMS) == []
    assert console_errors(browser) == []


def test_residual_arcs_and_both_toggles_from_the_url(server, browser):
    open_page(browser, server, EIGHT_SIGMOID + "&residual=true&batch_norm=true", (1024, 768))
    wait(lambda: len(speeds(browser)) == 9, PATIENCE, "nine layers of speeds")
    assert js(browser, "return state.built.blocks.residual;") == [False] + [True] * 7
    assert browser.find_element(By.ID, "residual").is_selected()
    assert browser.find_element(By.ID, "batch_norm").is_selected()
    hidden = train_epochs(browser, EPOCHS)
    assert spread(hidden) < 1.5, hidden  # both remedies: within a few times of each other
    arcs = js(  # the top of each arc, half-way between two layers' columns
        browser,
        "const L = state.layout; return L.slice(2, -1).map((u, i) => {"
        " const a = L[i + 1][0], b = u[0]; return [(a.x + b.x) / 2, a.y - a.box / 2]; });",
    )
    greens = 0
    for x, y in arcs:
        column = [pixel(browser, x, y - d) for d in range(3, 21)]
        greens += any(g > r + 40 and g > b for r, g, b, _ in column)
    assert greens == len(arcs) == 7, arcs
    assert "identity path" in browser.find_element(By.ID, "network-legend").text
    x, y = js(  # where the page drew training point 0: its trace, every layer of the network
        browser,
        "const c = document.getElementById('regions');"
        "return pointAt(state.built.trainX, state.built.trainY, 0, c);",
    )
    click_canvas(browser, "regions", x, y)  # Dense, BN, σ; 7 blocks (5.1, 5.2: F); the output
    trace = browser.find_element(By.ID, "trace")
    wait(lambda: trace.get_attribute("data-layers") == "11", PATIENCE, "the trace of point 0")
    assert "BatchNorm" in trace.text and "Residual sigmoid" in trace.text and "5.2" in trace.text
    js(browser, "arguments[0].scrollIntoView();", trace)
    shoot(browser, "playground-residual-trace-1024x768.png")
    js(browser, "window.scrollTo(0, 0);")
    x, y = js(browser, "const p = state.layout[3][2]; return [p.x, p.y];")  # a block's unit
    click_canvas(browser, "network", x, y)
    unit = browser.find_element(By.ID, "unit-info")
    wait(lambda: unit.text.startswith("unit 2 of layer 4 (sigmoid)"), PATIENCE, "the unit")
    browser.find_element(By.CSS_SELECTOR, "#blocks-help summary").click()
    help_text = browser.find_element(By.ID, "blocks-help").text
    assert "‖∂C/∂β" in help_text and "σ(a" in help_text
    assert js(browser, LABEL_PROBLEMS) == []
    shoot(browser, "playground-residual-batch-norm-1024x768.png")
    assert console_errors(browser) == []


def test_a_toggle_in_the_url_that_is_not_true_or_false_is_refused(server, browser):
    open_page(browser, server, "#data=circle")
    browser.get("about:blank")
    browser.get(server.url + "#data=circle&batch_norm=yes")
    wait(
        lambda: "batch_norm is a toggle: true or false, got 'yes'" in message(browser),
        PATIENCE,
        "the configuration's error",
    )
    browser.find_element(By.ID, "batch_norm").click()  # the checkbox sends true: it builds
    built = "return !!(state.built && state.built.config.batch_norm);"
    wait(lambda: js(browser, built), PATIENCE, "the network with BN")
    assert "batch_norm=true" in browser.current_url
