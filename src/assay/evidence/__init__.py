"""The evidence repository: content-addressed objects, a hash-chained ledger, an index.

One import path per concept::

    from assay.evidence import Repository, verify_bundle, diff_runs

    repo = Repository.open(".assay")
    stored = repo.store_run(run, blobs)          # commits the run to the ledger
    repo.approve(stored.id, by="Ada", private_key_path="ada.pem")
    repo.attach(stored.id, "model_card", [("model_card.md", "text/markdown", card)])
    repo.export("approved", "release.tar")
    assert repo.verify().ok and verify_bundle("release.tar").ok
"""

from assay.evidence._index import RunSummary
from assay.evidence._store import FORMAT_VERSION, MIGRATIONS
from assay.evidence.attachment import ATTACHMENT_SCHEMA, Attachment, StoredAttachment
from assay.evidence.bundle import BUNDLE_VERSION
from assay.evidence.bundle_verify import verify_bundle
from assay.evidence.diff import (
    FindingChange,
    MetricChange,
    Regression,
    RunDiff,
    diff_runs,
    regressions,
)
from assay.evidence.repository import Repository, StoredRun
from assay.evidence.signing import (
    APPROVAL_SCHEMA,
    Approval,
    generate_keypair,
    key_fingerprint,
    load_private_key,
)
from assay.evidence.verify import VerifyReport

__all__ = [
    "APPROVAL_SCHEMA",
    "ATTACHMENT_SCHEMA",
    "BUNDLE_VERSION",
    "FORMAT_VERSION",
    "MIGRATIONS",
    "Approval",
    "Attachment",
    "FindingChange",
    "MetricChange",
    "Regression",
    "Repository",
    "RunDiff",
    "RunSummary",
    "StoredAttachment",
    "StoredRun",
    "VerifyReport",
    "diff_runs",
    "generate_keypair",
    "key_fingerprint",
    "load_private_key",
    "regressions",
    "verify_bundle",
]
