"""Training one rung of the chapter-6 ladder: its networks, their test accuracy after every
epoch, the vote of several, and (with a work folder) results and checkpoints kept on disk so
that a long rung stops and goes on later."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._ch6_ladder import MINI_BATCH, Rung, build_network, nnmath_lmbda

__all__ = ["Protocol", "Trainer"]


@dataclass(frozen=True)
class Protocol:
    """How much of each rung runs: the full book, or a quick smoke check."""

    n_train: int | None
    n_test: int | None
    epochs: int | None  # None: the rung's own
    nets: int | None  # None: the rung's own
    n_expanded: int | None = None  # images expanded by shifts (None: n_train)
    dtype: str = "float32"
    backend: str = "numpy"  # the array backend the networks train on
    device: str | None = None


class Trainer:
    """Trains the rungs' networks on one data set, each (rung protocol, seed) once per run.

    Rung 8 votes with five networks of rung 7's protocol; the first of them, trained at rung
    7, is not trained again. With ``work_dir`` each network's record is written there as JSON
    when it finishes, and read back instead of training it again; its model is saved beside
    it (``nnmath.io.save``) and its fit keeps a checkpoint to resume from.
    """

    def __init__(self, data: Any, protocol: Protocol, work_dir: Path | None = None) -> None:
        self.data, self.protocol, self.work_dir = data, protocol, work_dir
        self._done: dict[str, tuple[dict[str, Any], Any]] = {}
        self._expanded: tuple[Any, Any] | None = None
        if work_dir is not None:
            work_dir.mkdir(parents=True, exist_ok=True)

    def rung(self, rung: Rung, seed: int) -> dict[str, Any]:
        """The rung's record: each network's record (``runs``) and, for several, their vote."""
        nets = 1 if rung.nets == 1 else (self.protocol.nets or rung.nets)
        results = [self._network(rung, seed + i) for i in range(nets)]
        record: dict[str, Any] = {"rung": rung.number, "runs": [r for r, _ in results]}
        if nets > 1:
            from ..ensemble import Ensemble

            Xt, yt = self._test()
            record["vote"] = float(Ensemble([net for _, net in results]).accuracy(Xt, yt))
        return record

    def _key(self, rung: Rung, seed: int) -> str:
        """One network's name, with the protocol's size: rung 8's networks are rung 7's."""
        p, same = self.protocol, rung.number - 1 if rung.nets > 1 else rung.number
        size = f"{p.n_train or 'all'}x{p.epochs or rung.epochs}-{p.dtype}"
        where = "" if p.backend == "numpy" else f"-{p.backend}-{p.device or 'default'}"
        return f"rung{same}-seed{seed}-{size}{where}"

    def _network(self, rung: Rung, seed: int) -> tuple[dict[str, Any], Any]:
        key = self._key(rung, seed)
        if key not in self._done:
            self._done[key] = self._load(key) or self._train(rung, seed, key)
        return self._done[key]

    def _train(self, rung: Rung, seed: int, key: str) -> tuple[dict[str, Any], Any]:
        """Train one network; test accuracy after every epoch (the book's figures)."""
        p = self.protocol
        X, y = self._training(rung)
        Xv, yv = self.data.validation[0][: p.n_test], self.data.validation[1][: p.n_test]
        Xt, yt = self._test()
        net = build_network(rung, (1, 28, 28), seed, p.dtype, p.backend, p.device)

        def track(net: Any, history: Any, epoch: int) -> None:
            # kept in the history, which the checkpoint saves: a resumed run has every epoch's
            history.extra.setdefault("test_accuracy", []).append(float(net.accuracy(Xt, yt)))

        files = self._files(key)
        t0 = time.perf_counter()
        history = net.fit(
            X,
            y,
            epochs=p.epochs or rung.epochs,
            mini_batch_size=MINI_BATCH,
            eta=rung.eta,
            lmbda=nnmath_lmbda(rung.lmbda),
            validation_data=(Xv, yv),
            seed=seed,
            callbacks=[track],
            **files,
        )
        best = int(np.argmax(history.validation_accuracy))
        test = list(history.extra.get("test_accuracy", []))
        record = {
            "key": key,
            "seed": seed,
            "n_train": int(X.shape[0]),
            "test": test,
            "validation": list(history.validation_accuracy),
            "best_epoch": best + 1,
            "test_at_best_validation": test[best] if len(test) > best else None,
            "best_test": max(test) if test else None,
            "training_cost": [float(c) for c in history.training_cost],
            "seconds_per_epoch": float(np.median(history.epoch_time)),
            "wall_seconds": time.perf_counter() - t0,
            "train_path": history.extra.get("train_path"),
            "backend": p.backend,
            "device": str(getattr(net.backend, "device", p.device)),
        }
        self._save(key, record, net)
        return record, net

    def _training(self, rung: Rung) -> tuple[Any, Any]:
        """The first ``n_train`` training images, expanded by one-pixel shifts if the rung is."""
        p = self.protocol
        n = p.n_expanded if rung.expanded and p.n_expanded else p.n_train
        X, y = self.data.train[0][:n], self.data.train[1][:n]
        if not rung.expanded:
            return X, y
        if self._expanded is None:
            from ..data import expand

            self._expanded = expand(X, y, shifts=1, image_shape=(28, 28))
        return self._expanded

    def _test(self) -> tuple[Any, Any]:
        n = self.protocol.n_test
        return self.data.test[0][:n], self.data.test[1][:n]

    def _files(self, key: str) -> dict[str, Any]:
        """fit's checkpoint (and resume, when one is there) in the work folder."""
        if self.work_dir is None:
            return {}
        path = self.work_dir / f"{key}.checkpoint.safetensors"
        return {"checkpoint": path, **({"resume": path} if path.exists() else {})}

    def _save(self, key: str, record: dict[str, Any], net: Any) -> None:
        if self.work_dir is None:
            return
        from .._files import atomic_write
        from ..io import save

        save(net, self.work_dir / f"{key}.safetensors")
        with atomic_write(self.work_dir / f"{key}.json", "w", encoding="utf-8") as f:
            f.write(json.dumps(record, indent=1))

    def _load(self, key: str) -> tuple[dict[str, Any], Any] | None:
        """A network finished in an earlier run of the same work folder, or None."""
        if self.work_dir is None:
            return None
        record_path = self.work_dir / f"{key}.json"
        model_path = self.work_dir / f"{key}.safetensors"
        if not (record_path.exists() and model_path.exists()):
            return None
        from ..io import load

        return json.loads(record_path.read_text()), load(model_path)
