"""`tfbert summarize`: .txt and .jsonl documents in, one JSON line per document out."""

import json

import pytest
from click.testing import CliRunner

from tfbert.cli.main import cli

MINILM = "all-MiniLM-L6-v2"
ARTICLE = ("Shares in the carmaker fell sharply on Monday. The company warned that profits "
           "would fall this year. Its chief executive blamed rising steel prices. "
           "Shares in the carmaker fell sharply on Monday. The weather was mild.")


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("args", [["--sentences", "2"], ["--sentences", "2", "--output"]])
def test_txt_file_is_one_document(tmp_path, args):
    source = tmp_path / "article.txt"
    source.write_text(ARTICLE + "\n", encoding="utf-8")
    if args[-1] == "--output":
        args = [*args, str(tmp_path / "out" / "summary.jsonl")]
    result = run("summarize", MINILM, "--input", str(source), *args)
    assert result.exit_code == 0, result.output
    text = (tmp_path / "out" / "summary.jsonl").read_text() if "--output" in args \
        else result.stdout
    (answer,) = [json.loads(line) for line in text.splitlines()]
    assert set(answer) == {"summary", "sentences"} and len(answer["sentences"]) == 2
    assert all(ARTICLE[s["start"]:s["end"]] == s["text"] for s in answer["sentences"])


def test_jsonl_keeps_other_keys_and_text_option(tmp_path):
    source = tmp_path / "docs.jsonl"
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"id": 7, "body": ARTICLE}, {"id": 8, "body": "质量很好。物流很快！包装一般。"}]) + "\n",
        encoding="utf-8")
    result = run("summarize", MINILM, "--input", str(source), "--text-column", "body",
                 "--sentences", "1", "--diversity", "0")
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["id"] for a in answers] == [7, 8] and "body" not in answers[0]
    assert all(len(a["sentences"]) == 1 for a in answers)
    one = json.loads(run("summarize", MINILM, "--text", ARTICLE, "--sentences", "9").stdout)
    assert len(one["sentences"]) == 5


@pytest.mark.parametrize("args, content, message", [
    (["--sentences", "0"], None, "Invalid value for '--sentences': 0 is not in the range x>=1"),
    (["--diversity", "2"], None, "Invalid value for '--diversity': 2.0 is not in the range"),
    ([], '{"text": "ok."}\n[1]\n', "docs.jsonl: line 2: expected a JSON object per line"),
    ([], '{"text": "ok."}\n{"id": 1}\n', "docs.jsonl: line 2: expected a JSON object with "
                                         "a string 'text' field (--text-column)"),
    ([], '{"text": "  "}\n', "docs.jsonl: line 1: the 'text' field is empty"),
    (["--text", "x"], '{"text": "ok."}\n', "give --text or --input (one of them)"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, content, message):
    source = tmp_path / "docs.jsonl"
    source.write_text(content or '{"text": "A. B."}\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["summarize", MINILM, "--input", str(source), *args])
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert message in line


def test_other_suffix_is_refused(tmp_path):
    source = tmp_path / "docs.csv"
    source.write_text("text\nA.\n")
    result = CliRunner().invoke(cli, ["summarize", MINILM, "--input", str(source)])
    assert result.exit_code == 2 and "expected a .txt file" in result.output
