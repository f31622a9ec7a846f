"""Evaluation: task metrics as plain dicts, JSON + Markdown reports, and PNG plots.

>>> from tfbert.evaluation import classification_metrics, write_report
>>> metrics = classification_metrics([0, 1, 1], [0, 1, 0], ["neg", "pos"])
>>> write_report(metrics, "runs/dev/metrics.json", "Dev set")  # doctest: +SKIP
['runs/dev/metrics.json', 'runs/dev/metrics.md']
"""

from tfbert.evaluation.calibration import (
    calibration_metrics,
    expected_calibration_error,
    reliability_bins,
)
from tfbert.evaluation.metrics import (
    best_null_threshold,
    classification_metrics,
    entities,
    exact_match,
    f1_score,
    masked_lm_metrics,
    multilabel_metrics,
    ner_metrics,
    normalize_answer,
    qa_metrics,
)
from tfbert.evaluation.plots import (plot_confusion_matrix, plot_reliability_diagram,
                                     plot_training_curves)
from tfbert.evaluation.report import markdown_report, write_atomically, write_report

__all__ = [
    "best_null_threshold",
    "calibration_metrics",
    "classification_metrics",
    "entities",
    "exact_match",
    "expected_calibration_error",
    "f1_score",
    "markdown_report",
    "masked_lm_metrics",
    "multilabel_metrics",
    "ner_metrics",
    "normalize_answer",
    "plot_confusion_matrix",
    "plot_reliability_diagram",
    "plot_training_curves",
    "qa_metrics",
    "reliability_bins",
    "write_atomically",
    "write_report",
]
