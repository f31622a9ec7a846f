"""Fault injection: SIGKILL tfbert commands at random moments, re-run them, check the result.

For each stage (`pretrain-data`, `pretrain`, `finetune`, `export`) the command runs once
uninterrupted as the reference. Each trial then starts the same command in a fresh output
directory, kills its process group with SIGKILL at a random moment (uniform between the
process start and the reference duration; `--window output`: between the moment the
reference first wrote output and its end), and, while it is dead, checks that nothing
partial looks complete:

- pretrain-data: every visible `shard-*.tfrecord` is byte-identical to the reference's shard
  of that name (a re-run skips it), a `manifest.json` lists only shards with their recorded
  SHA-256 and instance count, `settings.json` parses;
- pretrain / finetune: `checkpoints/run.json` and `state.json` parse, every
  `ckpt-<step>.safetensors` reads back whole, `best.safetensors`
  and `model.safetensors` load, and a directory with `task.json` has the reference weights;
- export: every integer version under the base has `saved_model.pb`, `variables/`,
  `assets.extra/tfbert_export.json`, `assets.extra/tf_serving_warmup_requests` and loads
  with `tf.saved_model.load`;
- predict (`tfbert predict --input predict.txt --output OUT` streaming in chunks with a tiny
  untrained classifier): no `predictions.jsonl` is visible unless it is the reference's,
  and the progress record parses;
- pretrain-data-beam (the same data as a Beam pipeline, `--runner direct --num-workers 2`):
  as pretrain-data, the driver and its workers killed together; pretrain-data-beam-worker:
  one worker process killed alone, then the driver is waited for (it may finish, Beam
  redoing the lost work, or fail; hanging fails the trial).

Then it re-runs the command to completion and compares: bit-identical `model.safetensors`
(training), identical shards and manifest (pretrain-data, both Beam stages), exactly one new complete version
(export), a byte-identical `predictions.jsonl` whose re-run said it resumed when the killed
run had finished a chunk (predict). A concurrency trial runs two `tfbert export --name same` at once and expects two
distinct complete versions. Hidden temporary files a kill left behind must be gone once
the re-run has finished (the next writer removes a dead writer's staging files); any left
is "garbage" and fails the trial.

    /tmp/venv0/bin/python tools/fault_injection.py --trials 5 --seed 0 \\
        --workdir /tmp/fault-injection --json results.json
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

STAGES = ("pretrain-data", "pretrain", "finetune", "export", "predict", "pretrain-data-beam",
          "pretrain-data-beam-worker")
# The Beam pipeline (`pretrain-data --runner direct`, 2 worker processes): killed whole
# (driver and workers, as a preempted machine), or one worker alone (the driver lives on).
BEAM_STAGES = ("pretrain-data-beam", "pretrain-data-beam-worker")
EXPORT_NAME = "m"
PREDICTIONS = "predictions.jsonl"
_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
_children: set = set()  # running Popen objects, killed on exit


# === Processes ===

def _kill(process) -> None:
    """SIGKILL the process group (the command and anything it started), then reap it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()
    _children.discard(process)


def _kill_all() -> None:
    for process in list(_children):
        _kill(process)


atexit.register(_kill_all)


def _on_signal(signum, frame):
    _kill_all()
    raise SystemExit(128 + signum)


def _start(command, log_path):
    log = open(log_path, "ab")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=_ENV,
                               start_new_session=True)
    log.close()
    _children.add(process)
    return process


def _tail(log_path, chars=1500) -> str:
    with open(log_path, "rb") as f:
        return f.read().decode("utf-8", "replace")[-chars:]


def run_to_end(command, log_path, timeout, marker=None) -> dict:
    """Runs `command` to its end (killed after `timeout` s). `marker()` is polled: the
    seconds after which it first returned true are `first_output_s`."""
    process = _start(command, log_path)
    start, first_output = time.monotonic(), None
    while process.poll() is None:
        elapsed = time.monotonic() - start
        if first_output is None and marker is not None and marker():
            first_output = elapsed
        if elapsed > timeout:
            _kill(process)
            return {"rc": "timeout", "seconds": elapsed, "first_output_s": first_output,
                    "tail": _tail(log_path)}
        time.sleep(0.05)
    _children.discard(process)
    return {"rc": process.returncode, "seconds": time.monotonic() - start,
            "first_output_s": first_output, "tail": _tail(log_path)}


def tfbert(*args) -> list:
    return [sys.executable, "-m", "tfbert.cli.main", *map(str, args)]


# === Inputs and commands ===

@dataclasses.dataclass
class Plan:
    """The sizes of the runs. The defaults make 3 shards, 16 pre-training and 24
    fine-tuning steps; `Plan.small()` is what the tests use."""

    news_documents: int = 300       # People's Daily documents (20 sentences each)
    review_documents: int = 4200    # chnsenti reviews; 2,000 documents make one shard
    learn_vocab: bool = True        # `tfbert vocab --size 2000`, else the corpus characters
    pretrain_steps: int = 16
    finetune_epochs: int = 3
    train_rows: int = 64
    dev_rows: int = 32
    predict_lines: int = 20000      # lines of the corpus (blank ones too) `predict` answers
    timeout: float = 600.0          # one uninterrupted command

    @classmethod
    def small(cls):
        return cls(news_documents=0, review_documents=2300, learn_vocab=False,
                   pretrain_steps=8, finetune_epochs=2, predict_lines=1500)


def prepare_inputs(root, plan: Plan) -> dict:
    """A corpus slice of zh-corpus, a vocabulary and balanced chnsenti train/dev files."""
    from tfbert.data import builtin
    from tfbert.tokenization.bert_tokenizer import SPECIAL_TOKENS

    os.makedirs(root, exist_ok=True)
    inputs = {name: os.path.join(root, name)
              for name in ("corpus.txt", "vocab.txt", "train.jsonl", "dev.jsonl")}
    inputs["predict.txt"] = os.path.join(root, "predict.txt")
    inputs["predict-model"] = os.path.join(root, "predict-model")
    if all(os.path.exists(p) for p in inputs.values()):
        return inputs
    documents = builtin.load_corpus("zh-corpus")
    # The corpus lists People's Daily's 20-sentence documents first, then the reviews.
    news = sum(1 for d in documents if len(d) == 20)
    chosen = documents[:plan.news_documents] + \
        documents[news:news + plan.review_documents]
    with open(inputs["corpus.txt"], "w", encoding="utf-8") as f:
        f.write("\n\n".join("\n".join(d) for d in chosen) + "\n")
    with open(inputs["corpus.txt"], encoding="utf-8") as f, \
            open(inputs["predict.txt"], "w", encoding="utf-8") as out:
        out.writelines(line for _, line in zip(range(plan.predict_lines), f))
    splits, _, _ = builtin.load_classification("chnsenti")
    for part, n in (("train", plan.train_rows), ("dev", plan.dev_rows)):
        rows = [r for r in splits[part] if r[1] == "neg"][:n // 2] + \
            [r for r in splits[part] if r[1] == "pos"][:n // 2]
        with open(inputs[f"{part}.jsonl"], "w", encoding="utf-8") as f:
            for text, label in rows:
                f.write(json.dumps({"text": text[:60], "label": label},
                                   ensure_ascii=False) + "\n")
    if plan.learn_vocab:
        done = run_to_end(tfbert("vocab", inputs["corpus.txt"], inputs["train.jsonl"],
                                 "--size", 2000, "--out", inputs["vocab.txt"]),
                          os.path.join(root, "vocab.log"), plan.timeout)
        if done["rc"] != 0:
            raise RuntimeError(f"tfbert vocab failed: {done['tail']}")
    else:
        texts = [open(inputs[n], encoding="utf-8").read()
                 for n in ("corpus.txt", "train.jsonl", "dev.jsonl")]
        chars = sorted({c for t in texts for c in t.lower() if not c.isspace()})
        with open(inputs["vocab.txt"], "w", encoding="utf-8") as f:
            f.write("\n".join(list(SPECIAL_TOKENS) + chars) + "\n")
    _predict_model(inputs["vocab.txt"], inputs["predict-model"])
    return inputs


def _predict_model(vocab, out) -> None:
    """A tiny untrained classifier: predicting the corpus takes seconds, in many chunks."""
    import keras

    from tfbert.config import BertConfig
    from tfbert.model_dir import build_model, save_model_dir
    from tfbert.task import TaskSpec

    with open(vocab, encoding="utf-8") as f:
        size = sum(1 for _ in f)
    config = BertConfig(vocab_size=size, hidden_size=16, num_layers=1, num_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    spec = TaskSpec(task="classify", labels=("neg", "pos"), max_length=32)
    keras.utils.set_random_seed(0)
    save_model_dir(build_model(config, spec), config, spec, out, vocab_file=vocab)


def stage_command(stage, inputs, references, out, plan: Plan) -> list:
    """The command of `stage` writing to `out` (export: `out` is the base directory)."""
    if stage == "pretrain-data":
        return tfbert("pretrain-data", inputs["corpus.txt"], out, "--vocab", inputs["vocab.txt"],
                      "--seq-len", 32)
    if stage in BEAM_STAGES:   # ranges of 20 kB: many units of work for two workers
        return tfbert("pretrain-data", inputs["corpus.txt"], out, "--vocab", inputs["vocab.txt"],
                      "--seq-len", 32, "--runner", "direct", "--num-workers", 2,
                      "--split-mb", "0.02")
    if stage == "pretrain":
        return tfbert("pretrain", references["pretrain-data"]["out"], "--vocab",
                      inputs["vocab.txt"], "--preset", "tiny", "--out", out, "--max-steps",
                      plan.pretrain_steps, "--batch-size", 8, "--learning-rate", "1e-3",
                      "--checkpoint-every", 3, "--keep-checkpoints", 2, "--seed", 3,
                      "--deterministic")
    if stage == "finetune":
        # Dev scores every 3 steps and checkpoints every 2: best.safetensors is written
        # between checkpoints too.
        return tfbert("finetune", "--task", "classify", "--train", inputs["train.jsonl"],
                      "--dev", inputs["dev.jsonl"], "--preset", "tiny", "--vocab",
                      inputs["vocab.txt"], "--out", out, "--epochs", plan.finetune_epochs,
                      "--checkpoint-every", 2, "--eval-every", 3, "--keep-checkpoints", 2,
                      "--batch-size", 8, "--max-length", 32, "--learning-rate", "3e-4",
                      "--seed", 1, "--deterministic")
    if stage == "export":
        return tfbert("export", references["finetune"]["out"], "--format", "saved_model",
                      "--name", EXPORT_NAME, "--base", out)
    if stage == "predict":
        # Small chunks: many progress records to be killed between.
        return tfbert("predict", inputs["predict-model"], "--input", inputs["predict.txt"],
                      "--output", os.path.join(out, PREDICTIONS), "--chunk-size", 64)
    raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")


def _has_output(stage, out) -> bool:
    if stage == "predict":   # a chunk is complete, or the whole output
        return os.path.exists(predict_progress(out)) or os.path.exists(
            os.path.join(out, PREDICTIONS))
    path = os.path.join(out, EXPORT_NAME) if stage == "export" else out
    if stage in ("pretrain", "finetune"):
        path = os.path.join(out, "checkpoints")
    return os.path.isdir(path) and bool(os.listdir(path))


# === What a directory holds ===

def sha256(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _json(path, problems):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as err:
        problems.append(f"{os.path.basename(path)}: unreadable ({err})")
        return None


def hidden_files(out) -> list:
    """Temporary names a kill left behind (`.name.xyz`), relative to `out`."""
    found = []
    for directory, dirs, files in os.walk(out):
        for name in dirs + files:
            if name.startswith("."):
                found.append(os.path.relpath(os.path.join(directory, name), out))
        dirs[:] = [d for d in dirs if not d.startswith(".")]
    return sorted(found)


def inspect_pretrain_data(out, reference) -> list:
    """Problems: anything visible as complete that is not what the reference wrote."""
    problems = []
    if not os.path.isdir(out):
        return problems
    if os.path.exists(os.path.join(out, "settings.json")):
        _json(os.path.join(out, "settings.json"), problems)
    expected = {s["file"] for s in reference["manifest"]["shards"]}
    for name in sorted(os.listdir(out)):
        if name.startswith("shard-"):
            if name not in expected:
                problems.append(f"{name}: not a shard of the reference")
                continue
            ours = shard_records(os.path.join(out, name))
            if ours != shard_records(os.path.join(reference["out"], name)):
                problems.append(f"{name}: visible but its records are not the reference's ("
                                f"{ours if isinstance(ours, str) else len(ours)} records)")
    manifest_path = os.path.join(out, "manifest.json")
    if os.path.exists(manifest_path):
        manifest = _json(manifest_path, problems)
        for shard in (manifest or {}).get("shards", []):
            path = os.path.join(out, shard["file"])
            if not os.path.isfile(path) or sha256(path) != shard["sha256"]:
                problems.append(f"manifest.json names {shard['file']}, missing or changed")
    return problems


def _checkpoint_problems(directory) -> list:
    from safetensors.numpy import load_file

    from tfbert.training.checkpoints import checkpoint_files

    problems = []
    for step, path in sorted(checkpoint_files(directory).items()):
        try:
            load_file(path)   # every tensor, read back whole
        except Exception as err:  # noqa: BLE001 - any failure to read is the finding
            problems.append(f"checkpoint {os.path.basename(path)}: unreadable "
                            f"({type(err).__name__}: {str(err)[:200]})")
    return problems


def inspect_training(out, reference) -> list:
    from safetensors.numpy import load_file

    problems = []
    checkpoints = os.path.join(out, "checkpoints")
    for name in ("run.json", "state.json"):
        if os.path.exists(os.path.join(checkpoints, name)):
            _json(os.path.join(checkpoints, name), problems)
    if os.path.isdir(checkpoints):
        problems += _checkpoint_problems(checkpoints)
    for path in (os.path.join(checkpoints, "best.safetensors"),
                 os.path.join(out, "model.safetensors")):
        if os.path.exists(path):
            try:
                load_file(path)
            except Exception as err:  # noqa: BLE001
                problems.append(f"{os.path.relpath(path, out)}: unreadable ({err})")
    if os.path.exists(os.path.join(out, "task.json")):
        _json(os.path.join(out, "task.json"), problems)
        _json(os.path.join(out, "config.json"), problems)
        if not os.path.isfile(os.path.join(out, "vocab.txt")):
            problems.append("task.json present but no vocab.txt")
        problems += [f"task.json present: {m}" for m in compare_training(out, reference)]
    return problems


def versions(base) -> list:
    model_base = os.path.join(base, EXPORT_NAME)
    if not os.path.isdir(model_base):
        return []
    return sorted(int(n) for n in os.listdir(model_base) if n.isdigit())


def inspect_export(base) -> list:
    """Problems of the integer versions under `base/m` (each must be complete and load)."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the graphs use tf-text ops)

    problems = []
    for version in versions(base):
        path = os.path.join(base, EXPORT_NAME, str(version))
        missing = [p for p in ("saved_model.pb", "variables/variables.index",
                               "assets.extra/tfbert_export.json",
                               "assets.extra/tf_serving_warmup_requests")
                   if not os.path.isfile(os.path.join(path, p))]
        if missing:
            problems.append(f"version {version}: visible without {missing}")
            continue
        _json(os.path.join(path, "assets.extra", "tfbert_export.json"), problems)
        try:
            tf.saved_model.load(path)
        except Exception as err:  # noqa: BLE001
            problems.append(f"version {version}: does not load ({str(err)[:200]})")
    return problems


def predict_progress(out) -> str:
    return os.path.join(out, f".{PREDICTIONS}.progress.json")


def inspect_predict(out, reference) -> list:
    """Problems: a visible `predictions.jsonl` that is not the reference's, or an unreadable
    progress record."""
    problems = []
    if os.path.exists(predict_progress(out)):
        _json(predict_progress(out), problems)
    path = os.path.join(out, PREDICTIONS)
    if os.path.exists(path) and sha256(path) != reference["output_sha256"]:
        problems.append(f"{PREDICTIONS}: visible but not the uninterrupted run's "
                        f"({os.path.getsize(path)} bytes)")
    return problems


def compare_predict(out, reference, tail, resumable) -> list:
    """Mismatches of the re-run's output; `resumable`: a chunk was complete at the kill, so
    the re-run must have said it resumed (in its log `tail`)."""
    path = os.path.join(out, PREDICTIONS)
    if not os.path.isfile(path):
        return [f"no {PREDICTIONS}"]
    mismatches = []
    if sha256(path) != reference["output_sha256"]:
        mismatches.append(f"{PREDICTIONS}: bytes differ from the uninterrupted run's")
    if resumable and "resuming after" not in tail:
        mismatches.append("a chunk was complete at the kill but the re-run did not resume")
    return mismatches


def compare_training(out, reference) -> list:
    """Mismatches of `out/model.safetensors` against the reference weights."""
    from safetensors.numpy import load_file

    import numpy as np

    path = os.path.join(out, "model.safetensors")
    if not os.path.isfile(path):
        return ["no model.safetensors"]
    if sha256(path) == reference["weights_sha256"]:
        return []
    ours, theirs = load_file(path), load_file(reference["weights"])
    if set(ours) != set(theirs):
        return [f"weights have other tensors: {sorted(set(ours) ^ set(theirs))[:3]}"]
    differing = {k: float(np.max(np.abs(ours[k].astype(np.float64) - theirs[k])))
                 for k in sorted(ours) if not np.array_equal(ours[k], theirs[k])}
    if not differing:
        return ["model.safetensors: same tensors, other bytes"]
    worst = max(differing, key=differing.get)
    return [f"{len(differing)}/{len(ours)} tensors differ from the uninterrupted run "
            f"(largest {differing[worst]:.3g} in {worst})"]


def shard_records(path):
    """The records of a TFRecord shard as `{feature: values}` dicts (an error text when it
    does not read to its end)."""
    import tensorflow as tf

    records = []
    try:
        for record in tf.data.TFRecordDataset(path):
            example = tf.train.Example.FromString(record.numpy())
            records.append({k: tuple(v.int64_list.value)
                            for k, v in sorted(example.features.feature.items())})
    except tf.errors.OpError as err:
        return f"unreadable: {str(err).splitlines()[0][:200]}"
    return records


def compare_pretrain_data(out, reference) -> list:
    path = os.path.join(out, "manifest.json")
    if not os.path.isfile(path):
        return ["no manifest.json"]
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    mismatches = []
    ignore = {"sha256"}  # compared below, with the records behind them
    strip = [{k: v for k, v in s.items() if k not in ignore} for s in manifest["shards"]]
    if strip != [{k: v for k, v in s.items() if k not in ignore}
                 for s in reference["manifest"]["shards"]] or \
            manifest["settings"] != reference["manifest"]["settings"]:
        mismatches.append("manifest differs beyond the shards' SHA-256")
    for shard in reference["manifest"]["shards"]:
        path = os.path.join(out, shard["file"])
        if sha256(path) == shard["sha256"]:
            continue
        same = shard_records(path) == shard_records(os.path.join(reference["out"],
                                                                 shard["file"]))
        mismatches.append(f"{shard['file']}: bytes differ from the uninterrupted run's; "
                          + ("records equal (serialization differs)" if same
                             else "records differ"))
    return mismatches


INSPECT = {"pretrain-data": inspect_pretrain_data, "pretrain": inspect_training,
           "finetune": inspect_training, "export": lambda out, reference: inspect_export(out),
           "predict": inspect_predict, "pretrain-data-beam": inspect_pretrain_data,
           "pretrain-data-beam-worker": inspect_pretrain_data}


# === References and trials ===

def make_reference(stage, inputs, references, root, plan: Plan) -> dict:
    """Runs `stage` uninterrupted into `root/reference/<stage>` (once; reused after)."""
    if stage in BEAM_STAGES and stage != BEAM_STAGES[0]:   # one command, one reference
        return references.get(BEAM_STAGES[0]) or make_reference(BEAM_STAGES[0], inputs,
                                                                references, root, plan)
    out = os.path.join(root, "reference", stage)
    record_path = out + ".json"
    digest = library_digest()
    if os.path.isfile(record_path):
        with open(record_path, encoding="utf-8") as f:
            record = json.load(f)
        if record.get("library") == digest:
            return record
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    command = stage_command(stage, inputs, references, out, plan)
    done = run_to_end(command, out + ".log", plan.timeout, lambda: _has_output(stage, out))
    if done["rc"] != 0:
        raise RuntimeError(f"reference {stage} failed ({done['rc']}): {done['tail']}")
    record = {"stage": stage, "out": out, "seconds": done["seconds"], "library": digest,
              "first_output_s": done["first_output_s"] or 0.0, "command": command}
    if stage == "pretrain-data" or stage in BEAM_STAGES:
        with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
            record["manifest"] = json.load(f)
    elif stage == "predict":
        record["output_sha256"] = sha256(os.path.join(out, PREDICTIONS))
    elif stage in ("pretrain", "finetune"):
        record["weights"] = os.path.join(out, "model.safetensors")
        record["weights_sha256"] = sha256(record["weights"])
    else:
        record["version"] = versions(out)
    with open(record_path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)
    return record


def library_digest() -> str:
    """SHA-256 of the tfbert sources: a reference is made again when the library changed."""
    import tfbert

    digest = hashlib.sha256()
    root = os.path.dirname(tfbert.__file__)
    for directory, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                digest.update(name.encode())
                with open(os.path.join(directory, name), "rb") as f:
                    digest.update(f.read())
    return digest.hexdigest()


def references_for(stages, inputs, root, plan: Plan) -> dict:
    needed = set(stages)
    needed |= {"pretrain-data"} if "pretrain" in needed else set()
    needed |= {"finetune"} if "export" in needed else set()
    references = {}
    for stage in STAGES:
        if stage in needed:
            references[stage] = make_reference(stage, inputs, references, root, plan)
    return references


def run_trial(stage, inputs, references, root, plan: Plan, rng=None, kill_after=None,
              kill_when=None, window="start") -> dict:
    """One trial: start, SIGKILL after `kill_after` s (default: drawn with `rng` over the
    `window`) or as soon as `kill_when(out)` is true, inspect while dead, re-run to the end,
    compare with the reference (the export stage needs none when told when to kill)."""
    reference = references.get(stage, {})
    if kill_when is not None:
        kill_after = kill_after if kill_after is not None else plan.timeout
    elif kill_after is None:
        low = reference["first_output_s"] if window == "output" else 0.0
        kill_after = (rng or random).uniform(low, reference["seconds"])
    trials = os.path.join(root, "trials")
    os.makedirs(trials, exist_ok=True)
    number = sum(1 for n in os.listdir(trials)
                 if n.startswith(stage + "-") and n[len(stage) + 1:].isdigit())
    out = os.path.join(trials, f"{stage}-{number:03d}")
    command = stage_command(stage, inputs, references, out, plan)
    log = out + ".log"
    process = _start(command, log)
    start = time.monotonic()
    while process.poll() is None and time.monotonic() - start < kill_after:
        if kill_when is not None and kill_when(out):
            break
        time.sleep(0.02)
    kill_after = time.monotonic() - start
    killed = process.poll() is None
    extra = {}
    if stage == "pretrain-data-beam-worker":
        # One worker process dies; the driver goes on (Beam may retry the work) or fails.
        workers = beam_workers(process.pid) if killed else []
        killed = bool(workers)
        if workers:
            os.kill(workers[0], signal.SIGKILL)
        try:
            process.wait(timeout=plan.timeout)
            extra["driver_rc"] = process.returncode
        except subprocess.TimeoutExpired:
            extra["driver_rc"] = "hung"
    _kill(process)
    result = {"stage": stage, "trial": number, "library": library_digest()[:12],
              "kill_after_s": round(kill_after, 2),
              "killed": killed, "exit_before_kill": None if killed else process.returncode,
              "output_at_kill": _has_output(stage, out), **extra}
    before = versions(out) if stage == "export" else []
    result["partial"] = INSPECT[stage](out, reference)
    result["garbage"] = hidden_files(out) if os.path.isdir(out) else []
    resumable = stage == "predict" and os.path.exists(predict_progress(out))
    done = run_to_end(command, log, plan.timeout)
    result["rerun_rc"], result["rerun_s"] = done["rc"], round(done["seconds"], 1)
    result["lost"] = done["rc"] != 0
    if result["lost"]:
        result["mismatches"], result["error"] = [], done["tail"]
    elif stage == "pretrain-data" or stage in BEAM_STAGES:
        result["mismatches"] = compare_pretrain_data(out, reference)
    elif stage == "predict":
        result["mismatches"] = compare_predict(out, reference, done["tail"], resumable)
    elif stage == "export":
        after = versions(out)
        result["mismatches"] = inspect_export(out)
        new = sorted(set(after) - set(before))
        if len(new) != 1:
            result["mismatches"].append(f"versions {before} -> {after}: expected one new")
        elif os.path.join(out, EXPORT_NAME, str(new[0])) not in done["tail"]:
            result["mismatches"].append(f"new version {new[0]} is not the printed path")
    else:
        result["mismatches"] = compare_training(out, reference)
    result["garbage_after_rerun"] = hidden_files(out)
    result["ok"] = not (result["partial"] or result["mismatches"] or result["lost"]
                        or result["garbage_after_rerun"] or extra.get("driver_rc") == "hung")
    return result


def beam_workers(pid) -> list:
    """The Beam SDK worker processes among `pid`'s descendants (DirectRunner's
    multi-processing mode starts them as `python -m ...sdk_worker_main`)."""
    parents, commands = {}, {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parents[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    commands[int(name)] = f.read().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {c for c, p in parents.items() if p in frontier} - found
        found |= frontier
    return sorted(p for p in found if "sdk_worker_main" in commands.get(p, ""))


def concurrent_export_trial(references, root, plan: Plan) -> dict:
    """Two `tfbert export --name m` into one base at once: two distinct complete versions."""
    base = os.path.join(root, "trials", "concurrent-export")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    command = tfbert("export", references["finetune"]["out"], "--format", "saved_model",
                     "--name", EXPORT_NAME, "--base", base)
    logs = [os.path.join(base, f"export-{i}.log") for i in (1, 2)]
    processes = [_start(command, log) for log in logs]
    start = time.monotonic()
    for process in processes:
        try:
            process.wait(timeout=max(1.0, 2 * plan.timeout - (time.monotonic() - start)))
        except subprocess.TimeoutExpired:
            pass
        _kill(process)
    rcs = [p.returncode for p in processes]
    printed = [_tail(log, 400).strip().splitlines()[-1:] for log in logs]
    result = {"stage": "export (2 at once)", "rcs": rcs, "versions": versions(base),
              "printed": [p[0] if p else "" for p in printed], "partial": [],
              "garbage": hidden_files(os.path.join(base, EXPORT_NAME))}
    result["mismatches"] = inspect_export(base)
    if rcs != [0, 0]:
        result["mismatches"].append(f"exit codes {rcs}: {[_tail(log, 600) for log in logs]}")
    elif len(set(result["printed"])) != 2 or len(result["versions"]) != 2:
        result["mismatches"].append(f"printed {result['printed']}, versions "
                                    f"{result['versions']}: expected two distinct")
    result["lost"] = rcs != [0, 0]
    result["ok"] = not result["mismatches"]
    return result


# === Report ===

def summarize(results) -> list:
    rows = {}
    for r in results:
        row = rows.setdefault(r["stage"], {"stage": r["stage"], "trials": 0, "killed": 0,
                                           "with_output": 0, "survived": 0, "partial": 0,
                                           "mismatches": 0, "lost": 0, "garbage": 0})
        row["trials"] += 1
        row["killed"] += bool(r.get("killed", False))
        row["with_output"] += bool(r.get("output_at_kill", False))
        row["survived"] += r["ok"]
        row["partial"] += bool(r["partial"])
        row["mismatches"] += bool(r["mismatches"])
        row["lost"] += r["lost"]
        row["garbage"] += bool(r.get("garbage_after_rerun", r["garbage"]))
    return list(rows.values())


def table(rows) -> str:
    head = ("stage", "trials", "killed mid-run", "killed after output", "survived",
            "partial visible", "mismatches", "lost", "garbage left")
    keys = ("stage", "trials", "killed", "with_output", "survived", "partial", "mismatches",
            "lost", "garbage")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(row[k]) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5, help="SIGKILL trials per stage")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--workdir", default="/tmp/tfbert-fault-injection",
                        help="inputs and references are kept here and reused")
    parser.add_argument("--window", choices=("start", "output"), default="start",
                        help="kill uniformly from the process start, or from the reference's "
                             "first output, to the reference's end")
    parser.add_argument("--no-concurrent", action="store_true",
                        help="skip the two-exports-at-once trial")
    parser.add_argument("--small", action="store_true", help="the tests' smaller runs")
    parser.add_argument("--json", help="write every trial and the summary here")
    args = parser.parse_args(argv)
    stages = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"--stages: unknown {unknown}; expected some of {','.join(STAGES)}")
    signal.signal(signal.SIGTERM, _on_signal)
    plan = Plan.small() if args.small else Plan()
    root = os.path.abspath(args.workdir)
    rng = random.Random(args.seed)
    inputs = prepare_inputs(os.path.join(root, "inputs"), plan)
    references = references_for(stages, inputs, root, plan)
    for stage in stages:
        reference = references[stage]
        print(f"reference {stage}: {reference['seconds']:.1f} s (first output at "
              f"{reference['first_output_s']:.1f} s)", flush=True)
    results = []
    for stage in stages:
        for _ in range(args.trials):
            result = run_trial(stage, inputs, references, root, plan, rng, window=args.window)
            results.append(result)
            print(f"{stage} #{result['trial']}: kill at {result['kill_after_s']} s, "
                  f"killed={result['killed']}, output={result['output_at_kill']}, "
                  f"ok={result['ok']}" + "".join(
                      f"\n    {k}: {result[k]}" for k in ("partial", "mismatches", "garbage")
                      if result[k]) + (f"\n    error: {result['error'][-400:]}"
                                       if result["lost"] else ""), flush=True)
    if "export" in stages and not args.no_concurrent:
        result = concurrent_export_trial(references, root, plan)
        results.append(result)
        print(f"concurrent export: versions {result['versions']}, ok={result['ok']}"
              + "".join(f"\n    {m}" for m in result["mismatches"]), flush=True)
    rows = summarize(results)
    print(table(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "plan": dataclasses.asdict(plan),
                       "references": {s: {k: v for k, v in r.items() if k != "manifest"}
                                      for s, r in references.items()},
                       "summary": rows, "trials": results}, f, indent=2)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
