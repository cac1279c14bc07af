#!/usr/bin/env python3
"""Replaces the text between `<!-- corpus-table -->` and `<!-- /corpus-table -->` in a doc
with the contents of a file (the table the corpus test writes)."""
import sys

doc, table = sys.argv[1], sys.argv[2]
text = open(doc).read()
start, end = "<!-- corpus-table -->", "<!-- /corpus-table -->"
a, b = text.index(start) + len(start), text.index(end)
open(doc, "w").write(text[:a] + "\n" + open(table).read() + text[b:])
