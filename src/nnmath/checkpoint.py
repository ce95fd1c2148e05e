"""Checkpoints: save everything a training run needs after each epoch, and resume from it.

A checkpoint is a model file (:mod:`nnmath.io`, so ``nnmath.load`` reads its network) with
more in it:

* tensors ``optimizer.<name>`` — the optimizer's state (``Optimizer.state_arrays()``:
  velocities for SGD with momentum, ``m``, ``v`` and ``t`` for Adam);
* tensors ``best.<2i>.weight`` / ``best.<2i>.bias`` — the weights of the best validation
  epoch so far (what early stopping restores at the end);
* metadata ``checkpoint``, JSON of the completed epoch, the optimizer's name, the shuffling
  generator's bit-generator state and the :class:`~nnmath.train.History`.

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

__all__ = ["Checkpoint", "CheckpointState"]

_OPT, _BEST = "optimizer.", "best."


class CheckpointState:
    """What :meth:`Checkpoint.restore` hands back to the training loop.

    Attributes
    ----------
    start_epoch : int
        The first epoch still to run (0-based).
    best_score : float
        Best validation score so far (accuracy, or −cost for one output); −inf without one.
    best_params : (weights, biases) or None
        Weights of the best epoch, when early stopping is on.
    since_best : int
        Epochs since the best one.
    """

    def __init__(
        self, start_epoch: int, best_score: float, best_params: Any, since_best: int
    ) -> None:
        self.start_epoch, self.best_score = start_epoch, best_score
        self.best_params, self.since_best = best_params, since_best


class Checkpoint:
    """A training callback that saves a checkpoint after every epoch (atomically).

    Parameters
    ----------
    path : path-like
        The checkpoint file; replaced after each epoch (temporary file, then rename).
    optimizer : Optimizer
        The optimizer the training loop steps with (its state is saved).
    rng : numpy.random.Generator
        The generator that shuffles the mini-batches (its state is saved).
    """

    def __init__(self, path: str | os.PathLike[str], optimizer: Any, rng: Any) -> None:
        self.path = Path(path)
        self.optimizer, self.rng = optimizer, rng
        self._best: tuple[list[Any], list[Any]] | None = None

    def __call__(self, net: Any, history: Any, epoch: int) -> None:
        if history.best_epoch == epoch:  # the same moment train.fit copies the best weights
            self._best = net.copy_parameters()
        tensors = {f"{_OPT}{k}": np.asarray(v) for k, v in self.optimizer.state_arrays().items()}
        if self._best is not None:
            for i, (W, b) in enumerate(zip(*self._best)):
                w_name, b_name = layer_tensor_names(i)
                tensors[_BEST + w_name], tensors[_BEST + b_name] = W, b
        state = {
            "epoch": epoch,
            "optimizer": self.optimizer.name,
            "rng": _jsonable_rng_state(self.rng),
            "history": history.to_dict(),
        }
        try:
            text = json.dumps(state)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"cannot write checkpoint {str(self.path)!r}: history.extra holds values that "
                f"are not JSON numbers, strings or lists ({exc})"
            ) from None
        write_model_file(net, self.path, tensors, {"checkpoint": text})

    def restore(
        self,
        net: Any,
        history: Any,
        epochs: int,
        patience: int | None,
        path: str | os.PathLike[str] | None = None,
    ) -> CheckpointState:
        """Load a checkpoint into ``net``, the optimizer, the generator and ``history``.

        Parameters
        ----------
        net : Network
            Must have the checkpoint's architecture.
        history : History
            Filled in place with the checkpoint's history.
        epochs : int
            Total epochs of the run (a finished run resumes with nothing left to do).
        patience : int or None
            Early-stopping patience of the resumed run.
        path : path-like, optional
            Read from here instead of :attr:`path`.

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
        src = Path(path) if path is not None else self.path
        if not src.exists():
            raise FileNotFoundError(
                f"no checkpoint at {str(src)!r} to resume from; "
                "start a new run without resume (--resume)"
            )
        config, tensors, metadata = read_model_file(src)
        if "checkpoint" not in metadata:
            raise ModelFileError(src, "it is a saved model, not a training checkpoint")
        mine = net.config()
        for key in ("sizes", "activations", "cost", "dtype"):
            if config[key] != mine[key]:
                raise ModelFileError(
                    src,
                    f"the checkpoint's {key} {config[key]!r} differ from the network's "
                    f"{mine[key]!r}; resume with the same architecture",
                )
        try:
            state = json.loads(metadata["checkpoint"])
            epoch = int(state["epoch"])
            opt_name, rng_state, hist = state["optimizer"], state["rng"], state["history"]
        except (KeyError, TypeError, ValueError, RecursionError) as exc:
            raise ModelFileError(src, f"the checkpoint state is malformed ({exc!r})") from None
        if opt_name != self.optimizer.name:
            raise ModelFileError(
                src,
                f"the checkpoint was trained with optimizer {opt_name!r}, this run uses "
                f"{self.optimizer.name!r}",
            )
        try:
            if rng_state.get("bit_generator") != type(self.rng.bit_generator).__name__:
                raise ValueError(f"bit generator {rng_state.get('bit_generator')!r}")
            self.rng.bit_generator.state = rng_state
            for key, value in hist.items():
                if not hasattr(history, key):
                    raise ValueError(f"unknown history field {key!r}")
                setattr(history, key, value)
        except (AttributeError, TypeError, ValueError) as exc:
            raise ModelFileError(src, f"the checkpoint state is malformed ({exc})") from None

        weights = [tensors[layer_tensor_names(i)[0]] for i in range(net.n_layers)]
        biases = [tensors[layer_tensor_names(i)[1]] for i in range(net.n_layers)]
        net.set_parameters(weights, biases)
        # np.array copies: the optimizer updates its state in place
        self.optimizer.load_state_arrays(
            {k[len(_OPT) :]: np.array(v) for k, v in tensors.items() if k.startswith(_OPT)}
        )
        best_params = None
        if history.best_epoch is not None:
            names = [layer_tensor_names(i) for i in range(net.n_layers)]
            if all(_BEST + w in tensors and _BEST + b in tensors for w, b in names):
                self._best = (
                    [np.array(tensors[_BEST + w]) for w, _ in names],
                    [np.array(tensors[_BEST + b]) for _, b in names],
                )
                if patience is not None:
                    best_params = (
                        [W.copy() for W in self._best[0]],
                        [b.copy() for b in self._best[1]],
                    )
        best_score, since_best = -np.inf, 0
        if history.best_epoch is not None:
            b = history.best_epoch
            best_score = (
                history.validation_accuracy[b]
                if history.validation_accuracy
                else -history.validation_cost[b]
            )
            since_best = epoch - b
        start = epoch + 1
        if history.stopped_early or (patience is not None and since_best >= patience):
            history.stopped_early = True
            start = max(start, int(epochs))  # the run had already stopped: nothing to do
        return CheckpointState(start, float(best_score), best_params, since_best)


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


def setup(
    net: Any,
    optimizer: Any,
    rng: Any,
    history: Any,
    epochs: int,
    patience: int | None,
    callbacks: Any,
    checkpoint: str | os.PathLike[str] | None,
    resume: bool | str | os.PathLike[str],
) -> tuple[list[Any], tuple[int, float, Any, int]]:
    """What :func:`nnmath.train.fit` does with ``checkpoint=`` and ``resume=``.

    Restores the run when ``resume`` is set and appends a :class:`Checkpoint` callback (last,
    so that it records what the other callbacks added to ``history.extra``).

    Returns
    -------
    callbacks : list
    (start_epoch, best_score, best_params, since_best) : tuple
        The training loop's state (fresh values when not resuming).
    """
    if checkpoint is None and resume is True:
        raise ValueError("resume=True needs checkpoint=PATH (or pass resume=PATH)")
    if checkpoint is None:
        checkpoint = resume  # type: ignore[assignment]
    saver = Checkpoint(checkpoint, optimizer, rng)  # type: ignore[arg-type]
    state = CheckpointState(0, -np.inf, None, 0)
    if resume:
        state = saver.restore(net, history, epochs, patience, None if resume is True else resume)
    loop_state = (state.start_epoch, state.best_score, state.best_params, state.since_best)
    return [*callbacks, saver], loop_state
