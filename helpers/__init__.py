"""The ``helpers`` package of the ALBERT-vs-BERT notebook series.

What the notebooks import: one small module per concept, in notebook order (``runtime``,
``data``, ``configs``, ``albert``, ``encoder_variants``, ``tokenizer``, ``masking``,
``pretraining_data``, ``pretraining``, ``finetune``, ...), one shared training toolkit
(``training``, ``files``, ``progress``, ``plots``), and the command-line layer for long runs
(``checkpoints``, ``pretrain``: ``python -m helpers.pretrain --help``). The code a notebook
teaches is written out in its cells too; ``tests/test_notebook_code.py`` keeps both identical.
See CONTRIBUTING.md for the layout.
"""

__version__ = "0.1.0"
