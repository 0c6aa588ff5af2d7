"""One round-state format for both loops: saved, read back, old files resumed."""

import json
import math
from pathlib import Path

import pytest

from torchgeo_als4gan.active import PickedItems
from torchgeo_als4gan.active.loop import RoundState
from torchgeo_als4gan.active.query import QueryState

#: A loop round's state.json exactly as the release before the active/
#: package wrote it (field names and JSON layout).
OLD_ROUND = {
    'round': 1, 'budget': 0.1, 'selected': [4, 2, 7], 'rounds': [0, 0, 1],
    'scores': [None, None, 0.25], 'stage': 'scored',
    'result': {'test_miou': 0.5, 'checkpoint': 'run/policy_checkpoints/a.ckpt'},
    'seconds': {'trained': 3.5},
}  # fmt: skip
#: A query run's state.json of that release.
OLD_QUERY = {
    'settings': {'strategy': 'entropy', 'seed': 0}, 'round': 2,
    'selected': [1, 0], 'rounds': [0, 1], 'scores': [None, 0.75], 'finished': True,
}  # fmt: skip


def test_old_state_files_resume(tmp_path: Path) -> None:
    (tmp_path / 'round.json').write_text(json.dumps(OLD_ROUND))
    (tmp_path / 'query.json').write_text(json.dumps(OLD_QUERY))
    loop = RoundState.load(tmp_path / 'round.json')
    assert loop.selected == [4, 2, 7] and loop.stage == 'scored'
    assert math.isnan(loop.scores[0]) and loop.scores[2] == 0.25
    assert loop.reached('evaluated') and not loop.reached('done')
    query = QueryState.load(tmp_path / 'query.json')
    assert query.finished and query.settings['strategy'] == 'entropy'
    assert math.isnan(query.scores[0]) and query.scores[1] == 0.75


def test_both_states_share_one_format(tmp_path: Path) -> None:
    loop = RoundState(round=0, budget=0.05, selected=[3], rounds=[0], scores=[math.nan])
    query = QueryState(settings={'seed': 1}, selected=[3], rounds=[0], scores=[0.5])
    loop.save(tmp_path / 'loop.json')
    query.save(tmp_path / 'query.json')
    for name in ('loop.json', 'query.json'):
        saved = json.loads((tmp_path / name).read_text())
        # the picked items are written the same way by both (NaN as null)
        assert set(saved) >= {'round', 'selected', 'rounds', 'scores'}
    assert json.loads((tmp_path / 'loop.json').read_text())['scores'] == [None]
    back = RoundState.load(tmp_path / 'loop.json')
    assert (back.round, back.budget, back.selected, back.rounds) == (0, 0.05, [3], [0])
    assert math.isnan(back.scores[0]) and back.stage == 'selected'
    assert QueryState.load(tmp_path / 'query.json') == query
    assert isinstance(query, PickedItems) and isinstance(loop, PickedItems)


def test_a_state_of_the_other_loop_is_refused(tmp_path: Path) -> None:
    (tmp_path / 'round.json').write_text(json.dumps(OLD_ROUND))
    with pytest.raises(ValueError, match=r'round\.json: not a QueryState state file'):
        QueryState.load(tmp_path / 'round.json')
