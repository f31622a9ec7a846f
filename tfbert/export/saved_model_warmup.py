"""TF Serving warm-up records: `assets.extra/tf_serving_warmup_requests` in every version.

TF Serving replays this file when it loads a version (its "SavedModel Warmup"), so the
lazily built parts of the runtime are ready before the first real request instead of
making it slow. The file is a TFRecord of `PredictionLog`s, each a `serving_default`
`PredictRequest`: every text alone (short, medium, and long enough to fill the model's
`max_length`) and then a batch of them. The texts come from `warmup_data` (a file of
requests) or are built-in ones in the language of the vocabulary.
"""

from __future__ import annotations

import os

import tensorflow as tf

from tfbert.data.readers import records, table_format
from tfbert.textfile import lines
from tfbert.tokenization.cjk import is_cjk
from tfbert.tokenization.normalize import split_words

WARMUP_FILE = "tf_serving_warmup_requests"
# TF Serving refuses a warm-up file of more records than this.
MAX_RECORDS = 1000
# The batched request holds at most this many texts.
BATCH_SIZE = 8

# (short, medium) per language; the long text repeats the medium one. The names and places
# give NER models entities to decode.
_TEXTS = {
    "en": ("Great service.",
           "John Smith said shares in the Paris company rose five percent after the results."),
    "zh": ("服务很好。", "张伟说，北京这家公司公布业绩后，股价上涨了百分之五。"),
}
_MASKED = {
    "en": ("Paris is the [MASK] of France.",
           "John Smith said [MASK] in the company rose five percent after the [MASK]."),
    "zh": ("北京是中国的[MASK]都。", "张伟说，这家公司公布[MASK]绩后，股价上涨了百分之[MASK]。"),
}
_SECOND = {  # pair: the second text of each pair
    "en": ("The staff were helpful.", "The company's shares went up after it reported."),
    "zh": ("员工很热情。", "公司公布业绩后股价上涨。"),
}
_QUESTIONS = {
    "en": ("Who spoke?", "How much did the shares rise after the results?"),
    "zh": ("谁说的？", "公布业绩后股价上涨了多少？"),
}


def signature_inputs(task) -> tuple:
    """The `serving_default` inputs of a model of `task` (as `ServingModule` names them)."""
    return {"pair": ("text", "text_pair"), "qa": ("question", "context")}.get(task, ("text",))


def vocab_language(vocab) -> str:
    """`"zh"` for a vocabulary of more CJK ideographs than whole ASCII words (a Chinese
    model would read English as letters or [UNK]), else `"en"`."""
    ideographs = sum(is_cjk(token) for token in vocab)
    words = sum(len(token) > 1 and token.isascii() and token.isalpha() for token in vocab)
    return "zh" if ideographs > words else "en"


def _long(text, max_length) -> str:
    """`text` repeated until it has at least `max_length` words: every word is one piece
    or more, so the long request fills the model's window (and QA spans several)."""
    repeats = -(-max_length // len(split_words(text)))
    return " ".join([text] * repeats)


def builtin_rows(task, max_length, vocab) -> list[dict]:
    """Short, medium and long requests suited to `task` and to the vocabulary's language."""
    language = vocab_language(vocab)
    if task == "pretrain":  # fill-mask answers [MASK]s only
        short, medium = _MASKED[language]
    else:
        short, medium = _TEXTS[language]
    texts = (short, medium, _long(medium, max_length))
    if task == "pair":
        second = _SECOND[language]
        pairs = (second[0], second[1], _long(second[1], max_length))
        return [{"text": t, "text_pair": p} for t, p in zip(texts, pairs)]
    if task == "qa":
        short_question, question = _QUESTIONS[language]
        return [{"question": q, "context": c}
                for q, c in zip((short_question, question, question), texts)]
    return [{"text": t} for t in texts]


def read_warmup_data(path, task) -> list[dict]:
    """Requests from `path`: `.jsonl`/`.csv`/`.tsv` with the signature's input columns, or
    `.txt` with one text per line (single-text models). Rows with an empty input are
    skipped; a file with none left, a missing column or more rows than TF Serving replays
    is a `ValueError` naming the file (and line)."""
    path = os.fspath(path)
    columns = signature_inputs(task)
    needs = f"a {task} model's requests need " + (
        "a text column" if len(columns) == 1 else f"the columns {', '.join(columns)}")
    fmt = table_format(path)
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    if fmt is None and (extension != "txt" or len(columns) > 1):
        expected = (".jsonl, .csv, .tsv or .txt (one text per line)" if len(columns) == 1
                    else f".jsonl, .csv or .tsv ({needs})")
        raise ValueError(f"{path}: unknown warm-up data format {extension!r}; expected "
                         f"{expected}")
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file; --warmup-data needs a file of requests")
    if fmt is None:
        rows = [{"text": line.rstrip("\r\n")} for line in lines(path)]
        numbered = list(enumerate(rows, 1))
    else:
        numbered = list(records(path, fmt))
    found = []
    for number, row in numbered:
        missing = [c for c in columns if c not in row]
        if missing:
            raise ValueError(f"{path}: line {number}: no column {missing[0]!r}; {needs}; "
                             f"the row has {sorted(row)}")
        for column in columns:
            if not isinstance(row[column], str):
                raise ValueError(f"{path}: line {number}: column {column!r} must be a "
                                 f"string, got {type(row[column]).__name__}")
        if all(row[c].strip() for c in columns):
            found.append({c: row[c] for c in columns})
    if not found:
        raise ValueError(f"{path}: no warm-up requests (the file is empty or every row has "
                         f"an empty input); {needs}")
    if len(found) > MAX_RECORDS - 1:
        raise ValueError(f"{path}: {len(found)} requests; TF Serving replays at most "
                         f"{MAX_RECORDS} warm-up records (one per request and one batch): "
                         f"keep at most {MAX_RECORDS - 1}")
    return found


def batches(rows) -> list[dict]:
    """`{input: [texts]}` per request: each row alone, then the first `BATCH_SIZE` rows
    together (when there is more than one)."""
    requests = [{k: [v] for k, v in row.items()} for row in rows]
    if len(rows) > 1:
        together = rows[:BATCH_SIZE]
        requests.append({k: [row[k] for row in together] for k in together[0]})
    return requests


def write_warmup(version_dir, requests) -> str:
    """Writes `requests` (`{input: [texts]}` each) as `serving_default` `PredictionLog`s
    into `version_dir/assets.extra/`; returns the file's path."""
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    folder = os.path.join(version_dir, "assets.extra")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for inputs in requests:
            request = predict_pb2.PredictRequest()
            request.model_spec.signature_name = "serving_default"
            for name, texts in inputs.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(texts, tf.string))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def read_warmup(version_dir) -> list[tuple[str, dict]]:
    """`[(signature name, {input: array})]`: the requests of a version's warm-up file, read
    as TF Serving reads them."""
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(version_dir, "assets.extra", WARMUP_FILE)
    requests = []
    for raw in tf.data.TFRecordDataset(path):
        request = prediction_log_pb2.PredictionLog.FromString(raw.numpy()).predict_log.request
        requests.append((request.model_spec.signature_name,
                         {k: tf.make_ndarray(v) for k, v in request.inputs.items()}))
    return requests


def replay(loaded, requests) -> None:
    """Runs every warm-up request through `loaded` (a `tf.saved_model.load` result), as TF
    Serving will at load time: a request that fails there would stop the version loading,
    so here it fails the export."""
    for number, (signature, inputs) in enumerate(requests, 1):
        batch = len(next(iter(inputs.values())))
        try:
            outputs = loaded.signatures[signature](**{k: tf.constant(v)
                                                      for k, v in inputs.items()})
        except (tf.errors.OpError, KeyError, TypeError, ValueError) as err:
            message = str(err).strip().splitlines()[0][:200]
            raise ValueError(f"warm-up request {number} fails in the exported model "
                             f"({message}); nothing was published") from None
        # Every output is batch-first: a warm-up answer of another size is a bug here.
        sizes = {k: v.shape[0] for k, v in outputs.items()}
        assert set(sizes.values()) == {batch}, (number, sizes)
