"""An ensemble of networks that vote: Nielsen, chapter 6, "Using an ensemble of networks".

The book trains five networks alike but for their random initialisation and lets them vote
on each image, the class most of them predict winning. Ties are broken by the nets' summed
outputs, then by the lowest class index, so a prediction never depends on the order of the
nets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .backend import to_numpy
from .network import Network
from .validation import labels_of

__all__ = ["Ensemble", "majority_vote"]


def majority_vote(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The class most nets voted for, per example; among the classes tied for most votes the
    one of highest score, then the lowest index.

    Parameters
    ----------
    labels : int array, shape (n_nets, n)
        Each net's predicted class of each example.
    scores : array, shape (n, n_classes)
        What breaks ties (the ensemble's summed outputs): higher wins.

    Returns
    -------
    int64 array, shape (n,)
    """
    n, n_classes = scores.shape
    votes = np.zeros((n, n_classes), dtype=np.int64)
    for net_labels in labels:
        np.add.at(votes, (np.arange(n), net_labels), 1)  # one vote per net and example
    tied = votes == votes.max(axis=1, keepdims=True)
    # argmax takes the first (lowest) class of equal scores
    return np.argmax(np.where(tied, scores, -np.inf), axis=1).astype(np.int64)


class Ensemble:
    """Networks that vote on each example's class, as in the book's chapter 6.

    Parameters
    ----------
    nets : sequence of Network
        Trained classifiers with the same number of inputs (``sizes[0]``) and outputs
        (``sizes[-1]``); one output unit means a sigmoid classifier of two classes.

    Attributes
    ----------
    nets : list of Network
    n_inputs, n_outputs : int

    Examples
    --------
    >>> nets = [nm.Network([64, 30, 10], seed=s) for s in range(5)]  # doctest: +SKIP
    >>> Ensemble(nets).accuracy(X_test, y_test)  # doctest: +SKIP
    """

    def __init__(self, nets: Sequence[Network]) -> None:
        self.nets = list(nets)
        if not self.nets:
            raise ValueError("Ensemble needs at least one network: give a list of trained nets")
        shapes = [(net.sizes[0], net.sizes[-1]) for net in self.nets]
        if len(set(shapes)) > 1:
            raise ValueError(
                "the nets of an Ensemble must have the same inputs and outputs, got "
                f"(sizes[0], sizes[-1]) = {shapes}: vote only among nets of one task"
            )
        self.n_inputs, self.n_outputs = shapes[0]

    def __len__(self) -> int:
        return len(self.nets)

    def __repr__(self) -> str:
        return f"Ensemble({len(self)} nets, {self.n_inputs} inputs, {self.n_outputs} outputs)"

    def feedforward(self, X: Any) -> np.ndarray:
        """The mean of the nets' outputs, ``(1/N) Σ_k a^L_k``. A NumPy array (n, n_outputs).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs) or (n_inputs,)
        """
        outputs = [to_numpy(net.feedforward(X)).astype(np.float64) for net in self.nets]
        return np.mean(outputs, axis=0)

    def predict(self, X: Any) -> np.ndarray:
        """Each example's class by majority vote of the nets' :meth:`Network.predict`; a tie
        goes to the tied class of largest summed output, then to the lowest class index.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs) or (n_inputs,)

        Returns
        -------
        int64 array, shape (n_samples,)

        Raises
        ------
        ValueError
            A net of one output unit that is not a sigmoid classifier (a regressor's outputs
            are not classes to vote on: average them with :meth:`feedforward`).
        """
        labels, outputs = [], []
        for net in self.nets:
            X_net = net.check_inputs(X)  # moved to the net's device once for both calls
            labels.append(np.asarray(net.predict(X_net)))
            outputs.append(to_numpy(net.feedforward(X_net)).astype(np.float64))
        if not all(np.issubdtype(lab.dtype, np.integer) for lab in labels):
            raise ValueError(
                "an Ensemble votes on classes, but a net of one linear output predicts "
                "numbers: average a regressor's outputs with Ensemble.feedforward"
            )
        scores = np.sum(outputs, axis=0)
        if self.n_outputs == 1:  # a sigmoid's a is P(class 1), so 1 − a scores class 0
            scores = np.hstack([len(self) - scores, scores])
        return majority_vote(np.stack(labels), scores)

    def accuracy(self, X: Any, y: Any) -> float:
        """Fraction of rows whose voted class equals ``y`` (labels, or one-hot rows).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs)
        y : array-like, shape (n_samples,) or (n_samples, n_outputs)
        """
        predicted = self.predict(X)
        labels = labels_of(y, len(predicted), self.n_outputs)
        return float(np.mean(predicted == labels))
