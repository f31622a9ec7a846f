"""Does masked-LM scoring tell a real sentence from its corrupted copies better than
character n-gram frequencies from the same corpus?

Lists: each pd98-ner test sentence (People's Daily 1998, held out of the demo's
pre-training corpus) with four corrupted copies, two with one character replaced by a
character of similar corpus frequency (rank within +-10, so that unigram frequencies alone
cannot tell them apart), two with two neighbouring characters swapped; chance of ranking
the original first is 1 in 5. Corruptions are drawn per sentence from a seed derived from its
text, so every run and every model sees the same lists.

Rankers, each the same lists, same run:
- unigram: add-one character frequencies of the demo's pre-training corpus (zh-corpus);
- bigram: interpolated Kneser-Ney character bigrams (discount 0.75) of the same corpus;
- PLL: `tfbert.SentenceScorer` with the model (the demo's pre-trained model by default);
- bigram + w * PLL: the n-best rescoring `tfbert score --nbest` does, the bigram log-prob
  as the hypotheses' score and `w` tuned (`--tune-on`'s search) on pd98-ner dev lists.

"Original first" counts a list only when the original scores strictly above all four
copies (a tie is a miss: unigram frequencies tie on every swap). Also reported: pairwise,
how often the original beats a replaced copy and a swapped copy.

    .venv/bin/python tools/eval_rescoring.py --limit 500 --json runs/eval_rescoring.json
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools.bench_predict_stream import cpu, cpu_line  # noqa: E402 - run as a script too

CJK = lambda c: "\u4e00" <= c <= "\u9fff"  # noqa: E731
KINDS = ("original", "replace", "replace", "swap", "swap")


def corpus_sentences():
    from tfbert.data.builtin import load_corpus

    return [s for document in load_corpus("zh-corpus") for s in document]


class CharModels:
    """Character unigram (add-one) and interpolated Kneser-Ney bigram log-probabilities,
    `<s>`/`</s>` around each sentence."""

    def __init__(self, sentences, discount=0.75):
        self.unigram = collections.Counter(c for s in sentences for c in s)
        self.total = sum(self.unigram.values())
        self.vocab = len(self.unigram) + 1   # + unseen
        bigrams = collections.Counter((a, b) for s in sentences
                                      for a, b in zip("^" + s, s + "$"))
        self.bigram = bigrams
        self.history = collections.Counter()
        self.followers = collections.Counter()
        continuation = collections.Counter()
        for (a, b) in bigrams:
            self.followers[a] += 1
            continuation[b] += 1
        for (a, _), n in bigrams.items():
            self.history[a] += n
        self.continuation = continuation
        self.types = len(bigrams)
        self.discount = discount

    def unigram_logprob(self, text):
        return sum(math.log((self.unigram[c] + 1) / (self.total + self.vocab)) for c in text)

    def _continuation(self, c):
        # Kneser-Ney continuation probability, with a uniform floor for unseen characters.
        return 0.99 * self.continuation[c] / self.types + 0.01 / self.vocab

    def bigram_logprob(self, text):
        total = 0.0
        for a, b in zip("^" + text, text + "$"):
            count = self.history[a]
            if not count:
                total += math.log(self._continuation(b))
                continue
            seen = max(self.bigram[(a, b)] - self.discount, 0) / count
            weight = self.discount * self.followers[a] / count
            total += math.log(seen + weight * self._continuation(b))
        return total


def corrupt(sentence, ranked, rank_of):
    """`[original, replace, replace, swap, swap]` (None where no copy can be made)."""
    seed = int(hashlib.md5(sentence.encode("utf-8")).hexdigest()[:8], 16)
    rng = np.random.default_rng(seed)
    out = [sentence]
    cjk = [i for i, c in enumerate(sentence) if CJK(c) and c in rank_of]
    for _ in range(2):
        if not cjk:
            out.append(None)
            continue
        i = int(rng.choice(cjk))
        r = rank_of[sentence[i]]
        near = [c for c in ranked[max(r - 10, 0):r + 11] if c != sentence[i]]
        out.append(sentence[:i] + near[int(rng.integers(len(near)))] + sentence[i + 1:])
    pairs = [i for i in range(len(sentence) - 1) if CJK(sentence[i]) and CJK(sentence[i + 1])
             and sentence[i] != sentence[i + 1]]
    for _ in range(2):
        if not pairs:
            out.append(None)
            continue
        i = int(rng.choice(pairs))
        out.append(sentence[:i] + sentence[i + 1] + sentence[i] + sentence[i + 2:])
    return out


def build_lists(sentences, ranked, rank_of):
    lists = []
    for sentence in sentences:
        texts = corrupt(sentence, ranked, rank_of)
        # Distinct copies only (two draws may make the same copy).
        if None in texts or len(set(texts)) < len(texts):
            continue
        lists.append(texts)
    return lists


def rank_metrics(scores):
    """`scores` `(lists, 5)`, the original in column 0: original strictly first, and the
    original's pairwise wins over each kind of copy."""
    scores = np.asarray(scores)
    # Equal up to float summation order is a tie (a swap keeps every unigram).
    wins = scores[:, :1] > scores[:, 1:] + 1e-9 * np.abs(scores[:, 1:])
    first = float(wins.all(1).mean())
    return {"original_first": first, "beats_replaced": float(wins[:, :2].mean()),
            "beats_swapped": float(wins[:, 2:].mean())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="runs/demo/pretrained",
                        help="a model directory with a masked-LM head [%(default)s: what "
                             "`make demo` pre-trains]")
    parser.add_argument("--limit", type=int, default=500, help="test lists (0: all)")
    parser.add_argument("--tune-limit", type=int, default=200, help="dev lists to tune on")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.model):
        parser.error(f"--model {args.model}: not found; run `make demo` first (it writes "
                     "runs/demo/pretrained) or name a pre-trained model directory")
    from tfbert.applications.rescoring import tune_weight
    from tfbert.applications.sentence_scorer import SentenceScorer
    from tfbert.data.builtin import load_ner

    started = time.time()
    corpus = corpus_sentences()
    models = CharModels(corpus)
    ranked = [c for c, _ in models.unigram.most_common() if CJK(c)]
    rank_of = {c: i for i, c in enumerate(ranked)}
    ner, _, _ = load_ner()
    splits = {part: build_lists(["".join(chars) for chars, _ in ner[part]], ranked, rank_of)
              for part in ("dev", "test")}
    test = splits["test"][:args.limit or None]
    dev = splits["dev"][:args.tune_limit or None]
    scorer = SentenceScorer.from_pretrained(args.model, batch_size=args.batch_size)
    texts = list(dict.fromkeys(t for lists in (test, dev) for texts in lists for t in texts))
    scoring = time.time()
    pll = {a["text"]: a["pll"] for a in scorer.score(texts, progress=True)}
    scoring = time.time() - scoring

    def table(lists, score):
        return [[score(t) for t in texts] for texts in lists]

    def as_nbest(lists):
        return [{"reference": texts[0], "hypotheses": [
            {"text": t, "score": models.bigram_logprob(t)} for t in texts]} for texts in lists]

    tuned = tune_weight(as_nbest(dev), pll)
    weight = tuned["weight"]
    rows = {
        "unigram (anchor)": rank_metrics(table(test, models.unigram_logprob)),
        "bigram KN (anchor)": rank_metrics(table(test, models.bigram_logprob)),
        "PLL": rank_metrics(table(test, pll.__getitem__)),
        f"bigram + {weight:.3g} x PLL": rank_metrics(
            table(test, lambda t: models.bigram_logprob(t) + weight * pll[t])),
    }
    result = {"model": os.path.abspath(args.model), "test_lists": len(test),
              "dev_lists": len(dev), "hypotheses_per_list": len(KINDS),
              "corpus_sentences": len(corpus), "weight": weight, "tuned_on_dev": tuned,
              "rows": rows, "pll_seconds": round(scoring, 1),
              "pll_sentences_per_second": round(len(texts) / scoring, 2),
              "seconds": round(time.time() - started, 1), "cpu": cpu(),
              "command": "tools/eval_rescoring.py " + " ".join(argv or sys.argv[1:])}
    print(f"{len(test)} pd98-ner test lists (original + 2 replaced + 2 swapped), "
          f"model {args.model}, {cpu_line(cpu())}")
    print("| ranker | original first | beats a replaced copy | beats a swapped copy |")
    print("|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['original_first']:.1%} | {row['beats_replaced']:.1%} | "
              f"{row['beats_swapped']:.1%} |")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2, ensure_ascii=False)
    return result


if __name__ == "__main__":
    main()
