"""The demo's stage record: reuse, resume, and re-running everything after a change."""

import json
import os

import pytest

from tfbert.demo.stages import StageLog


def _pipeline(out, settings, ran):
    """Two stages that write one file each; `ran` collects the stages that ran."""
    log = StageLog(out)
    for name in ("first", "second"):
        path = os.path.join(out, name)
        if log.begin(name, settings[name], [path]):
            ran.append(name)
            with open(path, "w") as f:
                f.write(name)
            log.finish(name, value=len(ran))
    return log


def test_finished_stages_are_reused(tmp_path):
    settings, ran = {"first": {"a": 1}, "second": {"b": 1}}, []
    _pipeline(str(tmp_path), settings, ran)
    _pipeline(str(tmp_path), settings, ran)
    assert ran == ["first", "second"]
    log = StageLog(str(tmp_path))
    assert log.facts("second")["value"] == 2 and log.facts("second")["finished"]


def test_a_changed_stage_runs_again_with_every_later_one(tmp_path):
    ran = []
    _pipeline(str(tmp_path), {"first": {"a": 1}, "second": {"b": 1}}, ran)
    ran.clear()
    _pipeline(str(tmp_path), {"first": {"a": 2}, "second": {"b": 1}}, ran)
    assert ran == ["first", "second"]
    ran.clear()
    _pipeline(str(tmp_path), {"first": {"a": 2}, "second": {"b": 2}}, ran)
    assert ran == ["second"]


def test_a_stage_passed_through_keeps_the_keys_of_the_later_ones(tmp_path):
    settings, ran = {"first": {"a": 1}, "second": {"b": 1}}, []
    _pipeline(str(tmp_path), settings, ran)
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    log = StageLog(str(tmp_path))
    log.pass_through("first", {"a": 1}, [first])     # finished with these settings
    assert not log.begin("second", {"b": 1}, [second])
    # Passed through with other settings (not finished with them): no chain to it, so the
    # next stage runs again; the stage itself is left alone.
    log = StageLog(str(tmp_path))
    log.pass_through("first", {"a": 2}, [first])
    assert log.begin("second", {"b": 1}, [second])
    assert os.path.isfile(first) and StageLog(str(tmp_path)).facts("first")["finished"]


def test_a_missing_output_runs_its_stage_and_the_later_ones(tmp_path):
    settings, ran = {"first": {}, "second": {}}, []
    _pipeline(str(tmp_path), settings, ran)
    os.remove(tmp_path / "first")
    ran.clear()
    _pipeline(str(tmp_path), settings, ran)
    assert ran == ["first", "second"]


def test_an_interrupted_stage_keeps_its_outputs_to_resume_from(tmp_path):
    log = StageLog(str(tmp_path))
    partial = tmp_path / "first"
    assert log.begin("first", {"a": 1}, [str(partial)])
    partial.write_text("half")  # killed here: never finished
    log = StageLog(str(tmp_path))
    assert log.begin("first", {"a": 1}, [str(partial)])
    assert partial.read_text() == "half"
    # Other settings: the old outputs go before the stage runs.
    log = StageLog(str(tmp_path))
    assert log.begin("first", {"a": 2}, [str(partial)])
    assert not partial.exists()


def test_a_directory_the_demo_did_not_make_is_refused_untouched(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "mine.txt").write_text("keep")
    with pytest.raises(ValueError, match="is not empty and has no demo.json"):
        StageLog(str(tmp_path))
    assert (tmp_path / "model" / "mine.txt").read_text() == "keep"


def test_a_damaged_record_is_one_clear_error(tmp_path):
    (tmp_path / "demo.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"demo\.json: not a demo stage record"):
        StageLog(str(tmp_path))
    (tmp_path / "demo.json").write_text(json.dumps({"stages": []}))
    with pytest.raises(ValueError, match="use another --out"):
        StageLog(str(tmp_path))
