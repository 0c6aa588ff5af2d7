import math
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning import Callback, LightningDataModule, Trainer
from lightning.pytorch.utilities import CombinedLoader
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from torchgeo_als4gan.datamodules import UCMercedDLRSDDataModule
from torchgeo_als4gan.trainers import S4GANTask

DATA = Path(__file__).parents[1] / 'data'


class Scenes(Dataset[dict[str, Tensor]]):
    """Seeded 3-class scenes: dark background, bright square, striped area."""

    def __init__(self, n: int, seed: int, size: int = 24) -> None:
        g = torch.Generator().manual_seed(seed)
        self.masks = torch.zeros(n, size, size, dtype=torch.long)
        for i in range(n):
            r, c = torch.randint(0, size - 8, (2,), generator=g).tolist()
            self.masks[i, r : r + 8, c : c + 8] = 1
            self.masks[i, :, : size // 4] = 2
        colours = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.2, 0.1], [0.1, 0.9, 0.3]])
        self.images = colours[self.masks].permute(0, 3, 1, 2)
        self.images += 1.0 * torch.randn(self.images.shape, generator=g)

    def __len__(self) -> int:
        return len(self.masks)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {'image': self.images[i], 'mask': self.masks[i]}


class ScenesDataModule(LightningDataModule):
    def __init__(self, batch_size: int = 4) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.labeled, self.unlabeled, self.val = (
            Scenes(8, 0),
            Scenes(32, 1),
            Scenes(8, 2),
        )

    def train_dataloader(self) -> Any:
        g = torch.Generator().manual_seed(0)
        return CombinedLoader(
            {
                'labeled': DataLoader(
                    self.labeled, self.batch_size, shuffle=True, generator=g
                ),
                'unlabeled': DataLoader(
                    self.unlabeled, self.batch_size, shuffle=True, generator=g
                ),
            },
            'max_size_cycle',
        )

    def val_dataloader(self) -> Any:
        return DataLoader(self.val, self.batch_size)


def tiny_task(**kwargs: Any) -> S4GANTask:
    args: dict[str, Any] = {
        'model': 'unet',
        'backbone': 'resnet18',
        'num_classes': 3,
        'd_width': 8,
    }
    args.update(kwargs)
    return S4GANTask(**args)


def trainer(tmp_path: Path, **kwargs: Any) -> Trainer:
    args: dict[str, Any] = {
        'accelerator': 'cpu',
        'logger': False,
        'enable_progress_bar': False,
        'enable_model_summary': False,
        'default_root_dir': tmp_path,
    }
    args.update(kwargs)
    return Trainer(**args)


class Recorder(Callback):
    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_train_batch_end(self, trainer: Trainer, *args: Any) -> None:
        self.rows.append({k: float(v) for k, v in trainer.callback_metrics.items()})


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r'threshold_st must be in \[0, 1\], got 1.5'):
        tiny_task(threshold_st=1.5)
    with pytest.raises(ValueError, match='threshold_st'):
        tiny_task(threshold_st=-0.1)
    with pytest.raises(ValueError, match='lambda_fm must not be negative'):
        tiny_task(lambda_fm=-1)


def test_gradients_equal_separate_g_and_d_steps() -> None:
    """One backward of ``objective`` = G's gradient of loss_g (D constant) and D's of loss_d."""
    from torch.func import functional_call

    from torchgeo_als4gan.losses import (
        discriminator_loss,
        feature_matching_loss,
        one_hot_mask,
        self_training_loss,
    )
    from torchgeo_als4gan.models import rescale_to_unit

    torch.manual_seed(0)
    task = tiny_task(lambda_fm=0.5, threshold_st=0.3)
    task.eval()  # no dropout: both computations see the same function
    data = ScenesDataModule()
    x_l, y_l, x_u = (
        data.labeled.images[:2],
        data.labeled.masks[:2],
        data.unlabeled.images[:3],
    )
    losses = task.compute_losses({'image': x_l, 'mask': y_l}, {'image': x_u}, 0)
    losses['objective'].backward()
    got = {k: p.grad.clone() for k, p in task.named_parameters()}
    task.zero_grad(set_to_none=True)
    # reference: the usual G step (D frozen) and D step (predictions detached)
    disc = task.discriminator
    frozen = {k: v.detach() for k, v in disc.named_parameters()}
    logits_l, logits_u = task(x_l), task(x_u)
    prob = logits_u.softmax(dim=1)
    real_logit, real_feature = disc(one_hot_mask(y_l, 3), rescale_to_unit(x_l))
    fake_logit, fake_feature = functional_call(
        disc, frozen, (prob, rescale_to_unit(x_u))
    )
    loss_st, _ = self_training_loss(logits_u, fake_logit.sigmoid(), 0.3)
    loss_g = (
        task.criterion(logits_l, y_l)
        + 0.5 * feature_matching_loss(real_feature.detach(), fake_feature)
        + loss_st
    )
    assert torch.isclose(loss_g, losses['loss_g'], rtol=1e-5)
    loss_g.backward()
    fake_logit_d, _ = disc(prob.detach(), rescale_to_unit(x_u))
    discriminator_loss(real_logit, fake_logit_d).backward()
    for key, param in task.named_parameters():
        assert param.grad is not None, key
        assert torch.allclose(got[key], param.grad, rtol=1e-4, atol=1e-7), key
    assert any(got[k].abs().sum() > 0 for k in got if k.startswith('discriminator'))


def test_self_training_warmup() -> None:
    task = tiny_task(threshold_st=0.0, st_warmup=5, lambda_fm=0.0)
    task.eval()  # no dropout: the same forward twice
    x = ScenesDataModule().labeled.images[:2]
    y = ScenesDataModule().labeled.masks[:2]
    before = task.compute_losses({'image': x, 'mask': y}, {'image': x}, 4)
    assert before['loss_st'] > 0 and before['st_fraction'] == 1.0
    assert torch.isclose(before['loss_g'], before['loss_ce'])
    after = task.compute_losses({'image': x, 'mask': y}, None, 5)
    assert torch.isclose(after['loss_g'], after['loss_ce'] + after['loss_st'])


@pytest.mark.parametrize('limit', [None, 0.75])
def test_discriminator_is_kept_from_winning(
    tmp_path: Path, limit: float | None
) -> None:
    torch.manual_seed(0)
    task = tiny_task(lr=0.01, d_lr=3e-3, d_width=16, d_max_accuracy=limit)
    recorder = Recorder()
    weights: list[Tensor] = []

    class Weights(Callback):
        def on_train_batch_end(self, trainer: Trainer, *args: Any) -> None:
            weights.append(torch.cat([p.detach().flatten().clone()
                                      for p in task.discriminator.parameters()]))  # fmt: skip

    fitted = trainer(
        tmp_path, max_epochs=4, callbacks=[recorder, Weights()], limit_val_batches=0
    )
    fitted.fit(task, ScenesDataModule())
    assert fitted.global_step == 2 * len(recorder.rows)  # skipped D steps count
    updated = [r['train_d_updated'] for r in recorder.rows]
    accuracy = [
        (r['train_d_acc_real'] + r['train_d_acc_fake']) / 2 for r in recorder.rows
    ]
    for step, (done, acc) in enumerate(zip(updated, accuracy, strict=True)):
        assert done == float(limit is None or acc <= limit), step
        if step > 0:  # D moved exactly on the updated steps
            assert (not torch.equal(weights[step], weights[step - 1])) == bool(done), (
                step
            )
    if limit is not None:
        assert 0 < sum(updated) < len(updated)  # both happen in this run
    with pytest.raises(ValueError, match=r'd_max_accuracy must be in \(0.5, 1\]'):
        tiny_task(d_max_accuracy=0.4)


def test_training_lowers_ce_and_discriminator_separates(tmp_path: Path) -> None:
    torch.manual_seed(0)
    task = tiny_task(lr=0.01, d_lr=3e-3, d_width=16, threshold_st=0.9)
    recorder = Recorder()
    data = ScenesDataModule()
    trainer(tmp_path, max_epochs=8, callbacks=[recorder], limit_val_batches=0).fit(
        task, data
    )
    ce = [r['train_loss_ce'] for r in recorder.rows]
    assert len(ce) == 64
    first, last = sum(ce[:5]) / 5, sum(ce[-5:]) / 5
    assert last < 0.5 * first, (first, last)
    for key in (
        'train_loss_fm',
        'train_loss_st',
        'train_loss_d',
        'train_d_acc_real',
        'train_d_acc_fake',
        'train_st_fraction',
        'lr_backbone',
        'lr_head',
        'lr_d',
    ):
        assert key in recorder.rows[-1]
    # D tells (image, ground truth) from (image, prediction) on held-out scenes
    task.eval()
    val = data.val
    with torch.no_grad():
        prob = task(val.images).softmax(dim=1)
        from torchgeo_als4gan.losses import one_hot_mask
        from torchgeo_als4gan.models import rescale_to_unit

        image = rescale_to_unit(val.images)
        real = task.discriminator(one_hot_mask(val.masks, 3), image)[0].sigmoid()
        fake = task.discriminator(prob, image)[0].sigmoid()
    assert real.mean() > fake.mean() + 0.1, (real, fake)
    assert (real > fake).float().mean() >= 0.75


def test_poly_learning_rates(tmp_path: Path) -> None:
    task = tiny_task(lr=0.1, d_lr=0.01, head_lr_mult=10.0, poly_power=0.9)
    recorder = Recorder()
    trainer(tmp_path, max_epochs=1, callbacks=[recorder], limit_val_batches=0).fit(
        task, ScenesDataModule()
    )
    total = 8  # unlabelled batches of one epoch
    assert task.iteration == total and task.trainer.global_step == 2 * total
    for k, row in enumerate(recorder.rows, start=1):
        factor = (1 - k / total) ** 0.9
        assert row['lr_backbone'] == pytest.approx(0.1 * factor, rel=1e-6)
        assert row['lr_head'] == pytest.approx(1.0 * factor, rel=1e-6)
        assert row['lr_d'] == pytest.approx(0.01 * factor, rel=1e-6)


def test_gradient_clipping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    task = tiny_task(gradient_clip_val=0.01)
    norms: list[float] = []
    original = task.clip_gradients

    def spy(optimizer: Any, **kwargs: Any) -> None:
        original(optimizer, **kwargs)
        grads = [p.grad for g in optimizer.param_groups for p in g['params']]
        norms.append(
            float(torch.stack([g.norm() for g in grads if g is not None]).norm())
        )

    monkeypatch.setattr(task, 'clip_gradients', spy)
    trainer(tmp_path, max_steps=6, limit_val_batches=0).fit(task, ScenesDataModule())
    assert len(norms) == 6  # both optimizers, 3 iterations
    assert max(norms) <= 0.01 * 1.001


def test_mixed_precision(tmp_path: Path) -> None:
    recorder = Recorder()
    task = tiny_task()
    trainer(
        tmp_path, max_epochs=1, limit_train_batches=2, precision='bf16-mixed',
        callbacks=[recorder], limit_val_batches=1,
    ).fit(task, ScenesDataModule())  # fmt: skip
    assert all(math.isfinite(v) for v in recorder.rows[-1].values())
    assert 'val_miou' in task.trainer.callback_metrics


def test_validation_scores_and_figure(tmp_path: Path) -> None:
    task = tiny_task()
    t = trainer(tmp_path, max_epochs=1, limit_train_batches=1)
    t.fit(task, ScenesDataModule())
    metrics = t.callback_metrics
    assert 0 <= float(metrics['val_miou']) <= 1
    assert {f'val_iou/{i}' for i in range(3)} <= set(metrics)
    for key in ('val_pixel_accuracy', 'val_mean_accuracy', 'val_fw_iou'):
        assert key in metrics


def ucm(**kwargs: Any) -> UCMercedDLRSDDataModule:
    args: dict[str, Any] = {
        'root': DATA / 'ucmerced_dlrsd',
        'tile_size': 32,
        'batch_size': 2,
        'split_fractions': [0.5, 0.25, 0.25],
        'labeled_ratio': 0.3,
        'steps_per_epoch': 2,
        'seed': 0,
    }
    args.update(kwargs)
    return UCMercedDLRSDDataModule(**args)


def test_num_classes_must_match_dataset(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r'num_classes is 5 but the data has 17 classes'
    ):
        trainer(tmp_path, fast_dev_run=True).fit(tiny_task(num_classes=5), ucm())


def test_mask_values_checked_on_first_batch(tmp_path: Path) -> None:
    data = ScenesDataModule()
    data.labeled.masks[0, 0, 0] = 7
    data.labeled.masks[1:, 0, 0] = 7
    with pytest.raises(ValueError, match=r'mask values must be in \[0, 3\)'):
        trainer(tmp_path, fast_dev_run=True).fit(tiny_task(), data)


def test_ucm_figure(tmp_path: Path) -> None:
    task = tiny_task(num_classes=17)
    data = ucm()
    trainer(tmp_path, fast_dev_run=True).fit(task, data)
    batch = next(iter(data.val_dataloader()))
    batch = data.aug(batch)
    figure = task.validation_figure(batch, task(batch['image']))
    assert figure is not None
    assert 'discriminator score' in figure.texts[0].get_text()


def test_nan_loss_stops_and_keeps_last_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = tiny_task()
    original = task.compute_losses

    def poisoned(*args: Any) -> dict[str, Tensor]:
        losses = original(*args)
        if args[-1] == 8:  # first iteration of the second epoch
            losses['loss_fm'] = losses['loss_fm'] * float('nan')
        return losses

    monkeypatch.setattr(task, 'compute_losses', poisoned)
    t = trainer(tmp_path, max_epochs=3, limit_val_batches=1)
    with pytest.raises(FloatingPointError, match=r'iteration 8 .*loss_fm = nan'):
        t.fit(task, ScenesDataModule())
    checkpoint = torch.load(tmp_path / 'checkpoints' / 'last.ckpt', weights_only=False)
    assert checkpoint['global_step'] == 16  # end of the first epoch
    state = checkpoint['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


class Interrupt(Callback):
    """Stops training like Ctrl-C when an epoch starts."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_batch_start(self, trainer: Trainer, *args: Any) -> None:
        if trainer.current_epoch == self.epoch:
            raise KeyboardInterrupt


def test_resume_matches_uninterrupted_run(tmp_path: Path) -> None:
    def run(
        folder: Path, ckpt: str | None = None, stop: int | None = None
    ) -> S4GANTask:
        torch.manual_seed(0)
        task = tiny_task(num_classes=17, model='deeplabv3+')
        callbacks = [Interrupt(stop)] if stop is not None else []
        t = trainer(
            folder, max_epochs=3, limit_val_batches=1, num_sanity_val_steps=0,
            callbacks=callbacks,
        )  # fmt: skip
        if stop is None:
            t.fit(task, ucm(), ckpt_path=ckpt)
        else:  # Lightning exits after a graceful shutdown on Ctrl-C
            with pytest.raises(SystemExit):
                t.fit(task, ucm(), ckpt_path=ckpt)
            assert t.interrupted and task.iteration == 2
        return task

    whole = run(tmp_path / 'whole')
    run(tmp_path / 'part', stop=1)
    resumed = run(
        tmp_path / 'resumed', str(tmp_path / 'part' / 'checkpoints' / 'last.ckpt')
    )
    assert resumed.iteration == whole.iteration == 6
    assert resumed.trainer.global_step == whole.trainer.global_step == 12
    for a, b in zip(whole.trainer.optimizers, resumed.trainer.optimizers, strict=True):
        assert [g['lr'] for g in a.param_groups] == [g['lr'] for g in b.param_groups]
    expected, got = whole.state_dict(), resumed.state_dict()
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key


def test_checkpoint_callbacks(tmp_path: Path) -> None:
    from lightning.pytorch.callbacks import ModelCheckpoint

    task = tiny_task()
    t = trainer(tmp_path, max_epochs=1, limit_train_batches=1, limit_val_batches=1)
    t.fit(task, ScenesDataModule())
    (callback,) = t.checkpoint_callbacks
    assert callback.monitor == 'val_miou' and callback.mode == 'max'  # type: ignore[attr-defined]
    assert (tmp_path / 'checkpoints' / 'last.ckpt').exists()
    mine = ModelCheckpoint(dirpath=tmp_path / 'mine', monitor='val_loss')
    t = trainer(tmp_path, max_epochs=1, limit_train_batches=1, callbacks=[mine])
    t.fit(tiny_task(), ScenesDataModule())
    assert t.checkpoint_callbacks == [mine]
    t = trainer(
        tmp_path / 'off',
        max_epochs=1,
        limit_train_batches=1,
        enable_checkpointing=False,
    )
    t.fit(tiny_task(), ScenesDataModule())
    assert t.checkpoint_callbacks == [] and not (tmp_path / 'off').exists()


def test_empty_labelled_set(tmp_path: Path) -> None:
    data = ScenesDataModule()
    data.labeled_dataset = []  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match='labelled set is empty'):
        trainer(tmp_path, fast_dev_run=True).fit(tiny_task(), data)
    task = tiny_task()
    empty = {'image': torch.zeros(0, 3, 8, 8), 'mask': torch.zeros(0, 8, 8)}
    with pytest.raises(ValueError, match='labelled batch is empty'):
        task.training_step({'labeled': empty, 'unlabeled': empty}, 0)
