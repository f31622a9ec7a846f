"""Files from strangers are data, never code: nothing is unpickled, no class or path named
by a file is used, names stay inside their base directory, and sizes read from headers
are checked before anything is allocated."""

import json
import os
import re
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from safetensors.numpy import load_file, save_file

from tfbert.cli.main import cli
from tfbert.config import BertConfig
from tfbert.convert import read_checkpoint
from tfbert.model_dir import (build_model, expected_shapes, model_weights, read_model_dir,
                              save_model_dir)
from tfbert.task import TaskSpec
from tfbert.tokenization.bert_tokenizer import SPECIAL_TOKENS

ROOT = Path(__file__).resolve().parents[2]
VOCAB = list(SPECIAL_TOKENS) + ["good", "bad", "movie", "##s", "paris"]
CONFIG = BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_layers=2, num_heads=2,
                    intermediate_size=32, max_position_embeddings=32)
SPEC = TaskSpec(task="classify", labels=("neg", "pos"), max_length=16)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("untrusted")
    (root / "vocab.txt").write_text("".join(t + "\n" for t in VOCAB), encoding="utf-8")
    keras.utils.set_random_seed(0)
    save_model_dir(build_model(CONFIG, SPEC), CONFIG, SPEC, root / "model", root / "vocab.txt")
    return root / "model"


def copy(model_dir, tmp_path):
    return Path(shutil.copytree(model_dir, tmp_path / "copy"))


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


# --- no code from files -------------------------------------------------------------------

LOADERS = re.compile(r"\bpickle\b|\bcPickle\b|\bdill\b|\bjoblib\b|\bmarshal\.loads?\b|"
                     r"\bshelve\b|allow_pickle\s*=\s*True|torch\.load|yaml\.load\(|"
                     r"enable_unsafe_deserialization|safe_mode\s*=\s*False|\beval\(|\bexec\(")


def test_no_code_loading_in_the_package():
    """No unpickling (pickle, torch.load, np.load(allow_pickle=True)...), no eval/exec,
    and Keras' safe mode is never switched off, anywhere in `tfbert/`."""
    found = []
    for path in sorted((ROOT / "tfbert").rglob("*.py")):
        for number, code in enumerate(code_without_strings(path), 1):
            if LOADERS.search(code):
                found.append(f"{path.relative_to(ROOT)}:{number}: {code.strip()}")
    assert not found, found


def code_without_strings(path):
    """The file's lines with every string literal and comment blanked out (tokenize), so
    that a message that mentions `torch.load` is not code that calls it."""
    import io
    import tokenize

    source = path.read_text(encoding="utf-8")
    lines = [list(line) for line in source.splitlines()]
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.STRING, tokenize.COMMENT) or \
                token.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
            (row, col), (end_row, end_col) = token.start, token.end
            for r in range(row, end_row + 1):
                start = col if r == row else 0
                stop = end_col if r == end_row else len(lines[r - 1])
                lines[r - 1][start:stop] = " " * (stop - start)
    return ["".join(line) for line in lines]


def test_the_code_loading_scan_sees_code_not_messages(tmp_path):
    """The scan above ignores a message about unpickling but finds the call itself."""
    sample = tmp_path / "sample.py"
    sample.write_text('MESSAGE = "never unpickles: no torch.load(path) here"  # pickle\n'
                      'weights = torch.load(path)\n'
                      'value = eval(\n    "1")\n', encoding="utf-8")
    assert [bool(LOADERS.search(line)) for line in code_without_strings(sample)] == \
        [False, True, True, False]


def test_keras_models_are_never_deserialized_from_files():
    """`keras.saving.load_model` / `deserialize_keras_object` on a file's content would let
    the file name the class to build; tfbert builds its classes itself."""
    for path in (ROOT / "tfbert").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        # (Beam's ModelHandler API has a `load_model` method tfbert defines: a definition
        # is no call; its body loads through tfbert's own loader.)
        assert not re.search(r"(?<!def )\bload_model\(", text), path
        assert "from_preset(" not in text, path
        for match in re.finditer(r"deserialize_keras_object\(", text):
            # Allowed only in get_config/from_config of tfbert's own layers.
            assert path.parent.name == "modeling", path


def test_pytorch_pickles_are_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(
        {"model_type": "bert", "num_hidden_layers": 1, "hidden_size": 16,
         "num_attention_heads": 2, "intermediate_size": 32, "vocab_size": 10}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(ValueError, match="never unpickles"):
        read_checkpoint(tmp_path)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.update(class_name="Lambda", registered_name="keras>Lambda"),
     "BertBackbone preset"),
    (lambda c: c["config"].update(function="lambda x: __import__('os').system('true')"),
     "unknown BertBackbone argument"),
    (lambda c: c["config"].update(num_layers="2"), "wrong type"),
    (lambda c: c["config"].update(dtype={"class_name": "Evil", "config": {}}), "dtype"),
])
def test_keras_hub_presets_are_checked_before_keras_sees_them(tmp_path, edit, message):
    """A preset's config.json is checked against BertBackbone's arguments; keras-hub's own
    loader (which deserializes whatever class the file names) is never called."""
    keras_hub = pytest.importorskip("keras_hub")
    backbone = keras_hub.models.BertBackbone(vocabulary_size=10, num_layers=1, num_heads=2,
                                             hidden_dim=8, intermediate_dim=16,
                                             max_sequence_length=16)
    backbone.save_to_preset(str(tmp_path))
    config = json.loads((tmp_path / "config.json").read_text())
    edit(config)
    (tmp_path / "config.json").write_text(json.dumps(config))
    from tfbert.convert.keras_hub import read_keras_hub_preset

    with pytest.raises(ValueError, match=message):
        read_keras_hub_preset(str(tmp_path))


@pytest.mark.parametrize("write, op", [
    (lambda target, text: tf.io.write_file(target, text[0]), "WriteFile"),
    (lambda target, text: tf.print(text, output_stream=f"file://{target}"),
     "StringFormat|PrintV2"),
])
def test_saved_models_that_touch_files_are_refused(tmp_path, write, op):
    """A SavedModel is a program: one whose signature writes a file (`WriteFile`, or
    `tf.print` to a file) is refused before `tf.saved_model.load` runs anything of it."""
    from tfbert.predict.saved_model import SavedModelPredictor
    from tfbert.export.saved_model_ops import check_untrusted_saved_model

    target = str(tmp_path / "written-by-the-model")

    class Hostile(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, text):
            write(target, text)
            return {"probabilities": tf.zeros([tf.shape(text)[0], 2])}

    module = Hostile()
    path = tmp_path / "hostile" / "1"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    (path / "assets.extra").mkdir()
    (path / "assets.extra" / "tfbert_export.json").write_text(json.dumps(
        {"task": SPEC.to_dict()}))
    with pytest.raises(ValueError, match=op):
        check_untrusted_saved_model(str(path))
    with pytest.raises(ValueError, match=op):
        SavedModelPredictor(str(path))
    assert not os.path.exists(target)


# --- the model directory schema -------------------------------------------------------------

@pytest.mark.parametrize("task, labels", [("encoder", ()), ("pretrain", ()), ("classify", "ab"),
                                          ("ner", ("O", "B-X", "I-X")), ("qa", ())])
def test_expected_shapes_are_the_models(task, labels):
    """The schema a weights file is checked against is exactly what `build_model` builds."""
    spec = TaskSpec(task=task, labels=tuple(labels))
    model = build_model(CONFIG, spec)
    assert expected_shapes(CONFIG, spec) == {k: v.shape for k, v in model_weights(model).items()}


def test_extra_tensor_is_refused(model_dir, tmp_path):
    model = copy(model_dir, tmp_path)
    tensors = load_file(model / "model.safetensors")
    tensors["../../payload"] = np.zeros(3, "float32")
    save_file(tensors, model / "model.safetensors")
    with pytest.raises(ValueError, match="'../../payload' is not part of a classify model"):
        read_model_dir(model)


def test_labels_that_disagree_with_the_head_are_refused(model_dir, tmp_path):
    model = copy(model_dir, tmp_path)
    task = json.loads((model / "task.json").read_text())
    task["labels"] = ["neg", "neutral", "pos"]
    (model / "task.json").write_text(json.dumps(task))
    with pytest.raises(ValueError, match=r"'classifier/kernel' has shape \(16, 2\); task.json"):
        read_model_dir(model)


@pytest.mark.parametrize("key, value, message", [
    ("task", "os.system", "'task' must be one of"),
    ("max_length", 10 ** 12, "'max_length' must be an integer"),
    ("lowercase", "yes", "'lowercase' must be true or false"),
    ("tag_scheme", "BILOU", "'tag_scheme' must be one of"),
    ("pooling", "max", "'pooling' must be one of"),
    ("labels", ["a", "a"], "duplicates"),
    ("module", "keras.layers.Lambda", "unknown keys"),
])
def test_task_json_schema(model_dir, tmp_path, key, value, message):
    model = copy(model_dir, tmp_path)
    task = json.loads((model / "task.json").read_text())
    task[key] = value
    (model / "task.json").write_text(json.dumps(task))
    with pytest.raises(ValueError, match=message):
        read_model_dir(model)


@pytest.mark.parametrize("task", ["ner", "qa", "pretrain"])
def test_mean_pooling_is_for_classifiers_and_encoders_only(task):
    data = {"task": task, "labels": ["O", "B-PER"] if task == "ner" else [], "pooling": "mean"}
    with pytest.raises(ValueError, match=f"task.json: 'pooling' 'mean' is for classify, pair "
                                         f"and encoder models, not task '{task}'"):
        TaskSpec.from_dict(data)
    # An encoder records the pooling it was trained with (a sentence-transformers one).
    assert TaskSpec.from_dict({"task": "encoder", "pooling": "mean"}).pooling == "mean"


@pytest.mark.parametrize("task", ["classify", "ner", "pretrain"])
def test_normalize_is_for_encoders_only(task):
    data = {"task": task, "labels": ["O", "B-PER"] if task != "pretrain" else [],
            "normalize": True}
    with pytest.raises(ValueError, match=f"task.json: 'normalize' is for encoder models "
                                         rf"\(embeddings\), not task '{task}'"):
        TaskSpec.from_dict(data)


# --- sizes from headers ---------------------------------------------------------------------

def test_config_asking_for_more_than_its_weights_is_refused_before_allocation(model_dir,
                                                                               tmp_path):
    """vocab_size=10**12 would ask for terabytes when the model is built; the weights file
    holds far fewer numbers, so it is refused first."""
    model = copy(model_dir, tmp_path)
    config = json.loads((model / "config.json").read_text())
    config["vocab_size"] = 10 ** 12
    (model / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="describes an encoder of 16,000,000,"):
        read_model_dir(model)


def test_safetensors_header_claiming_more_than_the_file_is_refused(model_dir, tmp_path):
    model = copy(model_dir, tmp_path)
    path = model / "model.safetensors"
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    name = "embeddings/token_embedding/embeddings"
    header[name]["shape"] = [10 ** 9, 16]  # offsets unchanged: the file cannot hold it
    raw = json.dumps(header).encode()
    raw += b" " * (size - len(raw)) if len(raw) <= size else b""
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + size:])
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        read_model_dir(model)


def test_oversized_json_is_not_read(tmp_path):
    from tfbert.textfile import read_json

    path = tmp_path / "config.json"
    with open(path, "wb") as f:
        f.truncate(65 << 20)  # sparse: 65 MiB of NULs, no disk used
    with pytest.raises(ValueError, match="at most"):
        read_json(path)


def test_zip_members_claiming_more_than_the_file_are_not_read():
    import io
    import zipfile

    from tfbert.export.tflite_files import packed_files

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("vocab.txt", b"\0" * (8 << 20))  # 8 MiB deflates to ~8 KiB
    with pytest.raises(ValueError, match="claim more bytes"):
        packed_files(b"flatbuffer" + buffer.getvalue())


# --- names stay inside their base -------------------------------------------------------------

@pytest.mark.parametrize("name", ["../escaped", "a/b", "/tmp/abs", "..", ".hidden"])
def test_export_names_cannot_leave_the_base(model_dir, tmp_path, name):
    result = run("export", model_dir, "--format", "saved_model", "--name", name,
                 "--base", tmp_path / "base")
    assert result.exit_code == 2, result.output
    assert "--name must be" in result.output
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "base").exists()


@pytest.mark.parametrize("name", ["../../etc", "bbc-news/../x", "/etc/passwd"])
def test_dataset_names_are_only_the_built_in_ones(tmp_path, name):
    result = run("datasets", "export", name, tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_manifest_shard_names_cannot_leave_the_data_directory(tmp_path):
    from tfbert.data.pretraining import read_manifest

    (tmp_path / "manifest.json").write_text(json.dumps({
        "settings": {"seq_len": 16, "vocab_size": 9, "next_sentence": True},
        "shards": [{"file": "../../etc/passwd", "instances": 1, "sha256": "0" * 64}],
        "instances": 1}))
    with pytest.raises(ValueError, match=r"shards\[0\] must have 'file' \(shard-NNNNN"):
        read_manifest(tmp_path)


def test_huggingface_index_shards_cannot_leave_the_directory(tmp_path):
    from tfbert.convert.huggingface import _shard_names

    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {"a": "../../secret.safetensors"}}))
    with pytest.raises(ValueError, match="not a .safetensors file name in the model's"):
        _shard_names(str(index))


def test_saved_model_assets_cannot_leave_assets(tmp_path):
    """A SavedModel whose asset file name climbs out of assets/ is refused."""
    from tensorflow.core.protobuf import saved_model_pb2

    from tfbert.export.saved_model_ops import check_untrusted_saved_model

    class Plain(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def serve(self, x):
            return {"y": x * 2.0}

    module = Plain()
    path = tmp_path / "m"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    check_untrusted_saved_model(str(path))  # a plain graph passes
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((path / "saved_model.pb").read_bytes())
    proto.meta_graphs[0].asset_file_def.add().filename = "../../../etc/passwd"
    (path / "saved_model.pb").write_bytes(proto.SerializeToString())
    with pytest.raises(ValueError, match="not a file name inside assets"):
        check_untrusted_saved_model(str(path))


def test_killed_writers_leave_nothing_that_the_next_one_keeps(tmp_path):
    """Staging files of a writer that died are removed by the next writer; a live one's
    are left alone."""
    from tfbert.atomic import atomic_file, writer_tag

    host = writer_tag().partition("-")[2]
    dead = tmp_path / f".out.json.{_dead_pid()}-{host}.abc"
    live = tmp_path / f".out.json.{writer_tag()}.xyz"
    elsewhere = tmp_path / f".out.json.{_dead_pid()}-otherhost.abc"  # shared storage
    for path in (dead, live, elsewhere):
        path.write_text("half")
    with atomic_file(tmp_path / "out.json") as staging:
        Path(staging).write_text("{}")
    assert not dead.exists() and live.exists() and elsewhere.exists()
    assert (tmp_path / "out.json").read_text() == "{}"


def test_a_swap_killed_between_its_renames_is_finished(tmp_path):
    """`staged_directory` replaces a directory with two renames; killed between them, the
    old directory waits in `.NAME.old.*` and the next call puts it back first."""
    from tfbert.atomic import staged_directory, writer_tag

    host = writer_tag().partition("-")[2]
    held = tmp_path / f".model.old.{_dead_pid()}-{host}.x1" / "model"
    held.mkdir(parents=True)
    (held / "weights").write_text("old")
    with staged_directory(tmp_path / "model", replace=True) as staging:
        assert (tmp_path / "model" / "weights").read_text() == "old"
        Path(staging, "weights").write_text("new")
    assert (tmp_path / "model" / "weights").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def _dead_pid():
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid
