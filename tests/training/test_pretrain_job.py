"""A `PretrainJob` checks the settings that need no file read when it is built."""

import pytest

from tfbert.training.pretrain import PretrainJob


@pytest.mark.parametrize("changes, message", [
    ({"data": "missing"}, r"DATA .*missing: no such directory; expected a `tfbert pretrain-data`"),
    ({"dev": "nowhere"}, r"--dev .*nowhere: no such directory"),
    ({"vocab": "no-vocab.txt"}, r"--vocab .*no-vocab.txt: no such file"),
    ({"init": "no-model"}, r"--init .*no-model: no such file or directory"),
    ({"preset": "huge"}, r"--preset: Unknown preset"),
    ({"max_predictions": -1}, r"--max-predictions must be an integer of at least 0"),
    ({"dev_batches": 0}, r"dev_batches must be an integer of at least 1"),
])
def test_a_bad_setting_fails_when_the_job_is_built(tmp_path, changes, message):
    (tmp_path / "pd").mkdir()
    paths = {k: str(tmp_path / v) for k, v in changes.items() if k in ("data", "dev", "vocab",
                                                                        "init")}
    settings = {"data": str(tmp_path / "pd"), "out": str(tmp_path / "out"), **changes, **paths}
    with pytest.raises(ValueError, match=message):
        PretrainJob(**settings)


def test_a_good_job_is_built(tmp_path):
    (tmp_path / "pd").mkdir()
    job = PretrainJob(data=str(tmp_path / "pd"), out=str(tmp_path / "out"), preset="tiny")
    assert (job.preset, job.next_sentence, job.max_predictions) == ("tiny", True, 0)
