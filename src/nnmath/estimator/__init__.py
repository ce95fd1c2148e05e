"""scikit-learn estimators around :class:`~nnmath.network.Network`.

``NNMathClassifier`` and ``NNMathRegressor`` follow scikit-learn's conventions (parameters
stored as given in ``__init__``, checked in ``fit``; learned attributes end in ``_``) and
pass ``sklearn.utils.estimator_checks.check_estimator``, so they work inside ``Pipeline``,
``GridSearchCV`` and ``cross_val_score``.

Defaults
--------
Classifier: sigmoid hidden layers (one of 30 units), a **softmax output with the
log-likelihood cost** (so ``predict_proba`` is a probability distribution and
δ^L = a − y), weights N(0, 1/n_in) (``"scaled_normal"``), SGD with η = 0.5, mini-batches
of 10, 30 epochs — Nielsen's chapter-3 setting with a softmax output.
Regressor: the same hidden layers, an **identity output with the quadratic cost**
(C = ½‖a − y‖²), η = 0.1 (a linear output has no σ' ≤ 1/4 to damp the steps), trained on
standardised targets (each column minus its mean, over its standard deviation) and the
scaling then folded into the output layer's W^L and b^L, so ``network_`` predicts ``y`` in
its own units.

``loss_curve_`` is the mean training cost after each epoch (without the L2 term; the
regressor's on the standardised targets);
``validation_scores_`` holds the held-out accuracy (classifier) or R² (regressor) per epoch
when ``early_stopping=True``, else it is ``None``.
"""

from __future__ import annotations

from .classifier import NNMathClassifier
from .regressor import NNMathRegressor

__all__ = ["NNMathClassifier", "NNMathRegressor"]
