"""The SavedModel side of tools/bench_export.py: a worker process that runs a signature
the way TF Serving does, and TF Serving's request batching replayed against it.

TF Serving runs a SavedModel through the C++ SavedModelBundle: its `serve` MetaGraph in a
`Session` whose thread pools come from `--tensorflow_intra_op_parallelism` /
`--tensorflow_inter_op_parallelism`, fed and fetched by tensor name, grappler on. The
`session` runner does exactly that from Python (`tf.compat.v1.saved_model.loader.load`);
`tf2` is `tf.saved_model.load(...).signatures[...]`, the TF2 call a Python user makes.
TF fixes its thread pools when its runtime starts, so each runner is its own process.

`batched` replays TF Serving's batching (`--enable_batching --batching_parameters_file`):
`clients` closed-loop clients each send one-text requests; a request waits in the queue
until `max_batch_size` have come or `batch_timeout_micros` has passed since the batch's
first; a batch is padded up to the next `allowed_batch_sizes` and run by one of
`num_batch_threads` threads; a request that finds `max_enqueued_batches` full batches
waiting is refused, as TF Serving refuses it (UNAVAILABLE). What is not replayed: the
gRPC/REST front end and its (de)serialisation, and the batch scheduler's sharing of
batch threads between models.
"""

from __future__ import annotations

import collections
import os
import statistics
import threading
import time

import numpy as np
import tensorflow as tf

IDS = ("token_ids", "padding_mask", "segment_ids")  # the order of a sample's arrays


def block(fn, warmup, calls):
    """Milliseconds of `calls` calls of `fn`, after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def session_signature(path, signature, intra, inter):
    """`run(feeds) -> {output: array}` of `signature` in a `Session` as TF Serving's."""
    import tensorflow_text  # noqa: F401  (the tokenizer's ops, as TF Serving links them)

    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=intra,
                                      inter_op_parallelism_threads=inter)
    graph = tf.Graph()
    session = tf.compat.v1.Session(graph=graph, config=config)
    with graph.as_default():
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
    sig = meta.signature_def[signature]
    fetches = {k: v.name for k, v in sig.outputs.items()}

    def run(feeds):
        return session.run(fetches, {sig.inputs[k].name: v for k, v in feeds.items()})
    return run


def tf2_signature(path, signature, intra, inter):
    import tensorflow_text  # noqa: F401

    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    fn = tf.saved_model.load(path).signatures[signature]

    def run(feeds):
        return {k: v.numpy() for k, v in fn(**{k: tf.constant(v) for k, v in
                                                 feeds.items()}).items()}
    return run


def feeds_of(x, text=False, batch=1):
    """The signature's inputs for `x`, repeated `batch` times: ids (`encode`) or, when
    `text`, the raw text `x` (`serving_default`)."""
    if text:
        return {"text": np.array([x.encode("utf-8")] * batch, object)}
    return {k: np.repeat(a, batch, 0) for k, a in zip(IDS, x)}


def probabilities(out):
    """Softmax probabilities of an `encode` (logits) or `serving_default` answer."""
    if "probabilities" in out:
        return out["probabilities"]
    logits = out["logits"] - out["logits"].max(-1, keepdims=True)
    return np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)


def batched(run, x, text, parameters, clients, requests):
    """Replays `requests` one-text requests from `clients` closed-loop clients through
    TF Serving's batching policy `parameters`; returns throughput, latency and batch sizes."""
    pending = collections.deque()  # (arrival, slot)
    cond = threading.Condition()
    stop = False
    sizes, refused = [], 0
    timeout = parameters.batch_timeout_micros / 1e6

    def batch_thread():
        while True:
            with cond:
                while not pending and not stop:
                    cond.wait()
                if stop and not pending:
                    return
                deadline = pending[0][0] + timeout
                while len(pending) < parameters.max_batch_size and not stop:
                    left = deadline - time.perf_counter()
                    if left <= 0:
                        break
                    cond.wait(left)
                batch = [pending.popleft() for _ in range(min(len(pending),
                                                              parameters.max_batch_size))]
            size = parameters.padded_size(len(batch))
            sizes.append(len(batch))
            out = probabilities(run(feeds_of(x, text, size)))
            for i, (_, slot) in enumerate(batch):
                slot["answer"] = out[i]
                slot["done"].set()

    latencies, lock = [], threading.Lock()
    left = [requests]

    def client():
        nonlocal refused
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            slot = {"done": threading.Event()}
            start = time.perf_counter()
            with cond:
                waiting = len(pending) // parameters.max_batch_size
                if waiting >= parameters.max_enqueued_batches:
                    refused += 1
                    continue
                pending.append((start, slot))
                cond.notify_all()
            slot["done"].wait()
            with lock:
                latencies.append((time.perf_counter() - start) * 1e3)

    workers = [threading.Thread(target=batch_thread, daemon=True)
               for _ in range(parameters.num_batch_threads)]
    for w in workers:
        w.start()
    wall = run_clients(client, clients)
    with cond:
        stop = True
        cond.notify_all()
    for w in workers:
        w.join()
    return summary(latencies, wall, refused, sizes)


def unbatched(run, x, text, clients, requests):
    """The same load without batching: each client's request is its own `Session.run`, at
    most `clients` at once (TF Serving without --enable_batching)."""
    latencies, lock, left = [], threading.Lock(), [requests]

    def client():
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            start = time.perf_counter()
            run(feeds_of(x, text))
            with lock:
                latencies.append((time.perf_counter() - start) * 1e3)

    wall = run_clients(client, clients)
    return summary(latencies, wall, 0, [1] * len(latencies))


def run_clients(client, clients) -> float:
    """Seconds for `clients` threads running `client` until each returns."""
    started = time.perf_counter()
    users = [threading.Thread(target=client) for _ in range(clients)]
    for u in users:
        u.start()
    for u in users:
        u.join()
    return time.perf_counter() - started


def summary(latencies, wall, refused, sizes):
    ordered = sorted(latencies)
    return {"requests_per_s": round(len(latencies) / wall, 2), "answered": len(latencies),
            "refused": refused, "wall_s": round(wall, 2),
            "latency_p50_ms": round(statistics.median(ordered), 1),
            "latency_p99_ms": round(ordered[min(len(ordered) - 1,
                                                int(0.99 * len(ordered)))], 1),
            "mean_batch": round(statistics.mean(sizes), 2), "batches": len(sizes)}


def worker(conn, path, signature, threads, runtime="session", text=False):
    """Serves requests from `conn` (`x`: a sample's ids, or a raw text when `text`):
    `("predict", x)` -> probabilities; `("time", x, warmup,
    calls, batch)` -> milliseconds per call; `("batching", x, parameters, clients,
    requests)` -> `batched` and `unbatched` summaries; `None` ends it. Intra-op =
    `threads`, inter-op = 1, as `--tensorflow_intra_op_parallelism=threads
    --tensorflow_inter_op_parallelism=1` set them."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    run = (session_signature if runtime == "session" else tf2_signature)(
        path, signature, threads, 1)
    while (request := conn.recv()) is not None:
        kind, x = request[0], request[1]
        if kind == "predict":
            conn.send(probabilities(run(feeds_of(x, text)))[:1])
        elif kind == "time":
            warmup, calls, size = request[2:]
            feeds = feeds_of(x, text, size)
            conn.send(block(lambda: run(feeds), warmup, calls))
        else:
            parameters, clients, requests = request[2:]
            for size in parameters.batch_sizes() or [parameters.max_batch_size]:
                run(feeds_of(x, text, size))  # the shapes a batch runs at, warmed
            conn.send({"batched": batched(run, x, text, parameters, clients, requests),
                       "unbatched": unbatched(run, x, text, clients, requests)})
