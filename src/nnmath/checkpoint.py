"""Checkpoints: save everything a training run needs after each epoch, and resume from it.

A checkpoint is a model file (:mod:`nnmath.io`, so ``nnmath.load`` reads its network) with
more in it:

* tensors ``optimizer.<name>`` — the optimizer's state (``Optimizer.state_arrays()``:
  velocities for SGD with momentum, ``m``, ``v`` and ``t`` for Adam);
* tensors ``best.<2i>.weight`` / ``best.<2i>.bias`` — the weights of the best validation
  epoch so far (what early stopping restores at the end);
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
import os
from pathlib import Path
from typing import Any

import numpy as np

from .io import ModelFileError, layer_tensor_names, read_model_file, write_model_file

__all__ = ["CheckpointState", "save", "restore"]

_OPT, _BEST = "optimizer.", "best."


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

    Raises
    ------
    ValueError
        When ``history.extra`` holds something that is not JSON.
    """
    path = Path(path)
    tensors = {f"{_OPT}{k}": np.asarray(v) for k, v in optimizer.state_arrays().items()}
    if best_params is not None:
        for i, (W, b) in enumerate(zip(*best_params)):
            w_name, b_name = layer_tensor_names(i)
            tensors[_BEST + w_name], tensors[_BEST + b_name] = W, b
    state = {
        "epoch": epoch,
        "optimizer": optimizer.name,
        "base_eta": base_eta,
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
    path: str | os.PathLike[str], net: Any, optimizer: Any, rng: Any, history: Any
) -> CheckpointState:
    """Load a checkpoint into ``net``, ``optimizer``, ``rng`` and ``history`` (in place).

    Parameters
    ----------
    path : path-like
    net : Network
        Must have the checkpoint's architecture.
    optimizer : Optimizer
        Must have the checkpoint's name; its state is replaced.
    rng : numpy.random.Generator
        Must have the checkpoint's bit generator; its state is replaced.
    history : History
        Filled with the checkpoint's history.

    Returns
    -------
    CheckpointState

    Raises
    ------
    FileNotFoundError
        No checkpoint at the path.
    ModelFileError
        Not a checkpoint, or one whose architecture or optimizer differs from this run's.
    """
    src = Path(path)
    if not src.exists():
        raise FileNotFoundError(
            f"no checkpoint at {str(src)!r} to resume from; "
            "start a new run without resume (--resume)"
        )
    config, tensors, metadata = read_model_file(src)
    if "checkpoint" not in metadata:
        raise ModelFileError(src, "it is a saved model, not a training checkpoint")
    _check_architecture(src, config, net.config())
    try:
        state = json.loads(metadata["checkpoint"])
        epoch = int(state["epoch"])
        opt_name, rng_state, hist = state["optimizer"], state["rng"], state["history"]
        base_eta = state.get("base_eta")
        base_eta = None if base_eta is None else float(base_eta)
    except (KeyError, TypeError, ValueError, RecursionError, AttributeError) as exc:
        raise ModelFileError(src, f"the checkpoint state is malformed ({exc!r})") from None
    if opt_name != optimizer.name:
        raise ModelFileError(
            src,
            f"the checkpoint was trained with optimizer {opt_name!r}, this run uses "
            f"{optimizer.name!r}",
        )
    _restore_state(src, rng, rng_state, history, hist)
    names = [layer_tensor_names(i) for i in range(net.n_layers)]
    net.set_parameters([tensors[w] for w, _ in names], [tensors[b] for _, b in names])
    # np.array copies: the optimizer updates its state in place
    optimizer.load_state_arrays(
        {k[len(_OPT) :]: np.array(v) for k, v in tensors.items() if k.startswith(_OPT)}
    )
    best_params = None
    if history.best_epoch is not None and all(
        _BEST + w in tensors and _BEST + b in tensors for w, b in names
    ):
        best_params = (
            [np.array(tensors[_BEST + w]) for w, _ in names],
            [np.array(tensors[_BEST + b]) for _, b in names],
        )
    return CheckpointState(epoch + 1, best_params, base_eta)


def _check_architecture(src: Path, config: dict[str, Any], mine: dict[str, Any]) -> None:
    for key in ("sizes", "activations", "cost", "dtype"):
        if config.get(key) != mine.get(key):
            raise ModelFileError(
                src,
                f"the checkpoint's {key} {config.get(key)!r} differ from the network's "
                f"{mine.get(key)!r}; resume with the same architecture",
            )


def _restore_state(src: Path, rng: Any, rng_state: Any, history: Any, hist: Any) -> None:
    """The generator's state and the history's fields, or ModelFileError."""
    try:
        if rng_state.get("bit_generator") != type(rng.bit_generator).__name__:
            raise ValueError(f"bit generator {rng_state.get('bit_generator')!r}")
        rng.bit_generator.state = rng_state
        for key, value in hist.items():
            if not hasattr(history, key):
                raise ValueError(f"unknown history field {key!r}")
            setattr(history, key, value)
    except (AttributeError, TypeError, ValueError) as exc:
        raise ModelFileError(src, f"the checkpoint state is malformed ({exc})") from None


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
