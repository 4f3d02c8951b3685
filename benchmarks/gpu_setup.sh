# Keras on the device machine for benchmarks/gpu.py (see benchmarks/RESULTS.md, "GPU").
#
# The device image (Python 3.12) has jax with CUDA, torch, torchmetrics, scikit-learn, numpy
# and Keras' other needs (absl-py, h5py, ml-dtypes, packaging, rich), but not keras, namex
# and optree, and nothing can be downloaded there. So the wheels travel in .whl/ (ignored by
# git, `carry: [".whl"]`, about 3 MB):
#
#   bash benchmarks/gpu_setup.sh download    # here, once, in the checkout that the device gets
#   . benchmarks/gpu_setup.sh                # there: installs what is missing into /tmp/site
#
# Sourced, it exports PYTHONPATH=/tmp/site (gpu.py passes it on to its parts); a package the
# image already has is left alone.

_em_pins="keras==3.15.1 namex==0.1.0 optree==0.20.0"
_em_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ "${1:-}" = "download" ]; then
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$_em_root/.whl" $_em_pins
    ls -l "$_em_root/.whl"
else
    _em_missing=""
    for _em_name in keras namex optree; do
        python3 -c "import $_em_name" 2>/dev/null || _em_missing="$_em_missing $_em_name"
    done
    if [ -n "$_em_missing" ]; then
        _em_wheels=""
        for _em_name in $_em_missing; do
            _em_found=$(ls "$_em_root"/.whl/"$_em_name"-*.whl 2>/dev/null | head -n 1)
            if [ -z "$_em_found" ]; then
                echo "gpu_setup: $_em_name is missing and .whl/ has no wheel of it" >&2
                echo "  (here: bash benchmarks/gpu_setup.sh download; then carry .whl)" >&2
                return 1 2>/dev/null || exit 1
            fi
            _em_wheels="$_em_wheels $_em_found"
        done
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/site $_em_wheels || { return 1 2>/dev/null || exit 1; }
        export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
        echo "gpu_setup: installed$_em_missing into /tmp/site"
    fi
fi
unset _em_pins _em_root _em_missing _em_name _em_wheels _em_found
