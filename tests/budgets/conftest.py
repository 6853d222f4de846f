import shutil
from pathlib import Path

import pytest

collect_ignore = ["sample_project"]  # a project for inner runs, not tests of ours
SAMPLE_PROJECT = Path(__file__).parent / "sample_project"


@pytest.fixture
def sample_project(pytester, monkeypatch):
    """pytester's directory holding the sample Django project (its README lists the known
    N+1s); inner runs go through ``pytester.runpytest_subprocess``, where perflab's plugin
    loads from its entry point as in any project."""
    shutil.copytree(SAMPLE_PROJECT, pytester.path, dirs_exist_ok=True)
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "sample.settings")  # not the outer suite's
    return pytester
