"""`split_sentences`: Chinese and English rules, spans that slice back to each sentence."""

import pathlib
import subprocess
import sys

import pytest

from tfbert.tokenization.sentences import detect_language, split_sentences


def _texts(text, language=None):
    sentences = split_sentences(text, language)
    for s in sentences:
        assert text[s.start:s.end] == s.text, s
    return [s.text for s in sentences]


def test_chinese_ends_keep_closing_quotes_and_ellipses():
    text = "他说：“今天很好。”然后走了……真的吗？！是的；对\n  第二行（完）"
    assert _texts(text) == ["他说：“今天很好。”", "然后走了……", "真的吗？！", "是的；", "对",
                            "第二行（完）"]
    assert _texts("「好！」他笑了。") == ["「好！」", "他笑了。"]


def test_english_rules_skip_abbreviations_initials_and_decimals():
    text = ("Dr. Who met J. K. Rowling in the U.S. on Jan. 5 at 3 p.m. Prices rose 2.5% "
            "to $3.5m. \"Great,\" she said! Was it? yes it was. 12 people came (all of them.) "
            "Then they left.")
    assert _texts(text) == [
        "Dr. Who met J. K. Rowling in the U.S. on Jan. 5 at 3 p.m. Prices rose 2.5% to $3.5m.",
        "\"Great,\" she said!", "Was it? yes it was.", "12 people came (all of them.)",
        "Then they left."]


def test_newlines_end_sentences_and_blank_lines_vanish():
    text = "Headline without a stop\n\n   First paragraph. Second one.  \nlast line"
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == ["Headline without a stop", "First paragraph.",
                                           "Second one.", "last line"]
    assert (sentences[1].start, sentences[1].end) == (28, 44)
    assert split_sentences(" \n\t") == []


def test_language_detection_and_errors():
    assert detect_language("我用iPhone拍照。") == "zh"
    assert detect_language("The 中国 market.") == "en"
    # English rules on Chinese punctuation would keep this one sentence.
    assert len(split_sentences("好。很好。", "en")) == 1
    with pytest.raises(ValueError, match="Received: language='fr'"):
        split_sentences("x", "fr")
    with pytest.raises(ValueError, match="text must be a string. Received: bytes"):
        split_sentences(b"x")


def test_imports_without_tensorflow():
    done = subprocess.run([sys.executable, "-c", "import sys, tfbert.tokenization.sentences;"
                           " print('tensorflow' in sys.modules)"], capture_output=True, text=True,
                          cwd=pathlib.Path(__file__).parents[2])
    assert done.stdout.strip() == "False", done.stderr[-2000:]
