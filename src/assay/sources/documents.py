"""The documents folder: which files it holds, their text, and when and how they were versioned.

Governance and threat-model checks read documents through :func:`read_folder`, which never
raises for one bad file: a file that cannot be read (permissions) or is not UTF-8 text is
listed in :attr:`Folder.unreadable` with the reason, and the checks name it in a finding.

Versioning: when the folder is inside a git work tree, each file's state comes from git
(tracked or not, changed since its last commit, the last commit's time); otherwise, and for
untracked files, a document is versioned by the content hash every run stores with it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".rst", ".ipynb", ".html", ".yaml", ".yml"})
"""Documents read as text; other files are listed but their content is not parsed."""

GIT_TIMEOUT = 10.0


@dataclass(frozen=True)
class DocumentFile:
    """One file of the folder: its path relative to the folder, text, and version facts."""

    relative: str
    path: Path
    text: str | None
    changed: datetime
    """Last change: the last commit touching it when git tracks it unmodified, else mtime."""
    git: str
    """``committed``, ``modified`` (differs from its last commit), ``untracked`` or ``no git``."""

    @property
    def stem(self) -> str:
        return Path(self.relative).stem.lower()


@dataclass
class Folder:
    """The readable documents and the files that could not be read (with why)."""

    root: Path
    files: list[DocumentFile] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)

    def matching(self, *aliases: str) -> list[DocumentFile]:
        """Files whose name (without suffix) contains one of ``aliases`` (case-insensitive)."""
        return [
            f
            for f in self.files
            if any(a in f.stem.replace("-", "_").replace(" ", "_") for a in aliases)
        ]


def read_folder(root: Path) -> Folder:
    """Every file under ``root`` (hidden ones aside), read as text where it is text."""
    folder = Folder(root)
    in_repo, tracked = _git_states(root)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in Path(relative).parts):
            continue
        text: str | None = None
        if path.suffix.lower() in TEXT_SUFFIXES:
            try:
                text = path.read_bytes().decode("utf-8")
            except OSError as exc:
                folder.unreadable[relative] = f"cannot be read ({exc.strerror or exc})"
                continue
            except UnicodeDecodeError as exc:
                bad = exc.object[exc.start : exc.start + 1]
                folder.unreadable[relative] = f"is not UTF-8 text (byte {exc.start}: {bad!r})"
                continue
        elif not os.access(path, os.R_OK):
            folder.unreadable[relative] = "cannot be read (permission denied)"
            continue
        state, committed = tracked.get(relative, ("untracked" if in_repo else "no git", None))
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        changed = committed if committed is not None and state == "committed" else mtime
        folder.files.append(DocumentFile(relative, path, text, changed, state))
    return folder


def last_change(path: Path) -> datetime:
    """When a file (the model, a dataset) last changed: its last commit if git tracks it
    unmodified, else its modification time."""
    _, states = _git_states(path.parent, only=path.name)
    state, committed = states.get(path.name, ("", None))
    if state == "committed" and committed is not None:
        return committed
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _git_states(
    root: Path, only: str | None = None
) -> tuple[bool, dict[str, tuple[str, datetime | None]]]:
    """Whether ``root`` is in a git work tree, and path (relative to ``root``) → (state, last
    commit time) for the files git tracks there (none when git is missing)."""
    listed = _git(root, "ls-files", "-z", "--", only or ".")
    if listed is None:
        return False, {}
    changes = _git(root, "diff", "--name-only", "-z", "HEAD", "--", ".") or ""
    modified = set(changes.split("\0"))
    out: dict[str, tuple[str, datetime | None]] = {}
    for name in filter(None, listed.split("\0")):
        stamp = _git(root, "log", "-1", "--format=%cI", "--", name)
        committed = datetime.fromisoformat(stamp.strip()).astimezone(UTC) if stamp else None
        state = "modified" if _in(modified, root, name) else "committed"
        out[name] = (state, committed)
    return True, out


def _in(modified: set[str], root: Path, name: str) -> bool:
    """Whether ``name`` (relative to ``root``) is among git's repository-relative changes."""
    prefix = _git(root, "rev-parse", "--show-prefix") or ""
    return f"{prefix.strip()}{name}" in modified


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None
