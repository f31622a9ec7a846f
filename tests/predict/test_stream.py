"""Streaming prediction (`tfbert.predict.stream`): answers chunk by chunk, line i for record i,
a killed run resumed after its last complete chunk, bad input stopped before any answer."""

import io
import json
import shutil

import keras
import pytest

from tfbert.config import BertConfig
from tfbert.model_dir import build_model, save_model_dir
from tfbert.predict import load_predictor
from tfbert.predict import resume
from tfbert.predict.stream import predict_file, predict_records
from tfbert.task import TaskSpec
from tfbert.tokenization.bert_tokenizer import SPECIAL_TOKENS

WORDS = ["good", "bad", "film", "plot", "very", "not", "a", "the"]
TEXTS = [" ".join(WORDS[(i * 3 + k) % len(WORDS)] for k in range(1 + i % 9)) for i in range(23)]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    (root / "vocab.txt").write_text("\n".join(list(SPECIAL_TOKENS) + WORDS) + "\n")
    config = BertConfig(vocab_size=len(SPECIAL_TOKENS) + len(WORDS), hidden_size=16,
                        num_layers=1, num_heads=2, intermediate_size=32,
                        max_position_embeddings=32)
    spec = TaskSpec(task="classify", labels=("neg", "pos"), max_length=16)
    keras.utils.set_random_seed(0)
    save_model_dir(build_model(config, spec), config, spec, root / "model",
                   vocab_file=root / "vocab.txt")
    return root / "model"


@pytest.fixture(scope="module")
def predictor(model):
    return load_predictor(model, batch_size=4)


class Counting:
    """Stands in for a predictor: counts the records it answers, and fails (as a kill
    would stop it) when asked for chunk number `fail_at` (1-based)."""

    def __init__(self, inner, fail_at=None):
        self.inner, self.fail_at = inner, fail_at
        self.spec, self.batch_size, self.source = inner.spec, inner.batch_size, inner.source
        self.task, self.calls, self.answered = inner.task, 0, 0

    def predict(self, records):
        self.calls += 1
        if self.calls == self.fail_at:
            raise KeyboardInterrupt("killed")
        self.answered += len(records)
        return self.inner.predict(records)


def _jsonl(path, texts):
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
    return path


def _all_at_once(predictor, records):
    """What `tfbert predict` wrote before it streamed: every answer, then every line."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in predictor.predict(records))


@pytest.mark.parametrize("chunk_size", [1, 5, 1024])
def test_chunked_output_equals_all_at_once(predictor, tmp_path, chunk_size):
    source = _jsonl(tmp_path / "in.jsonl", TEXTS)
    done = predict_file(predictor, source, tmp_path / "out.jsonl", chunk_size=chunk_size)
    records = [{"id": i, "text": t} for i, t in enumerate(TEXTS)]
    got = (tmp_path / "out.jsonl").read_text()
    assert (done.records, done.empty, done.resumed_after) == (len(TEXTS), 0, 0)
    if chunk_size >= len(TEXTS):
        assert got == _all_at_once(predictor, records)   # the same batches: the same bytes
    else:
        # Other chunks make other padded batches: the same answers, scores to float noise.
        expected = [json.loads(line) for line in _all_at_once(predictor, records).splitlines()]
        rows = [json.loads(line) for line in got.splitlines()]
        assert [(r["id"], r["label"]) for r in rows] == [(r["id"], r["label"]) for r in expected]
        assert [r["score"] for r in rows] == pytest.approx([r["score"] for r in expected],
                                                           abs=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]


def test_txt_line_i_answers_line_i_blank_lines_included(predictor, tmp_path):
    lines = ["good film", "", "bad plot", "   ", "\t", "not good", ""]
    source = tmp_path / "in.txt"
    source.write_text("\r\n".join(lines) + "\n")
    out = io.StringIO()
    done = predict_file(predictor, source, out, chunk_size=2)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["text"] for r in rows] == lines
    assert (done.records, done.empty) == (7, 4)
    for row in rows:
        if row["text"].strip():
            assert row == predictor(row["text"])
        else:
            assert row == {"text": row["text"], "error": "empty text: nothing to predict"}


def test_stdout_gets_each_chunk_before_the_next_is_read(predictor):
    out = io.StringIO()

    def records():   # lazy, and fails after three chunks of two
        for i, text in enumerate(TEXTS[:6]):
            if i % 2 == 0:   # a chunk starts: every chunk before it is out
                assert out.getvalue().count("\n") == i, "a chunk held back"
            yield {"text": text}
        raise ValueError("in.txt: line 7: not UTF-8")

    with pytest.raises(ValueError, match="line 7"):
        predict_records(predictor, records(), out, chunk_size=2)
    assert [json.loads(line)["text"] for line in out.getvalue().splitlines()] == TEXTS[:6]


def _check_progress_counts_only_bytes_on_disk(monkeypatch):
    """Every progress record, when written, counts only bytes already in the staging file."""
    seen = []
    real = resume.write_json

    def checked(path, data):
        staging = str(path).replace(".progress.json", ".partial")
        with open(staging, "rb") as f:
            assert len(f.read()) >= data["bytes"], "progress counts bytes not yet on disk"
        seen.append(data["records"])
        real(path, data)

    monkeypatch.setattr(resume, "write_json", checked)
    return seen


def test_a_killed_run_resumes_to_the_same_bytes(predictor, model, tmp_path, monkeypatch):
    seen = _check_progress_counts_only_bytes_on_disk(monkeypatch)
    source = _jsonl(tmp_path / "in.jsonl", TEXTS)
    reference = tmp_path / "reference.jsonl"
    predict_file(Counting(predictor), source, reference, chunk_size=5)
    out, notes = tmp_path / "out.jsonl", []
    killed = Counting(predictor, fail_at=3)   # chunks 1 and 2 done, 3 asked for
    with pytest.raises(KeyboardInterrupt):
        predict_file(killed, source, out, chunk_size=5, log=notes.append)
    assert not out.exists() and killed.answered == 10
    staging = tmp_path / ".out.jsonl.partial"
    # A kill mid-write leaves part of chunk 3 after the recorded bytes.
    with open(staging, "ab") as f:
        f.write(b'{"id": 10, "text": "half a li')
    # The model moved meanwhile: its files, not its path, are what the answers depend on.
    moved = tmp_path / "moved"
    shutil.copytree(model, moved)
    again = Counting(predictor)
    done = predict_file(again, source, out, chunk_size=5, model=moved, log=notes.append)
    assert out.read_bytes() == reference.read_bytes()
    assert again.answered == len(TEXTS) - 10 and done.resumed_after == 10
    assert notes == [f"{out}: resuming after 10 of the input's 23 records"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "moved", "out.jsonl",
                                                          "reference.jsonl"]
    assert seen[:7] == [5, 10, 15, 20, 23, 5, 10]


def test_a_failed_write_leaves_the_progress_of_the_chunks_before(predictor, tmp_path,
                                                                  monkeypatch):
    # A crash while a chunk is made durable: the progress must not count that chunk yet.
    source = _jsonl(tmp_path / "in.jsonl", TEXTS)
    calls = []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(resume.os, "fsync", fsync)
    with pytest.raises(OSError, match="No space left") as caught:
        predict_file(predictor, source, tmp_path / "out.jsonl", chunk_size=5)
    assert caught.value.filename == str(tmp_path / "out.jsonl")   # the output, not staging
    progress = json.loads((tmp_path / ".out.jsonl.progress.json").read_text())
    assert (progress["records"], progress["empty"]) == (10, 0)
    lines = (tmp_path / ".out.jsonl.partial").read_bytes()[:progress["bytes"]].splitlines()
    assert [json.loads(line)["id"] for line in lines] == list(range(10))


@pytest.mark.parametrize("change,what", [("input", "the input changed"),
                                         ("chunk_size", "the options (chunk_size) changed"),
                                         ("model", "the model changed")])
def test_a_changed_input_model_or_option_starts_over(predictor, model, tmp_path, change, what):
    source = _jsonl(tmp_path / "in.jsonl", TEXTS)
    out, notes = tmp_path / "out.jsonl", []
    with pytest.raises(KeyboardInterrupt):
        predict_file(Counting(predictor, fail_at=3), source, out, chunk_size=5)
    chunk_size, model_path = 5, model
    if change == "input":
        _jsonl(source, TEXTS[::-1])
    elif change == "chunk_size":
        chunk_size = 6
    else:
        model_path = tmp_path / "copy"
        shutil.copytree(model, model_path)
        (model_path / "task.json").write_text((model_path / "task.json").read_text() + "\n")
    again = Counting(predictor)
    predict_file(again, source, out, chunk_size=chunk_size, model=model_path, log=notes.append)
    assert again.answered == len(TEXTS)
    assert len(notes) == 1 and notes[0].startswith(f"{out}: {what} since the interrupted run")
    assert notes[0].endswith("(10 records answered); starting over")
    reference = tmp_path / "reference.jsonl"
    predict_file(predictor, source, reference, chunk_size=chunk_size, model=model_path)
    assert out.read_bytes() == reference.read_bytes()


@pytest.mark.parametrize("name,content,message", [
    ("in.txt", b"good\nbad\nfilm \xe9t\xe9\n", r"in.txt: line 3: not UTF-8"),
    ("in.txt", "good\nfilm\n".encode("utf-16-le"), r"in.txt: line 1: a NUL byte"),
    ("in.jsonl", b'{"text": "good"}\n\n{"text": "bad"}\n{"txt": "film"}\n',
     r"in.jsonl: line 4: no text column 'text'; the row has \['txt'\]"),
    ("in.csv", b"text,id\ngood,1\n7,2\n\"bad,3\n", r"in.csv: line 4: malformed CSV"),
])
def test_bad_input_is_one_line_before_any_answer(predictor, tmp_path, name, content, message):
    source = tmp_path / name
    source.write_bytes(content)
    out = tmp_path / "out.jsonl"
    out.write_text("written earlier\n")
    counting = Counting(predictor)
    with pytest.raises(ValueError, match=message) as caught:
        predict_file(counting, source, out, chunk_size=1)
    assert "\n" not in str(caught.value) and counting.calls == 0
    assert out.read_text() == "written earlier\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name, "out.jsonl"]


def test_a_second_writer_of_one_output_is_refused(tmp_path):
    first = resume.open_staging(tmp_path / "out.jsonl")
    try:
        with pytest.raises(ValueError, match="another tfbert predict is writing it"):
            resume.open_staging(tmp_path / "out.jsonl")
    finally:
        first.close(keep=False)


def test_a_run_that_cannot_resume_drops_the_old_progress_first(predictor, tmp_path):
    source = _jsonl(tmp_path / "in.jsonl", TEXTS)
    out = tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt):
        predict_file(Counting(predictor, fail_at=3), source, out, chunk_size=5)
    # A run that cannot resume (`--text` answers into the same output) killed mid-way: the
    # progress of the run before must not vouch for its bytes.
    other = resume.open_staging(out)
    other.file.write(b'{"text": "another run"}\n' * 100)
    other.file.close()
    again = Counting(predictor)
    predict_file(again, source, out, chunk_size=5)
    assert again.answered == len(TEXTS)
    predict_file(predictor, source, tmp_path / "reference.jsonl", chunk_size=5)
    assert out.read_bytes() == (tmp_path / "reference.jsonl").read_bytes()


def test_the_command_streams_resumes_and_says_so(model, predictor, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tfbert.cli.main import cli

    def run(*args):
        return CliRunner().invoke(cli, ["predict", str(model), "--input", str(source), *args])

    source = tmp_path / "in.txt"
    source.write_text("good film\n\nbad plot\nnot good\n")
    result = run("--chunk-size", "2")
    assert result.exit_code == 0, result.output
    # Chunks of 2 are batches of 2: float32 kernels for another batch shape (AVX-512 ones,
    # here) may round the last bit otherwise than one text alone.
    expected = [predictor("good film"), {"text": "", "error": "empty text: nothing to predict"},
                predictor("bad plot"), predictor("not good")]
    got = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(got) == len(expected)
    for answer, reference in zip(got, expected):
        assert {k: v for k, v in answer.items() if k not in ("score", "probabilities")} == \
            {k: v for k, v in reference.items() if k not in ("score", "probabilities")}
        assert answer.get("score", 0.0) == pytest.approx(reference.get("score", 0.0), rel=1e-6)
        assert answer.get("probabilities", {}) == pytest.approx(
            reference.get("probabilities", {}), rel=1e-6)
    assert run("--output", str(tmp_path / "reference.jsonl"), "--chunk-size", "1").exit_code == 0
    # Interrupted while its third chunk is made durable (one fsync per chunk), run again.
    real, calls = resume.os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(fd)

    monkeypatch.setattr(resume.os, "fsync", fsync)
    out = tmp_path / "out.jsonl"
    assert run("--output", str(out), "--chunk-size", "1").exit_code == 130
    assert not out.exists()
    result = run("--output", str(out), "--chunk-size", "1")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"{out}: resuming after 2 of the input's 4 records",
        f"4 predictions (1 blank, answered with an error record): {out}"]
    assert out.read_bytes() == (tmp_path / "reference.jsonl").read_bytes()
    help_text = CliRunner().invoke(cli, ["predict", "--help"]).output
    assert "--chunk-size" in help_text and "no resume" in help_text
