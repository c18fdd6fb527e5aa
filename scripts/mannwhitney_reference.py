#!/usr/bin/env python3
"""Reference figures for the canary judge's Mann-Whitney test, from scipy and numpy.

Reads JSON on stdin: {"cases": [{"canary": [...], "baseline": [...], "confidence": 0.98}, ...]}
Prints JSON: {"cases": [{"u", "p", "method", "median", "lower", "upper"}, ...]} where
- u, p: scipy.stats.mannwhitneyu(canary, baseline) (two-sided, its default method choice);
- method: the method that choice made ("exact" or "asymptotic");
- median: numpy's median of all canary - baseline differences;
- lower, upper: the confidence interval found by inverting scipy's own test: the shifts mu
  for which mannwhitneyu(canary - mu, baseline), with the same method, does not reject at
  1 - confidence, between consecutive distinct differences; the bounds are the differences
  at the ends of that run (the smallest and largest difference when no shift is rejected).

median, lower and upper come also as their IEEE 754 bits (median_bits, …): a JSON reader need
not parse decimals to the last bit for an exact comparison.

Exits 1 with a message naming the install command when scipy or numpy is missing.
"""

import json
import struct
import sys

try:
    import numpy as np
    from scipy.stats import mannwhitneyu
except ImportError as e:  # the caller shows this text
    sys.exit(
        f"mannwhitney_reference.py needs scipy and numpy ({e}): "
        "python3 -m pip install scipy==1.14.1 numpy==2.1.3"
    )


def chosen_method(canary, baseline):
    """scipy's own choice for method='auto' (scipy.stats._mannwhitneyu._mwu_choose_method)."""
    if len(canary) > 8 and len(baseline) > 8:
        return "asymptotic"
    both = np.concatenate([canary, baseline])
    if len(np.unique(both)) < len(both):
        return "asymptotic"
    return "exact"


def interval(canary, baseline, confidence, method):
    alpha = 1.0 - confidence
    differences = np.subtract.outer(canary, baseline).ravel()
    values = np.unique(differences)

    def shift(gap):
        """A shift inside gap g: below all differences (0), between values[g-1] and
        values[g], or above all (len(values))."""
        if gap == 0:
            return values[0] - 1.0
        if gap == len(values):
            return values[-1] + 1.0
        return (values[gap - 1] + values[gap]) / 2.0

    def accepted(gap):
        p = mannwhitneyu(canary - shift(gap), baseline, method=method).pvalue
        return p >= alpha

    # The gap holding the median difference is accepted (U is at its middle there); U moves
    # one way with the shift, so the accepted gaps form one run around it.
    middle = int(np.searchsorted(values, np.median(differences)))
    if not accepted(middle):
        middle += 1
    assert accepted(middle), "no accepted shift next to the median"
    lo, hi = 0, middle  # first accepted gap in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        if accepted(mid):
            hi = mid
        else:
            lo = mid + 1
    first = lo
    lo, hi = middle, len(values)  # last accepted gap in [lo, hi]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if accepted(mid):
            lo = mid
        else:
            hi = mid - 1
    last = lo
    lower = values[first - 1] if first > 0 else values[0]
    upper = values[last] if last < len(values) else values[-1]
    return float(lower), float(upper)


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def main():
    request = json.load(sys.stdin)
    out = []
    for case in request["cases"]:
        canary = np.asarray(case["canary"], dtype=float)
        baseline = np.asarray(case["baseline"], dtype=float)
        result = mannwhitneyu(canary, baseline)
        method = chosen_method(canary, baseline)
        lower, upper = interval(canary, baseline, case["confidence"], method)
        median = float(np.median(np.subtract.outer(canary, baseline).ravel()))
        out.append(
            {
                "u": float(result.statistic),
                "p": float(result.pvalue),
                "method": method,
                "median": median,
                "lower": lower,
                "upper": upper,
                "median_bits": bits(median),
                "lower_bits": bits(lower),
                "upper_bits": bits(upper),
            }
        )
    json.dump({"cases": out}, sys.stdout)


if __name__ == "__main__":
    main()
