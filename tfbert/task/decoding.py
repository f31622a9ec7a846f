"""The decoding every runtime shares: model outputs to a task's answers.

Keras (`tfbert.predict`), SavedModel and TFLite predictors, `evaluate` and the dev scores
during fine-tuning read labels, IOB2 tag sequences, entities and QA spans with these
functions (the SavedModel graph computes the same with TF ops, `export.saved_model_tasks`),
so that every runtime answers alike.
"""

from __future__ import annotations

import numpy as np

MAX_ANSWER_PIECES = 30
DEFAULT_TOP_K = 5   # fill-mask: candidates per [MASK]
DEFAULT_N_BEST = 5  # qa exports: answers listed per question (`tfbert export --n-best`)
# The score of a transition IOB2 forbids: far below any path of real log-probabilities,
# yet finite, so that sums never meet inf - inf.
NEVER = -1e9


def softmax(logits, axis=-1):
    shifted = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def log_softmax(logits, axis=-1):
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def mean_embedding(hidden, padding_mask, normalize=False):
    """`(batch, hidden)`: the mean of `hidden` `(batch, seq, hidden)` over the positions
    `padding_mask` `(batch, seq)` marks real, scaled to unit length with `normalize` (the
    sentence embedding of an encoder, as sentence-transformers pools it)."""
    mask = np.asarray(padding_mask, np.float32)[..., None]
    pooled = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1)
    if normalize:
        pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)
    return pooled


def _split_tag(tag):
    """("B"|"I"|"E"|"S"|"O", type) for one tag; anything without such a prefix is "O"."""
    if not isinstance(tag, str):
        raise ValueError(f"NER tags must be strings like 'B-PER'. Received: {tag!r}")
    prefix, dash, kind = tag.partition("-")
    if dash and prefix in ("B", "I", "E", "S"):
        return prefix, kind
    return "O", ""


def entities(tags):
    """The entities in one tag sequence, as (type, start, end_exclusive), conlleval-style.

    IOB2, IOB1 and IOBES: B-X and S-X always start an entity; I-X and E-X continue one only
    after B-X or I-X of the same type, otherwise they start one (so "O I-PER" and
    "B-LOC I-PER" both yield a PER); E-X and S-X close their entity; "O" or any tag without a
    B-/I-/E-/S- prefix ends the current one.

    >>> entities(["B-PER", "I-PER", "O", "I-LOC"])
    [('PER', 0, 2), ('LOC', 3, 4)]
    """
    found, start, kind = [], None, ""
    prev_prefix, prev_kind = "O", ""
    for i, tag in enumerate(list(tags) + ["O"]):  # the sentinel closes an entity at the end
        prefix, this_kind = _split_tag(tag)
        ends = prev_prefix != "O" and (
            prev_prefix in "ES" or prefix in "BSO" or prev_kind != this_kind)
        if ends:
            found.append((kind, start, i))
            start = None
        starts = prefix != "O" and (
            prefix in "BS" or prev_prefix in "ESO" or prev_kind != this_kind)
        if starts:
            start, kind = i, this_kind
        prev_prefix, prev_kind = prefix, this_kind
    return found


def pool_windows(logits, document_index, num_documents, pooling):
    """Per document, the mean or the max (`pooling`) of its windows' logits: `logits`
    `(windows, labels)`, `document_index` `(windows,)` -> `(num_documents, labels)`. Logits,
    not probabilities, are pooled, so that the logits-to-probabilities step is the same
    for a document as for a window."""
    logits = np.asarray(logits, np.float32)
    document_index = np.asarray(document_index)
    if pooling == "max":
        pooled = np.full((num_documents, logits.shape[-1]), -np.inf, np.float32)
        np.maximum.at(pooled, document_index, logits)
        return pooled
    if pooling != "mean":
        raise ValueError(f"window pooling must be 'mean' or 'max'. Received: {pooling!r}")
    pooled = np.zeros((num_documents, logits.shape[-1]), np.float32)
    np.add.at(pooled, document_index, logits)
    counts = np.bincount(document_index, minlength=num_documents)[:, None]
    return pooled / np.maximum(counts, 1)


def class_probabilities(logits, multi_label=False, temperature=1.0):
    """Probabilities of classify/pair `logits` `(..., classes)`: the softmax (multi-label:
    each label's sigmoid) of the logits divided by the model's `temperature` (`task.json`;
    the SavedModel and TFLite graphs compute the same)."""
    scaled = np.asarray(logits) / np.asarray(temperature, np.asarray(logits).dtype)
    if multi_label:
        return 1.0 / (1.0 + np.exp(-scaled))
    return softmax(scaled)


def label_result(record, probabilities, labels, multi_label=False, thresholds=()):
    """`record` with its `label` and that label's probability `score` (multi-label: the
    `labels` whose probability is over their threshold, `thresholds` or 0.5 each) and
    `probabilities` by label name: the classify/pair answer of every runtime."""
    if multi_label:
        over = np.asarray(probabilities) > (np.asarray(thresholds) if len(thresholds)
                                           else 0.5)
        return {**record, "labels": [labels[i] for i in np.flatnonzero(over)],
                "probabilities": dict(zip(labels, map(float, probabilities)))}
    best = int(np.argmax(probabilities))
    return {**record, "label": labels[best], "score": float(probabilities[best]),
            "probabilities": dict(zip(labels, map(float, probabilities)))}


def entity_spans(text, words, tags, scores):
    """Entities (text, type, character start/end, mean tag probability) from per-word
    tags; `words` as `split_words` gives them."""
    return [{"text": text[words[s][1]:words[e - 1][2]], "type": kind,
             "start": words[s][1], "end": words[e - 1][2],
             "score": float(np.mean(scores[s:e]))}
            for kind, s, e in entities(tags)]


def detect_tag_scheme(sentences) -> tuple:
    """`("IOB2", None)` when every entity in `sentences` (`[(words, tags)]`) opens with
    `B-` (an `I-X` only ever follows `B-X` or `I-X`), else `("IOB1", (sentence number,
    tag))` naming the first entity that opens with `I-`. Recorded in task.json: only IOB2
    models decode with `constrained_tags`."""
    for number, (_, tags) in enumerate(sentences, 1):
        previous = "O"
        for tag in tags or ():
            if tag.startswith("I-") and (previous[:2] not in ("B-", "I-")
                                         or previous[2:] != tag[2:]):
                return "IOB1", (number, tag)
            previous = tag
    return "IOB2", None


def transitions(labels):
    """`(allowed (K, K), may_start (K,))` of IOB2: `I-X` only after `B-X` or `I-X`, and
    not first; any other tag anywhere."""
    inside = [label[2:] if label.startswith("I-") else None for label in labels]
    kinds = [label[2:] if label[:2] in ("B-", "I-") else None for label in labels]
    allowed = np.array([[inside[j] is None or inside[j] == kinds[i]
                         for j in range(len(labels))] for i in range(len(labels))])
    return allowed, np.array([k is None for k in inside])


def constrained_tags(log_probs, labels):
    """The most probable IOB2-valid tag sequence (ids) for `log_probs` `(words, K)`.

    Viterbi over the words' tag log-probabilities with the transitions `transitions`
    allows, written so that the SavedModel's graph (`saved_model_tasks.constrained_tags`) can do
    the same with dense ops: each tag's max-marginal (the best valid path's score through
    it, forward plus backward), then, left to right, the best tag among those allowed after
    the tag just chosen. Without ties that is the Viterbi path; with ties it is still valid.
    An argmax per word can emit `O I-LOC`, which the entity rules read as a fragment of its
    own; this cannot.
    """
    log_probs = np.asarray(log_probs, np.float64)   # as the graph, which sums in float64
    if not len(log_probs):
        return np.zeros(0, np.int64)
    allowed, may_start = transitions(labels)
    penalty = np.where(allowed, 0.0, NEVER)   # (from, to)
    forward = np.empty_like(log_probs)
    forward[0] = log_probs[0] + np.where(may_start, 0.0, NEVER)
    for t in range(1, len(log_probs)):
        forward[t] = (forward[t - 1][:, None] + penalty).max(0) + log_probs[t]
    backward = np.zeros_like(log_probs)
    for t in range(len(log_probs) - 2, -1, -1):
        backward[t] = (penalty + (log_probs[t + 1] + backward[t + 1])[None, :]).max(1)
    marginals = forward + backward
    tags, permitted = [], may_start
    for t in range(len(log_probs)):
        tags.append(int(np.where(permitted, marginals[t], -np.inf).argmax()))
        permitted = allowed[tags[-1]]
    return np.array(tags, np.int64)


def ner_tags(logits, word_index, sentence_index, sentence_lengths, labels, scheme=""):
    """Per sentence, a tag per word from the logits at the word's first piece (in
    whichever window of the sentence holds it); a word with no pieces gets `O`. With
    `scheme="IOB2"` the sentence's tags are `constrained_tags` over its words, else each
    word's argmax."""
    # A word with no pieces is `O` (for IOB2 decoding: a word certain to be `O`, so the
    # sequence stays valid across it).
    only_o = np.full(len(labels), NEVER)
    only_o[labels.index("O") if "O" in labels else 0] = 0.0
    word_logits = [[only_o] * length for length in sentence_lengths]
    for row, sentence in enumerate(sentence_index):
        for position in np.flatnonzero(word_index[row] >= 0):
            word_logits[sentence][word_index[row, position]] = logits[row, position]
    tags = []
    for words in word_logits:
        if not words:
            tags.append([])
            continue
        scores = np.stack(words).astype(np.float64)
        ids = constrained_tags(log_softmax(scores), labels) if scheme == "IOB2" \
            else scores.argmax(-1)
        tags.append([labels[i] for i in ids])
    return tags


def span_candidates(start_logits, end_logits, windows, num_examples, n_best=1,
                    max_pieces=MAX_ANSWER_PIECES):
    """Per example, `(null_score, spans)`: the `[CLS]` score (start + end logit at position
    0) in the window where it is lowest, and up to `n_best` spans `(score, window, start,
    end)` over all its windows, best first (google-research/bert run_squad's n-best): the
    highest start + end logits with start <= end < start + max_pieces inside the context.
    On equal scores the earlier window, then the earlier piece, comes first. Windows
    overlap, so one character range can be found in several: it is listed once, at its
    best score."""
    null = [np.inf] * num_examples
    found = [[] for _ in range(num_examples)]
    char_spans = windows["char_spans"]
    for w, example in enumerate(windows["example_index"]):
        null[example] = min(null[example], float(start_logits[w, 0] + end_logits[w, 0]))
        in_context = char_spans[w, :, 0] >= 0
        starts = np.where(in_context, start_logits[w], -np.inf)
        ends = np.where(in_context, end_logits[w], -np.inf)
        length = np.arange(len(starts))
        allowed = (length[None, :] >= length[:, None]) & \
            (length[None, :] < length[:, None] + max_pieces)
        scores = np.where(allowed, starts[:, None] + ends[None, :], -np.inf).ravel()
        if n_best == 1:
            picks = [int(scores.argmax())]
        else:
            # Within one window distinct piece spans are distinct character ranges, so
            # the window's n best are all it can add to the example's n best.
            count = min(n_best, scores.size)
            picks = np.flatnonzero(scores >= np.partition(scores, -count)[-count])
            picks = picks[np.argsort(-scores[picks], kind="stable")][:count]
        for flat in picks:
            if np.isfinite(scores[flat]):
                found[example].append((float(scores[flat]), w, *divmod(int(flat), len(starts))))
    out = []
    for example, spans in enumerate(found):
        kept, seen = [], set()
        for span in sorted(spans, key=lambda s: (-s[0], s[1], s[2], s[3])):
            chars = (int(char_spans[span[1], span[2], 0]), int(char_spans[span[1], span[3], 1]))
            if chars not in seen and len(kept) < n_best:
                seen.add(chars)
                kept.append(span)
        out.append((null[example], kept))
    return out


def best_spans(start_logits, end_logits, windows, num_examples, max_pieces=MAX_ANSWER_PIECES,
               no_answer=False, null_threshold=0.0):
    """Per example, `(score, window, start, end)` of the best span over all its windows
    (the first of `span_candidates`); `None` when no window has a context span, or, with
    `no_answer` (a model trained on SQuAD v2 data), when the null score minus the best
    span's score is over `null_threshold` (google-research/bert's
    `null_score_diff_threshold`; `finetune` chooses it on dev, `TaskSpec.null_threshold`)."""
    return best_of(span_candidates(start_logits, end_logits, windows, num_examples, 1,
                                   max_pieces), no_answer, null_threshold)


def best_of(candidates, no_answer=False, null_threshold=0.0) -> list:
    """`best_spans` from `span_candidates`' output (of any `n_best`)."""
    best = []
    for null, spans in candidates:
        span = spans[0] if spans else None
        if no_answer and span is not None and null - span[0] > null_threshold:
            span = None
        best.append(span)
    return best


def nbest_list(answers) -> list:
    """`answers` (dicts, best first, each with its `score`: a start + end logit sum) with
    each one's `probability`: the softmax of the scores over the list, as run_squad's
    nbest_predictions.json."""
    if not answers:
        return []
    probabilities = softmax(np.array([a["score"] for a in answers], np.float64))
    return [{**a, "probability": float(p)} for a, p in zip(answers, probabilities)]
