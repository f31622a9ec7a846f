"""A `PretrainJob` checks the settings that need no file read when it is built."""

import pytest

from tfbert.training.pretrain import PretrainJob


@pytest.mark.parametrize("changes, message", [
    ({"data": "missing"}, r"DATA missing: no such directory; expected a `tfbert pretrain-data`"),
    ({"dev": "nowhere"}, r"--dev nowhere: no such directory"),
    ({"vocab": "no-vocab.txt"}, r"--vocab no-vocab.txt: no such file"),
    ({"init": "no-model"}, r"--init no-model: no such file or directory"),
    ({"preset": "huge"}, r"--preset: Unknown preset"),
    ({"max_predictions": -1}, r"--max-predictions must be an integer of at least 0"),
    ({"dev_batches": 0}, r"dev_batches must be an integer of at least 1"),
])
def test_a_bad_setting_fails_when_the_job_is_built(tmp_path, changes, message):
    (tmp_path / "pd").mkdir()
    settings = {"data": str(tmp_path / "pd"), "out": str(tmp_path / "out"), **changes}
    for key in ("data", "dev", "vocab", "init"):
        if key in changes:
            settings[key] = str(tmp_path / changes[key]) if key != "data" else changes[key]
    with pytest.raises(ValueError, match=message.replace("missing", ".*missing")
                       .replace("nowhere", ".*nowhere").replace("no-vocab", ".*no-vocab")
                       .replace("no-model", ".*no-model")):
        PretrainJob(**settings)


def test_a_good_job_is_built(tmp_path):
    (tmp_path / "pd").mkdir()
    job = PretrainJob(data=str(tmp_path / "pd"), out=str(tmp_path / "out"), preset="tiny")
    assert (job.preset, job.next_sentence, job.max_predictions) == ("tiny", True, 0)
