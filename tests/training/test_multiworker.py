import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_local_workers_end_with_identical_weights(tmp_path):
    from test_trainer import train

    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    processes = []
    for index in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_CONFIG": json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})}
        processes.append(subprocess.Popen(
            [sys.executable, os.path.join(HERE, "multiworker_worker.py"), str(tmp_path / "run"),
             str(tmp_path / f"w{index}.npz")], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-3000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    first, second = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert sorted(first.files) == sorted(second.files)
    for key in first.files:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    # Each worker saw half of every global batch: the result is one device's on the
    # whole batch, weights and logged losses alike. Unclipped, so that a gradient off by a
    # constant factor (a loss normalised per worker) moves the weights through Adam's
    # epsilon. Only the chief (worker 0) keeps checkpoints.
    single, result = train(tmp_path / "single", strategy="one", max_steps=4, clip_norm=0.0)
    for key in first.files:
        np.testing.assert_allclose(first[key], single[key.replace("|", "/")], atol=2e-6,
                                   rtol=0, err_msg=key)
    losses = [row["loss"] for row in result.history if "loss" in row]
    assert len(losses) >= 2
    for report in reports:
        assert report["step"] == 4
        np.testing.assert_allclose(report["losses"], losses, rtol=1e-5)
    assert not [n for n in os.listdir(tmp_path / "run/checkpoints") if n.startswith(".worker")]
