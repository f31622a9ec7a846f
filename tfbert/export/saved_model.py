"""`tfbert export --format saved_model`: a model directory as a TF Serving version.

Writes `BASE/NAME/<next integer>/` (`saved_model.pb`, `variables/`, `assets/` with
`vocab.txt` and `labels.txt`, `assets.extra/tfbert_export.json` and TF Serving's warm-up
requests `assets.extra/tf_serving_warmup_requests`, and `batching_params.pbtxt`, the
batching policy TF Serving reads with `--enable_batching
--enable_per_model_batching_parameters`). The version is built in a
hidden directory beside it and renamed into place only once it is complete and checked, so
a server polling `BASE/NAME` never sees half a version, and earlier versions are never
touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tf-text ops the graph uses)

from tfbert.atomic import remove_abandoned, writer_tag
from tfbert.export import saved_model_batching, saved_model_ops, saved_model_warmup
from tfbert.export.saved_model_signatures import ENCODER_INPUTS, ServingModule
from tfbert.task.decoding import DEFAULT_N_BEST, DEFAULT_TOP_K

DEFAULT_SERVING_VERSION = "2.20"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def load_task_model(model_dir):
    """`(model, tokenizer, spec, checkpoint)` of a tfbert model directory or any checkpoint
    tfbert reads (a name too; a bare pre-trained one exports as an encoder: embeddings); a
    directory that is none of these is an error saying what was expected."""
    from tfbert.convert.loader import model_from_checkpoint, read_checkpoint
    from tfbert.tokenization import BertTokenizer

    checkpoint = read_checkpoint(model_dir)
    if not checkpoint.vocab_file:
        raise ValueError(f"{model_dir}: no vocab.txt; the exported model tokenizes raw text "
                         "and needs the vocabulary")
    tokenizer = BertTokenizer.from_file(checkpoint.vocab_file,
                                        lowercase=checkpoint.spec.lowercase)
    return model_from_checkpoint(checkpoint), tokenizer, checkpoint.spec, checkpoint


def next_version(model_base) -> int:
    """One more than the highest integer version under `model_base` (1 when none)."""
    if not os.path.isdir(model_base):
        return 1
    versions = [int(n) for n in os.listdir(model_base) if n.isdigit()]
    return max(versions, default=0) + 1


def _writable_base(base):
    try:
        os.makedirs(base, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{base}: cannot create the export base directory "
                         f"({err.strerror}); choose a writable --base") from None
    if not os.access(base, os.W_OK | os.X_OK):
        raise ValueError(f"{base}: not writable; choose a writable --base")


def export_saved_model(model_dir, name, base="savedmodels",
                       serving_version=DEFAULT_SERVING_VERSION,
                       top_k=DEFAULT_TOP_K, warmup_data=None, n_best=DEFAULT_N_BEST,
                       xla=False) -> str:
    """Exports `model_dir` as the next version of `BASE/NAME`; returns the version's path.
    `top_k`: fill-mask candidates per `[MASK]`; `n_best`: a qa model's answers listed per
    question (`nbest_*` outputs), both fixed in the graph. `xla`: the model's call is
    XLA-compiled (TF Serving needs `--xla_cpu_compilation_enabled`; see
    `saved_model_signatures`).

    `warmup_data`: a file of requests for TF Serving to replay at load (`.jsonl`/`.csv`/
    `.tsv` with the `serving_default` input columns, or `.txt` with one text per line);
    without it, built-in texts suited to the task and vocabulary.

    Raises `ValueError` (nothing under `BASE` changed) for a directory without a task, a
    bad name, unreadable warm-up data, an unwritable base, or an op the targeted TF
    Serving release lacks.
    """
    from tfbert.backends import require_tensorflow_backend

    require_tensorflow_backend("tfbert export --format saved_model")
    if not _NAME.match(name or ""):
        raise ValueError(f"--name must be letters, digits, '_', '.' or '-' (a directory name "
                         f"under the base). Received: {name!r}")
    saved_model_ops.parse_version(serving_version)
    if isinstance(n_best, bool) or not isinstance(n_best, int) or n_best < 1:
        raise ValueError(f"--n-best must be a positive integer. Received: {n_best!r}")
    model, tokenizer, spec, checkpoint = load_task_model(model_dir)
    if warmup_data is None:
        rows = saved_model_warmup.builtin_rows(spec.task, spec.max_length, tokenizer.vocab)
    else:
        rows = saved_model_warmup.read_warmup_data(warmup_data, spec.task)
    warmup = saved_model_warmup.batches(rows)
    model_base = os.path.join(os.path.abspath(base), name)
    _writable_base(model_base)
    remove_abandoned(model_base, ".export.")
    staging = tempfile.mkdtemp(prefix=f".export.{writer_tag()}.", dir=model_base)
    # mkdtemp makes the directory private (0700); a server under another user must read it.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)
    try:
        _write_version(staging, model, tokenizer, spec, checkpoint, serving_version, top_k,
                       warmup, n_best, xla)
        return _publish(staging, model_base)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_version(path, model, tokenizer, spec, checkpoint, serving_version, top_k,
                   warmup, n_best, xla=False):
    files = tempfile.mkdtemp(prefix="tfbert-assets-")  # copied into the SavedModel
    try:
        vocab_file = os.path.join(files, "vocab.txt")
        shutil.copyfile(checkpoint.vocab_file, vocab_file)
        module = ServingModule(model, tokenizer, spec, top_k=top_k, n_best=n_best,
                               jit_compile=xla)
        module.vocab_asset = tf.saved_model.Asset(vocab_file)
        if spec.labels:
            labels_file = os.path.join(files, "labels.txt")
            with open(labels_file, "w", encoding="utf-8") as f:
                f.writelines(label + "\n" for label in spec.labels)
            module.labels_asset = tf.saved_model.Asset(labels_file)
        signatures = module.signatures()
        tf.saved_model.save(module, path, signatures=signatures)
    finally:
        shutil.rmtree(files, ignore_errors=True)
    text_ops = saved_model_ops.check_serving_ops(saved_model_ops.saved_model_ops(path),
                                                 serving_version)
    saved_model_warmup.write_warmup(path, warmup)
    saved_model_batching.write_batching_parameters(path, xla)
    loaded = tf.saved_model.load(path)
    difference = _check_encode(loaded, model, tokenizer, spec)
    # Read back as TF Serving reads the file, and replayed as it will be at load.
    saved_model_warmup.replay(loaded, saved_model_warmup.read_warmup(path))
    record = {"source": os.path.abspath(checkpoint.source), "task": spec.to_dict(),
              "signatures": sorted(signatures),
              "inputs": {k: [s.name for s in tf.nest.flatten(f.structured_input_signature)
                             if isinstance(s, tf.TensorSpec)]
                         for k, f in signatures.items()},
              "tf_serving_min": serving_version, "tf_text_ops": text_ops,
              "max_abs_difference_vs_keras": difference, "warmup_requests": len(warmup),
              "xla": bool(xla), "batching_parameters": saved_model_batching.FILE_NAME,
              **({"n_best": n_best} if spec.task == "qa" else {})}
    with open(os.path.join(path, "assets.extra", "tfbert_export.json"), "w",
              encoding="utf-8") as f:
        json.dump(record, f, indent=2)


def _check_encode(loaded, model, tokenizer, spec) -> float:
    """Compares the reloaded SavedModel's `encode` signature with the Keras model on a fixed batch; a difference over 1e-4 fails the export (it would mean weights
    were not saved, the failure mode of tracing Keras 3 models into `tf.Module`s)."""
    inputs = tokenizer(["tfbert export check", "a second, longer sentence to compare"],
                       max_length=min(spec.max_length, 32))
    if spec.task == "pretrain":
        inputs["masked_positions"] = np.array([[1, 2], [1, 3]], "int32")
    served = loaded.signatures["encode"](**{k: tf.constant(v) for k, v in inputs.items()})
    expected = model(inputs, training=False)
    difference = max(float(np.max(np.abs(served[k].numpy() - np.asarray(expected[k]))))
                     for k in expected)
    if not difference <= 1e-4:
        raise ValueError(f"the exported SavedModel differs from the Keras model by "
                         f"{difference:.3g} (expected <= 1e-4); nothing was published")
    return difference


def _publish(staging, model_base) -> str:
    """Renames `staging` to the next free version (retrying if a concurrent export took
    it) and returns that path."""
    while True:
        destination = os.path.join(model_base, str(next_version(model_base)))
        try:
            os.rename(staging, destination)
            return destination
        except OSError:
            if not os.path.exists(destination):
                raise


__all__ = ["export_saved_model", "load_task_model", "next_version", "ENCODER_INPUTS"]
