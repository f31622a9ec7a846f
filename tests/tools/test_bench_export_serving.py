"""tools/bench_export_serving.py replays TF Serving's batching policy: batches up to
max_batch_size, padded to the allowed sizes, refusals past max_enqueued_batches; checked
with a stand-in for the Session whose calls are recorded (no model, no TensorFlow run)."""

import threading
import time

import numpy as np

from tfbert.export.saved_model_batching import BatchingParameters
from tools import bench_export_serving as serving

SAMPLE = [np.ones((1, 4), "int32")] * 3   # token_ids, padding_mask, segment_ids


def recording_run(seconds):
    """A Session stand-in: sleeps `seconds` per call, records each call's batch size."""
    sizes, lock = [], threading.Lock()

    def run(feeds):
        batch = feeds["token_ids"].shape[0]
        with lock:
            sizes.append(batch)
        time.sleep(seconds)
        return {"logits": np.zeros((batch, 3), "float32")}
    return run, sizes


def test_requests_are_batched_and_padded_to_allowed_sizes():
    run, sizes = recording_run(0.02)
    # 5 clients never fill a batch of 8: each batch leaves at the timeout, 5 requests
    # padded to 8, the next allowed size.
    policy = BatchingParameters(max_batch_size=8, batch_timeout_micros=50_000,
                                num_batch_threads=1, max_enqueued_batches=100,
                                allowed_batch_sizes=(2, 4, 8))
    result = serving.batched(run, SAMPLE, False, policy, clients=5, requests=40)
    assert result["answered"] == 40 and result["refused"] == 0
    assert set(sizes) <= {2, 4, 8}          # every batch ran at an allowed size
    assert 3 <= result["mean_batch"] <= 5   # the requests waited for each other
    assert result["batches"] == len(sizes) < 40


def test_a_full_queue_refuses_requests():
    run, _ = recording_run(0.05)
    policy = BatchingParameters(max_batch_size=1, batch_timeout_micros=0,
                                num_batch_threads=1, max_enqueued_batches=1)
    result = serving.batched(run, SAMPLE, False, policy, clients=6, requests=30)
    assert result["refused"] > 0
    assert result["answered"] + result["refused"] == 30


def test_unbatched_runs_each_request_alone():
    run, sizes = recording_run(0.001)
    result = serving.unbatched(run, SAMPLE, False, clients=4, requests=12)
    assert result["answered"] == 12 and sizes == [1] * 12


def test_text_requests_feed_the_raw_text():
    feeds = serving.feeds_of("Shares rose.", text=True, batch=3)
    assert feeds["text"].tolist() == [b"Shares rose."] * 3
    assert serving.probabilities({"logits": np.zeros((1, 4))}).tolist() == [[0.25] * 4]
