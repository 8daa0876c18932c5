"""Bad input: one clear message on stderr, exit code 2, no traceback, and no evidence touched.

Every case runs twice: against an evidence repository that already holds one run (which must
stay byte for byte as it was) and against a repository folder that does not exist yet (which
must still not exist afterwards).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from _cli_support import add_to_spec, error_of, flat, invoke, line_of, snapshot
from _support import write_project
from assay.checks._registry import REGISTRY
from assay.errors import (
    COLUMN_MISSING,
    DATA_EMPTY,
    DATA_NOT_FOUND,
    DATA_NOT_UTF8,
    DATA_RAGGED,
    DATA_UNREADABLE,
    RUN_NOT_FOUND,
    SPEC_FIELD,
    SPEC_NOT_FOUND,
    SPEC_NOT_YAML,
    UnknownCheckError,
)
from assay.evidence import _messages as msg

Case = Callable[[Path], tuple[list[object], str]]
"""Given the project folder, write the bad input; return the arguments and the message."""

COLUMNS = "id, age, city, label"


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An evidence repository holding one run, copied by every test that needs one."""
    base = tmp_path_factory.mktemp("template")
    repo = base / "repo"
    result = invoke("audit", write_project(base / "project"), "--repo", repo, "-q")
    assert result.exit_code in (0, 1), result.stderr
    return repo


@pytest.fixture(params=["existing", "absent"])
def repo(request: pytest.FixtureRequest, tmp_path: Path, template_repo: Path) -> Path:
    """The ``--repo`` folder: a copy of a repository with one run, or no folder at all."""
    target = tmp_path / "evidence"
    if request.param == "existing":
        shutil.copytree(template_repo, target)
    return target


def assert_refused(args: list[object], expected: str, tmp_path: Path, repo: Path) -> str:
    """Run ``args``; check the one message and that nothing under ``tmp_path`` changed."""
    existed = repo.exists()
    before = snapshot(tmp_path)

    message = error_of(invoke(*args))

    assert message == flat(expected)
    assert snapshot(tmp_path) == before
    assert repo.exists() == existed
    return message


# the spec ----------------------------------------------------------------------------------


def missing_spec(project: Path) -> tuple[list[object], str]:
    spec = project / "nowhere" / "assay.yaml"
    return ["audit", spec], SPEC_NOT_FOUND.format(path=spec)


def misindented_yaml(project: Path) -> tuple[list[object], str]:
    spec = project / "assay.yaml"
    text = spec.read_text().replace("    target: label", "     target: label", 1)
    spec.write_text(text)
    line = line_of(text, "     target: label")
    problem = "mapping values are not allowed here"
    return ["audit", spec], SPEC_NOT_YAML.format(path=spec, line=line, problem=problem)


def tab_in_yaml(project: Path) -> tuple[list[object], str]:
    spec = project / "assay.yaml"
    text = spec.read_text().replace('  version: "1.0"', '\tversion: "1.0"', 1)
    spec.write_text(text)
    line = line_of(text, '\tversion: "1.0"')
    problem = "found character '\\t' that cannot start any token"
    return ["audit", spec], SPEC_NOT_YAML.format(path=spec, line=line, problem=problem)


def unknown_check(project: Path) -> tuple[list[object], str]:
    spec = project / "assay.yaml"
    text = add_to_spec(spec, "checks:\n  integrity.missing_value:\n    severity: minor\n")
    where = f"{spec}, line {line_of(text, 'integrity.missing_value:')}"
    expected = str(UnknownCheckError("integrity.missing_value", REGISTRY, where=where))
    assert "Did you mean 'integrity.missing_values'" in expected
    return ["audit", spec], expected


def unknown_waived_check(project: Path) -> tuple[list[object], str]:
    spec = project / "assay.yaml"
    text = add_to_spec(
        spec,
        """
        waivers:
          - check: integrity.duplicate_row
            reason: Repeat customers.
            approver: jane@example.org
            expires: 2030-01-31
        """,
    )
    where = f"{spec}, line {line_of(text, '- check: integrity.duplicate_row')}"
    expected = str(UnknownCheckError("integrity.duplicate_row", REGISTRY, where=where))
    assert "Did you mean 'integrity.duplicate_rows'" in expected
    return ["audit", spec], expected


def unknown_threshold(project: Path) -> tuple[list[object], str]:
    spec = project / "assay.yaml"
    text = add_to_spec(
        spec,
        """
        checks:
          integrity.missing_values:
            thresholds:
              missing_rate: 0.1
        """,
    )
    known = ", ".join(REGISTRY["integrity.missing_values"].thresholds)
    expected = (
        f"{spec}, line {line_of(text, 'missing_rate:')}: integrity.missing_values has no "
        f"threshold 'missing_rate'. Did you mean 'missing_ratio'? "
        f"Thresholds of integrity.missing_values: {known}."
    )
    return ["audit", spec], expected


def waiver_without(field: str) -> Case:
    def case(project: Path) -> tuple[list[object], str]:
        spec = project / "assay.yaml"
        lines = [
            "waivers:",
            "  - check: integrity.duplicate_rows",
            "    reason: Repeat customers.",
            "    approver: jane@example.org",
            "    expires: 2030-01-31",
        ]
        text = add_to_spec(spec, "\n".join(x for x in lines if field not in x) + "\n")
        expected = SPEC_FIELD.format(
            path=spec,
            line=line_of(text, "- check: integrity.duplicate_rows"),
            field=f"waivers.0.{field}",
            problem="is required",
            value="nothing",
            fix=f"Add `{field}:` here.",
        )
        return ["audit", spec], expected

    case.__name__ = f"waiver_without_{field}"
    return case


# columns the spec names --------------------------------------------------------------------


def missing_column(old: str, new: str, field: str, column: str) -> Case:
    def case(project: Path) -> tuple[list[object], str]:
        spec = project / "assay.yaml"
        text = spec.read_text().replace(old, new, 1)
        spec.write_text(text)
        expected = COLUMN_MISSING.format(
            path=spec,
            line=line_of(text, new.strip().splitlines()[-1].strip()),
            field=field,
            column=column,
            dataset="train",
            file=project / "train.parquet",
            existing=COLUMNS,
        )
        return ["audit", spec], expected

    case.__name__ = f"missing_{field}"
    return case


# the data ----------------------------------------------------------------------------------


def ragged_csv(project: Path) -> tuple[list[object], str]:
    path = project / "test.csv"
    lines = path.read_text().splitlines()
    lines[2] += ",9"
    path.write_text("\n".join(lines) + "\n")
    expected = DATA_RAGGED.format(file=path, line=3, expected=4, got=5, text=lines[2])
    return ["audit", project / "assay.yaml"], expected


def header_only_csv(project: Path) -> tuple[list[object], str]:
    path = project / "test.csv"
    path.write_text("id,age,city,label\n")
    return ["audit", project / "assay.yaml"], DATA_EMPTY.format(file=path, dataset="test")


def empty_parquet(project: Path) -> tuple[list[object], str]:
    path = project / "train.parquet"
    schema = pq.read_schema(path)
    pq.write_table(schema.empty_table(), path)
    assert pq.read_metadata(path).num_rows == 0
    return ["audit", project / "assay.yaml"], DATA_EMPTY.format(file=path, dataset="train")


def latin1_csv(project: Path) -> tuple[list[object], str]:
    path = project / "test.csv"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = "102,27,café,1\n".encode("latin-1")
    path.write_bytes(b"".join(lines))
    expected = DATA_NOT_UTF8.format(file=path, line=3, text=b"102,27,caf\xe9,1\n")
    return ["audit", project / "assay.yaml"], expected


def missing_dataset(project: Path) -> tuple[list[object], str]:
    spec = project / "assay.yaml"
    text = spec.read_text().replace("path: test.csv", "path: data/nothere.csv")
    spec.write_text(text)
    expected = DATA_NOT_FOUND.format(
        path=spec,
        line=line_of(text, "path: data/nothere.csv"),
        dataset="test",
        file=project / "data" / "nothere.csv",
        fix="Fix the path (relative paths start at the spec's folder) or create the file.",
    )
    return ["audit", spec], expected


def missing_model(project: Path) -> tuple[list[object], str]:
    spec = project / "assay.yaml"
    text = add_to_spec(spec, "model:\n  path: models/model.skops\n")
    expected = (
        f"{spec}, line {line_of(text, 'path: models/model.skops')}: model file "
        f"{project / 'models' / 'model.skops'} does not exist. "
        "Fix the path (relative paths start at the spec's folder) or save the model there."
    )
    return ["audit", spec], expected


def missing_documents(project: Path) -> tuple[list[object], str]:
    spec = project / "assay.yaml"
    text = add_to_spec(spec, "documents: governance-docs\n")
    expected = (
        f"{spec}, line {line_of(text, 'documents:')}: documents folder "
        f"{project / 'governance-docs'} does not exist. Create it or fix the path."
    )
    return ["audit", spec], expected


CASES: list[Case] = [
    missing_spec,
    misindented_yaml,
    tab_in_yaml,
    unknown_check,
    unknown_waived_check,
    unknown_threshold,
    waiver_without("approver"),
    waiver_without("expires"),
    missing_column("target: label", "target: outcome", "datasets.train.target", "outcome"),
    missing_column("id: id", "id: row_id", "datasets.train.id", "row_id"),
    missing_column(
        "id: id", "id: id\n    sensitive: [gender]", "datasets.train.sensitive.0.column", "gender"
    ),
    ragged_csv,
    header_only_csv,
    empty_parquet,
    latin1_csv,
    missing_dataset,
    missing_model,
    missing_documents,
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_audit_refuses_bad_input(project: Path, repo: Path, case: Case) -> None:
    args, expected = case(project)

    assert_refused([*args, "--repo", repo], expected, project, repo)


def test_a_missing_sensitive_column_in_a_block_list_names_its_own_line(
    project: Path, repo: Path
) -> None:
    case = missing_column(
        "id: id",
        "id: id\n    sensitive:\n      - column: gender",
        "datasets.train.sensitive.0.column",
        "gender",
    )
    args, expected = case(project)

    assert_refused([*args, "--repo", repo], expected, project, repo)


@pytest.mark.parametrize("cell", ["[/]x", "[bold]x"])
def test_a_ragged_row_is_quoted_verbatim(project: Path, repo: Path, cell: str) -> None:
    path = project / "test.csv"
    lines = path.read_text().splitlines()
    lines[2] = f"102,{cell},c,1,9"
    path.write_text("\n".join(lines) + "\n")
    expected = DATA_RAGGED.format(file=path, line=3, expected=4, got=5, text=lines[2])

    assert_refused(["audit", project / "assay.yaml", "--repo", repo], expected, project, repo)


def test_fail_on_with_a_bad_severity_is_a_usage_error(project: Path, repo: Path) -> None:
    before = snapshot(project)

    result = invoke("audit", project / "assay.yaml", "--repo", repo, "--fail-on", "fatal")

    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    text = flat(result.stderr)
    assert text.startswith("Usage: assay audit [OPTIONS]")
    assert text.endswith(
        "Invalid value for '--fail-on': 'fatal' is not a severity. "
        "Use one of blocker, major, minor, info."
    )
    assert snapshot(project) == before


# other commands ----------------------------------------------------------------------------


def test_runs_show_an_unknown_run(tmp_path: Path, repo: Path) -> None:
    expected = (
        RUN_NOT_FOUND.format(ref="nosuchrun", repo=repo, hint=msg.HINT_LIST)
        if repo.exists()
        else msg.NOT_A_REPOSITORY.format(path=repo, problem="no such folder")
    )

    assert_refused(["runs", "show", "nosuchrun", "--repo", repo], expected, tmp_path, repo)


@pytest.mark.parametrize("layout", ["other files", "empty", "missing"])
def test_verify_a_folder_that_is_not_a_repository(tmp_path: Path, layout: str) -> None:
    folder = tmp_path / "not-a-repo"
    if layout != "missing":
        folder.mkdir()
    if layout == "other files":
        (folder / "notes.txt").write_text("mine")
    problem = "no such folder" if layout == "missing" else "it has no FORMAT file"
    expected = msg.NOT_A_REPOSITORY.format(path=folder, problem=problem)

    assert_refused(["verify", "--repo", folder], expected, tmp_path, folder)


@pytest.mark.parametrize("kind", ["text", "public key", "missing"])
def test_approve_with_a_file_that_is_not_a_private_key(
    tmp_path: Path, repo: Path, kind: str
) -> None:
    keys = tmp_path / "keys"
    assert invoke("keygen", "-o", keys / "real.key").exit_code == 0
    key = {
        "text": tmp_path / "notes.txt",
        "public key": keys / "real.pub",
        "missing": keys / "absent.key",
    }[kind]
    if kind == "text":
        key.write_text("not a key\n")
    existed = repo.exists()
    before = snapshot(tmp_path)

    message = error_of(invoke("approve", "latest", "--by", "Ada", "--key", key, "--repo", repo))

    assert snapshot(tmp_path) == before
    assert repo.exists() == existed
    if not existed:
        assert message == msg.NOT_A_REPOSITORY.format(path=repo, problem="no such folder")
    elif kind == "missing":
        problem = "No such file or directory"
        assert message == msg.KEY_UNREADABLE.format(path=key, problem=problem)
    else:
        head, _, tail = msg.KEY_NOT_PEM.partition("({problem})")
        assert message.startswith(head.format(path=key) + "(")
        assert message.endswith(")" + tail)


def test_a_zero_byte_parquet_file(project: Path, repo: Path) -> None:
    path = project / "train.parquet"
    path.write_bytes(b"")
    existed = repo.exists()
    before = snapshot(project)

    message = error_of(invoke("audit", project / "assay.yaml", "--repo", repo))

    head, _, tail = DATA_UNREADABLE.partition("{problem}")
    assert message.startswith(head.format(file=path, dataset="train", format="parquet"))
    assert message.endswith(
        tail.format(fix="Check that it is a Parquet file, or set `format:` to what it is.")
    )
    assert snapshot(project) == before
    assert repo.exists() == existed


def test_a_model_that_does_not_load_is_refused_up_front(project: Path, repo: Path) -> None:
    spec = project / "assay.yaml"
    (project / "model.onnx").write_text("not a model\n")
    text = add_to_spec(spec, "model:\n  path: model.onnx\n")
    before = snapshot(project)

    result = invoke("audit", spec, "--repo", repo)

    assert result.exit_code == 2
    message = error_of(result)
    assert message.startswith(
        f"{spec}, line {line_of(text, 'path: model.onnx')}: cannot load model file "
        f"{project / 'model.onnx'} as onnx: not an ONNX file: "
    )
    assert message.endswith("Export the model again (for example with skl2onnx), or fix `format:`.")
    assert snapshot(project) == before


def test_a_malformed_compliance_catalogue_override_is_refused_up_front(
    project: Path, repo: Path
) -> None:
    from assay.compliance import ENTRY_ERROR

    spec = project / "assay.yaml"
    override = project / "controls.yaml"
    text = (
        "version: 1\n"
        "controls:\n"
        "  - framework: nist_ai_rmf\n"
        "    id: MEASURE 2.11\n"
        "    add_checks: [model.slice]\n"
    )
    override.write_text(text)
    add_to_spec(spec, "compliance:\n  catalogue: controls.yaml\n")
    before, existed = snapshot(project), repo.exists()

    message = error_of(invoke("audit", spec, "--repo", repo))

    assert message == flat(
        ENTRY_ERROR.format(
            path=spec.resolve().parent / "controls.yaml",
            line=line_of(text, "add_checks"),
            entry="controls[0] (nist_ai_rmf control 'MEASURE 2.11')",
            problem="'add_checks' names an unknown check",
            value="'model.slice'",
            fix="Did you mean 'model.slices'?",
        )
    )
    assert snapshot(project) == before
    assert repo.exists() == existed
