"""What an experiment returns: its claims, each checked by a number against a stated threshold,
and the tables and series behind them, as Markdown or plain JSON values."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Claim", "Report", "Table"]


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
        Whether ``measured`` passes ``test``.
    detail : str
        What ``measured`` is (which layer, which seeds, …).
    digits : int
        Significant digits ``measured`` is shown with (0: as a percentage, two decimals).
    """

    key: str
    statement: str
    paper: str
    measured: float
    test: str
    reproduced: bool
    detail: str = ""
    digits: int = 4

    @property
    def shown(self) -> str:
        """``measured`` as the report prints it."""
        return _fmt(self.measured, self.digits)

    @classmethod
    def at_least(cls, key: str, statement: str, paper: str, measured: float, bound: float,
                 detail: str = "", digits: int = 4) -> Claim:  # fmt: skip
        """Reproduced when ``measured ≥ bound``."""
        ok = bool(measured >= bound)
        return cls(key, statement, paper, float(measured), f"≥ {_fmt(bound, digits)}", ok,
                   detail, digits)  # fmt: skip

    @classmethod
    def at_most(cls, key: str, statement: str, paper: str, measured: float, bound: float,
                detail: str = "", digits: int = 4) -> Claim:  # fmt: skip
        """Reproduced when ``measured ≤ bound``."""
        ok = bool(measured <= bound)
        return cls(key, statement, paper, float(measured), f"≤ {_fmt(bound, digits)}", ok,
                   detail, digits)  # fmt: skip

    @classmethod
    def between(cls, key: str, statement: str, paper: str, measured: float, low: float,
                high: float, detail: str = "", digits: int = 4) -> Claim:  # fmt: skip
        """Reproduced when ``low ≤ measured ≤ high``."""
        ok = bool(low <= measured <= high)
        test = f"in [{_fmt(low, digits)}, {_fmt(high, digits)}]"
        return cls(key, statement, paper, float(measured), test, ok, detail, digits)

    @classmethod
    def same_digits(cls, key: str, statement: str, paper: str, measured: float,
                    detail: str = "") -> Claim:  # fmt: skip
        """Reproduced when ``measured`` rounds to the paper's number at the paper's digits.

        ``paper`` is the number as the paper prints it (``"0.35891648"``): its count of
        decimals is the precision asked for.
        """
        decimals = len(paper.split(".")[1]) if "." in paper else 0
        ok = bool(f"{measured:.{decimals}f}" == paper)
        return cls(key, statement, paper, float(measured), f"= {paper} to {decimals} decimals",
                   ok, detail, digits=decimals + 3)  # fmt: skip


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
        """True when every claim reproduced."""
        return all(c.reproduced for c in self.claims)

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values (JSON-ready; NaN and infinities become ``None``)."""
        out = asdict(self)
        out["reproduced"] = self.reproduced
        return _finite(out)

    def to_markdown(self) -> str:
        """The report: protocol, one row per claim (paper beside ours, verdict), tables."""
        mode = "quick (reduced) protocol" if self.quick else "full protocol"
        n_ok = sum(c.reproduced for c in self.claims)
        seeds = f"seeds {', '.join(map(str, self.seeds))}" if self.seeds else "no random draw"
        lines = [
            f"### {self.name}: {self.title}",
            "",
            f"*{self.source}* — {mode}, {seeds}, "
            f"{self.seconds:.1f} s; **{n_ok} of {len(self.claims)} claims reproduced**.",
            "",
            self.protocol,
            "",
            "| claim | paper | ours | test | verdict |",
            "|---|---|---:|---|---|",
        ]
        for c in self.claims:
            what = c.statement + (f" ({c.detail})" if c.detail else "")
            verdict = "reproduced" if c.reproduced else "**not reproduced**"
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
