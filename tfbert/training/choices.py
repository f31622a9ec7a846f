"""The names training options accept, without TensorFlow: `tfbert --help` lists them before
anything heavy loads. `strategy`, `optimization` and `trainer` check against these."""

STRATEGIES = ("auto", "one", "mirrored", "multiworker", "tpu")
OPTIMIZERS = ("adamw", "lamb")
DECAYS = ("linear", "polynomial", "constant")
PRECISIONS = ("float32", "bfloat16", "float16")
