"""The encoder of any checkpoint tfbert reads, with its tokenizer: what the applications
that look inside a model (`Summarizer`, `AttentionViewer`) start from."""

from __future__ import annotations

from tfbert.task import check_max_length


def load_encoder(name_or_path, max_length=None):
    """`(encoder, tokenizer, max_length)` for `name_or_path`: a checkpoint name
    (`all-MiniLM-L6-v2`), a tfbert model directory of any task (its encoder, the head left
    out), or any checkpoint directory tfbert reads. `max_length` defaults to the
    checkpoint's; a longer one than its position embeddings is an error."""
    from tfbert.convert.loader import model_from_checkpoint, read_checkpoint
    from tfbert.registry import checkpoint_path
    from tfbert.tokenization import BertTokenizer

    path = checkpoint_path(name_or_path, "name_or_path")
    checkpoint = read_checkpoint(path, "name_or_path")
    if not checkpoint.vocab_file:
        raise ValueError(f"name_or_path {path}: has no vocab.txt; expected a checkpoint "
                         "with its vocabulary")
    if max_length is not None:
        check_max_length(max_length, "max_length", checkpoint.config.max_position_embeddings)
    encoder = model_from_checkpoint(checkpoint.restricted_to("encoder"))
    tokenizer = BertTokenizer.from_file(checkpoint.vocab_file,
                                        lowercase=checkpoint.spec.lowercase)
    return encoder, tokenizer, max_length or checkpoint.spec.max_length
