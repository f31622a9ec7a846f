"""What `--precision auto` trains in: bfloat16 where the hardware computes it natively,
float32 elsewhere.

Mixed bfloat16 pays only where bfloat16 arithmetic is native: TPUs, NVIDIA GPUs from
compute capability 8.0 (A100, H100), and CPUs with AVX512_BF16 or AMX-BF16 (recent Xeon
and EPYC). On a CPU without them each bfloat16 op is emulated, which halves throughput.
"""

from __future__ import annotations

import os

CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(path="/proc/cpuinfo") -> set:
    """The CPU's feature flags (Linux; an empty set where the file is not there)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _accelerators():
    """`(platform, compute capability or None)` of the devices the backend trains on."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        devices = jax.devices()
        return [(d.platform, getattr(d, "compute_capability", None)) for d in devices]
    import tensorflow as tf

    if os.environ.get("TPU_NAME"):
        return [("tpu", None)]
    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        found.append(("gpu", ".".join(map(str, capability)) if capability else None))
    return found or [("cpu", None)]


def native_bfloat16(devices=None, flags=None) -> tuple[bool, str]:
    """Whether the devices compute bfloat16 natively, and what decided it."""
    devices = _accelerators() if devices is None else devices
    platforms = {p for p, _ in devices}
    if "tpu" in platforms:
        return True, "TPU"
    gpus = [c for p, c in devices if p in ("gpu", "cuda", "rocm")]
    if gpus:
        def major(capability):
            try:
                return int(str(capability).split(".")[0])
            except ValueError:
                return 0
        if all(c is not None and major(c) >= 8 for c in gpus):
            return True, f"GPU compute capability {gpus[0]}"
        return False, f"GPU compute capability {gpus[0]} (bfloat16 needs 8.0 or later)"
    flags = cpu_flags() if flags is None else flags
    have = [f for f in CPU_BF16_FLAGS if f in flags]
    if have:
        return True, f"CPU with {have[0].upper()}"
    return False, "CPU without AVX512_BF16 or AMX-BF16 (bfloat16 would be emulated)"


def resolve(precision: str) -> tuple[str, str]:
    """`(precision, note)`: `auto` becomes bfloat16 or float32 with the reason; any other
    value stays as it is, with no note."""
    if precision != "auto":
        return precision, ""
    native, why = native_bfloat16()
    chosen = "bfloat16" if native else "float32"
    return chosen, f"--precision auto: {chosen} ({why})"
