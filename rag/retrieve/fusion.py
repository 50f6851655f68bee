"""Fusing the dense and lexical sides: weighted per-side z-scores over one candidate pool,
and picking the best positions of a score array in linear time."""

from __future__ import annotations

import numpy as np


def zscores(scores: np.ndarray) -> np.ndarray:
    std = float(scores.std())
    if std < 1e-9:
        return np.zeros_like(scores)
    return (scores - float(scores.mean())) / std


def top_positions(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the n highest scores, best first, ties in position order: what a stable
    full argsort gives, in linear time (a full sort of 100k scores cost 12 ms per query)."""
    if len(scores) <= n:
        return np.argsort(-scores, kind="stable")
    kth = np.partition(scores, len(scores) - n)[len(scores) - n]  # the n-th highest score
    above = np.flatnonzero(scores > kth)
    ties = np.flatnonzero(scores == kth)[: n - len(above)]
    pool = np.concatenate([above, ties])
    return pool[np.argsort(-scores[pool], kind="stable")]


def fuse(
    dense: dict[int, float], lexical: dict[int, float], dense_weight: float
) -> list[tuple[int, float]]:
    """Weighted sum of per-side z-scores over each side's candidates, best first.

    A candidate missing from one side gets that side's lowest z-score.
    """
    sides = []
    for weight, scores in ((dense_weight, dense), (1 - dense_weight, lexical)):
        if weight <= 0 or not scores:
            continue
        keys = list(scores)
        z = zscores(np.array([scores[k] for k in keys], dtype=np.float64))
        sides.append((weight, dict(zip(keys, z.tolist(), strict=True)), float(z.min())))
    candidates = set(dense) | set(lexical)
    fused = {c: sum(w * zmap.get(c, floor) for w, zmap, floor in sides) for c in candidates}
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
