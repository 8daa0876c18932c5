"""Policy: the effective settings of each check, and waivers applied to its findings.

Thresholds, severities and owners come from a check's registered defaults, overridden by the
spec's ``checks:`` section; waivers turn a failing finding into ``waived`` until they expire.
Bad settings are spec errors named at their line, found before any check runs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from difflib import get_close_matches
from fnmatch import fnmatchcase

from pydantic import ValidationError

from assay.checks._registry import (
    REGISTRY,
    CheckInfo,
    CheckParams,
    Finding,
    Status,
    Threshold,
    Waiver,
    derive_seed,
)
from assay.errors import SPEC_FIELD, SpecError, UnknownCheckError
from assay.spec.models import Spec, ThresholdLevels

_WAIVABLE = (Status.FAIL, Status.WARN, Status.ERROR)


def validate_overrides(spec: Spec) -> None:
    """Every check id, threshold name and option in the spec must exist; raise SpecError if not."""
    for check_id, override in spec.checks.items():
        if check_id not in REGISTRY:
            raise UnknownCheckError(check_id, REGISTRY, where=spec.where("checks", check_id))
        info = REGISTRY[check_id]
        for metric in override.thresholds:
            if metric not in info.thresholds:
                known = ", ".join(info.thresholds) or "none"
                close = get_close_matches(metric, list(info.thresholds), n=1)
                hint = f"Did you mean {close[0]!r}? " if close else ""
                raise SpecError(
                    f"{spec.where('checks', check_id, 'thresholds', metric)}: {check_id} has no "
                    f"threshold {metric!r}. {hint}Thresholds of {check_id}: {known}."
                )
        options_for(info, spec)
    for i, waiver in enumerate(spec.waivers):
        if waiver.check not in REGISTRY:
            raise UnknownCheckError(waiver.check, REGISTRY, where=spec.where("waivers", i, "check"))


def options_for(info: CheckInfo, spec: Spec) -> object | None:
    """The check's options model validated from the spec's ``params:``, or None."""
    override = spec.checks.get(info.id)
    given = override.params if override else {}
    if info.options is None:
        if given:
            raise SpecError(
                f"{spec.where('checks', info.id, 'params')}: {info.id} takes no params. "
                f"Got {sorted(given)}. Remove `params:`."
            )
        return None
    try:
        return info.options.model_validate(given)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        loc = ("checks", info.id, "params", *error["loc"])
        field = ".".join(str(p) for p in error["loc"])
        problem = str(error["msg"]).replace("Input should be", "must be")
        raise SpecError(
            SPEC_FIELD.format(
                path=spec.source or "spec",
                line=spec.line_of(*loc) or 1,
                field=f"{field!r} of {info.id}",
                problem=problem[0].lower() + problem[1:],
                value=repr(error.get("input")),
                fix=f"See docs/checks.md#{info.id.replace('.', '')} for its params.",
            )
        ) from None


def params_for(info: CheckInfo, spec: Spec) -> CheckParams:
    """What check ``info`` runs with under ``spec``: thresholds, options, severity, owner, seed."""
    override = spec.checks.get(info.id)
    thresholds = dict(info.thresholds)
    if override:
        for metric, setting in override.thresholds.items():
            thresholds[metric] = _override(thresholds[metric], setting)
    options = options_for(info, spec)
    return CheckParams(
        info=info,
        thresholds=thresholds,
        options=options,  # type: ignore[arg-type]
        severity=override.severity if override and override.severity else info.severity,
        owner=spec.owner_for(info.domain, info.id),
        seed=derive_seed(spec.seed, info.id),
        min_rows=override.min_rows if override and override.min_rows is not None else info.min_rows,
    )


def _override(default: Threshold, setting: ThresholdLevels | float) -> Threshold:
    if isinstance(setting, ThresholdLevels):
        warn = setting.warn if "warn" in setting.model_fields_set else default.warn
        fail = setting.fail if "fail" in setting.model_fields_set else default.fail
        return replace(default, warn=warn, fail=fail)
    # A bare number sets the fail level; a warn level beyond it would never show, so drop it.
    warn = default.warn
    if warn is not None and default.breaches(warn, setting):
        warn = None
    return replace(default, fail=float(setting), warn=warn)


def apply_waivers(findings: list[Finding], spec: Spec, today: date) -> list[Finding]:
    """Findings with matching, unexpired waivers applied; an expired waiver says so."""
    result = []
    for finding in findings:
        for waiver in spec.waivers:
            if waiver.check != finding.check_id or not fnmatchcase(finding.subject, waiver.subject):
                continue
            if finding.status not in _WAIVABLE:
                continue
            record = Waiver(waiver.reason, waiver.approver, waiver.expires.isoformat())
            if waiver.expires < today:
                note = (
                    f" A waiver by {waiver.approver} expired on {waiver.expires.isoformat()} "
                    "and no longer applies."
                )
                finding = replace(finding, message=finding.message + note)
                continue
            finding = replace(
                finding,
                status=Status.WAIVED,
                waiver=record,
                message=f"{finding.message} Waived ({finding.status.value}) by {waiver.approver} "
                f"until {waiver.expires.isoformat()}: {waiver.reason}",
            )
            break
        result.append(finding)
    return result
