"""`pretrain-data --runner`: the Beam pipeline's shards against the single-process path's,
1 worker against 2, byte ranges that keep documents whole, re-runs and bad input."""

import json
import os
import random
import subprocess
import sys

import pytest
import tensorflow as tf
from click.testing import CliRunner

pytest.importorskip("apache_beam")

from tfbert.cli.main import cli  # noqa: E402
from tfbert.data import beam_pipeline  # noqa: E402
from tfbert.data.beam_pretraining import (create_pretraining_data_beam, read_back,  # noqa: E402
                                          tfrecord_frame)
from tfbert.data.byte_ranges import plan_splits, split_documents  # noqa: E402
from tfbert.data.masking import masked_batches  # noqa: E402
from tfbert.data.pretraining import (create_pretraining_data, load_pretraining_dataset,  # noqa: E402
                                     read_documents)
from tfbert.tokenization import BertTokenizer  # noqa: E402

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(40)] + \
    [f"##s{i}" for i in range(10)]
QUIET = lambda *_: None  # noqa: E731


def _write_corpus(path, documents=80, seed=0):
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(documents):
            for _ in range(rng.randint(1, 6)):
                f.write(" ".join(f"w{rng.randrange(40)}" for _ in range(rng.randint(3, 15)))
                        + "\n")
            f.write("\n")
    return path


@pytest.fixture
def corpus(tmp_path):
    return _write_corpus(tmp_path / "corpus.txt")


@pytest.fixture
def vocab(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(WORDS) + "\n")
    return str(path)


def _options(workers=None, extra=None):
    return beam_pipeline.pipeline_options("direct", workers, extra)


def _run(corpus, out, workers=None, **kwargs):
    return create_pretraining_data_beam([corpus], out, BertTokenizer(WORDS), _options(workers),
                                        seq_len=32, block_documents=10, split_mb=0.0005,
                                        echo=QUIET, **kwargs)


def test_byte_ranges_read_every_document_once_and_whole(tmp_path):
    """Any range size, blank lines of spaces or ideographic spaces, CRLF, a byte-order
    mark: the ranges' documents, in order, are the whole-file reader's."""
    rng = random.Random(0)
    for trial in range(60):
        text = "\ufeff" if rng.random() < 0.3 else ""
        for _ in range(rng.randint(0, 10)):
            text += "\n".join(rng.choice(["a", "bb 中文", "  c ", "d\r", "e" * rng.randint(1, 30)])
                              for _ in range(rng.randint(1, 4)))
            text += rng.choice(["\n\n", "\n \n", "\n\u3000\n", "\n\n\n", "\r\n\r\n"])
        path = tmp_path / f"c{trial}.txt"
        path.write_text(text, encoding="utf-8", newline="")
        expected = list(read_documents([path]))
        for size in (1, 2, 3, 7, 16, 1000):
            got = [d for _, _, p, start, end in plan_splits([path], size)
                   for d in split_documents(p, start, end)]
            assert got == expected, (trial, size)


def test_tfrecord_frames_are_what_tensorflow_writes(tmp_path):
    records = [b"", b"x", os.urandom(3000)]
    path = str(tmp_path / "tf.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)
    with open(path, "rb") as f:
        assert f.read() == b"".join(tfrecord_frame(r) for r in records)
    with open(path, "rb") as f:
        assert read_back(f)[0] == 3


def test_beam_shards_train_like_single_process_ones_and_do_not_depend_on_workers(
        corpus, tmp_path):
    one = _run(corpus, tmp_path / "one")
    two = _run(corpus, tmp_path / "two", workers=2)
    # Byte-identical shards whatever the number of workers.
    assert [(s["file"], s["sha256"]) for s in one["shards"]] == \
        [(s["file"], s["sha256"]) for s in two["shards"]]
    assert len(one["shards"]) > 3
    single = create_pretraining_data([corpus], tmp_path / "single", BertTokenizer(WORDS),
                                     seq_len=32, block_documents=10, echo=QUIET)
    assert one["documents"] == single["documents"] == 80
    assert abs(one["instances"] - single["instances"]) <= 0.15 * single["instances"]
    beam_data, _ = load_pretraining_dataset(tmp_path / "one")
    single_data, _ = load_pretraining_dataset(tmp_path / "single")
    assert beam_data.element_spec == single_data.element_spec
    rows = list(beam_data.as_numpy_iterator())
    assert len(rows) == one["instances"]
    for row in rows:
        assert row["token_ids"][0] == 2 and row["token_ids"][-1] == 3   # [CLS] ... [SEP]
        assert len(row["token_ids"]) <= 32 and len(row["segment_ids"]) == len(row["token_ids"])
    batches, _ = masked_batches(str(tmp_path / "one"), WORDS, 4, seed=0, epoch=0)
    inputs, targets = next(iter(batches))
    assert inputs["token_ids"].shape == (4, 32)
    # Every sentence of the corpus is in the data (none lost at a range's edge).
    tokens = {t for row in rows for t in row["token_ids"].tolist()}
    assert tokens >= {WORDS.index(w) for w in
                      {w for line in open(corpus) for w in line.split()}}


def test_rerun_reports_a_finished_run_and_remakes_an_unfinished_one(corpus, tmp_path):
    out = tmp_path / "out"
    first = _run(corpus, out)
    messages = []
    again = create_pretraining_data_beam([corpus], out, BertTokenizer(WORDS), _options(),
                                         seq_len=32, block_documents=10, split_mb=0.0005,
                                         echo=messages.append)
    assert again == first and any("already complete" in m for m in messages)
    # A killed run: no manifest, a stray shard, a half-written staging directory.
    os.remove(out / "manifest.json")
    (out / "shard-00999.tfrecord").write_bytes(b"left by a killed run")
    (out / ".beam-staging" / "shards").mkdir(parents=True)
    with open(out / "shard-00000.tfrecord", "ab") as f:
        f.write(b"torn")
    remade = _run(corpus, out)
    assert remade == first
    names = sorted(n for n in os.listdir(out) if n.startswith("shard-"))
    assert names == [s["file"] for s in first["shards"]]
    assert not (out / ".beam-staging").exists()


def test_bad_input_and_options_are_one_line_errors(corpus, vocab, tmp_path):
    runner = CliRunner()
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x7fELF\x00\x01\x02\n\n" * 10)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("first line\n\ncaf\u00e9 au lait\n\n".encode("latin-1"))
    cases = [
        ([str(binary)], ["--runner", "direct"], f"{binary}: the line at byte 1: holds a NUL"),
        ([str(latin)], ["--runner", "direct"], f"{latin}: the line at byte 13: not UTF-8"),
        ([str(corpus)], ["--runner", "nosuch"], "--runner nosuch: cannot be used here"),
        ([str(corpus)], ["--runner", "direct", "--pipeline-options", "--no_such_flag=1"],
         "--pipeline-options: Beam does not know --no_such_flag"),
        ([str(corpus)], ["--runner", "direct", "--pipeline-options",
                         "--direct_num_workers=two"], "--pipeline-options: Beam rejects the options"),
        ([str(corpus)], ["--num-workers", "2"], "Invalid value: --num-workers goes with --runner"),
    ]
    for number, (files, flags, expected) in enumerate(cases):
        result = runner.invoke(cli, ["pretrain-data", *files, str(tmp_path / f"o{number}"),
                                     "--vocab", vocab, "--seq-len", "32", *flags])
        assert result.exit_code == 2, (flags, result.output)
        lines = [line for line in result.output.splitlines() if line.startswith("Error")]
        assert len(lines) == 1 and lines[0].startswith("Error: " + expected), result.output


def test_without_runner_beam_is_not_imported_and_a_missing_beam_is_one_line(
        corpus, vocab, tmp_path):
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from tfbert.cli.main import cli\n"
        f"r = CliRunner().invoke(cli, ['pretrain-data', {str(corpus)!r}, {str(tmp_path / 'a')!r},"
        f" '--vocab', {vocab!r}, '--seq-len', '32'])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'apache_beam' not in sys.modules\n"
        "sys.modules['apache_beam'] = None\n"   # as if the beam extra were not installed
        f"r = CliRunner().invoke(cli, ['pretrain-data', {str(corpus)!r}, {str(tmp_path / 'b')!r},"
        f" '--vocab', {vocab!r}, '--runner', 'direct'])\n"
        "assert r.exit_code == 2 and \"pip install 'tfbert-keras[beam]'\" in r.output, r.output\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_cli_runs_the_pipeline(corpus, vocab, tmp_path):
    result = CliRunner().invoke(cli, ["pretrain-data", str(corpus), str(tmp_path / "c"),
                                      "--vocab", vocab, "--seq-len", "32", "--runner", "direct",
                                      "--split-mb", "0.001"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert manifest["settings"]["engine"] == "beam" and manifest["documents"] == 80


_KEEP = []


class _FakeBucket:
    """An object store (`fakegs://`, no directories, as Cloud Storage) kept in a local
    directory, registered with Beam's file systems for the test below."""

    @staticmethod
    def register(root):
        from apache_beam.io.filesystem import FileMetadata
        from apache_beam.io.localfilesystem import LocalFileSystem

        class FakeBucketFileSystem(LocalFileSystem):
            @classmethod
            def scheme(cls):
                return "fakegs"

            def _local(self, url):
                return os.path.join(root, url[len("fakegs://"):])

            def _url(self, path):
                return "fakegs://" + os.path.relpath(path, root)

            def join(self, basepath, *paths):
                return "/".join([basepath.rstrip("/")] + [p.strip("/") for p in paths])

            def split(self, path):
                head, _, tail = path.rpartition("/")
                return head, tail

            def mkdirs(self, path):
                pass

            def has_dirs(self):
                return False

            def _list(self, prefix):
                for directory, _, files in os.walk(root):
                    for name in files:
                        url = self._url(os.path.join(directory, name))
                        if url.startswith(prefix):
                            local = os.path.join(directory, name)
                            yield FileMetadata(url, os.path.getsize(local),
                                               os.path.getmtime(local))

            def create(self, path, *args, **kwargs):
                os.makedirs(os.path.dirname(self._local(path)), exist_ok=True)
                return super().create(self._local(path), *args, **kwargs)

            def open(self, path, *args, **kwargs):
                return super().open(self._local(path), *args, **kwargs)

            def rename(self, sources, destinations):
                for destination in destinations:
                    os.makedirs(os.path.dirname(self._local(destination)), exist_ok=True)
                super().rename([self._local(s) for s in sources],
                               [self._local(d) for d in destinations])

            def copy(self, sources, destinations):
                super().copy([self._local(s) for s in sources],
                             [self._local(d) for d in destinations])

            # (os directly: LocalFileSystem's own methods call these on local paths)
            def exists(self, path):
                return os.path.exists(self._local(path))

            def size(self, path):
                return os.path.getsize(self._local(path))

            def last_updated(self, path):
                return os.path.getmtime(self._local(path))

            def checksum(self, path):
                return str(os.path.getsize(self._local(path)))

            def metadata(self, path):
                local = self._local(path)
                if not os.path.exists(local):
                    from apache_beam.io.filesystem import BeamIOError

                    raise BeamIOError(f"Path does not exist: {path}")
                return FileMetadata(path, os.path.getsize(local), os.path.getmtime(local))

            def delete(self, paths):
                for path in paths:   # (no empty "directories" stay, as in a bucket)
                    os.remove(self._local(path))
                    parent = os.path.dirname(self._local(path))
                    while parent != root and not os.listdir(parent):
                        os.rmdir(parent)
                        parent = os.path.dirname(parent)

        return FakeBucketFileSystem


def test_inputs_and_output_in_an_object_store(corpus, tmp_path):
    """gs://-style URLs go through Beam's file systems (here a local stand-in for a
    bucket): same shards as a local run, a re-run checks sizes and reports it finished."""
    bucket = tmp_path / "bucket"
    (bucket / "corpus").mkdir(parents=True)
    (bucket / "corpus" / "part-0.txt").write_bytes(open(corpus, "rb").read())
    _KEEP.append(_FakeBucket.register(str(bucket)))   # (Beam finds it among live subclasses)
    local = _run(corpus, tmp_path / "local")
    remote = _run("fakegs://corpus/part-0.txt", "fakegs://data/zh")
    assert [(s["file"], s["sha256"]) for s in remote["shards"]] == \
        [(s["file"], s["sha256"]) for s in local["shards"]]
    # Objects, that is files: the stand-in's empty directories are not objects.
    names = sorted(os.path.relpath(os.path.join(d, n), bucket / "data" / "zh")
                   for d, _, files in os.walk(bucket / "data" / "zh") for n in files)
    assert names == ["manifest.json", "settings.json"] + [s["file"] for s in local["shards"]]
    messages = []
    again = create_pretraining_data_beam(
        ["fakegs://corpus/part-0.txt"], "fakegs://data/zh", BertTokenizer(WORDS), _options(),
        seq_len=32, block_documents=10, split_mb=0.0005, echo=messages.append)
    assert again == remote and any("already complete" in m for m in messages)
