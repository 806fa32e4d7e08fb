"""Export one commit of a git repository file by file into a directory.

``git archive`` stops at the first object that is missing from a partial clone or a stored
snapshot; this reads the tree with ``git ls-tree -r -z`` and the blobs with one
``git cat-file --batch`` process, writes what is there and lists what is not.

    python export_moodle.py GIT_DIR COMMIT OUT_DIR
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def export(git_dir: str, commit: str, out: Path) -> tuple[int, list[str]]:
    listing = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "-r", "-z", "--full-tree", commit],
        check=True,
        capture_output=True,
    ).stdout
    entries = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, path = record.split(b"\t", 1)
        mode, kind, sha = meta.split()
        if kind != b"blob":  # submodules (commit entries) have no content here
            continue
        entries.append((mode.decode(), sha.decode(), path.decode()))
    batch = subprocess.Popen(
        ["git", f"--git-dir={git_dir}", "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert batch.stdin and batch.stdout
    written, missing = 0, []
    for mode, sha, path in entries:
        batch.stdin.write(sha.encode() + b"\n")
        batch.stdin.flush()
        header = batch.stdout.readline().split()
        if len(header) < 3:  # "<sha> missing"
            missing.append(path)
            continue
        size = int(header[2])
        data = batch.stdout.read(size)
        batch.stdout.read(1)  # the newline after the content
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "120000":
            if target.is_symlink() or target.exists():
                target.unlink()
            os.symlink(data.decode(), target)
        else:
            target.write_bytes(data)
            if mode == "100755":
                target.chmod(0o755)
        written += 1
    batch.stdin.close()
    batch.wait()
    return written, missing


def main() -> int:
    git_dir, commit, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    written, missing = export(git_dir, commit, out)
    print(f"exported {written} files of {commit} into {out}; {len(missing)} missing")
    for path in missing:
        print(f"  missing: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
