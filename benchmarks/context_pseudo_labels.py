"""How good are the pseudo-labels with and without the context? (``demo_metadata``)

Run after ``als4gan demo-context`` and ``als4gan experiment --config
configs/experiments/demo_metadata.yaml``. Loads each run's chosen checkpoint
and scores the networks that label (or would label) the unlabelled training
patches, against their true masks (the demo has them): pixel accuracy over all
pixels, and precision and coverage of the pixels at or above the pseudo-label
threshold (what the student is trained on).

* ``context_teacher``'s context teacher (EMA) with the patches' metadata, and
  the same network with the metadata withheld (``metadata_valid`` False: FiLM
  off), and its image-only student (EMA);
* ``self_training``'s teacher (EMA): the plain self-training labels.

    python benchmarks/context_pseudo_labels.py [--experiment demo_output/context/experiment]
"""

import argparse
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import torch
from torch.utils.data import DataLoader
from torchgeo.datasets import stack_samples

from torchgeo_als4gan.evaluation.cli import build_parser
from torchgeo_als4gan.models.weights import read_state_dict
from torchgeo_als4gan.runtime import quiet_known_warnings
from torchgeo_als4gan.samplers import FootprintGeoSampler
from torchgeo_als4gan.trainers.ema import evaluating


def load(config: Path, checkpoint: str) -> Any:
    parser = build_parser()
    init = parser.instantiate_classes(
        parser.parse_args(['--config', str(config), f'--checkpoints={checkpoint}'])
    )
    init.model.load_state_dict(read_state_dict(checkpoint), strict=True)
    init.model.eval()
    return init


def unlabelled_batches(data: Any) -> list[dict[str, Any]]:
    data.setup('fit')
    pool = data.unlabeled_footprints
    pool = gpd.GeoDataFrame(pool[pool['split'] == 'train'])
    sampler = FootprintGeoSampler(data.scene, pool, data.patch_size)
    loader = DataLoader(
        data.scene, batch_size=32, sampler=sampler, collate_fn=stack_samples
    )
    batches = []
    for batch in loader:
        moved = data.transfer_batch_to_device(batch, torch.device('cpu'), 0)
        batches.append(data.aug(moved))
    return batches


def scores(
    predict: Any, batches: list[dict[str, Any]], threshold: float, ignore: int
) -> dict[str, float]:
    correct = total = kept = kept_correct = 0
    with torch.no_grad():
        for batch in batches:
            prob = predict(batch).softmax(dim=1)
            confidence, label = prob.max(dim=1)
            mask = (
                batch['mask'].long().squeeze(1)
                if batch['mask'].ndim == 4
                else batch['mask'].long()
            )
            known = mask != ignore
            right = (label == mask) & known
            confident = (confidence >= threshold) & known
            correct += int(right.sum())
            total += int(known.sum())
            kept += int(confident.sum())
            kept_correct += int((right & confident).sum())
    return {
        'accuracy': correct / max(total, 1),
        'precision_at_threshold': kept_correct / max(kept, 1),
        'coverage_at_threshold': kept / max(total, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--experiment', default='demo_output/context/experiment')
    parser.add_argument('--configs', default='demo_output/context/configs')
    args = parser.parse_args()
    quiet_known_warnings()
    results = pd.read_csv(Path(args.experiment) / 'results.csv')
    checkpoint = dict(zip(results['method'], results['checkpoint'], strict=True))
    configs = Path(args.configs)
    context = load(configs / 'context_teacher.yaml', checkpoint['context_teacher'])
    task = context.model
    threshold, ignore = (
        float(task.hparams['threshold']),
        int(task.hparams['ignore_index']),
    )
    batches = unlabelled_batches(context.data)
    rows = {}
    with evaluating(task.context_teacher) as teacher:
        rows['context teacher, with metadata'] = scores(
            lambda b: teacher(b['image'], b['metadata'], b['metadata_valid']),
            batches, threshold, ignore,
        )  # fmt: skip
        rows['context teacher, metadata withheld'] = scores(
            lambda b: teacher(
                b['image'], b['metadata'], torch.zeros_like(b['metadata_valid'])
            ),
            batches, threshold, ignore,
        )  # fmt: skip
    with evaluating(task.teacher) as student:
        rows['its image-only student (EMA)'] = scores(
            lambda b: student(b['image']), batches, threshold, ignore
        )
    plain = load(configs / 'self_training.yaml', checkpoint['self_training']).model
    with evaluating(plain.teacher) as teacher:
        rows['plain self-training teacher'] = scores(
            lambda b: teacher(b['image']), batches, threshold, ignore
        )
    pixels = sum(int((b['mask'] != ignore).sum()) for b in batches)
    print(
        f'pseudo-labels on the {sum(len(b["image"]) for b in batches)} unlabelled training'
        f' patches ({pixels} pixels), threshold {threshold}:'
    )
    print(
        '| network | pixel accuracy | precision >= threshold | coverage >= threshold |'
    )
    print('|---|---|---|---|')
    for name, row in rows.items():
        print(
            f'| {name} | {row["accuracy"]:.3f} | {row["precision_at_threshold"]:.3f}'
            f' | {row["coverage_at_threshold"]:.3f} |'
        )


if __name__ == '__main__':
    main()
