"""``assay card`` and ``assay datasheet``: built from a stored run, attached to it once."""

from __future__ import annotations

from pathlib import Path

import pytest

from _cli_support import error_of, invoke
from _model_audits import model_spec
from assay.api import execute
from assay.evidence import Repository


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    spec = model_spec("good", tmp_path / "audit")
    docs = tmp_path / "audit" / "documents"
    docs.mkdir()
    (docs / "model_card.md").write_text("# Card\n\n## Intended use\n\nRetention calls.\n")
    spec.documents = Path("documents")
    execute(spec, repo=tmp_path / "repo")
    return tmp_path / "repo"


def test_card_prints_markdown_and_attaches_both_formats(repo: Path) -> None:
    result = invoke("card", "--repo", repo)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("# Model card: good model fixture")
    assert "Retention calls." in result.stdout
    assert "attached the model card to run" in result.stderr
    repository = Repository.open(repo, create=False)
    (stored,) = repository.attachments("latest", "model_card")
    names = sorted(f.name for f in stored.attachment.files)
    assert names == ["model_card.html", "model_card.md"]
    md = stored.attachment.file("model_card.md")
    assert repository.get(md.sha256).decode() == result.stdout
    assert invoke("verify", "--repo", repo).exit_code == 0


def test_building_again_attaches_nothing_new(repo: Path) -> None:
    invoke("card", "--repo", repo)
    again = invoke("card", "--repo", repo, "-f", "html", "-o", repo.parent / "card.html")

    assert again.exit_code == 0, again.stderr
    assert "Model card unchanged: already attached" in again.stderr
    assert (repo.parent / "card.html").read_text().startswith("<!doctype html>")
    assert len(Repository.open(repo, create=False).attachments("latest", "model_card")) == 1


def test_datasheet_and_no_store(repo: Path) -> None:
    result = invoke("datasheet", "latest", "--repo", repo, "--no-store")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("# Datasheet: the data of good model fixture")
    assert "## Composition" in result.stdout
    assert Repository.open(repo, create=False).attachments("latest") == []


def test_bad_format_and_unknown_run_exit_2(repo: Path) -> None:
    bad = invoke("card", "--repo", repo, "-f", "pdf")
    assert bad.exit_code == 2
    assert error_of(bad) == "--format 'pdf' is not a document format. Use md or html."
    missing = invoke("datasheet", "deadbeef", "--repo", repo)
    assert missing.exit_code == 2
    assert "deadbeef" in error_of(missing)
