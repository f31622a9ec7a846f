import json

import pytest

from tfbert.training.strategy import make_strategy, per_replica_batch, read_tf_config


@pytest.mark.parametrize("value, message", [
    ("", "needs TF_CONFIG"),
    ("{not json", "TF_CONFIG: invalid JSON"),
    (json.dumps({"task": {"type": "worker", "index": 0}}), "expected a 'cluster' object"),
    (json.dumps({"cluster": {"worker": ["localhost"]}, "task": {"type": "worker", "index": 0}}),
     "must be a list of 'host:port'"),
    (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}),
     "'task.type' must name a job"),
    (json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker",
                                                                "index": 2}}),
     r"'task.index' must be 0..1"),
])
def test_tf_config_is_checked(monkeypatch, value, message):
    monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(ValueError, match=message):
        read_tf_config()


def test_strategy_names_and_batch_division(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("TPU_NAME", raising=False)
    assert make_strategy("auto").num_replicas_in_sync == 1
    mirrored = make_strategy("mirrored")
    assert mirrored.num_replicas_in_sync == 2          # the two logical CPUs of conftest
    assert per_replica_batch(mirrored, 8) == 4
    with pytest.raises(ValueError, match="use a multiple of 2"):
        per_replica_batch(mirrored, 5)
    with pytest.raises(ValueError, match="--strategy must be one of"):
        make_strategy("horovod")
    with pytest.raises(ValueError, match="--strategy tpu: no TPU found"):
        make_strategy("tpu")
