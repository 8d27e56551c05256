"""Drive a learned policy inside the trainers users already have (optional extras).

- `lrctl.integrations.lightning.LRControl`: a PyTorch Lightning callback (`pip install "lrctl[lightning]"`).
- `lrctl.integrations.hf.LRControlCallback`: a Hugging Face `transformers.Trainer` callback
  (`pip install "lrctl[hf]"`).

Both build a `lrctl.PolicyScheduler` on the trainer's optimizer and step it once per optimizer step,
so the LRs are those of a plain loop with the same model, data order and policy. The core package
never imports these modules.
"""
