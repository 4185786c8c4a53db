#!/usr/bin/env bash
# Creates or reuses the PyTorch venv that the `torch` cargo feature builds
# against (tch 0.26 needs libtorch from PyTorch 2.13.0, installed from PyPI;
# `safetensors` and the numpy its torch writer uses beside it, for
# scripts/export_layer.py), then exports the
# environment the build and the binaries need:
#
#   LIBTORCH_USE_PYTORCH=1          torch-sys asks the venv's python for libtorch
#   VIRTUAL_ENV, PATH               the venv's python first (torch-sys runs `python`)
#   LD_LIBRARY_PATH                 the venv's torch/lib first (for binaries built
#                                   elsewhere; ours also get an rpath, see build.rs)
#   SUPERLINEAR_TORCH_PYTHON        the venv's python, for tests that cross-check
#                                   checkpoints with PyTorch itself
#
# The venv lives outside the repository and is reused when it already imports
# torch 2.13.0, safetensors and numpy (a venv with torch only gets the other two added):
# ${SUPERLINEAR_TORCH_VENV:-${SUPERLINEAR_CACHE:-$HOME/.cache/superlinear}/torch-venv}
#
# Two ways to use it:
#   source scripts/torch-env.sh                     # set up, export into this shell
#   scripts/torch-env.sh cargo test --features torch  # set up, run one command inside
#   scripts/torch-env.sh                            # set up, print the exports
#
# A first install downloads about 5 GB from PyPI (about a minute here).

_sl_torch_version="2.13.0"
_sl_safetensors_req=("safetensors>=0.4,<1" "numpy")
_sl_cache="${SUPERLINEAR_CACHE:-$HOME/.cache/superlinear}"
_sl_venv="${SUPERLINEAR_TORCH_VENV:-$_sl_cache/torch-venv}"

_sl_torch_ok() {
    "$_sl_venv/bin/python" -c "import torch; assert torch.__version__.startswith('$_sl_torch_version')" \
        >/dev/null 2>&1
}

_sl_safetensors_ok() {
    "$_sl_venv/bin/python" -c "import numpy, safetensors.torch" >/dev/null 2>&1
}

_sl_safetensors_install() {
    echo "torch-env: installing ${_sl_safetensors_req[*]} into $_sl_venv" >&2
    "$_sl_venv/bin/python" -m pip install --disable-pip-version-check -q "${_sl_safetensors_req[@]}" >&2 \
        || return 1
    if ! _sl_safetensors_ok; then
        echo "torch-env: safetensors or numpy still does not import from $_sl_venv" >&2
        return 1
    fi
}

_sl_torch_setup() {
    if _sl_torch_ok; then
        if _sl_safetensors_ok; then
            echo "torch-env: reusing $_sl_venv (torch $_sl_torch_version, safetensors, numpy)" >&2
            return 0
        fi
        _sl_safetensors_install
        return
    fi
    local py
    py="$(command -v python3 || true)"
    if [ -z "$py" ]; then
        echo "torch-env: python3 not found; install it (Debian: apt-get install python3 python3-venv)" >&2
        return 1
    fi
    if [ ! -x "$_sl_venv/bin/python" ]; then
        echo "torch-env: creating venv $_sl_venv" >&2
        mkdir -p "$(dirname "$_sl_venv")" || return 1
        if ! "$py" -m venv "$_sl_venv"; then
            echo "torch-env: '$py -m venv' failed; on Debian install python3-venv" >&2
            rm -rf "$_sl_venv"
            return 1
        fi
    fi
    echo "torch-env: installing torch==$_sl_torch_version into $_sl_venv (about 5 GB)" >&2
    "$_sl_venv/bin/python" -m pip install --disable-pip-version-check -q "torch==$_sl_torch_version" >&2 \
        || return 1
    if ! _sl_torch_ok; then
        echo "torch-env: torch $_sl_torch_version still does not import from $_sl_venv" >&2
        return 1
    fi
    _sl_safetensors_ok || _sl_safetensors_install
}

_sl_torch_export() {
    local lib
    lib="$("$_sl_venv/bin/python" -c "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))" 2>/dev/null)" \
        || return 1
    export LIBTORCH_USE_PYTORCH=1
    export VIRTUAL_ENV="$_sl_venv"
    export PATH="$_sl_venv/bin:$PATH"
    export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export SUPERLINEAR_TORCH_PYTHON="$_sl_venv/bin/python"
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    # Sourced: export into the caller's shell; report failure without exiting it.
    _sl_torch_setup && _sl_torch_export
else
    set -euo pipefail
    _sl_torch_setup
    _sl_torch_export
    if [ "$#" -gt 0 ]; then
        exec "$@"
    fi
    printf 'export LIBTORCH_USE_PYTORCH=1\n'
    printf 'export VIRTUAL_ENV=%q\n' "$VIRTUAL_ENV"
    printf 'export PATH=%q\n' "$PATH"
    printf 'export LD_LIBRARY_PATH=%q\n' "$LD_LIBRARY_PATH"
    printf 'export SUPERLINEAR_TORCH_PYTHON=%q\n' "$SUPERLINEAR_TORCH_PYTHON"
fi
