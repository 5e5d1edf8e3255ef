#!/usr/bin/env python3
"""Checks that a document's quotes of the example are still verbatim.

    check_doc_quotes.py DOC.md PREFIX DIR

Every `<!-- verbatim: PREFIX/FILE -->` line in DOC.md must be followed by a fenced code block whose lines appear,
consecutively and unchanged, in DIR/FILE (DIR: where the quoted files are, e.g. the installed example). At least one
such quote must exist, so a document that stops quoting the example fails too. Exit 1 names DOC:LINE of each stale
quote."""
import re
import sys
from pathlib import Path


def quotes(doc_lines):
    """(line number of the marker, quoted path, block lines) for each marked block."""
    marker = re.compile(r"^<!-- verbatim: (\S+) -->$")
    for i, line in enumerate(doc_lines):
        m = marker.match(line.strip())
        if not m:
            continue
        if i + 1 >= len(doc_lines) or not doc_lines[i + 1].startswith("```"):
            yield i + 1, m.group(1), None
            continue
        end = i + 2
        while end < len(doc_lines) and not doc_lines[end].startswith("```"):
            end += 1
        yield i + 1, m.group(1), doc_lines[i + 2:end]


def contains_lines(text_lines, block):
    n = len(block)
    return any(text_lines[k:k + n] == block for k in range(len(text_lines) - n + 1))


def main():
    doc, prefix, directory = Path(sys.argv[1]), sys.argv[2].rstrip("/") + "/", Path(sys.argv[3])
    lines = doc.read_text().splitlines()
    errors, count = [], 0
    for lineno, quoted, block in quotes(lines):
        count += 1
        where = f"{doc}:{lineno}"
        if block is None:
            errors.append(f"{where}: a verbatim marker must be followed by a ``` block")
        elif not quoted.startswith(prefix):
            errors.append(f"{where}: quotes {quoted}, which is not under {prefix}")
        elif not (directory / quoted[len(prefix):]).is_file():
            errors.append(f"{where}: quotes {quoted}, which does not exist in {directory}")
        elif not block or not contains_lines((directory / quoted[len(prefix):]).read_text().splitlines(), block):
            errors.append(f"{where}: the block no longer matches {quoted} line for line")
    if count == 0:
        errors.append(f"{doc}: quotes nothing of {prefix} (no '<!-- verbatim: {prefix}FILE -->' marker)")
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
