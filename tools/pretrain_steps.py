"""What more pre-training buys: the demo's Chinese recipe pre-trained for each of several
step counts, then fine-tuned on chnsenti and tested the same way (the same fine-tuning
steps and settings; 0 steps is the demo's random-initialisation stage).

    .venv/bin/python tools/pretrain_steps.py --steps 0 250 1000 4000 --demo runs/demo \\
        --json runs/pretrain-steps.json

Each step count runs the demo's stages up to the test evaluation in `--out/<steps>`; the
demo's own step count (1,000) and the 0-step row run in `--demo` instead, which reuses
what a finished `make demo` there already did (its stage record says the settings are the
same). Prints a Markdown table: steps, tokens seen, held-out masked-LM accuracy, fine-tuned
test accuracy and macro-F1, and the seconds each pre-training took, with the CPU.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tools.bench_predict_stream import cpu, cpu_line  # noqa: E402

UP_TO_EVALUATION = ("data", "vocab", "pretrain-data", "pretrain", "finetune", "evaluate")


def run(steps, out, demo, echo=print) -> list:
    """One row per step count (ascending)."""
    from tfbert.demo import CHINESE, Demo, recipe

    rows = []
    for count in sorted(set(steps)):
        if count == 0:
            facts = Demo(recipe(), demo, echo).run_stages(
                [*UP_TO_EVALUATION, "random-init"])
            scores = facts["random-init"]
            rows.append({"steps": 0, "tokens": 0, "dev_mlm_accuracy": None,
                         "accuracy": 100 * scores["accuracy"],
                         "macro_f1": 100 * scores["macro_f1"], "pretrain_seconds": 0.0})
            continue
        where = demo if count == CHINESE.pretrain_steps else os.path.join(out, str(count))
        facts = Demo(recipe(pretrain_steps=count), where, echo).run_stages(UP_TO_EVALUATION)
        rows.append({"steps": count, "tokens": facts["pretrain"]["tokens"],
                     "dev_mlm_accuracy": 100 * facts["pretrain"]["dev_mlm_accuracy"],
                     "accuracy": 100 * facts["evaluate"]["accuracy"],
                     "macro_f1": 100 * facts["evaluate"]["macro_f1"],
                     "pretrain_seconds": facts["pretrain"]["seconds"]})
    return rows


def table(rows) -> str:
    lines = ["| pre-training steps | tokens seen | held-out masked-LM accuracy | chnsenti test "
             "accuracy | macro-F1 | pre-training time |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        mlm = "—" if row["dev_mlm_accuracy"] is None else f"{row['dev_mlm_accuracy']:.1f} %"
        lines.append(f"| {row['steps']:,} | {row['tokens'] / 1e6:.1f}M | {mlm} | "
                     f"{row['accuracy']:.2f} % | {row['macro_f1']:.2f} % | "
                     f"{row['pretrain_seconds']:.0f} s |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[0, 250, 1000, 4000])
    parser.add_argument("--out", default="runs/pretrain-steps",
                        help="where the other step counts run")
    parser.add_argument("--demo", default="runs/demo",
                        help="the demo's directory (its step count and the 0-step row)")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    if any(step < 0 for step in args.steps):
        parser.error(f"--steps must be >= 0. Received: {args.steps}")
    rows = run(args.steps, args.out, args.demo)
    found = cpu()
    print(f"\nCPU: {cpu_line(found)}\n")
    print(table(rows))
    if args.json:
        from tfbert.atomic import write_json

        write_json(args.json, {"cpu": found, "rows": rows})


if __name__ == "__main__":
    main()
