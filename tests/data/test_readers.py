import json

import pytest

from tfbert.data.readers import label_ids, read_classification, read_conll, read_squad


def test_jsonl_csv_tsv_agree(tmp_path):
    rows = [{"text": "好评，物流快", "label": "pos"}, {"text": "太差了", "label": "neg"},
            {"text": "   ", "label": "pos"}, {"text": 'quote "inside", comma', "label": "pos"}]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False)
                                                for r in rows) + "\n")
    (tmp_path / "d.csv").write_text('text,label\n好评，物流快,pos\n太差了,neg\n   ,pos\n'
                                    '"quote ""inside"", comma",pos\n')
    (tmp_path / "d.tsv").write_text('text\tlabel\n好评，物流快\tpos\n太差了\tneg\n   \tpos\n'
                                    '"quote ""inside"", comma"\tpos\n')
    results = [read_classification(tmp_path / f"d.{ext}") for ext in ("jsonl", "csv", "tsv")]
    texts = [[(e.text, e.label) for e in examples] for examples, _ in results]
    assert texts[0] == texts[1] == texts[2]
    assert texts[0][-1] == ('quote "inside", comma', "pos")
    summary = results[0][1]
    assert (summary.rows, summary.kept, summary.skipped_empty) == (4, 3, 1)
    assert "1 skipped (empty text)" in str(summary)


def test_pairs_and_custom_columns(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"q": "a?", "a": "b.", "y": 1}\n')
    examples, _ = read_classification(path, text_column="q", pair_column="a", label_column="y")
    assert (examples[0].text, examples[0].pair, examples[0].label) == ("a?", "b.", "1")


@pytest.mark.parametrize("name,content,message", [
    ("bad.csv", 'text,label\n"unclosed,pos\n', r"bad.csv: line \d+: malformed CSV"),
    ("cols.csv", "text,label\nok,pos\ntoo,many,cols\n",
     "cols.csv: line 3: expected 2 columns .text, label., got 3"),
    ("bad.jsonl", '{"text": "a", "label": "x"}\n{"text": oops}\n',
     "bad.jsonl: line 2: invalid JSON"),
    ("miss.jsonl", '{"sentence": "a", "label": "x"}\n',
     r"miss.jsonl: line 1: no column 'text'; the row has \['label', 'sentence'\]"),
    ("type.jsonl", '{"text": 5, "label": "x"}\n', "line 1: column 'text' must be a string"),
    ("data.xml", "<x/>", "unknown format 'xml'"),
    ("empty.jsonl", "", "no examples"),
])
def test_malformed_input_names_file_and_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_classification(path)


def test_unseen_label_is_an_error_with_its_line(tmp_path):
    path = tmp_path / "dev.jsonl"
    path.write_text('{"text": "a", "label": "pos"}\n{"text": "b", "label": "meh"}\n')
    examples, _ = read_classification(path)
    assert label_ids(examples[:1], ["neg", "pos"], path) == [1]
    with pytest.raises(ValueError, match=r"dev.jsonl: line 2: label 'meh' is not one of"):
        label_ids(examples, ["neg", "pos"], path)


def test_conll(tmp_path):
    path = tmp_path / "t.conll"
    path.write_text("-DOCSTART- O\n\n江\tB-PER\n泽\tI-PER\n民\tI-PER\n\nParis B-LOC\nis O\n")
    assert read_conll(path) == [(["江", "泽", "民"], ["B-PER", "I-PER", "I-PER"]),
                                (["Paris", "is"], ["B-LOC", "O"])]
    # CoNLL-2003's own layout: token, POS, chunk, NER tag; the tag is the last column.
    path.write_text("EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n")
    assert read_conll(path) == [(["EU", "rejects", "German"], ["B-ORG", "O", "B-MISC"])]
    path.write_text("江\tB-PER\n泽\n")
    with pytest.raises(ValueError, match="t.conll: line 2: expected a token and a tag"):
        read_conll(path)
    path.write_text("江\tPERSON\n")
    with pytest.raises(ValueError, match="line 1: tag 'PERSON' is not BIO"):
        read_conll(path)


def _squad(answers, impossible=False):
    return {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{
        "context": "Paris is the capital of France.",
        "qas": [{"id": "q1", "question": "What is the capital?", "answers": answers,
                 "is_impossible": impossible}]}]}]}


def test_squad(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(_squad([{"text": "Paris", "answer_start": 0}])))
    (example,) = read_squad(path)
    assert example.answers == (("Paris", 0),) and not example.is_impossible
    path.write_text(json.dumps(_squad([], impossible=True)))
    assert read_squad(path)[0].is_impossible
    path.write_text(json.dumps(_squad([{"text": "Paris", "answer_start": 5}])))
    with pytest.raises(ValueError, match="question q1: answer 'Paris' is not in the context "
                                         "at character 5"):
        read_squad(path)
    path.write_text(json.dumps(_squad([])))
    with pytest.raises(ValueError, match="question q1: no answers and not marked"):
        read_squad(path)
    path.write_text('{"data": [}')
    with pytest.raises(ValueError, match="s.json: line 1: invalid JSON"):
        read_squad(path)
