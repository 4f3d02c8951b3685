"""Pure math behind every metric: no Metric, Callback or plotting here; imports `_backend` only.

Public, stable modules (whole arrays on the host, NumPy float64, scikit-learn / pycocotools
semantics):

- `functional.ranking`: `roc_auc`, `average_precision`, `roc_curve`, `precision_recall_curve`,
  `UndefinedMetricWarning`.
- `functional.operating_points`: `precision_at_recall`, `recall_at_precision`,
  `sensitivity_at_specificity`, `specificity_at_sensitivity`, `roc_auc_max_fpr`.
- `functional.calibration`: `calibration_error`.
- `functional.bootstrap`: `replicate_weights` (the Poisson(1) replicate weights every
  interval of `EpochEvaluator(confidence=...)` uses), `percentile_interval`, `paired_gain`.
- `functional.detection`: `coco_evaluate`, `detection_map`, `summary_text`, `COCOEvaluation`.

Internal (their signatures may change): the in-graph pieces the metrics are built from,
`stat_scores` (batch -> sums), `reductions` (sums -> results, in an explicit array namespace
`xp`), `ranking_graph` and `operating_points_ops` (score bins, group counts), and every
module whose name starts with an underscore (`_args` options and messages, `_format` the one
batch formatter, `_layout` state layouts, `_host_format` the one host validator, the COCO
kernels).
"""
