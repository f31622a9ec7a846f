import json
import pathlib

import pytest

from tfbert.config import BertConfig
from tfbert.registry import PRESETS


@pytest.mark.parametrize("name,shape", [
    ("tiny", (2, 128, 2)), ("mini", (4, 256, 4)), ("small", (4, 512, 8)),
    ("medium", (8, 512, 8)), ("base", (12, 768, 12)), ("large", (24, 1024, 16)),
])
def test_presets(name, shape):
    config = BertConfig.from_name(name)
    assert (config.num_layers, config.hidden_size, config.num_heads) == shape
    assert config.intermediate_size == 4 * config.hidden_size
    assert (config.max_position_embeddings, config.type_vocab_size) == (512, 2)
    assert (config.hidden_dropout, config.layer_norm_eps, config.initializer_range) == (
        0.1, 1e-12, 0.02)
    assert set(PRESETS) == {"tiny", "mini", "small", "medium", "base", "large"}


def test_overrides_and_unknown_preset():
    assert BertConfig.from_name("tiny", vocab_size=50).vocab_size == 50
    with pytest.raises(ValueError, match="Received: name='huge'"):
        BertConfig.from_name("huge")


def test_frozen():
    with pytest.raises(Exception):
        BertConfig().hidden_size = 3


@pytest.mark.parametrize("kwargs,message", [
    (dict(hidden_size=100, num_heads=3), "hidden_size=100, num_heads=3"),
    (dict(num_layers=0), "num_layers=0"),
    (dict(vocab_size=-5), "vocab_size=-5"),
    (dict(hidden_dropout=1.5), "hidden_dropout=1.5"),
    (dict(hidden_act="swish"), "hidden_act='swish'"),
    (dict(layer_norm_eps=0), "layer_norm_eps=0"),
])
def test_invalid_values_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        BertConfig(**kwargs)


def test_hf_round_trip_and_gelu_forms():
    config = BertConfig.from_name("mini", vocab_size=1000)
    hf = config.to_hf_dict()
    assert hf["num_hidden_layers"] == 4 and hf["hidden_act"] == "gelu"
    assert BertConfig.from_dict(hf) == config
    tanh = config.replace(hidden_act="gelu_tanh")
    assert tanh.to_hf_dict()["hidden_act"] == "gelu_new"
    assert BertConfig.from_dict(tanh.to_hf_dict()) == tanh
    assert BertConfig.from_dict({**hf, "hidden_act": "gelu_pytorch_tanh"}).hidden_act == "gelu_tanh"


def test_google_config_means_tanh_gelu():
    google = {"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
              "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02,
              "intermediate_size": 3072, "max_position_embeddings": 512,
              "num_attention_heads": 12, "num_hidden_layers": 12, "type_vocab_size": 2,
              "vocab_size": 30522}
    config = BertConfig.from_dict(google)
    assert config.hidden_act == "gelu_tanh"
    assert config.to_google_dict() == google
    with pytest.raises(ValueError, match="exact form"):
        config.replace(hidden_act="gelu").to_google_dict()


def test_json_files(tmp_path):
    config = BertConfig.from_name("tiny", vocab_size=321)
    for flavor in ("tfbert", "hf", "google"):
        config = config.replace(hidden_act="gelu_tanh")
        path = tmp_path / f"{flavor}.json"
        config.to_json_file(path, flavor=flavor)
        assert BertConfig.from_json_file(path) == config
    bad = tmp_path / "bad.json"
    bad.write_text('{"num_layers": 2,\n "x": }')
    with pytest.raises(ValueError, match=r"bad.json: line 2: invalid JSON"):
        BertConfig.from_json_file(bad)
    with pytest.raises(ValueError, match="missing required key 'hidden_size'"):
        BertConfig.from_dict({"num_hidden_layers": 2, "vocab_size": 3})
    with pytest.raises(ValueError, match="model_type 'bert'"):
        BertConfig.from_dict({**config.to_hf_dict(), "model_type": "roberta"})
    with pytest.raises(ValueError, match=r"unknown keys \['bogus'\]"):
        BertConfig.from_dict({**config.to_dict(), "bogus": 1})
    json.loads((tmp_path / "hf.json").read_text())


def test_staged_directory_appears_only_complete(tmp_path):
    from tfbert.atomic import staged_directory

    with pytest.raises(RuntimeError):
        with staged_directory(tmp_path / "out") as staging:
            (tmp_path / "marker").write_text(staging)
            raise RuntimeError("killed half-way")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["marker"]
    with staged_directory(tmp_path / "out") as staging:
        (pathlib.Path(staging) / "a.txt").write_text("1")
    assert (tmp_path / "out" / "a.txt").read_text() == "1"
    with pytest.raises(ValueError, match="exists and is not empty"):
        with staged_directory(tmp_path / "out"):
            pass
    with staged_directory(tmp_path / "out", replace=True) as staging:
        (pathlib.Path(staging) / "b.txt").write_text("2")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["marker", "out"]
