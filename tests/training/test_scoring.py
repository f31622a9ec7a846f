import numpy as np

from tfbert.training import scoring
from tfbert.training.tasks import labels_of, read_task_examples


def test_model_outputs_cuts_batches_and_pads_only_per_token_outputs():
    import tensorflow as tf

    def model(inputs, training=False):
        ids = inputs["token_ids"]
        # 16 classes: as wide as a cut batch, and still not per token.
        return {"logits": tf.ones((tf.shape(ids)[0], 16)),
                "start_logits": tf.ones(tf.shape(ids), tf.float32)}

    mask = np.zeros((4, 64), "int32")
    mask[:2, :10] = 1
    mask[2:, :40] = 1
    inputs = {"token_ids": mask, "segment_ids": mask, "padding_mask": mask}
    out = scoring.model_outputs(model, inputs, batch_size=2)
    assert out["logits"].shape == (4, 16) and (out["logits"] == 1).all()
    # Batches were cut to 16 and 48 columns, then padded back to 64 with zeros.
    assert out["start_logits"].shape == (4, 64)
    assert out["start_logits"].sum(axis=1).tolist() == [16, 16, 48, 48]


def test_ner_labels_cover_both_tags_of_every_type(tmp_path):
    path = tmp_path / "t.conll"
    path.write_text("江\tB-PER\n泽\tI-PER\n\n北\tB-LOC\n京\tB-MISC\n", encoding="utf-8")
    sentences, _ = read_task_examples("ner", path)
    assert labels_of("ner", sentences) == ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-PER",
                                           "I-PER"]
