"""`--precision auto`: bfloat16 only where the hardware computes it natively."""

import pytest

from tfbert.training import precision
from tfbert.training.trainer import TrainSettings

CPU = [("cpu", None)]


@pytest.mark.parametrize("devices, flags, native", [
    (CPU, {"avx2", "avx512f", "avx512_bf16"}, True),     # AMD EPYC (Zen 4), Cooper Lake
    (CPU, {"avx2", "amx_tile", "amx_bf16"}, True),        # Sapphire Rapids
    (CPU, {"avx2", "avx512f", "avx512_vnni"}, False),     # Xeon without bfloat16: emulated
    ([("gpu", "8.0")], set(), True),                      # A100
    ([("gpu", "9.0"), ("gpu", "9.0")], set(), True),      # H100 x2
    ([("gpu", "7.5")], {"avx512_bf16"}, False),           # T4: the GPU decides, not the CPU
    ([("tpu", None)], set(), True),
])
def test_native_bfloat16(devices, flags, native):
    found, why = precision.native_bfloat16(devices, flags)
    assert found is native and why


def test_auto_resolves_on_this_machine_and_says_why():
    settings = TrainSettings(precision="auto")
    native, _ = precision.native_bfloat16()
    assert settings.precision == ("bfloat16" if native else "float32")
    assert settings.precision_note.startswith(f"--precision auto: {settings.precision} (")
    assert settings.identity()["precision"] == settings.precision
    explicit = TrainSettings(precision="float32")
    assert explicit.precision == "float32" and explicit.precision_note == ""


def test_cpu_flags_reads_the_flags_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: X\nflags\t\t: fpu avx2 avx512_bf16\n\n")
    assert precision.cpu_flags(str(info)) == {"fpu", "avx2", "avx512_bf16"}
    assert precision.cpu_flags(str(tmp_path / "absent")) == set()
