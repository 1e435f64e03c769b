"""Class breaks: quantiles as mapclassify computes them, without importing it first."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from placekit.classes import breaks, quantile_bins

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import mapclassify


finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=1, max_size=300), st.integers(min_value=2, max_value=9))
def test_quantile_bins_equal_mapclassify(values: list[float], k: int) -> None:
    x = np.asarray(values)
    assume(np.unique(x).size > k)  # fewer distinct values: breaks() returns them, unclassified
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = mapclassify.Quantiles(x, k=k).bins
    np.testing.assert_allclose(
        quantile_bins(x, k), expected, rtol=0, atol=1e-9 * (1 + abs(x).max())
    )


def test_quantile_bins_equal_mapclassify_at_the_smallest_numbers() -> None:
    # found by the property test above: numpy.percentile and SciPy's scoreatpercentile round
    # the bound between -5e-324 and 5e-324 differently (0.0 against -5e-324)
    x = np.array(
        [1.0] * 4 + [2.0, 3.0, 4.0, 5.0, 6.0, 0.5, 5e-324] + [-1.0] * 6 + [-5e-324] * 3
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = mapclassify.Quantiles(x, k=9).bins
    assert quantile_bins(x, 9).tolist() == expected.tolist()


def test_quantile_bins_hand_worked() -> None:
    # 0..999 in quartiles: 249.75, 499.5, 749.25, 999 (mapclassify's own docstring example)
    assert quantile_bins(np.arange(1000), 4).tolist() == [249.75, 499.5, 749.25, 999.0]
    # ties collapse: five classes of nine 1s and a 2 are two bounds (80th percentile is 1)
    assert quantile_bins(np.array([1.0] * 9 + [2.0]), 5).tolist() == [1.0, 2.0]
    # and [1, 1, 1, 1, 2]: the 80th percentile interpolates to 1.2
    np.testing.assert_allclose(quantile_bins(np.array([1, 1, 1, 1, 2.0]), 5), [1.0, 1.2, 2.0])


def test_first_map_does_not_import_mapclassify() -> None:
    code = (
        "import sys, numpy as np; from placekit.classes import breaks; "
        "breaks(np.arange(100.0), k=5); assert 'mapclassify' not in sys.modules; "
        "breaks(np.arange(100.0), k=5, scheme='natural_breaks'); "
        "assert 'mapclassify' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_natural_breaks_still_by_mapclassify() -> None:
    x = np.array([1.0, 2, 3, 10, 11, 12, 30, 31, 32])
    assert breaks(x, k=3, scheme="natural_breaks") == [3.0, 12.0, 32.0]
