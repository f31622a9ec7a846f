"""TF Serving's BatchingParameters text proto: what the export writes parses back, and a
file TF Serving would refuse is a one-line error naming the file."""

import pytest

from tfbert.export import saved_model_batching as batching


def test_written_default_parses_back(tmp_path):
    path = batching.write_batching_parameters(str(tmp_path))
    text = open(path, encoding="utf-8").read()
    assert "max_batch_size {\n  value: 32\n}" in text   # TF Serving's wrapper syntax
    assert batching.read_batching_parameters(path) == batching.BatchingParameters(
        **batching.DEFAULT)


def test_fields_left_out_take_tf_serving_defaults():
    parameters = batching.parse_batching_parameters(
        "max_batch_size { value: 8 } allowed_batch_sizes: 4 allowed_batch_sizes: 8")
    assert parameters.max_batch_size == 8
    assert parameters.batch_timeout_micros == 0 and parameters.max_enqueued_batches == 10
    assert parameters.num_batch_threads >= 1
    assert [parameters.padded_size(n) for n in (1, 4, 5, 8)] == [4, 4, 8, 8]


@pytest.mark.parametrize("text, message", [
    ("max_batch_size: 32", "BatchingParameters text proto"),       # not wrapped
    ("max_batch_sise { value: 32 }", "max_batch_sise"),            # misspelt
    ("max_batch_size { value: 0 }", "max_batch_size must be at least 1. Received: 0"),
    ("batch_timeout_micros { value: -1 }", "batch_timeout_micros must be >= 0"),
    ("max_batch_size { value: 8 } allowed_batch_sizes: 4", "end at max_batch_size (8)"),
])
def test_bad_files_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "batching.txt"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        batching.read_batching_parameters(str(path))
    assert message in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(ValueError, match="missing.txt: cannot read the batching"):
        batching.read_batching_parameters(str(tmp_path / "missing.txt"))
