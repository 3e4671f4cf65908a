"""environment.yml (conda) and pyproject.toml (pip) must describe the same package set."""

import re
import tomllib

import yaml

from helpers.runtime import repo_root

CONDA_TO_PIP = {"pytorch": "torch"}  # conda-forge name -> PyPI name


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement.strip(), maxsplit=1)[0].lower()


def test_conda_and_pip_package_sets_agree():
    root = repo_root()
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    pip_names = {_name(r) for r in project["dependencies"]}
    pip_names |= {_name(r) for r in project["optional-dependencies"]["test"]}
    env = yaml.safe_load((root / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    conda_names = {CONDA_TO_PIP.get(_name(d), _name(d)) for d in conda} - {"python", "pip"}
    assert conda_names == pip_names


def test_every_conda_package_says_which_notebooks_use_it():
    text = (repo_root() / "environment.yml").read_text()
    for line in text.split("dependencies:")[1].splitlines():
        if re.match(r"\s+- [a-z]", line) and "pip" not in line.split("#")[0]:
            assert "#" in line, f"no comment on: {line.strip()}"


def test_ranges_not_exact_pins():
    env = (repo_root() / "environment.yml").read_text()
    assert not re.search(r"^\s+- [a-z-]+==", env, re.MULTILINE)
    assert "python>=3.11" in env
