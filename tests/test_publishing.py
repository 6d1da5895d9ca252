"""What publishing the course rests on: its licences, its citation file, and the workflows that test and deploy it.

The workflows run on GitHub, not here; a broken one must fail `make test` first.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import cnncourse

pytestmark = pytest.mark.backend_independent  # no backend code: `make test` runs it, the other CI jobs skip it

REPOSITORY = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPOSITORY / ".github" / "workflows").glob("*.yml"))
TOOLS = Path(sys.executable).parent  # check-jsonschema and zizmor come from requirements-common.txt


def run_tool(*command) -> subprocess.CompletedProcess:
    return subprocess.run([str(TOOLS / command[0]), *command[1:]], cwd=REPOSITORY, capture_output=True, text=True)


def workflow(name: str) -> dict:
    document = yaml.safe_load((REPOSITORY / ".github" / "workflows" / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as True
    return document


def steps_of(document: dict) -> list[dict]:
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def test_the_workflows_follow_githubs_schema():
    assert [path.name for path in WORKFLOWS] == ["book.yml", "tests.yml"]
    result = run_tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_linter_finds_nothing():
    result = run_tool("zizmor", "--offline", "--config", ".github/zizmor.yml", ".github/workflows")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_test_workflow_runs_every_job_of_the_ci_script():
    ci_script = (REPOSITORY / ".ci" / "run").read_text()
    document = workflow("tests.yml")
    commands = "\n".join(step.get("run", "") for step in steps_of(document))
    assert "make test" in ci_script and "make test" in commands
    backends = set(re.findall(r"make test-backend BACKEND=(\w+)", ci_script))
    assert backends == {"jax", "torch", "colab"}
    assert set(document["jobs"]["backends"]["strategy"]["matrix"]["backend"]) == backends
    assert set(document["on"]) == {"push", "pull_request"}


def test_the_book_workflow_deploys_only_a_built_book():
    document = workflow("book.yml")
    steps = steps_of(document)
    uses = [step.get("uses", "").split("@")[0] for step in steps]
    assert "actions/upload-pages-artifact" in uses and "actions/deploy-pages" in uses
    build = "\n".join(step.get("run", "") for step in document["jobs"]["build"]["steps"])
    assert "make book" in build
    assert re.search(r"test -s _build/html/index\.html \|\| .*exit 1", build), "an empty build must fail"
    assert document["on"]["push"]["branches"] == ["main"]


def test_online_workflows_never_use_the_offline_mirror():
    for path in WORKFLOWS:
        text = path.read_text()
        assert "shared/data" not in text and "CNNCOURSE_DATA" not in text and "CNNCOURSE_OFFLINE" not in text, path.name


def test_jupyter_book_stays_below_version_2():
    """v2 is a different program: it would "build" this v1 book into nothing and the deploy would stay green."""
    requirements = (REPOSITORY / "requirements-common.txt").read_text()
    assert re.search(r"^jupyter-book>=1[\d.]*,<2\s*$", requirements, re.M)


def test_the_citation_file_is_valid_and_names_this_version():
    result = run_tool("check-jsonschema", "--builtin-schema", "vendor.citation-file-format", "CITATION.cff")
    assert result.returncode == 0, result.stdout + result.stderr
    citation = yaml.safe_load((REPOSITORY / "CITATION.cff").read_text())
    pyproject = (REPOSITORY / "pyproject.toml").read_text()
    assert citation["version"] == cnncourse.__version__
    assert f'version = "{cnncourse.__version__}"' in pyproject
    assert citation["license"] == "MIT" and 'license = "MIT"' in pyproject


def test_the_licences_are_stated_where_readers_look():
    assert (REPOSITORY / "LICENSE").read_text().startswith("MIT License")
    for page in ("README.md", "intro.md"):
        text = (REPOSITORY / page).read_text()
        assert "MIT" in text and "CC BY 4.0" in text, f"{page} must state both licences"
    assert "Cite this course" in (REPOSITORY / "intro.md").read_text()


def test_every_release_a_chapter_pins_is_in_the_changelog():
    import nbformat

    from cnncourse import _record

    changelog = (REPOSITORY / "CHANGELOG.md").read_text()
    released = set(re.findall(r"^## (\d+\.\d+\.\d+) \(\d{4}-\d\d-\d\d\)$", changelog, re.M))
    pinned = {nbformat.read(path, as_version=4).metadata["cnncourse"]["run"]["cnncourse"]
              for path in _record.chapter_paths()}
    assert cnncourse.__version__ in released, "add the current version to CHANGELOG.md"
    assert pinned <= released, f"chapters pin releases the changelog does not list: {pinned - released}"
