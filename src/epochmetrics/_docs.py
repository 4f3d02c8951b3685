"""Docstrings of the public classes and functions: one decorator and the shared fragments.

Every public class and function is decorated with `@docstring(...)`, so that `help()` shows
every argument in full, in the order of the signature, as scikit-learn writes them (never "as
in `precision_at_recall`"), and the text of an argument shared by several objects is written
once, here. A docstring may hold two kinds of placeholders, written as `string.Template`
fields (`$$` for a literal dollar sign):

- a line that is only `$args`: the `Args:` entries, one per parameter of the signature (a
  class's `__init__`), each described by the first of the `tables` that has its name;
- a line that is only `$name`, or `$name` inside a line: the fragment `name` given as a
  keyword (multi-line fragments are indented to the line's indentation).

A docstring without placeholders is kept as written. `tests/test_docs.py` checks that every
public class and function went through the decorator and documents every argument.

    @docstring(RANKING_ARGS, METRIC_ARGS, inputs=RANKING_INPUTS)
    class AUROC(RankingMetric):
        '''Area under the ROC curve over the whole epoch, as scikit-learn's `roc_auc_score`.

        $inputs

        Args:
            $args
        '''

Standard library only: both stacks import it.
"""

from __future__ import annotations

import inspect
import re
import string
import textwrap
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

__all__ = ["DOCUMENTED", "count_docstring", "docstring", "documented_args"]

T = TypeVar("T")
# Width of the generated `Args:` lines (the class docstrings' entries start at column 8).
WIDTH = 96
_BLOCK = re.compile(r"^(\s*)\$(\w+)\s*$")
# The objects that went through `docstring`, for tests/test_docs.py.
DOCUMENTED: list[Any] = []


def docstring(*tables: Mapping[str, str], **fragments: str) -> Callable[[T], T]:
    """Render the docstring of a public class or function (see the module docstring).

    Args:
        *tables: argument name -> description, searched in order (the object's own first).
        **fragments: the texts of the `$name` placeholders.

    Raises:
        TypeError: at decoration, for a parameter no table describes or a placeholder
            without a fragment: a docstring is never left half written.
    """

    def expand(obj: Any, lines: list[str], depth: int = 0) -> list[str]:
        out = []
        for line in lines:
            match = _BLOCK.match(line)
            if match is None:
                out.append(line)
                continue
            indent, name = match.groups()
            if name == "args":
                out += _args_lines(obj, tables, indent)
            elif name in fragments and depth < 4:  # a fragment may hold placeholders too
                out += expand(obj, _indented(fragments[name], indent), depth + 1)
            else:
                raise TypeError(f"{_name(obj)}'s docstring: no fragment for ${name}.")
        return out

    def apply(obj: T) -> T:
        lines = expand(obj, (getattr(obj, "__doc__", None) or "").split("\n"))
        try:
            text = string.Template("\n".join(lines)).substitute(fragments)
        except (KeyError, ValueError) as err:
            raise TypeError(f"{_name(obj)}'s docstring: bad placeholder {err}.") from None
        obj.__doc__ = text
        DOCUMENTED.append(obj)
        return obj

    return apply


def count_docstring(*tables: Mapping[str, str], returns: str, raises: str = "") -> Callable[[T], T]:
    """`docstring` for a metric of the count family: `$body` is its inputs, arguments (the
    `tables`, then `METRIC_ARGS`), `returns` and `raises` (default `COUNT_RAISES`)."""
    return docstring(
        *tables,
        METRIC_ARGS,
        body=BODY,
        inputs=COUNT_INPUTS,
        returns=returns,
        raises=raises or COUNT_RAISES,
    )


def documented_args(obj: Any) -> list[str]:
    """The argument names the `Args:` section of `obj`'s docstring lists, in order."""
    doc = inspect.getdoc(obj) or ""
    section = re.search(r"^Args:\n((?:[ \t]+.*\n?|\n)*)", doc, re.M)
    if section is None:
        return []
    names = re.findall(r"^    (\*{0,2}\w+)(?: \(.*?\))?:", section.group(1), re.M)
    return [n.lstrip("*") for n in names]


def _parameters(obj: Any) -> list[str]:
    signature = inspect.signature(obj)
    return [
        p.name
        for p in signature.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _args_lines(obj: Any, tables: tuple[Mapping[str, str], ...], indent: str) -> list[str]:
    lines = []
    for name in _parameters(obj):
        text = next((t[name] for t in tables if name in t), None)
        if text is None:
            raise TypeError(f"{_name(obj)}'s docstring: no description of argument {name!r}.")
        lines += textwrap.wrap(
            " ".join(text.split()),
            width=WIDTH,
            initial_indent=f"{indent}{name}: ",
            subsequent_indent=indent + "    ",
            break_on_hyphens=False,
        )
    return lines


def _indented(text: str, indent: str) -> list[str]:
    return [indent + line if line.strip() else "" for line in textwrap.dedent(text).split("\n")]


def _name(obj: Any) -> str:
    return str(getattr(obj, "__qualname__", obj))


# --- the shared fragments -----------------------------------------------------------------------
# Arguments every streaming metric takes (the count family's wording; tables before this one in
# a `docstring` call override an entry).
METRIC_ARGS = {
    "task": '"binary", "multiclass" or "multilabel". Required: never guessed from shapes.',
    "num_classes": "Number of classes (multiclass) or labels (multilabel). Unused for binary.",
    "threshold": "Decision threshold for binary and multilabel probabilities; a sample is "
    "positive when its probability is strictly greater.",
    "from_logits": "Whether binary/multilabel `y_pred` holds logits rather than probabilities.",
    "ignore_index": "Label value whose samples (multilabel: elements) are skipped.",
    "class_names": "Names used in per-class log keys instead of class indices.",
    "name": "Base name of the log keys.",
    "dtype": "Keras dtype policy of the metric (the state is always float32 pairs).",
    "per_step": "Which keys a train or test step returns when the result has several: "
    '"averages" (default: averaged and single-value keys, no per-class keys), "all" or "none". '
    "The epoch's logs (History, CSVLogger, callbacks' `on_epoch_end`, `evaluate`) always hold "
    "every key; only per-batch logs (the progress bar during an epoch, batch-level callbacks, "
    "`train_on_batch`) see fewer. Per-class keys cost each step ~10-30 us apiece in Keras' own "
    "log handling. On Keras 3.8-3.13 steps return every key whatever `per_step` (Keras there "
    "keeps a step's logs for the epoch when they hold fewer keys than a fresh read).",
}

# The per-class ratios (precision, recall, F-scores, specificity, Jaccard).
RATIO_ARGS = {
    "average": '"micro", "macro", "weighted", None (one scalar log key per class, '
    '`<name>_<class>`), or for binary "binary" (the positive class). Defaults to "binary" for '
    'binary and "macro" otherwise. "macro" averages over the classes present in the epoch, as '
    "scikit-learn's default `labels=None` does. Multilabel also takes \"samples\" (each row's "
    "score over its labels, then the mean over rows, as scikit-learn; not for Specificity).",
    "zero_division": "Value of a ratio whose denominator is 0: 0.0, 1.0 or nan.",
    "top_k": "Multiclass scores only: the k highest-scoring classes of each sample are its "
    "predictions (ties at the k-th score go to the lower class index, as argmax: top_k=1 "
    "predicts what the default does); each sample then predicts k classes.",
    "multidim_average": '"global" (counts over every element of the epoch) or "samplewise" '
    "(the metric of each sample, e.g. each image of a segmentation batch, then the weighted "
    "mean over samples). A sample whose value is undefined (a void image, every pixel ignored) "
    'counts as `zero_division`, for every average, as scikit-learn\'s `average="samples"`; '
    "`zero_division=nan` leaves it out.",
}

# The ranking metrics (AUROC, AveragePrecision, the operating points).
RANKING_ARGS = {
    "average": '"macro" (mean over classes; multilabel macro AP is mAP), "weighted" (by '
    'positive support), "micro" (all class/sample pairs pooled) or None (one scalar log key '
    "per class, `<name>_<class>`). Ignored for binary.",
    "from_logits": "Whether `y_pred` holds logits (sigmoid for binary/multilabel, softmax for "
    "multiclass) rather than probabilities.",
    "exact": "Keep the scores in a buffer and compute the exact value (needs `capacity`).",
    "capacity": "Buffer size in samples for `exact=True`: at least the samples per epoch.",
    "bins_per_octave": "Binned-mode resolution, a power of two from 1 to 1024.",
    "dtype": "Keras dtype policy of the metric (the state is always float32).",
}

# The exact functions on whole arrays (`functional.ranking`, `functional.operating_points`).
HOST_RANKING_ARGS = {
    "y_true": "Binary `(n,)` 0/1 labels; multiclass `(n,)` integer labels or `(n, C)` one-hot; "
    "multilabel `(n, L)` 0/1.",
    "y_score": "Binary `(n,)` scores; multiclass and multilabel `(n, C)`. Any finite real "
    "values (probabilities, logits, decision values).",
    "task": '"binary", "multiclass" (one-vs-rest) or "multilabel".',
    "num_classes": "Number of classes or labels (multiclass, multilabel).",
    "average": '"macro" (unweighted mean over classes), "weighted" (by positive support), '
    '"micro" (all class/sample pairs pooled) or None (one value per class). Ignored for '
    "binary.",
    "sample_weight": "`(n,)` non-negative sample weights.",
    "from_logits": "Multiclass only: apply softmax to `y_score` first. (Sigmoid does not change "
    "a ranking, so binary and multilabel scores are used as given.)",
    "ignore_index": "Label value whose samples (multilabel: elements) are left out.",
}

# Inputs of `update_state` of the count family and of the ranking metrics.
COUNT_INPUTS = """\
Inputs to `update_state(y_true, y_pred, sample_weight=None)`: binary `(B,)` or `(B, 1)`
labels and probabilities/logits (or 0/1 integer predictions); multiclass `y_true` as integer
labels `(B,)`/`(B, 1)` or one-hot `(B, C)` and `y_pred` as `(B, C)` scores or `(B,)` integer
labels; multilabel `(B, L)` for both. `sample_weight` is a scalar or `(B,)`. Dense inputs
(segmentation) put extra axes after the batch axis: `(B, H, W)` labels with `(B, H, W, C)`
scores, `(B, H, W, C)` one-hot with scores, `(B, H, W)` label maps with `(B, H, W)` label
maps (integer y_pred); binary `(B, H, W)`; multilabel `(B, H, W, L)`; `sample_weight`
`(B,)` per sample or `(B, H, W)` per element; `ignore_index` skips those label values."""

RANKING_RAISES = "ValueError: on invalid arguments, shapes, or (eagerly) label and score values."

# The sections after a metric's description: inputs, arguments, what it returns and raises.
BODY = """\
$inputs

Args:
    $args

Returns:
    $returns

Raises:
    $raises"""

COUNT_RAISES = "ValueError: on invalid arguments, shapes, or (eagerly) label values."

RANKING_INPUTS = """\
Inputs to `update_state(y_true, y_pred, sample_weight=None)`: binary `(B,)` or `(B, 1)`
labels and probabilities (or logits); multiclass `y_true` as integer labels `(B,)`/`(B, 1)`
or one-hot `(B, C)` and `y_pred` as `(B, C)` scores; multilabel `(B, L)` for both.
`sample_weight` has shape `(B,)`. Dense inputs (segmentation) have extra axes between the
batch and the class axis, `(B, ..., C)`, and count every element as a sample (e.g. every
pixel of `(B, H, W)` labels); `sample_weight` is then `(B,)` or per element `(B, ...)`."""

# Detection in the Keras convention (`DetectionMAP`, `functional.detection.detection_map`).
DETECTION_ARGS = {
    "y_true": '`{"boxes": (B, G, 4), "labels": (B, G)}` (optional `"iscrowd"`, `"area"`), '
    "label -1 marking padding, or a list of per-image dicts of any length.",
    "y_pred": '`{"boxes": (B, D, 4), "confidence"` or `"scores": (B, D), "labels": (B, D)}` '
    '(optional `"num_detections": (B,)`), or a list of per-image dicts.',
    "bounding_box_format": 'Keras\' name of the box format: "xyxy", "yxyx", "xywh", '
    '"center_xywh", "center_yxhw", or "rel_xyxy", "rel_yxyx", "rel_xywh", "rel_center_xywh" '
    "(these need `image_shape`; coordinates from 0 to 1).",
    "num_classes": "Class ids are `0 .. num_classes - 1`; labels outside are an error. None: "
    "any non-negative label (classes up to the largest seen).",
    "class_names": "Names of the classes for the per-class keys (sets `num_classes`).",
    "iou_thresholds": "Increasing IoU thresholds (None: 0.5, 0.55, ..., 0.95 as pycocotools).",
    "max_detections": "Increasing detections kept per image and class (pycocotools' "
    "`maxDets`). AP and the area-range ARs use the largest.",
    "image_shape": "`(height, width)` in pixels, for the `rel_*` formats.",
}
