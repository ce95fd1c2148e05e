"""Learning-rate schedules: each matches its torch.optim.lr_scheduler twin epoch for epoch, and
fit sets the optimizer's η from it before every epoch."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from nnmath.schedules import (
    SCHEDULES,
    Constant,
    Cosine,
    Exponential,
    Schedule,
    StepDecay,
    get_schedule,
)

EPOCHS = 10  # the run's epochs, for a schedule that takes its period from them
BASE = 0.7

# every registry entry with its defaults, plus each class with other parameters
CASES = [SCHEDULES[name]() for name in sorted(SCHEDULES)] + [
    Constant(),
    StepDecay(3, gamma=0.5),
    StepDecay(1, gamma=0.9),
    Exponential(0.8),
    Cosine(T_max=7),
    Cosine(T_max=4, eta_min=0.05),
    Cosine(eta_min=0.1),
]


def _torch_etas(schedule: Schedule, n: int) -> list[float]:
    torch = pytest.importorskip("torch", reason="torch is the oracle of the schedules")
    name, kwargs = schedule.torch_twin(EPOCHS)
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([param], lr=BASE)
    scheduler = getattr(torch.optim.lr_scheduler, name)(opt, **kwargs)
    etas = []
    for _ in range(n):
        etas.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return etas


def _span(schedule: Schedule) -> int:
    """Three periods (or three times the run) of epochs."""
    period = getattr(schedule, "step_size", None) or getattr(schedule, "T_max", None) or EPOCHS
    return 3 * max(period, EPOCHS)


@pytest.mark.parametrize("schedule", CASES, ids=repr)
def test_schedule_matches_torch_epoch_for_epoch(schedule: Schedule) -> None:
    n = _span(schedule)
    expected = _torch_etas(schedule, n)
    got = [schedule.eta(BASE, e, EPOCHS) for e in range(n)]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_epoch_zero_trains_with_eta_itself(name: str) -> None:
    schedule = get_schedule(name)
    assert schedule.name == name and isinstance(schedule, SCHEDULES[name])
    assert schedule.eta(BASE, 0, EPOCHS) == BASE


def test_worked_values() -> None:
    assert [StepDecay(2, 0.5).eta(1.0, e) for e in range(5)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert Exponential(0.5).eta(2.0, 3) == 0.25
    cosine = Cosine(T_max=4, eta_min=0.1)
    assert cosine.eta(1.0, 4) == pytest.approx(0.1)  # the bottom at T_max
    assert cosine.eta(1.0, 2) == pytest.approx(0.55)  # half way
    assert Cosine().eta(1.0, 5, epochs=10) == pytest.approx(0.5)  # T_max = the run's epochs


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: StepDecay(0), "step_size"),
        (lambda: StepDecay(2.5), "step_size"),
        (lambda: StepDecay(2, gamma=0), "gamma"),
        (lambda: Exponential(-0.5), "gamma"),
        (lambda: Exponential(float("nan")), "gamma"),
        (lambda: Exponential("fast"), "gamma"),
        (lambda: Cosine(T_max=0), "T_max"),
        (lambda: Cosine(T_max=True), "T_max"),
        (lambda: Cosine(eta_min=-1e-3), "eta_min"),
        (lambda: Cosine().eta(1.0, 0), "T_max=None"),
    ],
)
def test_bad_parameters_are_clear_errors(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_get_schedule() -> None:
    cosine = Cosine(T_max=3)
    assert get_schedule(cosine) is cosine
    assert isinstance(get_schedule("Step"), StepDecay)
    with pytest.raises(ValueError, match="choose one of.*constant.*cosine.*exponential.*step"):
        get_schedule("warmup")
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        get_schedule(0.5)


def test_schedules_is_core_maths() -> None:
    """schedules.py imports only the standard library's maths (no I/O, no training)."""
    import ast
    import inspect

    import nnmath.schedules as module

    tree = ast.parse(inspect.getsource(module))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "math", "typing", "numpy"}, imported


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.random((60, 5))
    y = rng.integers(0, 3, 60)
    return X, y


def _fit(data, **kw):
    net = nm.Network([5, 4, 3], seed=1, dtype="float64")
    history = net.fit(*data, epochs=EPOCHS, mini_batch_size=8, seed=2, **kw)
    return net, history


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("fast", [True, False])
def test_fit_sets_eta_every_epoch(data, name: str, fast: bool) -> None:
    opt = nm.SGD(eta=BASE)
    _, history = _fit(data, optimizer=opt, schedule=name, fast=fast)
    expected = [get_schedule(name).eta(BASE, e, EPOCHS) for e in range(EPOCHS)]
    assert history.extra["eta"] == expected
    assert opt.eta == expected[-1]  # the optimizer holds the η of the last epoch


def test_fast_and_reference_paths_agree_with_a_schedule(data) -> None:
    schedule = Cosine(T_max=4, eta_min=0.01)
    kw = dict(eta=BASE, momentum=0.5, schedule=schedule)
    ref, h_ref = _fit(data, fast=False, **kw)
    fast, h_fast = _fit(data, **kw)
    assert h_fast.extra["eta"] == h_ref.extra["eta"]
    for a, b in zip(ref.weights + ref.biases, fast.weights + fast.biases, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)


def test_a_schedule_changes_training_and_constant_does_not(data) -> None:
    plain, h_plain = _fit(data, eta=BASE)
    constant, h_constant = _fit(data, eta=BASE, schedule="constant")
    decayed, h_decayed = _fit(data, eta=BASE, schedule=StepDecay(2, 0.1))
    assert h_plain.extra["eta"] == [BASE] * EPOCHS  # recorded without a schedule too
    assert h_constant.training_cost == h_plain.training_cost
    for a, b in zip(plain.weights, constant.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert h_decayed.training_cost != h_plain.training_cost


def test_fit_unknown_schedule(data) -> None:
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'warmup'"):
        _fit(data, schedule="warmup")


def test_cli_schedule(capsys) -> None:
    from nnmath.cli import main

    assert main(["train", "--epochs", "2", "--quiet", "--schedule", "cosine"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--epochs", "1", "--schedule", "warmup"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'warmup'" in capsys.readouterr().err
