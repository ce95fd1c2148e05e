"""The playground end to end in a real headless Chromium (Debian's chromium and
chromium-driver through Selenium, never a downloaded browser) against a real uvicorn server
on 127.0.0.1, started and stopped here. The screenshot is a test artefact
(``$NNMATH_ARTEFACTS``, default ``build/artefacts/playground.png``)."""

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
from selenium.webdriver.support.ui import Select  # noqa: E402

from nnmath.playground.serve import Server, bind  # noqa: E402

ARTEFACTS = Path(os.environ.get("NNMATH_ARTEFACTS", Path(__file__).parents[1] / "build/artefacts"))
# Nielsen's setting (chapter 5): plain SGD; Adam rescales each layer's step and hides the effect
EIGHT_SIGMOID = (
    "#data=spiral&layers=8,8,8,8,8,8,8,8&activations=sigmoid&init=glorot&optimizer=sgd&eta=0.1"
)


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
        "--window-size=1400,1400",
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


def value(browser, element_id: str) -> float | None:
    text = browser.find_element(By.ID, element_id).get_attribute("data-value")
    return float(text) if text else None


def snapshots(browser) -> int:
    return int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-snapshots") or 0)


def regions(browser) -> str:
    return browser.execute_script("return document.getElementById('regions').toDataURL();")


def speeds(browser) -> list[tuple[str, float]]:
    """The speeds table as (σ, ‖∂C/∂b^l‖) for l = 2, …, L, read in one go (the page rebuilds
    its rows when the network changes)."""
    rows = browser.execute_script(
        "return [...document.querySelectorAll('#speeds tbody tr')].map("
        "(tr) => [tr.cells[1].textContent, tr.cells[2].dataset.value || '']);"
    )
    return [(act, float(v)) for act, v in rows if v]


def console_errors(browser) -> list[dict]:
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_spiral_relu_learns_and_the_regions_change(server, browser):
    browser.get(server.url)
    wait(lambda: snapshots(browser) > 0, 15, "the first snapshot")
    Select(browser.find_element(By.ID, "data")).select_by_value("spiral")
    Select(browser.find_element(By.ID, "activation-all")).select_by_value("relu")
    wait(lambda: "activations=relu%2Crelu" in browser.current_url, 5, "the URL's configuration")
    acts = browser.find_elements(By.CSS_SELECTOR, "#layers .act")
    assert [Select(a).first_selected_option.text for a in acts] == ["relu"] * len(acts)
    time.sleep(0.5)  # the spiral's first snapshot
    before = regions(browser)
    browser.find_element(By.ID, "play").click()
    accuracies = []  # each reading once: the figure moves while the run plays

    def above_90() -> bool:
        accuracies.append(value(browser, "test-accuracy") or 0.0)
        return accuracies[-1] > 0.9

    wait(above_90, 30, "a test accuracy above 90 %")
    assert regions(browser) != before
    assert value(browser, "epoch") > 0
    canvas = browser.find_element(By.ID, "regions")
    dx, dy = browser.execute_script(  # where the page drew training point 0
        "const c = document.getElementById('regions'), b = state.built;"
        "const r = c.getBoundingClientRect();"
        "const [x, y] = toCanvas(b.trainX[0], b.trainX[1], b.bounds, c.width, c.height);"
        "return [x * r.width / c.width - r.width / 2, y * r.height / c.height - r.height / 2];"
    )
    ActionChains(browser).move_to_element_with_offset(canvas, int(dx), int(dy)).click().perform()
    wait(lambda: browser.find_element(By.ID, "trace").get_attribute("data-layers"), 5, "a trace")
    assert browser.find_element(By.ID, "trace").get_attribute("data-layers") == "3"
    assert "δ" in browser.find_element(By.ID, "trace").text
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTEFACTS / "playground.png"))
    browser.find_element(By.ID, "play").click()  # pause
    assert console_errors(browser) == []


def test_eight_sigmoid_layers_learn_slower_towards_the_input(server, browser):
    browser.get(server.url + EIGHT_SIGMOID)
    browser.refresh()  # a reload rebuilds the run from the URL
    wait(lambda: len(speeds(browser)) == 9, 15, "nine layers of speeds")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#layers .width")) == 8
    browser.find_element(By.ID, "play").click()
    seen = snapshots(browser)
    wait(lambda: snapshots(browser) > seen + 10, 20, "ten snapshots while training")
    browser.find_element(By.ID, "play").click()  # pause
    table = speeds(browser)
    assert [act for act, _ in table] == ["sigmoid"] * 8 + ["softmax"]
    hidden = [v for _, v in table][:-1]  # l = 2, …, 9
    rising = sum(b > a for a, b in zip(hidden, hidden[1:]))
    assert rising >= len(hidden) - 2, table  # falls (almost) layer by layer towards the input
    assert hidden[0] < hidden[-1] / 100, table  # by orders of magnitude over eight layers
    Select(browser.find_element(By.ID, "activation-all")).select_by_value("relu")
    wait(
        lambda: [act for act, _ in speeds(browser)] == ["relu"] * 8 + ["softmax"],
        15,
        "the ReLU network's speeds",
    )
    relu = [v for _, v in speeds(browser)][:-1]
    assert min(relu) > max(relu) / 100, relu  # with ReLU the gradient does not vanish
    assert console_errors(browser) == []


def test_a_malformed_csv_gets_a_message_a_good_one_trains_and_a_unit_shows_z_a_delta(
    server, browser, tmp_path
):
    browser.get(server.url + "#data=moons&layers=4&activations=tanh")
    browser.refresh()
    wait(lambda: len(speeds(browser)) == 2, 15, "the moons network's speeds")
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_text("x1,x2,label\n1,2,a\n3,4\n5,6,b\n7,8,a\n9,1,b\n")
    good.write_text("".join(f"{i % 7},{i % 5},{'<b>c</b>' if i % 3 else 'ab'[i % 2]}\n"
                            for i in range(60)))  # fmt: skip
    upload = browser.find_element(By.ID, "upload")
    upload.send_keys(str(bad))
    message = browser.find_element(By.ID, "message")
    wait(lambda: "line 3 has 2 columns" in message.text, 10, "the malformed file's message")
    upload.send_keys(str(good))
    info = browser.find_element(By.ID, "upload-info")
    wait(lambda: "classes <b>c</b>, a, b" in info.text, 10, "the uploaded classes")
    wait(lambda: len(speeds(browser)) == 2 and message.text == "", 10, "the uploaded run")
    assert "data=upload" in browser.current_url
    canvas = browser.find_element(By.ID, "network")
    dx, dy = browser.execute_script(  # where the page drew unit 0 of hidden layer 2
        "const c = document.getElementById('network'), p = state.layout[1][0];"
        "const r = c.getBoundingClientRect();"
        "return [p.x * r.width / c.width - r.width / 2, p.y * r.height / c.height - r.height / 2];"
    )
    ActionChains(browser).move_to_element_with_offset(canvas, int(dx), int(dy)).click().perform()
    unit = browser.find_element(By.ID, "unit-info")
    wait(lambda: unit.text.startswith("unit 0 of layer 2 (tanh)"), 5, "the unit's numbers")
    assert "incoming w = [" in unit.text and all(f" {q} = " in unit.text for q in "zaδ")
    browser.execute_script(  # a training point of class 0, the label <b>c</b>
        "send({type: 'trace', split: 'train', index: state.built.trainY.indexOf(0)});"
    )
    trace = browser.find_element(By.ID, "trace")
    wait(lambda: trace.get_attribute("data-layers") == "2", 5, "the trace of the uploaded run")
    assert "class <b>c</b>:" in trace.text  # a label from the file is text, never markup
    assert browser.execute_script("return document.querySelectorAll('#trace p b').length;") == 0
    errors = console_errors(browser)  # the browser logs the refused upload's 400, no JS error
    assert [e["source"] for e in errors] == ["network"] and "400" in errors[0]["message"]
