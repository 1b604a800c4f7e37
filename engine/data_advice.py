"""What the teaching warnings need to know about a table's training data, and the rules over it.

`profile(X, y, ...)` summarises the encoded training inputs the network will see (one entry per
input unit) and the class counts; it is JSON, so a dataset record can keep it and a plan can
read it back without the arrays. The predicates below take a `Setup` (engine/advice.py) and
look at its `data`, that profile; `engine.advice.RULES` lists them beside the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

# A standardised input has mean 0 and spread 1; one this far off dominates z = W·a + b at the
# start and makes the others' gradients look tiny, so training crawls along its axis.
UNSCALED_MEAN = 3.0
UNSCALED_STD = 3.0
IMBALANCE_RATIO = 10  # the most common class has this many times the rarest one's samples
LISTED = 5  # names shown in a warning; the rest are counted


def profile(X: np.ndarray, y: np.ndarray | None = None, *, feature_names: Sequence[str],
            classes: Sequence[str] | None = None) -> dict:
    """{"constant": [names], "unscaled": [{name, mean, std}], "class_counts": {class: n} | None}
    of the training inputs X (n, features) and labels y (class indexes, for classification)."""
    mean, std = X.mean(axis=0, dtype=np.float64), X.std(axis=0, dtype=np.float64)
    names = list(feature_names)
    unscaled = [{"name": names[j], "mean": float(mean[j]), "std": float(std[j])}
                for j in range(len(names))
                if abs(mean[j]) > UNSCALED_MEAN or std[j] > UNSCALED_STD]
    counts = None
    if classes is not None and y is not None:
        tally = np.bincount(np.asarray(y, dtype=np.int64), minlength=len(classes))
        counts = {str(name): int(n) for name, n in zip(classes, tally, strict=True)}
    return {"constant": [names[j] for j in np.flatnonzero(std == 0)], "unscaled": unscaled,
            "class_counts": counts}


def _named(names: Sequence[str]) -> str:
    shown = ", ".join(repr(name) for name in names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


def constant_columns(setup) -> dict | None:
    names = list((setup.data or {}).get("constant") or [])
    return {"count": len(names), "names": _named(names)} if names else None


def unscaled_columns(setup) -> dict | None:
    found = list((setup.data or {}).get("unscaled") or [])
    if not found:
        return None
    worst = max(found, key=lambda item: max(abs(item["mean"]), item["std"]))
    return {"count": len(found), "names": _named([item["name"] for item in found]),
            "worst": worst["name"], "mean": worst["mean"], "std": worst["std"]}


def class_imbalance(setup) -> dict | None:
    counts: Mapping[str, int] = (setup.data or {}).get("class_counts") or {}
    if setup.task != "classification" or len(counts) < 2:
        return None
    rare, common = min(counts, key=counts.get), max(counts, key=counts.get)
    if counts[common] < IMBALANCE_RATIO * max(counts[rare], 1):
        return None
    share = counts[common] / sum(counts.values())
    return {"rare": rare, "rare_count": counts[rare], "common": common,
            "common_count": counts[common], "share": share}
