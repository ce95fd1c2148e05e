"""What an experiment returns: its claims, each checked by a number against a stated threshold,
and the tables and series behind them, as Markdown or plain JSON values."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Claim", "Report", "Table", "VERDICTS"]

#: a claim's verdicts: the measured number passes the paper's own threshold, or does not; a
#: quick protocol's looser threshold (below the paper's number) passes or does not; the
#: source's own numbers contradict the printed one (ours agrees with what they give)
REPRODUCED, NOT_REPRODUCED = "reproduced", "not reproduced"
SMOKE_PASSED, SMOKE_FAILED = "smoke check passed", "smoke check failed"
INCONSISTENT = "source inconsistent"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, SMOKE_PASSED, SMOKE_FAILED, INCONSISTENT)
#: the verdicts that do not fail a run (exit code 0)
_PASSING = (REPRODUCED, SMOKE_PASSED, INCONSISTENT)


@dataclass
class Claim:
    """One claim of a paper, checked by one measured number.

    Attributes
    ----------
    key : str
        Short identifier (``"top-layer-saturates"``).
    statement : str
        The claim in words, as the paper makes it.
    paper : str
        The paper's own number or words (``"95.42 % (one run)"``, ``"→ 0 (Fig. 2)"``).
    measured : float
        Our number.
    test : str
        The threshold the measured number is held to (``"≥ 0.95"``).
    reproduced : bool
        Whether ``measured`` reproduces the paper: it passes ``test`` and ``test`` holds it to
        the paper's number (``False`` for a smoke check or an inconsistent source).
    detail : str
        What ``measured`` is (which layer, which seeds, …).
    digits : int
        Significant digits ``measured`` is shown with (0: as a percentage, two decimals).
    verdict : str
        One of :data:`VERDICTS` (default: ``"reproduced"`` or ``"not reproduced"``, from
        ``reproduced``).
    """

    key: str
    statement: str
    paper: str
    measured: float
    test: str
    reproduced: bool
    detail: str = ""
    digits: int = 4
    verdict: str = ""

    def __post_init__(self) -> None:
        if not self.verdict:
            self.verdict = REPRODUCED if self.reproduced else NOT_REPRODUCED
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}: choose one of {VERDICTS}")
        self.reproduced = self.verdict == REPRODUCED

    @property
    def passed(self) -> bool:
        """Whether the claim does not fail the run: reproduced, a smoke check passed, or a
        source that contradicts itself."""
        return self.verdict in _PASSING

    def as_smoke_check(self) -> Claim:
        """The claim judged by a quick protocol's threshold, below the paper's number: a
        pass is a smoke check passed, never a reproduction."""
        passed = self.verdict == REPRODUCED
        self.verdict = SMOKE_PASSED if passed else SMOKE_FAILED
        self.reproduced = False
        return self

    @property
    def shown(self) -> str:
        """``measured`` as the report prints it."""
        return _fmt(self.measured, self.digits)

    @classmethod
    def at_least(
        cls,
        key: str,
        statement: str,
        paper: str,
        measured: float,
        bound: float,
        detail: str = "",
        digits: int = 4,
    ) -> Claim:
        """Reproduced when ``measured ≥ bound``."""
        ok = bool(measured >= bound)
        return cls(
            key, statement, paper, float(measured), f"≥ {_fmt(bound, digits)}", ok, detail, digits
        )

    @classmethod
    def at_most(
        cls,
        key: str,
        statement: str,
        paper: str,
        measured: float,
        bound: float,
        detail: str = "",
        digits: int = 4,
    ) -> Claim:
        """Reproduced when ``measured ≤ bound``."""
        ok = bool(measured <= bound)
        return cls(
            key, statement, paper, float(measured), f"≤ {_fmt(bound, digits)}", ok, detail, digits
        )

    @classmethod
    def between(
        cls,
        key: str,
        statement: str,
        paper: str,
        measured: float,
        low: float,
        high: float,
        detail: str = "",
        digits: int = 4,
    ) -> Claim:
        """Reproduced when ``low ≤ measured ≤ high``."""
        ok = bool(low <= measured <= high)
        test = f"in [{_fmt(low, digits)}, {_fmt(high, digits)}]"
        return cls(key, statement, paper, float(measured), test, ok, detail, digits)

    @classmethod
    def same_digits(
        cls, key: str, statement: str, paper: str, measured: float, detail: str = ""
    ) -> Claim:
        """Reproduced when ``measured`` rounds to the paper's number at the paper's digits.

        ``paper`` is the number as the paper prints it (``"0.35891648"``): its count of
        decimals is the precision asked for.
        """
        decimals = len(paper.split(".")[1]) if "." in paper else 0
        ok = bool(f"{measured:.{decimals}f}" == paper)
        return cls(
            key,
            statement,
            paper,
            float(measured),
            f"= {paper} to {decimals} decimals",
            ok,
            detail,
            digits=decimals + 3,
        )


@dataclass
class Table:
    """A table of the report: a title, column names and rows of already formatted cells."""

    title: str
    columns: list[str]
    rows: list[list[str]]

    def to_markdown(self) -> str:
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.columns) + " |"]
        lines.append("|" + "---|" * len(self.columns))
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines)


@dataclass
class Report:
    """The result of one experiment.

    Attributes
    ----------
    name, title, source : str
        The experiment's registry name, its title and the paper it reproduces.
    protocol : str
        What was run (and where it is reduced from the paper's protocol, why).
    quick : bool
        Whether the reduced ``--quick`` protocol ran.
    seeds : list of int
    claims : list of Claim
    tables : list of Table
    series : dict
        The measured curves and histograms (plain lists), for figures and ``--json``.
    notes : list of str
        What the paper shows that this protocol does not check.
    figures : list of str
        Paths of the figures written (filled by :func:`nnmath.reproduce.plot`).
    seconds : float
        Wall time of the run.
    """

    name: str
    title: str
    source: str
    protocol: str
    quick: bool
    seeds: list[int]
    claims: list[Claim] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    series: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def reproduced(self) -> bool:
        """True when the paper was really reproduced: every claim reproduced, except those
        whose source contradicts itself (and at least one did)."""
        verdicts = {c.verdict for c in self.claims}
        return REPRODUCED in verdicts and verdicts <= {REPRODUCED, INCONSISTENT}

    @property
    def passed(self) -> bool:
        """True when no claim failed (the exit code of ``nnmath reproduce`` is then 0)."""
        return all(c.passed for c in self.claims)

    @property
    def verdict(self) -> str:
        """The run's verdict: ``"not reproduced"`` (or ``"smoke check failed"``) when a claim
        failed, else ``"smoke check passed"`` when a claim was only a smoke check, else
        ``"reproduced"`` (``"source inconsistent"`` when no claim could be)."""
        verdicts = [c.verdict for c in self.claims]
        for verdict in (NOT_REPRODUCED, SMOKE_FAILED, SMOKE_PASSED, REPRODUCED):
            if verdict in verdicts:
                return verdict
        return INCONSISTENT if verdicts else NOT_REPRODUCED

    def summary(self) -> str:
        """``"2 of 3 claims reproduced, 1 source inconsistent"``: the count of each verdict."""
        counts = {v: sum(c.verdict == v for c in self.claims) for v in VERDICTS}
        n = len(self.claims)
        parts = [f"{counts[REPRODUCED]} of {n} claims reproduced"]
        parts += [f"{counts[v]} {v}" for v in VERDICTS[1:] if counts[v]]
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values (JSON-ready; NaN and infinities become ``None``)."""
        out = asdict(self)
        out["reproduced"] = self.reproduced
        out["verdict"] = self.verdict
        return _finite(out)

    def to_markdown(self) -> str:
        """The report: protocol, one row per claim (paper beside ours, verdict), tables."""
        mode = "quick (reduced) protocol" if self.quick else "full protocol"
        seeds = f"seeds {', '.join(map(str, self.seeds))}" if self.seeds else "no random draw"
        lines = [
            f"### {self.name}: {self.title}",
            "",
            f"*{self.source}* — {mode}, {seeds}, "
            f"{self.seconds:.1f} s; **{self.verdict}**: {self.summary()}.",
            "",
            self.protocol,
            "",
            "| claim | paper | ours | test | verdict |",
            "|---|---|---:|---|---|",
        ]
        for c in self.claims:
            what = c.statement + (f" ({c.detail})" if c.detail else "")
            verdict = c.verdict if c.passed else f"**{c.verdict}**"
            lines.append(f"| {what} | {c.paper} | {c.shown} | {c.test} | {verdict} |")
        for t in self.tables:
            lines += ["", t.to_markdown()]
        if self.figures:
            lines += [""] + [f"![{self.name}]({path})" for path in self.figures]
        if self.notes:
            lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def _fmt(v: float, digits: int) -> str:
    return f"{v:.2%}" if digits == 0 else f"{v:.{digits}g}"


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj
