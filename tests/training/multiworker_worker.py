"""One worker of the two-process MultiWorkerMirroredStrategy test (run by test_multiworker)."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_trainer import train  # noqa: E402

out, result_file = sys.argv[1], sys.argv[2]
weights, result = train(out, strategy="multiworker", max_steps=4, clip_norm=0.0)
import numpy as np  # noqa: E402

np.savez(result_file, **{k.replace("/", "|"): v for k, v in weights.items()})
print(json.dumps({"step": result.step,
                  "losses": [row["loss"] for row in result.history if "loss" in row]}))
