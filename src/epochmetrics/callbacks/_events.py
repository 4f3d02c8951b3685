"""TensorBoard event files written with the `tensorboard` package alone, never TensorFlow.

An event file is a sequence of TFRecords (length, masked CRC-32C of the length, an `Event`
protobuf, its masked CRC), the first event naming the file version. Each summary value is a
tensor with its plugin's metadata, as TensorFlow 2's `tf.summary` writes them (checksums:
`_crc32c`): scalars
(`scalars` plugin, a float32 scalar), PR curves (`pr_curves`, a float32 `(6, T)` tensor of TP,
FP, TN, FN, precision and recall at thresholds `linspace(0, 1, T)`), images (`images`, a string
vector `[width, height, PNG]`) and the custom-scalars layout (`custom_scalars`: multiline
and margin charts). The protos and
the plugins' metadata helpers come from the `tensorboard` package; its `tensorboard.compat.tf`
(which imports TensorFlow when installed) is never touched, nor is its `EventFileWriter`,
which goes through it.
"""

from __future__ import annotations

import itertools
import os
import socket
import struct
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

from epochmetrics.callbacks._crc32c import masked_crc32c

__all__ = ["INSTALL_HINT", "EventWriter", "detection_rows", "require_tensorboard"]

INSTALL_HINT = "pip install 'epochmetrics[tensorboard]'"
# Distinguishes our files from tf.summary's (`...v2`) in a directory both write to.
FILE_SUFFIX = ".epochmetrics"
_FILE_IDS = itertools.count()


def require_tensorboard() -> Any:
    """The protobuf and plugin modules used here, or an ImportError with the install hint."""
    try:
        from tensorboard.compat.proto import (
            event_pb2,
            summary_pb2,
            tensor_pb2,
            tensor_shape_pb2,
            types_pb2,
        )
        from tensorboard.plugins.custom_scalar import layout_pb2
        from tensorboard.plugins.custom_scalar import metadata as custom_scalar_metadata
        from tensorboard.plugins.image import metadata as image_metadata
        from tensorboard.plugins.pr_curve import metadata as pr_metadata
        from tensorboard.plugins.scalar import metadata as scalar_metadata
    except ImportError as e:
        raise ImportError(
            "epochmetrics.TensorBoard writes TensorBoard event files with the `tensorboard` "
            f"package (TensorFlow is not needed). Install it with: {INSTALL_HINT}"
        ) from e

    return types.SimpleNamespace(
        event_pb2=event_pb2,
        summary_pb2=summary_pb2,
        tensor_pb2=tensor_pb2,
        types_pb2=types_pb2,
        tensor_shape_pb2=tensor_shape_pb2,
        layout_pb2=layout_pb2,
        custom_scalar_metadata=custom_scalar_metadata,
        image_metadata=image_metadata,
        pr_metadata=pr_metadata,
        scalar_metadata=scalar_metadata,
    )


class EventWriter:
    """One event file in one run directory (e.g. `log_dir/validation`), written synchronously.

    Values are buffered per step and written by `flush()` (once per epoch), so a file is never
    left with half an epoch. Each tag's plugin metadata goes with its first value only, as
    `tf.summary` does.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.pb = require_tensorboard()
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        name = (
            f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
            f"{os.getpid()}.{next(_FILE_IDS)}{FILE_SUFFIX}"
        )
        self.path = self.directory / name
        self._file: Any = open(self.path, "wb")
        self._described: set[str] = set()
        self._pending: dict[int, list[Any]] = {}
        self._record(self.pb.event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))
        self._file.flush()

    # --- values ------------------------------------------------------------------------------
    def scalar(self, tag: str, value: float, step: int, description: str = "") -> None:
        metadata = self._metadata(
            tag,
            lambda: self.pb.scalar_metadata.create_summary_metadata(
                display_name=tag, description=description
            ),
        )
        tensor = self.pb.tensor_pb2.TensorProto(
            dtype=self.pb.types_pb2.DT_FLOAT,
            tensor_shape=self.pb.tensor_shape_pb2.TensorShapeProto(),
            float_val=[float(np.float32(value))],
        )
        self._add(step, tag, tensor, metadata)

    def pr_curve(self, tag: str, data: np.ndarray, step: int, description: str = "") -> None:
        """`data`: `(6, T)` rows TP, FP, TN, FN, precision, recall at `linspace(0, 1, T)`."""
        data = np.asarray(data, dtype="<f4")
        metadata = self._metadata(
            tag,
            lambda: self.pb.pr_metadata.create_summary_metadata(
                display_name=tag, description=description, num_thresholds=int(data.shape[1])
            ),
        )
        self._add(step, tag, self._array(data), metadata)

    def image(
        self, tag: str, png: bytes, width: int, height: int, step: int, description: str = ""
    ) -> None:
        metadata = self._metadata(
            tag,
            lambda: self.pb.image_metadata.create_summary_metadata(
                display_name=tag, description=description
            ),
        )
        dim = self.pb.tensor_shape_pb2.TensorShapeProto.Dim
        tensor = self.pb.tensor_pb2.TensorProto(
            dtype=self.pb.types_pb2.DT_STRING,
            tensor_shape=self.pb.tensor_shape_pb2.TensorShapeProto(dim=[dim(size=3)]),
            string_val=[str(width).encode(), str(height).encode(), png],
        )
        self._add(step, tag, tensor, metadata)

    def layout(
        self,
        charts: dict[str, dict[str, list[str]]],
        step: int = 0,
        margins: dict[str, dict[str, list[tuple[str, str, str]]]] | None = None,
    ) -> None:
        """The custom-scalars layout: multiline charts `{category: {chart title: [tag regex,
        ...]}}`, then margin charts `{category: {chart title: [(value tag, lower tag, upper
        tag), ...]}}` (each series a line in a band; exact tags, not regexes)."""
        pb = self.pb.layout_pb2
        categories: dict[str, list[Any]] = {}
        for category, chart in charts.items():
            categories.setdefault(category, []).extend(
                pb.Chart(title=title, multiline=pb.MultilineChartContent(tag=tags))
                for title, tags in chart.items()
            )
        series = pb.MarginChartContent.Series
        for category, margin_charts in (margins or {}).items():
            categories.setdefault(category, []).extend(
                pb.Chart(
                    title=title,
                    margin=pb.MarginChartContent(
                        series=[series(value=v, lower=lo, upper=hi) for v, lo, hi in bands]
                    ),
                )
                for title, bands in margin_charts.items()
            )
        layout = pb.Layout(
            category=[pb.Category(title=title, chart=c) for title, c in categories.items()]
        )
        tag = self.pb.custom_scalar_metadata.CONFIG_SUMMARY_TAG
        tensor = self.pb.tensor_pb2.TensorProto(
            dtype=self.pb.types_pb2.DT_STRING,
            tensor_shape=self.pb.tensor_shape_pb2.TensorShapeProto(),
            string_val=[layout.SerializeToString()],
        )
        metadata = self.pb.custom_scalar_metadata.create_summary_metadata()
        self._add(step, tag, tensor, metadata)

    # --- file --------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write the buffered values, one event per step, and flush the file."""
        for step in sorted(self._pending):
            summary = self.pb.summary_pb2.Summary(value=self._pending[step])
            self._record(self.pb.event_pb2.Event(wall_time=time.time(), step=step, summary=summary))
        self._pending = {}
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self.flush()
            self._file.close()

    # --- internals ---------------------------------------------------------------------------
    def _metadata(self, tag: str, make: Any) -> Any:
        if tag in self._described:
            return None
        self._described.add(tag)
        return make()

    def _array(self, data: np.ndarray) -> Any:
        dim = self.pb.tensor_shape_pb2.TensorShapeProto.Dim
        return self.pb.tensor_pb2.TensorProto(
            dtype=self.pb.types_pb2.DT_FLOAT,
            tensor_shape=self.pb.tensor_shape_pb2.TensorShapeProto(
                dim=[dim(size=int(s)) for s in data.shape]
            ),
            tensor_content=data.tobytes(),
        )

    def _add(self, step: int, tag: str, tensor: Any, metadata: Any) -> None:
        value = self.pb.summary_pb2.Summary.Value(tag=tag, tensor=tensor)
        if metadata is not None:
            value.metadata.CopyFrom(metadata)
        self._pending.setdefault(int(step), []).append(value)

    def _record(self, event: Any) -> None:
        data = event.SerializeToString()
        header = struct.pack("<Q", len(data))
        crc = masked_crc32c
        self._file.write(
            header + struct.pack("<I", crc(header)) + data + struct.pack("<I", crc(data))
        )


def detection_rows(curves: Any, i: int) -> np.ndarray | None:
    """Class `i` of `DetectionMAP.pr_curves` as PR-curve rows at COCO's recall points: TP =
    recall x ground truth, FP from the precision, TN = 0 (detection has no negatives); None
    without ground truth. TensorBoard draws precision against recall."""
    precision = curves.precision[i]
    if np.isnan(precision).all():
        return None  # no ground truth of this class
    g = float(curves.ground_truth[i])
    reached = precision > 0
    tp = np.where(reached, curves.recall * g, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        fp = np.where(reached, tp * (1.0 - precision) / np.where(reached, precision, 1.0), 0.0)
    return np.stack([tp, fp, np.zeros_like(tp), g - tp, np.nan_to_num(precision), curves.recall])
