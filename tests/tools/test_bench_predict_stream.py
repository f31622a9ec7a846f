"""tools/bench_predict_stream.py: its inputs (default tier), and one run on tiny sizes
(slow: two `tfbert predict` processes)."""

import json

import pytest

from tfbert.tokenization.bert_tokenizer import SPECIAL_TOKENS
from tools import bench_predict_stream as bench


def test_inputs_are_short_real_lines_repeated(tmp_path):
    texts = bench.sentences(max_chars=40)
    assert len(texts) > 1000 and max(map(len, texts)) <= 40 and all(t.strip() for t in texts)
    size = bench.write_lines(tmp_path / "in.txt", texts[:3], 7)
    lines = (tmp_path / "in.txt").read_text(encoding="utf-8").splitlines()
    assert lines == (texts[:3] * 3)[:7] and size == (tmp_path / "in.txt").stat().st_size
    vocab = bench.vocabulary(texts[:50], words=10)
    assert vocab[:len(SPECIAL_TOKENS)] == list(SPECIAL_TOKENS)
    assert len(vocab) == len(set(vocab)) and all("##" + c in vocab for c in texts[0].lower()
                                                  if not c.isspace())


def test_cpu_names_the_model_and_the_vector_flags():
    machine = bench.cpu()
    assert machine["model"] and machine["cores"] >= 1
    assert all(f.startswith(("avx2", "avx512", "amx")) for f in machine["flags"])


@pytest.mark.slow
def test_a_run_on_tiny_sizes_writes_the_json(tmp_path):
    result = bench.main(["--small", "30", "--large", "90", "--json", str(tmp_path / "b.json"),
                         "--workdir", str(tmp_path / "work")])
    written = json.loads((tmp_path / "b.json").read_text())
    assert written["peak_rss_ratio"] == pytest.approx(result["peak_rss_ratio"])
    assert [r["lines"] for r in written["rows"]] == [30, 90]
    assert all(r["peak_rss_mb"] > 50 and r["lines_per_s"] > 0 for r in written["rows"])
    assert written["cpu"]["model"] and "flags" in written["cpu"]
