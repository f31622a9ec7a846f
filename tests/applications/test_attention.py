"""`tfbert.AttentionViewer` and `tfbert attention`: every layer's and head's attention
probabilities (checked against a NumPy computation from the layer's own weights), which
ignore padding, drawn as a PNG grid and a self-contained HTML page."""

import json
import re

import keras
import numpy as np
import pytest

from tfbert.applications.attention import AttentionViewer
from tfbert.config import BertConfig
from tfbert.modeling import BertEncoder
from tfbert.tokenization import BertTokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "我", "爱", "北", "京", "天", "安",
         "门", "the", "cat", "sat", "##s", "<", "/", "script", ">"]
CONFIG = BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_layers=2, num_heads=2,
                    intermediate_size=32, max_position_embeddings=64)


@pytest.fixture(scope="module")
def viewer():
    keras.utils.set_random_seed(3)
    return AttentionViewer(BertEncoder.from_bert_config(CONFIG), BertTokenizer(VOCAB), 32)


def test_a_text_gives_every_layer_and_head_over_its_pieces(viewer):
    view = viewer("我爱北京天安门")
    assert view.tokens == ["[CLS]", "我", "爱", "北", "京", "天", "安", "门", "[SEP]"]
    assert view.weights.shape == (2, 2, 9, 9)
    np.testing.assert_allclose(view.weights.sum(-1), 1.0, atol=1e-5)
    pair = viewer("the cat", "cats sat")
    assert pair.tokens == ["[CLS]", "the", "cat", "[SEP]", "cat", "##s", "sat", "[SEP]"]
    assert pair.segment_ids == [0, 0, 0, 0, 1, 1, 1, 1]


def test_rows_sum_to_one_over_unmasked_keys_and_padding_changes_nothing(viewer):
    inputs = viewer.tokenizer(["the cat", "我爱北京天安门 the cat sat"], max_length=32)
    lengths = inputs["padding_mask"].sum(1)
    assert lengths[0] < lengths[1]        # the first row is padded
    weights = viewer.weights(inputs)       # (batch, layers, heads, seq, seq)
    for row, n in enumerate(lengths):
        np.testing.assert_allclose(weights[row, ..., :n].sum(-1), 1.0, atol=1e-5)
        assert np.all(weights[row, ..., n:] < 1e-9)           # padded keys get nothing
    alone = viewer("the cat").weights
    n = lengths[0]
    np.testing.assert_allclose(weights[0, :, :, :n, :n], alone, atol=1e-6)


def test_the_first_layer_equals_a_numpy_computation_from_its_weights(viewer):
    inputs = viewer.tokenizer(["我爱北京", "the cat sat"], max_length=32)
    got = viewer.weights(inputs)[:, 0]                       # (batch, heads, seq, seq)
    encoder = viewer.encoder
    x = np.asarray(encoder.embeddings(inputs["token_ids"], inputs["segment_ids"],
                                      training=False))       # (batch, seq, hidden)
    attention = encoder.blocks[0].attention
    heads, size = CONFIG.num_heads, CONFIG.hidden_size // CONFIG.num_heads

    def project(layer):  # (batch, heads, seq, head_size)
        kernel, bias = (np.asarray(w) for w in layer.weights)
        y = x @ kernel.reshape(CONFIG.hidden_size, -1) + bias.reshape(-1)
        return y.reshape(*x.shape[:2], heads, size).transpose(0, 2, 1, 3)

    scores = project(attention.query) @ project(attention.key).transpose(0, 1, 3, 2)
    scores = scores / np.sqrt(size) + (inputs["padding_mask"][:, None, None, :] - 1) * 1e9
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_png_and_html_are_drawn_and_the_html_cannot_be_broken_by_a_piece(viewer, tmp_path):
    view = viewer("the cat sat")
    png = view.save(tmp_path / "a.png")
    from matplotlib.image import imread

    image = imread(png)
    assert image.shape[0] > 200 and image.std() > 0.05       # drawn, not blank
    page = view.save(tmp_path / "a.html")
    with open(page, encoding="utf-8") as f:
        data = json.loads(re.search(r'id="attention-data">(.*?)</script>', f.read(), re.S)
                          .group(1))
    assert data["tokens"] == view.tokens
    np.testing.assert_allclose(data["weights"], view.weights, atol=1e-4)
    # A piece (or title) that would close the <script> element is escaped.
    from tfbert.evaluation.attention_view import attention_html

    text = attention_html(["[CLS]", "</script><b>", "[SEP]"], np.full((1, 1, 3, 3), 1 / 3),
                          title="</script>")
    assert text.count("</script>") == 2                      # the page's own two
    data = json.loads(re.search(r'id="attention-data">(.*?)</script>', text, re.S).group(1))
    assert data["tokens"][1] == "</script><b>"
    with pytest.raises(ValueError, match=r"a\.svg: expected a file ending in \.png or \.html"):
        view.save(tmp_path / "a.svg")


def test_the_command_draws_both_files_for_a_model_directory(tmp_path):
    from click.testing import CliRunner

    from tfbert.cli.main import cli
    from tfbert.model_dir import build_model, save_model_dir
    from tfbert.task import TaskSpec

    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    keras.utils.set_random_seed(0)
    spec = TaskSpec(task="classify", labels=("a", "b"), max_length=32, temperature=0.5)
    save_model_dir(build_model(CONFIG, spec), CONFIG, spec, tmp_path / "model",
                   vocab_file=tmp_path / "vocab.txt")
    out_png, out_html = str(tmp_path / "v.png"), str(tmp_path / "v.html")
    run = CliRunner().invoke(cli, ["attention", str(tmp_path / "model"), "--text",
                                   "我爱北京天安门", "--out", out_png, "--out", out_html])
    assert run.exit_code == 0, run.output
    assert f"{out_html}: 2 layers x 2 heads over 9 pieces" in run.output
    bad = CliRunner().invoke(cli, ["attention", str(tmp_path / "model"), "--text", "x",
                                   "--out", str(tmp_path / "v.jpg")])
    assert bad.exit_code == 2 and "v.jpg: expected a file ending in .png or .html" in bad.output
