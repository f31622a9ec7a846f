"""`predict --runner`: RunInference over an exported SavedModel, JSONL shards whose
answers are the local predictor's, each with its input's line number."""

import glob
import json

import keras
import pytest

pytest.importorskip("apache_beam")

from tfbert.config import BertConfig  # noqa: E402
from tfbert.data import beam_pipeline  # noqa: E402
from tfbert.export.saved_model import export_saved_model  # noqa: E402
from tfbert.model_dir import build_model, save_model_dir  # noqa: E402
from tfbert.predict import load_predictor  # noqa: E402
from tfbert.predict.beam_predict import predict_on_beam  # noqa: E402
from tfbert.task import TaskSpec  # noqa: E402
from tfbert.tokenization.bert_tokenizer import SPECIAL_TOKENS  # noqa: E402

TEXTS = ["abc", "", "hgf edc ba", "a" * 40, "bad cafe", "ggg"] * 7


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("beam-predict")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(list(SPECIAL_TOKENS) + list("abcdefgh")) + "\n")
    config = BertConfig(vocab_size=len(SPECIAL_TOKENS) + 8, hidden_size=16, num_layers=1,
                        num_heads=2, intermediate_size=32, max_position_embeddings=32)
    spec = TaskSpec(task="classify", labels=("no", "yes"), max_length=16)
    keras.utils.set_random_seed(3)
    save_model_dir(build_model(config, spec), config, spec, root / "model", vocab_file=vocab)
    return export_saved_model(root / "model", "tiny", str(root / "savedmodels"))


def _read(prefix):
    rows = []
    for path in sorted(glob.glob(f"{prefix}-*.jsonl")):
        with open(path, encoding="utf-8") as f:
            rows += [json.loads(line) for line in f]
    return sorted(rows, key=lambda row: row["line"])


def test_shards_hold_the_local_answers_with_line_numbers(served, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    prefix = tmp_path / "out" / "answers"
    prefix.parent.mkdir()
    (prefix.parent / "answers-00009-of-00010.jsonl").write_text("an earlier run's\n")
    written = predict_on_beam(served, str(source), str(prefix),
                              beam_pipeline.pipeline_options("direct", 2), "classify",
                              batch_size=4, split_mb=0.00005, echo=lambda *_: None)
    assert written and all(path.endswith(".jsonl") for path in written)
    rows = _read(prefix)
    assert [row["line"] for row in rows] == list(range(1, len(TEXTS) + 1))
    local = load_predictor(served).predict([{"text": t} for t in TEXTS if t])
    answers = iter(local)
    for row, text in zip(rows, TEXTS):
        assert row["text"] == text
        if not text:   # as streaming predict answers a blank line
            assert row["error"] == "empty text: nothing to predict" and "label" not in row
            continue
        answer = next(answers)
        assert row["label"] == answer["label"]
        assert row["score"] == pytest.approx(answer["score"], abs=1e-5)
    assert not (prefix.parent / "answers-00009-of-00010.jsonl").exists()
    assert not list(prefix.parent.glob(".*"))   # no staging left


def test_jsonl_rows_and_bad_lines(served, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "abc", "id": 7}\n\n{"text": "fed"}\n', encoding="utf-8")
    options = beam_pipeline.pipeline_options("direct")
    predict_on_beam(served, str(source), str(tmp_path / "a"), options, "classify",
                    echo=lambda *_: None)
    rows = _read(tmp_path / "a")
    assert [(r["line"], r.get("id"), r["text"]) for r in rows] == [(1, 7, "abc"), (3, None, "fed")]
    source.write_text('{"text": "abc"}\n{"txt": "fed"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"in\.jsonl: line 2: no text column 'text'; the row "
                       r"has \['txt'\]; choose it with --text-column$"):
        predict_on_beam(served, str(source), str(tmp_path / "b"), options, "classify",
                        echo=lambda *_: None)
    assert rows == _read(tmp_path / "a")   # nothing written is lost
    (tmp_path / "in.csv").write_text("text\nabc\n")
    with pytest.raises(ValueError, match=r"expected a \.txt .* or \.jsonl"):
        predict_on_beam(served, str(tmp_path / "in.csv"), str(tmp_path / "c"), options,
                        "classify")


def test_cli_with_runner(served, tmp_path):
    from click.testing import CliRunner

    from tfbert.cli.main import cli

    source = tmp_path / "in.txt"
    source.write_text("abc\n\nfed\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["predict", served, "--input", str(source), "--output",
                                 str(tmp_path / "new" / "part"), "--runner", "direct"])
    assert result.exit_code == 0, result.output
    rows = _read(tmp_path / "new" / "part")
    assert [r["line"] for r in rows] == [1, 2, 3] and "error" in rows[1]
    for flags, message in ((["--chunk-size", "8"], "--chunk-size is for prediction in this"),
                           (["--text", "abc"], "--runner needs --input FILE and --output")):
        result = runner.invoke(cli, ["predict", served, "--input", str(source), "--output",
                                     str(tmp_path / "x"), "--runner", "direct", *flags])
        assert result.exit_code == 2 and message in result.output, result.output
    result = runner.invoke(cli, ["predict", served, "--text", "abc", "--num-workers", "2"])
    assert result.exit_code == 2 and "--num-workers goes with --runner" in result.output
