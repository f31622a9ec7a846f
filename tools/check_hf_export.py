"""Checks that Hugging Face directories written by `tfbert convert --to hf` open in
`transformers` and give tfbert's outputs. Two steps, two environments:

    .venv/bin/python tools/check_hf_export.py make /tmp/hfcheck     # tfbert's venv
    /tmp/golden/bin/python tools/check_hf_export.py check /tmp/hfcheck   # torch+transformers

`make` writes, per task, a tfbert model with random weights, its HF export and
`expected.npz` (inputs and tfbert's outputs); `check` loads each export with the matching
transformers class and prints the largest difference.
"""

import json
import os
import sys

import numpy as np

TASKS = {
    "encoder": ("BertModel", {}),
    "pretrain": ("BertForPreTraining", {}),
    "classify": ("BertForSequenceClassification", {"labels": ("neg", "pos", "mixed")}),
    "ner": ("BertForTokenClassification", {"labels": ("O", "B-PER", "I-PER", "B-LOC")}),
    "qa": ("BertForQuestionAnswering", {}),
}


def make(root):
    import keras

    from tfbert.config import BertConfig
    from tfbert.convert import convert
    from tfbert.model_dir import TaskSpec, build_model, save_model_dir

    config = BertConfig.from_name("tiny", vocab_size=200, hidden_act="gelu")
    rng = np.random.default_rng(0)
    token_ids = rng.integers(1, 200, (2, 9)).astype("int32")
    padding_mask = np.ones_like(token_ids)
    padding_mask[1, 6:] = 0
    token_ids *= padding_mask
    segment_ids = np.zeros_like(token_ids)
    segment_ids[:, 4:] = padding_mask[:, 4:]
    inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
    positions = np.array([[1, 3], [2, 5]], "int32")
    for task, (_, extra) in TASKS.items():
        keras.utils.set_random_seed(1)
        spec = TaskSpec(task=task, **extra)
        model = build_model(config, spec)
        for w in model.weights:
            w.assign(rng.normal(0, 0.2, w.shape).astype("float32") + ("gamma" in w.path))
        save_model_dir(model, config, spec, os.path.join(root, task, "tfbert"))
        convert(os.path.join(root, task, "tfbert"), os.path.join(root, task, "hf"), to="hf")
        call = dict(inputs, masked_positions=positions) if task == "pretrain" else inputs
        outputs = {k: np.asarray(v) for k, v in model(call).items()}
        np.savez(os.path.join(root, task, "expected.npz"), positions=positions,
                 **inputs, **outputs)
    print(f"wrote {len(TASKS)} exports under {root}")


def check(root):
    import torch
    import transformers

    worst = 0.0
    for task, (cls_name, _) in TASKS.items():
        data = np.load(os.path.join(root, task, "expected.npz"))
        model = getattr(transformers, cls_name).from_pretrained(os.path.join(root, task, "hf"))
        model.eval()
        with torch.no_grad():
            out = model(input_ids=torch.tensor(data["token_ids"]).long(),
                        token_type_ids=torch.tensor(data["segment_ids"]).long(),
                        attention_mask=torch.tensor(data["padding_mask"]).long())
        mask = data["padding_mask"].astype(bool)
        if task == "encoder":
            pairs = [("sequence_output", out.last_hidden_state.numpy()[mask],
                      data["sequence_output"][mask]),
                     ("pooled_output", out.pooler_output.numpy(), data["pooled_output"])]
        elif task == "pretrain":
            mlm = np.take_along_axis(out.prediction_logits.numpy(),
                                     data["positions"][:, :, None], axis=1)
            pairs = [("mlm_logits", mlm, data["mlm_logits"]),
                     ("nsp_logits", out.seq_relationship_logits.numpy(), data["nsp_logits"])]
        elif task == "classify":
            pairs = [("logits", out.logits.numpy(), data["logits"])]
            labels = json.load(open(os.path.join(root, task, "hf", "config.json")))["id2label"]
            assert list(labels.values()) == ["neg", "pos", "mixed"], labels
        elif task == "ner":
            pairs = [("logits", out.logits.numpy()[mask], data["logits"][mask])]
        else:
            pairs = [("start_logits", out.start_logits.numpy()[mask], data["start_logits"][mask]),
                     ("end_logits", out.end_logits.numpy()[mask], data["end_logits"][mask])]
        for name, theirs, ours in pairs:
            diff = float(np.abs(theirs - ours).max())
            # float32 sums in another order: relative to the output's scale.
            relative = diff / float(np.abs(ours).max())
            worst = max(worst, relative)
            print(f"{task:<9} {cls_name:<30} {name:<15} max |diff| {diff:.2e} "
                  f"(relative {relative:.1e})")
    print(f"transformers {transformers.__version__}: worst relative difference {worst:.1e}")
    return 0 if worst < 5e-5 else 1


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("make", "check"):
        sys.exit(__doc__)
    sys.exit(make(sys.argv[2]) if sys.argv[1] == "make" else check(sys.argv[2]))
