"""Malformed input through the CLI: every case must end as one line on stderr that starts
with "Error: ", names the offending file and says what was expected, with exit code 2, no
traceback, and every file that existed before byte-identical afterwards.

Text-format cases are static files in `malformed/` (see its README.md); binary ones
(truncated TFRecords, safetensors, .tflite, SavedModels) are cut from tiny real artifacts
made here, and a full disk is a subprocess with a small RLIMIT_FSIZE (writes fail with EFBIG).
"""

import dataclasses
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tfbert.cli.main import cli
from tfbert.config import BertConfig
from tfbert.model_dir import build_model, save_model_dir
from tfbert.task import TaskSpec
from tfbert.tokenization.bert_tokenizer import SPECIAL_TOKENS

MALFORMED = Path(__file__).parent / "malformed"
# 20 tokens: the size of the tiny models' embedding and of the config_*.json in malformed/.
VOCAB = list(SPECIAL_TOKENS) + ["good", "bad", "movie", "great", "a", "john", "lives", "in",
                                "paris", ".", "so", "the", "was", "##s", "where"]
CONFIG = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_layers=1, num_heads=2,
                    intermediate_size=64, max_position_embeddings=64)
SPECS = {
    "classify": TaskSpec(task="classify", labels=("neg", "pos"), max_length=32),
    "ner": TaskSpec(task="ner", labels=("O", "B-LOC", "I-LOC", "B-PER", "I-PER"), max_length=32),
    "qa": TaskSpec(task="qa", max_length=32, doc_stride=8, max_query_length=8),
    "pretrain": TaskSpec(task="pretrain", max_length=32),
}
# What an error message must say besides the file: that something was expected or wrong.
SAYS_WHAT = re.compile(r"expect|must|missing|no such|not |no |unknown|invalid|mismatch|"
                       r"malformed|duplicate|empty|UTF-8|truncat|corrupt|too large|space",
                       re.IGNORECASE)


# --- artifacts ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """Good inputs and tiny model directories of every task (built, not trained)."""
    import keras

    root = tmp_path_factory.mktemp("malformed-base")
    vocab = root / "vocab.txt"
    vocab.write_text("".join(t + "\n" for t in VOCAB), encoding="utf-8")
    rows = [("good movie", "pos"), ("bad movie", "neg"), ("a great movie", "pos"),
            ("so bad", "neg")] * 4
    (root / "train.jsonl").write_text("".join(json.dumps({"text": t, "label": label}) + "\n"
                                              for t, label in rows), encoding="utf-8")
    documents = ["john lives in paris.\nthe movie was good.\na great movie.\nso bad."] * 12
    (root / "corpus.txt").write_text("\n\n".join(documents) + "\n", encoding="utf-8")
    models = {}
    for task, spec in SPECS.items():
        keras.utils.set_random_seed(0)
        save_model_dir(build_model(CONFIG, spec), CONFIG, spec, root / task, vocab_file=vocab)
        models[task] = root / task
    result = run("pretrain-data", root / "corpus.txt", root / "pd", "--vocab", vocab,
                 "--seq-len", 16)
    assert result.exit_code == 0, result.output
    return {"root": root, "vocab": vocab, "train": root / "train.jsonl",
            "corpus": root / "corpus.txt", "models": models, "pd_dir": root / "pd"}


class Work:
    """One test's workspace: the module's artifacts plus copies it may break."""

    def __init__(self, base, tmp):
        self.__dict__.update(base)
        self.tmp = tmp
        self.out = tmp / "out"             # a fresh output that must stay unclaimed
        self.earlier = tmp / "earlier.txt"  # an output written before the failing run
        self.earlier.write_text("written earlier\n", encoding="utf-8")
        self.blocker = tmp / "blocker"      # a regular file: nothing can be created under it
        self.blocker.write_text("a file, not a directory\n", encoding="utf-8")

    def bad(self, name):
        return MALFORMED / name

    def model(self, task="classify", replace=None, remove=(), truncate=None, edit=None):
        """A copy of a model directory with files replaced / removed / cut to half."""
        path = self.tmp / f"{task}-model"
        shutil.copytree(self.models[task], path)
        for name, source in (replace or {}).items():
            shutil.copyfile(source, path / name)
        for name in remove:
            os.remove(path / name)
        if truncate:
            cut(path / truncate)
        for name, change in (edit or {}).items():
            data = json.loads((path / name).read_text(encoding="utf-8"))
            (path / name).write_text(json.dumps({**data, **change}), encoding="utf-8")
        return path

    def pretrain_data(self, truncate=None, replace=None, remove=()):
        """A copy of the pretrain-data directory, a shard cut or a file replaced."""
        path = self.tmp / "pd"
        shutil.copytree(self.pd_dir, path)
        if truncate:
            cut(path / truncate, keep=0.6)
        for name, source in (replace or {}).items():
            shutil.copyfile(source, path / name)
        for name in remove:
            os.remove(path / name)
        return path

    def vocab_plus(self, extra=2):
        """A valid vocabulary: the module's, with `extra` tokens more at the end."""
        path = self.tmp / "vocab_plus.txt"
        text = Path(self.vocab).read_text(encoding="utf-8")
        path.write_text(text + "".join(f"extra{i}\n" for i in range(extra)), encoding="utf-8")
        return path


@pytest.fixture
def work(base, tmp_path):
    return Work(base, tmp_path)


def cut(path, keep=0.5):
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:max(1, int(len(data) * keep))])


def run(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def snapshot(*paths):
    """`{file: sha256}` of every file under `paths` (a missing path maps to None)."""
    found = {}
    for path in map(Path, paths):
        if path.is_file():
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                found[str(file)] = hashlib.sha256(file.read_bytes()).hexdigest()
        else:
            found[str(path)] = None
    return found


def check_error(exit_code, stderr, output, names, expect, exception=None):
    """The contract: exit 2, one `Error: ` line naming a file, no traceback."""
    where = f"exit {exit_code}; exception {exception!r}; output: {output[-1500:]!r}"
    assert "Traceback" not in output, where
    assert exit_code == 2, where
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), where
    assert any(str(name) in lines[0] for name in names), f"names none of {names}: {where}"
    assert SAYS_WHAT.search(lines[0]), f"says nothing of what was expected: {where}"
    if expect:
        assert re.search(expect, lines[0], re.IGNORECASE), f"expected /{expect}/: {where}"


# --- cases -------------------------------------------------------------------------------

@dataclasses.dataclass
class Case:
    id: str
    args: object                 # work -> command line
    names: object                # work -> strings, one of which the message must contain
    expect: str = ""             # a regular expression the message must match
    keep: object = None          # work -> paths that must be byte-identical afterwards
    env: object = None           # work -> environment variables
    slow: bool = False


def finetune(task, train, init="classify", *extra):
    def args(w):
        lengths = ["--max-length", 32] + (["--doc-stride", 8, "--max-query-length", 8]
                                          if task == "qa" else [])
        return ["finetune", "--task", task, "--train", train(w), "--init", w.models[init],
                "--out", w.out, "--max-steps", 1, "--batch-size", 2, *lengths, *extra]
    return args


def bad(name):
    return lambda w: w.bad(name)


def basename(name):
    return lambda w: [name]


def finetune_case(id, task, name, expect, **kw):
    return Case(id, finetune(task, bad(name)), basename(name), expect, **kw)


CLASSIFY_DATA = [
    ("csv_unterminated_quote.csv", r"line \d"),
    ("csv_quote_in_field.csv", r"line \d"),
    ("csv_extra_column.csv", r"expected 2 columns"),
    ("tsv_missing_column.tsv", r"expected 2 columns"),
    ("csv_no_label_column.csv", r"no column 'label'"),
    ("jsonl_no_text_column.jsonl", r"no column 'text'"),
    ("jsonl_invalid_json.jsonl", r"line 2: invalid JSON"),
    ("jsonl_not_object.jsonl", r"line 2: expected a JSON object"),
    ("jsonl_label_is_list.jsonl", r"label must be"),
    ("jsonl_text_is_number.jsonl", r"must be a string"),
    ("csv_latin1_bytes.csv", r"UTF-8"),
    ("jsonl_gbk_bytes.jsonl", r"UTF-8"),
    ("csv_utf16.csv", r"UTF-8"),
    ("csv_empty.csv", r"no examples"),
    ("tsv_header_only.tsv", r"no examples"),
    ("jsonl_all_empty_text.jsonl", r"no examples"),
    ("classify_unknown_extension.txt", r"unknown format"),
]
CONLL_DATA = [
    ("conll_no_tags.conll", r"expected a token and a tag"),
    ("conll_not_bio.conll", r"not BIO"),
    ("conll_empty_tag.conll", r"expected a token and a tag"),
    ("conll_docstart_only.conll", r"no sentences"),
    ("conll_latin1_bytes.conll", r"UTF-8"),
]
SQUAD_DATA = [
    ("squad_answer_outside_context.json", r"not in the context"),
    ("squad_answer_text_mismatch.json", r"not in the context"),
    ("squad_answer_negative_start.json", r"not in the context"),
    ("squad_answer_start_string.json", r"answer_start"),
    ("squad_no_answers.json", r"no answers"),
    ("squad_invalid_json.json", r"invalid JSON"),
    ("squad_top_level_list.json", r"expected SQuAD JSON"),
    ("squad_data_not_list.json", r"expected SQuAD JSON"),
    ("squad_article_not_object.json", r"article|object"),
    ("squad_paragraphs_not_list.json", r"paragraphs|list"),
    ("squad_paragraph_no_context.json", r"context"),
    ("squad_qas_not_list.json", r"qas|list"),
    ("squad_answers_not_list.json", r"answers|list"),
    ("squad_answer_not_object.json", r"answer|object"),
    ("squad_empty_data.json", r"no questions"),
    ("squad_gbk_bytes.json", r"UTF-8"),
]
CONFIG_FILES = [
    ("config_invalid_json.json", r"invalid JSON"),
    ("config_indivisible_heads.json", r"divisible"),
    ("config_negative_vocab_size.json", r"positive integer"),
    ("config_string_num_layers.json", r"positive integer"),
    ("config_unknown_key.json", r"unknown keys"),
    ("config_not_object.json", r"JSON object"),
    ("config_dropout_out_of_range.json", r"\[0, 1\)"),
]
TASK_FILES = [
    ("task_unknown_task.json", r"must be one of"),
    ("task_invalid_json.json", r"invalid JSON"),
    ("task_labels_not_list.json", r"list of strings"),
    ("task_bad_max_length.json", r"max_length"),
    ("task_unknown_key.json", r"unknown keys"),
    ("task_not_object.json", r"JSON object"),
]
VOCAB_FILES = [
    ("vocab_missing_cls.txt", r"\[CLS\]"),
    ("vocab_duplicate_token.txt", r"duplicate token"),
    ("vocab_empty.txt", r"empty"),
    ("vocab_latin1_bytes.txt", r"UTF-8"),
    # tf-text would fail with "RuntimeError: No valid vocab tokens were found to build the trie"
    ("vocab_special_tokens_only.txt", r"holds only special tokens .*expected a BERT vocabulary "
     r"with word pieces"),
]


def keep_init(w):
    return [w.models["classify"], w.train]


CASES = []
for name, expect in CLASSIFY_DATA:
    CASES.append(finetune_case(f"finetune-{name}", "classify", name, expect, keep=keep_init))
CASES.append(Case("finetune-dev-labels_unknown_to_model.jsonl",
                  finetune("classify", lambda w: w.train, "classify", "--dev",
                           MALFORMED / "labels_unknown_to_model.jsonl"),
                  basename("labels_unknown_to_model.jsonl"), r"not one of the model's labels",
                  keep=keep_init))
for name, expect in CONLL_DATA:
    CASES.append(finetune_case(f"finetune-{name}", "ner", name, expect, keep=keep_init))
for name, expect in SQUAD_DATA:
    CASES.append(finetune_case(f"finetune-{name}", "qa", name, expect, keep=keep_init))

# evaluate: data a model disagrees with; the report written earlier survives.
for task, name, expect in [
        ("classify", "labels_unknown_to_model.jsonl", r"not one of the model's labels"),
        ("classify", "csv_latin1_bytes.csv", r"UTF-8"),
        ("ner", "conll_tag_unknown_to_model.conll", r"MISC"),
        ("ner", "conll_no_tags.conll", r"expected a token and a tag"),
        ("qa", "squad_answer_outside_context.json", r"not in the context"),
        ("qa", "squad_article_not_object.json", r"article|object")]:
    CASES.append(Case(f"evaluate-{task}-{name}",
                      lambda w, t=task, n=name: ["evaluate", w.models[t], w.bad(n),
                                                 "--output", w.earlier],
                      basename(name), expect, keep=lambda w, t=task: [w.models[t], w.earlier]))

# --doc-stride: windows are for qa, ner and classifiers fine-tuned with them; a stride past
# the bound is refused before
# anything is read or written.
CASES.append(Case("evaluate-doc-stride-classify",
                  lambda w: ["evaluate", w.models["classify"], w.train, "--doc-stride", 8,
                             "--output", w.earlier],
                  lambda w: ["--doc-stride"], r"not to this model's task 'classify' \(fine-tuned "
                  r"without windows", keep=lambda w: [w.earlier]))
CASES.append(Case("predict-doc-stride-too-large",
                  lambda w: ["predict", w.models["ner"], "--text", "good movie",
                             "--doc-stride", 70000, "--output", w.earlier],
                  lambda w: ["--doc-stride"], r"from 1 to 65536", keep=lambda w: [w.earlier]))
CASES.append(Case("finetune-ner-doc-stride-too-large",
                  finetune("ner", lambda w: w.bad("conll_no_tags.conll"), "classify",
                           "--doc-stride", 70000),
                  lambda w: ["--doc-stride"], r"from 1 to 65536", keep=keep_init))

# model directory files, read by info / predict / evaluate / export.
for name, expect in CONFIG_FILES:
    CASES.append(Case(f"info-{name}",
                      lambda w, n=name: ["info", w.model(replace={"config.json": w.bad(n)})],
                      lambda w: ["config.json"], expect))
    CASES.append(Case(f"predict-{name}",
                      lambda w, n=name: ["predict", w.model(replace={"config.json": w.bad(n)}),
                                         "--text", "good movie", "--output", w.earlier],
                      lambda w: ["config.json"], expect, keep=lambda w: [w.earlier]))
for name, expect in TASK_FILES:
    CASES.append(Case(f"info-{name}",
                      lambda w, n=name: ["info", w.model(replace={"task.json": w.bad(n)})],
                      lambda w: ["task.json"], expect))
    CASES.append(Case(f"export-saved_model-{name}",
                      lambda w, n=name: ["export", w.model(replace={"task.json": w.bad(n)}),
                                         "--format", "saved_model", "--name", "m",
                                         "--base", w.tmp / "serving"],
                      lambda w: ["task.json"], expect, keep=lambda w: [w.tmp / "serving"]))
for command in ("predict", "evaluate", "info"):
    def labels_args(w, command=command):
        model = w.model(replace={"task.json": w.bad("task_labels_disagree_with_head.json")})
        return {"predict": ["predict", model, "--text", "good movie"],
                "evaluate": ["evaluate", model, w.train],
                "info": ["info", model]}[command]
    CASES.append(Case(f"{command}-task_labels_disagree_with_head.json", labels_args,
                      lambda w: ["model.safetensors", "task.json", "classify-model"],
                      r"label|shape|classifier"))

for name, expect in VOCAB_FILES:
    CASES.append(Case(f"finetune-preset-{name}",
                      lambda w, n=name: ["finetune", "--task", "classify", "--train", w.train,
                                         "--preset", "tiny", "--vocab", w.bad(n), "--out", w.out,
                                         "--max-steps", 1, "--batch-size", 2, "--max-length", 32],
                      basename(name), expect, keep=lambda w: [w.train]))
    CASES.append(Case(f"pretrain-data-{name}",
                      lambda w, n=name: ["pretrain-data", w.corpus, w.out, "--vocab", w.bad(n)],
                      basename(name), expect, keep=lambda w: [w.corpus]))

CASES += [
    Case("finetune-tf_config_invalid.json",
         finetune("classify", lambda w: w.train, "classify", "--strategy", "multiworker"),
         lambda w: ["TF_CONFIG"], r"invalid JSON", keep=keep_init,
         env=lambda w: {"TF_CONFIG": w.bad("tf_config_invalid.json").read_text()}),
    Case("finetune-tf_config_index_out_of_range.json",
         finetune("classify", lambda w: w.train, "classify", "--strategy", "multiworker"),
         lambda w: ["TF_CONFIG"], r"task.index", keep=keep_init,
         env=lambda w: {"TF_CONFIG": w.bad("tf_config_index_out_of_range.json").read_text()}),
    # raw text for vocab / pretrain-data
    Case("vocab-corpus_mixed_encoding.txt",
         lambda w: ["vocab", w.bad("corpus_mixed_encoding.txt"), "--size", 30, "--out",
                    w.earlier],
         basename("corpus_mixed_encoding.txt"), r"UTF-8", keep=lambda w: [w.earlier]),
    Case("vocab-corpus_empty.txt",
         lambda w: ["vocab", w.bad("corpus_empty.txt"), "--size", 30, "--out", w.earlier],
         basename("corpus_empty.txt"), r"no words", keep=lambda w: [w.earlier]),
    Case("pretrain-data-corpus_mixed_encoding.txt",
         lambda w: ["pretrain-data", w.bad("corpus_mixed_encoding.txt"), w.out, "--vocab",
                    w.vocab],
         basename("corpus_mixed_encoding.txt"), r"UTF-8", keep=lambda w: [w.vocab]),
    Case("pretrain-data-corpus_empty.txt",
         lambda w: ["pretrain-data", w.bad("corpus_empty.txt"), w.out, "--vocab", w.vocab],
         basename("corpus_empty.txt"), r"no documents", keep=lambda w: [w.vocab]),
    # prediction / calibration input
    Case("predict-predict_no_text_column.jsonl",
         lambda w: ["predict", w.models["classify"], "--input",
                    w.bad("predict_no_text_column.jsonl"), "--output", w.earlier],
         basename("predict_no_text_column.jsonl"), r"no text column",
         keep=lambda w: [w.earlier, w.models["classify"]]),
    Case("predict-predict_latin1_bytes.txt",
         lambda w: ["predict", w.models["classify"], "--input",
                    w.bad("predict_latin1_bytes.txt"), "--output", w.earlier],
         basename("predict_latin1_bytes.txt"), r"UTF-8", keep=lambda w: [w.earlier]),
    Case("predict-predict_unknown_extension.xml",
         lambda w: ["predict", w.models["classify"], "--input",
                    w.bad("predict_unknown_extension.xml")],
         basename("predict_unknown_extension.xml"), r"unknown format"),
    Case("predict-qa-csv_no_label_column.csv",
         lambda w: ["predict", w.models["qa"], "--input", w.bad("csv_no_label_column.csv")],
         basename("csv_no_label_column.csv"), r"question"),
    Case("export-tflite-calibration-jsonl_invalid_json.jsonl",
         lambda w: ["export", w.models["classify"], "--format", "tflite", "--out",
                    w.tmp / "m.tflite", "--quantize", "int8", "--calibration-data",
                    w.bad("jsonl_invalid_json.jsonl")],
         basename("jsonl_invalid_json.jsonl"), r"invalid JSON",
         keep=lambda w: [w.tmp / "m.tflite"]),
    Case("export-tflite-eval-labels_unknown_to_model.jsonl",
         lambda w: ["export", w.models["classify"], "--format", "tflite", "--out",
                    w.tmp / "m.tflite", "--eval-data", w.bad("labels_unknown_to_model.jsonl")],
         basename("labels_unknown_to_model.jsonl"), r"not one of the model's labels",
         keep=lambda w: [w.tmp / "m.tflite"], slow=True),
    Case("predict-not_a_model.tflite",
         lambda w: ["predict", w.bad("not_a_model.tflite"), "--text", "good movie"],
         basename("not_a_model.tflite"), r"tflite|flatbuffer|model"),
    Case("predict-saved_model-not_a_saved_model.pb",
         lambda w: ["predict", fake_saved_model(w), "--text", "good movie"],
         lambda w: ["saved_model.pb", "fake-savedmodel"], r"SavedModel|saved_model"),
    # pre-training data
    Case("pretrain-truncated-tfrecord",
         lambda w: ["pretrain", w.pretrain_data(truncate="shard-00000.tfrecord"), "--vocab",
                    w.vocab, "--preset", "tiny", "--out", w.out, "--max-steps", 1,
                    "--batch-size", 2],
         basename("shard-00000.tfrecord"), r"truncat|corrupt|incomplete",
         keep=lambda w: [w.vocab]),
    Case("evaluate-truncated-tfrecord",
         lambda w: ["evaluate", w.models["pretrain"],
                    w.pretrain_data(truncate="shard-00000.tfrecord"), "--batch-size", 2,
                    "--output", w.earlier],
         basename("shard-00000.tfrecord"), r"truncat|corrupt|incomplete",
         keep=lambda w: [w.earlier, w.models["pretrain"]]),
    Case("pretrain-manifest_invalid_json.json",
         lambda w: ["pretrain", w.pretrain_data(
             replace={"manifest.json": w.bad("manifest_invalid_json.json")}), "--vocab",
             w.vocab, "--preset", "tiny", "--out", w.out, "--max-steps", 1],
         basename("manifest.json"), r"invalid JSON", keep=lambda w: [w.vocab]),
    Case("pretrain-no-manifest",
         lambda w: ["pretrain", w.pretrain_data(remove=["manifest.json"]), "--vocab", w.vocab,
                    "--preset", "tiny", "--out", w.out, "--max-steps", 1],
         basename("manifest.json"), r"incomplete", keep=lambda w: [w.vocab]),
    Case("pretrain-vocab_duplicate_token.txt",
         lambda w: ["pretrain", w.pd_dir, "--vocab", w.bad("vocab_duplicate_token.txt"),
                    "--preset", "tiny", "--out", w.out, "--max-steps", 1],
         basename("vocab_duplicate_token.txt"), r"duplicate"),
    # A valid vocabulary, two tokens longer than the one the data was made with.
    Case("pretrain-vocab-size-differs-from-data",
         lambda w: ["pretrain", w.pd_dir, "--vocab", w.vocab_plus(2), "--preset", "tiny",
                    "--out", w.out, "--max-steps", 1],
         lambda w: ["vocab_plus.txt"],
         r"made with a vocabulary of \d+ tokens, but --vocab .*vocab_plus.txt has \d+",
         keep=lambda w: [w.pd_dir]),
]

# --- binary artifacts cut from the tiny model directory ---------------------------------

for command in ("info", "predict", "evaluate", "convert", "export"):
    def truncated_args(w, command=command):
        model = w.model(truncate="model.safetensors")
        return {"info": ["info", model],
                "predict": ["predict", model, "--text", "good movie", "--output", w.earlier],
                "evaluate": ["evaluate", model, w.train, "--output", w.earlier],
                "convert": ["convert", model, w.out, "--to", "hf"],
                "export": ["export", model, "--format", "saved_model", "--name", "m", "--base",
                           w.tmp / "serving"]}[command]
    CASES.append(Case(f"{command}-truncated-model.safetensors", truncated_args,
                      basename("model.safetensors"), r"safetensors|truncat|incomplete|corrupt",
                      keep=lambda w: [w.earlier, w.tmp / "serving"]))

for command in ("info", "predict", "export"):
    def shapes_args(w, command=command):
        # config.json says intermediate 128; the weights are 64 wide.
        model = w.model(edit={"config.json": {"intermediate_size": 128}})
        return {"info": ["info", model],
                "predict": ["predict", model, "--text", "good movie"],
                "export": ["export", model, "--format", "saved_model", "--name", "m", "--base",
                           w.tmp / "serving"]}[command]
    CASES.append(Case(f"{command}-safetensors-shapes-disagree-with-config.json", shapes_args,
                      lambda w: ["model.safetensors", "config.json", "classify-model"],
                      r"shape|mismatch", keep=lambda w: [w.tmp / "serving"]))

for command in ("info", "predict", "finetune-init"):
    def vocab_size_args(w, command=command):
        model = w.model()
        with open(model / "vocab.txt", "a", encoding="utf-8") as f:
            f.write("extra\ntokens\n")
        return {"info": ["info", model],
                "predict": ["predict", model, "--text", "good movie"],
                "finetune-init": ["finetune", "--task", "classify", "--train", w.train, "--init",
                                  model, "--out", w.out, "--max-steps", 1, "--batch-size", 2,
                                  "--max-length", 32]}[command]
    CASES.append(Case(f"{command}-vocab.txt-size-differs-from-embedding", vocab_size_args,
                      basename("vocab.txt"), r"vocabulary mismatch"))

CASES += [
    Case("predict-model-dir-without-model.safetensors",
         lambda w: ["predict", w.model(remove=["model.safetensors"]), "--text", "good movie"],
         lambda w: ["model.safetensors"], r"no model.safetensors"),
    Case("info-model-dir-without-config.json",
         lambda w: ["info", w.model(remove=["config.json"])],
         lambda w: ["config.json"], r"config.json"),
    Case("predict-model-dir-without-vocab.txt",
         lambda w: ["predict", w.model(remove=["vocab.txt"]), "--text", "good movie"],
         lambda w: ["vocab.txt"], r"vocab"),
    Case("convert-hf-truncated-model.safetensors",
         lambda w: ["convert", hf_dir(w, truncate=True), w.out],
         basename("model.safetensors"), r"safetensors|truncat|incomplete|corrupt"),
    Case("convert-hf-config-disagrees-with-weights",
         lambda w: ["convert", hf_dir(w, edit={"intermediate_size": 128}), w.out],
         lambda w: ["model.safetensors", "config.json", "hf"], r"shape|mismatch"),
]

# --- missing files: click's own checks and the library's ---------------------------------

CASES += [
    Case("finetune-missing-train",
         lambda w: ["finetune", "--task", "classify", "--train", w.tmp / "missing.jsonl",
                    "--init", w.models["classify"], "--out", w.out],
         basename("missing.jsonl"), r"does not exist|no such"),
    Case("evaluate-missing-data",
         lambda w: ["evaluate", w.models["classify"], w.tmp / "missing.jsonl"],
         basename("missing.jsonl"), r"does not exist|no such"),
    Case("predict-missing-model",
         lambda w: ["predict", w.tmp / "missing-model", "--text", "x"],
         basename("missing-model"), r"does not exist|no such"),
    Case("info-missing-path",
         lambda w: ["info", w.tmp / "missing-model"],
         basename("missing-model"), r"does not exist|no such"),
    Case("pretrain-data-missing-corpus",
         lambda w: ["pretrain-data", w.tmp / "missing.txt", w.out, "--vocab", w.vocab],
         basename("missing.txt"), r"does not exist|no such"),
    Case("export-missing-model",
         lambda w: ["export", w.tmp / "missing-model", "--format", "tflite", "--out",
                    w.tmp / "m.tflite"],
         basename("missing-model"), r"does not exist|no such"),
]

# --- unwritable outputs: a path under a regular file (root ignores chmod) ----------------

CASES += [
    Case("finetune-out-under-a-file",
         lambda w: ["finetune", "--task", "classify", "--train", w.train, "--init",
                    w.models["classify"], "--out", w.blocker / "out", "--max-steps", 1,
                    "--batch-size", 2, "--max-length", 32],
         basename("blocker"), "", keep=lambda w: [w.blocker, w.models["classify"]]),
    Case("evaluate-output-under-a-file",
         lambda w: ["evaluate", w.models["classify"], w.train, "--output",
                    w.blocker / "r.json"],
         basename("blocker"), "", keep=lambda w: [w.blocker]),
    Case("predict-output-under-a-file",
         lambda w: ["predict", w.models["classify"], "--text", "good movie", "--output",
                    w.blocker / "p.jsonl"],
         basename("blocker"), "", keep=lambda w: [w.blocker]),
    Case("vocab-out-under-a-file",
         lambda w: ["vocab", w.corpus, "--size", 30, "--out", w.blocker / "vocab.txt"],
         basename("blocker"), "", keep=lambda w: [w.blocker]),
    Case("pretrain-data-out-under-a-file",
         lambda w: ["pretrain-data", w.corpus, w.blocker / "pd", "--vocab", w.vocab],
         basename("blocker"), "", keep=lambda w: [w.blocker]),
    Case("convert-dst-under-a-file",
         lambda w: ["convert", w.models["classify"], w.blocker / "hf", "--to", "hf"],
         basename("blocker"), "", keep=lambda w: [w.blocker]),
    Case("export-saved_model-base-under-a-file",
         lambda w: ["export", w.models["classify"], "--format", "saved_model", "--name", "m",
                    "--base", w.blocker / "serving"],
         basename("blocker"), "", keep=lambda w: [w.blocker]),
    Case("export-tflite-out-under-a-file",
         lambda w: ["export", w.models["classify"], "--format", "tflite", "--out",
                    w.blocker / "m.tflite"],
         basename("blocker"), "", keep=lambda w: [w.blocker]),
    Case("datasets-export-under-a-file",
         lambda w: ["datasets", "export", "bbc-news", w.blocker / "bbc"],
         basename("blocker"), "", keep=lambda w: [w.blocker]),
    Case("pretrain-out-under-a-file",
         lambda w: ["pretrain", w.pd_dir, "--vocab", w.vocab, "--preset", "tiny",
                    "--out", w.blocker / "out", "--max-steps", 1, "--batch-size", 2],
         basename("blocker"), "", keep=lambda w: [w.blocker]),
]


def fake_saved_model(w):
    """A SavedModel directory whose saved_model.pb is not a protocol buffer, beside a
    tfbert export record."""
    path = w.tmp / "fake-savedmodel"
    (path / "assets.extra").mkdir(parents=True)
    (path / "variables").mkdir()
    shutil.copyfile(w.bad("not_a_saved_model.pb"), path / "saved_model.pb")
    (path / "assets.extra" / "tfbert_export.json").write_text(
        json.dumps({"task": SPECS["classify"].to_dict()}), encoding="utf-8")
    return path


def hf_dir(w, truncate=False, edit=None):
    path = w.tmp / "hf"
    result = run("convert", w.models["classify"], path, "--to", "hf")
    assert result.exit_code == 0, result.output
    if truncate:
        cut(path / "model.safetensors")
    if edit:
        data = json.loads((path / "config.json").read_text())
        (path / "config.json").write_text(json.dumps({**data, **edit}))
    return path


def _param(case):
    return pytest.param(case, id=case.id, marks=[pytest.mark.slow] if case.slow else [])


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_malformed_input_is_one_line_exit_2(case, work):
    args = case.args(work)
    names = [str(n) for n in case.names(work)]
    keep = case.keep(work) if case.keep else []
    # Every input file from malformed/ must come out unchanged too.
    keep += [a for a in args if isinstance(a, Path) and MALFORMED in a.parents]
    before = snapshot(*keep)
    result = run(*args, env=case.env(work) if case.env else None)
    check_error(result.exit_code, result.stderr, result.output, names, case.expect,
                result.exception)
    assert snapshot(*keep) == before, "a file that existed before was changed"
    out = work.out
    assert not out.exists() or (out.is_dir() and not any(out.rglob("checkpoints/run.json"))), \
        f"{out}: claimed by a failed run: {sorted(os.listdir(out))}"


def test_debug_shows_the_traceback(work):
    result = run("--debug", "finetune", "--task", "classify", "--train",
                 work.bad("jsonl_invalid_json.jsonl"), "--init", work.models["classify"],
                 "--out", work.out, "--max-length", 32)
    assert isinstance(result.exception, ValueError), result.output
    assert "jsonl_invalid_json.jsonl" in str(result.exception)


def _obey_modes_as_root():
    """Runs in the child before exec: drop CAP_DAC_OVERRIDE from the capability bounding
    set, so that a root process obeys a directory's mode bits as any user does."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(24, 1, 0, 0, 0) != 0:   # PR_CAPBSET_DROP, CAP_DAC_OVERRIDE
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE)")


def test_unwritable_directory_by_mode(work):
    """An output directory its mode forbids writing to: the command runs in a child process
    that cannot override modes, even as root (CI runs as root)."""
    locked = work.tmp / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        done = subprocess.run(
            [sys.executable, "-c", "from tfbert.cli.main import main; main()", "predict",
             str(work.models["classify"]), "--text", "good movie", "--output",
             str(locked / "p.jsonl")],
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1"},
            preexec_fn=_obey_modes_as_root if os.geteuid() == 0 else None)
        check_error(done.returncode, done.stderr.strip(), done.stdout, ["locked"], "")
        # The file asked for, not the hidden staging file beside it.
        assert f"Error: {locked / 'p.jsonl'}: Permission denied" in done.stderr
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o700)


# --- slow: real exports, cut ---------------------------------------------------------------

@pytest.fixture(scope="module")
def exports(base, tmp_path_factory):
    root = tmp_path_factory.mktemp("malformed-exports")
    model = base["models"]["classify"]
    result = run("export", model, "--format", "saved_model", "--name", "cls", "--base", root)
    assert result.exit_code == 0, result.output
    result = run("export", model, "--format", "tflite", "--out", root / "cls.tflite")
    assert result.exit_code == 0, result.output
    return {"saved_model": root / "cls" / "1", "tflite": root / "cls.tflite"}


def _broken_export(exports, tmp, kind):
    if kind == "truncated-tflite":
        path = tmp / "cls.tflite"
        shutil.copyfile(exports["tflite"], path)
        cut(path)
        return path, "cls.tflite"
    path = tmp / "serving" / "cls" / "1"
    shutil.copytree(exports["saved_model"], path)
    if kind == "truncated-saved_model.pb":
        cut(path / "saved_model.pb")
        return path, "saved_model.pb"
    shutil.rmtree(path / "variables")
    return path, "variables"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["truncated-tflite", "truncated-saved_model.pb",
                                  "saved_model-without-variables"])
def test_broken_export_is_one_line_exit_2(kind, exports, work):
    path, name = _broken_export(exports, work.tmp, kind)
    before = snapshot(path, work.earlier)
    result = run("predict", path, "--text", "good movie", "--output", work.earlier)
    check_error(result.exit_code, result.stderr, result.output, [name], "", result.exception)
    assert snapshot(path, work.earlier) == before


@pytest.mark.slow
def test_new_version_leaves_earlier_one_alone_on_failure(exports, work):
    """An export that fails (a truncated model) leaves the earlier version as it was."""
    base = work.tmp / "serving"
    shutil.copytree(exports["saved_model"], base / "cls" / "1")
    before = snapshot(base)
    result = run("export", work.model(truncate="model.safetensors"), "--format",
                 "saved_model", "--name", "cls", "--base", base)
    check_error(result.exit_code, result.stderr, result.output, ["model.safetensors"], "",
                result.exception)
    assert snapshot(base) == before


# --- a full disk: RLIMIT_FSIZE in a subprocess ----------------------------------------------

def run_limited(args, limit, cwd):
    """`tfbert ARGS` in a subprocess whose files may not grow past `limit` bytes."""
    def preexec():
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1",
           "MPLCONFIGDIR": str(cwd / "mpl")}
    env.pop("TF_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "tfbert.cli.main", *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          preexec_fn=preexec, check=False)


FULL_DISK = [
    pytest.param("vocab", 64, id="vocab"),
    pytest.param("pretrain-data", 600, id="pretrain-data"),
    pytest.param("predict", 200, id="predict-output"),
    pytest.param("datasets", 64 * 1024, id="datasets-export", marks=pytest.mark.slow),
    pytest.param("finetune", 16 * 1024, id="finetune", marks=pytest.mark.slow),
    pytest.param("export", 16 * 1024, id="export-tflite", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("command,limit", FULL_DISK)
def test_full_disk_is_one_line_exit_2(command, limit, work):
    w = work
    (w.tmp / "earlier.tflite").write_bytes(b"an earlier export\n")
    args, names, keep = {
        "vocab": (["vocab", w.corpus, "--size", 40, "--out", w.earlier],
                  ["earlier.txt"], [w.earlier]),
        "pretrain-data": (["pretrain-data", w.corpus, w.out, "--vocab", w.vocab,
                           "--seq-len", 16], ["out"], [w.corpus, w.vocab]),
        "predict": (["predict", w.models["classify"], "--text", "good movie" * 20, "--text",
                     "bad movie" * 20, "--output", w.earlier], ["earlier.txt"],
                    [w.earlier, w.models["classify"]]),
        "datasets": (["datasets", "export", "bbc-news", w.out], ["out"], []),
        "finetune": (["finetune", "--task", "classify", "--train", w.train, "--init",
                      w.models["classify"], "--out", w.out, "--max-steps", 1,
                      "--batch-size", 2, "--max-length", 32], ["out"],
                     [w.models["classify"], w.train]),
        "export": (["export", w.models["classify"], "--format", "tflite", "--out",
                    w.tmp / "earlier.tflite"], ["earlier.tflite"],
                   [w.tmp / "earlier.tflite", w.models["classify"]]),
    }[command]
    before = snapshot(*keep)
    result = run_limited(args, limit, w.tmp)
    check_error(result.returncode, result.stderr, result.stdout + result.stderr, names, "")
    assert snapshot(*keep) == before


def test_pretrain_data_rerun_remakes_a_truncated_shard(work):
    """A shard cut short after it was written is not taken as finished: the same command
    makes it again, byte for byte the shard of the first run."""
    data = work.pretrain_data(truncate="shard-00000.tfrecord")
    result = run("pretrain-data", work.corpus, data, "--vocab", work.vocab, "--seq-len", 16)
    assert result.exit_code == 0, result.output
    assert "making it again" in result.output
    remade, original = data / "shard-00000.tfrecord", work.pd_dir / "shard-00000.tfrecord"
    assert remade.read_bytes() == original.read_bytes()
