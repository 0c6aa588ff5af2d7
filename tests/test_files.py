from pathlib import Path

import pytest

from torchgeo_als4gan.files import atomic_write


def test_atomic_write_replaces_on_success(tmp_path: Path) -> None:
    target = tmp_path / 'selection.csv'
    target.write_text('old')
    with atomic_write(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == '.csv' and tmp != target
        tmp.write_text('new')
        assert target.read_text() == 'old'
    assert target.read_text() == 'new'
    assert [p.name for p in tmp_path.iterdir()] == ['selection.csv']


def test_atomic_write_failure_keeps_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / 'state.json'
    target.write_text('{"round": 1}')

    def write_half_then_fail() -> None:
        with atomic_write(target) as tmp:
            tmp.write_text('{"rou')
            raise RuntimeError('disk full')

    with pytest.raises(RuntimeError, match='disk full'):
        write_half_then_fail()
    assert target.read_text() == '{"round": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ['state.json']


def test_folder_lock(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from torchgeo_als4gan.files import folder_lock

    with folder_lock(tmp_path, 'als4gan experiment'):
        assert (tmp_path / '.lock').read_text().split()[0] == str(os.getpid())
        # a second writer is refused while the first runs
        with (
            pytest.raises(
                FileExistsError, match=r'als4gan experiment is already running'
            ),
            folder_lock(tmp_path, 'als4gan experiment'),
        ):
            pass
    assert not (tmp_path / '.lock').exists()
    # a lock left by a process that has ended is taken over
    done = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                          capture_output=True, text=True, check=True)  # fmt: skip
    import socket

    (tmp_path / '.lock').write_text(f'{done.stdout.strip()} {socket.gethostname()}\n')
    with folder_lock(tmp_path, 'x'):
        assert (tmp_path / '.lock').read_text().split()[0] == str(os.getpid())
