"""Runnable tools: benchmarks, golden-value makers, the fault-injection harness and the
mutation suite. Importable as a package (`from tools import mutations`) from the
repository root."""
