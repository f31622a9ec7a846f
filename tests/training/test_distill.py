"""`tfbert distill`: the loss follows the teacher, students start where they claim, every
student kind runs end to end into an ordinary model directory, and bad input fails before
anything is written."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from tfbert.cli.main import cli
from tfbert.config import BertConfig
from tfbert.model_dir import build_model, read_model_dir, save_model_dir
from tfbert.modeling import BertEncoder, Distiller, uniform_layer_map
from tfbert.task import TaskSpec
from tfbert.training import students
from tfbert.training.distill import DistillJob, distill
from tfbert.training.distill_loss import DistillationLoss, DistillWeights, soft_kl
from tfbert.training.trainer import TrainSettings

WORDS = ["good", "bad", "fine", "awful", "nice", "poor", "great", "ugly", "ok", "meh"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + list("abcdefghijklmnopqrstuvwxyz")
CONFIG = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_layers=4, num_heads=4,
                    intermediate_size=64, max_position_embeddings=32)


def _teacher(path, task="classify", labels=("neg", "pos"), favourite=1, seed=0):
    """A tiny teacher whose classifier bias makes it answer `labels[favourite]` (ner: that
    tag) for everything, whatever its inputs."""
    tf.keras.utils.set_random_seed(seed)
    spec = TaskSpec(task=task, labels=tuple(labels), max_length=16, tag_scheme="IOB2"
                    if task == "ner" else "")
    model = build_model(CONFIG, spec)
    if task in ("classify", "pair", "ner"):
        bias = np.zeros(len(labels), "float32")
        bias[favourite] = 6.0
        model.get_layer("classifier").bias.assign(bias)
    vocab = path.parent / f"{path.name}-vocab.txt"
    vocab.write_text("".join(t + "\n" for t in VOCAB))
    save_model_dir(model, CONFIG, spec, str(path), vocab_file=str(vocab))
    return path


def _classify_data(path, label="neg", rows=32, seed=0):
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        for _ in range(rows):
            text = " ".join(rng.choice(WORDS, size=rng.integers(2, 8)))
            f.write(json.dumps({"text": text, "label": label}) + "\n")
    return path


def _settings(**changes):
    return TrainSettings(**{"batch_size": 8, "max_steps": 30, "learning_rate": 3e-3,
                            "warmup_ratio": 0.0, "log_every": 10, **changes})


@pytest.fixture
def teacher(tmp_path):
    return _teacher(tmp_path / "teacher")


# === The loss ===

def test_soft_term_is_zero_only_where_the_student_matches_the_teacher():
    teacher = tf.constant([[2.0, -1.0, 0.5], [0.0, 0.0, 3.0]])
    assert np.allclose(soft_kl(teacher, teacher, 2.0), 0.0, atol=1e-6)
    assert np.all(soft_kl(tf.zeros_like(teacher), teacher, 2.0).numpy() > 0.01)
    # T^2 scaling: the same logits at T=1 and T=4 give comparable magnitudes.
    small = soft_kl(tf.zeros_like(teacher), teacher, 1.0).numpy()
    large = soft_kl(tf.zeros_like(teacher), teacher, 4.0).numpy()
    assert np.all(large > 0.1 * small) and np.all(large < 10 * small)


def test_the_soft_gradient_pulls_the_student_toward_the_teacher_not_the_labels():
    loss = DistillationLoss(DistillWeights(soft=1.0, hard=0.0), per_token=False)
    student = tf.Variable([[0.0, 0.0]])
    targets = {"labels": tf.constant([0]), "teacher_logits": tf.constant([[-3.0, 3.0]])}
    with tf.GradientTape() as tape:
        total = loss.sums({"logits": student}, targets)["soft"]
    step = -tape.gradient(total, student).numpy()[0]
    assert step[1] > 0 > step[0]          # toward the teacher's class 1, against label 0
    assert set(loss.counts(targets)) == {"soft"}


def test_unlabelled_rows_count_for_the_soft_term_only():
    loss = DistillationLoss(DistillWeights(soft=1.0, hard=1.0), per_token=False)
    targets = {"labels": tf.constant([1, -1, -1]), "teacher_logits": tf.zeros((3, 2))}
    counts = loss.counts(targets)
    assert (float(counts["soft"]), float(counts["hard"])) == (3.0, 1.0)
    # Only row 0 is labelled: its cross-entropy is small; the unlabelled rows, whose logits
    # would cost 18 each were their -1 read as class 0, add nothing.
    outputs = {"logits": tf.constant([[0.0, 5.0], [-9.0, 9.0], [-9.0, 9.0]])}
    assert float(loss.sums(outputs, targets)["hard"]) < 0.01


@pytest.mark.parametrize("weights", [dict(soft=0, hard=0), dict(temperature=0),
                                     dict(hidden=-1)])
def test_weights_are_checked(weights):
    with pytest.raises(ValueError, match=r"--\w+"):
        DistillWeights(**weights)


# === The models ===

def test_the_distiller_gives_the_students_outputs_and_both_sides_layers(make_inputs):
    student = build_model(CONFIG.replace(num_layers=2, hidden_size=16, num_heads=2),
                          TaskSpec(task="classify", labels=("a", "b")))
    teacher = BertEncoder.from_bert_config(CONFIG)
    inputs = make_inputs(batch=2, seq=9, vocab=CONFIG.vocab_size)
    distiller = Distiller(student, teacher, uniform_layer_map(2, 4))
    out = distiller(inputs, training=False)
    # The head read from the layer-by-layer path is the model's own forward pass.
    np.testing.assert_allclose(out["logits"], student(inputs)["logits"], atol=1e-5)
    full = BertEncoder.from_bert_config(CONFIG, return_all_hidden_states=True)
    full.set_weights(teacher.get_weights())
    np.testing.assert_allclose(out["teacher_hidden_2"],
                               full(inputs)["hidden_states"][:, 4], atol=1e-5)
    assert out["student_hidden_1"].shape == (2, 9, 32)        # projected to the teacher's width
    assert out["student_attention_1"].shape == (2, 1, 9, 9)    # 2 and 4 heads: averaged
    assert uniform_layer_map(2, 4) == ((0, 0), (1, 2), (2, 4))
    # The projections and the student train; the teacher does not.
    trained = {v.path for v in distiller.trainable_variables}
    assert any(p.startswith("projection_") for p in trained)
    assert len(distiller.trainable_variables) == len(student.trainable_variables) + 6


def test_the_layer_transfer_loss_is_zero_for_a_student_equal_to_its_teacher(make_inputs):
    teacher_model = build_model(CONFIG, TaskSpec(task="classify", labels=("a", "b")))
    distiller = Distiller(teacher_model, teacher_model.encoder, uniform_layer_map(4, 4))
    inputs = make_inputs(batch=2, seq=9, vocab=CONFIG.vocab_size)
    outputs = distiller(inputs, training=False)
    loss = DistillationLoss(DistillWeights(soft=0, hard=0, hidden=1, attention=1), False, 5)
    targets = {"labels": tf.constant([0, 1]), "padding_mask": inputs["padding_mask"]}
    assert abs(float(loss.sums(outputs, targets)["layers"])) < 1e-4
    other = build_model(CONFIG, TaskSpec(task="classify", labels=("a", "b")))
    outputs = Distiller(other, teacher_model.encoder, uniform_layer_map(4, 4))(inputs)
    assert float(loss.sums(outputs, targets)["layers"]) > 0.1


def test_a_cut_student_takes_every_nth_teacher_block(teacher, make_inputs):
    assert students.teacher_blocks(2, 6) == [2, 5]
    assert students.teacher_blocks(3, 6) == [1, 3, 5]
    assert students.teacher_blocks(1, 4) == [3]
    config, spec, tensors = read_model_dir(str(teacher))
    cut = students.cut_teacher(config, spec, tensors, 2)
    assert cut.config.num_layers == 2
    np.testing.assert_array_equal(cut.tensors["block_0/output/kernel"],
                                  tensors["block_1/output/kernel"])
    np.testing.assert_array_equal(cut.tensors["block_1/output/kernel"],
                                  tensors["block_3/output/kernel"])
    # Cut to all its layers, the student is the teacher.
    whole = students.cut_teacher(config, spec, tensors, 4)
    assert whole.tensors.keys() == tensors.keys()
    assert all(np.array_equal(whole.tensors[k], tensors[k]) for k in tensors)


def test_a_narrower_preset_starts_from_the_teachers_projected_embeddings(teacher):
    config, spec, tensors = read_model_dir(str(teacher))
    student = students.preset_student("L2-H128", config.replace(hidden_size=256), spec,
                                      {k: np.random.default_rng(0).normal(size=(
                                          v.shape[0], 256)).astype("float32")
                                       for k, v in tensors.items()
                                       if k in students.EMBEDDINGS})
    tokens = student.tensors["embeddings/token_embedding/embeddings"]
    assert tokens.shape == (config.vocab_size, 128)
    assert student.config.num_heads == 2 and student.config.intermediate_size == 512
    fresh = students.preset_student("L2-H128", config, spec, tensors, embedding_init=False)
    assert fresh.tensors == {}


# === End to end ===

def test_a_student_follows_the_teacher_against_the_gold_labels(teacher, tmp_path):
    # Gold says "neg" for everything; the teacher says "pos". With only the soft term, the
    # student must learn "pos": a loss that ignored the teacher could not.
    train = _classify_data(tmp_path / "train.jsonl", "neg")
    dev = _classify_data(tmp_path / "dev.jsonl", "pos", rows=16, seed=1)
    job = DistillJob(teacher=str(teacher), train=str(train), dev=str(dev),
                     out=str(tmp_path / "student"), student="L1-H64",
                     weights=DistillWeights(soft=1.0, hard=0.0), settings=_settings())
    result, report = distill(job, verbose=False)
    assert report["dev"]["agreement"] == 1.0 and report["dev"]["student"] == 1.0
    assert report["student"]["layers"] == 1 and report["student"]["hidden_size"] == 64
    out = tmp_path / "student"
    assert (out / "distill_report.md").read_text().count("|") > 10
    config, spec, _ = read_model_dir(str(out))      # an ordinary model directory
    assert (config.num_layers, config.hidden_size, spec.labels) == (1, 64, ("neg", "pos"))
    assert (out / "vocab.txt").read_text() == "".join(t + "\n" for t in VOCAB)
    assert os.path.isfile(out / "checkpoints" / "teacher_outputs.npz")


def test_unlabeled_texts_are_labelled_by_the_teacher_and_the_run_resumes(teacher, tmp_path,
                                                                        capsys):
    train = _classify_data(tmp_path / "train.jsonl", "neg", rows=8)
    raw = tmp_path / "raw.txt"
    raw.write_text("".join(" ".join(WORDS[i:i + 3]) + "\n" for i in range(8)) * 3)
    settings = _settings(max_steps=4)
    job = dict(teacher=str(teacher), train=str(train), out=str(tmp_path / "s"),
               unlabeled=str(raw), student_layers=1, settings=settings)
    distill(DistillJob(**job), verbose=True)
    assert "32 rows" not in capsys.readouterr().out   # (8 + 24 rows; note names both)
    cached = np.load(tmp_path / "s" / "checkpoints" / "teacher_outputs.npz")["train"]
    assert cached.shape == (8 + 24, 2) and np.all(cached.argmax(-1) == 1)
    # Same settings, more steps: a different run, refused; the same run resumes.
    with pytest.raises(ValueError, match="holds checkpoints of a different run"):
        distill(DistillJob(**{**job, "settings": _settings(max_steps=6)}), verbose=False)
    result, _ = distill(DistillJob(**job), verbose=True)
    assert "resuming" in capsys.readouterr().out and result.step == 4


def test_ner_rows_compare_the_teacher_at_word_starts_only(tmp_path):
    from tfbert.tokenization import BertTokenizer
    from tfbert.training import tasks
    from tfbert.training.distill import student_rows

    labels = ["O", "B-X", "I-X"]
    tokenizer = BertTokenizer(VOCAB + ["##x"])
    conll = tmp_path / "train.conll"
    conll.write_text("good O\nbadx B-X\n\nfine O\n")       # "badx": 2 pieces
    raw = tmp_path / "raw.txt"
    raw.write_text("nice poorx\n")
    train = tasks.load_task_data("ner", str(conll), tokenizer, labels, 16)
    extra = tasks.encode_unlabeled("ner", str(raw), tasks.Columns(), tokenizer, labels, 16, 14)
    inputs, targets = student_rows("ner", train, extra)
    assert len(inputs["token_ids"]) == 3
    # [CLS] good bad ##x [SEP]: the teacher is compared at "good" and "bad", not at [CLS],
    # "##x", [SEP] or padding; the raw row (nice poor ##x) likewise, with no gold label.
    assert inputs["token_ids"][0, 3] == len(VOCAB)          # ##x
    np.testing.assert_array_equal(targets["scored"][0, :6], [0, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(targets["scored"][2, :6], [0, 1, 1, 0, 0, 0])
    assert (targets["labels"][2] == -1).all() and (targets["labels"][0, 1:3] >= 0).all()


def test_ner_distils_into_a_student_that_evaluates_and_predicts(tmp_path):
    labels = ("O", "B-X", "I-X")
    teacher = _teacher(tmp_path / "ner-teacher", task="ner", labels=labels, favourite=0)
    conll = tmp_path / "train.conll"
    conll.write_text("\n\n".join("\n".join(f"{w} {'B-X' if w == 'good' else 'O'}"
                                           for w in WORDS[i:i + 4]) for i in range(6)) + "\n")
    raw = tmp_path / "raw.txt"
    raw.write_text("good bad fine\nnice poor\n")
    out = tmp_path / "ner-student"
    runner = CliRunner()
    done = runner.invoke(cli, ["distill", "--teacher", str(teacher), "--train", str(conll),
                               "--dev", str(conll), "--unlabeled", str(raw), "--out", str(out),
                               "--student-layers", "2", "--hidden-weight", "1",
                               "--attention-weight", "1", "--max-steps", "3",
                               "--batch-size", "4"])
    assert done.exit_code == 0, done.output
    assert "dev f1" in done.output and "agreement" in done.output
    report = json.loads((out / "distill_report.json").read_text())
    assert report["student"]["layers"] == 2 and report["weights"]["hidden"] == 1.0
    done = runner.invoke(cli, ["predict", str(out), "--text", "good bad"])
    assert done.exit_code == 0, done.output
    done = runner.invoke(cli, ["evaluate", str(out), str(conll)])
    assert done.exit_code == 0, done.output
    done = runner.invoke(cli, ["convert", str(out), str(tmp_path / "hf"), "--to", "hf"])
    assert done.exit_code == 0, done.output


# === Bad input: one line, nothing written ===

def _run(args):
    done = CliRunner().invoke(cli, ["distill", *args])
    return done.exit_code, done.output.strip().splitlines()


def test_bad_input_is_one_line_and_writes_nothing(teacher, tmp_path):
    train = _classify_data(tmp_path / "train.jsonl")
    out = tmp_path / "out"
    base = ["--train", str(train), "--out", str(out), "--max-steps", "1"]
    encoder = tmp_path / "encoder"
    _teacher(encoder)
    spec = json.loads((encoder / "task.json").read_text())
    (encoder / "task.json").write_text(json.dumps({**spec, "task": "encoder", "labels": []}))
    os.remove(encoder / "model.safetensors")
    config, _, tensors = read_model_dir(str(teacher))
    from safetensors.numpy import save_file
    save_file({k: v for k, v in tensors.items() if not k.startswith("classifier/")},
              str(encoder / "model.safetensors"))
    other = tmp_path / "other-vocab"
    _teacher(other)
    (other / "vocab.txt").write_text("".join(t + "\n" for t in reversed(VOCAB)))
    cases = [
        (["--teacher", str(encoder)], "is a 'encoder' model; distill takes a fine-tuned"),
        (["--teacher", str(teacher), "--student-layers", "5"],
         "--student-layers must be between 1 and the teacher's 4 layers. Received: 5"),
        (["--teacher", str(teacher), "--student-init", str(other)],
         "is not the teacher's (41) (first difference at id 0)"),
        (["--teacher", str(teacher), "--student", "huge"], "--student huge: not an architecture"),
        (["--teacher", str(teacher), "--student", "tiny", "--student-layers", "2"],
         "give one of --student, --student-layers and --student-init"),
        (["--teacher", str(teacher), "--soft-weight", "0", "--hard-weight", "0"],
         "every loss weight is 0"),
    ]
    for args, message in cases:
        code, lines = _run(args + base)
        assert code != 0 and len(lines) == 1 and message in lines[0], (args, lines)
        assert not out.exists(), args
    # Refused after the teacher labelled the data (no step of 64 from 32 rows): the labels
    # are not kept either, and the same directory takes a corrected run.
    code, lines = _run(["--teacher", str(teacher), "--batch-size", "64"] + base)
    assert code != 0 and "make no step of 64" in lines[-1]
    assert not out.exists() or not os.listdir(out)
    code, lines = _run(["--teacher", str(teacher), "--batch-size", "8"] + base)
    assert code == 0, lines


def test_the_python_api_distils_and_trims_with_python_names(teacher, tmp_path):
    import tfbert

    train = _classify_data(tmp_path / "train.jsonl", "neg", rows=16)
    result = tfbert.distill(str(teacher), train=str(train), dev=str(train),
                            out=str(tmp_path / "s"), student="L1-H64", max_steps=2,
                            batch_size=8, verbose=False)
    assert result.steps == 2 and set(result.metrics) == {"accuracy", "teacher_accuracy",
                                                         "agreement"}
    with pytest.raises(ValueError, match=r"^student_layers must be between 1 and"):
        tfbert.distill(str(teacher), train=str(train), out=str(tmp_path / "x"),
                       student_layers=9)
    trimmed = tfbert.trim_vocab(str(tmp_path / "s"), str(train), str(tmp_path / "t"))
    assert trimmed.vocab_size == len(VOCAB)       # every piece here is a word or a letter
    empty = tmp_path / "empty.txt"
    empty.write_text("\u2603\n")
    with pytest.raises(ValueError, match=r"^corpus .*yields no word pieces"):
        tfbert.trim_vocab(str(tmp_path / "s"), str(empty), str(tmp_path / "u"))
