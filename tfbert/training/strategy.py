"""Choosing a `tf.distribute` strategy (or, on Keras's JAX backend, a
`keras.distribution.DataParallel`) by name.

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


class JaxDataParallel:
    """What the training loop needs of a strategy, on Keras's JAX backend:
    `keras.distribution.DataParallel` over `devices` (set as Keras's distribution, so the
    variables built next are replicated and each batch is split over the devices by rows).
    Several processes (hosts) form one run when `keras.distribution.initialize` has
    joined them; process 0 is the chief."""

    def __init__(self, devices, kind):
        import keras

        self.devices = devices
        self.kind = kind
        self.distribution = keras.distribution.DataParallel(devices=devices)
        keras.distribution.set_distribution(self.distribution)
        self.num_replicas_in_sync = len(devices)

    def scope(self):
        import contextlib

        return contextlib.nullcontext()

    @property
    def chief(self) -> bool:
        import jax

        return jax.process_index() == 0

    def describe(self) -> str:
        import jax

        kinds = sorted({d.platform for d in self.devices})
        hosts = jax.process_count()
        return (f"{len(self.devices)} {'/'.join(kinds)} device(s)"
                + (f" on {hosts} hosts" if hosts > 1 else "")
                + f", keras.distribution.DataParallel ({self.kind})")


# Multi-host JAX runs: the variables `keras.distribution.initialize` reads.
JAX_CLUSTER_VARIABLES = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES",
                         "KERAS_DISTRIBUTION_PROCESS_ID")


def _jax_strategy(name: str) -> JaxDataParallel:
    import jax
    import keras

    cluster = [v for v in JAX_CLUSTER_VARIABLES if os.environ.get(v, "").strip()]
    if name == "multiworker" and len(cluster) < len(JAX_CLUSTER_VARIABLES):
        missing = [v for v in JAX_CLUSTER_VARIABLES if v not in cluster]
        raise ValueError("--strategy multiworker on the JAX backend joins the hosts with "
                         f"keras.distribution.initialize; set {', '.join(missing)} "
                         "(TF_CONFIG is tf.distribute's)")
    if name in ("auto", "multiworker") and cluster:
        # (Before JAX starts its backends.) CPU hosts exchange arrays through Gloo; GPUs
        # and TPUs through their own collectives, which this setting does not touch.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        keras.distribution.initialize()
    if name == "tpu":
        try:
            devices = jax.devices("tpu")
        except RuntimeError:
            raise ValueError("--strategy tpu: JAX finds no TPU; run on a TPU VM with "
                             "jax[tpu] installed") from None
    elif name == "one":
        devices = jax.local_devices()[:1]
    elif name == "mirrored":
        devices = jax.local_devices()
    else:
        devices = jax.devices()
    return JaxDataParallel(devices, name)


def make_strategy(name: str = "auto"):
    """The strategy called `name` (one of `STRATEGIES`): a `tf.distribute.Strategy` on the
    TensorFlow backend; on the JAX backend a `JaxDataParallel` (`one`: the first device,
    `mirrored`: this host's devices, `auto`: every device of every host, `multiworker`:
    the hosts that `KERAS_DISTRIBUTION_*` name, `tpu`: the TPU cores)."""
    if name not in STRATEGIES:
        raise ValueError(f"--strategy must be one of {STRATEGIES}. Received: {name!r}")
    import keras

    if keras.backend.backend() == "jax":
        return _jax_strategy(name)
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


def describe(strategy) -> str:
    """Which backend and devices a run trains on, for its first line."""
    import keras

    if isinstance(strategy, JaxDataParallel):
        return f"Keras backend jax, {strategy.describe()}"
    devices = sorted(getattr(strategy.extended, "worker_devices", ()) or ())
    return (f"Keras backend {keras.backend.backend()}, {type(strategy).__name__} over "
            f"{strategy.num_replicas_in_sync} replica(s)"
            + (f" ({', '.join(devices)})" if devices else ""))


def is_chief(strategy) -> bool:
    """Whether this process writes outputs (the only process, or worker 0 / the chief)."""
    if isinstance(strategy, JaxDataParallel):
        return strategy.chief
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
