"""Torch-free depth metrics and the evaluation protocol (zero-shot relative and direct metric)."""
