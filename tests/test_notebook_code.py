"""The code a notebook teaches is the code the package runs.

A notebook cell that defines a function or class the ``helpers`` package also provides marks it
with a comment line right above the definition::

    # Same code as helpers.pretraining.train_loop (tests/test_notebook_code.py keeps them identical)
    def train_loop(...):

This test finds every such definition and checks that its source equals the module's, so the
learner reads and runs exactly what the command line and later notebooks import. Edit one,
copy it to the other (see CONTRIBUTING.md).
"""

import ast
import importlib
import inspect
import json
import re
import textwrap

import pytest

from helpers.runtime import repo_root

MARKER = re.compile(r"^# Same code as (helpers(?:\.\w+)+)\.(\w+)\b", re.MULTILINE)

# What each notebook must teach in its own cells.
TAUGHT = {
    "02_factorized_embeddings.ipynb": {"helpers.encoder_variants.train_variant",
                                       "helpers.encoder_variants.factorization_variants",
                                       "helpers.minilm.factorize_embedding"},
    "03_cross_layer_sharing.ipynb": {"helpers.encoder_variants.sharing_variants"},
    "04_pretraining_mlm_sop.ipynb": {"helpers.pretraining.PretrainingLoss",
                                     "helpers.pretraining.train_loop"},
    "05_sentiment_finetuning.ipynb": {"helpers.finetune.train_classifier"},
    "06_chinese_albert.ipynb": {"helpers.ner.add_confident_entities"},
    "07_albert_in_practice.ipynb": {"helpers.adapters.add_lora", "helpers.adapters.freeze_encoder"},
}


def mirrored_definitions():
    """(notebook, 'module.name', cell source of the definition) for every marked definition."""
    found = []
    for path in sorted((repo_root() / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] != "code" or not MARKER.search(source):
                continue
            definitions = {node.name: ast.get_source_segment(source, node)
                           for node in ast.parse(source).body
                           if isinstance(node, ast.FunctionDef | ast.ClassDef)}
            for module, name in MARKER.findall(source):
                found.append((path.name, f"{module}.{name}", definitions.get(name)))
    return found


@pytest.mark.parametrize("notebook, qualified, cell_source", mirrored_definitions(),
                         ids=lambda value: value if isinstance(value, str) and "\n" not in value else "")
def test_notebook_definition_equals_the_module(notebook, qualified, cell_source):
    module_name, name = qualified.rsplit(".", 1)
    assert cell_source is not None, f"{notebook}: the marker names {name}, but the cell does not define it"
    module_source = textwrap.dedent(inspect.getsource(getattr(importlib.import_module(module_name), name)))
    assert cell_source.strip() == module_source.strip(), (
        f"{notebook} and {qualified} differ: copy the edited one over the other")


@pytest.mark.parametrize("notebook", sorted(TAUGHT))
def test_each_notebook_writes_out_the_code_it_teaches(notebook):
    taught = {qualified for name, qualified, _ in mirrored_definitions() if name == notebook}
    assert TAUGHT[notebook] <= taught, f"{notebook} should define {sorted(TAUGHT[notebook] - taught)}"
