"""Which process this is, when several train one model: files are written by process 0 only.

- torch: the rank in the default `torch.distributed` process group (0 without one);
- JAX: `jax.process_index()` (multi-host and `jax.distributed.initialize`);
- TensorFlow: the chief of a multi-worker `tf.distribute` strategy (worker 0 when the cluster
  has no chief); 0 outside multi-worker training.

Nothing is imported that the backend in use has not imported already, except the backend's
own framework.
"""

from __future__ import annotations

import sys

import keras

__all__ = ["is_process_zero", "process_index"]


def process_index() -> int:
    """This process's index among the processes training the model (0 when alone)."""
    backend = keras.backend.backend()
    if backend == "torch":
        dist = sys.modules.get("torch.distributed")
        if dist is not None and dist.is_available() and dist.is_initialized():
            return int(dist.get_rank())
        return 0
    if backend == "jax":
        import jax

        return int(jax.process_index())
    if backend == "tensorflow":
        return _tf_worker_index()
    return 0


def _tf_worker_index() -> int:
    import tensorflow as tf

    if not tf.distribute.has_strategy():
        return 0
    resolver = getattr(tf.distribute.get_strategy(), "cluster_resolver", None)
    if resolver is None:
        return 0
    cluster = resolver.cluster_spec().as_dict()
    if not cluster:
        return 0
    task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
    if "chief" in cluster:  # the chief is process 0, workers come after it
        return 0 if task_type == "chief" else 1 + task_id
    return task_id if task_type == "worker" else 1 + task_id


def is_process_zero() -> bool:
    """Whether this process writes files (logs, run directories, event files)."""
    return process_index() == 0
