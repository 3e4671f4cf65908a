"""Atomic writes: a file or folder is the old one or the complete new one, never half."""

import json
import os

import numpy as np
import pytest

from helpers import files
from helpers.files import atomic_folder, recover_folder, write_json


def test_write_json_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "runs" / "metrics.json"
    write_json(path, {"a": 1})
    write_json(path, {"b": np.float64(0.5).item()})
    assert json.loads(path.read_text()) == {"b": 0.5}
    with pytest.raises(TypeError):
        write_json(path, {"c": object()})  # not serialisable: fails mid-write
    assert json.loads(path.read_text()) == {"b": 0.5}  # the old file is intact
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]


def test_a_failing_folder_write_leaves_the_old_folder(tmp_path):
    target = tmp_path / "model"
    with atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("new")
        raise RuntimeError("crash mid-write")
    assert (target / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_crash_between_the_renames_is_recovered(tmp_path, monkeypatch):
    target = tmp_path / "model"
    with atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("old")
    real_replace, calls = os.replace, []

    def crash_on_second_rename(src, dst):
        calls.append(src)
        if len(calls) == 2:  # target -> target.old done; tmp -> target "crashes"
            raise OSError("simulated crash")
        return real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", crash_on_second_rename)
    with pytest.raises(OSError, match="simulated"), atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("new")
    monkeypatch.setattr(files.os, "replace", real_replace)
    assert not target.exists()
    recover_folder(target)
    assert (target / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
