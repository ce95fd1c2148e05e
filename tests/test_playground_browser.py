"""The playground end to end in a real headless Chromium (Debian's chromium and
chromium-driver through Selenium, never a downloaded browser) against a real uvicorn server
on 127.0.0.1, started and stopped here.

Every wait is for a condition, with a generous timeout (the machine may be loaded), never a
fixed sleep; the few sleeps left are the measurement itself (watch the page for a second).
Screenshots: the viewport at 1024×768 (a projector) and at 1400×900 go to
``$NNMATH_ARTEFACTS`` (default ``build/artefacts``); with ``NNMATH_SCREENSHOT_DIR`` set, the
1400×900 one is also written there as ``playground.png``, the README's picture
(``NNMATH_SCREENSHOT_DIR=docs python -m pytest tests/test_playground_browser.py``)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="the playground needs the extra nnmath[playground]")
webdriver = pytest.importorskip("selenium.webdriver", reason="the browser tests need selenium")

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMEDRIVER.exists() or CHROMIUM is None:
    pytest.skip(
        "no Chromium: apt-get install chromium chromium-driver (.ci/run does it)",
        allow_module_level=True,
    )

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from nnmath.playground.serve import Server, bind  # noqa: E402

ARTEFACTS = Path(os.environ.get("NNMATH_ARTEFACTS", Path(__file__).parents[1] / "build/artefacts"))
SCREENSHOT_DIR = os.environ.get("NNMATH_SCREENSHOT_DIR")
# Nielsen's setting (chapter 5): plain SGD; Adam rescales each layer's step and hides the effect
EIGHT_SIGMOID = (
    "#data=spiral&layers=8,8,8,8,8,8,8,8&activations=sigmoid&init=glorot&optimizer=sgd&eta=0.1"
)
# the README's deep demo: 8 layers of 16 ReLU units on the spiral
DEEP = "#data=spiral&layers=16,16,16,16,16,16,16,16&activations=relu"
PATIENCE = 60  # seconds a condition may take on a loaded machine before the test fails


@pytest.fixture(scope="module")
def server():
    sock, address = bind("127.0.0.1", 0)
    with Server(sock, address) as running:
        yield running.address


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        "--disable-gpu",
        "--no-first-run",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def open_page(browser, server, fragment: str = "", size: tuple[int, int] = (1400, 900)) -> None:
    """Load the page with the run of ``fragment`` in a viewport of exactly ``size`` pixels and
    wait for its first snapshot drawn."""
    width, height = size
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    browser.get("about:blank")  # a change of the fragment alone would not load the page again
    browser.get(server.url + fragment)
    wait(lambda: snapshots(browser) > 0, PATIENCE, "the first snapshot drawn")


def js(browser, code: str, *args):
    return browser.execute_script(code, *args)


def value(browser, element_id: str) -> float | None:
    text = browser.find_element(By.ID, element_id).get_attribute("data-value")
    return float(text) if text else None


def snapshots(browser) -> int:
    return int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-snapshots") or 0)


def message(browser) -> str:
    return browser.find_element(By.ID, "message").text


def regions(browser) -> str:
    return js(browser, "return document.getElementById('regions').toDataURL();")


def speeds(browser) -> list[tuple[str, float]]:
    """The speeds table as (σ, ‖∂C/∂b^l‖) for l = 2, …, L, read in one go (the page rebuilds
    its columns when the network changes)."""
    rows = js(
        browser,
        "const t = document.getElementById('speeds');"
        "return [...t.querySelectorAll('td.speed')].map((td, i) => "
        "[t.querySelectorAll('td.act')[i].textContent, td.dataset.value || '']);",
    )
    return [(act, float(v)) for act, v in rows if v]


def set_field(browser, element_id: str, text: str) -> None:
    """Type into a settings field as a user does (select all, type, Tab): the browser fires
    its change event as the field loses the focus."""
    field = browser.find_element(By.ID, element_id)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(text, Keys.TAB)


def play_until(browser, condition, what: str) -> None:
    """Play until ``condition``, then pause and wait for the pause's own frame."""
    browser.find_element(By.ID, "play").click()
    wait(condition, PATIENCE, what)
    pause(browser)


def pause(browser) -> None:
    browser.find_element(By.ID, "play").click()
    wait(
        lambda: js(
            browser, "return state.draws.some((d) => d.mode === 'paused' && d.t > state.pausedAt);"
        ),
        PATIENCE,
        "the frame of the paused run",
    )


def console_errors(browser) -> list[dict]:
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def click_canvas(browser, canvas_id: str, x: float, y: float) -> None:
    """A real click at canvas pixel (x, y)."""
    canvas = browser.find_element(By.ID, canvas_id)
    dx, dy = js(
        browser,
        "const c = arguments[0], r = c.getBoundingClientRect();"
        "return [arguments[1] * r.width / c.width - r.width / 2,"
        " arguments[2] * r.height / c.height - r.height / 2];",
        canvas,
        x,
        y,
    )
    ActionChains(browser).move_to_element_with_offset(canvas, int(dx), int(dy)).click().perform()


def shoot(browser, name: str) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / name
    browser.save_screenshot(str(path))
    return path


# the page's labels: clipped or overlapping texts, controls outside their panels
LABEL_PROBLEMS = (Path(__file__).parent / "playground_labels.js").read_text(encoding="utf-8")


def test_spiral_relu_learns_and_the_regions_change(server, browser):
    open_page(browser, server)
    Select(browser.find_element(By.ID, "data")).select_by_value("spiral")
    Select(browser.find_element(By.ID, "activation-all")).select_by_value("relu")
    wait(
        lambda: "activations=relu%2Crelu" in browser.current_url,
        PATIENCE,
        "the URL's configuration",
    )
    acts = browser.find_elements(By.CSS_SELECTOR, "#layers .act")
    assert [Select(a).first_selected_option.text for a in acts] == ["relu"] * len(acts)
    wait(
        lambda: js(browser, "return state.snap && state.built.config.data === 'spiral';"),
        PATIENCE,
        "the spiral's first snapshot",
    )
    before = regions(browser)
    accuracies = []  # each reading once: the figure moves while the run plays

    def above_90() -> bool:
        accuracies.append(value(browser, "test-accuracy") or 0.0)
        return accuracies[-1] > 0.9

    play_until(browser, above_90, "a test accuracy above 90 %")
    assert regions(browser) != before
    assert value(browser, "epoch") > 0
    x, y = js(  # where the page drew training point 0
        browser,
        "const c = document.getElementById('regions');"
        "return pointAt(state.built.trainX, state.built.trainY, 0, c);",
    )
    click_canvas(browser, "regions", x, y)
    trace = browser.find_element(By.ID, "trace")
    wait(lambda: trace.get_attribute("data-layers") == "3", PATIENCE, "the trace of point 0")
    assert "δ" in trace.text and "train point 0" in trace.text
    assert js(browser, "return state.selectedPoint;") == {"split": "train", "index": 0}
    assert console_errors(browser) == []


def test_eight_sigmoid_layers_learn_slower_towards_the_input(server, browser):
    open_page(browser, server, EIGHT_SIGMOID)
    wait(lambda: len(speeds(browser)) == 9, PATIENCE, "nine layers of speeds")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#layers .width")) == 8
    seen = snapshots(browser)
    play_until(browser, lambda: snapshots(browser) > seen + 10, "ten snapshots while training")
    table = speeds(browser)
    assert [act for act, _ in table] == ["sigmoid"] * 8 + ["softmax"]
    hidden = [v for _, v in table][:-1]  # l = 2, …, 9
    rising = sum(b > a for a, b in zip(hidden, hidden[1:]))
    assert rising >= len(hidden) - 2, table  # falls (almost) layer by layer towards the input
    assert hidden[0] < hidden[-1] / 100, table  # by orders of magnitude over eight layers
    Select(browser.find_element(By.ID, "activation-all")).select_by_value("relu")
    wait(
        lambda: [act for act, _ in speeds(browser)] == ["relu"] * 8 + ["softmax"],
        PATIENCE,
        "the ReLU network's speeds",
    )
    relu = [v for _, v in speeds(browser)][:-1]
    assert min(relu) > max(relu) / 100, relu  # with ReLU the gradient does not vanish
    assert console_errors(browser) == []


def test_a_malformed_csv_gets_a_message_a_good_one_trains_and_a_unit_shows_z_a_delta(
    server, browser, tmp_path
):
    open_page(browser, server, "#data=moons&layers=4&activations=tanh")
    wait(lambda: len(speeds(browser)) == 2, PATIENCE, "the moons network's speeds")
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_text("x1,x2,label\n1,2,a\n3,4\n5,6,b\n7,8,a\n9,1,b\n")
    rows = [f"{i % 7},{i % 5},{'<b>c</b>' if i % 3 else 'ab'[i % 2]}\n" for i in range(60)]
    good.write_text("".join(rows))
    upload = browser.find_element(By.ID, "upload")
    upload.send_keys(str(bad))
    wait(
        lambda: "line 3 has 2 columns" in message(browser), PATIENCE, "the malformed file's message"
    )
    upload.send_keys(str(good))
    info = browser.find_element(By.ID, "upload-info")
    wait(lambda: "classes <b>c</b>, a, b" in info.text, PATIENCE, "the uploaded classes")
    wait(lambda: len(speeds(browser)) == 2, PATIENCE, "the uploaded run")
    assert message(browser) == ""  # the old error belongs to the network before
    assert "data=upload" in browser.current_url
    x, y = js(browser, "const p = state.layout[1][0]; return [p.x, p.y];")  # unit 0, layer 2
    click_canvas(browser, "network", x, y)
    unit = browser.find_element(By.ID, "unit-info")
    wait(lambda: unit.text.startswith("unit 0 of layer 2 (tanh)"), PATIENCE, "the unit's numbers")
    assert "incoming w = [" in unit.text and all(f" {q} = " in unit.text for q in "zaδ")
    assert js(browser, "return state.selectedUnit;") == {"layer": 2, "unit": 0}
    js(  # a training point of class 0, the label <b>c</b>
        browser, "send({type: 'trace', split: 'train', index: state.built.trainY.indexOf(0)});"
    )
    trace = browser.find_element(By.ID, "trace")
    wait(lambda: trace.get_attribute("data-layers") == "2", PATIENCE, "the uploaded run's trace")
    assert "class <b>c</b>:" in trace.text  # a label from the file is text, never markup
    assert js(browser, "return document.querySelectorAll('#trace p b').length;") == 0
    Select(browser.find_element(By.ID, "data")).select_by_value("circle")  # a new network:
    wait(lambda: "unit 0" not in unit.text, PATIENCE, "the unit's text cleared")
    assert trace.get_attribute("data-layers") is None  # the old trace is gone too
    errors = console_errors(browser)  # the browser logs the refused upload's 400, no JS error
    assert [e["source"] for e in errors] == ["network"] and "400" in errors[0]["message"]


def test_pause_stops_the_deep_demo_at_once_and_a_slow_page_gets_no_backlog(server, browser):
    """The README's deep demo at full speed on a page made slow (each frame takes 150 ms to
    draw): the page receives at most one frame more than it drew (back-pressure; the old
    server kept sending 30 a second and the page animated for 11 s after a pause), no play
    frame is drawn after ❚❚ pause is clicked (measured in the page, performance.now()), and
    the paused run's own frame follows soon after."""
    open_page(browser, server, DEEP)
    Select(browser.find_element(By.ID, "speed")).select_by_value("full")
    js(
        browser,
        "const draw0 = drawNetwork; drawNetwork = function () {"
        " const t = performance.now(); while (performance.now() - t < 150) {} draw0(); };",
    )
    browser.find_element(By.ID, "play").click()
    backlog = []

    def drawn_ten() -> bool:
        backlog.append(
            js(browser, "return state.received - Number(document.body.dataset.snapshots);")
        )
        return js(browser, "return state.draws.filter((d) => d.mode === 'play').length;") >= 10

    wait(drawn_ten, PATIENCE, "ten frames of the deep network drawn while it plays")
    assert max(backlog) <= 2, backlog  # received, not drawn: never more than the one in flight
    browser.find_element(By.ID, "play").click()
    assert browser.find_element(By.ID, "play").text == "▶ play"
    wait(
        lambda: js(
            browser, "return state.draws.some((d) => d.mode === 'paused' && d.t > state.pausedAt);"
        ),
        PATIENCE,
        "the paused run's frame",
    )
    late, final = js(
        browser,
        "const after = state.draws.filter((d) => d.t > state.pausedAt);"
        "return [after.filter((d) => d.mode === 'play').length,"
        " after.find((d) => d.mode === 'paused').t - state.pausedAt];",
    )
    assert late == 0  # what the class sees stops when the button is clicked: 0 ms, < 100 ms
    assert final < 5000, final  # the paused weights' frame: one snapshot away, not a backlog
    print(f"\npause: 0 play frames after the click; the paused frame {final:.0f} ms after it")
    drawn = snapshots(browser)
    time.sleep(1.0)  # the measurement: a second of a paused page
    assert snapshots(browser) == drawn
    assert console_errors(browser) == []


def test_the_speed_control_the_step_and_epoch_buttons(server, browser):
    open_page(browser, server, "#data=spiral&activations=relu")
    assert Select(browser.find_element(By.ID, "speed")).first_selected_option.text == "10 epochs/s"
    browser.find_element(By.ID, "play").click()
    wait(lambda: js(browser, "return state.draws.length > 3;"), PATIENCE, "the run playing")
    t0, e0 = js(browser, "const d = state.draws.at(-1); return [d.t, d.epoch];")
    wait(lambda: js(browser, f"return state.draws.at(-1).t - {t0} > 2000;"), PATIENCE, "2 s")
    pause(browser)
    t1, e1, accuracy = js(
        browser,
        "const d = state.draws.filter((x) => x.mode === 'play').at(-1);"
        "return [d.t, d.epoch, state.snap.train_accuracy];",
    )
    rate = (e1 - e0) / ((t1 - t0) / 1000)
    assert 0 < rate <= 10 * 1.2, rate  # the default pace, 10 epochs a second
    assert accuracy < 1.0  # spiral and ReLU: not solved in a blink at the default pace
    steps = value(browser, "steps")
    browser.find_element(By.ID, "step").click()
    wait(lambda: value(browser, "steps") == steps + 1, PATIENCE, "one mini-batch more")
    epoch = value(browser, "epoch")
    browser.find_element(By.ID, "epoch-button").click()
    wait(lambda: value(browser, "epoch") == int(epoch) + 1, PATIENCE, "the end of the epoch")
    assert browser.find_element(By.ID, "epoch").text == str(int(epoch) + 1)  # whole epochs
    Select(browser.find_element(By.ID, "speed")).select_by_value("1")
    browser.find_element(By.ID, "play").click()
    wait(lambda: js(browser, "return state.draws.at(-1).mode === 'play';"), PATIENCE, "playing")
    t0, e0 = js(browser, "const d = state.draws.at(-1); return [d.t, d.epoch];")
    wait(lambda: js(browser, f"return state.draws.at(-1).t - {t0} > 2000;"), PATIENCE, "2 s")
    pause(browser)
    t1, e1 = js(
        browser,
        "const d = state.draws.filter((x) => x.mode === 'play').at(-1); return [d.t, d.epoch];",
    )
    assert (e1 - e0) / ((t1 - t0) / 1000) <= 1.3  # one epoch a second
    labels = js(
        browser, "return [...document.querySelectorAll('#speed option')].map((o) => o.text);"
    )
    assert labels[0] == "1 epoch/s" and labels[-1] == "full"
    assert console_errors(browser) == []


def test_changing_eta_while_it_trains_keeps_the_weights_and_the_epoch_count(server, browser):
    open_page(browser, server, "#data=circle&optimizer=sgd&eta=0.3")
    play_until(browser, lambda: (value(browser, "epoch") or 0) >= 3, "three epochs")
    epoch, steps = value(browser, "epoch"), value(browser, "steps")
    set_field(browser, "eta", "0.05")
    wait(lambda: "keeps its weights" in message(browser), PATIENCE, "the page saying so")
    assert "η = 0.05" in message(browser)
    wait(lambda: js(browser, "return state.snap.epoch;") == epoch, PATIENCE, "the same epoch")
    assert value(browser, "steps") == steps
    play_until(browser, lambda: value(browser, "epoch") >= epoch + 2, "two epochs more")
    assert js(browser, "return state.history[0][0];") == 0  # the curve goes on from epoch 0
    set_field(browser, "batch", "5")
    wait(lambda: "the mini-batch = 5" in message(browser), PATIENCE, "the mini-batch taken")
    assert value(browser, "epoch") >= epoch + 2
    Select(browser.find_element(By.ID, "data")).select_by_value("xor")  # the data: a new run
    wait(lambda: "a new network, from epoch 0" in message(browser), PATIENCE, "the reset said")
    wait(lambda: value(browser, "epoch") == 0, PATIENCE, "epoch 0")
    assert console_errors(browser) == []


def test_a_diverged_run_says_so_in_the_page(server, browser):
    open_page(browser, server, "#data=xor&optimizer=adam&eta=50", (1024, 768))
    play_until(browser, lambda: "diverged" in message(browser), "the divergence message")
    banner = browser.find_element(By.ID, "message")
    assert banner.get_attribute("class") == "warn"
    assert "η = 50" in banner.text and "smaller η" in banner.text
    assert js(browser, LABEL_PROBLEMS) == []  # the long message fits its bar
    shoot(browser, "playground-diverged-1024x768.png")
    set_field(browser, "eta", "0.01")  # a smaller η; the reset then starts again cleanly
    browser.find_element(By.ID, "reset").click()
    wait(lambda: value(browser, "epoch") == 0, PATIENCE, "the reset run")
    wait(lambda: "diverged" not in message(browser), PATIENCE, "the message gone")
    assert console_errors(browser) == []


def test_input_features_are_toggled_and_drawn(server, browser):
    open_page(browser, server, "#data=circle&layers=4&activations=tanh")
    labels = js(
        browser,
        "return [...document.querySelectorAll('#features label')].map((l) => l.textContent);",
    )
    assert labels == ["x₁", "x₂", "x₁²", "x₂²", "x₁x₂", "sin πx₁", "sin πx₂"]
    for name in ("x1sq", "x2sq"):
        browser.find_element(By.ID, f"feature-{name}").click()
    wait(lambda: js(browser, "return state.built.sizes[0];") == 4, PATIENCE, "four inputs")
    assert js(browser, "return state.built.features;") == ["x₁", "x₂", "x₁²", "x₂²"]
    assert "features=x1%2Cx2%2Cx1sq%2Cx2sq" in browser.current_url
    for name in ("x1", "x2"):
        browser.find_element(By.ID, f"feature-{name}").click()
    wait(lambda: js(browser, "return state.built.sizes[0];") == 2, PATIENCE, "x₁², x₂² only")
    play_until(browser, lambda: (value(browser, "test-accuracy") or 0) > 0.95, "the circle learnt")
    assert console_errors(browser) == []


def test_regression_data_sets_show_a_curve_and_a_surface(server, browser):
    open_page(browser, server, "#data=circle")
    Select(browser.find_element(By.ID, "data")).select_by_value("sine")
    wait(lambda: js(browser, "return state.built.kind;") == "regression", PATIENCE, "the sine")
    assert Select(browser.find_element(By.ID, "output")).first_selected_option.text == "identity"
    assert Select(browser.find_element(By.ID, "cost")).first_selected_option.text == "quadratic"
    boxes = js(
        browser, "return [...document.querySelectorAll('#features input')].map((e) => e.value);"
    )
    assert boxes == ["x1", "x1sq", "sinx1"]  # a function of x1 alone
    first = value(browser, "test-cost")
    play_until(browser, lambda: value(browser, "test-cost") < first / 4, "the curve fitted")
    assert browser.find_element(By.ID, "test-accuracy").text == "–"
    assert "along x₁" in browser.find_element(By.ID, "regions-title").text
    assert js(browser, LABEL_PROBLEMS) == []
    shoot(browser, "playground-sine-1400.png")
    Select(browser.find_element(By.ID, "data")).select_by_value("surface")
    wait(lambda: js(browser, "return state.built.dims;") == 2, PATIENCE, "the surface")
    assert js(browser, "return state.built.features;") == ["x₁", "x₂"]  # x₂ is back
    play_until(browser, lambda: (value(browser, "epoch") or 0) >= 20, "twenty epochs")
    assert "over the plane" in browser.find_element(By.ID, "regions-title").text
    assert js(browser, LABEL_PROBLEMS) == []
    shoot(browser, "playground-surface-1400.png")
    assert console_errors(browser) == []


@pytest.mark.parametrize("size", [(1024, 768), (1400, 900)])
def test_the_layout_for_a_projector(server, browser, size):
    """The deep demo after training at full speed, a point and a unit clicked: the regions are on
    screen without scrolling, no panel moves when a point or a unit is clicked, what was
    clicked is highlighted, and no text is clipped or overlaps another."""
    width, height = size
    open_page(browser, server, DEEP + "&eta=0.003", size)  # at η = 0.01 it sticks near 77 %
    assert js(browser, "return [innerWidth, innerHeight];") == [width, height]
    Select(browser.find_element(By.ID, "speed")).select_by_value("full")

    def learnt() -> bool:  # a picture of a network that has learnt something
        return (value(browser, "test-accuracy") or 0) >= 0.95 or value(browser, "epoch") >= 300

    play_until(browser, learnt, "95 % or 300 epochs")
    panels = (
        "return ['settings', 'network-panel', 'output-panel', 'regions', 'cost-chart'].map("
        "(id) => { const r = document.getElementById(id).getBoundingClientRect();"
        " return [id, r.left, r.top, r.right, r.bottom]; });"
    )
    before = js(browser, panels)
    for _, left, top, right, bottom in before[3:4]:  # the regions
        assert left >= 0 and top >= 0 and right <= width and bottom <= height, before
    x, y = js(
        browser,
        "const c = document.getElementById('regions');"
        "return pointAt(state.built.trainX, state.built.trainY, 5, c);",
    )
    click_canvas(browser, "regions", x, y)
    wait(
        lambda: js(browser, "return state.selectedPoint && state.selectedPoint.index;") == 5,
        PATIENCE,
        "the point traced",
    )
    x, y = js(browser, "const p = state.layout[3][2]; return [p.x, p.y];")
    click_canvas(browser, "network", x, y)
    wait(
        lambda: js(browser, "return state.selectedUnit;") == {"layer": 4, "unit": 2},
        PATIENCE,
        "the unit",
    )
    assert js(browser, panels) == before  # nothing moved
    edge = js(  # the highlight: the unit's box is outlined in red
        browser,
        "const p = state.layout[3][2], c = document.getElementById('network').getContext('2d');"
        "return [...c.getImageData(Math.round(p.x - p.box / 2), Math.round(p.y), 1, 1).data];",
    )
    assert edge[0] > 150 and edge[1] < 80 and edge[2] < 80, edge
    assert js(browser, LABEL_PROBLEMS) == []
    path = shoot(browser, f"playground-{width}x{height}.png")
    if SCREENSHOT_DIR and width == 1400:  # the README's picture
        target = Path(SCREENSHOT_DIR) / "playground.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    assert console_errors(browser) == []
