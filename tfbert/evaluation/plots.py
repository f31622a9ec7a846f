"""PNG plots of evaluation results: a confusion-matrix heat map, training curves and
pre-training progress.

Figures are drawn with `matplotlib.figure.Figure` on an Agg canvas, never through pyplot, so
nothing here changes the backend or global figure state of the calling program. matplotlib is
imported on first use: the metrics and reports work without it.
"""

from __future__ import annotations

import math

import numpy as np

from tfbert.evaluation.report import write_atomically


def _figure(width, height):
    """A new Figure with its own Agg canvas."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("Plots need matplotlib; install it with `pip install matplotlib`.") \
            from error
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save_png(figure, path):
    """Writes `figure` as a PNG at `path` atomically; returns `path`."""
    return write_atomically(path, lambda f: figure.savefig(f, format="png", dpi=100))


def plot_confusion_matrix(matrix, labels, path, normalize=True):
    """A heat map of `matrix` (rows true class, columns predicted) saved as a PNG at `path`.

    Every cell shows its count; with `normalize` the shading is the row-normalised fraction
    (recall per true class, so rare classes stay visible), otherwise the count. The figure grows
    with the number of classes and stays readable up to about 30. Returns `path`.
    """
    counts = np.asarray(matrix)
    labels = [str(label) for label in labels]
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] != len(labels):
        raise ValueError(f"matrix must be square with one row per label ({len(labels)} labels). "
                         f"Received: shape={counts.shape}")
    k = len(labels)
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        shade = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
        vmax, bar_label = 1.0, "fraction of true class"
    else:
        shade = counts.astype(float)
        vmax, bar_label = max(float(shade.max()), 1.0), "count"
    side = min(max(4.0, 0.45 * k + 2.5), 18.0)
    figure = _figure(side + 1.0, side)
    axes = figure.add_subplot()
    image = axes.imshow(shade, cmap="Blues", vmin=0.0, vmax=vmax)
    figure.colorbar(image, ax=axes, label=bar_label, shrink=0.8)
    font = 10 if k <= 10 else 8 if k <= 20 else 6
    for i in range(k):
        for j in range(k):
            dark = shade[i, j] > 0.5 * vmax
            axes.text(j, i, f"{counts[i, j]:g}", ha="center", va="center", fontsize=font,
                      color="white" if dark else "black")
    slanted = k <= 10  # few labels: slanted, easier to read; many: vertical, no overlap
    axes.set_xticks(range(k), labels, rotation=45 if slanted else 90,
                    ha="right" if slanted else "center", fontsize=font)
    axes.set_yticks(range(k), labels, fontsize=font)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title("Confusion matrix" + (" (shading: row-normalised)" if normalize else ""))
    return _save_png(figure, path)


def plot_training_curves(history, path):
    """One subplot per logged quantity against "step", saved as a PNG at `path`.

    `history` is a list of dicts such as {"step": 10, "loss": 0.5, "learning_rate": 1e-4};
    a row may lack some keys (dev metrics logged only per epoch), and each curve uses just the
    rows that have its key. Non-numeric values are skipped. Returns `path`.
    """
    rows = list(history)
    if not rows or not all(isinstance(row, dict) and "step" in row for row in rows):
        raise ValueError("history must be a non-empty list of dicts, each with a 'step'. "
                         f"Received: {rows[:3]!r}{' ...' if len(rows) > 3 else ''}")
    keys = [key for key in dict.fromkeys(k for row in rows for k in row) if key != "step"]
    series = {}
    for key in keys:
        points = [(row["step"], row[key]) for row in rows
                  if isinstance(row.get(key), (int, float, np.number))
                  and not isinstance(row[key], bool)]
        if points:
            series[key] = sorted(points)
    if not series:
        raise ValueError(f"history has no numeric values besides 'step'. Received keys: {keys}")
    columns = min(len(series), 3)
    grid_rows = math.ceil(len(series) / columns)
    figure = _figure(4.5 * columns, 3.2 * grid_rows)
    for index, (key, points) in enumerate(series.items()):
        axes = figure.add_subplot(grid_rows, columns, index + 1)
        steps, values = zip(*points)
        axes.plot(steps, values, marker="o" if len(points) <= 20 else None, markersize=3)
        axes.set_title(key)
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
    return _save_png(figure, path)


def plot_pretraining_curve(history, path):
    """Pre-training progress as a PNG at `path`: the training loss and the held-out
    masked-LM loss against steps (left), the held-out masked-LM accuracy (right). `history`
    is `pretrain`'s (rows with `loss`, rows with `dev_mlm_loss` and `dev_mlm_accuracy`).
    Returns `path`."""
    def points(key):
        return sorted((row["step"], row[key]) for row in history if key in row)

    dev = points("dev_mlm_accuracy")
    if not dev:
        raise ValueError("history has no dev_mlm_accuracy rows: pre-train with a dev set "
                         "(--dev) to draw its curve")
    figure = _figure(10.0, 3.6)
    left, right = figure.subplots(1, 2)
    for key, label in (("loss", "training loss (masked LM + next sentence)"),
                       ("dev_mlm_loss", "held-out masked-LM loss")):
        if points(key):
            steps, values = zip(*points(key))
            left.plot(steps, values, label=label, marker="o" if len(steps) <= 20 else None,
                      markersize=3)
    left.set_xlabel("step")
    left.set_ylabel("loss")
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    steps, values = zip(*dev)
    right.plot(steps, [100 * v for v in values], marker="o", markersize=3, color="tab:green")
    right.set_xlabel("step")
    right.set_ylabel("held-out masked-LM accuracy (%)")
    right.grid(alpha=0.3)
    figure.suptitle("Pre-training")
    return _save_png(figure, path)


def plot_reliability_diagram(reliability, path, ece=None):
    """A reliability diagram saved as a PNG at `path`: each confidence bin's accuracy (bars,
    `reliability` as `tfbert.evaluation.calibration.reliability_bins` gives it) against
    the diagonal a calibrated model follows, with each bin's share of the decisions below.
    `ece`: shown in the title. Returns `path`."""
    if not isinstance(reliability, dict) or not reliability:
        raise ValueError("reliability must be a non-empty {bin: {count, confidence, "
                         f"accuracy}} dict. Received: {reliability!r}"[:200])
    edges = [tuple(float(x) for x in name.split("-")) for name in reliability]
    rows = list(reliability.values())
    lows = np.array([lo for lo, _ in edges])
    widths = np.array([hi - lo for lo, hi in edges])
    counts = np.array([row["count"] for row in rows], float)
    figure = _figure(5.0, 5.6)
    top, bottom = figure.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    top.bar(lows, [row["accuracy"] for row in rows], width=widths, align="edge",
            color="tab:blue", edgecolor="white", label="accuracy")
    top.bar(lows, [row["confidence"] - row["accuracy"] for row in rows], width=widths,
            bottom=[row["accuracy"] for row in rows], align="edge", color="tab:red",
            alpha=0.3, label="gap to confidence")
    top.plot([0, 1], [0, 1], color="gray", linestyle="--", label="calibrated")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.legend(loc="upper left", fontsize=8)
    top.set_title("Reliability diagram" + (f" (ECE {ece:.4f})" if ece is not None else ""))
    bottom.bar(lows, counts / counts.sum(), width=widths, align="edge", color="gray")
    bottom.set_xlabel("confidence")
    bottom.set_ylabel("share")
    return _save_png(figure, path)
