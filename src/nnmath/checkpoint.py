"""Checkpoints: save everything a training run needs after each epoch, and resume from it.

A checkpoint is a model file (:mod:`nnmath.io`, so ``nnmath.load`` reads its network) with
more in it:

* tensors ``optimizer.<name>`` — the optimizer's state (``Optimizer.state_arrays()``:
  velocities for SGD with momentum, ``m``, ``v`` and ``t`` for Adam);
* tensors ``best.<2i>.weight`` / ``best.<2i>.bias`` — the weights of the best validation
  epoch so far (what early stopping restores at the end), with ``best.<k>.running_mean`` /
  ``best.<k>.running_var`` of each BatchNorm (its state at that epoch; the current state is
  the model file's own ``<k>.running_mean``, ``<k>.running_var``);
* metadata ``checkpoint``, JSON of the completed epoch, the optimizer's name, the base η of
  the run (what a learning-rate schedule starts from), the shuffling generator's
  bit-generator state and the :class:`~nnmath.train.History`.

:func:`save` writes one (the :class:`nnmath.callbacks.Checkpoint` callback calls it after every
epoch) and :func:`restore` reads one back (``fit(..., resume=...)``).

Resuming restores all of it, so that the next epoch draws the same permutation and takes
the same steps as the uninterrupted run: an interrupted and resumed run ends with weights
identical bit for bit (``np.array_equal``) to a run that was never interrupted.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ._resume_checks import (
    HISTORY_FIELDS,
    check_optimizer_state,
    checked_history,
    is_int,
    steps_done,
)
from .io import ModelFileError, read_model_file, write_model_file
from .io.layer_file import parameter_names, state_names

__all__ = ["CheckpointState", "ResumeMismatch", "save", "restore"]

_OPT, _BEST = "optimizer.", "best."
#: the entries of a checkpoint's JSON state
_STATE_KEYS = ("epoch", "optimizer", "base_eta", "hyper", "rng", "history")
_HISTORY_FIELDS = HISTORY_FIELDS  # every field of History.to_dict()
_MAX_EPOCHS = 2**62


class CheckpointState:
    """What :func:`restore` hands back to the training loop.

    Attributes
    ----------
    start_epoch : int
        The first epoch still to run (0-based).
    best_params : (weights, biases) or None
        Weights of the best validation epoch so far (NumPy arrays), when the run had one.
    base_eta : float or None
        The optimizer's η when the run began (the base of a learning-rate schedule);
        ``None`` for a checkpoint written before it was recorded.
    """

    def __init__(self, start_epoch: int, best_params: Any, base_eta: float | None) -> None:
        self.start_epoch, self.best_params, self.base_eta = start_epoch, best_params, base_eta


def save(
    path: str | os.PathLike[str],
    net: Any,
    optimizer: Any,
    rng: Any,
    history: Any,
    epoch: int,
    best_params: tuple[list[Any], list[Any]] | None = None,
    base_eta: float | None = None,
    mini_batch_size: int | None = None,
) -> Path:
    """Write a checkpoint after ``epoch`` (0-based) to ``path``, atomically.

    Parameters
    ----------
    path : path-like
        Replaced as a whole (temporary file, then rename: :func:`nnmath.io.write_model_file`).
    net : Network
    optimizer : Optimizer
        Its state (``state_arrays()``) and name are saved.
    rng : numpy.random.Generator
        The generator that shuffles the mini-batches (its bit-generator state is saved).
    history : History
        Saved as JSON (``history.extra`` must hold JSON values).
    epoch : int
        The last completed epoch.
    best_params : (weights, biases), optional
        The weights of the best validation epoch so far (what early stopping restores).
    base_eta : float, optional
        The optimizer's η when the run began (the base of a learning-rate schedule).
    mini_batch_size : int, optional
        Recorded with the optimizer's other hyper-parameters, which a resumed run must share.

    Raises
    ------
    ValueError
        When ``history.extra`` holds something that is not JSON.
    """
    path = Path(path)
    tensors = {f"{_OPT}{k}": np.asarray(v) for k, v in optimizer.state_arrays().items()}
    if best_params is not None:
        weights, biases, *states = best_params  # states: a network with running statistics
        for (w_name, b_name), W, b in zip(parameter_names(net), weights, biases):
            tensors[_BEST + w_name], tensors[_BEST + b_name] = W, b
        for names, state in zip(_state_names(net), states[0] if states else []):
            tensors.update({_BEST + n: v for n, v in zip(names, state.values())})
    state = {
        "epoch": epoch,
        "optimizer": optimizer.name,
        "base_eta": base_eta,
        "hyper": _hyper(optimizer, mini_batch_size),
        "rng": _jsonable_rng_state(rng),
        "history": history.to_dict(),
    }
    try:
        text = json.dumps(state)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"cannot write checkpoint {str(path)!r}: history.extra holds values that "
            f"are not JSON numbers, strings or lists ({exc})"
        ) from None
    return write_model_file(net, path, tensors, {"checkpoint": text})


def restore(
    path: str | os.PathLike[str],
    net: Any,
    optimizer: Any,
    rng: Any,
    history: Any,
    *,
    mini_batch_size: int | None = None,
    epochs: int | None = None,
    eta: float | None = None,
    validation: bool | None = None,
) -> CheckpointState:
    """Load a checkpoint into ``net``, ``optimizer``, ``rng`` and ``history`` (in place).

    Everything in the file is checked before anything is changed: the architecture, every
    tensor's name, shape and dtype (the optimizer's state as its ``init_state`` shapes it),
    what the state means (finite moments and velocities, second moments ≥ 0, Adam's step
    count), the state's JSON (epoch, generator, history, best epoch) and the
    hyper-parameters the run was trained with.

    Parameters
    ----------
    path : path-like
    net : Network
        Must have the checkpoint's architecture.
    optimizer : Optimizer
        Must have the checkpoint's name and hyper-parameters (λ, the optimizer's own, the
        training set's size ``n``); its state is replaced.
    rng : numpy.random.Generator
        Must have the checkpoint's bit generator; its state is replaced.
    history : History
        Filled with the checkpoint's history.
    mini_batch_size : int, optional
        This run's; refused when it is not the checkpoint's.
    epochs : int, optional
        This run's total; refused when the checkpoint has done more.
    eta : float, optional
        This run's η; refused when it is not the checkpoint's base η (not given: not
        compared, as for a run with a learning-rate schedule, which continues from the
        checkpoint's base η whatever the optimizer now holds).
    validation : bool, optional
        Whether this run has validation data; refused when the checkpoint's run differs.

    Returns
    -------
    CheckpointState

    Raises
    ------
    FileNotFoundError
        No checkpoint at the path.
    ModelFileError
        Not a checkpoint, a malformed one, or one whose architecture or optimizer differs
        from this run's.
    ResumeMismatch
        The run's hyper-parameters differ from the checkpoint's (a ``ValueError``).
    """
    src = Path(path)
    config, tensors, metadata = _read(src)
    _check_architecture(src, config, net.config())
    state = _parse_state(src, metadata["checkpoint"])
    epoch = state["epoch"]
    _check_hyper(src, state, optimizer, (mini_batch_size, epochs, eta, validation))
    opt_state, best = _check_tensors(src, tensors, net, optimizer)
    steps = steps_done(epoch + 1, getattr(optimizer, "n", None), mini_batch_size)
    check_optimizer_state(src, optimizer, opt_state, steps)
    new_rng_state = _checked_rng_state(src, rng, state["rng"])
    fields = checked_history(src, state["history"], epoch, net.n_layers)
    # all checked: now change the run
    rng.bit_generator.state = new_rng_state
    for key, value in fields.items():
        setattr(history, key, value)
    _set_network(net, tensors)
    optimizer.load_state_arrays(opt_state)
    best_params = best if history.best_epoch is not None else None
    return CheckpointState(epoch + 1, best_params, state["base_eta"])


def _set_network(net: Any, tensors: dict[str, Any]) -> None:
    """The checkpoint's weights and biases (and running statistics) into ``net``."""
    names = parameter_names(net)
    weights, biases = [tensors[w] for w, _ in names], [tensors[b] for _, b in names]
    if _state_names(net):  # the running statistics, as they were after the epoch
        net.set_parameters(weights, biases, _states(net, tensors, ""))
    else:
        net.set_parameters(weights, biases)


def _state_names(net: Any) -> list[tuple[str, ...]]:
    """The tensor names of each layer's state (a BatchNorm's running statistics)."""
    return state_names(net.layers) if getattr(net, "stateful", None) else []


def _states(net: Any, tensors: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Each stateful layer's state from ``tensors`` (``prefix``: ``""`` or ``"best."``)."""
    return [
        {key: np.array(tensors[prefix + n]) for key, n in zip(layer.state(), names)}
        for layer, names in zip(net.stateful, _state_names(net))
    ]


class ResumeMismatch(ValueError):
    """A resumed run's settings differ from those its checkpoint was trained with."""


def _read(src: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The checkpoint's architecture, tensors and metadata (a model file's, and more)."""
    if not src.exists():
        raise FileNotFoundError(
            f"no checkpoint at {str(src)!r} to resume from; "
            "start a new run without resume (--resume)"
        )
    config, tensors, metadata = read_model_file(src)
    if "checkpoint" not in metadata:
        raise ModelFileError(src, "it is a saved model, not a training checkpoint")
    return config, tensors, metadata


def _check_architecture(src: Path, config: dict[str, Any], mine: dict[str, Any]) -> None:
    for key in ("layers", "sizes", "activations", "cost", "dtype"):
        if config.get(key) != mine.get(key):
            raise ModelFileError(
                src,
                f"the checkpoint's {key} {config.get(key)!r} differ from the network's "
                f"{mine.get(key)!r}; resume with the same architecture",
            )


def _parse_state(src: Path, text: str) -> dict[str, Any]:
    """The checkpoint's JSON state, with the type and range of each entry checked."""
    try:
        state = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(
            src, f"the checkpoint state is not valid JSON ({exc!r:.200})"
        ) from None
    if not isinstance(state, dict):
        raise ModelFileError(src, "the checkpoint state is not a JSON object")
    missing = sorted({"epoch", "optimizer", "rng", "history"} - set(state))
    unknown = sorted(set(state) - set(_STATE_KEYS))
    if missing or unknown:
        raise ModelFileError(
            src,
            f"the checkpoint state lacks {missing} or has unknown entries {unknown} "
            f"(expected {list(_STATE_KEYS)})",
        )
    epoch = state["epoch"]
    if not is_int(epoch) or not 0 <= epoch < _MAX_EPOCHS:
        raise ModelFileError(src, f"the checkpoint's epoch {epoch!r} is not an integer ≥ 0")
    for key, kind in (("optimizer", str), ("rng", dict), ("history", dict)):
        if not isinstance(state[key], kind):
            raise ModelFileError(src, f"the checkpoint's {key} is not a {kind.__name__}")
    base_eta = state.get("base_eta")
    if base_eta is not None and not (
        isinstance(base_eta, int | float)
        and not isinstance(base_eta, bool)
        and base_eta > 0
        and math.isfinite(base_eta)
    ):
        raise ModelFileError(src, f"the checkpoint's base_eta {base_eta!r} is not a positive η")
    state["base_eta"] = None if base_eta is None else float(base_eta)
    hyper = state.get("hyper", {})
    if not isinstance(hyper, dict) or not all(
        isinstance(v, int | float) and math.isfinite(v) for v in hyper.values()
    ):
        raise ModelFileError(src, f"the checkpoint's hyper-parameters {hyper!r:.200} are malformed")
    state["hyper"] = hyper
    return state


def _hyper(optimizer: Any, mini_batch_size: int | None) -> dict[str, float]:
    """The settings a resumed run must share with its checkpoint: the optimizer's numeric
    hyper-parameters but η (its base is ``base_eta``), the training set's size ``n``
    and the mini-batch size."""
    own = {
        k: v
        for k, v in vars(optimizer).items()
        if k not in ("eta", "state") and not k.startswith("_") and isinstance(v, int | float)
    }
    if mini_batch_size is not None:
        own["mini_batch_size"] = int(mini_batch_size)
    return own


def _check_hyper(src: Path, state: dict[str, Any], optimizer: Any, run: tuple) -> None:
    """Refuse a run whose optimizer or settings (``run``: mini-batch size, epochs, η, whether
    it has validation data; each ``None`` when not compared) differ from the checkpoint's,
    naming each difference."""
    if state["optimizer"] != optimizer.name:
        raise ModelFileError(
            src,
            f"the checkpoint was trained with optimizer {state['optimizer']!r}, this run uses "
            f"{optimizer.name!r}",
        )
    mini_batch_size, epochs, eta, validation = run
    mine = _hyper(optimizer, mini_batch_size)
    diffs = [
        f"{key} {value!r} (this run: {mine[key]!r})"
        for key, value in state["hyper"].items()
        if key in mine and mine[key] != value
    ]
    if None not in (eta, state["base_eta"]) and state["base_eta"] != float(eta):
        diffs.insert(0, f"eta {state['base_eta']!r} (this run: {float(eta)!r})")
    scores = state["history"].get("validation_cost")  # malformed: refused with the history
    if validation is not None and isinstance(scores, list) and bool(scores) != validation:
        diffs.append(
            f"{'' if scores else 'no '}validation data (this run: "
            f"{'some' if validation else 'none'})"
        )
    if diffs:
        raise ResumeMismatch(
            f"cannot resume from {str(src)!r}: it was trained with "
            + ", ".join(diffs)
            + "; resume with the checkpoint's values, or start a new run without resume"
        )
    done = state["epoch"] + 1
    if epochs is not None and done > epochs:
        raise ResumeMismatch(
            f"cannot resume from {str(src)!r}: it has done {done} epochs, more than "
            f"epochs={epochs} (the total, counting those done); pass epochs ≥ {done}"
        )


def _check_tensors(src: Path, tensors: dict[str, Any], net: Any, optimizer: Any) -> tuple:
    """The optimizer's state (``{name: array}``, copies) and the best epoch's weights (or
    ``None``), after checking every tensor's name, shape and dtype against this run."""
    dtype = np.dtype(net.dtype)
    layers = parameter_names(net)
    shapes = {}
    for (w, b), W, bias in zip(layers, net.weights, net.biases):
        shapes[w], shapes[b] = tuple(W.shape), tuple(bias.shape)
    for names, layer in zip(_state_names(net), getattr(net, "stateful", [])):
        shapes.update({n: tuple(v.shape) for n, v in zip(names, layer.state().values())})
    template = _state_template(optimizer, net)
    given = {k[len(_OPT) :] for k in tensors if k.startswith(_OPT)}
    best_names = {k for k in tensors if k.startswith(_BEST)}
    unknown = set(tensors) - set(shapes) - {_OPT + k for k in given} - best_names
    bad = sorted(unknown | {_OPT + k for k in given - set(template)})
    bad += sorted(k for k in best_names if k[len(_BEST) :] not in shapes)
    if bad:
        raise ModelFileError(
            src, f"tensors {bad[:5]} are not part of a checkpoint for {optimizer.name!r}"
        )
    if given != set(template):  # every epoch steps: a checkpoint holds the state it made
        raise ModelFileError(
            src,
            f"the optimizer state lacks tensors {sorted(_OPT + k for k in set(template) - given)} "
            f"(the state of {optimizer.name!r} for sizes {list(net.sizes)}); resuming without "
            "it would not continue the run: start a new run without resume",
        )
    for name, (shape, integral) in template.items():
        kind = None if integral else dtype  # what they mean: _resume_checks
        _check_one(src, _OPT + name, tensors[_OPT + name], shape, kind, finite="")
    opt_state = {k: np.array(tensors[_OPT + k]) for k in sorted(given)}  # copies: updated in place
    if best_names and best_names != {_BEST + k for k in shapes}:
        raise ModelFileError(src, "the best epoch's weights are incomplete (best.* tensors)")
    for name in best_names:
        _check_one(src, name, tensors[name], shapes[name[len(_BEST) :]], dtype, finite="all")
    best = None
    if best_names:
        best = (
            [np.array(tensors[_BEST + w]) for w, _ in layers],
            [np.array(tensors[_BEST + b]) for _, b in layers],
        )
        if _state_names(net):  # and the running statistics of that epoch
            best = (*best, _states(net, tensors, _BEST))
    return opt_state, best


def _state_template(optimizer: Any, net: Any) -> dict[str, tuple[tuple[int, ...], bool]]:
    """``{flat name: (shape, integral)}`` of the optimizer's state for this network, as
    ``state_arrays`` names it (``"m_w.0"``, ``"t"``), from its ``init_state``."""
    template = {}
    for key, value in optimizer.init_state(net).items():
        if isinstance(value, list):
            for i, arr in enumerate(value):
                template[f"{key}.{i}"] = (tuple(arr.shape), False)
        else:
            template[key] = ((), isinstance(value, int | np.integer))
    return template


def _check_one(
    src: Path, name: str, arr: Any, shape: tuple[int, ...], dtype: Any, finite: str = "nan"
) -> None:
    """One tensor: the shape; the dtype (``None``: a non-negative integer scalar); no NaN
    (``finite="nan"``) or no infinity either (``finite="all"``: weights), or either
    (``finite=""``: the optimizer's state, whose meaning :func:`check_optimizer_state`
    checks)."""
    if tuple(arr.shape) != shape:
        raise ModelFileError(
            src, f"tensor {name!r} has shape {tuple(arr.shape)}, this network needs {shape}"
        )
    if dtype is None:
        if arr.dtype.kind not in "iu" or int(arr) < 0:
            raise ModelFileError(src, f"tensor {name!r} must be a non-negative integer count")
        return
    if arr.dtype != dtype:
        raise ModelFileError(src, f"tensor {name!r} is {arr.dtype}, the network is {dtype}")
    if not finite:
        return
    bad = ~np.isfinite(arr) if finite == "all" else np.isnan(arr)
    if bad.any():
        what = "NaN or infinite values" if finite == "all" else "NaN"
        raise ModelFileError(
            src,
            f"tensor {name!r} contains {what}, as only a diverged run would; start a new "
            "run without resume",
        )


def _checked_rng_state(src: Path, rng: Any, rng_state: dict[str, Any]) -> dict[str, Any]:
    """The generator's state, checked by setting it on a fresh bit generator of its kind."""
    kind = type(rng.bit_generator)
    if rng_state.get("bit_generator") != kind.__name__:
        raise ModelFileError(
            src,
            f"the checkpoint's generator is {rng_state.get('bit_generator')!r}, this run's "
            f"{kind.__name__!r}",
        )
    try:
        probe = kind()
        probe.state = rng_state
        return probe.state
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
        raise ModelFileError(src, f"the generator state is malformed ({exc!r:.200})") from None


def _jsonable_rng_state(rng: Any) -> dict[str, Any]:
    """The bit generator's state as plain JSON values (PCG64's 128-bit integers included)."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
        return value

    return plain(rng.bit_generator.state)
