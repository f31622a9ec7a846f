"""Which characters are CJK ideographs: the ranges BERT's tokenizer (and Hugging Face's
`_is_chinese_char`) makes words of their own, and that sentence splitting and the text
metrics (ROUGE, error rate) count one by one. Plain Python, no TensorFlow."""

# Ideographs only, not kana or hangul.
CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
              (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
# The ranges as the inside of a regex character class (`re` syntax).
CJK_CLASS = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in CJK_RANGES)


def is_cjk(token: str) -> bool:
    """Whether `token` is a single CJK ideograph (a word of its own for BERT)."""
    return len(token) == 1 and any(lo <= ord(token) <= hi for lo, hi in CJK_RANGES)
