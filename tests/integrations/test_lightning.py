"""The Lightning callback drives a real `Trainer.fit` as `PolicyScheduler` drives a plain loop."""

from __future__ import annotations

import csv

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

pl = pytest.importorskip("lightning.pytorch")

import lrctl  # noqa: E402
from lrctl.integrations.common import IntegrationError  # noqa: E402
from lrctl.integrations.lightning import LRControl  # noqa: E402
from tests.conftest import make_splits  # noqa: E402

pytestmark = pytest.mark.slow  # `-m "not slow"` leaves it out

DATA = make_splits(n_train=320, n_val=64)
BATCH = 16
POLICY = lrctl.load_policy(lrctl.shipped_policy_path())


def fresh_network() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


class Classifier(pl.LightningModule):
    def __init__(self, optimizers: int = 1, scheduler: bool = False, validation: bool = True) -> None:
        super().__init__()
        self.net = fresh_network()
        self.n_optimizers, self.with_scheduler = optimizers, scheduler
        if not validation:
            self.validation_step = None  # type: ignore[assignment]
        self.automatic_optimization = optimizers == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self(x), y))

    def configure_optimizers(self):
        optimizers = [torch.optim.Adam(self.parameters(), lr=1e-2) for _ in range(self.n_optimizers)]
        if self.with_scheduler:
            return {"optimizer": optimizers[0], "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizers[0], 5)}
        return optimizers[0] if self.n_optimizers == 1 else optimizers


class RecordLR(pl.Callback):
    """The LR each optimizer step used (read before the step's batch)."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def loaders():
    train = DataLoader(TensorDataset(DATA.train_x, DATA.train_y), batch_size=BATCH, shuffle=False)
    val = DataLoader(TensorDataset(DATA.val_x, DATA.val_y), batch_size=64)
    return train, val


def make_trainer(tmp_path, callbacks, max_steps=40, **kwargs):
    options = dict(max_steps=max_steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                   limit_val_batches=0, default_root_dir=str(tmp_path), deterministic=True) | kwargs
    return pl.Trainer(callbacks=callbacks, **options)


def plain_loop_lrs(steps: int) -> list[float]:
    """The same network, data order and policy in a plain PyTorch loop with `PolicyScheduler`."""
    net = fresh_network()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    scheduler = lrctl.PolicyScheduler(optimizer, POLICY, model=net, val_data=(DATA.val_x, DATA.val_y),
                                      total_steps=steps)
    lrs = []
    train, _ = loaders()
    for step, (x, y) in zip(range(steps), train):
        lrs.append(optimizer.param_groups[0]["lr"])
        loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step(loss.item())
    return lrs


def test_lrs_under_lightning_equal_the_plain_loop_exactly(tmp_path):
    record = RecordLR()
    train, val = loaders()
    make_trainer(tmp_path, [LRControl(POLICY), record], max_steps=20, limit_val_batches=1.0,
                 check_val_every_n_epoch=100).fit(Classifier(), train, val)
    expected = plain_loop_lrs(20)
    assert record.lrs == expected  # exact: same float arithmetic on the CPU
    assert len(set(expected)) > 1  # the policy moved the LR


def test_gradient_accumulation_counts_optimizer_steps(tmp_path):
    control = LRControl(POLICY, val_batch=(DATA.val_x, DATA.val_y))
    trainer = make_trainer(tmp_path, [control], max_steps=10, accumulate_grad_batches=2)
    trainer.fit(Classifier(), loaders()[0])
    assert trainer.global_step == 10
    assert control.scheduler.steps_done == 10
    assert control.scheduler.total_steps == 10  # trainer.estimated_stepping_batches


def test_a_fit_resumed_from_a_checkpoint_takes_the_same_later_lrs(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    val = (DATA.val_x, DATA.val_y)
    train = DataLoader(TensorDataset(DATA.train_x[:160], DATA.train_y[:160]), batch_size=BATCH)  # 10 steps an epoch
    whole = RecordLR()
    # a checkpoint of a step, not of an epoch's end: resumed from one of those, Lightning trains a batch twice
    every_10_steps = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=10, save_top_k=-1)
    make_trainer(tmp_path / "whole", [LRControl(POLICY, val_batch=val), whole, every_10_steps], max_steps=30,
                 enable_checkpointing=True).fit(Classifier(), train)
    checkpoint = next((tmp_path / "ckpt").glob("epoch=0-step=10*.ckpt"))
    resumed = RecordLR()
    make_trainer(tmp_path / "second", [LRControl(POLICY, val_batch=val), resumed], max_steps=30).fit(
        Classifier(), train, ckpt_path=str(checkpoint))
    assert len(resumed.lrs) == 20
    assert resumed.lrs == whole.lrs[10:]
    assert len(set(whole.lrs[10:])) > 1


def test_the_lr_is_logged_to_the_trainers_loggers(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    logger = CSVLogger(str(tmp_path), name="run")
    control, record = LRControl(POLICY, val_batch=(DATA.val_x, DATA.val_y)), RecordLR()
    make_trainer(tmp_path, [control, record], max_steps=10, logger=logger, log_every_n_steps=1).fit(
        Classifier(), loaders()[0])
    with open(logger.log_dir + "/metrics.csv") as f:
        logged = [float(row["lrctl/lr"]) for row in csv.DictReader(f) if row.get("lrctl/lr")]
    assert logged == pytest.approx(record.lrs, rel=1e-6)  # each step's own LR, as the HF Trainer logs it
    assert len(set(logged)) > 1


class NoForward(Classifier):
    forward = pl.LightningModule.forward


@pytest.mark.parametrize("module, message", [
    (NoForward, "defines no forward"),
    (lambda: Classifier(optimizers=2), "drives one optimizer"),
    (lambda: Classifier(scheduler=True), "return no LR scheduler"),
    (lambda: Classifier(validation=False), "needs a validation batch"),
])
def test_setups_it_cannot_drive_are_one_line_errors(tmp_path, module, message):
    trainer = make_trainer(tmp_path, [LRControl(POLICY)], max_steps=2)
    with pytest.raises(IntegrationError, match=message) as caught:
        trainer.fit(module(), loaders()[0])
    assert "\n" not in str(caught.value)
