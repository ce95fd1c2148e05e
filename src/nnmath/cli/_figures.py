"""The figures of a training run that ``nnmath train --plot`` and ``nnmath plot`` both draw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._common import CLIError

__all__ = ["CLASS_NAMES", "changed_settings", "describe", "write_training_plots"]

#: the training options a learning curve's title names when they differ from the defaults
#: the most characters on a line of a figure's title (the curves' figure is 11 inches wide)
TITLE_WIDTH = 90

SETTINGS = {
    "eta": "η",
    "lmbda": "λ",
    "batch_size": "mini-batch",
    "optimizer": "optimizer",
    "momentum": "μ",
    "dropout": "dropout",
    "schedule": "schedule",
    "patience": "patience",
}

#: the classes' names of the data sets of :data:`nnmath.data.LOADERS` whose classes are not
#: their numbers (Fashion-MNIST's labels 0-9, in the order of its README)
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "fashion-mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
}


def class_names(data: Any) -> tuple[str, ...] | None:
    """The names of ``data``'s classes for a figure, or ``None`` (their numbers)."""
    from ..data import dataset_key

    return CLASS_NAMES.get(dataset_key(data.name))


def write_training_plots(
    net: Any, history: Any, data: Any, directory: str | Path, args: Any = None
) -> list[Path]:
    """Write ``curves.png``, ``confusion.png`` and (image data) ``misclassified.png``.

    The confusion matrix and the misclassified images are of the test split; the curves'
    title names the training options of ``args`` that differ from the defaults.
    """
    from .. import plots

    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise CLIError(f"--plot {directory}: exists and is not a directory")
    X, y = data.test
    y_pred = net.predict(X)
    written = [directory / "curves.png", directory / "confusion.png"]
    plots.plot_learning_curves(history, title=curves_title(data, net, args), path=written[0])
    plots.plot_confusion_matrix(
        y,
        y_pred,
        n_classes=data.n_classes,
        class_names=class_names(data),
        path=written[1],
        title=f"{data.name} test: accuracy {(y_pred == y).mean():.2%}",
    )
    if data.image_shape is not None:
        written.append(directory / "misclassified.png")
        plots.plot_misclassified(
            X, y, y_pred, data.image_shape, class_names=class_names(data), path=written[2]
        )
    return written


def curves_title(data: Any, net: Any, args: Any) -> str:
    """The learning curves' title: the data, the network and the changed settings, wrapped
    at :data:`TITLE_WIDTH` characters (a network of layers' description can be long)."""
    import textwrap

    text = f"{data.name}: {describe(net)}{changed_settings(args)}"
    return textwrap.fill(text, TITLE_WIDTH, break_long_words=False, break_on_hyphens=False)


def describe(net: Any) -> str:
    """A network in one line for a figure's title: ``[64,30,10] sigmoid/softmax, cost``."""
    if getattr(net, "layered", False):  # a network of layers: its description
        from ..layers import Flatten
        from ..layers import describe as describe_layers

        shown = [layer for layer in net.layers if not isinstance(layer, Flatten)]  # implied
        return f"{describe_layers(shown)}, {net.cost_name}"
    acts = [a.name for a in net.activation_functions]
    return f"[{','.join(map(str, net.sizes))}] {acts[0]}/{acts[-1]}, {net.cost_name}"


def changed_settings(args: Any) -> str:
    """``", λ = 1, η = 0.1"``: the training options of ``args`` that differ from the defaults
    of ``nnmath train``, for a figure's title ("" when none does or ``args`` is None)."""
    import argparse

    from ._options import add_training_options

    if args is None:
        return ""
    parser = argparse.ArgumentParser(add_help=False)
    add_training_options(parser)
    defaults = vars(parser.parse_args([]))
    shown = []
    for key, name in SETTINGS.items():
        value = getattr(args, key, None)
        if key in defaults and value != defaults[key]:
            shown.append(f"{name} = {value:g}" if isinstance(value, float) else f"{name} = {value}")
    return "".join(f", {s}" for s in shown)
