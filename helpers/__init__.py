"""Helpers shared by the ALBERT-vs-BERT notebook series.

One small module per concept: ``data`` (the corpus), ``runtime`` (setup cell), ``configs``
(official presets and parameter counts), and more as the series grows.
"""

__version__ = "0.1.0"
