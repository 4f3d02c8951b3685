"""The TensorFlow workers of `tests/test_distributed.py`: MultiWorkerMirroredStrategy, 2
workers on localhost (`TF_CONFIG`), one CPU replica each, run by `multiproc.launch`.

Keras 3's `fit` fails under this strategy upstream (keras-team/keras#20585), so the metrics
are updated in a custom loop (`strategy.run`), as users of this strategy do. Each worker
prints `RESULT {json}`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

C, D, N, BATCH = 5, 8, 1001, 64


def _flat(logs: Any) -> dict[str, float]:
    return {k: float(v) for k, v in logs.items()}


def main() -> None:
    rank = int(os.environ["RANK"])
    ports = os.environ["PORTS"].split(",")
    os.environ["TF_CONFIG"] = json.dumps(
        {
            "cluster": {"worker": [f"localhost:{p}" for p in ports]},
            "task": {"type": "worker", "index": rank},
        }
    )
    import tensorflow as tf

    timeout = int(os.environ["COLLECTIVE_TIMEOUT"])
    strategy = tf.distribute.MultiWorkerMirroredStrategy(
        communication_options=tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=timeout
        )
    )
    import dist_evaluator as de
    import keras
    from multiproc import classification_data

    import epochmetrics as em

    x, y, w = classification_data(N, C, D)
    xs, ys, ws = em.shard((x, y, w))  # 501 and 500 samples
    with strategy.scope():
        model = de.classifier()
        report = em.ClassificationReport("multiclass", num_classes=C)
        matrix = em.ConfusionMatrix("multiclass", num_classes=C)
        keras_accuracy = keras.metrics.SparseCategoricalAccuracy()
        big = em.ConfusionMatrix("binary")

    @tf.function
    def step(xb: Any, yb: Any, wb: Any) -> None:
        def replica(xb: Any, yb: Any, wb: Any) -> None:
            pred = model(xb, training=False)
            report.update_state(yb, pred, wb)
            matrix.update_state(yb, pred)
            keras_accuracy.update_state(yb, pred)

        strategy.run(replica, args=(xb, yb, wb))

    for start in range(0, len(ys), BATCH):
        part = slice(start, start + BATCH)
        step(tf.constant(xs[part]), tf.constant(ys[part]), tf.constant(ws[part]))

    # Counts past 2**24 on each worker: their float32 halves added would round.
    weights = [2.0**30 + 3, 2.0**24 + 2] if rank == 0 else [2.0**24 + 3, 1.0]

    def add_big() -> None:
        # float64 weights: float32 would round 2**30 + 3 before the metric sees it.
        big.update_state(
            tf.constant([0, 1]), tf.constant([0.1, 0.9]), tf.constant(weights, tf.float64)
        )

    strategy.run(tf.function(add_big))
    out: dict[str, Any] = {
        "report": _flat(report.result()),
        "matrix": matrix.matrix().tolist(),
        "keras_accuracy": float(keras_accuracy.result()),
        "big": big.matrix().tolist(),
        "pred": np.asarray(model(x, training=False)).argmax(-1).tolist() if rank == 0 else None,
    }
    previous = em.sync_on_read(False)
    out["local_total"] = float(np.sum(matrix.matrix()))  # this worker's own samples
    em.sync_on_read(previous)

    # EpochEvaluator under the strategy: each worker predicts its part, the parts combine.
    with strategy.scope():
        out["whole"] = de.evaluate_all(
            (x, y), de.detection_samples(41), batch_size=BATCH, process_data="whole"
        )
        out["own"] = de.evaluate_all(
            em.shard((x, y)),
            em.shard(de.detection_samples(41)),
            batch_size=BATCH,
            process_data="own",
        )
        s, ys, ws = de.interval_data()  # intervals: weighted, contiguous parts
        out["intervals_own"] = de.intervals_run(
            em.shard((s, ys, ws)), batch_size=BATCH, process_data="own"
        )
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
