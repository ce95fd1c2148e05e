"""Figures of a training run: learning curves, a confusion matrix, misclassified images."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._mpl import pyplot, save_figure

__all__ = [
    "confusion_matrix",
    "plot_confusion_matrix",
    "plot_learning_curves",
    "plot_misclassified",
]

PathLike = str | os.PathLike[str]


def plot_learning_curves(
    history: Any,
    *,
    title: str | None = None,
    figsize: tuple[float, float] = (11.0, 4.5),
    path: PathLike | None = None,
    dpi: int = 100,
) -> Any:
    """Cost and accuracy per epoch, training and validation, in two panels.

    The legend says what each curve measures: the training cost and accuracy of
    ``fit(monitor="batch")`` (the default) are the means over the epoch's mini-batches while
    the weights still moved, so they lag the validation ones, measured after the epoch.

    Parameters
    ----------
    history : nnmath.History
        From :func:`nnmath.fit` / ``Network.fit``: ``training_cost``, ``validation_cost``,
        ``training_accuracy`` (filled with ``monitor_training_accuracy=True``),
        ``validation_accuracy`` and ``best_epoch`` (0-based, marked by a vertical line).
    title : str, optional
        Figure title (``nnmath plot curves`` names the settings that differ from the defaults).
    figsize : (float, float)
        Figure size in inches; a saved PNG is ``figsize × dpi`` pixels.
    path : path-like, optional
        Also save the figure there (``.png`` or ``.svg``), atomically.
    dpi : int

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: cost (left) and accuracy in % (right).

    Raises
    ------
    ValueError
        When the history holds no completed epoch.
    """
    n = len(getattr(history, "training_cost", []) or [])
    if n == 0:
        raise ValueError("the history has no completed epoch: train for at least one epoch")
    plt = pyplot()
    fig, (ax_cost, ax_acc) = plt.subplots(1, 2, figsize=figsize, layout="constrained")
    best = getattr(history, "best_epoch", None)

    def curve(ax: Any, values: Sequence[float], label: str, scale: float, style: str) -> bool:
        if not values:
            return False
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, np.asarray(values, dtype=float) * scale, style, lw=2, ms=3, label=label)
        return True

    training, validation = curve_labels(history)
    curve(ax_cost, history.training_cost, training, 1.0, "-o")
    curve(ax_cost, history.validation_cost, validation, 1.0, "--s")
    ax_cost.set_title("cost")
    ax_cost.set_ylabel("mean cost C")
    drew_acc = curve(ax_acc, history.training_accuracy, training, 100.0, "-o")
    drew_acc |= curve(ax_acc, history.validation_accuracy, validation, 100.0, "--s")
    ax_acc.set_title("accuracy")
    ax_acc.set_ylabel("accuracy (%)")
    if not drew_acc:
        _no_accuracy(ax_acc)
    for ax in (ax_cost, ax_acc):
        _epoch_axis(ax, best)
    handles, labels = ax_cost.get_legend_handles_labels()
    if handles:  # the same lines in both panels: one legend under them
        fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=13)
    if path is not None:
        save_figure(fig, path, dpi=dpi, tight=False)
    return fig


def _no_accuracy(ax: Any) -> None:
    """Say, in the empty panel, why there is no accuracy curve."""
    ax.text(
        0.5,
        0.5,
        "no accuracy recorded\n(regression, or no validation data)",
        ha="center",
        va="center",
        transform=ax.transAxes,
        color="0.4",
    )


def _epoch_axis(ax: Any, best: int | None) -> None:
    """Epochs on the x axis (integers), a grid, the best validation epoch (0-based) marked."""
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    ax.xaxis.get_major_locator().set_params(integer=True)
    if best is not None:
        ax.axvline(best + 1, color="0.5", ls=":", lw=1, label=f"best validation epoch ({best + 1})")


def curve_labels(history: Any) -> tuple[str, str]:
    """What the training and validation curves measure: the training cost is the mean over
    the epoch's mini-batches as they were trained (``monitor="batch"``), or the set's cost
    after the epoch (``"full"``); the validation cost is always after the epoch."""
    monitor = (getattr(history, "extra", None) or {}).get("monitor")
    training = {
        "batch": "training (mean over the epoch's mini-batches)",
        "full": "training (after the epoch)",
    }.get(monitor, "training")
    return training, "validation (after the epoch)"


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int | None = None) -> np.ndarray:
    """Counts ``M[i, j]`` of examples of true class ``i`` predicted as class ``j``.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
        Class labels in ``0 .. n_classes − 1``.
    n_classes : int, optional
        Number of classes (default: the largest label + 1).

    Returns
    -------
    M : ndarray of int64, shape (n_classes, n_classes)
        Rows are true classes, columns predicted ones; the diagonal holds the correct ones.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must be 1-d label arrays of one length, got shapes "
            f"{y_true.shape} and {y_pred.shape}"
        )
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0):
            raise ValueError(f"{name} must hold non-negative integer class labels")
    k = int(max(y_true.max(initial=-1), y_pred.max(initial=-1)) + 1)
    if n_classes is None:
        n_classes = k
    elif k > n_classes:
        raise ValueError(f"labels go up to {k - 1}, more than n_classes={n_classes} allows")
    flat = y_true.astype(np.int64) * n_classes + y_pred.astype(np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def plot_confusion_matrix(
    y_true: Any,
    y_pred: Any,
    *,
    n_classes: int | None = None,
    class_names: Sequence[str] | None = None,
    normalize: bool = False,
    title: str | None = None,
    figsize: tuple[float, float] = (6.5, 5.5),
    path: PathLike | None = None,
    dpi: int = 100,
) -> Any:
    """Draw the confusion matrix of ``y_pred`` against ``y_true`` (counts in the cells).

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
    n_classes : int, optional
    class_names : sequence of str, optional
        Tick labels (default ``0 .. n_classes − 1``).
    normalize : bool
        Colour and annotate each row as fractions of its true class (recall per class).
    title : str, optional
        Default: ``"confusion matrix (accuracy …)"``.
    figsize, path, dpi
        As in :func:`plot_learning_curves`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    M = confusion_matrix(y_true, y_pred, n_classes)
    k = M.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else [str(c) for c in class_names]
    if len(names) != k:
        raise ValueError(f"class_names has {len(names)} entries, the matrix has {k} classes")
    total = M.sum()
    accuracy = np.trace(M) / total if total else float("nan")
    values = M / np.maximum(M.sum(axis=1, keepdims=True), 1) if normalize else M
    plt = pyplot()
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    image = ax.imshow(values, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, label="fraction of the true class" if normalize else "examples")
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if k <= 20:  # numbers stay readable
        top = values.max() if values.size else 0
        for i in range(k):
            for j in range(k):
                if M[i, j] == 0:
                    continue
                text = f"{values[i, j]:.2f}" if normalize else str(M[i, j])
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if values[i, j] > 0.6 * top else "black",
                )
    ax.set_title(title or f"confusion matrix (accuracy {accuracy:.2%}, n = {total})")
    if path is not None:
        save_figure(fig, path, dpi=dpi, tight=False)
    return fig


def plot_misclassified(
    X: Any,
    y_true: Any,
    y_pred: Any,
    image_shape: tuple[int, ...] | None,
    *,
    max_images: int = 24,
    ncols: int = 8,
    title: str | None = None,
    panel_size: float = 1.3,
    class_names: Sequence[str] | None = None,
    path: PathLike | None = None,
    dpi: int = 100,
) -> Any:
    """A grid of the first ``max_images`` misclassified examples, each titled ``true → predicted``.

    Parameters
    ----------
    X : array-like, shape (n, n_features)
        The examples as rows (pixel values), e.g. ``dataset.test[0]``.
    y_true, y_pred : array-like of int, shape (n,)
    image_shape : tuple of int
        Shape of one image, ``Dataset.image_shape`` (``(8, 8)`` for digits, ``(28, 28)`` for
        MNIST); ``prod(image_shape)`` must equal ``n_features``.
    max_images, ncols : int
        At most ``max_images`` images, ``ncols`` per row.
    title : str, optional
    panel_size : float
        Inches per image; the figure is ``ncols × panel_size`` wide (wider when the title
        needs it: it is never clipped) and ``(rows × panel_size + 0.5)`` tall.
    class_names : sequence of str, optional
        Names of the classes for the panels' titles (Fashion-MNIST's ``"Coat → Shirt"``);
        default the class numbers.
    path, dpi
        As in :func:`plot_learning_curves`.

    Returns
    -------
    matplotlib.figure.Figure
        When nothing is misclassified, one panel saying so.
    """
    X, y_true, y_pred = _image_rows(X, y_true, y_pred, image_shape)
    if max_images < 1 or ncols < 1:
        raise ValueError("max_images and ncols must be positive")
    wrong = np.flatnonzero(y_true != y_pred)
    shown = wrong[:max_images]
    names = _class_names(class_names, y_true, y_pred)
    heading = title or (
        f"misclassified: {len(wrong)} of {len(y_true)} (first {len(shown)}; true → predicted)"
    )
    plt = pyplot()
    cols = max(1, min(ncols, len(shown)))
    rows = max(1, -(-len(shown) // cols))
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(cols * panel_size, rows * panel_size + 0.5),
        layout="constrained",
        squeeze=False,
    )
    _draw_panels(
        axes, X, shown, image_shape, [f"{names[y_true[i]]} → {names[y_pred[i]]}" for i in shown]
    )
    fig.suptitle(heading, fontsize=10)
    _widen_to_fit_titles(fig, axes, cols, panel_size)
    if path is not None:
        save_figure(fig, path, dpi=dpi, tight=False)
    return fig


def _draw_panels(axes: Any, X: Any, shown: Any, image_shape: Any, titles: list[str]) -> None:
    """One image per panel with its title (every panel's axes off; 'none' when empty)."""
    for ax in axes.flat:
        ax.set_axis_off()
    if len(shown) == 0:
        ax = axes[0, 0]
        ax.text(
            0.5, 0.5, "no misclassified\nexamples", ha="center", va="center", transform=ax.transAxes
        )
    vmin, vmax = min(0.0, float(X.min(initial=0.0))), max(1.0, float(X.max(initial=1.0)))
    for ax, i, text in zip(axes.flat, shown, titles, strict=False):
        ax.imshow(
            X[i].reshape(image_shape), cmap="gray_r", interpolation="nearest", vmin=vmin, vmax=vmax
        )
        ax.set_title(text, fontsize=9, color="firebrick")


def _widen_to_fit_titles(fig: Any, axes: Any, cols: int, panel_size: float) -> None:
    """Make the figure wide enough for its title and for its widest panel title, measured as
    drawn (two errors under a long title would clip it)."""
    renderer = fig.canvas.get_renderer()
    title_w = fig._suptitle.get_window_extent(renderer).width / fig.dpi
    panel_w = max(
        (ax.title.get_window_extent(renderer).width / fig.dpi for ax in axes.flat),
        default=0.0,
    )
    width, height = fig.get_size_inches()
    needed = max(width, title_w + 0.3, cols * max(panel_size, panel_w + 0.15))
    if needed > width:
        fig.set_size_inches(needed, height)


def _class_names(class_names: Sequence[str] | None, *labels: np.ndarray) -> list[str]:
    """The label of each class for a title: its name, or its number."""
    top = int(max((int(y.max(initial=0)) for y in labels), default=0))
    if class_names is None:
        return [str(i) for i in range(top + 1)]
    if len(class_names) <= top:
        raise ValueError(f"class_names has {len(class_names)} entries, labels go up to {top}")
    return [str(c) for c in class_names]


def _image_rows(
    X: Any, y_true: Any, y_pred: Any, image_shape: tuple[int, ...] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``X`` (n, prod(image_shape)) and the labels as arrays, checked to fit each other."""
    if image_shape is None:
        raise ValueError("this data set has no image shape: misclassified images need image data")
    X = np.asarray(X)
    y_true = np.asarray(y_true).reshape(-1)
    y_pred = np.asarray(y_pred).reshape(-1)
    if X.ndim != 2 or not (X.shape[0] == len(y_true) == len(y_pred)):
        raise ValueError(
            f"X must have one row per label: X {X.shape}, y_true {y_true.shape}, "
            f"y_pred {y_pred.shape}"
        )
    if int(np.prod(image_shape)) != X.shape[1]:
        raise ValueError(
            f"image_shape {tuple(image_shape)} has {int(np.prod(image_shape))} pixels, "
            f"but X has {X.shape[1]} features per row"
        )
    return X, y_true, y_pred
