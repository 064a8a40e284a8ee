import json

import pytest

from fm4npp_geo.cli import main

pytest.importorskip('pythia8mc')

TINY = [
    'data.num_pretrain=0', 'data.num_train=4', 'data.num_val=2',
    'data.num_test=2', 'model=m1_cpu', 'model.n_layer=1', 'progress=false',
    'task.steps=3', 'task.batch_size=2', 'task.hidden_channels=16',
]


@pytest.mark.parametrize('task, key', [('tracking', 'ari'), ('pid', 'accuracy'),
                                       ('noise', 'accuracy')])
def test_finetune_each_task(tmp_path, capsys, task, key):
    overrides = [f'task={task}', f'data.root={tmp_path / "data"}',
                 f'out_dir={tmp_path / "out"}', 'pretrained=null', *TINY]
    if task == 'tracking':
        overrides.append('task.num_queries=8')
    assert main(['finetune', *overrides]) == 0

    result = json.loads((tmp_path / 'out' / 'results.json').read_text())
    assert key in result['test']
    assert (tmp_path / 'out' / 'head.pt').is_file()
    assert f'test: {key}' in capsys.readouterr().out


def test_finetune_missing_pretraining_names_fix(tmp_path, capsys):
    overrides = [f'data.root={tmp_path / "data"}',
                 f'pretrained={tmp_path / "nowhere"}', *TINY]
    assert main(['finetune', *overrides]) == 2
    assert 'run `fm4npp-geo pretrain' in capsys.readouterr().err
