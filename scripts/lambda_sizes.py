#!/usr/bin/env python3
"""lambda_sizes.py DIR: a Markdown table of the Lambda zips under DIR (cargo lambda's output)."""
import pathlib
import sys
import zipfile

rows = []
for zip_path in sorted(pathlib.Path(sys.argv[1]).glob("*/bootstrap.zip")):
    with zipfile.ZipFile(zip_path) as z:
        unzipped = sum(i.file_size for i in z.infolist())
    rows.append((zip_path.parent.name, zip_path.stat().st_size, unzipped))
print("| function | zip MB | unzipped MB | target |")
print("|---|---:|---:|---|")
for name, zipped, unzipped in rows:
    verdict = "met" if zipped < 10 * 1024 * 1024 else "NOT met"
    print(f"| {name} | {zipped / 1048576:.1f} | {unzipped / 1048576:.1f} | < 10 MB zipped: {verdict} |")
