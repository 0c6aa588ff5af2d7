"""``executor: local``: cells as child processes, in parallel, killed and resumed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.fixture_args import DATA_ARGS
from torchgeo_als4gan.experiments import load_experiment
from torchgeo_als4gan.experiments.executor import gpu_slots
from torchgeo_als4gan.experiments.runner import run_cell
from torchgeo_als4gan.main import main
from torchgeo_als4gan.runs import slurm_parameters
from torchgeo_als4gan.runs.claims import read_claim, write_claim

from .test_runner import small_grid

ROOT = Path(__file__).parents[2]
#: What must be equal between two runs of the same cells (not time or paths).
SCORES = ['ratio', 'strategy', 'method', 'seed', 'labeled', 'val_miou', 'test_miou',
          'test_miou_low', 'test_miou_high', 'test_items', 'settings']  # fmt: skip


def grid(tmp_path: Path, name: str, **changes: object) -> Path:
    path = small_grid(tmp_path, **{'ratios': [0.25, 0.5, 0.75], **changes})
    moved = tmp_path / f'{name}.yaml'
    moved.write_text(
        path.read_text().replace(str(tmp_path / 'small'), str(tmp_path / name))
    )
    return moved


@pytest.fixture(scope='module')
def sequential(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    tmp_path = tmp_path_factory.mktemp('sequential')
    main(['experiment', '--config', str(grid(tmp_path, 'grid'))])
    return pd.read_csv(tmp_path / 'grid' / 'results.csv')


def test_parallel_child_processes_give_the_sequential_results(
    tmp_path: Path, sequential: pd.DataFrame
) -> None:
    path = grid(tmp_path, 'grid', executor='local', max_parallel=2)
    main(['experiment', '--config', str(path)])
    out = tmp_path / 'grid'
    parallel = pd.read_csv(out / 'results.csv')
    pd.testing.assert_frame_equal(parallel[SCORES], sequential[SCORES])
    for name in parallel['checkpoint']:
        assert Path(name).is_file() and Path(name).is_relative_to(out)
    logs = sorted(out.glob('runs/*/cell.log'))
    assert len(logs) == 3  # every cell ran in its own process


def _workers_of(folder: Path) -> list[int]:
    found = []
    for proc in Path('/proc').iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / 'cmdline').read_bytes().replace(b'\0', b' ').decode()
        except OSError:
            continue
        if 'cell_worker' in command and str(folder) in command:
            found.append(int(proc.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='/proc, PDEATHSIG')
def test_a_killed_parallel_grid_resumes_to_the_same_table(
    tmp_path: Path, sequential: pd.DataFrame
) -> None:
    path = grid(tmp_path, 'grid', executor='local', max_parallel=2)
    out = tmp_path / 'grid'
    runner = subprocess.Popen(
        [sys.executable, '-m', 'torchgeo_als4gan.main', 'experiment', '--config',
         str(path)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:  # the first finished cell, the others running
        if (out / 'results.csv').is_file() and _workers_of(out):
            break
        assert runner.poll() is None, 'the grid ended before it could be killed'
        time.sleep(0.2)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    partial = pd.read_csv(out / 'results.csv')
    assert 1 <= len(partial) < 3
    for _ in range(50):  # the children die with their runner
        if not _workers_of(out):
            break
        time.sleep(0.1)
    assert not _workers_of(out)
    main(['experiment', '--config', str(path)])
    final = pd.read_csv(out / 'results.csv')
    pd.testing.assert_frame_equal(final[SCORES], sequential[SCORES])


def test_executor_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match="executor must be 'inprocess', 'local' or 'slurm'"
    ):
        load_experiment(grid(tmp_path, 'a', executor='cloud'))
    with pytest.raises(ValueError, match='max_parallel > 1 needs executor: local'):
        load_experiment(grid(tmp_path, 'b', max_parallel=2))
    with pytest.raises(ValueError, match='gpus_per_cell must be an integer >= 0'):
        load_experiment(grid(tmp_path, 'c', executor='local', gpus_per_cell=-1))


def test_gpu_slots_never_share_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '0,1,2,3,4,5,6,7')
    assert gpu_slots(8, 1) == [str(i) for i in range(8)]
    assert gpu_slots(2, 4) == ['0,1,2,3', '4,5,6,7']
    assert gpu_slots(3, 0) == [None, None, None]
    with pytest.raises(ValueError, match='needs 9 GPUs; 8 visible'):
        gpu_slots(3, 3)


def test_a_ddp_method_runs_as_its_own_fit_process_in_a_cell(tmp_path: Path) -> None:
    method = tmp_path / 'ddp.yaml'
    config = yaml.safe_load((ROOT / 'configs' / 'ucm_supervised.yaml').read_text())
    config['trainer'].update(devices=2, strategy='ddp', accelerator='cpu')
    method.write_text(yaml.safe_dump(config))
    data = [
        *DATA_ARGS['ucm'],
        '--data.init_args.batch_size=2',
        '--data.init_args.steps_per_epoch=2',
    ]  # a batch for each of 2 ranks
    path = grid(tmp_path, 'ddp_grid', executor='local', ratios=[0.5],
                methods={'supervised': str(method)}, data_args=data)  # fmt: skip
    main(['experiment', '--config', str(path)])
    results = pd.read_csv(tmp_path / 'ddp_grid' / 'results.csv')
    assert len(results) == 1 and results['test_miou'].between(0, 1).all()
    assert results['labeled'].iloc[0] == 3  # ceil(0.5 * 6 train tiles)
    (log,) = (tmp_path / 'ddp_grid' / 'runs').glob('*/cell.log')
    text = log.read_text()
    assert 'MEMBER: 2/2' in text and 'distributed_backend=gloo' in text  # two ranks


def test_the_slurm_executor_through_submitit_gives_the_sequential_results(
    tmp_path: Path, sequential: pd.DataFrame
) -> None:
    path = grid(tmp_path, 'grid', executor='slurm', slurm={'cluster': 'local'})
    main(['experiment', '--config', str(path)])
    results = pd.read_csv(tmp_path / 'grid' / 'results.csv')
    pd.testing.assert_frame_equal(results[SCORES], sequential[SCORES])
    assert list((tmp_path / 'grid' / 'slurm').glob('*_result.pkl'))  # submitit's jobs


def test_a_job_array_gives_the_sequential_results(
    tmp_path: Path, sequential: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    path = grid(
        tmp_path, 'grid', executor='slurm',
        slurm={'cluster': 'local', 'array': True, 'array_parallelism': 2},
    )  # fmt: skip
    main(['experiment', '--config', str(path)])
    results = pd.read_csv(tmp_path / 'grid' / 'results.csv')
    pd.testing.assert_frame_equal(results[SCORES], sequential[SCORES])
    assert capsys.readouterr().out.count('submitted as array task') == 3
    runs = sorted((tmp_path / 'grid' / 'runs').iterdir())
    claims = [json.loads((run / 'claim.json').read_text()) for run in runs]
    assert len({c['job_id'] for c in claims}) == len(runs) == 3  # a task per cell


def test_the_sbatch_script_of_an_array(tmp_path: Path) -> None:
    from submitit.slurm.slurm import _make_sbatch_string

    parameters = slurm_parameters(
        {'partition': 'gpu', 'array': True, 'array_parallelism': 2}
    )
    script = _make_sbatch_string(
        command='python -m x', folder=tmp_path, map_count=5, **parameters
    )
    assert '#SBATCH --array=0-4%2' in script
    with pytest.raises(ValueError, match='slurm.array_parallelism needs slurm.array'):
        load_experiment(grid(tmp_path, 'a', executor='slurm',
                             slurm={'array_parallelism': 4}))  # fmt: skip
    with pytest.raises(ValueError, match='slurm.array must be true or false'):
        load_experiment(grid(tmp_path, 'b', executor='slurm', slurm={'array': 'yes'}))


def test_the_sbatch_script_asks_for_what_the_yaml_says(tmp_path: Path) -> None:
    from submitit.slurm.slurm import _make_sbatch_string

    parameters = slurm_parameters({
        'partition': 'gpu', 'gpus_per_node': 4, 'nodes': 2, 'time_min': 120,
        'mem_gb': 64, 'sbatch': {'account': 'mapping'},
    })  # fmt: skip
    script = _make_sbatch_string(command='python -m x', folder=tmp_path, **parameters)
    for line in ('--partition=gpu', '--gpus-per-node=4', '--nodes=2', '--time=120',
                 '--requeue', '--mem=64GB', '--account=mapping',
                 '--ntasks-per-node=1'):  # fmt: skip
        assert f'#SBATCH {line}' in script, line
    with pytest.raises(ValueError, match="slurm: unknown keys \\['gpus'\\]"):
        load_experiment(grid(tmp_path, 'a', executor='slurm', slurm={'gpus': 4}))
    with pytest.raises(ValueError, match="slurm: unknown keys \\['gpus'\\]"):
        slurm_parameters({'gpus': 4})  # the same check as the YAML's
    with pytest.raises(ValueError, match='slurm: options need executor: slurm'):
        load_experiment(grid(tmp_path, 'b', slurm={'partition': 'gpu'}))


def test_cells_claimed_by_jobs_are_not_submitted_twice(
    tmp_path: Path, sequential: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    path = grid(tmp_path, 'grid', executor='slurm', slurm={'cluster': 'local'})
    config = load_experiment(path)
    first, second, third = config.cells()
    runs = tmp_path / 'grid' / 'runs'
    # the first cell's job finished after its runner stopped: its row is in its folder
    (runs / first.name).mkdir(parents=True)
    row = run_cell(config, first, runs / first.name)
    (runs / first.name / 'cell_result.json').write_text(
        json.dumps(row, default=lambda v: v.item())
    )
    ended = subprocess.Popen([sys.executable, '-c', 'pass'])
    ended.wait()
    write_claim(runs / first.name, str(ended.pid), 'local')
    # the second cell's job is still running
    alive = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])
    try:
        (runs / second.name).mkdir()
        (runs / second.name / 'partial.txt').write_text('the job writes here')
        write_claim(runs / second.name, str(alive.pid), 'local')
        main(['experiment', '--config', str(path), '--status'])
        status = capsys.readouterr().out.splitlines()
        assert status[1].split()[:2] == ['running', second.name]
        main(['experiment', '--config', str(path)])
        out = capsys.readouterr().out
        assert f'{second.name}: claimed by job {alive.pid}, which has not ended' in out
        assert (
            f'{first.name}: finished by job {ended.pid} after the runner stopped' in out
        )
        assert (runs / second.name / 'partial.txt').is_file()  # left to its job
        results = pd.read_csv(tmp_path / 'grid' / 'results.csv')
        assert sorted(results['ratio']) == [first.ratio, third.ratio]
    finally:
        alive.kill()
        alive.wait()
    # its job ended without a result: the next run submits the cell again
    main(['experiment', '--config', str(path)])
    assert f'{second.name}: submitted as job' in capsys.readouterr().out
    results = pd.read_csv(tmp_path / 'grid' / 'results.csv')
    pd.testing.assert_frame_equal(results[SCORES], sequential[SCORES])


@pytest.mark.parametrize(
    ('state', 'active'),
    [('PENDING', True), ('RUNNING', True), ('REQUEUED', True), ('UNKNOWN', True),
     ('COMPLETED', False), ('FAILED', False), ('CANCELLED by 1234', False),
     ('TIMEOUT', False)],
)  # fmt: skip
def test_a_slurm_claim_is_active_until_its_job_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: str, active: bool
) -> None:
    import submitit

    asked: list[tuple[Path, str]] = []

    class Job:
        def __init__(self, folder: Path, job_id: str) -> None:
            asked.append((folder, job_id))
            self.state = state

    monkeypatch.setattr(submitit, 'SlurmJob', Job)
    assert read_claim(tmp_path, tmp_path / 'slurm') is None
    write_claim(tmp_path, '4242', 'slurm')
    claim = read_claim(tmp_path, tmp_path / 'slurm')
    assert claim is not None and claim.job_id == '4242' and claim.active is active
    assert asked == [(tmp_path / 'slurm', '4242')]
