import sys

import numpy as np
import pytest

from torchgeo_als4gan.runtime import release_free_memory


def rss_mib() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc only')
def test_release_free_memory_returns_freed_heap_to_the_os() -> None:
    # 64 KiB blocks come from the heap (below the mmap threshold); keeping every
    # 16th alive fragments it, so free() alone cannot shrink it.
    blocks = [np.ones(8192) for _ in range(2048)]
    kept = blocks[::16]
    del blocks
    before = rss_mib()
    assert release_free_memory()
    assert rss_mib() < before - 50
    assert len(kept) == 128


def test_resolve_device() -> None:
    import torch

    from torchgeo_als4gan.runtime import resolve_device

    assert resolve_device('cpu') == torch.device('cpu')
    expected = 'cuda' if torch.cuda.is_available() else 'cpu'
    assert resolve_device('auto').type == expected
