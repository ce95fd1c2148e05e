"""What the command line tells a user after a run: that it learnt nothing (and what to try),
which epoch early stopping restored, how to continue an interrupted run."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

__all__ = ["early_stopping_note", "learning_warnings", "resume_command", "SATURATED_Z"]

#: |z| beyond which σ'(z) of a sigmoid is below 0.007 (tanh's below 0.0002): a saturated unit
SATURATED_Z = 5.0
#: the activations whose units saturate (σ' → 0 for large |z|)
_SATURATING = ("sigmoid", "tanh")


def learning_warnings(net: Any, history: Any, X: Any, n_classes: int) -> list[str]:
    """Why a finished run looks as if it learnt nothing, each with a hint; empty when it did.

    Three signs, read from the :class:`~nnmath.History` and one forward pass of up to 500
    rows of ``X``: the training cost did not fall from the first epoch to the last; the last
    validation accuracy is within 2 points of chance ``1/n_classes``; more than half the
    hidden sigmoid/tanh units are saturated (``|z| > 5`` on most rows, so σ'(z) ≈ 0 and
    BP2 passes almost nothing back).

    Parameters
    ----------
    net : Network
    history : History
    X : array (n, sizes[0])
        Rows to look for saturated units in.
    n_classes : int
        The classes of the data (chance accuracy is ``1/n_classes``).

    Returns
    -------
    list of str
    """
    signs = []
    cost = list(history.training_cost)
    if len(cost) >= 2 and not cost[-1] < cost[0]:
        signs.append(
            f"the training cost did not fall ({cost[0]:.4g} after epoch 1, {cost[-1]:.4g} "
            f"after epoch {len(cost)})"
        )
    acc = history.validation_accuracy
    if acc and n_classes > 1 and acc[-1] <= 1.0 / n_classes + 0.02:
        signs.append(
            f"the validation accuracy {acc[-1]:.2%} is at chance ({1 / n_classes:.2%} for "
            f"{n_classes} classes)"
        )
    saturated = _saturated_fraction(net, X)
    if saturated is not None and saturated > 0.5:
        signs.append(
            f"{saturated:.0%} of the hidden units are saturated (|z| > {SATURATED_Z:g}, σ'(z) ≈ 0)"
        )
    if not signs:
        return []
    hint = (
        "try a smaller --eta (e.g. a tenth of this one), --init scaled_normal, or "
        "--optimizer adam with --eta 1e-3"
    )
    return [f"the network seems to have learnt nothing: {'; '.join(signs)}. Hint: {hint}"]


def _saturated_fraction(net: Any, X: Any) -> float | None:
    """The fraction of hidden sigmoid/tanh units with ``|z| > SATURATED_Z`` on most of up to
    500 rows of ``X``; ``None`` when the network has no such unit."""
    import numpy as np

    from ..backend import to_numpy

    hidden = net.activation_functions[:-1]
    layers = [i for i, act in enumerate(hidden) if getattr(act, "name", "") in _SATURATING]
    if not layers:
        return None
    zs, _ = net.forward(net._inputs(X[:500]).T)
    units = saturated = 0
    for i in layers:
        z = np.abs(to_numpy(zs[i]))
        units += z.shape[0]
        saturated += int(np.sum(np.mean(z > SATURATED_Z, axis=1) > 0.5))
    return saturated / units


def early_stopping_note(history: Any, patience: int | None) -> str | None:
    """``"early stopping: ... restored the weights of epoch 7 ..."`` when early stopping ended
    the run (epochs counted from 1, as the progress lines count them), else ``None``."""
    if not history.stopped_early or history.best_epoch is None:
        return None
    best = history.best_epoch
    acc = history.validation_accuracy[best] if history.validation_accuracy else None
    score = f" (validation accuracy {acc:.2%})" if acc is not None else ""
    return (
        f"early stopping: no better validation score in {patience} epochs, stopped after epoch "
        f"{history.epochs}; restored the weights of epoch {best + 1}{score}"
    )


def resume_command(argv: Sequence[str]) -> str:
    """The command line that continues an interrupted ``nnmath train ... --checkpoint FILE``:
    the same words with ``--resume`` added (once)."""
    words = list(argv)
    if "--resume" not in words:
        words.append("--resume")
    return shlex.join(["nnmath", *words])
