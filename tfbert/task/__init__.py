"""What a fine-tuned model's task is, and how its outputs become answers.

`spec`: the schema of `task.json` (`TaskSpec`, the tasks, their bounds and defaults).
`decoding`: labels, IOB2 tag sequences, entities and QA spans from model outputs, shared
by every runtime. Imports numpy and `tfbert.textfile` only.
"""

from tfbert.task.decoding import (best_spans, class_probabilities, constrained_tags,
                                  detect_tag_scheme, entities, entity_spans, label_result,
                                  ner_tags, pool_windows, softmax)
from tfbert.task.spec import (FINETUNE_TASKS, MAX_LENGTH, MIN_LENGTH, POOLED_TASKS, POOLINGS,
                              TAG_SCHEMES, TASKS, WINDOW_POOLINGS, WINDOWED_TASKS, TaskSpec, check_doc_stride,
                              check_max_length, default_max_length, default_stride,
                              read_task_spec)

__all__ = ["FINETUNE_TASKS", "MAX_LENGTH", "MIN_LENGTH", "POOLED_TASKS", "POOLINGS", "TAG_SCHEMES",
           "TASKS", "WINDOW_POOLINGS", "WINDOWED_TASKS", "TaskSpec", "best_spans",
           "class_probabilities", "check_doc_stride", "check_max_length",
           "constrained_tags", "default_max_length", "default_stride",
           "detect_tag_scheme", "entities", "entity_spans", "label_result", "ner_tags",
           "pool_windows", "read_task_spec", "softmax"]
