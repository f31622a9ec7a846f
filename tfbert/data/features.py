"""Model inputs for fine-tuning: classification (single texts and pairs) and NER.

NER labels go on the first word piece of each word; the other pieces, `[CLS]`, `[SEP]`
and padding get `IGNORE` so the loss skips them (the layout of google-research/bert and
Hugging Face's `is_split_into_words`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfbert.data.readers import label_ids

IGNORE = -1


def encode_classification(tokenizer, examples, labels, max_length, source="data"):
    """`(inputs, label ids)` for `TextExample`s; pairs when the examples have `pair`."""
    texts = [e.text for e in examples]
    pairs = [e.pair for e in examples] if examples and examples[0].pair is not None else None
    inputs = tokenizer(texts, pairs, max_length=max_length, pad_to_max_length=True)
    return inputs, np.array(label_ids(examples, labels, source), "int32")


def encode_ner(tokenizer, sentences, labels, max_length, source="data"):
    """`sentences`: `[(words, tags)]`. Returns `(inputs, label ids (batch, max_length))`;
    a word cut off by `max_length` loses its label (counted in the returned `truncated`)."""
    index = {label: i for i, label in enumerate(labels)}
    words = [w for ws, _ in sentences for w in ws]
    pieces = tokenizer.tokenize(tf.constant(words)).to_list() if words else []
    token_ids = np.full((len(sentences), max_length), tokenizer.pad_id, "int32")
    label_array = np.full((len(sentences), max_length), IGNORE, "int32")
    padding_mask = np.zeros((len(sentences), max_length), "int32")
    truncated, cursor = 0, 0
    for row, (ws, tags) in enumerate(sentences):
        ids, row_labels = [tokenizer.cls_id], [IGNORE]
        for tag in tags:
            word_pieces = pieces[cursor]
            cursor += 1
            if tag not in index:
                raise ValueError(f"{source}: sentence {row + 1}: tag {tag!r} is not one of the "
                                 f"model's labels {list(labels)}")
            if len(ids) + len(word_pieces) > max_length - 1:
                truncated += bool(word_pieces)
                continue
            if word_pieces:
                ids += word_pieces
                row_labels += [index[tag]] + [IGNORE] * (len(word_pieces) - 1)
        ids.append(tokenizer.sep_id)
        row_labels.append(IGNORE)
        token_ids[row, :len(ids)] = ids
        label_array[row, :len(ids)] = row_labels
        padding_mask[row, :len(ids)] = 1
    inputs = {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
              "padding_mask": padding_mask}
    return inputs, label_array, truncated
