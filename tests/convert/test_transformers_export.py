"""`tfbert convert --to hf` opened by Hugging Face transformers itself: each task's export
loads in the matching transformers class (PyTorch, CPU) and gives tfbert's outputs. Slow tier:
it imports torch (torch and transformers come with the `test` extra)."""

import json

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tfbert.config import BertConfig  # noqa: E402
from tfbert.convert import convert  # noqa: E402
from tfbert.model_dir import build_model, save_model_dir
from tfbert.task import TaskSpec

CLASSES = {
    "encoder": ("BertModel", TaskSpec(task="encoder")),
    "pretrain": ("BertForPreTraining", TaskSpec(task="pretrain")),
    "classify": ("BertForSequenceClassification",
                 TaskSpec(task="classify", labels=("neg", "pos", "mixed"))),
    "multi_label": ("BertForSequenceClassification",
                    TaskSpec(task="classify", labels=("a", "b"), multi_label=True)),
    "ner": ("BertForTokenClassification",
            TaskSpec(task="ner", labels=("O", "B-PER", "I-PER", "B-LOC"))),
    "qa": ("BertForQuestionAnswering", TaskSpec(task="qa")),
}


def _inputs():
    rng = np.random.default_rng(0)
    token_ids = rng.integers(1, 200, (2, 9)).astype("int32")
    padding_mask = np.ones_like(token_ids)
    padding_mask[1, 6:] = 0
    token_ids *= padding_mask
    segment_ids = np.zeros_like(token_ids)
    segment_ids[:, 4:] = padding_mask[:, 4:]
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


@pytest.mark.slow
@pytest.mark.parametrize("hidden_act", ["gelu", "gelu_tanh"])
@pytest.mark.parametrize("name", list(CLASSES))
def test_transformers_opens_the_export_and_agrees(tmp_path, name, hidden_act):
    cls_name, spec = CLASSES[name]
    # hidden 32, intermediate 48, 3 labels: no head or kernel is square but the pooler and
    # the masked-LM transform, which the numbers check.
    config = BertConfig(vocab_size=200, hidden_size=32, num_layers=2, num_heads=4,
                        intermediate_size=48, max_position_embeddings=40,
                        hidden_act=hidden_act)
    keras.utils.set_random_seed(1)
    model = build_model(config, spec)
    rng = np.random.default_rng(0)
    for w in model.weights:
        w.assign(rng.normal(0, 0.2, w.shape).astype("float32") + ("gamma" in w.path))
    save_model_dir(model, config, spec, tmp_path / "tfbert")
    convert(tmp_path / "tfbert", tmp_path / "hf", to="hf")
    inputs = _inputs()
    positions = np.array([[1, 3], [2, 5]], "int32")
    ours = {k: np.asarray(v) for k, v in model(
        {**inputs, "masked_positions": positions} if spec.task == "pretrain" else inputs).items()}

    hf = getattr(transformers, cls_name).from_pretrained(str(tmp_path / "hf"))
    hf.eval()
    assert hf.config.hidden_act == {"gelu": "gelu", "gelu_tanh": "gelu_new"}[hidden_act]
    with torch.no_grad():
        out = hf(input_ids=torch.tensor(inputs["token_ids"]).long(),
                 token_type_ids=torch.tensor(inputs["segment_ids"]).long(),
                 attention_mask=torch.tensor(inputs["padding_mask"]).long())
    mask = inputs["padding_mask"].astype(bool)
    if spec.task == "encoder":
        pairs = {"sequence_output": (out.last_hidden_state.numpy()[mask],
                                     ours["sequence_output"][mask]),
                 "pooled_output": (out.pooler_output.numpy(), ours["pooled_output"])}
    elif spec.task == "pretrain":
        mlm = np.take_along_axis(out.prediction_logits.numpy(), positions[:, :, None], axis=1)
        pairs = {"mlm_logits": (mlm, ours["mlm_logits"]),
                 "nsp_logits": (out.seq_relationship_logits.numpy(), ours["nsp_logits"])}
    elif spec.task == "classify":
        pairs = {"logits": (out.logits.numpy(), ours["logits"])}
        data = json.loads((tmp_path / "hf" / "config.json").read_text())
        assert [hf.config.id2label[i] for i in range(len(spec.labels))] == list(spec.labels)
        assert (data.get("problem_type") == "multi_label_classification") == spec.multi_label
    elif spec.task == "ner":
        pairs = {"logits": (out.logits.numpy()[mask], ours["logits"][mask])}
        assert [hf.config.id2label[i] for i in range(len(spec.labels))] == list(spec.labels)
    else:
        pairs = {"start_logits": (out.start_logits.numpy()[mask], ours["start_logits"][mask]),
                 "end_logits": (out.end_logits.numpy()[mask], ours["end_logits"][mask])}
    for key, (theirs, mine) in pairs.items():
        assert theirs.shape == mine.shape, key
        # float32 sums in another order, relative to the output's scale (1.2e-5 measured).
        np.testing.assert_allclose(theirs, mine, rtol=0, atol=5e-5 * np.abs(mine).max(),
                                   err_msg=key)
