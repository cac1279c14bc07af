#!/usr/bin/env python3
"""splice.py DOC MARKER FILE: replaces the text between `<!-- MARKER -->` and `<!-- /MARKER -->`
in DOC with the contents of FILE (a table a test or benchmark wrote)."""
import sys

doc, marker, table = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(doc).read()
start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
if start not in text:
    text = text.rstrip("\n") + f"\n\n{start}\n{end}\n"
a, b = text.index(start) + len(start), text.index(end)
# The table is read before the doc is opened for writing: a missing table leaves the doc as it was.
new = open(table).read()
open(doc, "w").write(text[:a] + "\n" + new + text[b:])
