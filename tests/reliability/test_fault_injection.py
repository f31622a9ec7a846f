"""SIGKILL trials through tools/fault_injection.py: a few kills at fixed moments per stage,
and two exports to one name at once.

The default tier checks only the tool's inspectors on hand-made damaged directories (no
subprocess); the trials run real `tfbert` commands and are `slow`.
"""

import json
import os

import numpy as np
import pytest

from tools import fault_injection as fi


# === The inspectors (default tier) ===

def _write_records(path, rows):
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path)) as writer:
        for ids in rows:
            feature = {"token_ids": tf.train.Feature(int64_list=tf.train.Int64List(value=ids))}
            writer.write(tf.train.Example(features=tf.train.Features(
                feature=feature)).SerializeToString())


def test_pretrain_data_inspector_flags_a_truncated_visible_shard(tmp_path):
    reference, out = tmp_path / "ref", tmp_path / "out"
    reference.mkdir()
    out.mkdir()
    _write_records(reference / "shard-00000.tfrecord", [[2, 5, 3]] * 50)
    digest = fi.sha256(reference / "shard-00000.tfrecord")
    manifest = {"settings": {}, "shards": [{"file": "shard-00000.tfrecord", "instances": 50,
                                            "sha256": digest}]}
    record = {"out": str(reference), "manifest": manifest}
    data = (reference / "shard-00000.tfrecord").read_bytes()
    (out / ".shard-00000.tfrecord.abc").write_bytes(data[:100])   # a kill mid-write: fine
    assert fi.inspect_pretrain_data(str(out), record) == []
    assert fi.hidden_files(str(out)) == [".shard-00000.tfrecord.abc"]
    (out / "shard-00000.tfrecord").write_bytes(data[:-7])         # visible and truncated
    problems = fi.inspect_pretrain_data(str(out), record)
    assert len(problems) == 1 and "shard-00000.tfrecord: visible" in problems[0]
    (out / "shard-00000.tfrecord").write_bytes(data)
    (out / "manifest.json").write_text(json.dumps(
        {**manifest, "shards": manifest["shards"] + [{"file": "shard-00001.tfrecord",
                                                     "sha256": "0"}]}))
    assert fi.inspect_pretrain_data(str(out), record) == [
        "manifest.json names shard-00001.tfrecord, missing or changed"]


def test_export_inspector_flags_an_incomplete_version(tmp_path):
    version = tmp_path / fi.EXPORT_NAME / "1"
    (version / "variables").mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"")
    (tmp_path / fi.EXPORT_NAME / ".export-xyz").mkdir()   # staging: never a version
    problems = fi.inspect_export(str(tmp_path))
    assert fi.versions(str(tmp_path)) == [1]
    assert len(problems) == 1 and problems[0].startswith("version 1: visible without")
    # Complete but for TF Serving's warm-up records: still half a version.
    (version / "variables" / "variables.index").write_bytes(b"")
    (version / "assets.extra").mkdir()
    (version / "assets.extra" / "tfbert_export.json").write_text("{}")
    assert fi.inspect_export(str(tmp_path)) == [
        "version 1: visible without ['assets.extra/tf_serving_warmup_requests']"]


def test_training_comparison_finds_one_changed_bit(tmp_path):
    from safetensors.numpy import save_file

    weights = {"a": np.arange(6, dtype="float32").reshape(2, 3), "b": np.ones(4, "float32")}
    save_file(weights, str(tmp_path / "ref.safetensors"))
    reference = {"weights": str(tmp_path / "ref.safetensors"),
                 "weights_sha256": fi.sha256(tmp_path / "ref.safetensors")}
    save_file(weights, str(tmp_path / "model.safetensors"))
    assert fi.compare_training(str(tmp_path), reference) == []
    weights["b"] = np.nextafter(weights["b"], 2)
    save_file(weights, str(tmp_path / "model.safetensors"))
    assert fi.compare_training(str(tmp_path), reference) == [
        "1/2 tensors differ from the uninterrupted run (largest 1.19e-07 in b)"]


def test_predict_inspector_flags_a_visible_partial_output(tmp_path):
    reference = {"output_sha256": fi.sha256(_write(tmp_path / "ref.jsonl", b"a\nb\n"))}
    out = tmp_path / "out"
    out.mkdir()
    _write(out / ".predictions.jsonl.partial", b"a\n")            # staging: fine while dead
    _write(out / ".predictions.jsonl.progress.json", b'{"records": 1}')
    assert fi.inspect_predict(str(out), reference) == []
    _write(out / fi.PREDICTIONS, b"a\n")                           # visible and half
    assert fi.inspect_predict(str(out), reference) == [
        "predictions.jsonl: visible but not the uninterrupted run's (2 bytes)"]
    _write(out / fi.PREDICTIONS, b"a\nb\n")
    assert fi.compare_predict(str(out), reference, "100 predictions", resumable=False) == []
    assert fi.compare_predict(str(out), reference, "100 predictions", resumable=True) == [
        "a chunk was complete at the kill but the re-run did not resume"]


def _write(path, data):
    path.write_bytes(data)
    return path


def test_summary_counts_each_outcome():
    results = [{"stage": "finetune", "killed": True, "output_at_kill": True, "ok": True,
                "partial": [], "mismatches": [], "lost": False, "garbage": [],
                "garbage_after_rerun": []},
               {"stage": "finetune", "killed": True, "output_at_kill": False, "ok": False,
                "partial": [], "mismatches": ["x"], "lost": False, "garbage": [".t"],
                "garbage_after_rerun": [".t"]}]
    (row,) = fi.summarize(results)
    assert row == {"stage": "finetune", "trials": 2, "killed": 2, "with_output": 1,
                   "survived": 1, "partial": 0, "mismatches": 1, "lost": 0, "garbage": 1}
    assert "| finetune | 2 | 2 | 1 | 1 | 0 | 1 | 0 | 1 |" in fi.table([row])


# === Real SIGKILL trials (slow) ===

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("fault-injection"))
    plan = fi.Plan.small()
    inputs = fi.prepare_inputs(os.path.join(root, "inputs"), plan)
    return {"root": root, "plan": plan, "inputs": inputs, "references": {}}


def _reference(world, stage):
    references = world["references"]
    if stage not in references:
        for needed in {"pretrain": ["pretrain-data"], "export": ["finetune"]}.get(stage, []):
            _reference(world, needed)
        if stage != "export":  # an export trial told when to kill needs no reference
            references[stage] = fi.make_reference(stage, world["inputs"], references,
                                                  world["root"], world["plan"])
    return references


def _exists(*parts):
    return lambda out: os.path.exists(os.path.join(out, *parts))


def _assert_survived(result):
    assert result["killed"], "the command finished before the kill"
    assert result["partial"] == [], result
    assert not result["lost"], result.get("error")
    assert result["mismatches"] == [], result
    assert result["garbage_after_rerun"] == [], result
    assert result["ok"]


@pytest.mark.slow
def test_pretrain_data_killed_after_its_first_shard(world):
    # The first shard is complete, the second not yet begun or half written: the re-run
    # skips the first and writes the rest. Shards are compared byte for byte with the
    # reference's, made in another process (protobuf map order must not vary per process).
    result = fi.run_trial("pretrain-data", world["inputs"], _reference(world, "pretrain-data"),
                          world["root"], world["plan"],
                          kill_when=_exists("shard-00000.tfrecord"))
    assert result["output_at_kill"]
    _assert_survived(result)


@pytest.mark.slow
def test_pretrain_killed_after_its_first_checkpoint_ends_with_the_same_weights(world):
    # (Fine-tuning's SIGKILL + re-run is in tests/cli/test_training_cli.py; the tool runs
    # both.)
    stage = "pretrain"
    result = fi.run_trial(stage, world["inputs"], _reference(world, stage), world["root"],
                          world["plan"], kill_when=_exists("checkpoints", "state.json"))
    _assert_survived(result)


@pytest.mark.slow
def test_export_killed_while_writing_publishes_no_version(world):
    def staging(base):
        model_base = os.path.join(base, fi.EXPORT_NAME)
        return os.path.isdir(model_base) and any(n.startswith(".")
                                                 for n in os.listdir(model_base))

    result = fi.run_trial("export", world["inputs"], _reference(world, "export"),
                          world["root"], world["plan"], kill_when=staging)
    _assert_survived(result)
    out = os.path.join(world["root"], "trials", f"export-{result['trial']:03d}")
    assert fi.versions(out) == [1]


@pytest.mark.slow
def test_predict_killed_after_a_chunk_resumes_to_the_same_output(world):
    # Killed once a chunk's progress is recorded: the re-run resumes after it and ends with
    # the uninterrupted run's bytes, no staging file left.
    stage = "predict"
    result = fi.run_trial(stage, world["inputs"], _reference(world, stage), world["root"],
                          world["plan"], kill_when=_exists(".predictions.jsonl.progress.json"))
    assert result["output_at_kill"]
    _assert_survived(result)


@pytest.mark.slow
def test_beam_pipeline_killed_whole_or_one_worker_ends_with_the_same_manifest(world):
    # Killed once a worker has opened its first shard: the driver with its workers (as a
    # preempted machine), then one worker alone. Either way the re-run's shards and
    # manifest are the uninterrupted run's, byte for byte, and no staging is left.
    pytest.importorskip("apache_beam")
    started = _exists(".beam-staging", "tmp")
    for stage in fi.BEAM_STAGES:
        result = fi.run_trial(stage, world["inputs"], _reference(world, stage), world["root"],
                              world["plan"], kill_when=started)
        _assert_survived(result)
        assert result.get("driver_rc", 0) != "hung"


@pytest.mark.slow
def test_two_exports_to_one_name_get_distinct_versions(world):
    result = fi.concurrent_export_trial(_reference(world, "export"), world["root"],
                                        world["plan"])
    assert result["mismatches"] == [] and result["rcs"] == [0, 0], result
    assert result["versions"] == [1, 2]
    assert sorted(os.path.basename(p) for p in result["printed"]) == ["1", "2"]
