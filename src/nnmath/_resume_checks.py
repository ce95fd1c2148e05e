"""What a checkpoint's optimizer state and history must mean, checked before a resumed run
changes anything (:func:`nnmath.checkpoint.restore`).

Shapes and dtypes say that a tensor fits; these checks say that it could have come from a run:
moments and velocities finite, second moments (running means of ``g²``) never negative, Adam's
step count ``t`` the number of mini-batches the epochs done took, and every history field of
its type, length and range, so that nothing a callback reads later (the gradient tracker's
record, each epoch's η) fails deep inside training after the weights were replaced.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .io import ModelFileError

__all__ = ["HISTORY_FIELDS", "check_optimizer_state", "checked_history", "steps_done"]

#: the History fields that hold one number per epoch
HISTORY_LISTS = (
    "training_cost",
    "validation_cost",
    "validation_accuracy",
    "training_accuracy",
    "epoch_time",
)
#: every field of History.to_dict()
HISTORY_FIELDS = (*HISTORY_LISTS, "best_epoch", "stopped_early", "extra")
#: a state slot's meaning, by the start of its name, for the messages
_MEANINGS = {"m": "a first moment", "v": "a second moment", "velocity": "a velocity"}
#: the entries of the gradient tracker's record (GradientTracker, history.extra)
_TRACKER_LISTS = ("epoch", "step", "nabla_b", "nabla_w")


def is_int(value: Any) -> bool:
    """A JSON integer (not a boolean)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def steps_done(epochs_done: int, n: Any, mini_batch_size: int | None) -> int | None:
    """The optimizer steps ``epochs_done`` epochs take: one per mini-batch, ``⌈n / B⌉`` an
    epoch (``None`` when the mini-batch size or ``n`` is not known)."""
    if mini_batch_size is None or not isinstance(n, int | np.integer) or isinstance(n, bool):
        return None
    if n < 1 or mini_batch_size < 1:
        return None
    return epochs_done * -(-int(n) // int(mini_batch_size))


def check_optimizer_state(
    src: Path, optimizer: Any, state: dict[str, np.ndarray], steps: int | None
) -> None:
    """Refuse a state no run gives: a non-finite moment or velocity, a negative second
    moment, or a step count ``t`` other than the ``steps`` done (when known).

    Parameters
    ----------
    src : Path
        The checkpoint, named in the error.
    optimizer : Optimizer
        Its ``second_moments`` say which state lists are running means of g².
    state : dict of str -> numpy.ndarray
        The flat state (``"m_w.0"``, ``"v_b.1"``, ``"velocity_w.0"``, ``"t"``), shapes and
        dtypes already checked.
    steps : int or None
        The mini-batches of the epochs done (:func:`steps_done`).

    Raises
    ------
    ModelFileError
        Naming the tensor and what is wrong with it.
    """
    squares = getattr(optimizer, "second_moments", ())
    for name, arr in state.items():
        if name == "t":
            continue
        slot = name.split(".")[0]
        meaning = _MEANINGS.get(slot.rsplit("_", 1)[0], "optimizer state")
        if not np.isfinite(arr).all():
            raise ModelFileError(
                src,
                f"tensor 'optimizer.{name}' ({meaning}) contains NaN or infinite values, "
                "as only a diverged run would; start a new run without resume",
            )
        if slot in squares and (arr < 0).any():
            raise ModelFileError(
                src,
                f"tensor 'optimizer.{name}' ({meaning}, a running mean of g²) has negative "
                f"values (least {float(arr.min())!r}), which no run gives: the file was edited "
                "or corrupted; start a new run without resume",
            )
    if "t" in state and steps is not None and int(state["t"]) != steps:
        raise ModelFileError(
            src,
            f"tensor 'optimizer.t' (the step count) is {int(state['t'])}, but the epochs "
            f"done took {steps} steps (one per mini-batch): the file was edited or corrupted; "
            "start a new run without resume",
        )


def _numbers(value: Any, lengths: tuple[int, ...]) -> bool:
    """Whether ``value`` is a list of numbers whose length is one of ``lengths``."""
    return isinstance(value, list) and len(value) in lengths and all(map(_is_number, value))


def checked_history(src: Path, hist: dict[str, Any], epoch: int, n_layers: int) -> dict:
    """The history's fields, each of its type, with a value for every epoch done.

    Raises
    ------
    ModelFileError
        Naming the field that is missing, unknown or malformed.
    """
    done = epoch + 1
    missing = sorted(set(HISTORY_FIELDS) - set(hist))
    if missing:  # History.to_dict writes every field; one left out would restart empty
        raise ModelFileError(src, f"the checkpoint's history lacks the fields {missing}")
    fields: dict[str, Any] = {}
    for key, value in hist.items():
        if key not in HISTORY_FIELDS:
            raise ModelFileError(src, f"the checkpoint's history has an unknown field {key!r}")
        if key in HISTORY_LISTS:
            lengths = (done,) if key in ("training_cost", "epoch_time") else (0, done)
            if not _numbers(value, lengths):
                raise ModelFileError(
                    src, f"the history's {key} is not a list of {done} numbers (epoch {epoch})"
                )
        elif key == "stopped_early" and not isinstance(value, bool):
            raise ModelFileError(src, "the history's stopped_early is not true or false")
        elif key == "extra":
            _check_extra(src, value, done, n_layers)
        fields[key] = value
    best = fields.get("best_epoch")
    scored = len(fields.get("validation_cost", []))
    if best is not None and not (is_int(best) and 0 <= best < scored):
        raise ModelFileError(
            src,
            f"the history's best_epoch {best!r} is not one of the {scored} validated epochs",
        )
    return fields


def _check_extra(src: Path, extra: Any, done: int, n_layers: int) -> None:
    """fit's own entries of ``history.extra`` (η per epoch, the path and threads it trained
    on) and the gradient tracker's record; other entries are the caller's callbacks'."""
    if not isinstance(extra, dict):
        raise ModelFileError(src, "the history's extra is not a JSON object")
    if not _numbers(extra.get("eta", [1.0] * done), (done,)):  # fit appends each epoch's η
        raise ModelFileError(
            src, f"the history's extra['eta'] is not a list of {done} numbers (epoch {done - 1})"
        )
    for key in ("train_path", "fallback_reason", "monitor"):
        if key in extra and not isinstance(extra[key], str):
            raise ModelFileError(src, f"the history's extra[{key!r}] is not a string")
    for key in ("train_threads", "train_product_parts"):
        threads = extra.get(key, 1)
        if not (is_int(threads) and threads >= 1):
            raise ModelFileError(src, f"the history's extra[{key!r}] {threads!r:.50} is not ≥ 1")
    if "gradient_norms" in extra:
        problem = _tracker_problem(extra["gradient_norms"], done, n_layers)
        if problem:
            raise ModelFileError(src, f"the history's extra['gradient_norms'] {problem}")


def _tracker_problem(rec: Any, done: int, n_layers: int) -> str | None:
    """Why ``rec`` is not a GradientTracker record of ``done`` epochs, or ``None``."""
    if not isinstance(rec, dict) or set(rec) != set(_TRACKER_LISTS):
        return f"is not an object of the lists {list(_TRACKER_LISTS)}"
    if not all(isinstance(rec[k], list) for k in _TRACKER_LISTS):
        return f"does not hold lists under {list(_TRACKER_LISTS)}"
    if len({len(rec[k]) for k in _TRACKER_LISTS}) != 1:
        return "holds lists of different lengths (one entry per record)"
    epochs, steps = rec["epoch"], rec["step"]
    if not all(_is_number(e) and math.isfinite(e) and 0 <= e <= done for e in epochs):
        return f"['epoch'] holds values outside 0..{done} (the epochs done)"
    if not all(is_int(s) and s >= 0 for s in steps):
        return "['step'] holds values that are not counts of mini-batches"
    if epochs != sorted(epochs) or steps != sorted(steps):
        return "['epoch'] or ['step'] goes backwards"
    for key in ("nabla_b", "nabla_w"):
        if not all(_numbers(norms, (n_layers,)) for norms in rec[key]):
            return f"[{key!r}] is not a list of {n_layers} norms (one a layer) per record"
    return None
