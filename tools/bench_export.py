"""Export benchmark: one classifier in every deployment format, timed in the same run.

Batch 1, sequence 128, 1 and 2 threads: the TF SavedModel as `tfbert export` writes it, run
as TF Serving runs it (its graph in a TF1 `Session`, intra-op = threads, inter-op = 1, fed
and fetched by name; see tools/bench_export_serving.py): the `encode` signature (ids in),
the same export's `serving_default` with the raw text (in-graph tokenizer), the `--xla`
export, and the `encode` signature through Python's TF2 call; TFLite (LiteRT) fp32, fp16,
dynamic int8 and full int8 (calibrated on BBC training texts); ONNX Runtime fp32 and
dynamic int8 (MatMul + Gather, per channel), the anchor. All get the same input, a BBC
test text cut to 128 pieces. A round times every variant in turn (`--warmup` calls, then
the median of `--calls`); rounds are interleaved so that drift on a shared host hits all
alike. Per variant: median and spread (max - min) of the round medians, file size and its
ratio to the same format's fp32, time over ONNX Runtime int8, and the largest |probability
- Keras| on the timing input plus `--check` test texts. Then throughput at `--batch` (32)
texts per call for the SavedModels and ONNX Runtime fp32 (TFLite's model takes one text:
`--batch` calls). TF fixes its thread pools when its runtime starts, so each SavedModel
runner is a spawned worker, timed inside it. `--batching-parameters FILE` (TF Serving's
BatchingParameters text proto, as `tfbert export` writes it in each version) replays
TF Serving's request batching against the session runners at the most threads, beside the
same load unbatched. With `--eval-data` (labelled JSONL, labels as in
the model's task.json) every variant also classifies that split, batch 1 at the most
threads, cut to the same 128 pieces, and its accuracy and macro F1 are reported beside the
Keras model's. Needs the `bench` (onnx, onnxruntime, tf2onnx) and `data` extras.

    .venv/bin/python tools/bench_export.py --rounds 3 --json runs/bench_export.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools import bench_export_serving as serving  # noqa: E402 - run as a script too
from tools.bench_export_serving import block  # noqa: E402

DEFAULT_MODEL = "runs/demo-en/model"  # what `tfbert demo --english` fine-tunes
ANCHOR = "onnxruntime int8"
FP32 = {"tf": "tf savedmodel fp32", "tflite": "tflite fp32", "onnxruntime": "onnxruntime fp32"}
# SavedModel rows: (export, signature, runtime); export "xla" is `tfbert export --xla`.
SAVED_MODELS = {
    "tf savedmodel fp32": ("plain", "encode", "session"),
    "tf savedmodel fp32 raw text": ("plain", "serving_default", "session"),
    "tf savedmodel fp32 xla": ("xla", "encode", "session"),
    "tf savedmodel fp32 tf2 call": ("plain", "encode", "tf2"),
}
BATCHED = ("tf savedmodel fp32", "tf savedmodel fp32 xla", "onnxruntime fp32", "tflite fp32")
BATCHING = ("tf savedmodel fp32", "tf savedmodel fp32 xla")  # --batching-parameters


class Runner:
    """One variant at one thread count: in this process, or (SavedModel) in a worker."""

    def __init__(self, predict=None, saved_model=None, threads=None, batch_predict=None,
                 texts=None):
        self.predict_fn, self.batch_fn, self.conn = predict, batch_predict, None
        # A raw-text runner is sent each sample's text (`texts`: ids bytes -> text).
        self.texts = texts
        if saved_model:
            context = multiprocessing.get_context("spawn")
            self.conn, child = context.Pipe()
            context.Process(target=serving.worker, args=(child, *saved_model[:2], threads,
                                                         *saved_model[2:]),
                            daemon=True).start()

    def ask(self, kind, x, *request):
        self.conn.send((kind, self.texts[x[0].tobytes()] if self.texts else x, *request))
        return self.conn.recv()

    def predict(self, x):
        return self.ask("predict", x) if self.conn else self.predict_fn(x)

    def batching(self, x, parameters, clients, requests):
        return self.ask("batching", x, parameters, clients, requests)

    def time(self, x, warmup, calls, batch=1):
        if self.conn:
            return self.ask("time", x, warmup, calls, batch)
        if batch == 1:
            return block(lambda: self.predict_fn(x), warmup, calls)
        if self.batch_fn:
            xs = [np.repeat(a, batch, 0) for a in x]
            return block(lambda: self.batch_fn(xs), warmup, calls)
        # One text per call (TFLite's [1, 128] input): `batch` calls.
        return block(lambda: [self.predict_fn(x) for _ in range(batch)], warmup, calls)


def load_classifier(model_dir, labels):
    """`(model, tokenizer, spec, source)`: a tfbert model directory, else the pre-trained
    MiniLM-L6 encoder under a fresh (untrained) head for `labels`; seq 128 either way."""
    from tfbert.task import TaskSpec

    if model_dir:
        from tfbert.export.saved_model import load_task_model

        model, tokenizer, spec, _ = load_task_model(model_dir)
        return model, tokenizer, dataclasses.replace(spec, max_length=128), model_dir
    from tfbert.convert.loader import model_from_checkpoint, read_checkpoint
    from tfbert.modeling import BertClassifier
    from tfbert.tokenization import BertTokenizer

    checkpoint = read_checkpoint("all-MiniLM-L6-v2")
    encoder = model_from_checkpoint(checkpoint.restricted_to("encoder"))
    spec = TaskSpec(task="classify", labels=tuple(labels), lowercase=checkpoint.spec.lowercase)
    tokenizer = BertTokenizer.from_file(checkpoint.vocab_file, lowercase=spec.lowercase)
    return BertClassifier(encoder, len(labels)), tokenizer, spec, checkpoint.source


def save_tf(model, tokenizer, spec, path, xla=False):
    """The SavedModel `tfbert export` writes for `model` (its `ServingModule`: `encode`
    and raw-text `serving_default`), XLA-compiled when `xla` (`tfbert export --xla`)."""
    from tfbert.export.saved_model_signatures import ServingModule

    module = ServingModule(model, tokenizer, spec, jit_compile=xla)
    tf.saved_model.save(module, path, signatures=module.signatures())


def save_onnx(model, path, int8_path):
    """fp32 through Keras' `Model.export(format="onnx")` (tf2onnx), then ORT dynamic int8."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from tf2onnx import utils
    from tf2onnx.handler import tf_op

    @tf_op("Erfc")  # exact GELU emits Erfc; tf2onnx 1.17 has no handler: 1 - Erf(x)
    class Erfc:  # noqa: F841  (registered by the decorator)
        @classmethod
        def version_9(cls, ctx, node, **kwargs):
            node.type = "Erf"
            dtype = ctx.get_dtype(node.output[0])
            one = ctx.make_const(utils.make_name("erfc_one"),
                                 np.array(1, utils.map_onnx_to_numpy_type(dtype)))
            sub = ctx.insert_new_node_on_output("Sub", node.output[0], inputs=[
                one.output[0], node.output[0]], name=utils.make_name(node.name))
            ctx.copy_shape(node.output[0], sub.output[0])
            ctx.set_dtype(sub.output[0], dtype)

    names = ("token_ids", "segment_ids", "padding_mask")
    model.export(path, format="onnx", opset_version=17, verbose=False, input_signature=[
        {n: tf.TensorSpec((None, None), tf.int32, name=n) for n in names}])
    quantize_dynamic(path, int8_path, weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gather"])


def ort_predict(path, threads):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def predict(x):
        logits = session.run(["logits"], {"token_ids": x[0], "padding_mask": x[1],
                                          "segment_ids": x[2]})[0]
        exp = np.exp(logits - logits.max(-1, keepdims=True))
        return exp / exp.sum(-1, keepdims=True)
    return predict  # takes any batch: the ONNX model's inputs are [None, None]


def read_evaluation(path, model_dir, limit=None):
    """`{"records", "truth", "labels", "model_max_length"}` of a labelled split, truth as
    ids into the model's task.json labels; read before any conversion, to fail early."""
    from tfbert.data.readers import label_ids, read_classification
    from tfbert.data.splits import spread
    from tfbert.task import read_task_spec

    spec = read_task_spec(model_dir)
    examples = read_classification(path)[0]
    if limit:  # evenly spaced: splits are often sorted by label
        examples = spread(examples, limit)
    return {"records": [{"text": e.text} for e in examples],
            "truth": label_ids(examples, spec.labels, path), "labels": list(spec.labels),
            "model_max_length": spec.max_length}


def scores(predict, inputs, truth, labels):
    """Accuracy and macro F1 (%) of `predict`'s top class, one input at a time."""
    from tfbert.evaluation.metrics import classification_metrics

    metrics = classification_metrics(truth, [int(np.argmax(predict(x))) for x in inputs], labels)
    return {"accuracy": round(100 * metrics["accuracy"], 2),
            "macro_f1": round(100 * metrics["macro_f1"], 2)}


def build(args, out, evaluation=None):
    """Writes every variant under `out`; returns `{name: path}`, `{(name, threads): Runner}`,
    the Keras comparison inputs and probabilities, and notes (with the Keras model's scores
    and `evaluation`'s encoded inputs when given)."""
    from tfbert.data import builtin
    from tfbert.export import tflite_convert

    splits, labels, _ = builtin.load_classification("bbc-news")
    model, tokenizer, spec, source = load_classifier(args.model, labels)
    module = tflite_convert.LiteModule(model, tokenizer.vocab, spec, "metadata")
    samples = tflite_convert.sample_inputs(module, [{"text": t} for t, _ in
                                            splits["test"][:args.check + 1]])
    calibration = [{"text": t} for t, _ in splits["train"][:args.calibration]]
    # The raw-text row gets each sample's own text: its in-graph tokenizer cuts it to the
    # same 128 pieces.
    texts = {x[0].tobytes(): t for x, (t, _) in zip(samples, splits["test"])}
    exports = {kind: os.path.join(out, f"savedmodel_{kind}") for kind in ("plain", "xla")}
    for kind, path in exports.items():
        print(f"exporting savedmodel {kind} ...", flush=True)
        save_tf(model, tokenizer, spec, path, xla=kind == "xla")
    files, runners = {}, {}
    for name, (kind, signature, runtime) in SAVED_MODELS.items():
        files[name] = exports[kind]
        text = signature == "serving_default"
        for n in args.threads:
            runners[name, n] = Runner(saved_model=(exports[kind], signature, runtime, text),
                                      threads=n, texts=texts if text else None)
    for q in ("none", "fp16", "dynamic", "int8"):
        name = f"tflite {'fp32' if q == 'none' else q}"
        print(f"converting {name} ...", flush=True)
        content, _ = tflite_convert.convert(model, tokenizer.vocab, spec, tokenizer="metadata",
                                    quantize=q, calibration=calibration)
        files[name] = os.path.join(out, name.replace(" ", "_") + ".tflite")
        with open(files[name], "wb") as f:
            f.write(content)
        for n in args.threads:
            interpreter = tflite_convert.make_interpreter(content, num_threads=n)
            signature = interpreter.get_signature_runner()
            runners[name, n] = Runner(lambda x, s=signature: s(
                ids=x[0], mask=x[1], segment_ids=x[2])["probability"])
    print("exporting onnx ...", flush=True)
    files["onnxruntime fp32"], files[ANCHOR] = (os.path.join(out, f"model_{s}.onnx")
                                                for s in ("fp32", "int8"))
    save_onnx(model, files["onnxruntime fp32"], files[ANCHOR])
    for name in ("onnxruntime fp32", ANCHOR):
        for n in args.threads:
            predict = ort_predict(files[name], n)
            runners[name, n] = Runner(predict, batch_predict=predict)

    def keras_predict(x):
        return (tf.sigmoid if spec.multi_label else tf.nn.softmax)(model(
            {"token_ids": x[0], "padding_mask": x[1], "segment_ids": x[2]}, training=False)[
                "logits"]).numpy()

    info = {"source": source, "calibration_texts": len(calibration),
            "check_texts": len(samples)}
    if evaluation:
        inputs = tflite_convert.sample_inputs(module, evaluation["records"])
        info["eval"] = {"data": args.eval_data, "examples": len(inputs),
                        "max_length": spec.max_length,
                        "model_max_length": evaluation["model_max_length"],
                        "keras": scores(keras_predict, inputs, evaluation["truth"],
                                        evaluation["labels"])}
        evaluation = {**evaluation, "inputs": inputs}
    return files, runners, samples, [keras_predict(x) for x in samples], info, evaluation


def size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def measure(args, out, evaluation=None):
    files, runners, samples, keras, info, evaluation = build(args, out, evaluation)
    results = {name: {"bytes": size(path), "mb": round(size(path) / 1e6, 2)}
               for name, path in files.items()}
    for (name, n), runner in runners.items():
        got = [runner.predict(x) for x in samples]
        results[name][f"threads_{n}"] = {
            "max_abs_diff": max(float(np.max(np.abs(g - k))) for g, k in zip(got, keras)),
            "top1_agree": float(np.mean([g.argmax() == k.argmax() for g, k in zip(got, keras)]))}
    print(f"timing {len(runners)} runners x {args.rounds} rounds ...", flush=True)
    rounds = {key: [] for key in runners}
    for _ in range(args.rounds):
        for key, runner in runners.items():
            rounds[key].append(statistics.median(runner.time(samples[0], args.warmup,
                                                             args.calls)))
    batched = {key: [] for key in runners if key[0] in BATCHED and args.batch > 1}
    if batched:
        print(f"timing batch {args.batch}: {len(batched)} runners x {args.rounds} rounds ...",
              flush=True)
    for _ in range(args.rounds if batched else 0):
        for key in batched:
            batched[key].append(statistics.median(runners[key].time(
                samples[0], 1, args.batch_calls, args.batch)))
    top = max(args.threads)
    if args.batching_parameters:
        parameters = args.batching_parameters
        for name in BATCHING:
            print(f"replaying TF Serving batching on {name} ({args.batching_requests} "
                  f"requests, {args.batching_clients} clients) ...", flush=True)
            results[name]["batching"] = runners[name, top].batching(
                samples[0], parameters, args.batching_clients, args.batching_requests)
        info["batching_parameters"] = {"file": args.batching_parameters_file,
                                       **dataclasses.asdict(parameters),
                                       "clients": args.batching_clients,
                                       "requests": args.batching_requests,
                                       "threads": top}
    if evaluation:
        print(f"scoring {len(files)} variants on {len(evaluation['inputs'])} texts ...",
              flush=True)
        for name in files:
            if runners[name, max(args.threads)].texts:
                continue  # raw text in: the evaluation inputs are ids
            results[name].update(scores(runners[name, max(args.threads)].predict,
                                        evaluation["inputs"], evaluation["truth"],
                                        evaluation["labels"]))
    for runner in runners.values():
        if runner.conn:
            runner.conn.send(None)  # the TF worker returns
    for (name, n), medians in rounds.items():
        median = statistics.median(medians)
        results[name][f"threads_{n}"].update(
            median_ms=round(median, 2), spread_ms=round(max(medians) - min(medians), 2),
            round_medians_ms=[round(m, 2) for m in medians],
            vs_anchor=round(median / statistics.median(rounds[ANCHOR, n]), 3))
    for (name, n), medians in batched.items():
        median = statistics.median(medians)
        results[name][f"threads_{n}"][f"batch_{args.batch}"] = {
            "median_ms": round(median, 2), "spread_ms": round(max(medians) - min(medians), 2),
            "texts_per_s": round(args.batch * 1e3 / median, 1),
            "vs_onnxruntime_fp32": round(median / statistics.median(
                batched["onnxruntime fp32", n]), 3)}
    for name, row in results.items():
        row["size_vs_fp32"] = round(row["bytes"] / results[FP32[name.split()[0]]]["bytes"], 4)
    return results, info


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="fine-tuned tfbert classifier directory ('' = the bare MiniLM-L6 "
                             "under an untrained head: latency only, accuracy columns moot)")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--calibration", type=int, default=64, help="int8 training texts")
    parser.add_argument("--check", type=int, default=8, help="extra test texts to compare")
    parser.add_argument("--out", help="keep the exported files here (default: temporary)")
    parser.add_argument("--json", help="write every number here")
    parser.add_argument("--eval-data", help="labelled JSONL (text, label): also score each "
                        "variant's accuracy on it")
    parser.add_argument("--eval-limit", type=int,
                        help="score only N of its examples, evenly spaced")
    parser.add_argument("--batch", type=int, default=32,
                        help="texts per call of the throughput rows (1: none)")
    parser.add_argument("--batch-calls", type=int, default=5,
                        help="timed calls per round at --batch")
    parser.add_argument("--batching-parameters", dest="batching_parameters_file",
                        help="TF Serving BatchingParameters text proto (as `tfbert export` "
                             "writes in each version, batching_params.pbtxt): replay its "
                             "batching against the SavedModel")
    parser.add_argument("--batching-clients", type=int,
                        help="concurrent one-text clients (default: max_batch_size)")
    parser.add_argument("--batching-requests", type=int, default=256,
                        help="requests replayed with and without batching")
    args = parser.parse_args()
    try:
        args.threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        raise SystemExit(f"--threads: expected comma-separated integers such as 1,2. "
                         f"Received: {args.threads!r}") from None
    for flag in ("rounds", "calls", "batch", "batch_calls", "batching_requests"):
        if getattr(args, flag) < 1:
            raise SystemExit(f"--{flag.replace('_', '-')} must be at least 1. "
                             f"Received: {getattr(args, flag)}")
    args.batching_parameters = None
    if args.batching_parameters_file:
        from tfbert.export.saved_model_batching import read_batching_parameters

        try:
            args.batching_parameters = read_batching_parameters(args.batching_parameters_file)
        except ValueError as err:
            raise SystemExit(f"--batching-parameters: {err}") from None
        args.batching_clients = args.batching_clients or args.batching_parameters.max_batch_size
    if args.batching_clients is not None and args.batching_clients < 1:
        raise SystemExit(f"--batching-clients must be at least 1. "
                         f"Received: {args.batching_clients}")
    if args.model and not os.path.isdir(args.model):
        raise SystemExit(f"{args.model}: no such model directory; fine-tune bbc-news first "
                         "(README, Training) or pass --model ''")
    try:  # before minutes of conversions
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError as err:
        raise SystemExit(f"{err}: install the bench extra, pip install 'tfbert[bench]'")
    evaluation = None
    if args.eval_data:
        if not args.model:
            raise SystemExit("--eval-data needs --model, a fine-tuned classifier to score")
        try:
            evaluation = read_evaluation(args.eval_data, args.model, args.eval_limit)
        except ValueError as err:
            raise SystemExit(str(err))
    started, load = time.perf_counter(), [os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="bench-export-") as temporary:
        os.makedirs(args.out or temporary, exist_ok=True)
        results, info = measure(args, args.out or temporary, evaluation)
    wall, top = time.perf_counter() - started, max(args.threads)
    load.append(os.getloadavg())
    print(f"\n{info['source']}, batch 1, seq 128, median of {args.rounds} round medians of "
          f"{args.calls} calls; load avg {load[0][0]:.2f} -> {load[1][0]:.2f}; {wall:.0f} s\n")
    scored = " accuracy % | macro F1 % |" if evaluation else ""
    print("| variant | MB | size / fp32 | " + " | ".join(
        f"{n} thr ms (spread)" for n in args.threads) + f" | / ORT int8 @{top} thr | "
          f"max abs diff p | top-1 agree |{scored}\n"
          + "|---" * (6 + len(args.threads) + 2 * bool(evaluation)) + "|")
    for name, row in results.items():
        cells = [f"{row[f'threads_{n}']['median_ms']:.1f} ({row[f'threads_{n}']['spread_ms']:.1f})"
                 for n in args.threads]
        at = row[f"threads_{top}"]
        print(f"| {name} | {row['mb']:.1f} | {row['size_vs_fp32']:.3f} | " + " | ".join(cells)
              + f" | {at['vs_anchor']:.2f}x | {at['max_abs_diff']:.2g} | {at['top1_agree']:.2f} |"
              + (f" {row['accuracy']:.1f} | {row['macro_f1']:.1f} |" if evaluation else ""))
    if evaluation:
        e = info["eval"]
        print(f"\n{e['examples']} texts of {e['data']} cut to {e['max_length']} pieces (the "
              f"model's own length: {e['model_max_length']}); Keras: accuracy "
              f"{e['keras']['accuracy']:.1f} %, macro F1 {e['keras']['macro_f1']:.1f} %")
    dynamic = results["tflite dynamic"][f"threads_{top}"]["vs_anchor"]
    for n in args.threads:
        if f"batch_{args.batch}" in results[FP32["tf"]][f"threads_{n}"]:
            print(f"batch {args.batch}, {n} thr, texts/s: " + ", ".join(
                f"{name} {row[f'threads_{n}'][f'batch_{args.batch}']['texts_per_s']:.1f}"
                for name, row in results.items()
                if f"batch_{args.batch}" in row[f"threads_{n}"]))
    for name, row in results.items():
        for mode, b in row.get("batching", {}).items():
            print(f"{name} {mode} @{top} thr: {b['requests_per_s']:.1f} req/s, p50 "
                  f"{b['latency_p50_ms']:.0f} ms, p99 {b['latency_p99_ms']:.0f} ms, mean batch "
                  f"{b['mean_batch']:.1f}, refused {b['refused']}")
    for n in args.threads:
        ratio = (results[FP32["tf"]][f"threads_{n}"]["median_ms"]
                 / results[FP32["onnxruntime"]][f"threads_{n}"]["median_ms"])
        print(f"target: tf savedmodel fp32 (session) / onnxruntime fp32 @{n} thr = "
              f"{ratio:.2f} (<= 1: {'met' if ratio <= 1 else 'NOT met'})")
    print(f"\ntargets: tflite dynamic / ORT int8 @{top} thr = {dynamic:.2f} (<= 1: "
          f"{'met' if dynamic <= 1 else 'NOT met'}); size / fp32: dynamic "
          f"{results['tflite dynamic']['size_vs_fp32']:.3f}, int8 "
          f"{results['tflite int8']['size_vs_fp32']:.3f} (<= 0.26)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"info": info, "args": {k: v for k, v in vars(args).items()
                                              if k != "batching_parameters"}, "wall_s": round(wall, 1),
                       "load_avg": load, "tensorflow": tf.__version__, "results": results},
                      f, indent=1)


if __name__ == "__main__":
    main()
