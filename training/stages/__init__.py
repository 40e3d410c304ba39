"""Training stages, one readable loop each: teacher -> pseudo-labels -> student -> metric fine-tune,
plus evaluation, export and the paper's ablation. Run them through `python -m training.cli`."""
