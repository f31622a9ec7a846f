"""Export, each side named by format: `saved_model*.py` (TF Serving SavedModels that take raw
text: driver, signatures, task graph ops, op checks) and `tflite*.py` (TFLite variants with
metadata or an in-model tokenizer: driver, graph, conversion and quantization, metadata,
quantization report, packed files). Predictors over the exported files are `tfbert.predict`."""
