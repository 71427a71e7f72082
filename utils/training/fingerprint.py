"""Fingerprints of a run's input files, so that `--resume` can tell whether they changed.

A fingerprint is the resolved path, the size and the sha256 of a file; a folder's fingerprint
holds one per file in it (hidden files and temp files left out). A run records the fingerprints
of its inputs (data file, masks, start weights) in args.json; `--resume` compares them with the
files it is given and names every difference (the same file written another way, e.g. `exp/x/`
or an absolute path, is the same input).

The same records tell every later consumer whether an artifact is still what it was built from
(`content_changes`; utils/training/built_from.py holds the one check they all go through).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Collection, Mapping

from utils.errors import InputError
from utils.paths import check_path_kind

_CHUNK = 1 << 20


def file_digest(path: Path) -> dict[str, Any]:
    """{"size", "sha256"} of one file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


def fingerprint(path: str | os.PathLike) -> dict[str, Any]:
    """{"path", "resolved", "size", "sha256"} of a file, or {"path", "resolved", "files": {name:
    {"size", "sha256"}}} of a folder."""
    given = Path(path)
    if not given.exists():
        raise InputError("not found", given)
    record: dict[str, Any] = {"path": str(given), "resolved": str(given.resolve())}
    if given.is_dir():
        record["files"] = {p.name: file_digest(p) for p in sorted(given.iterdir())
                           if p.is_file() and not p.name.startswith(".")}
    else:
        record.update(file_digest(given))
    return record


def fingerprints(inputs: Mapping[str, str | os.PathLike | None],
                 folders: Collection[str] = ()) -> dict[str, Any]:
    """{argument: fingerprint} of the inputs given (None values are left out). Each must be the
    kind of thing its argument names: a folder for those in `folders`, else a file (a file
    argument given a folder is refused, not read whole)."""
    return {name: fingerprint(check_path_kind(path, "folder" if name in folders else "file",
                                              f"--{name} {path}"))
            for name, path in inputs.items() if path is not None}


def differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What changed between two `fingerprints` results, one phrase per input."""
    found = []
    for name in sorted(set(saved) | set(current)):
        old, new = saved.get(name), current.get(name)
        if old is None or new is None:
            found.append(f"--{name} was {_shown(old)}, now {_shown(new)}")
        elif old["resolved"] != new["resolved"]:
            found.append(f"--{name} was {old['resolved']}, now {new['resolved']}")
        elif "files" in old or "files" in new:
            changed = _changed_files(old.get("files", {}), new.get("files", {}))
            if changed:
                found.append(f"--{name} {new['path']}: {', '.join(changed)} changed since the run "
                             "started")
        elif (old["size"], old["sha256"]) != (new["size"], new["sha256"]):
            found.append(f"--{name} {new['path']} changed since the run started "
                         f"({_content(old)} then, {_content(new)} now)")
    return found


def _shown(record: Mapping[str, Any] | None) -> str:
    return "not given" if record is None else record["path"]


def _content(record: Mapping[str, Any]) -> str:
    if not isinstance(record.get("size"), int) or not isinstance(record.get("sha256"), str):
        return "no content recorded"
    return f"{record['size']:,} bytes, sha256 {record['sha256'][:12]}"


def _changed_files(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return [name + ("" if name in old and name in new else
                    " (new)" if name in new else " (gone)")
            for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)]


def content_changes(recorded: Mapping[str, Any],
                    at: Mapping[str, str | os.PathLike] | None = None,
                    gone_ok: bool = False) -> list[str]:
    """What changed in the content of each recorded input since its fingerprint was taken: the
    file or folder now at its recorded (resolved) path, or at `at[name]` where given (another
    copy that must hold the same content), compared by size and sha256. One phrase per input;
    an input no longer there is one too, unless `gone_ok` (the artifact holds its own copy)."""
    found = []
    for name in sorted(recorded):
        old = recorded[name]
        if not isinstance(old, Mapping) or "resolved" not in old:
            found.append(f"{name}: its fingerprint is unreadable")
            continue
        where = Path((at or {}).get(name, old["resolved"]))
        if not where.exists():
            if not gone_ok:
                found.append(f"{name} {where} is gone")
            continue
        new = fingerprint(where)
        if "files" in old or "files" in new:
            changed = _changed_files(old.get("files", {}), new.get("files", {}))
            if changed:
                found.append(f"{name} {where}: {', '.join(changed[:5])}"
                             f"{f' and {len(changed) - 5} more' if len(changed) > 5 else ''} changed")
        elif (old.get("size"), old.get("sha256")) != (new["size"], new["sha256"]):
            found.append(f"{name} {where} changed ({_content(old)} then, {_content(new)} now)")
    return found
