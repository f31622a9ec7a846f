"""`tfbert pretrain-data FILES... OUT_DIR --vocab V`: sharded pre-training TFRecords."""

import click

from tfbert.cli.beam_options import beam_options, check_without_runner
from tfbert.cli.beam_options import pipeline_options as beam_pipeline_options
from tfbert.task import MAX_LENGTH, MIN_LENGTH


@click.command("pretrain-data")
# (not click.Path(exists=True): with --runner, FILES may be gs:// URLs; checked when run)
@click.argument("files", nargs=-1, required=True)
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--vocab", "vocab", required=True, type=click.Path(exists=True),
              help="vocab.txt or a model directory holding one.")
@click.option("--seq-len", type=click.IntRange(MIN_LENGTH, MAX_LENGTH), default=128,
              show_default=True)
@click.option("--no-nsp", is_flag=True, help="Single segments (MLM only), no next-sentence pairs.")
@click.option("--whole-word-masking", is_flag=True,
              help="Record that training masks whole words (a piece and its ## pieces).")
@click.option("--seed", type=int, default=12345, show_default=True)
@click.option("--cased", is_flag=True, help="With a bare vocab.txt: keep case and accents.")
@beam_options
@click.option("--split-mb", type=click.FloatRange(min=0, min_open=True),
              help="With --runner: each input file is read in byte ranges of this many MB, "
                   "each range a unit of work and one shard  [default: 32]")
def command(files, out_dir, vocab, seq_len, no_nsp, whole_word_masking, seed, cased, runner,
            num_workers, pipeline_options, split_mb):
    """Turn raw text FILES (one sentence per line, a blank line between documents) into
    pre-training instances in OUT_DIR. Re-running the same command skips finished shards
    (with --runner: makes an unfinished run's data again, or reports a finished one)."""
    import os

    from tfbert.data.pretraining import create_pretraining_data
    from tfbert.tokenization import BertTokenizer, load_tokenizer

    tokenizer = BertTokenizer.from_file(vocab, lowercase=not cased) if os.path.isfile(vocab) \
        else load_tokenizer(vocab)
    if runner is None:
        check_without_runner(num_workers=num_workers, pipeline_options=pipeline_options,
                             split_mb=split_mb)
        manifest = create_pretraining_data(
            list(files), out_dir, tokenizer, seq_len=seq_len, next_sentence=not no_nsp,
            seed=seed, whole_word_masking=whole_word_masking, echo=click.echo)
    else:
        options = beam_pipeline_options(runner, num_workers, pipeline_options,
                                        "tfbert-pretrain-data")
        from tfbert.data.beam_pretraining import SPLIT_MB, create_pretraining_data_beam

        manifest = create_pretraining_data_beam(
            list(files), out_dir, tokenizer, options, seq_len=seq_len,
            next_sentence=not no_nsp, seed=seed, whole_word_masking=whole_word_masking,
            split_mb=split_mb or SPLIT_MB, echo=click.echo)
    click.echo(f"{manifest['instances']} instances from {manifest['documents']} documents "
               f"in {len(manifest['shards'])} shards; manifest: {out_dir}/manifest.json")
