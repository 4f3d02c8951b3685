"""The JAX processes of `tests/test_distributed.py`: 2 processes on localhost, one CPU device
each (`jax.distributed` with gloo CPU collectives), DataParallel over both, run by
`multiproc.launch`. Each prints `RESULT {json}`.
"""

from __future__ import annotations

import json
import os


def main() -> None:
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        f"localhost:{os.environ['MASTER_PORT']}",
        num_processes=world,
        process_id=rank,
        initialization_timeout=int(os.environ["COLLECTIVE_TIMEOUT"]),
    )
    import dist_evaluator as de
    import keras
    from multiproc import classification_data

    import epochmetrics as em

    x, y, _ = classification_data(1001, de.C, de.D)
    images = de.detection_samples(41)
    keras.utils.set_random_seed(0)  # the same initial weights in both processes
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
    out = {
        "whole": de.evaluate_all((x, y), images, batch_size=64, process_data="whole"),
        "own": de.evaluate_all(
            em.shard((x, y)), em.shard(images), batch_size=64, process_data="own"
        ),
    }
    # Intervals: weighted contiguous parts (torch's job covers "whole" and a sampler).
    s, ys, ws = de.interval_data()
    out["intervals_own"] = de.intervals_run(
        em.shard((s, ys, ws)), batch_size=64, process_data="own"
    )
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
