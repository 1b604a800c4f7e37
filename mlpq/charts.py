"""Charts: probability bars and sparklines for a terminal, learning curves as a PNG (matplotlib)."""

from __future__ import annotations

from pathlib import Path

from engine.evaluation import HISTORY_METRICS, VALIDATION_PREFIX

BLOCKS = " ▁▂▃▄▅▆▇█"
BAR_WIDTH = 30
SPARK_WIDTH = 60
SERIES = (("loss", "loss"), ("val_loss", "val loss"), ("accuracy", "accuracy"),
          ("val_accuracy", "val accuracy"), ("rmse", "rmse"), ("val_rmse", "val rmse"),
          ("r2", "r2"), ("val_r2", "val r2"))  # a job has either accuracy or rmse and r2


def probability_bars(probabilities: list[float], classes: list[str], label: int) -> list[str]:
    """One line per class: name, a bar as long as its probability, the value; the winner marked."""
    width = max(len(name) for name in classes)
    lines = []
    for index, (name, p) in enumerate(zip(classes, probabilities, strict=True)):
        bar = "█" * round(p * BAR_WIDTH)
        mark = "◀" if index == label else " "
        lines.append(f"  {name:>{width}} {bar:<{BAR_WIDTH}} {p:6.1%} {mark}")
    return lines


def sparkline(values: list[float], width: int = SPARK_WIDTH) -> str:
    """The series squeezed into `width` block characters, low to high."""
    if len(values) > width:  # average into `width` buckets
        step = len(values) / width
        values = [sum(chunk) / len(chunk) for chunk in
                  (values[int(i * step):max(int((i + 1) * step), int(i * step) + 1)] for i in range(width))]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(BLOCKS[1 + round((value - low) / span * (len(BLOCKS) - 2))] for value in values)


def text_curves(history: list[dict]) -> list[str]:
    """A compact chart: one sparkline per series with its first, best and last value."""
    lines = [f"{len(history)} epochs"]
    for key, title in SERIES:
        values = [entry[key] for entry in history if entry.get(key) is not None]
        if values:
            best = min(values) if HISTORY_METRICS[key] == "min" else max(values)
            lines.append(f"{title:>12} {sparkline(values)}  {values[0]:.4f} → {values[-1]:.4f}"
                         f"  (best {best:.4f})")
    return lines


def score_metric(history: list[dict]) -> str:
    """The score a history is judged by: accuracy, or R² for a regression (which has none)."""
    return "accuracy" if any(entry.get("accuracy") is not None for entry in history) else "r2"


def plot_curves(history: list[dict], path: str, title: str) -> Path:
    """Loss and accuracy (regression: R²), train and validation, in two panels sharing the
    epoch axis."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    epochs = [entry["epoch"] for entry in history]
    score = score_metric(history)
    figure, (loss_axes, accuracy_axes) = pyplot.subplots(2, 1, sharex=True, figsize=(7, 6))
    for axes, keys, label in ((loss_axes, ("loss", "val_loss"), "loss"),
                              (accuracy_axes, (score, f"{VALIDATION_PREFIX}{score}"), score)):
        for key, style in zip(keys, ("-", "--"), strict=True):
            points = [(e, entry[key]) for e, entry in zip(epochs, history, strict=True)
                      if entry.get(key) is not None]
            if points:
                axes.plot(*zip(*points, strict=True), style, marker="." if len(points) < 50 else None,
                          label="validation" if key.startswith(VALIDATION_PREFIX) else "train")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        axes.legend()
    accuracy_axes.set_xlabel("epoch")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot.close(figure)
    return Path(path)
