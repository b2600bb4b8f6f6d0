"""minir1.stats against hand-computed and published values."""

import itertools
import math

import pytest

from minir1.stats import majority_vote, mcnemar, pass_at_k, wilson


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Newcombe (1998), Table I, method 3 (Wilson score), and the closed form by hand
        (0, 10, 0.0, 0.2775),
        (1, 10, 0.0179, 0.4042),
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        (81, 263, 0.2553, 0.3662),
    ],
)
def test_wilson_matches_published_values(successes, n, low, high):
    got = wilson(successes, n)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_wilson_by_the_formula_and_edge_cases():
    z = 1.959963984540054
    p, n = 0.3, 50
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert wilson(15, 50) == pytest.approx((centre - half, centre + half))
    assert wilson(0, 0) == (0.0, 1.0)
    low, high = wilson(2.5, 10)  # a mean score in [0, 1] over 10 problems
    assert 0 < low < 0.25 < high < 1
    with pytest.raises(ValueError):
        wilson(11, 10)


@pytest.mark.parametrize(
    ("b", "c", "p_exact"),
    [
        (0, 0, 1.0),
        (0, 6, 2 / 64),  # 2 * P(X <= 0), X ~ Bin(6, 1/2)
        (1, 9, 2 * 11 / 1024),  # 2 * (1 + 10) / 2^10
        (2, 8, 2 * 56 / 1024),  # 2 * (1 + 10 + 45) / 2^10
        (5, 5, 1.0),
        (9, 1, 2 * 11 / 1024),  # symmetric
    ],
)
def test_mcnemar_exact_p(b, c, p_exact):
    assert mcnemar(b, c).p_exact == pytest.approx(p_exact, rel=1e-12)


def test_mcnemar_chi_square_with_continuity_correction():
    t = mcnemar(2, 8)
    assert t.chi2 == pytest.approx((abs(2 - 8) - 1) ** 2 / 10)  # 2.5
    assert t.p_chi2 == pytest.approx(0.113846, abs=1e-6)  # chi-square(1) survival at 2.5
    assert mcnemar(3, 3).p_chi2 == pytest.approx(1.0)
    with pytest.raises(ValueError):
        mcnemar(-1, 2)


@pytest.mark.parametrize(("n", "c", "k", "expected"), [
    (10, 3, 1, 0.3), (5, 2, 2, 1 - 3 / 10), (4, 0, 4, 0.0), (4, 1, 4, 1.0), (4, 3, 2, 1.0), (8, 8, 3, 1.0),
])
def test_pass_at_k_hand_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


@pytest.mark.parametrize(("n", "c"), [(6, 0), (6, 2), (6, 5), (7, 3)])
def test_pass_at_k_is_the_fraction_of_k_subsets_holding_a_right_sample(n, c):
    samples = [True] * c + [False] * (n - c)
    for k in range(1, n + 1):
        subsets = list(itertools.combinations(samples, k))
        assert pass_at_k(n, c, k) == pytest.approx(sum(any(s) for s in subsets) / len(subsets))


def test_pass_at_k_rejects_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)


def test_majority_vote_ties_go_to_the_first_seen():
    assert majority_vote(["18", "19", "19", "18"]) == "18"
    assert majority_vote(["19", "18", "18"]) == "18"
    assert majority_vote([None, "7", None, None]) == "7"
    assert majority_vote([None, None]) is None
    assert majority_vote([]) is None
