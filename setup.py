"""Builds tfq: the Python package, the tfq delegate as a plain shared library,
and tfq's TF kernels for QAT training steps.

`pip install .` / `pip install -e .` compiles every C++ source under
delegates/ into tfq/libtfq_delegate.so: no Python extension module (no
PyInit_, no libpython), no TFLite headers. The same sources build with Bazel
(WORKSPACE, delegates/BUILD).

tfq/cc/training_ops.cc becomes tfq/_training_ops.so, a TF op library built
against the installed TensorFlow's headers (tf.sysconfig): install with
`--no-build-isolation` after TensorFlow (tools/bootstrap.sh does).
"""
import glob
import os

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

DELEGATE_LIBRARY = "tfq.libtfq_delegate"
TRAINING_OPS_LIBRARY = "tfq._training_ops"
EXPORTS_MAP = "delegates/exports.lds"

# The supported stack; tools/bootstrap.sh installs exactly these.
PINNED_REQUIREMENTS = [
    "tensorflow==2.21.0",
    "tf-keras==2.21.0",
    "tensorflow-model-optimization==0.8.1",
    "ai-edge-litert==2.3.0",
    "absl-py>=1.2,<2",  # tensorflow-model-optimization 0.8.1 needs absl-py~=1.2
    "numpy>=1.26",
    "flatbuffers>=24.3",
    "tqdm>=4.60",
    "matplotlib>=3.8",  # tfq.analyze's plots
]
# playwright drives Debian's chromium (bootstrap installs it) to render
# tfq.analyze's HTML page in a test; it downloads no browser of its own.
# scikit-learn: its bundled 8x8 digits (no download) are the small real data
# set of the calibration tests and benchmark.
TEST_REQUIREMENTS = ["pytest>=8", "pytest-timeout>=2.3", "playwright>=1.45",
                     "scikit-learn>=1.3"]


class BuildPlainSharedLibrary(build_ext):
    """Builds the delegate as lib<name>.so, loadable by TFLite's plugin loader."""

    def get_ext_filename(self, fullname):
        package, _, name = fullname.rpartition(".")
        return os.path.join(*package.split("."), name + ".so")

    def get_export_symbols(self, ext):
        return []  # no PyInit_: exported symbols come from the version script

    def get_libraries(self, ext):
        return ext.libraries  # never link libpython

    def build_extension(self, ext):
        if ext.name == TRAINING_OPS_LIBRARY:
            # TensorFlow's own flags: its headers, C++ ABI and framework library.
            import tensorflow as tf  # pylint: disable=import-outside-toplevel
            ext.extra_compile_args = ext.extra_compile_args + tf.sysconfig.get_compile_flags()
            ext.extra_link_args = ext.extra_link_args + tf.sysconfig.get_link_flags()
        super().build_extension(ext)


delegate = Extension(
    DELEGATE_LIBRARY,
    sources=sorted(glob.glob("delegates/**/*.cc", recursive=True)),
    include_dirs=["."],
    language="c++",
    # -g0 after the interpreter's own flags (pyenv adds -g): keep the .so small.
    extra_compile_args=["-std=c++17", "-O3", "-g0", "-fvisibility=hidden",
                        "-Wall", "-Wextra", "-Wno-unused-parameter"],
    extra_link_args=["-pthread", f"-Wl,--version-script={EXPORTS_MAP}",
                     "-Wl,--no-undefined", "-s"],
    depends=sorted(glob.glob("delegates/**/*.h", recursive=True)) + [EXPORTS_MAP],
)

training_ops = Extension(
    TRAINING_OPS_LIBRARY,
    sources=["tfq/cc/training_ops.cc"],
    language="c++",
    # TF's headers warn about their own deprecations; -w keeps the build log readable.
    # No fused multiply-adds: the kernels must round each step as TF's ops do.
    extra_compile_args=["-O3", "-g0", "-w", "-fvisibility=hidden", "-ffp-contract=off"],
    extra_link_args=["-s"],
)

setup(
    name="tfq",
    version="0.1.0",
    description="TensorFlow / TFLite int8 quantization toolkit with a bit-exact C++ delegate",
    # tools/ (the absl command-line programs) installs as the package tfq_tools.
    packages=find_packages(include=["tfq", "tfq.*"]) + ["tfq_tools"],
    package_dir={"tfq_tools": "tools"},
    entry_points={"console_scripts": ["tfq-convert=tfq_tools.tfq_convert:run",
                                     "tfq-bench=tfq_tools.tfq_bench:run",
                                     "tfq-analyze=tfq_tools.tfq_analyze:run"]},
    python_requires=">=3.10",
    install_requires=PINNED_REQUIREMENTS,
    extras_require={"test": TEST_REQUIREMENTS},
    ext_modules=[delegate, training_ops],
    cmdclass={"build_ext": BuildPlainSharedLibrary},
    zip_safe=False,
)
