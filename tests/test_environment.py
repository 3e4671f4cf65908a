"""environment.yml (conda) and pyproject.toml (pip) must describe the same package set.

The rule: the conda environment is a contributor's full environment, i.e. pyproject.toml's
``[project] dependencies`` (core: what the notebooks and helpers import, all that Colab installs)
plus the ``lab`` extra (local JupyterLab) plus the ``test`` extra (``make test``). Every extra
other than those is left out on purpose and listed in ``NOT_IN_CONDA`` with the reason.
Packages conda-forge lacks would go in the file's ``pip:`` section; they count like conda lines.
"""

import re
import tomllib

import pytest
import yaml
from packaging.requirements import InvalidRequirement, Requirement

from helpers.runtime import repo_root

CONDA_TO_PIP = {"pytorch": "torch"}  # conda-forge name -> PyPI name
IN_CONDA = ("lab", "test")  # the extras environment.yml carries besides the core
NOT_IN_CONDA = {
    # a platform binary in a wheel that checks .github/workflows: nothing a notebook needs.
    "actionlint": "workflow lint only (a prebuilt binary, installed by CI)",
}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _project():
    return tomllib.loads((repo_root() / "pyproject.toml").read_text())["project"]


def _environment():
    return yaml.safe_load((repo_root() / "environment.yml").read_text())


def _pip_section(env) -> list[str]:
    sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    return [line for section in sections for line in section]


def test_core_has_no_jupyter_front_end():
    """Colab installs only the core; JupyterLab or ipywidgets there would replace Colab's own."""
    core = {_name(r) for r in _project()["dependencies"]}
    assert not core & {"jupyterlab", "notebook", "ipywidgets", "ipykernel", "jupyter"}
    assert {"jupyterlab", "ipywidgets"} <= {_name(r) for r in _project()["optional-dependencies"]["lab"]}


def test_every_extra_is_in_conda_or_left_out_with_a_reason():
    extras = set(_project()["optional-dependencies"])
    assert extras == set(IN_CONDA) | set(NOT_IN_CONDA)


def test_conda_and_pip_package_sets_agree():
    project = _project()
    pip_names = {_name(r) for r in project["dependencies"]}
    for extra in IN_CONDA:
        pip_names |= {_name(r) for r in project["optional-dependencies"][extra]}
    env = _environment()
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    conda_names = {CONDA_TO_PIP.get(_name(d), _name(d)) for d in conda} - {"python", "pip"}
    conda_names |= {_name(line) for line in _pip_section(env) if not line.startswith("-")}
    assert conda_names == pip_names, (
        f"only in environment.yml: {sorted(conda_names - pip_names)}; "
        f"only in pyproject.toml: {sorted(pip_names - conda_names)}")


def test_the_lower_bounds_agree():
    """The same range on both sides (conda's `pytorch>=2.6` is pip's `torch>=2.6`)."""
    project = _project()
    pip = {_name(r): str(Requirement(r).specifier) for r in project["dependencies"]}
    for extra in IN_CONDA:
        pip |= {_name(r): str(Requirement(r).specifier) for r in project["optional-dependencies"][extra]}
    for line in _environment()["dependencies"]:
        if not isinstance(line, str) or _name(line) in {"python", "pip"}:
            continue
        name = CONDA_TO_PIP.get(_name(line), _name(line))
        conda_spec = str(Requirement(name + line.strip()[len(_name(line)):]).specifier)
        assert conda_spec == pip[name], f"{line}: pyproject.toml says {name}{pip[name]}"


def test_pip_section_is_a_valid_requirements_file():
    """conda hands the pip: lines to `pip install -r`, where options such as --no-deps are errors."""
    lines = _pip_section(_environment())
    assert "-e ." in lines, "the helpers package itself"
    for line in lines:
        if line.startswith("-"):
            assert re.fullmatch(r"-e \S+", line), f"not allowed in a requirements file: {line}"
        else:
            try:
                Requirement(line)
            except InvalidRequirement as error:  # pragma: no cover (the message is the point)
                pytest.fail(f"{line}: {error}")


def test_every_conda_package_says_which_notebooks_use_it():
    """Each package line ends in a comment naming the notebooks (NN, NN-NN, "all notebooks")
    or the check (tests, make ...) that needs it."""
    text = (repo_root() / "environment.yml").read_text()
    for line in text.split("dependencies:")[1].splitlines():
        if not re.match(r"\s+- [a-z]", line) or line.split("#")[0].strip() in {"- pip", "- pip:"}:
            continue
        assert "#" in line, f"no comment on: {line.strip()}"
        comment = line.split("#", 1)[1]
        assert re.search(r"\b0[1-9]\b|all notebooks|\btests\b|\bmake\b", comment), (
            f"say which notebooks (or which check) use it: {line.strip()}")


def test_ranges_not_exact_pins():
    env = (repo_root() / "environment.yml").read_text()
    assert not re.search(r"^\s+- [a-z-]+==", env, re.MULTILINE)
    assert "python>=3.11" in env
