"""`tfbert pretrain-data --runner ...`: the pre-training data recipe as an Apache Beam
pipeline, for corpora one process would take hours over.

The recipe is the single-process one (`tfbert.data.pretraining`): documents kept whole,
gathered in blocks of `block_documents`, each block tokenized at once and packed into
instances with "random next" segments drawn from other documents of the same block. What
differs is how documents are cut into blocks. Each input file is cut into byte ranges of
`split_mb` megabytes (`tfbert.data.byte_ranges`); a range is one unit of work, its
documents are cut into blocks, and its instances become one shard. So a block never spans
two ranges (the single-process path cuts blocks from the whole stream of documents), and
the random generator of a block is seeded by `(seed, file, range, block)`. The output is a
function of the inputs and the settings only, not of the runner or the number of workers:
the same command on 1 or 100 workers writes byte-identical shards.

Pipeline: ranges -> Reshuffle (spread over workers) -> instances (one worker reads, tokenizes
and packs a range) -> Beam's `WriteToFiles` sink, one file per range, with a TFRecord file
sink -> each written file's SHA-256 and record count. The driver then checks the files
against the instance counts, renames them to `shard-NNNNN.tfrecord` in range order, removes
any shard an earlier run left that is not one of them, and writes `manifest.json` last.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import struct

from tfbert.quiet import import_tensorflow

# Workers import this module to unpickle their functions: TensorFlow loads here, its
# start-up notes held back as in the CLI, before the modules below import it.
import_tensorflow()

from tfbert import textfile  # noqa: E402
from tfbert.data import beam_pipeline
from tfbert.data.byte_ranges import is_remote, plan_splits, split_documents
from tfbert.data.output_store import Store
from tfbert.data.pretraining import (MANIFEST, block_records, check_input_files, read_manifest,
                                     verify_shards)
from tfbert.task import check_max_length

beam = beam_pipeline.import_beam()
# (after the check that Beam is installed)
from apache_beam.io import fileio  # noqa: E402
from apache_beam.io.filesystems import FileSystems  # noqa: E402
from apache_beam.options.value_provider import StaticValueProvider  # noqa: E402

STAGING = ".beam-staging"
SPLIT_MB = 32


def masked_crc(data: bytes) -> int:
    """TFRecord's checksum: CRC-32C, rotated and offset (so a CRC of CRCs is not zero)."""
    import google_crc32c

    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord_frame(data: bytes) -> bytes:
    """One record as a TFRecord file holds it: length, its checksum, data, its checksum."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc(length)) + data + \
        struct.pack("<I", masked_crc(data))


def read_back(f) -> tuple:
    """`(records, bytes, SHA-256)` of an open TFRecord file, in one pass over it (a
    truncated record is an error)."""
    digest, count, size = hashlib.sha256(), 0, 0
    while True:
        header = f.read(12)
        if not header:
            return count, size, digest.hexdigest()
        if len(header) < 12:
            raise ValueError("truncated record header")
        digest.update(header)
        (length,) = struct.unpack("<Q", header[:8])
        remaining = length + 4          # the data and its checksum
        while remaining:
            chunk = f.read(min(remaining, 1 << 20))
            if not chunk:
                raise ValueError("truncated record")
            digest.update(chunk)
            remaining -= len(chunk)
        size += 12 + length + 4
        count += 1


def _key(file_index, split_index) -> str:
    return f"range-{file_index:05d}-{split_index:07d}"


class RangeInstances(beam.DoFn):
    """One byte range -> its serialized instances, a block's at a time `(key, [records])`,
    and one `("counts", (key, documents, instances))` at the end."""

    def __init__(self, vocab, lowercase, seq_len, next_sentence, seed, block_documents,
                 whole_word_masking):
        self.vocab, self.lowercase = list(vocab), lowercase
        self.seq_len, self.next_sentence, self.seed = seq_len, next_sentence, seed
        self.block_documents, self.whole_word_masking = block_documents, whole_word_masking
        self.tokenizer = self.segmenter = None

    def setup(self):
        from tfbert.data.pretraining import _jieba
        from tfbert.tokenization import BertTokenizer

        self.tokenizer = BertTokenizer(self.vocab, lowercase=self.lowercase)
        self.segmenter = _jieba() if self.whole_word_masking else None

    def process(self, split):
        file_index, split_index, path, start, end = split
        key = _key(file_index, split_index)
        documents = instances = 0
        try:
            block, number = [], 0
            for document in split_documents(path, start, end):
                block.append(document)
                if len(block) == self.block_documents:
                    instances += yield from self._block(key, block, file_index, split_index,
                                                        number)
                    documents, block, number = documents + len(block), [], number + 1
            if block:
                instances += yield from self._block(key, block, file_index, split_index,
                                                    number)
                documents += len(block)
        except (ValueError, OSError) as err:   # bad input: one line, through the runner
            raise ValueError(beam_pipeline.WORKER_ERROR + textfile.first_line(err)) from None
        yield beam.pvalue.TaggedOutput("counts", (key, documents, instances))

    def _block(self, key, block, file_index, split_index, number):
        """One element per block, `(key, [records])`: the sink writes a block's records in
        one call (an element per record cost the pipeline a fifth of its time)."""
        rng = random.Random(f"{self.seed}-{file_index}-{split_index}-{number}")
        records = list(block_records(block, self.tokenizer, self.seq_len, self.next_sentence,
                                     rng, self.whole_word_masking, self.segmenter))
        if records:
            yield key, records
        return len(records)


class TFRecordSink(fileio.FileSink):
    """Beam file sink writing each `(key, records)` element's records, TFRecord-framed."""

    def open(self, fh):
        self._fh = fh

    def write(self, element):
        self._fh.write(b"".join(tfrecord_frame(record) for record in element[1]))

    def flush(self):
        self._fh.flush()


def _file_stats(directory, result):
    """SHA-256, size and record count of a file `WriteToFiles` wrote (read back once)."""
    with FileSystems.open(FileSystems.join(directory, result.file_name)) as f:
        records, size, sha256 = read_back(f)
    return json.dumps({"key": result.destination, "file": result.file_name,
                       "sha256": sha256, "bytes": size, "records": records})


def _check_files(files) -> list:
    """Absolute local paths, or URLs; one that is not there is a one-line error."""
    checked = []
    for path in map(os.fspath, files):
        if is_remote(path):
            if not FileSystems.exists(path):
                raise ValueError(f"{path}: no such file")
            checked.append(path)
        else:
            checked.append(os.path.abspath(check_input_files([path])[0]))
    return checked


def _claim(store, settings) -> None:
    """`claim_output_dir` for a local or remote directory."""
    if store.exists("settings.json"):
        previous = store.read_json("settings.json", "the settings of an earlier pretrain-data run")
        if previous != settings:
            raise ValueError(f"{store.root}: holds data made with other settings ({previous}); "
                             "use a new output directory")
    elif [n for n in store.names() if not n.startswith(".")]:
        raise ValueError(f"{store.root}: is not empty and holds no pretrain-data run "
                         "(no settings.json); choose a new or empty output directory")
    else:
        store.write_json("settings.json", settings)


def _finished(store, echo):
    """The manifest of a finished run in `store`, its shards checked (SHA-256 locally,
    sizes remotely), or None (and the manifest removed) if there is none to trust."""
    if not store.exists(MANIFEST):
        return None
    try:
        if store.remote:
            manifest = store.read_json(MANIFEST, "a pretrain-data manifest")
            for shard in manifest["shards"]:
                if store.size(shard["file"]) != shard["bytes"]:
                    raise ValueError(f"{store.path(shard['file'])}: not the size the manifest "
                                     "recorded")
        else:
            manifest = read_manifest(store.root)
            verify_shards(store.root, manifest)
        echo(f"{store.root}: already complete ({manifest['instances']} instances)")
        return manifest
    except (ValueError, KeyError, TypeError, OSError) as err:
        echo(f"{store.root}: the earlier run's output does not check out "
             f"({textfile.first_line(err)}); making it again")
    store.remove(MANIFEST)   # no manifest may vouch for shards being replaced
    return None


def create_pretraining_data_beam(files, out_dir, tokenizer, options, seq_len=128,
                                 next_sentence=True, seed=12345, block_documents=2000,
                                 whole_word_masking=False, split_mb=SPLIT_MB, echo=print):
    """`create_pretraining_data` on Beam (`options`: `beam_pipeline.pipeline_options`).
    Writes `out_dir/shard-NNNNN.tfrecord` and `manifest.json` (last); returns the manifest.
    A finished run's directory is returned as it is; an unfinished one is made again.
    `files` and `out_dir` may be local paths or URLs Beam's file systems read (`gs://`)."""
    check_max_length(seq_len, "--seq-len")
    if not split_mb > 0:
        raise ValueError(f"--split-mb must be positive. Received: {split_mb}")
    files = _check_files(files)
    store = Store(out_dir)
    settings = {"seq_len": seq_len, "next_sentence": next_sentence, "seed": seed,
                "whole_word_masking": whole_word_masking,
                "block_documents": block_documents, "vocab_size": tokenizer.vocab_size,
                "lowercase": tokenizer.lowercase, "files": files,
                "engine": "beam", "split_mb": split_mb}
    _claim(store, settings)
    manifest = _finished(store, echo)
    if manifest:
        return manifest
    store.remove(STAGING)          # what a killed run left
    splits = plan_splits(files, max(1, int(split_mb * 1e6)))
    echo(f"{len(splits)} byte range{'' if len(splits) == 1 else 's'} of at most "
         f"{split_mb:g} MB in {len(files)} file(s)")
    shard_dir = store.path(STAGING, "shards")
    instances = RangeInstances(tokenizer.vocab, tokenizer.lowercase, seq_len, next_sentence,
                               seed, block_documents, whole_word_masking)

    def build(pipeline):
        outputs = (pipeline
                   | "ranges" >> beam.Create(splits)
                   | "spread" >> beam.Reshuffle()
                   | "instances" >> beam.ParDo(instances).with_outputs(
                       "counts", main="records"))
        written = outputs.records | "shards" >> fileio.WriteToFiles(
            shard_dir, destination=lambda element: element[0], sink=lambda _: TFRecordSink(),
            file_naming=fileio.destination_prefix_naming(".tfrecord"),
            temp_directory=StaticValueProvider(str, store.path(STAGING, "tmp")),
            # One file per range and bundle, never spilled to a grouped (in-memory) write.
            max_writers_per_bundle=1 << 20)
        (written | "checksums" >> beam.Map(lambda r: _file_stats(shard_dir, r))
         | "write checksums" >> beam.io.WriteToText(store.path(STAGING, "files"),
                                                     num_shards=1))
        (outputs.counts | "counts json" >> beam.Map(json.dumps)
         | "write counts" >> beam.io.WriteToText(store.path(STAGING, "counts"), num_shards=1))

    # A local run's runner log goes beside the staging files; a remote one's to stderr.
    log = None if store.remote else store.path(STAGING, "runner.log")
    beam_pipeline.run_pipeline(build, options, "pretrain-data", log_path=log)
    return _finish(store, settings, echo)


def _rows(store, prefix) -> list:
    """The JSON lines of the staging files `prefix-*` (Beam's text sink's shards)."""
    return [json.loads(line) for name in store.names(f"{STAGING}/{prefix}-")
            for line in store.lines(name)]


def _finish(store, settings, echo) -> dict:
    """The driver's part after the pipeline: files checked against the instance counts,
    renamed into place in range order, stale shards removed, the manifest written last."""
    counts = {key: (documents, instances) for key, documents, instances
              in _rows(store, "counts")}
    files = {}
    for stat in _rows(store, "files"):
        if stat["key"] in files:
            raise beam_pipeline.PipelineError(
                f"{store.root}: two files for {stat['key']}; the runner wrote a range twice "
                "(re-run to make the data again)")
        files[stat["key"]] = stat
    with_instances = sorted(k for k, (_, n) in counts.items() if n)
    if sorted(files) != with_instances:
        raise beam_pipeline.PipelineError(
            f"{store.root}: the written files ({len(files)}) are not the ranges with "
            f"instances ({len(with_instances)}); re-run")
    shards = []
    for number, key in enumerate(with_instances):
        stat, (documents, instances) = files[key], counts[key]
        if stat["records"] != instances:
            raise beam_pipeline.PipelineError(
                f"{stat['file']}: {stat['records']} records, but {instances} instances were "
                "made for it; re-run")
        shards.append({"file": f"shard-{number:05d}.tfrecord", "instances": instances,
                       "sha256": stat["sha256"], "bytes": stat["bytes"],
                       "documents": documents, "source": stat["file"]})
    if not shards:
        raise ValueError(f"no documents in {settings['files']}")
    keep = {s["file"] for s in shards}
    for name in store.names("shard-"):   # shards of an earlier, different run
        if name not in keep:
            store.remove(name)
    for shard in shards:
        store.rename(store.path(STAGING, "shards", shard.pop("source")), shard["file"])
    # The renamed files are checked before the manifest vouches for them.
    for shard in shards:
        moved = store.size(shard["file"]) == shard["bytes"] if store.remote else \
            store.sha256(shard["file"]) == shard["sha256"]
        if not moved:
            raise beam_pipeline.PipelineError(f"{store.path(shard['file'])}: differs from what "
                                              "the pipeline wrote; re-run")
    manifest = {"settings": settings, "shards": shards,
                "instances": sum(s["instances"] for s in shards),
                "documents": sum(s["documents"] for s in shards)}
    store.write_json(MANIFEST, manifest)
    store.remove(STAGING)
    echo(f"{len(shards)} shards, {manifest['instances']} instances from "
         f"{manifest['documents']} documents")
    return manifest
