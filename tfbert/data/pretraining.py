"""Pre-training data: documents -> segment pairs packed to a sequence length, as sharded
TFRecords with a manifest. Masking is not done here: `tfbert.data.masking` masks afresh
each epoch in tf.data.

Input: text files with one sentence per line and a blank line between documents (what
`tfbert datasets export zh-corpus` writes). Instances follow google-research/bert's
recipe: sentences are gathered up to a target length (shorter with probability 0.1),
split at a random sentence boundary into A and B; half the time B is replaced by text from
another document ("random next"); the pair is trimmed from a random end of the longer side.

Memory is bounded: documents are read in blocks of `block_documents`; each block becomes
one shard, and "random next" text is drawn from the same block. A shard is written under
a temporary name and renamed when complete, so a re-run skips finished shards and never
sees a truncated one; `manifest.json` is written last.
"""

from __future__ import annotations

import os
import random
import re
import sys

import tensorflow as tf

from tfbert import textfile
from tfbert.atomic import atomic_file, sha256_file, write_json
from tfbert.task import MAX_LENGTH, MIN_LENGTH, check_max_length
from tfbert.tokenization.cjk import is_cjk

MANIFEST = "manifest.json"
DONE_FILE = "shards.json"


def read_documents(files, warn=None):
    """Yields documents (lists of sentences) from the files, streaming. `warn(message)` is
    told of a file of several lines without a blank one: it is read as one document."""
    for path in files:
        document, lines, documents = [], 0, 0
        for line in textfile.lines(path):
            line = line.strip()
            if line:
                document.append(line)
                lines += 1
            elif document:
                yield document
                document, documents = [], documents + 1
        if document:
            yield document
            documents += 1
        if documents == 1 and lines > 1 and warn:
            warn(f"{path}: no blank line between its {lines} lines, so they are one document; "
                 "documents are separated by blank lines")


def _blocks(files, block_documents, warn=None):
    block = []
    for document in read_documents(files, warn):
        block.append(document)
        if len(block) == block_documents:
            yield block
            block = []
    if block:
        yield block


def _trim_pair(a, b, max_tokens, rng):
    """google-research/bert's truncate_seq_pair: cut the longer side, front or back."""
    while len(a) + len(b) > max_tokens:
        longer = a if len(a) > len(b) else b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def make_instances(documents, seq_len, rng, next_sentence=True, short_seq_prob=0.1):
    """`documents`: lists of sentences, each a list of token ids. Yields
    `(first, second, is_random_next)`; `second` is empty without next-sentence pairs."""
    max_tokens = seq_len - (3 if next_sentence else 2)
    for index, document in enumerate(documents):
        target = max_tokens if rng.random() >= short_seq_prob else rng.randint(2, max_tokens)
        chunk, length, i = [], 0, 0
        while i < len(document):
            chunk.append(document[i])
            length += len(document[i])
            i += 1
            if i < len(document) and length < target:
                continue
            if not next_sentence:
                first = [t for s in chunk for t in s][:max_tokens]
                if first:
                    yield first, [], False
                chunk, length = [], 0
                continue
            split = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
            first = [t for s in chunk[:split] for t in s]
            random_next = len(chunk) == 1 or rng.random() < 0.5
            if random_next and len(documents) > 1:
                other = index
                while other == index:
                    other = rng.randrange(len(documents))
                pool = documents[other]
                second = []
                for sentence in pool[rng.randrange(len(pool)):]:
                    second.extend(sentence)
                    if len(second) >= target - len(first):
                        break
                # The sentences after the split were not used: they start the next chunk.
                i -= len(chunk) - split
            else:
                random_next = False
                second = [t for s in chunk[split:] for t in s]
            _trim_pair(first, second, max_tokens, rng)
            if first and second:
                yield first, second, random_next
            chunk, length = [], 0


def _feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def _serialize(first, second, random_next, cls_id, sep_id):
    """`first`/`second`: lists of token ids, or of `(id, starts_word)` pairs when whole-word
    boundaries travel with the data."""
    pairs = bool(first) and isinstance(first[0], tuple)
    if pairs:
        (first, first_starts), (second, second_starts) = (
            (list(z) for z in zip(*part)) if part else ([], []) for part in (first, second))
    token_ids = [cls_id] + first + [sep_id] + (second + [sep_id] if second else [])
    segment_ids = [0] * (len(first) + 2) + [1] * (len(second) + 1 if second else 0)
    features = {"token_ids": _feature(token_ids), "segment_ids": _feature(segment_ids),
                "next_sentence_label": _feature([int(random_next)])}
    if pairs:
        starts = [1] + first_starts + [1] + (second_starts + [1] if second else [])
        features["word_starts"] = _feature(starts)
    example = tf.train.Example(features=tf.train.Features(feature=features))
    # deterministic: the same map order in every process, so shards are identical files.
    return example.SerializeToString(deterministic=True)


def word_starts(sentences, tokenizer, segmenter=None):
    """Per sentence, `[(id, starts_word)]`: a piece starts a word unless it is a `##`
    piece, or a CJK character inside a word of `segmenter` (jieba's `cut` when installed;
    without it every CJK character is a word, the fallback of Chinese whole-word masking).
    """
    ids, starts, _ = tokenizer.tokenize_with_offsets(tf.constant(sentences))
    out = []
    for sentence, row, row_starts in zip(sentences, ids.to_list(), starts.to_list()):
        boundaries = None
        if segmenter is not None:
            boundaries, position = set(), 0
            for word in segmenter(sentence):
                boundaries.add(position)
                position += len(word)
        flags = []
        for token, start in zip(row, row_starts):
            piece = tokenizer.vocab[token]
            if piece.startswith("##"):
                flags.append(0)
            elif boundaries is not None and start < len(sentence) and is_cjk(sentence[start]):
                flags.append(int(start in boundaries))
            else:
                flags.append(1)
        out.append(list(zip(row, flags)))
    return out


def _jieba():
    try:
        import jieba
    except ImportError:
        return None
    jieba.setLogLevel(60)
    return lambda text: list(jieba.cut(text))


def block_records(block, tokenizer, seq_len, next_sentence, rng, whole_word_masking=False,
                  segmenter=None):
    """The serialized instances of one block of documents (lists of sentences), in order:
    the block is tokenized in one call, then packed (`make_instances`) with `rng`, which
    also draws the "random next" text from the block's other documents."""
    sentences = [s for document in block for s in document]
    if not sentences:
        return
    if whole_word_masking:
        ids = word_starts(sentences, tokenizer, segmenter)
    else:
        ids = tokenizer.tokenize(tf.constant(sentences)).to_list()
    it = iter(ids)
    documents = [[next(it) for _ in document] for document in block]
    documents = [[s for s in d if s] for d in documents]
    documents = [d for d in documents if d]
    for first, second, random_next in make_instances(documents, seq_len, rng, next_sentence):
        yield _serialize(first, second, random_next, tokenizer.cls_id, tokenizer.sep_id)


def claim_output_dir(out_dir, settings) -> None:
    """Makes `out_dir` this run's (its `settings.json`), or checks that an earlier run with
    the same settings made it: a re-run finishes the data, it never mixes two recipes."""
    settings_path = os.path.join(out_dir, "settings.json")
    if os.path.isfile(settings_path):
        previous = textfile.read_json(settings_path, "the settings of an earlier pretrain-data run")
        if previous != settings:
            raise ValueError(f"{out_dir}: holds data made with other settings ({previous}); "
                             "use a new output directory")
    elif [n for n in os.listdir(out_dir) if not n.startswith(".")]:
        raise ValueError(f"{out_dir}: is not empty and holds no pretrain-data run "
                         "(no settings.json); choose a new or empty output directory")
    else:
        write_json(settings_path, settings)


def check_input_files(files) -> list:
    """The input paths as strings; a missing one is a one-line error."""
    files = [os.fspath(f) for f in files]
    for path in files:
        if os.path.isdir(path):
            raise ValueError(f"{path}: is a directory; expected a text file (one sentence per "
                             "line, a blank line between documents)")
        if not os.path.isfile(path):
            raise ValueError(f"{path}: no such file")
    return files


def create_pretraining_data(files, out_dir, tokenizer, seq_len=128, next_sentence=True,
                            seed=12345, block_documents=2000, whole_word_masking=False,
                            echo=print, warn=None):
    """Writes `out_dir/shard-00000.tfrecord` ... and `manifest.json`. Returns the manifest.
    `echo` reports progress; `warn` (default: a line on stderr) what looks wrong in the input."""
    check_max_length(seq_len, "--seq-len")
    files = check_input_files(files)
    os.makedirs(out_dir, exist_ok=True)
    settings = {"seq_len": seq_len, "next_sentence": next_sentence, "seed": seed,
                "whole_word_masking": whole_word_masking,
                "block_documents": block_documents, "vocab_size": tokenizer.vocab_size,
                "lowercase": tokenizer.lowercase, "files": [os.path.abspath(f) for f in files]}
    claim_output_dir(out_dir, settings)
    segmenter = _jieba() if whole_word_masking else None
    if whole_word_masking:
        echo("whole-word boundaries: " + ("jieba words for Chinese" if segmenter else
                                          "## pieces; Chinese by character (jieba not installed)"))
    # Shards finished so far, with their SHA-256: a re-run reuses a shard only if it is
    # still the file that was written (a shard cut short by a full disk or a copy is made
    # again; each shard's instances depend only on the seed and its documents).
    done_path = os.path.join(out_dir, DONE_FILE)
    done = textfile.read_json(done_path, "the shards finished so far") \
        if os.path.isfile(done_path) else {}
    shards = []
    warn = warn or (lambda message: print(f"warning: {message}", file=sys.stderr))
    for number, block in enumerate(_blocks(files, block_documents, warn)):
        name = f"shard-{number:05d}.tfrecord"
        path = os.path.join(out_dir, name)
        record = done.get(name)
        if _complete(record, name) and os.path.isfile(path) and \
                sha256_file(path) == record["sha256"]:
            shards.append(record)
            echo(f"{name}: already complete ({record['instances']} instances)")
            continue
        if os.path.isfile(path):
            echo(f"{name}: not the file that was written (SHA-256 differs); making it again")
        rng = random.Random(f"{seed}-{number}")
        count = 0
        with atomic_file(path) as staging:
            try:
                with tf.io.TFRecordWriter(staging) as writer:
                    for record in block_records(block, tokenizer, seq_len, next_sentence, rng,
                                                whole_word_masking, segmenter):
                        writer.write(record)
                        count += 1
            except tf.errors.OpError as err:  # a full disk, a size limit
                raise OSError(f"{path}: cannot write the shard "
                              f"({textfile.first_line(err)})") from None
        record = {"file": name, "instances": count, "sha256": sha256_file(path),
                  "documents": len(block)}
        done[name] = record
        write_json(done_path, done)
        shards.append(record)
        echo(f"{name}: {count} instances from {len(block)} documents")
    if not shards:
        raise ValueError(f"no documents in {files}")
    manifest = {"settings": settings, "shards": shards,
                "instances": sum(s["instances"] for s in shards),
                "documents": sum(s["documents"] for s in shards)}
    write_json(os.path.join(out_dir, MANIFEST), manifest)
    return manifest


def _complete(record, name) -> bool:
    """Whether `record` (from shards.json) describes a finished shard `name`."""
    return isinstance(record, dict) and record.get("file") == name and \
        isinstance(record.get("sha256"), str) and \
        all(isinstance(record.get(k), int) for k in ("instances", "documents"))


_SHARD_NAME = re.compile(r"shard-\d{5}\.tfrecord")


def read_manifest(out_dir) -> dict:
    """The `manifest.json` of a finished `pretrain-data` directory, checked field by field:
    shards are plain `shard-NNNNN.tfrecord` names inside `out_dir` with counts and SHA-256."""
    path = os.path.join(out_dir, MANIFEST)
    if not os.path.isfile(path):
        raise ValueError(f"{out_dir}: no {MANIFEST}; the data is incomplete (re-run "
                         "tfbert pretrain-data to finish it)")
    manifest = textfile.read_json(path, "a pretrain-data manifest (an object)")
    settings, shards = manifest.get("settings"), manifest.get("shards")
    if not isinstance(settings, dict) or not isinstance(shards, list) or not shards:
        raise ValueError(f"{path}: expected 'settings' (an object) and 'shards' (a non-empty "
                         "list)")
    for key, kind in (("seq_len", int), ("vocab_size", int), ("next_sentence", bool),
                      ("whole_word_masking", bool)):
        value = settings.get(key, False if key == "whole_word_masking" else None)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"{path}: settings.{key} must be a {kind.__name__}")
    # Bounds: batches are padded to seq_len, so a hostile value would size every batch.
    if not MIN_LENGTH <= settings["seq_len"] <= MAX_LENGTH or settings["vocab_size"] < 1:
        raise ValueError(f"{path}: settings.seq_len must be {MIN_LENGTH} to {MAX_LENGTH} and "
                         "settings.vocab_size positive")
    for number, shard in enumerate(shards):
        if not (isinstance(shard, dict) and isinstance(shard.get("file"), str)
                and _SHARD_NAME.fullmatch(shard["file"])
                and isinstance(shard.get("instances"), int)
                and isinstance(shard.get("sha256"), str)):
            raise ValueError(f"{path}: shards[{number}] must have 'file' (shard-NNNNN.tfrecord), "
                             "'instances' and 'sha256'")
    if manifest.get("instances") != sum(s["instances"] for s in shards):
        raise ValueError(f"{path}: 'instances' is not the sum of the shards' instances")
    return manifest


def check_vocab_size(out_dir, manifest, vocab_size, vocabulary, data_flag="") -> None:
    """The one check that `vocabulary` (its name for the message, e.g. "--vocab v.txt"),
    of `vocab_size` tokens, is the one the data in `out_dir` was made with: the ids in the
    shards index it."""
    made = manifest["settings"]["vocab_size"]
    if made != vocab_size:
        raise ValueError(f"{data_flag}{out_dir}: was made with a vocabulary of {made} tokens, "
                         f"but {vocabulary} has {vocab_size}; expected the vocab.txt the data "
                         "was made with")


def verify_shards(out_dir, manifest) -> None:
    """Every shard is there and is the file `pretrain-data` wrote (SHA-256), so a truncated
    or replaced shard stops training before its first step, not in the middle."""
    verify_shard_files(out_dir, manifest, "tfbert pretrain-data")


def verify_shard_files(out_dir, manifest, command, flag="") -> None:
    """The check `verify_shards` makes, for any directory of shards a `command` wrote with
    a `manifest.json` listing each `file` and its `sha256`. `flag` (e.g. "--train "): names
    the directory in the message, else each shard's path does."""
    for shard in manifest["shards"]:
        path = os.path.join(out_dir, shard["file"])
        # "--train DIR: FILE is missing" / "DIR/FILE: missing"
        where = f"{flag}{out_dir}: {shard['file']} " if flag else f"{path}: "
        if not os.path.isfile(path):
            raise ValueError(f"{where}{'is ' if flag else ''}missing; {MANIFEST} lists it "
                             f"(re-run {command})")
        if sha256_file(path) != shard["sha256"]:
            raise ValueError(f"{where}differs from what {MANIFEST} recorded (SHA-256): "
                             f"truncated or changed since {command} wrote it; re-run "
                             f"{command} into a new directory")


def load_pretraining_dataset(out_dir):
    """The instances of a finished `pretrain-data` directory as a `tf.data.Dataset` of
    dicts with ragged-free int32 `token_ids`, `segment_ids` (variable length) and
    `next_sentence_label`."""
    manifest = read_manifest(out_dir)
    paths = [os.path.join(out_dir, s["file"]) for s in manifest["shards"]]
    spec = {"token_ids": tf.io.VarLenFeature(tf.int64),
            "segment_ids": tf.io.VarLenFeature(tf.int64),
            "next_sentence_label": tf.io.FixedLenFeature([1], tf.int64)}
    whole_word = manifest["settings"].get("whole_word_masking", False)
    if whole_word:
        spec["word_starts"] = tf.io.VarLenFeature(tf.int64)

    def parse(record):
        parsed = tf.io.parse_single_example(record, spec)
        out = {"token_ids": tf.cast(tf.sparse.to_dense(parsed["token_ids"]), tf.int32),
               "segment_ids": tf.cast(tf.sparse.to_dense(parsed["segment_ids"]), tf.int32),
               "next_sentence_label": tf.cast(parsed["next_sentence_label"][0], tf.int32)}
        if whole_word:
            out["word_starts"] = tf.cast(tf.sparse.to_dense(parsed["word_starts"]), tf.bool)
        return out

    return tf.data.TFRecordDataset(paths).map(parse), manifest

