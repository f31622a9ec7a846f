"""`TaskSpec` (task.json): the QA null threshold field."""

import pytest

from tfbert.task import TaskSpec


def test_null_threshold_is_written_only_when_set():
    plain = TaskSpec(task="qa", no_answer=True)
    assert "null_threshold" not in plain.to_dict()     # old task.json files stay valid
    tuned = TaskSpec(task="qa", no_answer=True, null_threshold=-1.5)
    assert tuned.to_dict()["null_threshold"] == -1.5
    assert TaskSpec.from_dict(tuned.to_dict()) == tuned


@pytest.mark.parametrize("fields,message", [
    ({"task": "qa", "no_answer": True, "null_threshold": "1"}, "must be a finite number"),
    ({"task": "qa", "no_answer": True, "null_threshold": float("nan")}, "must be a finite"),
    ({"task": "qa", "no_answer": True, "null_threshold": True}, "must be a finite number"),
    ({"task": "qa", "null_threshold": 2.0}, "unanswerable questions"),
    ({"task": "classify", "labels": ["a"], "null_threshold": 2.0}, "for qa models"),
])
def test_null_threshold_is_checked(fields, message):
    with pytest.raises(ValueError, match=message):
        TaskSpec.from_dict(fields)
