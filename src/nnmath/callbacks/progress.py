"""A progress bar of the epochs (``rich``, on stderr): the one callback that draws on a terminal."""

from __future__ import annotations

from typing import Any

from .base import Callback, History

__all__ = ["ProgressBar"]


class ProgressBar(Callback):
    """A ``rich`` progress bar of the epochs, with the last training cost and validation
    accuracy (drawn on stderr; the training loop itself prints nothing).

    Parameters
    ----------
    description : str
    console : rich.console.Console, optional
        Where to draw (default: a console on stderr).
    """

    def __init__(self, description: str = "training", console: Any = None) -> None:
        self.description, self.console = description, console
        self._bar: Any = None

    def on_train_begin(self, net: Any, history: History) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=self.console if self.console is not None else Console(stderr=True),
        )
        self._bar.start()
        self._task = self._bar.add_task(
            self.description, total=self.run.epochs, completed=self.run.start_epoch, info=""
        )

    def on_epoch_end(self, net: Any, history: History, epoch: int) -> None:
        info = f"cost {history.training_cost[-1]:.4f}"
        if history.validation_accuracy:
            info += f" val {history.validation_accuracy[-1]:.2%}"
        self._bar.update(self._task, advance=1, info=info)

    def on_train_end(self, net: Any, history: History) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def on_exception(self, net: Any, history: History, exc: BaseException) -> None:
        self.on_train_end(net, history)
