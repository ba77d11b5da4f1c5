"""The watermark extra needs no audio library: the generate path runs where no system libsndfile can be loaded.

transformers' GPT-2 imports its audio helpers, which import `soundfile` whenever it is installed (LiteLLM's proxy
pulls it into the full environment); the lock pins soundfile's manylinux wheel, which bundles libsndfile, so a
machine without the Debian package (`libsndfile1`, which Chromium happens to pull in) still runs it.
"""

from __future__ import annotations

import importlib.util
import platform
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

# Make every system libsndfile unloadable in the child: ctypes finds none, and cffi refuses any libsndfile that
# is not the one shipped inside soundfile's wheel (_soundfile_data).
BLOCK_SYSTEM_LIBSNDFILE = """
import ctypes.util, cffi
_find = ctypes.util.find_library
ctypes.util.find_library = lambda name: None if "sndfile" in name else _find(name)
_dlopen = cffi.FFI.dlopen
def dlopen(self, name, *a, **k):
    if "sndfile" in str(name) and "_soundfile_data" not in str(name):
        raise OSError(f"blocked by the test: {name}")
    return _dlopen(self, name, *a, **k)
cffi.FFI.dlopen = dlopen
"""

GENERATE = """
import numpy as np
from distillguard.watermark import WatermarkKey
from distillguard.watermark.tinylm import generate, tiny_gpt2
key = WatermarkKey(secret=bytes(range(32)), tokenizer="t.json", tokenizer_sha256="0" * 64)
out = generate(tiny_gpt2(50, seed=0, n_layer=1, n_embd=16, n_ctx=32), np.ones((1, 3), dtype=np.int64), 5, key=key,
               seed=1)
print("generated", len(out[0]))
"""


def test_watermark_generate_runs_without_a_system_libsndfile() -> None:
    res = subprocess.run([sys.executable, "-c", BLOCK_SYSTEM_LIBSNDFILE + GENERATE], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "generated 5" in res.stdout


@pytest.mark.skipif(importlib.util.find_spec("soundfile") is None, reason="soundfile not installed")
def test_installed_soundfile_bundles_its_library() -> None:
    if sys.platform == "linux" and platform.machine() in ("x86_64", "aarch64"):
        assert importlib.util.find_spec("_soundfile_data") is not None, (
            "soundfile is installed without its bundled libsndfile: requirements.lock must carry the hash of "
            "soundfile's manylinux wheel (make lock may keep only the pure-Python wheel's hash)")
