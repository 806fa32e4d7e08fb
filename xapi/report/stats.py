"""The few statistics the report needs, without SciPy: Student's t quantile, means with their
95% confidence interval, and paired differences with Cohen's d_z.

The t quantile is exact (to 1e-12), not an approximation: for an integer number of degrees of
freedom ν the two-sided t distribution function has a closed form as a finite trigonometric
series (Abramowitz & Stegun 1964, 26.7.3 and 26.7.4), which is inverted by bisection. Every
degree of freedom here is an integer (n − 1).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache


def t_central_probability(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with ``df`` (≥ 1, integer) degrees of freedom (A&S 26.7.3/4)."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if t <= 0:
        return 0.0
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2 == 1:
        if df == 1:
            return 2 * theta / math.pi
        term = total = 1.0
        for k in range(1, (df - 3) // 2 + 1):
            term *= (2 * k) / (2 * k + 1) * c2
            total += term
        return 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * total)
    term = total = 1.0
    for k in range(1, (df - 2) // 2 + 1):
        term *= (2 * k - 1) / (2 * k) * c2
        total += term
    return math.sin(theta) * total


@lru_cache(maxsize=1024)
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (0.5 < p < 1) of Student's t with ``df`` degrees of freedom."""
    if not 0.5 < p < 1:
        raise ValueError("p must be between 0.5 and 1")
    target = 2 * p - 1
    low, high = 0.0, 1.0
    while t_central_probability(high, df) < target:
        low, high = high, high * 2
    for _ in range(200):
        mid = (low + high) / 2
        if t_central_probability(mid, df) < target:
            low = mid
        else:
            high = mid
        if high - low < 1e-12:
            break
    return (low + high) / 2


@dataclass(frozen=True)
class Summary:
    """n, mean, SD (n − 1) and the 95% CI of the mean (t with n − 1 df); ``d_z`` = mean / SD,
    Cohen's standardised mean of paired differences (meaningful for differences only)."""

    n: int
    mean: float | None
    sd: float | None
    ci_low: float | None
    ci_high: float | None

    @property
    def d_z(self) -> float | None:
        if self.mean is None or not self.sd:
            return None
        return self.mean / self.sd


def summarise(values: Iterable[float]) -> Summary:
    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(xs)
    if n == 0:
        return Summary(0, None, None, None, None)
    mean = math.fsum(xs) / n
    if n == 1:
        return Summary(1, mean, None, None, None)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile(0.975, n - 1) * sd / math.sqrt(n)
    return Summary(n, mean, sd, mean - half, mean + half)
