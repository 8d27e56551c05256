"""The Hugging Face callback drives a real `transformers.Trainer` (a tiny BERT built from a config)."""

from __future__ import annotations

import warnings

import pytest
import torch

transformers = pytest.importorskip("transformers")

import lrctl  # noqa: E402
from lrctl.integrations.common import IntegrationError  # noqa: E402
from lrctl.integrations.hf import LRControlCallback  # noqa: E402

pytestmark = pytest.mark.slow  # `-m "not slow"` leaves it out

POLICY = lrctl.load_policy(lrctl.shipped_policy_path())


def tiny_model() -> torch.nn.Module:
    config = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=16, num_labels=3,
                                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    return transformers.BertForSequenceClassification(config)


def examples(n: int, seed: int) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 40, (n, 12), generator=g)
    labels = ids[:, 0] % 3  # learnable from the first token
    return [{"input_ids": i, "attention_mask": torch.ones(12, dtype=torch.int64), "labels": y}
            for i, y in zip(ids, labels)]


TRAIN, VAL = examples(96, 0), examples(32, 1)
VAL_BATCH = transformers.default_data_collator(VAL)


class RecordLR(transformers.TrainerCallback):
    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        self.lrs.append(optimizer.param_groups[0]["lr"])


def make_trainer(tmp_path, callbacks, **overrides):
    options = dict(output_dir=str(tmp_path), max_steps=12, per_device_train_batch_size=8, learning_rate=1e-2,
                   lr_scheduler_type="constant", logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
                   seed=0, disable_tqdm=True) | overrides
    return transformers.Trainer(model=tiny_model(), args=transformers.TrainingArguments(**options),
                                train_dataset=TRAIN, callbacks=callbacks)


def test_the_policy_moves_the_trainers_lr_once_per_optimizer_step(tmp_path):
    control, record = LRControlCallback(POLICY, val_batch=VAL_BATCH), RecordLR()
    trainer = make_trainer(tmp_path, [control, record], gradient_accumulation_steps=2)
    trainer.train()
    assert control.scheduler.steps_done == trainer.state.global_step == 12
    assert control.scheduler.total_steps == 12
    assert len(set(record.lrs)) > 1  # the policy moved it; a constant schedule would not
    logged = [entry["learning_rate"] for entry in trainer.state.log_history if "learning_rate" in entry]
    assert logged == pytest.approx(record.lrs)  # the Trainer logs the LR each step used


def test_the_trainers_own_schedule_is_overridden_with_a_warning(tmp_path):
    control, record = LRControlCallback(POLICY, val_batch=VAL_BATCH), RecordLR()
    with pytest.warns(UserWarning, match="has no effect"):
        make_trainer(tmp_path / "linear", [control, record], lr_scheduler_type="linear").train()
    constant = RecordLR()
    make_trainer(tmp_path / "constant", [LRControlCallback(POLICY, val_batch=VAL_BATCH), constant]).train()
    assert record.lrs == constant.lrs


@pytest.mark.parametrize("overrides", [dict(logging_steps=5), dict(lr_scheduler_type="linear"),
                                       dict(gradient_accumulation_steps=2)], ids=["every-5", "linear", "accumulated"])
def test_the_logged_lr_is_the_one_each_step_trained_with(tmp_path, overrides):
    control, record = LRControlCallback(POLICY, val_batch=VAL_BATCH), RecordLR()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the linear schedule's "has no effect"
        trainer = make_trainer(tmp_path, [control, record], max_steps=30, **overrides)
        trainer.train()
    logged = [(entry["step"], entry["learning_rate"]) for entry in trainer.state.log_history
              if "learning_rate" in entry]
    assert logged and [lr for _, lr in logged] == [record.lrs[step - 1] for step, _ in logged]
    assert logged[-1][0] == 30  # the last step too


def test_the_trainers_warm_up_comes_before_the_policy(tmp_path):
    control, record = LRControlCallback(POLICY, val_batch=VAL_BATCH), RecordLR()
    make_trainer(tmp_path, [control, record], lr_scheduler_type="constant_with_warmup", warmup_steps=4).train()
    assert control.scheduler.warmup_steps == 4
    assert record.lrs[:4] == pytest.approx([1e-2 * (1 / 3 + 2 / 3 * s / 4) for s in range(4)])  # LinearLR's
    assert len(set(record.lrs[4:])) > 1  # then the policy's decisions


def test_a_resumed_training_takes_the_same_later_lrs(tmp_path):
    whole = RecordLR()
    make_trainer(tmp_path, [LRControlCallback(POLICY, val_batch=VAL_BATCH), whole], save_strategy="steps",
                 save_steps=6).train()
    resumed = RecordLR()
    make_trainer(tmp_path, [LRControlCallback(POLICY, val_batch=VAL_BATCH), resumed], save_strategy="steps",
                 save_steps=6).train(resume_from_checkpoint=str(tmp_path / "checkpoint-6"))
    assert len(resumed.lrs) == 6
    assert resumed.lrs == whole.lrs[6:]


def test_a_missing_validation_batch_is_a_one_line_error():
    with pytest.raises(IntegrationError, match="needs a validation batch") as caught:
        LRControlCallback(POLICY)
    assert "\n" not in str(caught.value)
