"""The update-to-data ratio ‖Δw^l‖/‖w^l‖ of every layer: how far one step moves the weights.

Karpathy ("Zero to Hero", lecture 4) and CS231n ("ratio of weights:updates") watch, per
layer, the size of an optimizer step against the size of the weights it changes: about
10⁻³ when learning is healthy, much lower when a layer barely learns, much higher when η is
too large. Here the ratio of layer ``l`` is ``‖W^l_after − W^l_before‖ / ‖W^l_before‖``
(Frobenius norms, the weights only: biases start at zero or near it, so their ratio says
little), :func:`update_ratios`.

Which step is measured is said by name, because the compiled epoch runs its steps inside C,
where none of them can be watched from Python:

* :func:`probe_step_ratios` — **real steps on copies**: the run's optimizer (its state:
  momentum, Adam's moments and ``t``; its present η) copied with the network, one step on a
  fixed mini-batch, from the same state for each of a few fixed mini-batches
  (:data:`PROBE_STEPS`), and the ratios averaged: one step's size, less the noise of one
  mini-batch. The network and optimizer of the run are not touched. It works after any
  epoch on either path; a network with dropout takes those steps without dropout.
* the change over an epoch, ``‖W_end − W_start‖ / ‖W_start‖`` (``"epoch_change"`` in the
  record of :class:`~nnmath.callbacks.Histograms`): the steps of an epoch add up, and partly
  cancel, so it is not the mean of the per-step ratios.
* every step of training (``Histograms(every_step=True)``, reference loop only): the weights
  after each mini-batch's step against those after the previous one.

Pure computation: nothing here writes or prints.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..backend import to_numpy

__all__ = ["HEALTHY_RATIO", "PROBE_STEPS", "probe_step_ratios", "update_ratios", "weights_of"]

#: the order of magnitude of a healthy update-to-data ratio (Karpathy, lecture 4)
HEALTHY_RATIO = 1e-3
#: how many single steps, each from the same state on its own mini-batch, are averaged
PROBE_STEPS = 8


def weights_of(net: Any) -> list[np.ndarray]:
    """Host copies of every ``W^l`` (``net.weights``, layers with parameters in order)."""
    return [np.array(to_numpy(W), dtype=np.float64) for W in net.weights]


def update_ratios(before: Sequence[np.ndarray], after: Sequence[np.ndarray]) -> list[float]:
    """``‖W^l_after − W^l_before‖ / ‖W^l_before‖`` per layer (Frobenius norms).

    Parameters
    ----------
    before, after : sequences of arrays, one per layer with parameters, same shapes

    Returns
    -------
    list of float
        ``inf`` for a layer whose weights were all zero and moved, ``0.0`` if they did not.
    """
    ratios = []
    for W0, W1 in zip(before, after, strict=True):
        W0 = np.asarray(to_numpy(W0), dtype=np.float64)
        W1 = np.asarray(to_numpy(W1), dtype=np.float64)
        change, size = float(np.linalg.norm(W1 - W0)), float(np.linalg.norm(W0))
        ratios.append(change / size if size > 0 else (np.inf if change > 0 else 0.0))
    return ratios


def probe_step_ratios(
    net: Any, optimizer: Any, X: Any, Y: Any, batch_size: int | None = None
) -> list[float]:
    """The update-to-data ratio of one real step of ``optimizer``, taken on copies: ``net``
    and ``optimizer`` are left exactly as they were.

    The rows are cut into consecutive mini-batches of ``batch_size`` (default: all the rows
    as one); from the same state, one step is taken on each (a fresh copy of the network
    and the optimizer each time) and the ratios are averaged per layer. Each step is the
    optimizer's own (its η, λ/n, its state), on the backprop of its mini-batch, without
    dropout masks; a layer's running statistics are not updated.

    Parameters
    ----------
    net : Network
        Dense or of layers.
    optimizer : Optimizer
        The run's optimizer, with its state as the next step would find it.
    X : array-like, shape (m, sizes[0])
    Y : array-like, shape (m, sizes[-1]) or labels (m,)
    batch_size : int, optional

    Returns
    -------
    list of float
        One ratio per layer with parameters (:func:`update_ratios`), the mean over the steps.
    """
    m = len(X)
    B = m if batch_size is None else max(int(batch_size), 1)
    steps = [_one_step(net, optimizer, X[k : k + B], Y[k : k + B]) for k in range(0, m, B)]
    return [float(np.mean(layer)) for layer in zip(*steps)]


def _one_step(net: Any, optimizer: Any, X: Any, Y: Any) -> list[float]:
    twin, opt = copy.deepcopy(net), copy.deepcopy(optimizer)  # in memory; nothing is written
    x = twin.check_inputs(X)
    y = twin.check_targets(Y, x.shape[0])
    before = weights_of(twin)
    opt.step(twin, twin.backprop_columns(x.T, y.T))
    return update_ratios(before, weights_of(twin))
