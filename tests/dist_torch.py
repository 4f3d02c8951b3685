"""The torch ranks of `tests/test_distributed.py` (2 gloo processes, run by `multiproc.launch`).

Scenarios, one process group: `fit` with global logs, EarlyStopping on ranks that disagree,
eager reads and `all_reduce_metrics`, the EpochEvaluator (`dist_evaluator.py`), and the
file-writing callbacks (process 0 writes). Each rank
prints `RESULT {json}`; the test compares them with scikit-learn.
"""

from __future__ import annotations

import datetime
import json
import os
from typing import Any

import numpy as np

C, D, N, BATCH = 5, 8, 1001, 64


def _flat(logs: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in logs.items():
        out.update(_flat(v) if isinstance(v, dict) else {k: float(v)})
    return out


def _model(lr: float = 0.0) -> Any:
    import keras

    import epochmetrics as em

    rng = np.random.default_rng(1)
    inputs = keras.Input((D,))
    layer = keras.layers.Dense(C, activation="softmax")
    model = keras.Model(inputs, layer(inputs))
    layer.set_weights([rng.normal(size=(D, C)).astype("float32"), np.zeros(C, "float32")])
    report = em.ClassificationReport("multiclass", num_classes=C)
    model.compile(
        keras.optimizers.SGD(lr),
        "sparse_categorical_crossentropy",
        metrics=[em.F1Score("multiclass", num_classes=C, average=None, name="f1u")],
        weighted_metrics=[report],
    )
    model.report = report
    return model


def _loader(x: Any, y: Any, w: Any, part: Any = None, sampler: Any = None) -> Any:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    import epochmetrics as em

    data = TensorDataset(torch.from_numpy(x), torch.from_numpy(y).long(), torch.from_numpy(w))
    if sampler is not None:  # a DistributedSampler (kwargs): 1,001 on 2 ranks, one copy
        from torch.utils.data import DistributedSampler

        return DataLoader(data, batch_size=BATCH, sampler=DistributedSampler(data, **sampler))
    return DataLoader(em.shard(data) if part is None else part(data), batch_size=BATCH)


def scenario_fit(rank: int) -> dict[str, Any]:
    """fit on padded DistributedSamplers (501 rows on each rank, rank 1's last a copy) and on
    contiguous uneven shards (501/500): every epoch log global, on both ranks."""
    from multiproc import classification_data

    import epochmetrics as em

    x, y, w = classification_data(N, C, D)
    model = _model()
    train = _loader(x, y, w, sampler={"shuffle": True, "seed": 7})
    val = _loader(x, y, w, sampler={"shuffle": False})
    history = model.fit(train, validation_data=val, epochs=2, verbose=0, shuffle=False)
    out: dict[str, Any] = {"history": history.history}
    out["evaluate"] = _flat(model.evaluate(val, verbose=0, return_dict=True))
    report = model.report  # an eager read of one metric: global too
    out["result"] = _flat(report.result())
    previous = em.sync_on_read(False)
    out["local"] = _flat(report.result())  # this rank's part (rank 1: without the copy)
    if rank == 0:  # the one-process reference: predictions and loss on all the data
        out["pred"] = np.asarray(model.predict(x, verbose=0)).argmax(-1).tolist()
        single = model.evaluate(x, y, sample_weight=w, batch_size=BATCH, verbose=0)
        out["single_loss"] = float(single[0])
    em.sync_on_read(previous)
    shards = model.fit(
        _loader(x, y, w), validation_data=_loader(x, y, w), epochs=1, verbose=0, shuffle=False
    )
    out["shards"] = shards.history
    return out


def scenario_stop(rank: int) -> dict[str, Any]:
    """Rank 1's validation labels shuffled: the ranks' own values disagree, the global values
    do not, so EarlyStopping stops both at the same epoch (a different stop would leave one
    rank waiting in the next epoch's exchange until the timeout)."""
    import keras
    from multiproc import classification_data

    x, y, w = classification_data(N, C, D)
    if rank == 1:
        y = np.random.default_rng(5).permutation(y)
    keras.utils.set_random_seed(rank)
    model = _model(lr=0.5)
    stop = keras.callbacks.EarlyStopping(monitor="val_f1_macro", mode="max", patience=1)
    history = model.fit(
        _loader(x, y, w),
        validation_data=_loader(x, y, w),
        epochs=12,
        verbose=0,
        callbacks=[stop],
    )
    return {"epochs": len(history.history["loss"]), "val": history.history["val_f1_macro"]}


class _Unsummable:
    """A Keras metric whose variable cannot be combined (aggregation "none")."""

    @staticmethod
    def build() -> Any:
        import keras

        class Last(keras.metrics.Metric):
            def __init__(self) -> None:
                super().__init__(name="last")
                self.v = self.add_variable(shape=(), initializer="zeros", aggregation="none")

            def update_state(self, *args: Any, **kwargs: Any) -> None:
                pass

            def result(self) -> Any:
                return self.v.value

        return Last()


def scenario_reads(rank: int) -> dict[str, Any]:
    """Eager reads, all_reduce_metrics (DetectionMAP, exact AUROC, counts past 2**24, R2Score,
    SpearmanCorrCoef), errors."""
    from multiproc import classification_data, detection_data, take

    import epochmetrics as em

    x, y, w = classification_data(N, C, D)
    scores = np.abs(x[:, :C]) / np.abs(x[:, :C]).sum(axis=1, keepdims=True)
    out: dict[str, Any] = {}
    f1 = em.F1Score("multiclass", num_classes=C, average=None)
    part = slice(0, 600) if rank == 0 else slice(600, N)  # uneven shards
    f1.update_state(y[part], scores[part], w[part])
    before = f1.get_state()["arrays"]["sums"].tolist()
    out["f1"] = _flat(f1.result())
    out["f1_state_kept"] = f1.get_state()["arrays"]["sums"].tolist() == before
    # A rank without data takes part in the exchange all the same.
    only0 = em.Accuracy("multiclass", num_classes=C)
    if rank == 0:
        only0.update_state(y[:10], scores[:10])
    out["only0"] = float(only0.result())
    # all_reduce_metrics: in place; later reads do not add the copies again.
    images = detection_data(24)
    det = em.DetectionMAP(num_classes=3)
    det.update_state(*(take(t, slice(rank * 13, 13 + rank * 11)) for t in images))
    auroc = em.AUROC("multiclass", num_classes=C, exact=True, capacity=N)
    auroc.update_state(y[part], scores[part])
    cm = em.ConfusionMatrix("binary")
    big = [2.0**30 + 3, 2.0**24 + 2] if rank == 0 else [2.0**24 + 3, 1.0]
    cm.update_state(np.array([0, 1]), np.array([0.1, 0.9]), np.array(big))
    out["det_read"] = det.result()["map"]  # a global read, state kept
    # Regression moments about each rank's own shift, and a rank metric's arrays.
    target = x[:, 0].astype(np.float64) + 1e4
    guess = target + 0.5 * x[:, 1]
    r2, spearman = em.R2Score(), em.SpearmanCorrCoef()
    r2.update_state(target[part], guess[part], w[part])
    spearman.update_state(target[part], guess[part])
    out["r2_read"], out["spearman_read"] = float(r2.result()), float(spearman.result())
    em.all_reduce_metrics([det, auroc, cm, spearman])
    out["spearman"] = float(spearman.result())
    out["spearman_rows"] = len(spearman.get_state()["arrays"]["y_true"])
    out["det"] = det.result()["map"]
    out["det_images"] = det._state.num_images
    out["auroc"] = float(auroc.result())
    out["cm"] = cm.matrix().tolist()
    try:
        em.all_reduce_metrics([em.F1Score("binary"), _Unsummable.build()])
    except ValueError as err:
        out["error"] = str(err)
    return out


def scenario_evaluator(rank: int) -> dict[str, Any]:
    """EpochEvaluator on 2 ranks: "whole" arrays, "own" DataLoaders with padded
    DistributedSamplers (said by the data), in fit with EarlyStopping and a history file, and
    on a DistributedDataParallel-wrapped model."""
    import tempfile

    import dist_evaluator as de
    import keras
    import torch
    from multiproc import classification_data
    from torch.utils.data import DataLoader, Dataset, DistributedSampler, TensorDataset

    import epochmetrics as em

    x, y, _ = classification_data(N, C, D)
    dx, dy = de.detection_samples(41)

    class Images(Dataset):
        def __len__(self) -> int:
            return len(dy["labels"])

        def __getitem__(self, i: int) -> Any:
            return {k: v[i] for k, v in dx.items()}, {k: v[i] for k, v in dy.items()}

    out: dict[str, Any] = {
        "whole": de.evaluate_all((x, y), (dx, dy), batch_size=64, process_data="whole")
    }
    tensors = TensorDataset(torch.from_numpy(x), torch.from_numpy(y).long())
    classes = DataLoader(tensors, batch_size=64, sampler=DistributedSampler(tensors, shuffle=False))
    images = DataLoader(Images(), batch_size=8, sampler=DistributedSampler(Images(), seed=3))
    out["own"] = de.evaluate_all(classes, images)  # 1,001 on 2: one padding copy, left out
    # Intervals: contiguous halves; a padded sampler's interleaved rows, with sample weights.
    s, ys, ws = de.interval_data()
    out["intervals_whole"] = de.intervals_run((s, ys), batch_size=64, process_data="whole")
    weighted = TensorDataset(*(torch.from_numpy(a) for a in (s, ys.astype("int64"), ws)))
    sampler = DistributedSampler(weighted, shuffle=False)
    out["intervals_own"] = de.intervals_run(DataLoader(weighted, batch_size=48, sampler=sampler))

    # In fit: every rank logs the same values, EarlyStopping acts alike, rank 0 writes.
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, f"history_{rank}.json")
    model = de.classifier()
    model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    ev = em.EpochEvaluator(
        (x, y), de.class_metrics(), batch_size=64, process_data="whole", history_path=path
    )
    stop = keras.callbacks.EarlyStopping(monitor="val_f1_macro", patience=1)
    keras.utils.set_random_seed(rank)  # the ranks train apart: their models differ
    part = em.shard((x, y))
    history = model.fit(*part, batch_size=32, epochs=6, verbose=0, callbacks=[stop, ev])
    out["fit"] = {
        "history": history.history,
        "evaluator": ev.history["scalars"],
        "written": os.path.exists(path),
    }
    # A failure on one rank (a label out of range in its part) is raised on both.
    bad = y.copy()
    bad[-1] = C + 2
    ev = em.EpochEvaluator(
        em.shard((x, bad)), [em.F1Score("multiclass", num_classes=C)], process_data="own"
    )
    try:
        ev.evaluate(de.classifier())
    except Exception as err:
        out["failure"] = f"{type(err).__name__}: {err}"
    ddp = torch.nn.parallel.DistributedDataParallel(de.classifier())
    ev = em.EpochEvaluator((x, y), de.class_metrics(), batch_size=64, process_data="whole")
    out["ddp"] = ev.evaluate(ddp)
    return out


def scenario_files(rank: int) -> dict[str, Any]:
    """Files are written by process 0 only: each rank points the file-writing callbacks at its
    own directory under `OUT_DIR`; the test checks that only rank 0's exist."""
    import epochmetrics as em
    from epochmetrics._backend.process import process_index

    model = _model()
    out = os.environ["OUT_DIR"]
    for callback in (em.RunRecorder(f"{out}/run{rank}"), em.TensorBoard(f"{out}/tb{rank}")):
        callback.set_model(model)
        callback.on_train_begin()
        callback.on_epoch_begin(0)
        callback.on_epoch_end(0, {"loss": 1.0})
        callback.on_train_end()
    return {"process_index": process_index()}


def main() -> None:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    dist.init_process_group(
        "gloo",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=int(os.environ["COLLECTIVE_TIMEOUT"])),
    )
    results = {}
    for name in os.environ.get("SCENARIOS", "fit,stop,reads,evaluator,files").split(","):
        results[name] = globals()[f"scenario_{name}"](rank)
    dist.barrier()
    dist.destroy_process_group()
    print("RESULT " + json.dumps(results))


if __name__ == "__main__":
    main()
