"""Export bounds the CLI checks before TensorFlow loads (`tfbert export --help` shows them)."""

# Full int8 quantization calibrates on at least this many training texts.
MIN_CALIBRATION = 32
