"""The built-in control catalogue, its documentation, and the override's validation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assay.checks import load_builtin
from assay.compliance import (
    ENTRY_ERROR,
    Catalogue,
    apply_override,
    builtin_catalogue,
    parse_builtin,
    spec_catalogue,
)
from assay.compliance._catalogue import NOT_A_MAPPING, OVERRIDE_MISSING
from assay.compliance._docs import BEGIN, END, catalogue_markdown
from assay.errors import InputError, SpecError
from assay.spec.loader import parse_spec

REGISTRY = load_builtin()
DOC = Path(__file__).resolve().parents[2] / "docs" / "compliance.md"
CITATIONS = {
    "eu_ai_act": re.compile(
        r"(Article (9|1[0-5])(\(\d+\))+(\([a-z]+\))*|Annex IV, point \d+(\([a-z]\))?)"
    ),
    "nist_ai_rmf": re.compile(r"(MEASURE|MANAGE) [1-4]\.\d{1,2}"),
    "iso_42001": re.compile(r"Annex A, A\.(?:[2-9]|10)(?:\.\d+){1,2}"),
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return builtin_catalogue()


def test_every_mapped_check_is_registered(catalogue: Catalogue) -> None:
    assert catalogue.mapped_checks() <= set(REGISTRY)
    assert set(catalogue.unmapped) <= set(REGISTRY)


def test_every_registered_check_is_mapped_or_unmapped_with_a_reason(catalogue: Catalogue) -> None:
    forgotten = set(REGISTRY) - catalogue.mapped_checks() - set(catalogue.unmapped)
    assert sorted(forgotten) == [], "map these checks in catalogue.yaml or list them as unmapped"
    assert not catalogue.mapped_checks() & set(catalogue.unmapped)
    assert all(reason.strip() for reason in catalogue.unmapped.values())


def test_controls_are_cited_by_article_subcategory_or_annex_a_identifier(
    catalogue: Catalogue,
) -> None:
    assert list(catalogue.frameworks) == ["eu_ai_act", "nist_ai_rmf", "iso_42001"]
    for fw_id, fw in catalogue.frameworks.items():
        assert fw.controls
        assert len({c.id for c in fw.controls}) == len(fw.controls)
        for control in fw.controls:
            assert CITATIONS[fw_id].fullmatch(control.citation), control
            assert control.title.strip()
    nist = catalogue.frameworks["nist_ai_rmf"]
    assert all(c.id == c.citation for c in nist.controls)
    assert {c.id.split()[0] for c in nist.controls} == {"MEASURE", "MANAGE"}


def test_only_the_iso_mapping_is_indicative(catalogue: Catalogue) -> None:
    assert {k: fw.indicative for k, fw in catalogue.frameworks.items()} == {
        "eu_ai_act": False,
        "nist_ai_rmf": False,
        "iso_42001": True,
    }
    assert "not public" in catalogue.frameworks["iso_42001"].source


def test_the_documentation_lists_the_catalogue_as_it_is(catalogue: Catalogue) -> None:
    text = DOC.read_text(encoding="utf-8")
    generated = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert generated.strip() == catalogue_markdown(catalogue).strip(), (
        "run `python -m assay.compliance._docs docs/compliance.md`"
    )


# The override ------------------------------------------------------------------------------


def override(catalogue: Catalogue, text: str) -> Catalogue:
    return apply_override(catalogue, text, name="controls.yaml")


def test_an_override_adds_changes_and_removes_controls(catalogue: Catalogue) -> None:
    changed = override(
        catalogue,
        """
version: 1
controls:
  - framework: eu_ai_act
    id: Art. 10(5)
    title: Special categories of personal data for bias detection
    citation: Article 10(5)
    checks: [fairness.group_metrics]
  - framework: nist_ai_rmf
    id: MEASURE 2.11
    checks: [fairness.equalized_odds]
  - framework: nist_ai_rmf
    id: MEASURE 2.11
    add_checks: [model.slices, fairness.equalized_odds]
  - framework: nist_ai_rmf
    id: MEASURE 2.5
    remove_checks: [model.ood]
    title: Valid and reliable
  - framework: iso_42001
    id: A.10.3
    remove: true
unmapped:
  drift.label: labels arrive late
""",
    )
    eu = changed.frameworks["eu_ai_act"]
    assert eu.controls[-1].id == "Art. 10(5)"
    assert eu.controls[-1].checks == ("fairness.group_metrics",)
    nist = changed.frameworks["nist_ai_rmf"]
    m211 = nist.control("MEASURE 2.11")
    assert m211 is not None and m211.checks == ("fairness.equalized_odds", "model.slices")
    m25 = nist.control("MEASURE 2.5")
    assert m25 is not None and "model.ood" not in m25.checks and m25.title == "Valid and reliable"
    assert changed.frameworks["iso_42001"].control("A.10.3") is None
    assert changed.unmapped["drift.label"] == "labels arrive late"
    assert catalogue.frameworks["iso_42001"].control("A.10.3") is not None  # base unchanged


BAD = [
    (
        "controls:\n  - framework: nist_ai_rmf\n    id: MEASURE 2.11\n"
        "    add_checks: [model.slice]\n",
        4,
        "controls[0] (nist_ai_rmf control 'MEASURE 2.11')",
        "'add_checks' names an unknown check",
        "'model.slice'",
        "Did you mean 'model.slices'?",
    ),
    (
        "controls:\n  - framework: eu_act\n    id: Art. 9(8)\n",
        2,
        "controls[0]",
        "'framework' must be one of eu_ai_act, nist_ai_rmf, iso_42001",
        "'eu_act'",
        "Use one of the values listed.",
    ),
    (
        "controls:\n  - framework: iso_42001\n    id: A.99\n    remove: true\n",
        3,
        "controls[0] (iso_42001 control 'A.99')",
        "there is no such control to remove in iso_42001",
        "'A.99'",
        "See docs/compliance.md for the built-in controls.",
    ),
    (
        "controls:\n  - framework: eu_ai_act\n    id: Art. 10(5)\n    checks: []\n",
        2,
        "controls[0] (eu_ai_act control 'Art. 10(5)')",
        "'title' is required",
        "nothing",
        "Write `title:` as text.",
    ),
    (
        "controls:\n  - framework: eu_ai_act\n    id: Art. 9(8)\n    check: [model.ood]\n",
        4,
        "controls[0]",
        "'check' is not a known setting",
        "a list of 1 items",
        "Did you mean 'checks'? Known settings here: framework, id, title, citation, checks, "
        "add_checks, remove_checks, remove.",
    ),
    (
        "controls:\n  - framework: eu_ai_act\n    id: Art. 9(8)\n    checks: model.ood\n",
        4,
        "controls[0] (eu_ai_act control 'Art. 9(8)')",
        "'checks' must be a list of check ids",
        "'model.ood'",
        "Write `checks: [integrity.schema, model.performance]`.",
    ),
    (
        "controls:\n  - framework: eu_ai_act\n    id: Art. 9(8)\n    remove: yes please\n",
        4,
        "controls[0] (eu_ai_act control 'Art. 9(8)')",
        "'remove' must be true and stand alone with framework and id",
        "'yes please'",
        "Write `remove: true`, or drop it to change the control instead.",
    ),
    (
        "unmapped:\n  drift.labels: late\n",
        2,
        "unmapped.drift.labels",
        "names an unknown check",
        "'drift.labels'",
        "Did you mean 'drift.label'?",
    ),
]


@pytest.mark.parametrize(("text", "line", "entry", "problem", "value", "fix"), BAD)
def test_a_malformed_override_names_file_line_entry_and_fix(
    catalogue: Catalogue, text: str, line: int, entry: str, problem: str, value: str, fix: str
) -> None:
    with pytest.raises(SpecError) as caught:
        override(catalogue, text)
    assert str(caught.value) == ENTRY_ERROR.format(
        path="controls.yaml", line=line, entry=entry, problem=problem, value=value, fix=fix
    )


@pytest.mark.parametrize(("text", "kind"), [("", "an empty file"), ("- a\n", "a list")])
def test_an_override_that_is_not_a_mapping(catalogue: Catalogue, text: str, kind: str) -> None:
    with pytest.raises(SpecError) as caught:
        override(catalogue, text)
    assert str(caught.value) == NOT_A_MAPPING.format(path="controls.yaml", kind=kind)


def test_an_override_that_is_not_yaml(catalogue: Catalogue) -> None:
    with pytest.raises(SpecError, match=r"^controls.yaml, line 3: the file is not valid YAML"):
        override(catalogue, "controls:\n  - [unclosed\n")


def test_a_missing_override_file_names_the_spec_line(tmp_path: Path) -> None:
    (tmp_path / "assay.yaml").write_text(
        "version: 1\nsystem: {name: s}\ndatasets: {}\ncompliance:\n  catalogue: nope.yaml\n"
    )
    spec = parse_spec((tmp_path / "assay.yaml").read_bytes(), source=tmp_path / "assay.yaml")
    with pytest.raises(InputError) as caught:
        spec_catalogue(spec)
    assert str(caught.value) == OVERRIDE_MISSING.format(
        where=f"{tmp_path / 'assay.yaml'}, line 5", path=tmp_path.resolve() / "nope.yaml"
    )


def test_the_builtin_catalogue_is_held_to_the_same_rules() -> None:
    text = "frameworks: {eu_ai_act: {}, nist_ai_rmf: {}}\n"
    with pytest.raises(SpecError, match="must map each of eu_ai_act, nist_ai_rmf, iso_42001"):
        parse_builtin(text, known=REGISTRY, name="c.yaml")


def test_the_shipped_catalogue_reads_the_same_with_libyaml_as_in_python() -> None:
    """The built-in catalogue is composed by libyaml's C parser: same data, same lines."""
    from importlib import resources

    from assay.spec.loader import _compose

    text = resources.files("assay.compliance").joinpath("catalogue.yaml").read_text("utf-8")
    fast = _compose(text, "catalogue.yaml", shipped=True)
    slow = _compose(text, "catalogue.yaml")
    assert fast == slow and len(fast[1]) > 100
