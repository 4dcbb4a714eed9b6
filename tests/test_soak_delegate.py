"""4 interpreters, each with its own tfq delegate, invoked 10,000 times each
from 4 threads: every output identical to a single-threaded run, resident
memory flat after warm-up (tools/soak_delegate.py; a few seconds)."""
import pytest

from tfq_tools import soak_delegate


@pytest.fixture(scope="module")
def model():
    return soak_delegate.soak_model()


@pytest.mark.parametrize("delegate_threads", [1, 2])
def test_four_threads_match_a_single_thread_and_memory_stays_flat(model, delegate_threads):
    figures = soak_delegate.soak(model, threads=4, invokes=10000, warmup=500,
                                 delegate_threads=delegate_threads)
    assert figures["mismatches"] == 0
    # Allocator noise is well under a megabyte; a per-invoke leak of 100
    # bytes would show as 3.4 MB over these 38,000 invokes.
    assert abs(figures["rss_growth_mb"]) < 3.0, figures
