"""Replaces one `### ` section of docs/benchmarks.md (or appends it), for the parts of
`make bench` that also run alone (live_events.py, at_size.py)."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def update_docs(section, header_note, title):
    """Puts `section` (whose first line is `### {title}...`) in docs/benchmarks.md, with
    `header_note` after its first paragraph, in place of the section of that title."""
    path = os.path.join(ROOT, "docs", "benchmarks.md")
    with open(path) as docs:
        text = docs.read()
    section = section.replace("\n\n", f"\n\n{header_note}\n\n", 1)
    pattern = re.compile(rf"^### {re.escape(title)}.*?(?=^### |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as docs:
        docs.write(text)
