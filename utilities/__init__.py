"""Synthetic fine-tuning data from markdown technical documents."""

__version__ = "0.2.0"
