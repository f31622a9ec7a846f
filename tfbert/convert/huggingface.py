"""Hugging Face BERT directories (`config.json` + `model.safetensors`), in and out."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import numpy as np

from tfbert.config import BertConfig
from tfbert.convert import names
from tfbert.convert.checkpoint import (Checkpoint, check_vocab, from_source_names, read_json_config,
                                       to_source_names)
from tfbert.model_dir import check_config_fits, read_weights
from tfbert.task import TaskSpec, default_stride
from tfbert.textfile import read_json
from tfbert.tokenization.casing import declared_lowercase

# Buffers and tied copies that carry no information of their own.
_IGNORED = ("embeddings.position_ids", "cls.predictions.decoder.weight",
            "cls.predictions.decoder.bias")

_ARCHITECTURES = {
    "encoder": "BertModel",
    "pretrain": "BertForPreTraining",
    "classify": "BertForSequenceClassification",
    "pair": "BertForSequenceClassification",
    "ner": "BertForTokenClassification",
    "qa": "BertForQuestionAnswering",
}

PICKLE_MESSAGE = (
    "{path}: only pytorch_model.bin found. tfbert never unpickles PyTorch files: unpickling "
    "runs arbitrary code from the file. Get model.safetensors instead (most Hub models "
    "have one), or convert once in a trusted environment: python -c \"from transformers "
    "import AutoModel; AutoModel.from_pretrained('DIR').save_pretrained('DIR', "
    "safe_serialization=True)\"")


def is_hf_dir(path) -> bool:
    data = read_json_config(path)
    return data is not None and "num_hidden_layers" in data


def sentence_normalize(path) -> bool:
    """Whether a sentence-transformers directory's `modules.json` ends its pipeline with a
    Normalize module (embeddings of unit length)."""
    try:
        modules = read_json(os.path.join(path, "modules.json"), kind=list)
    except (OSError, ValueError):
        return False
    return any(isinstance(m, dict) and str(m.get("type", "")).endswith(".Normalize")
               for m in modules)


def sentence_pooling(path) -> str | None:
    """How a sentence-transformers directory pools its encoder into one vector: "mean" or
    "cls" when its `modules.json` names a Pooling module that uses that mode alone, else
    None (not sentence-transformers, another mode, or files that do not say)."""
    try:
        modules = read_json(os.path.join(path, "modules.json"), kind=list)
        module = next(m for m in modules if isinstance(m, dict) and str(
            m.get("type", "")).endswith(".Pooling"))
        folder = str(module.get("path", ""))
        # A plain folder name in the directory: never a path that leads out of it.
        if os.path.isabs(folder) or ".." in folder.replace("\\", "/").split("/"):
            return None
        modes = read_json(os.path.join(path, folder, "config.json"))
    except (OSError, ValueError, StopIteration):
        return None
    on = [k for k, v in modes.items() if k.startswith("pooling_mode_") and v is True]
    return {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}.get(
        on[0]) if len(on) == 1 else None


def _shard_names(index) -> list:
    """The shard files a `model.safetensors.index.json` names: plain file names in its
    directory (a name with a path could read any file on the machine)."""
    weight_map = read_json(index, "a safetensors index (an object with a 'weight_map')").get(
        "weight_map")
    if not isinstance(weight_map, dict) or not all(isinstance(v, str)
                                                   for v in weight_map.values()):
        raise ValueError(f"{index}: expected a 'weight_map' object of tensor name -> shard file")
    shards = sorted(set(weight_map.values()))
    for shard in shards:
        if os.path.basename(shard) != shard or shard in (".", "..") or \
                not shard.endswith(".safetensors"):
            raise ValueError(f"{index}: shard {shard!r} is not a .safetensors file name in the "
                             "model's directory")
    return shards


def _read_tensors(path, config) -> dict:
    single = os.path.join(path, "model.safetensors")
    index = os.path.join(path, "model.safetensors.index.json")
    if os.path.isfile(single):
        return read_weights(single, config)
    if os.path.isfile(index):
        tensors = {}
        for shard in _shard_names(index):
            tensors.update(read_weights(os.path.join(path, shard)))
        check_config_fits(config, sum(v.size for v in tensors.values()), index, "config.json")
        return tensors
    if os.path.isfile(os.path.join(path, "pytorch_model.bin")):
        raise ValueError(PICKLE_MESSAGE.format(path=path))
    raise ValueError(f"{path}: no model.safetensors; expected a Hugging Face BERT directory")


def _normalise_name(name: str) -> str:
    """`bert.encoder...` -> `encoder...`; old `LayerNorm.gamma/beta` -> `weight/bias`."""
    if name.startswith("bert."):
        name = name[len("bert."):]
    if name.endswith("LayerNorm.gamma"):
        name = name[: -len("gamma")] + "weight"
    elif name.endswith("LayerNorm.beta"):
        name = name[: -len("beta")] + "bias"
    return name


def _task_from_hf(data: dict, tensors: dict) -> TaskSpec:
    arch = (data.get("architectures") or [""])[0]
    id2label = data.get("id2label") or {}
    labels = tuple(id2label[k] for k in sorted(id2label, key=int)) if id2label else ()
    if "classifier.weight" in tensors:
        num = tensors["classifier.weight"].shape[0]
        labels = labels if len(labels) == num else tuple(f"LABEL_{i}" for i in range(num))
        if arch == "BertForTokenClassification":
            return TaskSpec(task="ner", labels=labels, doc_stride=default_stride("ner", 128))
        return TaskSpec(task="classify", labels=labels,
                        multi_label=data.get("problem_type") == "multi_label_classification")
    if "qa_outputs.weight" in tensors:
        return TaskSpec(task="qa")
    if "cls.predictions.bias" in tensors:
        return TaskSpec(task="pretrain", next_sentence="cls.seq_relationship.weight" in tensors)
    return TaskSpec(task="encoder")


def read_hf_dir(path) -> Checkpoint:
    """Reads a Hugging Face BERT directory into tfbert's names (no PyTorch needed)."""
    config_path = os.path.join(path, "config.json")
    data = read_json(config_path, "a Hugging Face BERT config.json object")
    config = BertConfig.from_dict(data, source=config_path)
    tensors = {}
    for name, value in _read_tensors(path, config).items():
        name = _normalise_name(name)
        if name not in _IGNORED:
            tensors[name] = value
    spec = dataclasses.replace(_task_from_hf(data, tensors), lowercase=declared_lowercase(path))
    if spec.task == "encoder":
        spec = dataclasses.replace(spec, pooling=sentence_pooling(path) or "cls",
                                   normalize=sentence_normalize(path))
    rows = names.task_rows(spec.task, config.num_layers, spec.next_sentence)
    used = {row.hf for row in rows}
    unused = sorted(set(tensors) - used)
    if unused:
        raise ValueError(f"{path}: tensors that are not part of a BERT {spec.task} model: "
                         f"{unused[:5]}")
    # Models saved with add_pooling_layer=False (masked LM, token classification) have no
    # pooler; it keeps its initial values and pooled_output is untrained.
    ours, fresh = from_source_names(tensors, rows, "hf", path, optional_prefixes=("pooler/",))
    vocab = os.path.join(path, "vocab.txt")
    vocab = vocab if os.path.isfile(vocab) else None
    check_vocab(config, vocab, path)
    return Checkpoint(config, spec, ours, source=path, vocab_file=vocab, fresh=fresh)


def write_hf_dir(checkpoint: Checkpoint, path) -> None:
    """Writes a directory that `transformers.AutoModel.from_pretrained` opens."""
    from safetensors.numpy import save_file

    spec, config = checkpoint.spec, checkpoint.config
    rows = names.task_rows(spec.task, config.num_layers, spec.next_sentence)
    tensors = to_source_names(checkpoint.tensors, rows, "hf")
    if spec.task in ("ner", "qa"):
        # Transformers builds these classes without a pooler; they never use it.
        tensors = {k: v for k, v in tensors.items() if not k.startswith("pooler.")}
    if spec.task != "encoder":
        tensors = {f"bert.{k}" if k.startswith(("embeddings.", "encoder.", "pooler.")) else k: v
                   for k, v in tensors.items()}
    if spec.task == "pretrain":
        # Transformers ties the decoder to the word embeddings; a copy keeps older readers happy.
        embeddings = tensors["bert.embeddings.word_embeddings.weight"]
        tensors["cls.predictions.decoder.weight"] = embeddings
    data = config.to_hf_dict()
    data["architectures"] = [_ARCHITECTURES[spec.task]]
    if spec.labels:
        data["id2label"] = {str(i): label for i, label in enumerate(spec.labels)}
        data["label2id"] = {label: i for i, label in enumerate(spec.labels)}
    if spec.multi_label:
        data["problem_type"] = "multi_label_classification"
    os.makedirs(path, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()},
              os.path.join(path, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(path, "config.json"), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(path, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": spec.lowercase,
                   "model_max_length": config.max_position_embeddings}, f, indent=2)
        f.write("\n")
    if checkpoint.vocab_file:
        shutil.copyfile(checkpoint.vocab_file, os.path.join(path, "vocab.txt"))
    if spec.task == "encoder" and (spec.pooling != "cls" or spec.normalize):
        _write_sentence_modules(path, spec, config.hidden_size)


def _write_sentence_modules(path, spec, hidden_size) -> None:
    """sentence-transformers' `modules.json` (+ its Pooling config) for an encoder that
    declares its pooling and normalisation, so that both survive the trip out and back."""
    modules = [{"idx": 0, "name": "0", "path": "",
                "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling"}]
    if spec.normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
        os.makedirs(os.path.join(path, "2_Normalize"), exist_ok=True)
    os.makedirs(os.path.join(path, "1_Pooling"), exist_ok=True)
    pooling = {"word_embedding_dimension": hidden_size,
               "pooling_mode_cls_token": spec.pooling == "cls",
               "pooling_mode_mean_tokens": spec.pooling == "mean",
               "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}
    for name, data in (("modules.json", modules),
                       (os.path.join("1_Pooling", "config.json"), pooling)):
        with open(os.path.join(path, name), "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
