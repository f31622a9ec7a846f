"""The `tfbert` command: one thin click command per module over library functions."""
