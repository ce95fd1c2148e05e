"""What the command line tells a user after a run: that it learnt nothing (and what to try),
how many hidden units saturated, which epoch early stopping restored, how to continue an
interrupted run."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from ._common import plural

__all__ = [
    "early_stopping_note",
    "learning_warnings",
    "resume_command",
    "saturation_note",
    "SATURATED_Z",
]

#: |z| beyond which σ'(z) of a sigmoid is below 0.007 (tanh's below 0.0002): a saturated unit
SATURATED_Z = 5.0
#: the activations whose units saturate (σ' → 0 for large |z|)
_SATURATING = ("sigmoid", "tanh")
#: accuracy points above chance still counted as chance
CHANCE_MARGIN = 0.05
#: the last training cost must be below this fraction of the first to count as falling
FALL = 0.95
#: an η under this fraction of the usual one is too small to learn in a few epochs
TINY_ETA = 0.01


def learning_warnings(
    net: Any,
    history: Any,
    n_classes: int,
    settings: dict[str, Any] | None = None,
    constant_cost: float | None = None,
) -> list[str]:
    """A warning that a finished run learnt nothing, with a hint; empty when it learnt.

    Both signs must show, read from the :class:`~nnmath.History`: the last validation
    accuracy is within ``CHANCE_MARGIN`` of chance ``1/n_classes``, and the training cost did
    not fall (its last value is not below ``FALL`` times the first) or stayed at or above
    ``constant_cost``, that of the constant output ȳ (the class frequencies). A run that
    learns well never gets it, however saturated its units (:func:`saturation_note`).

    Parameters
    ----------
    net : Network
    history : History
    n_classes : int
        The classes of the data (chance accuracy is ``1/n_classes``).
    settings : dict, optional
        The run's ``eta``, ``optimizer`` and ``init``: the hint never suggests what is set.
    constant_cost : float, optional
        :func:`nnmath.callbacks.control.constant_output_cost` of the training targets.

    Returns
    -------
    list of str
    """
    acc, cost = history.validation_accuracy, list(history.training_cost)
    if not acc or not cost or n_classes < 2 or acc[-1] > 1.0 / n_classes + CHANCE_MARGIN:
        return []
    flat = len(cost) < 2 or not cost[-1] < FALL * cost[0]
    above = constant_cost is not None and not cost[-1] < constant_cost
    if not (flat or above):
        return []
    signs = [
        f"the validation accuracy {acc[-1]:.2%} is at chance ({1 / n_classes:.2%} for "
        f"{n_classes} classes)"
    ]
    if flat and len(cost) >= 2:
        signs.append(
            f"the training cost did not fall ({cost[0]:.4g} after epoch 1, {cost[-1]:.4g} "
            f"after epoch {len(cost)})"
        )
    if above:
        signs.append(
            f"the training cost {cost[-1]:.4g} is no lower than that of a constant output, "
            f"the class frequencies ({constant_cost:.4g})"
        )
    hint = "; or ".join(_hints(net, settings or {}))
    return [f"the network seems to have learnt nothing: {'; '.join(signs)}. Hint: try {hint}"]


def _hints(net: Any, settings: dict[str, Any]) -> list[str]:
    """What to change, the real fix first; never a setting the run already has. η is
    suggested larger when it is under ``TINY_ETA`` times the optimizer's default (SGD's:
    the command line's 0.5), smaller otherwise."""
    from ..optim import OPTIMIZERS

    out_act = net.activation_functions[-1].name
    hidden = {a.name for a in net.activation_functions[:-1]}
    hints = []
    if net.cost_name == "quadratic" and out_act in ("relu", "leaky_relu", "elu", "identity"):
        fix = (
            "a sigmoid σ in --layers' last layer, dense(n,sigmoid)"
            if getattr(net, "layered", False)
            else "--output-activation sigmoid"
        )
        hints.append(
            f"{fix} (a {out_act} output under the quadratic cost gives stuck or unbounded "
            "outputs, not class scores)"
        )
    eta, optimizer = settings.get("eta"), settings.get("optimizer", "sgd")
    if eta is not None:
        own = OPTIMIZERS[optimizer].default_eta if optimizer in OPTIMIZERS else None
        usual = 0.5 if optimizer == "sgd" or own is None else own
        if eta < TINY_ETA * usual:
            hints.append(f"a larger --eta (e.g. {eta * 10:g}, ten times {eta:g})")
        elif optimizer != "sgd" and eta > usual:
            hints.append(f"a smaller --eta (e.g. {usual:g}, {optimizer}'s default)")
        else:
            hints.append(f"a smaller --eta (e.g. {eta / 10:g}, a tenth of {eta:g})")
    init = settings.get("init")
    better_init = "he" if hidden & {"relu", "leaky_relu"} else "scaled_normal"
    if init is not None and init != better_init:
        hints.append(f"--init {better_init}")
    if optimizer != "adam":
        hints.append(
            f"--optimizer adam (with its own default η, {OPTIMIZERS['adam'].default_eta:g})"
        )
    return hints


def saturation_note(net: Any, X: Any) -> str | None:
    """A note when more than half the hidden sigmoid/tanh units are saturated (``|z| > 5`` on
    most of up to 500 rows of ``X``: σ'(z) ≈ 0, so BP2 passes almost nothing back there);
    ``None`` otherwise. Saturation alone does not mean that the run learnt nothing."""
    saturated = _saturated_fraction(net, X)
    if saturated is None or saturated <= 0.5:
        return None
    return (
        f"{saturated:.0%} of the hidden units are saturated (|z| > {SATURATED_Z:g} on most "
        "rows, σ'(z) ≈ 0): they learn slowly"
    )


def _saturated_fraction(net: Any, X: Any) -> float | None:
    """The fraction of hidden sigmoid/tanh units with ``|z| > SATURATED_Z`` on most of up to
    500 rows of ``X``; ``None`` when the network has no such unit."""
    import numpy as np

    from ..backend import to_numpy

    zs = _saturating_zs(net, X[:500])
    if not zs:
        return None
    units = saturated = 0
    for z in zs:
        z = np.abs(to_numpy(z))
        z = z.reshape(-1, z.shape[-1])  # a feature map's units, (C·H·W, m)
        units += z.shape[0]
        saturated += int(np.sum(np.mean(z > SATURATED_Z, axis=1) > 0.5))
    return saturated / units


def _saturating_zs(net: Any, X: Any) -> list[Any]:
    """z^l of each hidden layer whose σ saturates, for the rows ``X`` (units first,
    examples last); a network of layers counts the layers that have a σ."""
    if not any(getattr(a, "name", "") in _SATURATING for a in net.activation_functions[:-1]):
        return []  # no forward pass for nothing
    x = net.check_inputs(X).T
    if getattr(net, "layered", False):
        caches, layers = net.forward_caches(x), net.layers[1:]
        pairs = [(c.z, layer.activation) for c, layer in zip(caches[:-1], layers[:-1])]
    else:
        zs, _ = net.forward(x)
        pairs = list(zip(zs[:-1], net.activation_functions[:-1]))
    return [z for z, act in pairs if getattr(act, "name", "") in _SATURATING]


def early_stopping_note(history: Any, patience: int | None) -> str | None:
    """``"early stopping: ... restored the weights of epoch 7 ..."`` when early stopping ended
    the run (epochs counted from 1, as the progress lines count them), else ``None``."""
    if not history.stopped_early or history.best_epoch is None:
        return None
    best = history.best_epoch
    acc = history.validation_accuracy[best] if history.validation_accuracy else None
    score = f" (validation accuracy {acc:.2%})" if acc is not None else ""
    return (
        f"early stopping: no better validation score in {plural(patience, 'epoch')}, stopped "
        f"after epoch {history.epochs}; restored the weights of epoch {best + 1}{score}"
    )


def resume_command(argv: Sequence[str]) -> str:
    """The command line that continues an interrupted ``nnmath train ... --checkpoint FILE``:
    the same words with ``--resume`` added (once) and ``--overwrite`` dropped."""
    words = [w for w in argv if w != "--overwrite"]
    if "--resume" not in words:
        words.append("--resume")
    return shlex.join(["nnmath", *words])
