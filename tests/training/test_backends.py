"""The same training on Keras's TensorFlow and JAX backends: one tiny model, the same
initial weights and data, a few steps each (backend_worker.py, one process per backend,
JAX with two host devices). Dropout is off: the backends draw different masks."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file

pytest.importorskip("jax")

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "backend_worker.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(WORKER)))
STEPS = dict(max_steps=6, clip_norm=1.0, weight_decay=0.01)


def on_backend(backend, runs, tmp_path):
    runs_file, result_file = tmp_path / f"{backend}-runs.json", tmp_path / f"{backend}.json"
    runs_file.write_text(json.dumps(runs))
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT,
               XLA_FLAGS="--xla_force_host_platform_device_count=2",
               TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, WORKER, str(runs_file), str(result_file)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(result_file.read_text())
    assert result["backend"] == backend
    return result


def weights(result):
    return load_file(result["final"])


def assert_close(a, b, atol):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=atol, rtol=0, err_msg=key)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("backends")
    init, init_token = str(tmp / "init.safetensors"), str(tmp / "init_token.safetensors")
    resumed_dir = str(tmp / "tf-then-jax")

    def spec(side, name, **kw):
        return {"name": name, "out": str(tmp / side / name), "init": init, **kw}

    tf_runs = [
        {"name": "init", "write_init": init, "out": ""},
        {"name": "init_token", "write_init": init_token, "head": "token", "out": ""},
        spec("tf", "plain", settings=STEPS),
        spec("tf", "token", head="token", init=init_token, settings=STEPS),
        # Killed after 3 steps, the last checkpoint at step 2: JAX resumes it.
        spec("tf", "first_steps", out=resumed_dir, interrupt_after=3,
             settings=dict(STEPS, checkpoint_every=2)),
    ]
    jax_runs = [
        {"name": "attention", "attention": True, "out": ""},
        spec("jax", "plain", settings=STEPS),
        spec("jax", "two_devices", strategy="mirrored", settings=STEPS),
        spec("jax", "accumulated", settings=dict(STEPS, batch_size=4, accumulation_steps=2)),
        spec("jax", "token", head="token", init=init_token, settings=STEPS),
        spec("jax", "killed", interrupt_after=3, settings=dict(STEPS, checkpoint_every=2)),
        spec("jax", "killed", settings=dict(STEPS, checkpoint_every=2)),
        spec("jax", "from_tf", out=resumed_dir, settings=dict(STEPS, checkpoint_every=2)),
    ]
    tf_result = on_backend("tensorflow", tf_runs, tmp)
    jax_result = on_backend("jax", jax_runs, tmp)
    return tf_result, jax_result, load_file(init), load_file(init_token), init


def test_jax_trains_to_the_losses_and_weights_of_tensorflow(runs):
    tf_result, jax_result, init, _, _ = runs
    tf_run, jax_run = tf_result["plain"], jax_result["plain"]
    assert tf_run["step"] == jax_run["step"] == 6
    # Per-step losses: float32 on both, summed in another order.
    np.testing.assert_allclose(jax_run["losses"], tf_run["losses"], rtol=2e-5)
    # It trained: the losses fell and the weights moved.
    assert jax_run["losses"][-1] < jax_run["losses"][0]
    assert max(np.abs(weights(jax_run)[k] - init[k]).max() for k in init) > 1e-3
    assert_close(weights(jax_run), weights(tf_run), atol=5e-5)


def test_jax_fused_attention_equals_the_explicit_form(runs):
    # Padded keys masked in both; what the cross-backend losses above rest on.
    assert runs[1]["attention"]["max_difference"] < 1e-6


def test_two_jax_devices_and_accumulation_match_one_device(runs):
    _, jax_result, _, _, _ = runs
    one = jax_result["plain"]
    assert jax_result["two_devices"]["devices"] == 2 and one["devices"] == 1
    for name in ("two_devices", "accumulated"):
        np.testing.assert_allclose(jax_result[name]["losses"], one["losses"], rtol=1e-5,
                                   err_msg=name)
        assert_close(weights(jax_result[name]), weights(one), atol=2e-6)


def test_weights_the_loss_does_not_reach_stay_as_they_were(runs):
    # A token head does not use the pooler: no update and no weight decay on either backend.
    tf_result, jax_result, _, init_token, _ = runs
    tf_run, jax_run = tf_result["token"], jax_result["token"]
    np.testing.assert_allclose(jax_run["losses"], tf_run["losses"], rtol=2e-5)
    pooler = [k for k in init_token if k.startswith("pooler/")]
    assert pooler
    for key in pooler:
        np.testing.assert_array_equal(weights(jax_run)[key], init_token[key], err_msg=key)
        np.testing.assert_array_equal(weights(tf_run)[key], init_token[key], err_msg=key)


def test_a_killed_jax_run_resumes_to_the_uninterrupted_weights(runs):
    _, jax_result, _, _, _ = runs
    resumed, plain = jax_result["killed"], jax_result["plain"]
    assert resumed["step"] == 6
    assert_close(weights(resumed), weights(plain), atol=1e-6)
    np.testing.assert_allclose(resumed["losses"], plain["losses"], rtol=1e-6)


def test_a_tensorflow_checkpoint_resumes_on_jax(runs):
    tf_result, jax_result, _, _, _ = runs
    assert tf_result["first_steps"] == {"killed": True}
    resumed, tf_run = jax_result["from_tf"], tf_result["plain"]
    assert resumed["step"] == 6
    # Steps 1-2 on TensorFlow (from the checkpoint's history), 3-6 on JAX.
    np.testing.assert_allclose(resumed["losses"], tf_run["losses"], rtol=2e-5)
    assert_close(weights(resumed), weights(tf_run), atol=5e-5)


@pytest.mark.parametrize("call", ["export_saved_model", "export_tflite", "distill"])
def test_commands_that_need_tensorflow_say_so_on_jax(monkeypatch, tmp_path, call):
    import keras

    import tfbert
    from tfbert.training.distill import DistillJob, distill

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    run = {"export_saved_model": lambda: tfbert.export_saved_model(str(tmp_path), "m"),
           "export_tflite": lambda: tfbert.export_tflite(str(tmp_path), str(tmp_path / "m")),
           "distill": lambda: distill(DistillJob.__new__(DistillJob))}[call]
    with pytest.raises(ValueError, match=r"needs Keras's TensorFlow backend; this process "
                                         r"runs on jax \(KERAS_BACKEND=jax\)"):
        run()
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_two_jax_processes_train_as_one_device(runs, tmp_path):
    """Two hosts, as keras.distribution.initialize joins them (here two processes on
    loopback with one CPU device each, exchanging through Gloo): the losses and weights of
    one device, and only process 0 writes checkpoints."""
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    out = tmp_path / "two-hosts"
    spec = [{"name": "hosts", "out": str(out), "init": str(runs[4]), "strategy": "multiworker",
             "settings": STEPS}]
    (tmp_path / "runs.json").write_text(json.dumps(spec))
    workers = []
    for index in (0, 1):
        env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3",
                   KERAS_DISTRIBUTION_JOB_ADDRESSES=f"localhost:{port}",
                   KERAS_DISTRIBUTION_NUM_PROCESSES="2", KERAS_DISTRIBUTION_PROCESS_ID=str(index))
        env.pop("XLA_FLAGS", None)
        workers.append(subprocess.Popen(
            [sys.executable, WORKER, str(tmp_path / "runs.json"), str(tmp_path / f"{index}.json")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for worker in workers:
        output, _ = worker.communicate(timeout=600)
        assert worker.returncode == 0, output[-3000:]
    one = runs[1]["plain"]
    for index in (0, 1):
        hosts = json.loads((tmp_path / f"{index}.json").read_text())["hosts"]
        assert hosts["devices"] == 2
        np.testing.assert_allclose(hosts["losses"], one["losses"], rtol=1e-5)
    assert_close(weights(hosts), weights(one), atol=2e-6)
    assert sorted(os.listdir(out / "checkpoints")) == ["ckpt-6.safetensors", "state.json"]
    assert sorted(n for n in os.listdir(out) if n.endswith(".safetensors")) == \
        ["final0.safetensors", "final1.safetensors"]


def test_float16_is_refused_on_jax_before_anything_is_written(tmp_path):
    # Dynamic loss scaling runs on TensorFlow only: one line, and --out stays empty.
    script = ("import sys; from tfbert.cli.main import main; sys.argv = ['tfbert', 'finetune', "
              "'--task', 'classify', '--train', sys.argv[1], '--preset', 'tiny', '--vocab', "
              "sys.argv[2], '--out', sys.argv[3], '--precision', 'float16']; main()")
    (tmp_path / "train.jsonl").write_text("".join(
        json.dumps({"text": t, "label": l}) + "\n" for t, l in
        [("good", "pos"), ("bad", "neg")] * 40))
    (tmp_path / "vocab.txt").write_text("\n".join(
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad"]) + "\n")
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "train.jsonl"),
                           str(tmp_path / "vocab.txt"), str(tmp_path / "out")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "--precision float16 needs dynamic loss scaling" in done.stderr
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []
