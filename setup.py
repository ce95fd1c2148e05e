"""Build step for the optional C extension ``nnmath.engine._ckernels`` (the compiled epoch).

Everything else about the package is in ``pyproject.toml``. The extension is ``optional``: on a
machine without a C compiler the install still succeeds and nnmath trains on its readable
reference loop instead (``nnmath.engine``, ``nnmath.train.fit``).
"""

import sys

from setuptools import Extension, setup

#: the headers _ckernels.c includes (a change to one rebuilds the extension)
HEADERS = (
    "_layout.h",
    "_activations.h",
    "_costs.h",
    "_optimizers.h",
    "_dropout.h",
    "_batchnorm.h",
    "_ckernels_epoch.h",
    "_crew.h",
    "_threads.h",
    "_checks.h",
)
flags = [] if sys.platform == "win32" else ["-O3", "-fno-math-errno", "-fno-trapping-math"]

setup(
    ext_modules=[
        Extension(
            "nnmath.engine._ckernels",
            sources=["src/nnmath/engine/_ckernels.c"],
            depends=[f"src/nnmath/engine/{h}" for h in HEADERS],
            extra_compile_args=flags + ([] if sys.platform == "win32" else ["-pthread"]),
            extra_link_args=[] if sys.platform == "win32" else ["-pthread"],
            optional=True,
        )
    ]
)
