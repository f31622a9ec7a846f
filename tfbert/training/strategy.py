"""Choosing a `tf.distribute` strategy by name.

`auto` picks what the environment offers: a TPU cluster resolver (`TPU_NAME`), a
multi-worker cluster (`TF_CONFIG`), several GPUs, else one device. Every strategy is used
by the same custom loop (`tfbert.training.trainer`); Keras 3 `fit` does not run under
`MultiWorkerMirroredStrategy`.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from tfbert.training.choices import STRATEGIES


def read_tf_config() -> dict:
    """`TF_CONFIG`, checked: a cluster with a worker list and this process's task in it."""
    raw = os.environ.get("TF_CONFIG", "")
    if not raw.strip():
        raise ValueError("--strategy multiworker needs TF_CONFIG, a JSON object like "
                         '{"cluster": {"worker": ["host1:port", "host2:port"]}, '
                         '"task": {"type": "worker", "index": 0}}; it is not set')
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG: invalid JSON ({err.msg} at character {err.pos})") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError("TF_CONFIG: expected a 'cluster' object mapping job names to "
                         f"host:port lists. Received: {raw[:200]}")
    for job, hosts in cluster.items():
        if not isinstance(hosts, list) or not all(isinstance(h, str) and ":" in h
                                                  for h in hosts):
            raise ValueError(f"TF_CONFIG: cluster[{job!r}] must be a list of 'host:port' "
                             f"strings. Received: {hosts!r}")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise ValueError(f"TF_CONFIG: 'task.type' must name a job of the cluster "
                         f"({sorted(cluster)}). Received: task={task!r}")
    index = task.get("index")
    if not isinstance(index, int) or not 0 <= index < len(cluster[task["type"]]):
        raise ValueError(f"TF_CONFIG: 'task.index' must be 0..{len(cluster[task['type']]) - 1} "
                         f"for job {task['type']!r}. Received: {index!r}")
    return config


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """The strategy called `name` (one of `STRATEGIES`)."""
    if name not in STRATEGIES:
        raise ValueError(f"--strategy must be one of {STRATEGIES}. Received: {name!r}")
    if name == "auto":
        if os.environ.get("TPU_NAME"):
            name = "tpu"
        elif os.environ.get("TF_CONFIG", "").strip():
            name = "multiworker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "one"
    if name == "one":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        # Without GPUs, mirror over the logical CPUs (several when configured, as in tests).
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multiworker":
        read_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=os.environ.get("TPU_NAME", ""))
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError) as err:
        raise ValueError(f"--strategy tpu: no TPU found ({str(err).splitlines()[0]}); set "
                         "TPU_NAME or run on a TPU VM") from None
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes outputs (the only process, or worker 0 / the chief)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def per_replica_batch(strategy, global_batch: int) -> int:
    """Per-replica batch for `global_batch`; it must divide evenly over the replicas."""
    replicas = strategy.num_replicas_in_sync
    if global_batch < 1 or global_batch % replicas:
        raise ValueError(f"--batch-size {global_batch} does not divide over {replicas} "
                         f"replicas; use a multiple of {replicas}")
    return global_batch // replicas
