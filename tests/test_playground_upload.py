"""The playground's CSV upload at the edges of float64: every finite column is rescaled onto
[-1, 1] by an order-keeping affine map, without overflow; ±∞ and NaN are refused by line and
column; a constant column becomes 0."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from nnmath.playground import ConfigError
from nnmath.playground.upload import parse_csv

BIG = float(np.finfo(np.float64).max)  # 1.7976931348623157e308
TINY = float(np.finfo(np.float64).smallest_subnormal)  # 5e-324


def rescaled(column: list[float]) -> tuple[np.ndarray, dict]:
    """``column`` as feature 1 of an upload (feature 2 counts the rows), rescaled, in row
    order, with the summary."""
    text = "x,y,label\n" + "".join(f"{v!r},{i},{i % 2}\n" for i, v in enumerate(column))
    data, summary = parse_csv(text, 0.5, seed=0)
    X = np.concatenate([data.X_train, data.X_test])
    order = np.argsort(np.concatenate([data.X_train, data.X_test])[:, 1])  # y is the row
    return X[order, 0], summary


@pytest.mark.parametrize(
    "column",
    [
        [BIG, -BIG, 1e308, -1e308, 0.0, 1e300, -1.7e308, 3.0],  # the range overflows float64
        [BIG, BIG * 0.9, BIG * 0.8, BIG * 0.7, BIG * 0.99],  # all near the top: lo + hi overflows
        [-BIG, -BIG * 0.5, -BIG * 0.25, -1e307],
        [TINY, 2 * TINY, 3 * TINY, 0.0, -TINY],  # subnormals: the range is 5e-324 steps
        [1e-300, -1e-300, 5e-301, 0.0],
        [1.0, 2.0, 3.0, 4.0],
    ],
)
def test_extreme_finite_columns_rescale_onto_minus_one_one_in_order(column):
    x, summary = rescaled(column)
    assert np.all(np.isfinite(x))
    assert x.min() == -1.0 and x.max() == 1.0  # before the fix: every value 0 or -0.0
    assert np.all(np.diff(x[np.argsort(column)]) >= 0)  # the order of the values is kept
    lo, hi = Fraction(min(column)), Fraction(max(column))  # exact: no float is rounded
    expected = [float(2 * (Fraction(v) - lo) / (hi - lo) - 1) for v in column]
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-12)
    assert summary["ranges"][0] == [min(column), max(column)]


@pytest.mark.parametrize("value", [BIG, -BIG, 0.0, 1e-320, 42.0])
def test_a_constant_column_becomes_zero(value):
    x, _ = rescaled([value] * 6)
    assert np.all(x == 0.0) and not np.any(np.signbit(x))


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "1e309", "-1e400", "Infinity"])
def test_infinite_and_nan_values_are_refused_by_line_and_column(text):
    rows = "x,y,label\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(5)) + f"7,{text},1\n"
    with pytest.raises(ConfigError, match=f"line 7, column 2: '{text}' is not finite"):
        parse_csv(rows, 0.5, seed=0)
