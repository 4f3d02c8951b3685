"""Run the README's usage example as a new user would, after `pip install "epochmetrics[jax]"`.

Only what that install brings is used (Keras, the backend, NumPy): the example's names
(`model`, `x`, `y`, `names`, ...) are defined here on random data, then the README's first
Python block under "## Usage" runs as written (2 epochs instead of 50), in the current
directory. It then checks what the example promises: one CSVLogger column per class, the
per-class and macro keys in History, and a saved model that loads without custom_objects.
Run by `tools/compat.py` in a fresh venv; exits non-zero on any failure.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def usage_block() -> str:
    text = README.read_text()
    section = text[text.index("\n## Usage") :]
    found = re.search(r"```python\n(.*?)```", section, flags=re.S)
    if found is None:
        raise SystemExit("README.md: no Python block under '## Usage'")
    return found.group(1)


def main() -> int:
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((256, 8)).astype("float32")
    y = rng.integers(0, 10, 256)
    names = ["cat", "dog", "bird", "fish", "frog", "deer", "fox", "owl", "bee", "ant"]
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(10, activation="softmax")])
    ns = {"model": model, "x": x, "y": y, "xv": x[:64], "yv": y[:64], "names": names}
    code = usage_block().replace("epochs=50", "epochs=2")
    exec(compile(code, "README.md usage example", "exec"), ns)

    with open("history.csv") as f:
        columns = next(csv.reader(f))
    expected = {f"val_f1_{name}" for name in names} | {"val_f1_macro", "f1_cat", "val_mcc"}
    missing = expected - set(columns)
    if missing:
        raise SystemExit(f"history.csv lacks {sorted(missing)}: {columns}")
    loaded = keras.models.load_model("best.keras")
    logs = loaded.evaluate(x[:64], y[:64], verbose=0, return_dict=True)
    if "f1_cat" not in logs or "f1_macro" not in logs:
        raise SystemExit(f"the loaded model logs {sorted(logs)}")
    import epochmetrics

    version = epochmetrics.__version__
    print(f"README usage example: ok (epochmetrics {version}, {len(columns)} columns)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
