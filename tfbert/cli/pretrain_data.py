"""`tfbert pretrain-data FILES... OUT_DIR --vocab V`: sharded pre-training TFRecords."""

import click

from tfbert.task import MAX_LENGTH, MIN_LENGTH


@click.command("pretrain-data")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
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
def command(files, out_dir, vocab, seq_len, no_nsp, whole_word_masking, seed, cased):
    """Turn raw text FILES (one sentence per line, a blank line between documents) into
    pre-training instances in OUT_DIR. Re-running the same command skips finished shards."""
    import os

    from tfbert.data.pretraining import create_pretraining_data
    from tfbert.tokenization import BertTokenizer, load_tokenizer

    tokenizer = BertTokenizer.from_file(vocab, lowercase=not cased) if os.path.isfile(vocab) \
        else load_tokenizer(vocab)
    manifest = create_pretraining_data(
        list(files), out_dir, tokenizer, seq_len=seq_len, next_sentence=not no_nsp, seed=seed,
        whole_word_masking=whole_word_masking, echo=click.echo)
    click.echo(f"{manifest['instances']} instances from {manifest['documents']} documents "
               f"in {len(manifest['shards'])} shards; manifest: {out_dir}/manifest.json")
