"""SQuAD v2.0 files asking "谁？" ("who?") of People's Daily sentences: the answer is the
first person the sentence names (its first B-PER..I-PER run in the pd98-ner tags), and a
sentence that names nobody is unanswerable. The QA data tfbert's tests build, at full size:
real text, answers from human tags, about half the questions without an answer.

    python tools/pd98_person_qa.py OUT_DIR [--max-chars 120] [--limit N]

Writes OUT_DIR/{train,dev,test}.json from the pd98-ner splits (sentences longer than
--max-chars characters are left out) and prints the counts.
"""

from __future__ import annotations

import argparse
import json
import os


def person_questions(sentences, prefix, max_chars) -> list:
    """SQuAD paragraphs, one question each, for `(chars, tags)` sentences."""
    paragraphs = []
    for index, (chars, tags) in enumerate(sentences):
        if len(chars) > max_chars:
            continue
        context = "".join(chars)
        question = {"id": f"{prefix}-{index}", "question": "谁？", "answers": [],
                    "is_impossible": True}
        if "B-PER" in tags:
            start = end = tags.index("B-PER")
            while end + 1 < len(tags) and tags[end + 1] == "I-PER":
                end += 1
            question.update(answers=[{"text": context[start:end + 1], "answer_start": start}],
                            is_impossible=False)
        paragraphs.append({"context": context, "qas": [question]})
    return paragraphs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="directory for train.json, dev.json, test.json")
    parser.add_argument("--max-chars", type=int, default=120,
                        help="leave out sentences longer than this")
    parser.add_argument("--limit", type=int, default=0,
                        help="keep the first N questions of each split (0: all; quick runs)")
    args = parser.parse_args(argv)

    from tfbert.data.builtin import load_ner

    splits, _, _ = load_ner()
    os.makedirs(args.out, exist_ok=True)
    for part in ("train", "dev", "test"):
        paragraphs = person_questions(splits[part], part, args.max_chars)
        if args.limit > 0:
            paragraphs = paragraphs[:args.limit]
        with open(os.path.join(args.out, f"{part}.json"), "w", encoding="utf-8") as f:
            json.dump({"version": "v2.0", "data": [{"title": "pd98", "paragraphs": paragraphs}]},
                      f, ensure_ascii=False)
        answered = sum(not p["qas"][0]["is_impossible"] for p in paragraphs)
        print(f"{part}: {len(paragraphs)} questions, {answered} with an answer, "
              f"{len(paragraphs) - answered} without")


if __name__ == "__main__":
    main()
