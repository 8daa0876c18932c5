"""Message templates of the evidence repository, one per message; tests assert them exactly.

Templates shared with the rest of Assay (``REPO_NOT_WRITABLE``, ``REPO_NEWER``,
``RUN_NOT_FOUND``) live in :mod:`assay.errors`. Verification problems name the file first,
then what is wrong, then (in brackets) what it means.
"""

from __future__ import annotations

# Opening the repository
NOT_A_REPOSITORY = (
    "{path}: not an Assay evidence repository ({problem}). Point --repo or ASSAY_REPO at one, "
    "or let `assay audit` create it in an empty or new folder."
)
REPO_OLDER = (
    "{path}: the evidence repository has format version {found}; open it writable once so "
    "Assay can upgrade it to version {supported}."
)
REPO_NO_MIGRATION = (
    "{path}: the evidence repository has format version {found}, and this Assay has no "
    "upgrade from it to version {supported}. Use the Assay release that wrote it."
)
REPO_LOCKED = (
    "{path}: another process has held the repository lock ({lock}) for over {timeout:g} s. "
    "Wait for the other audit to finish, then retry."
)
READ_ONLY = "opened read-only, so it cannot {action}"

# Resolving runs
RUN_AMBIGUOUS = (
    "{ref!r} matches {count} runs in {repo}: {candidates}. Give more characters of the run id."
)
HINT_LIST = "Run `assay runs list` to see stored runs."
HINT_EMPTY = "The repository holds no runs yet; `assay audit` stores one."
HINT_NOT_APPROVED = "No run has been approved yet; `assay approve RUN --by NAME`."
HINT_APPROVAL_ENTRY = "Ledger entry #{seq} is an approval of run {run}, not a run."
HINT_ATTACHMENT_ENTRY = "Ledger entry #{seq} is a {kind} attached to run {run}, not a run."

# Storing
BLOB_HASH = (
    "blob {key}: its bytes hash to {actual}, not to its key. Pass each artefact under the "
    "sha256 hex digest of its bytes."
)
BLOB_UNLISTED = (
    "blob {key} is not one of the run's artefacts. List every stored file in Run.artefacts "
    "with its name and media type."
)
ARTEFACT_MISSING = (
    "artefact {name!r} (sha256 {sha}) is neither among the blobs nor stored in the "
    "repository. Pass its bytes in blobs."
)
ARTEFACT_SIZE = "artefact {name!r} says it is {size} bytes, but its bytes are {actual} long."
OBJECT_MISSING = "{path}: no such object in the evidence repository {repo}."
LEDGER_MISSING = "{path} is missing. Run `assay verify` to see what is wrong with the repository."

# Keys and approvals
KEY_UNREADABLE = (
    "{path}: cannot read the signing key ({problem}). Create a key pair with `assay keygen`, "
    "or pass the path of an existing private key."
)
KEY_NOT_PEM = (
    "{path}: not an unencrypted PEM private key ({problem}). Assay reads PKCS#8 PEM files as "
    "written by `assay keygen`."
)
KEY_NOT_ED25519 = (
    "{path}: holds a {kind} key, but Assay signs with Ed25519. Create an Ed25519 key pair with "
    "`assay keygen`."
)
KEY_EXISTS = (
    "{path}: a file already exists there, and Assay never overwrites a key. Choose another "
    "path, or move the old file away first."
)
KEY_NOT_WRITABLE = "{path}: cannot write the key file ({problem}). Choose a writable folder."
APPROVER_EMPTY = "The approver's name is empty. Pass who approves, e.g. --by 'Ada Lovelace'."

# Verification problems
V_OBJECT_CHANGED = (
    "{path}: content hashes to {actual}, not its name {expected} (the object was changed)"
)
V_UNREADABLE = "{path}: cannot be read ({problem})"
V_FORMAT = "FORMAT: {problem} (the repository marker was changed)"
V_LEDGER_GAP = (
    "{path} is missing: the ledger jumps from entry {before} to {after} (the chain is broken here)"
)
V_ENTRY_INVALID = "{path}: {problem} (the entry was changed)"
V_ENTRY_NOT_CANONICAL = "{path}: not in canonical JSON form (the entry was edited)"
V_ENTRY_SEQ = (
    "{path}: says seq {found}, but its file name says {expected} (the entry was renamed or edited)"
)
V_PREV_FIRST = (
    "{path}: prev is {prev}, but the first entry must have prev null (the chain is broken here)"
)
V_PREV = "{path}: prev is {prev}, but {previous_path} hashes to {actual} (the chain is broken here)"
V_ENTRY_OBJECT_MISSING = "{path}: its {kind} object {object_path} is missing"
V_ENTRY_OBJECT_CHANGED = (
    "{path}: its {kind} object {object_path} hashes to {actual} (the object was changed)"
)
V_RECORD_INVALID = (
    "{path}: its {kind} object {object_path} is not a valid {kind} record ({problem})"
)
V_ARTEFACT_MISSING = "{path}: run {run} lists artefact {name!r} as {object_path}, which is missing"
V_ARTEFACT_CHANGED = (
    "{path}: run {run} lists artefact {name!r} as {object_path}, which hashes to {actual} "
    "(the artefact was changed)"
)
V_PREVIOUS = (
    "{path}: run {run} names {found} as its previous run, but the previous run in the ledger "
    "is {expected} (the run chain is broken here)"
)
V_SIGNATURE = (
    "{path}: the signature of the approval by {by!r} does not verify with its public key "
    "(the approval was forged or changed)"
)
V_UNTRUSTED = (
    "{path}: the approval by {by!r} is signed with key {fingerprint}, which is not a trusted key"
)
V_APPROVAL_RUN = "{path}: approves run {run}, which no earlier ledger entry stores"
V_TRUNCATED = (
    "{path} is missing, but the index recorded it (entries were removed from the end of the ledger)"
)
V_REPLACED = "{path}: hashes to {actual}, but the index recorded {expected} (the entry was changed)"
V_ATTACHMENT_RUN = (
    "{path}: attaches a {kind} to run {run}, which no earlier ledger entry stores "
    "(the attachment was forged or its entries reordered)"
)
V_ATTACHED_MISSING = (
    "{path}: the {kind} attachment lists file {name!r} as {object_path}, which is missing"
)
V_ATTACHED_CHANGED = (
    "{path}: the {kind} attachment lists file {name!r} as {object_path}, which hashes to "
    "{actual} (the file was changed)"
)
V_ATTACHED_SIZE = (
    "{path}: the {kind} attachment says file {name!r} is {size} bytes, but {object_path} is "
    "{actual} bytes (the record is wrong)"
)
V_APPROVAL_VERDICT = "{path}: approves verdict {found!r}, but run {run} has verdict {expected!r}"

# Verification notes (not problems)
N_UNREFERENCED = "{path}: no ledger entry refers to it (left by an interrupted write; harmless)"
N_TEMP = "{path}: temporary file left by an interrupted write (harmless; safe to delete)"
N_STRAY = "{path}: not an object or ledger entry name; ignored"

# Bundles
B_UNREADABLE = "{path}: cannot read the bundle ({problem})"
B_NOT_TAR = "{path}: not a tar archive ({problem})"
B_TRAVERSAL = "{path}: member {name!r} points outside the bundle (path traversal)"
B_BAD_NAME = "{path}: member {name!r} is not part of an Assay bundle (unexpected member)"
B_NOT_FILE = "{path}: member {name!r} is not a regular file (unexpected member)"
B_DUPLICATE = "{path}: member {name!r} appears more than once"
B_BYTES = (
    "{path}: byte {offset} differs from the canonical form of the bundle's contents "
    "(the file was changed after export)"
)
B_LENGTH = (
    "{path}: the file is {found} bytes long, but the canonical form of its contents is "
    "{expected} bytes (the file was changed after export)"
)
B_NO_MANIFEST = "{path}: has no bundle.json manifest (not an Assay bundle)"
B_MANIFEST_INVALID = "{path}: bundle.json {problem}"
B_MANIFEST_MISMATCH = (
    "{path}: bundle.json does not match the bundle's contents (the manifest was changed)"
)
B_MISSING = "{path}: member {name} is missing ({what})"
B_EXTRA = "{path}: member {name} belongs to no part of the bundled run (unexpected member)"
B_TOO_LARGE = "{path}: member {name} is {size} bytes, too large for a manifest or ledger entry"
B_APPROVAL_OTHER = "{path}: approves run {run}, not the bundled run {expected}"
B_ATTACHMENT_OTHER = "{path}: attaches a {kind} to run {run}, not to the bundled run {expected}"
B_NEWER = (
    "{path}: the bundle has format version {found}, newer than this Assay understands "
    "({supported}). Upgrade Assay."
)
