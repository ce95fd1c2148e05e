"""Sweeps: grids of independent, deterministic training runs, locally or on a Dask cluster.

The lecture's question — which activation and which initialisation keep the gradients of the
early layers alive as a network gets deeper — is answered by grids of runs: activation ×
depth × init × η × seeds. A :class:`Sweep` declares such a grid (in Python, a TOML file or on
the command line); :func:`run_sweep` runs every grid point × seed as one task and streams the
results, one row per task, into a tidy table file. One job a module:

:mod:`~nnmath.sweep.spec`
    The grid and its checks (:class:`Sweep`, :data:`PARAMETERS`, :func:`load_sweep`).
:mod:`~nnmath.sweep.task`
    One task and its determinism. Every task's random numbers come from a
    ``numpy.random.SeedSequence`` whose entropy is a hash of the task's resolved parameters
    (data set, measurement and every network and training parameter) and whose spawn key is
    the seed index. Each task also runs its BLAS on one thread. A result therefore never
    depends on the process, machine or order it ran in.
:mod:`~nnmath.sweep.engines`
    Execution. ``scheduler=None``: local worker processes through joblib (``n_jobs``; 1 runs
    in this process). ``scheduler="tcp://HOST:PORT"``: a running ``dask.distributed``
    scheduler. Tasks carry only their parameters; each worker process loads a data set once
    and keeps it in a per-process cache (:func:`cache_info`).
:mod:`~nnmath.sweep.table`
    Results. One row per task (its ``key``, the parameters, the metrics, ``wall_time`` and
    ``worker``) appended to a CSV or JSON-lines file as soon as it arrives, so an interrupted
    sweep loses nothing and ``resume=True`` runs only the missing tasks. With a ``.parquet``
    output the rows stream into a ``.jsonl`` file beside it and the Parquet file is written at
    the end.
:mod:`~nnmath.sweep.run`
    :func:`run_sweep`, which ties these together.
:mod:`~nnmath.sweep.summary`
    :func:`summarize`: mean and standard deviation over seeds.

Measurements
    ``train``
        Final ``training_cost``, ``validation_accuracy`` and ``test_accuracy``, and the
        per-epoch training cost and validation accuracy (JSON columns ``epoch_costs``,
        ``epoch_accuracies``). A run whose cost became NaN has ``diverged`` true and the
        metrics of its last finite epoch.
    ``vanishing``
        The same, plus Nielsen's "speed of learning" of every layer, ``‖∂C/∂b^l‖`` over the
        training rows (``nnmath.diagnostics.gradient_norms``): at initialisation as columns
        ``speed_l1 … speed_lD`` (hidden layers) and ``speed_out``, and after every epoch in the
        JSON column ``speeds`` (``speeds[e][l]``, epoch 0 being the initial network).
"""

from __future__ import annotations

from .run import SweepResult, run_sweep
from .spec import MEASURES, PARAMETERS, Sweep, SweepError, load_sweep
from .summary import summarize
from .table import read_results
from .task import Task, cache_info, run_task

__all__ = [
    "MEASURES",
    "PARAMETERS",
    "Sweep",
    "SweepError",
    "SweepResult",
    "Task",
    "cache_info",
    "load_sweep",
    "read_results",
    "run_sweep",
    "run_task",
    "summarize",
]
