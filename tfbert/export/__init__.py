"""Export: TF Serving SavedModels that take raw text, TFLite variants with metadata or an
in-model tokenizer, quantization reports, and predictors over the exported files."""
