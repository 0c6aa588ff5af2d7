"""Spatiotemporal SSL as the active learner's classifier, on the context demo's scenes.

The paper's own setting (image classification) on ``als4gan demo-context``'s
scenes: 32 px patches labelled by their dominant class, a random labelled
share of the training patches, the rest unlabelled (with their metadata).
Every method trains the same ResNet-18 from scratch for the same number of
iterations with AdamW at the same learning rate, in the pool datamodule the
active learner uses:

* ``supervised``: :class:`ActiveLearnerTask` on the labelled patches;
* ``fixmatch (no metadata)``: :class:`ContextClassifierTask` with every
  context marked invalid (the teacher reads images only: plain FixMatch with
  an extra network);
* ``metadata as input``: the teacher with metadata is the evaluated model;
* ``context teacher -> student``: the method; the image-only student's EMA.

Settings are chosen on the validation patches (``--lambda-distill`` values);
test accuracy is printed in distribution and on the held-out region x season
combinations, plus the pseudo-label accuracy of the final teachers on the
unlabelled training patches with the metadata and with it withheld.

    python benchmarks/context_classifier.py [--ratio 0.05] [--steps 300]
"""

import argparse
import copy
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import torch
from lightning import Trainer, seed_everything
from torch.utils.data import DataLoader

from torchgeo_als4gan.datamodules import GeoSegmentationDataModule, PoolDataModule
from torchgeo_als4gan.datamodules.pool import FootprintPatches, PoolItems, QueryPool
from torchgeo_als4gan.demo.context_scenes import make_context_scenes
from torchgeo_als4gan.demo.scene import CLASSES
from torchgeo_als4gan.runtime import quiet_known_warnings
from torchgeo_als4gan.trainers import ActiveLearnerTask, ContextClassifierTask
from torchgeo_als4gan.transforms import SegmentationAugmentation

MEAN, STD = [130.0, 130.0, 100.0], [60.0, 50.0, 50.0]


def datamodule(folder: Path, split: str, **kwargs: Any) -> GeoSegmentationDataModule:
    dm = GeoSegmentationDataModule(
        image_paths=str(folder / split / 'imagery'),
        label_paths=str(folder / split / 'masks'),
        classes=list(CLASSES), patch_size=32, split_block=2, mean=MEAN, std=STD,
        context=True, **kwargs,
    )  # fmt: skip
    dm._build()  # footprints, splits and context vectors
    return dm


def patches(dm: GeoSegmentationDataModule, splits: tuple[str, ...]) -> PoolItems:
    footprints = dm._build()
    chosen = gpd.GeoDataFrame(footprints[footprints['split'].isin(splits)])
    assert dm.scene is not None
    dataset = FootprintPatches(
        dm.scene, chosen.reset_index(drop=True), 32, len(CLASSES), 255, 0.05,
        dm.context_by_corner,
    )  # fmt: skip
    return PoolItems(dataset, 'label')


def batches(items: PoolItems) -> list[dict[str, Any]]:
    aug = SegmentationAugmentation(MEAN, STD, None, False)
    loader = DataLoader(items, batch_size=64, shuffle=False)
    out = []
    for batch in loader:
        keep = batch['label'] < len(CLASSES)
        out.append(aug({k: v[keep] for k, v in batch.items()}))
    return out


def accuracy(
    predict: Callable[[dict[str, Any]], torch.Tensor], data: list[Any]
) -> float:
    right = total = 0
    with torch.no_grad():
        for batch in data:
            right += int((predict(batch).argmax(-1) == batch['label']).sum())
            total += len(batch['label'])
    return right / max(total, 1)


def pseudo_label_accuracy(
    teacher: Any, data: list[Any], threshold: float, withheld: bool
) -> tuple[float, float, float]:
    """Accuracy of all, precision and share of the kept (>= threshold) labels."""
    right = kept = kept_right = total = 0
    with torch.no_grad():
        for batch in data:
            valid = batch['metadata_valid'] & (not withheld)
            prob = teacher(batch['image'], batch['metadata'], valid).softmax(-1)
            confidence, label = prob.max(-1)
            hit = label == batch['label']
            keep = confidence >= threshold
            right, total = right + int(hit.sum()), total + len(hit)
            kept, kept_right = (
                kept + int(keep.sum()),
                kept_right + int((hit & keep).sum()),
            )
    return right / max(total, 1), kept_right / max(kept, 1), kept / max(total, 1)


def train(
    model: Any, pool: QueryPool, labeled: list[int], steps: int, semi: bool
) -> Any:
    seed_everything(0, workers=True, verbose=False)
    unlabeled = range(len(pool)) if semi else ()
    dm = PoolDataModule(
        pool, labeled, [], batch_size=16, seed=0, unlabeled=unlabeled,
        unlabeled_batch_size=32,
    )  # fmt: skip
    trainer = Trainer(
        max_steps=steps, max_epochs=-1, accelerator='cpu', devices=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(model, dm)
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--ratio', type=float, default=0.05)
    parser.add_argument('--steps', type=int, default=300)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--lambda-distill', type=float, nargs='+', default=[0.01, 1.0])
    parser.add_argument('--data', help='scenes of als4gan demo-context (default: new)')
    args = parser.parse_args()
    quiet_known_warnings()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.data) if args.data else Path(tmp)
        if not args.data:
            make_context_scenes(folder, args.size)
        run(folder, args)


def run(folder: Path, args: argparse.Namespace) -> None:
    dm = datamodule(folder, 'id')
    pool = dm.query_pool()
    known = [
        i for i in range(len(pool)) if int(pool.dataset[i]['label']) < len(CLASSES)
    ]
    rng = np.random.default_rng(0)
    count = max(round(args.ratio * len(pool)), len(CLASSES))
    labeled = sorted(rng.choice(known, size=count, replace=False).tolist())
    val = batches(patches(dm, ('val',)))
    test = batches(patches(dm, ('test',)))
    ood_dm = datamodule(
        folder, 'ood', split_fractions=[0.0, 0.0, 1.0], labeled_ratio=None
    )
    ood = batches(patches(ood_dm, ('train', 'val', 'test', 'unlabeled')))
    unlabelled = batches(PoolItems(pool.dataset, 'label'))
    n_test, n_ood = (sum(len(b['label']) for b in d) for d in (test, ood))
    print(
        f'{len(labeled)} labelled of {len(pool)} training patches ({args.ratio:.0%}),'
        f' {args.steps} iterations, val {sum(len(b["label"]) for b in val)} /'
        f' test {n_test} / ood {n_ood} patches'
    )
    network = {'model': 'resnet18', 'in_channels': 3, 'num_classes': len(CLASSES),
               'lr': 1e-3, 'dropout': 0.0}  # fmt: skip
    semi = {'context_encoder': 'fourier', 'context_dim': 64, 'threshold': 0.95,
            'ema_decay': 0.99}  # fmt: skip
    rows: dict[str, tuple[float, float, float, float]] = {}
    teachers: dict[str, Any] = {}

    def record(
        name: str, predict: Callable[[Any], torch.Tensor], seconds: float
    ) -> None:
        rows[name] = (accuracy(predict, val), accuracy(predict, test),
                      accuracy(predict, ood), seconds)  # fmt: skip
        print(f'  {name}: val {rows[name][0]:.3f} test {rows[name][1]:.3f}'
              f' ood {rows[name][2]:.3f} ({seconds:.0f} s)')  # fmt: skip

    start = time.perf_counter()
    supervised = train(ActiveLearnerTask(**network), pool, labeled, args.steps, False)
    record('supervised', lambda b: supervised(b['image']), time.perf_counter() - start)

    no_context = copy.copy(pool)
    no_context.dataset = WithheldContext(pool.dataset)
    start = time.perf_counter()
    fixmatch = train(
        ContextClassifierTask(**network, **semi, lambda_distill=0.01),
        no_context, labeled, args.steps, True,
    )  # fmt: skip
    record('fixmatch (no metadata)', lambda b: fixmatch(b['image']),
           time.perf_counter() - start)  # fmt: skip

    start = time.perf_counter()
    baseline = train(
        ContextClassifierTask(**network, **semi, deploy='context'), pool, labeled,
        args.steps, True,
    )  # fmt: skip
    record('metadata as input', baseline.evaluation_logits, time.perf_counter() - start)

    best: tuple[float, str] = (-1.0, '')
    for weight in args.lambda_distill:
        start = time.perf_counter()
        model = train(
            ContextClassifierTask(**network, **semi, lambda_distill=weight), pool,
            labeled, args.steps, True,
        )  # fmt: skip
        name = f'context teacher -> student (lambda_distill {weight})'
        record(name, lambda b, m=model: m(b['image']), time.perf_counter() - start)
        teachers[name] = model
        if rows[name][0] > best[0]:  # ties: the first in --lambda-distill order
            best = (rows[name][0], name)
    ties = [n for n in teachers if rows[n][0] == best[0] and n != best[1]]
    tied = f' (tied on val with {", ".join(ties)})' if ties else ''
    print(f'\nchosen on val: {best[1]}{tied}')
    print('\n| method | val acc | test acc ID | test acc OOD | train s |')
    print('|---|---|---|---|---|')
    for name, (v, t, o, s) in rows.items():
        mark = ' (chosen)' if name == best[1] else ''
        print(f'| {name}{mark} | {v:.3f} | {t:.3f} | {o:.3f} | {s:.0f} |')
    chosen = teachers[best[1]]
    threshold = float(chosen.hparams['threshold'])
    print(
        f'\npseudo-labels on the {len(pool)} training patches (threshold {threshold}):'
    )
    print('| teacher (EMA) | accuracy | precision >= threshold | kept share |')
    print('|---|---|---|---|')
    for label, withheld in (('with metadata', False), ('metadata withheld', True)):
        acc, precision, share = pseudo_label_accuracy(
            chosen.context_ema.eval(), unlabelled, threshold, withheld
        )
        print(
            f'| context teacher, {label} | {acc:.3f} | {precision:.3f} | {share:.3f} |'
        )
    acc, precision, share = pseudo_label_accuracy(
        fixmatch.context_ema.eval(), unlabelled, threshold, True
    )
    print(
        f'| fixmatch teacher (no metadata) | {acc:.3f} | {precision:.3f} | {share:.3f} |'
    )


class WithheldContext(torch.utils.data.Dataset[dict[str, Any]]):
    """The pool with every context marked invalid (the teacher reads images only)."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = dict(self.dataset[index])
        sample['metadata_valid'] = torch.tensor(False)
        return sample

    def __len__(self) -> int:
        return len(self.dataset)


if __name__ == '__main__':
    main()
