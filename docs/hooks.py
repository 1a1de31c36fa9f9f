"""MkDocs hooks of the documentation site.

- The home page is the README, whose links point into ``docs/`` and the
  repository.
- A line ``<!-- include PATH -->`` puts a repository Markdown file into a
  page (the results and speed reports), its headings one level down and its
  images published beside the site's other files.
- Links to the reports shown on the site point to their pages, and their
  images to the published copies; other links into the repository name the
  file as code (the site does not hold it). Pages link into the repository
  with ``../``, so that the same links work when read on GitHub.
- ``$...$`` and ``$$...$$`` on the method page become MathML, as the
  docstrings' formulas do (``docs/rst_roles.py``): no script, no network.
"""
from __future__ import annotations

import re
from pathlib import Path

from latex2mathml.converter import convert
from mkdocs.structure.files import File

REPOSITORY = r"(?:benchmarks|configs|hngraph|tests)/[^)#]+"
#: The repository's reports shown on the site: file -> its page (anchor).
SHOWN = {"benchmarks/results/verdict/RESULTS.md": "results.md#the-verdict-grid",
         "benchmarks/results/verdict/BAYES.md": "results.md#the-verdict-grid",
         "benchmarks/results/graphcl/RESULTS.md":
         "results.md#the-two-view-grid",
         "benchmarks/results/graphcl/BAYES.md": "results.md#the-two-view-grid",
         "benchmarks/results/speed/SPEED.md": "speed.md",
         "benchmarks/results/PREREGISTRATION.md":
         "reports.md#preregistration-nci109-as-a-replication-of-the-nci1-signal",
         "benchmarks/results/infograph_selection/SELECTION.md":
         "reports.md#diagnostic-infographs-own-selection",
         "benchmarks/results/molecules/RESULTS.md":
         "reports.md#molecules-trained-against-untrained",
         "benchmarks/results/scaling/SCALING.md":
         "reports.md#scaling-ddp-training",
         "benchmarks/results/archive/paper/RESULTS.md":
         "reports.md#hard-negatives-against-infograph-the-earlier-5-seed-grid"}
INCLUDE = re.compile(r"^<!-- include (\S+) -->$", re.MULTILINE)
MATH_PAGES = {"method.md"}


def _root(config) -> Path:
    return Path(config["config_file_path"]).parent


def on_files(files, config, **kwargs):
    """Publish the images of the shown reports under ``reports/``."""
    for name in sorted({report.rsplit("/", 1)[0] for report in SHOWN}):
        folder = _root(config) / name
        for image in sorted(folder.glob("*.png")) + sorted(folder.glob(
                "*.svg")):
            files.append(File.generated(config, _published(
                image.relative_to(_root(config))), abs_src_path=str(image)))
    return files


def _published(path) -> str:
    """Where a report's image is published: ``reports/<folder>/<name>``."""
    return "reports/" + "/".join(Path(path).parts[-2:])


def _include(match: re.Match, root: Path, page_uri: str) -> str:
    path = match.group(1)
    text = (root / path).read_text()
    text = re.sub(r"^(#+) ", r"#\1 ", text, flags=re.MULTILINE)
    up = "../" * page_uri.count("/")
    folder = path.rsplit("/", 1)[0]
    # a report's link to a page beside it: its repository path, which
    # on_page_markdown then turns into the site's page or plain words
    text = re.sub(r"(?<!!)\[([^\]]+)\]\(([^)/:#]+\.md)\)",
                  lambda m: f"[{m.group(1)}](../{folder}/{m.group(2)})", text)
    return re.sub(r"!\[([^\]]*)\]\(([^)/]+\.(?:png|svg))\)",
                  lambda m: f"![{m.group(1)}]({up}{_published(folder + '/' + m.group(2))})",
                  text)


def _image(match: re.Match, up: str) -> str:
    """A repository image: the published copy when it belongs to a shown
    report, else nothing (the site does not hold it)."""
    path = match.group(2)
    if path.rsplit("/", 1)[0] in {r.rsplit("/", 1)[0] for r in SHOWN}:
        return f"![{match.group(1)}]({up}{_published(path)})"
    return ""


def _named(match: re.Match) -> str:
    text, path = match.group(1), match.group(2)
    if path in SHOWN:
        return f"[{text}]({SHOWN[path]})"
    return text if text.strip("`") == path else f"{text} (`{path}`)"


def _display(latex: str) -> str:
    """A ``$$`` block as display MathML; aligned lines (``&``, ``\\\\``)
    as Sphinx and the docstrings align them."""
    if "&" in latex or "\\\\" in latex:
        latex = f"\\begin{{align*}}{latex}\\end{{align*}}"
    return convert(latex, display="block").replace("\n", " ")


def _math(markdown: str) -> str:
    markdown = re.sub(r"^\$\$\n(.*?)\n\$\$$", lambda m: _display(m.group(1)),
                      markdown, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"(?<![\\$\w])\$([^$\n]+)\$", lambda m: "<span>"
                  + convert(m.group(1)) + "</span>", markdown)


def on_page_markdown(markdown: str, page, config, **kwargs) -> str:
    root = _root(config)
    if page.file.src_uri == "index.md":
        markdown = (root / "README.md").read_text().replace("](docs/", "](")
    markdown = INCLUDE.sub(lambda m: _include(m, root, page.file.src_uri),
                           markdown)
    up = "../" * page.file.src_uri.count("/")
    markdown = re.sub(rf"!\[([^\]]*)\]\((?:\.\./)?({REPOSITORY})\)\n?",
                      lambda m: _image(m, up), markdown)
    markdown = re.sub(rf"\[([^\]]+)\]\((?:\.\./)?({REPOSITORY})\)", _named,
                      markdown)
    if page.file.src_uri in MATH_PAGES:
        markdown = _math(markdown)
    return markdown
