"""Honest statistics for accuracy figures: Wilson intervals, McNemar's paired test, pass@k, majority vote.

Pure Python (``math`` only), exact where it can be. The Wilson interval, unlike the normal approximation,
stays inside [0, 1] and is not zero-width at 0/n or n/n, where small evaluations live.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal: a two-sided 95% interval


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval ``(low, high)`` for ``successes`` out of ``n`` (95% by default).

    ``successes`` may be fractional (a mean score times ``n``); ``n == 0`` gives ``(0.0, 1.0)``.

    >>> [round(x, 4) for x in wilson(5, 10)], wilson(0, 10)[1] > 0 and wilson(10, 10)[0] < 1
    ([0.2366, 0.7634], True)
    """
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, n], got {successes} of {n}")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # clamp float round-off at the ends (0/n and n/n are exact there)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class McNemar:
    """McNemar's test: ``b`` problems only the first model got right, ``c`` only the second;
    ``p_exact`` the exact two-sided binomial p-value, ``chi2`` and ``p_chi2`` the
    continuity-corrected chi-square (1 degree of freedom) beside it."""

    b: int
    c: int
    p_exact: float
    chi2: float
    p_chi2: float


def mcnemar(b: int, c: int) -> McNemar:
    """McNemar's test for ``b`` and ``c`` discordant pairs (see :class:`McNemar`).

    >>> mcnemar(0, 0).p_exact, round(mcnemar(0, 6).p_exact, 5), round(mcnemar(1, 9).p_exact, 4)
    (1.0, 0.03125, 0.0215)
    """
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be non-negative, got {b} and {c}")
    n = b + c
    if n == 0:
        return McNemar(b, c, 1.0, 0.0, 1.0)
    # Under "no difference" each disagreement goes either way with probability 1/2: the p-value
    # is a doubled binomial tail, in exact integers until the last division.
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
    p_exact = min(1.0, 2 * tail / 2**n)
    chi2 = max(abs(b - c) - 1, 0) ** 2 / n
    # survival function of chi-square with 1 degree of freedom: P(|N(0,1)| > sqrt(x))
    p_chi2 = math.erfc(math.sqrt(chi2 / 2))
    return McNemar(b, c, p_exact, chi2, p_chi2)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of ``k`` samples drawn from ``n`` (``c`` right) is right:
    the unbiased estimator of Chen et al. (2021), ``1 - C(n-c, k) / C(n, k)``.

    >>> pass_at_k(10, 0, 5), pass_at_k(10, 10, 1), round(pass_at_k(10, 3, 1), 6), pass_at_k(4, 1, 2)
    (0.0, 1.0, 0.3, 0.5)
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)  # comb is 0 when every draw holds a right one


def majority_vote(answers: Sequence[str | None]) -> str | None:
    """The most frequent answer, ignoring None; a tie goes to the answer that appears first.

    >>> majority_vote(["18", None, "19", "19", "18"]), majority_vote([None, None])
    ('18', None)
    """
    counts = Counter(a for a in answers if a is not None)
    return counts.most_common(1)[0][0] if counts else None  # equal counts keep first-seen order
