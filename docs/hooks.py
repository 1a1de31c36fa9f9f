"""MkDocs hook: the site's first page is the README itself (the guide),
whose links point into ``docs/`` and the repository; on the site they point
to its pages, and the repository's files are named as code."""
from __future__ import annotations

import re
from pathlib import Path

REPOSITORY = r"(?:benchmarks|configs|hngraph|tests)/[^)]+"


def _named(match: re.Match) -> str:
    text, path = match.group(1), match.group(2)
    return text if text.strip("`") == path else f"{text} (`{path}`)"


def on_page_markdown(markdown: str, page, config, **kwargs) -> str:
    if page.file.src_uri != "index.md":
        return markdown
    readme = Path(config["config_file_path"]).parent / "README.md"
    markdown = readme.read_text().replace("](docs/", "](")
    markdown = re.sub(rf"!\[[^\]]*\]\({REPOSITORY}\)\n?", "", markdown)
    return re.sub(rf"\[([^\]]+)\]\(({REPOSITORY})\)", _named, markdown)
