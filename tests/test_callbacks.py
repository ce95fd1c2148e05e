"""Callbacks: the hooks fit calls and when, the run state, stopping, the shorthands' callbacks,
old-style callables, the fast path's report, the progress bar."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

import nnmath as nm
from nnmath import callbacks as cb
from nnmath.engine import c_available, unsupported_reason

EPOCHS = 3


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.random((50, 4))
    y = rng.integers(0, 3, 50)
    Xv, yv = rng.random((20, 4)), rng.integers(0, 3, 20)
    return X, y, Xv, yv


def make_net(**kw):
    return nm.Network([4, 6, 3], seed=3, dtype="float64", **kw)


def identical(a, b) -> bool:
    return all(np.array_equal(u, v) for u, v in zip(a.weights + a.biases, b.weights + b.biases))


class Recorder(cb.Callback):
    """Records every hook it gets."""

    def __init__(self, batches: bool = False) -> None:
        self.calls: list[tuple] = []
        if batches:
            self.on_batch_end = self._batch  # an on_batch_end of its own

    def set_run(self, run):
        super().set_run(run)
        self.calls.append(("set_run",))

    def on_train_begin(self, net, history):
        self.calls.append(("train_begin", history.epochs))

    def on_epoch_begin(self, net, history, epoch):
        self.calls.append(("epoch_begin", epoch, history.epochs))

    def _batch(self, net, history, epoch, batch, n_batches):
        self.calls.append(("batch", epoch, batch, n_batches))

    def on_epoch_end(self, net, history, epoch):
        self.calls.append(("epoch_end", epoch, history.epochs))

    def on_train_end(self, net, history):
        self.calls.append(("train_end", history.epochs))


def test_hooks_are_called_in_order(data) -> None:
    X, y, *_ = data
    rec = Recorder()
    make_net().fit(X, y, epochs=2, mini_batch_size=20, eta=0.5, seed=0, callbacks=[rec])
    assert rec.calls == [
        ("set_run",),
        ("train_begin", 0),
        ("epoch_begin", 0, 0),
        ("epoch_end", 0, 1),  # after the epoch is measured
        ("epoch_begin", 1, 1),
        ("epoch_end", 1, 2),
        ("train_end", 2),
    ]


def test_a_callback_without_on_batch_end_keeps_the_fast_path(data) -> None:
    X, y, *_ = data
    h = make_net().fit(X, y, epochs=1, eta=0.5, seed=0, callbacks=[Recorder()])
    if c_available():
        assert h.extra["train_path"] == "c" and "fallback_reason" not in h.extra
    else:
        assert h.extra["train_path"] == "reference" and h.extra["fallback_reason"]


def test_on_batch_end_takes_the_reference_loop(data) -> None:
    X, y, *_ = data
    rec = Recorder(batches=True)
    h = make_net().fit(X, y, epochs=2, mini_batch_size=20, eta=0.5, seed=0, callbacks=[rec])
    assert h.extra["train_path"] == "reference"
    assert "on_batch_end" in h.extra["fallback_reason"]
    assert [c for c in rec.calls if c[0] == "batch"] == [
        ("batch", e, b, 3) for e in range(2) for b in range(3)
    ]


@pytest.mark.skipif(not c_available(), reason="the compiled epoch is not built")
def test_gradient_tracking_per_epoch_keeps_the_compiled_epoch(data) -> None:
    X, y, *_ = data
    kw = dict(epochs=3, mini_batch_size=8, eta=0.5, seed=0, track_gradients=True)
    fast, slow = make_net().fit(X, y, **kw), make_net().fit(X, y, **kw, fast=False)
    assert fast.extra["train_path"] == "c" and "fallback_reason" not in fast.extra
    a, b = fast.extra["gradient_norms"], slow.extra["gradient_norms"]
    assert a["step"] == b["step"] == [0, 7, 14, 21]  # ⌈50/8⌉ mini-batches an epoch
    np.testing.assert_allclose(a["nabla_b"], b["nabla_b"], rtol=1e-12)  # same run, same rows
    np.testing.assert_allclose(a["nabla_w"], b["nabla_w"], rtol=1e-12)
    every = make_net().fit(X, y, **{**kw, "track_gradients": 7})
    assert (
        every.extra["train_path"] == "reference"
        and "GradientTracker" in every.extra["fallback_reason"]
    )
    np.testing.assert_allclose(every.extra["gradient_norms"]["nabla_b"], a["nabla_b"], rtol=1e-12)


class _Quiet(cb.Callback):
    """An on_batch_end of its own that declares it does nothing."""

    needs_batches = False

    def on_batch_end(self, net, history, epoch, batch, n_batches):
        raise AssertionError("not called on the compiled epoch")


def test_needs_batches_declares_what_the_callback_needs(data) -> None:
    assert not cb.wants_batches(_Quiet()) and cb.wants_batches(Recorder(batches=True))
    forced = cb.Callback()
    forced.needs_batches = True  # type: ignore[attr-defined]
    assert cb.wants_batches(forced)
    X, y, *_ = data
    if c_available():
        h = make_net().fit(X, y, epochs=1, eta=0.5, seed=0, callbacks=[_Quiet()])
        assert h.extra["train_path"] == "c"


def test_fallback_reasons(data) -> None:
    X, y, *_ = data
    h = make_net().fit(X, y, epochs=1, seed=0, fast=False)
    assert (h.extra["train_path"], h.extra["fallback_reason"]) == ("reference", "fast=False")

    class Custom(nm.Network):
        def forward(self, *args, **kwargs):
            return super().forward(*args, **kwargs)

    net = Custom([4, 6, 3], seed=3, dtype="float64")
    h = net.fit(X, y, epochs=1, seed=0)
    assert h.extra["train_path"] == "reference"
    opt = nm.SGD(eta=3.0, n=len(X))
    assert h.extra["fallback_reason"] == unsupported_reason(net, opt, X, np.eye(3)[y])
    assert "Custom" in h.extra["fallback_reason"]


def test_the_run_state(data) -> None:
    X, y, Xv, yv = data
    seen = {}

    class Look(cb.Callback):
        def on_train_begin(self, net, history):
            run = self.run
            seen.update(
                net=run.net is net,
                history=run.history is history,
                optimizer=run.optimizer,
                epochs=run.epochs,
                mini_batch_size=run.mini_batch_size,
                validation=run.validation_data is not None,
                base_eta=run.base_eta,
                start=run.start_epoch,
            )

    opt = nm.Adam(eta=0.01)
    make_net().fit(
        X,
        y,
        epochs=2,
        mini_batch_size=7,
        optimizer=opt,
        validation_data=(Xv, yv),
        callbacks=[Look()],
    )
    assert seen == dict(
        net=True,
        history=True,
        optimizer=opt,
        epochs=2,
        mini_batch_size=7,
        validation=True,
        base_eta=0.01,
        start=0,
    )


def test_stop_training(data) -> None:
    X, y, *_ = data

    class StopAfter(cb.Callback):
        def on_epoch_end(self, net, history, epoch):
            if epoch == 1:
                self.run.stop_training = True

    rec = Recorder()
    h = make_net().fit(X, y, epochs=10, eta=0.5, seed=0, callbacks=[StopAfter(), rec])
    assert h.epochs == 2 and not h.stopped_early
    assert rec.calls[-2:] == [("epoch_end", 1, 2), ("train_end", 2)]


def test_old_style_callbacks_work_as_before(data) -> None:
    """A plain callable f(net, history, epoch) with on_train_begin / on_batch_end attributes."""
    X, y, *_ = data
    calls = []

    def after_epoch(net, history, epoch):
        calls.append(("epoch", epoch, history.epochs))

    after_epoch.on_train_begin = lambda net, history: calls.append(("begin",))
    after_epoch.on_batch_end = lambda net, h, e, b, n: calls.append(("batch", e, b, n))
    h = make_net().fit(X, y, epochs=2, mini_batch_size=25, eta=0.5, callbacks=[after_epoch])
    assert calls == [
        ("begin",),
        ("batch", 0, 0, 2),
        ("batch", 0, 1, 2),
        ("epoch", 0, 1),
        ("batch", 1, 0, 2),
        ("batch", 1, 1, 2),
        ("epoch", 1, 2),
    ]
    assert h.extra["train_path"] == "reference"
    plain = []
    make_net().fit(X, y, epochs=2, callbacks=[lambda n, h, e: plain.append(e)])
    assert plain == [0, 1]


def test_as_callback() -> None:
    rec = Recorder()
    assert cb.as_callback(rec) is rec
    wrapped = cb.as_callback(print)
    assert isinstance(wrapped, cb.Callback) and not cb.wants_batches(wrapped)
    with pytest.raises(TypeError, match="callable f\\(net, history, epoch\\)"):
        cb.as_callback(42)
    assert cb.GradientTracker is nm.diagnostics.GradientTracker
    zeros = np.zeros((2, 4)), np.zeros((2, 3))
    per_epoch = cb.as_callback(nm.diagnostics.GradientTracker(*zeros))
    assert not cb.wants_batches(per_epoch)  # it measures after the epoch: the compiled epoch
    every_2 = cb.as_callback(nm.diagnostics.GradientTracker(*zeros, every=2))
    assert cb.wants_batches(every_2)


def test_early_stopping_callback_is_the_patience_shorthand(data) -> None:
    X, y, Xv, yv = data
    kw = dict(epochs=40, mini_batch_size=5, eta=2.0, seed=2, validation_data=(Xv, yv))
    a, b = make_net(), make_net()
    h_a = a.fit(X, y, patience=2, **kw)
    h_b = b.fit(X, y, callbacks=[cb.EarlyStopping(2)], **kw)
    assert h_a.stopped_early
    untimed = [{**h.to_dict(), "epoch_time": None} for h in (h_a, h_b)]
    assert untimed[0] == untimed[1]
    assert identical(a, b)
    assert b.accuracy(Xv, yv) == h_b.validation_accuracy[h_b.best_epoch]
    c = make_net()  # without restoring: the weights of the last epoch
    h_c = c.fit(X, y, callbacks=[cb.EarlyStopping(2, restore_best_weights=False)], **kw)
    assert h_c.stopped_early and not identical(a, c)


def test_early_stopping_errors(data) -> None:
    X, y, *_ = data
    with pytest.raises(ValueError, match="needs validation_data"):
        make_net().fit(X, y, callbacks=[cb.EarlyStopping(3)])
    with pytest.raises(ValueError, match="patience must be a non-negative integer"):
        cb.EarlyStopping(-1)


def test_checkpoint_callback_and_resume_true(tmp_path, data) -> None:
    """A Checkpoint among the callbacks names the file that resume=True continues from."""
    X, y, Xv, yv = data
    kw = dict(epochs=5, mini_batch_size=7, eta=0.5, seed=1, validation_data=(Xv, yv))
    full = make_net()
    h_full = full.fit(X, y, **kw)
    path = tmp_path / "run.safetensors"

    class Interrupt(cb.Callback):
        def on_epoch_end(self, net, history, epoch):
            if epoch == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make_net().fit(X, y, callbacks=[cb.Checkpoint(path), Interrupt()], **kw)
    resumed = make_net()
    h = resumed.fit(X, y, callbacks=[cb.Checkpoint(path)], resume=True, **kw)
    assert identical(full, resumed) and h.training_cost == h_full.training_cost


def test_divergence_check_names_the_optimizers_eta() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 4)) * 100, rng.integers(0, 3, 40)
    Y = np.eye(3)[y] * 1e3
    net = nm.Network(
        [4, 8, 3], activation="relu", output_activation="identity", cost="quadratic", seed=0
    )
    with pytest.raises(nm.TrainingDiverged, match=r"smaller eta \(now 50\)") as info:
        net.fit(X, Y, epochs=5, optimizer=nm.SGD(eta=50.0), seed=0)
    assert all(np.isfinite(W).all() for W in net.weights)
    assert all(np.isfinite(c) for c in info.value.history.training_cost)


def test_on_exception_and_no_train_end(data) -> None:
    X, y, *_ = data
    got = []

    class Watch(Recorder):
        def on_exception(self, net, history, exc):
            got.append(type(exc).__name__)

    def boom(net, history, epoch):
        raise RuntimeError("boom")

    watch = Watch()
    with pytest.raises(RuntimeError, match="boom"):
        make_net().fit(X, y, epochs=3, callbacks=[watch, boom])
    assert got == ["RuntimeError"]
    assert ("train_end", 1) not in watch.calls


def test_progress_bar_draws_and_stops(data) -> None:
    from rich.console import Console

    X, y, Xv, yv = data
    out = io.StringIO()
    bar = cb.ProgressBar("fitting", console=Console(file=out, width=120, force_terminal=False))
    make_net().fit(X, y, epochs=EPOCHS, validation_data=(Xv, yv), callbacks=[bar])
    text = out.getvalue()
    assert "fitting" in text and f"{EPOCHS}/{EPOCHS}" in text and "val" in text
    assert bar._bar is None  # stopped

    broken = cb.ProgressBar(console=Console(file=io.StringIO()))
    with pytest.raises(RuntimeError):
        make_net().fit(X, y, epochs=2, callbacks=[broken, _raise])
    assert broken._bar is None  # stopped by on_exception


def _raise(net, history, epoch):
    raise RuntimeError("stop")


def test_fit_prints_nothing(data, capsys) -> None:
    X, y, Xv, yv = data
    make_net().fit(X, y, epochs=2, validation_data=(Xv, yv), patience=1, track_gradients=True)
    assert capsys.readouterr() == ("", "")


# ---------------------------------------------------------------- divergence without a NaN


@pytest.fixture(scope="module")
def digits():
    from nnmath.data import load_dataset

    d = load_dataset("digits")
    return (*d.train, *d.validation)


def test_exploding_weights_are_a_divergence_without_any_nan(digits) -> None:
    """η = 1e10: no NaN ever appears (the costs are clipped), the weights reach 1e10 and the
    accuracy chance; fit raises TrainingDiverged naming η and keeps the weights before."""
    from nnmath.estimator import NNMathClassifier

    X, y, *_ = digits
    with pytest.raises(nm.TrainingDiverged, match=r"weights exploded.*eta \(now 1e\+10\)") as e:
        NNMathClassifier(eta=1e10, random_state=0, epochs=10).fit(X, y)
    assert e.value.history.training_cost == []  # epoch 1 diverged: nothing kept of it
    for build in ({"cost": "quadratic", "init": "normal"}, {"cost": "cross_entropy"}):
        net = nm.Network([64, 30, 10], seed=0, **build)
        start = max(float(np.abs(W).max()) for W in net.weights)
        with pytest.raises(nm.TrainingDiverged, match="weights exploded"):
            net.fit(X, y, epochs=5, eta=1e10, seed=0, validation_data=digits[2:])
        after = max(float(np.abs(W).max()) for W in net.weights)
        assert np.isfinite(after) and after <= start * 1e4  # the weights of the epoch before


def test_a_cost_that_blows_up_warns_naming_eta(digits) -> None:
    """η = 30 or 100 with softmax: the cost jumps to about 14 (every row confidently wrong,
    more than twice its start) with no NaN and weights in the hundreds: a RuntimeWarning
    naming η, once."""
    X, y, *_ = digits
    for eta, seed in [(100.0, 0), (30.0, 1), (100.0, 2)]:
        net = nm.Network([64, 30, 10], cost="log_likelihood", seed=seed)
        with pytest.warns(RuntimeWarning, match=rf"cost blew up in epoch 1.*eta = {eta:g}") as w:
            net.fit(X, y, epochs=3, eta=eta, seed=seed)
        assert len([x for x in w if "blew up" in str(x.message)]) == 1


HEALTHY = {  # the README's and the book's configurations, on the digits
    "ch1": ({"cost": "quadratic", "init": "normal"}, {"eta": 3.0}),
    "ch3": ({"cost": "cross_entropy"}, {"eta": 0.5, "lmbda": 5.0}),
    "ch3-eta3": ({"cost": "cross_entropy"}, {"eta": 3.0}),
    "relu-adam": (
        {"activation": "relu", "cost": "log_likelihood", "init": "he"},
        {"optimizer": "adam"},
    ),
    "gelu-rmsprop": (
        {"activation": "gelu", "cost": "log_likelihood", "init": "he", "dropout": 0.2},
        {"optimizer": "rmsprop", "eta": 1e-2, "schedule": "cosine", "mini_batch_size": 16},
    ),
    "momentum": ({"cost": "cross_entropy"}, {"eta": 0.5, "momentum": 0.9}),
    "ch1-slow-start": ({"cost": "quadratic", "init": "normal"}, {"eta": 0.3}),
    "tanh-big-batch": ({"activation": "tanh"}, {"eta": 0.5, "mini_batch_size": 100}),
    "softmax-eta5": ({"cost": "log_likelihood"}, {"eta": 5.0}),
}


@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_noisy_runs_are_never_called_diverged(digits, name: str) -> None:
    build, train = HEALTHY[name]
    X, y, Xv, yv = digits
    net = nm.Network([64, 30, 10], seed=0, **build)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a blow-up warning would fail here
        h = net.fit(X, y, epochs=15, seed=0, validation_data=(Xv, yv), **train)
    assert h.training_cost[-1] < h.training_cost[0] and net.accuracy(Xv, yv) > 0.3


def test_divergence_check_leaves_a_resumed_or_refit_run_alone(digits) -> None:
    """A second fit of a trained network (its cost near 0) is judged against the cost of
    the constant output, not against its own tiny start: noise is not a blow-up."""
    X, y, Xv, yv = digits
    net = nm.Network([64, 30, 10], cost="cross_entropy", seed=0)
    net.fit(X, y, epochs=10, eta=0.5, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for seed in range(5):  # partial_fit-like: one epoch at a time, on slices
            net.fit(X[seed * 100 : seed * 100 + 100], y[seed * 100 : seed * 100 + 100],
                    epochs=1, eta=0.5, seed=seed)  # fmt: skip
