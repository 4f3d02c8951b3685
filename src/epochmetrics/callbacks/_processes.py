"""The evaluator in several processes: what each one evaluates, and one answer for all.

With a `torch.distributed` group, JAX processes or `tf.distribute` workers, each process runs
the evaluator. `process_data` says what each process's `data` holds:

- "whole": every process holds all the validation data; each evaluates a contiguous part of
  it (`collectives.bounds`: uneven by at most one sample or batch, never padded);
- "own": each process holds its own part (`em.shard`, a `DistributedSampler`): each evaluates
  that part. A `DistributedSampler` pads its parts with repeated samples to make them equal;
  those rows are dropped after the prediction (the padded copies of the sampler's first
  samples, recognised from its rank, replica count and dataset length), so 1,001 samples on
  2 processes count 1,001, as weight 0 would but for every kind of metric.

Then the parts combine exactly: streamed metrics' states in one exchange (sums added, the
records of DetectionMAP appended), whole arrays gathered in process order (the data's order),
and the values of process 0 sent to all, so every process logs the same numbers and every
callback takes the same decision.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from epochmetrics._backend import collectives
from epochmetrics._backend.collectives import Processes
from epochmetrics._types import ProcessData
from epochmetrics.callbacks._gather import LARGE_GATHER_BYTES
from epochmetrics.callbacks._metrics import Entry, EvaluationError
from epochmetrics.functional._args import check_choice

__all__ = [
    "Share",
    "agree_on_the_pass",
    "check_process_data",
    "gather_tree",
    "global_positions",
    "local_positions",
    "padding",
    "positions",
    "resolve",
    "warn_if_large",
    "whole_arrays",
]

_ENGINES = {
    "torch": "a torch.distributed process group",
    "jax": "JAX processes",
    "tensorflow": "tf.distribute workers",
}


def check_process_data(value: Any) -> ProcessData:
    return check_choice(  # type: ignore[no-any-return]
        "process_data",
        value,
        ("whole", "own", None),
        what="'whole' (every process holds all the data), 'own' (each process holds its own "
        "part) or None",
    )


@dataclass
class Share:
    """This process's share of an evaluation: the processes and what `data` holds."""

    processes: Processes
    mode: ProcessData  # None: one process

    @property
    def several(self) -> bool:
        return self.processes.several

    @property
    def part(self) -> tuple[int, int] | None:
        """`(index, count)` when this process evaluates a part of the whole data."""
        if self.mode == "whole":
            return self.processes.index, self.processes.count
        return None


def resolve(process_data: ProcessData, source: Any, model: Any = None) -> Share:
    """The share of this process, or the error that asks for `process_data`."""
    strategy = getattr(model, "distribute_strategy", None) if model is not None else None
    processes = collectives.current(strategy=strategy)
    if not processes.several:
        return Share(processes, None)
    mode = process_data
    if mode is None and source.sampler() is not None:
        mode = "own"  # a DataLoader with a DistributedSampler: each process has its part
    if mode is None:
        raise ValueError(
            f"EpochEvaluator runs in {processes.count} processes "
            f"({_ENGINES[processes.engine]}): say what each process's `data` holds with "
            "`process_data=`: 'whole' if every process holds all the validation data (each "
            "evaluates a contiguous 1/N of it, and the parts are combined), or 'own' if each "
            "holds its own part (e.g. em.shard(data), or a DataLoader with a "
            "DistributedSampler, whose padding is left out); the parts are combined."
        )
    if mode == "own":
        _check_sampler(source.sampler())
    return Share(processes, mode)


def _check_sampler(sampler: Any) -> None:
    if sampler is not None and getattr(sampler, "drop_last", False):
        raise ValueError(
            "The DataLoader's DistributedSampler has drop_last=True: it leaves out the last "
            f"{len(sampler.dataset) - sampler.total_size} samples, which would not be "
            "evaluated. Use drop_last=False (its padding is recognised and left out) or "
            "em.shard(dataset)."
        )


def padding(sampler: Any) -> np.ndarray | None:
    """Which of this process's rows (in its sampler's order) are padding copies, or None."""
    if sampler is None:
        return None
    n = len(sampler.dataset)
    positions = sampler.rank + sampler.num_replicas * np.arange(sampler.num_samples)
    return positions >= n  # (num_samples,): the padded list repeats its first samples


def positions(sampler: Any) -> np.ndarray | None:
    """The dataset index of each of this process's rows (a DistributedSampler's order)."""
    if sampler is None:
        return None
    return np.fromiter(iter(sampler), np.int64)


# --- after the pass ------------------------------------------------------------------------------
def agree_on_the_pass(
    processes: Processes, batches: int, rows: int, failure: Any, where: str
) -> list[int]:
    """Every process learns whether one failed (then all raise, none is left waiting in an
    exchange) or none had data; returns the rows each process evaluated."""
    if not processes.several:
        if batches == 0:
            raise ValueError("`data` yielded no batches: there is nothing to evaluate.")
        return [rows]
    status = processes.gather_objects(
        (batches, rows, None if failure is None else f"{type(failure).__name__}: {failure}")
    )
    if failure is not None:
        raise failure
    failed = [(i, msg) for i, (_, _, msg) in enumerate(status) if msg is not None]
    if failed:
        i, msg = failed[0]
        raise EvaluationError(f"The evaluation failed on process {i} {where}: {msg}")
    if sum(n for n, _, _ in status) == 0:
        raise ValueError("`data` yielded no batches on any process: there is nothing to evaluate.")
    return [r for _, r, _ in status]


def local_positions(counts: list[int], index: int, sampler: Any, pad: Any, rows: int) -> np.ndarray:
    """The position in the validation data of each row this process evaluated: its
    sampler's indices (padding left out), or, for contiguous parts in process order, the
    rows of the processes before it plus its own row number."""
    if sampler is not None:
        return positions(sampler)[:rows][~pad[:rows]]  # type: ignore[index]
    start = sum(counts[:index])
    return np.arange(start, start + counts[index], dtype=np.int64)


def global_positions(processes: Processes, local: np.ndarray | None) -> np.ndarray | None:
    """The position of every combined row, in process order, where the parts are not
    contiguous (`local`: this process's positions when a DistributedSampler interleaves the
    parts, else None); None when they are."""
    if not any(processes.gather_objects(local is not None)):
        return None
    gathered, _ = processes.gather_rows(local)
    return gathered


def gather_tree(local: Any, processes: Processes) -> Any:
    """Every process's rows of a structure of arrays (None where a process has none)."""
    template = None if local is None else keras.tree.map_structure(lambda a: 0, local)
    templates = processes.gather_objects(template)
    template = next((t for t in templates if t is not None), None)
    if template is None:
        return None
    count = len(keras.tree.flatten(template))
    leaves = keras.tree.flatten(local) if local is not None else [None] * count
    gathered = []
    for i in range(count):
        leaf = leaves[i]
        leaves[i] = None  # the local copy goes as soon as it is sent
        gathered.append(processes.gather_rows(None if leaf is None else np.asarray(leaf))[0])
        del leaf
    return keras.tree.pack_sequence_as(template, gathered)


def whole_arrays(
    stacks: Any, weighted: bool | None, processes: Processes, order: np.ndarray | None
) -> tuple[Any, Any, Any]:
    """`(y_true, y_pred, sample_weight)` whole: this process's rows, or all processes' rows
    in the data's order (every process receives them all: each holds the whole arrays once,
    allocated once, while its own part is sent in chunks)."""
    local = [None if s.empty else s.result() for s in stacks[:2]]
    local.append(stacks[2].result() if weighted and not stacks[2].empty else None)
    if not processes.several:
        return local[0], local[1], local[2]
    parts = []
    for i in range(3):
        part, local[i] = local[i], None
        parts.append(gather_tree(part, processes))
        del part
    if order is not None and np.any(np.diff(order) < 0):
        perm = np.argsort(order, kind="stable")
        parts = [
            None if p is None else keras.tree.map_structure(lambda a: a[perm], p) for p in parts
        ]
    return parts[0], parts[1], parts[2]


def warn_if_large(arrays: Any, whole: list[Entry]) -> bool:
    """Warn when the whole arrays pass `LARGE_GATHER_BYTES`; whether it warned."""
    nbytes = sum(
        np.asarray(a).nbytes
        for part in arrays
        if part is not None
        for a in keras.tree.flatten(part)
    )
    if nbytes <= LARGE_GATHER_BYTES:
        return False
    labels = ", ".join(e.label for e in whole)
    warnings.warn(
        f"EpochEvaluator holds the whole arrays of the evaluation ({nbytes / 2**20:,.0f} MB) "
        f"for {labels}, which need them whole. Streamed metrics keep a fixed state instead: "
        "the count metrics (F1Score, ClassificationReport, ...) stream here, and AUROC / "
        "AveragePrecision in binned mode (in model.compile(metrics=[...]), 313 kB per class) "
        "stay within their error_bound() of the exact value.",
        UserWarning,
        stacklevel=5,
    )
    return True
