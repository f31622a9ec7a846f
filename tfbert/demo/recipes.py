"""What `tfbert demo` runs: one recipe per language, every setting in one place."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Recipe:
    """The demo's settings. `corpus` set: learn a vocabulary and pre-train a fresh model on
    it; `corpus` None: fine-tune the real MiniLM-L6 checkpoint."""

    name: str                       # the SavedModel's name and the TFLite file's stem
    dataset: str                    # a built-in classification dataset
    sentences: tuple[str, ...]      # classified by every artifact at the end
    corpus: str | None = None       # a built-in raw corpus to pre-train on
    vocab_size: int = 8000
    preset: str = "tiny"
    pretrain_seq_len: int = 128
    pretrain_steps: int = 1000
    pretrain_batch: int = 32
    pretrain_learning_rate: float = 1e-3
    pretrain_dev_share: float = 0.02     # corpus documents held out for the dev curve
    pretrain_evaluations: int = 10       # dev scorings during pre-training
    pretrain_dev_batches: int = 10       # of 32 instances, per scoring
    max_length: int = 128
    epochs: float = 2.0
    finetune_steps: int = 0         # > 0 overrides epochs (quick runs)
    batch_size: int = 32
    learning_rate: float = 5e-4
    calibration_size: int = 200     # int8 calibration texts from the training split
    seed: int = 1
    # The classical anchor, TF-IDF + linear SVM: Chinese words are character n-grams.
    anchor_analyzer: str = "char"
    anchor_ngrams: tuple = (1, 3)
    # The phone-sized student the fine-tuned model is distilled into (an architecture), then
    # trimmed to the training texts' vocabulary and exported like the model; None: none.
    student: str | None = None
    student_epochs: float = 6.0
    student_steps: int = 0          # > 0 overrides student_epochs (quick runs)
    student_learning_rate: float = 1e-3

    def stage_settings(self, *fields) -> dict:
        """The named settings, as a stage's record keeps them."""
        return {f: getattr(self, f) for f in fields}


CHINESE = Recipe(
    name="chnsenti", dataset="chnsenti", corpus="zh-corpus",
    sentences=("我爱北京天安门",
               "这本书写得很好，值得一读。",
               "质量太差了，用了两天就坏了，不推荐。",
               "物流很快，包装完好，很满意！",
               "客服态度恶劣，再也不会买了。"))

ENGLISH = Recipe(
    name="bbc", dataset="bbc-news", corpus=None, batch_size=16, learning_rate=1e-4,
    student="L4-H128", anchor_analyzer="word", anchor_ngrams=(1, 2),
    sentences=("Shares in the carmaker rose 5% after it reported record profits.",
               "The striker scored twice as the home side won the cup final.",
               "The new phone has a faster chip, a brighter screen and a better camera.",
               "The prime minister faces a vote in parliament over the budget.",
               "The film won three awards at the festival on Sunday night."))


def recipe(english: bool = False, **overrides) -> Recipe:
    """The Chinese (default) or English recipe with `overrides` (None values ignored)."""
    base = ENGLISH if english else CHINESE
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if "epochs" in overrides:  # `--epochs 2` and the default 2.0: the same stage key
        overrides["epochs"] = float(overrides["epochs"])
    if english and "pretrain_steps" in overrides:
        raise ValueError("--pretrain-steps: the English demo starts from MiniLM-L6 and "
                         "pre-trains nothing")
    return dataclasses.replace(base, **overrides)
