"""The documentation site's API reference lists every public name and only
public names: each subpackage and module is documented, each module declares
``__all__``, and every name that ``hngraph`` exports is in one of them."""
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import hngraph

API = Path(__file__).resolve().parents[1] / "docs" / "api"
DOCUMENTED = {m for page in API.glob("*.md")
              for m in re.findall(r"^::: (hngraph\.[\w.]+)$",
                                  page.read_text(), re.MULTILINE)}
#: Modules that are not a library surface: the command line's entry point
#: and the exception classes (documented where they are raised).
NOT_API = {"hngraph.cli", "hngraph.errors"}


def test_every_module_is_in_the_api_reference_with_its_public_names():
    found = list(pkgutil.walk_packages(hngraph.__path__, "hngraph."))
    assert {m.name for m in found} - NOT_API == DOCUMENTED
    for name in {m.name for m in found if not m.ispkg} - NOT_API:
        module = importlib.import_module(name)
        assert module.__all__, name
        for public in module.__all__:
            assert hasattr(module, public), (name, public)


def test_every_exported_name_is_documented_where_it_lives():
    for name in hngraph.__all__:
        value = getattr(hngraph, name)
        home = value.__module__
        if home.startswith("torch_geometric"):  # re-exported seed_everything
            home = "hngraph.train.loop"
        assert name in importlib.import_module(home).__all__, (name, home)


ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _relative_links(text: str) -> list[str]:
    """The link and image targets of Markdown ``text`` that are relative
    paths (no scheme, no bare anchor), without their anchors."""
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # code blocks
    return [t.split("#")[0] for t in LINK.findall(text)
            if not re.match(r"[a-z]+:|#", t)]


def test_every_relative_link_resolves_on_github():
    """Links are read relative to the file that holds them, as GitHub
    reads them: from docs/ into the repository they go through ../."""
    pages = [ROOT / "README.md", ROOT / "benchmarks" / "README.md",
             *(ROOT / "docs").glob("*.md"),
             *(ROOT / "benchmarks" / "results").rglob("*.md")]
    broken = [(page.relative_to(ROOT), target) for page in pages
              for target in _relative_links(page.read_text())
              if not (page.parent / target).exists()]
    assert not broken


def _hooks():
    """The site's hook module; the test needs the docs extra
    (``pip install ".[docs]"``), as the site does."""
    import importlib.util
    pytest.importorskip("mkdocs")
    pytest.importorskip("latex2mathml")
    spec = importlib.util.spec_from_file_location("hooks", ROOT / "docs" /
                                                  "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_relative_link_resolves_on_the_site():
    """What the site's hook makes of each page links only to pages of the
    site, their headings, and the report images the site publishes."""
    from types import SimpleNamespace

    from markdown.extensions.toc import slugify
    hooks = _hooks()
    config = {"config_file_path": str(ROOT / "mkdocs.yml")}
    published = {hooks._published(p.relative_to(ROOT))
                 for report in hooks.SHOWN
                 for p in (ROOT / report).parent.glob("*.png")}
    for page in (ROOT / "docs").glob("*.md"):
        uri = page.name
        meta = SimpleNamespace(file=SimpleNamespace(src_uri=uri))
        text = hooks.on_page_markdown(page.read_text(), meta, config)
        for target in _relative_links(text):
            if target.startswith("reports/") and target.endswith(".png"):
                assert target in published, (uri, target)
            else:
                assert target.endswith(".md") and (
                    ROOT / "docs" / target).exists(), (uri, target)
    for report, where in hooks.SHOWN.items():
        page, _, anchor = where.partition("#")
        text = hooks.on_page_markdown((ROOT / "docs" / page).read_text(),
                                      SimpleNamespace(file=SimpleNamespace(
                                          src_uri=page)), config)
        assert f"<!-- include {report} -->" in (ROOT / "docs" / page) \
            .read_text(), report
        slugs = {slugify(h, "-") for h in re.findall(r"^#+ (.+)$", text,
                                                     re.MULTILINE)}
        assert not anchor or anchor in slugs, (report, anchor)


def test_the_guides_ddp_figures_are_the_committed_results():
    """The DDP accuracies the guide quotes are those of the result files of
    ``benchmarks/results/ddp/`` (``bash benchmarks/train_runs.sh ddp``),
    seed by seed, with their means."""
    import json

    text = " ".join((ROOT / "docs" / "guide.md").read_text().split())
    for run in ("1proc", "2proc-batch64", "2proc"):
        results = sorted(
            (json.loads(p.read_text()) for p in (
                ROOT / "benchmarks" / "results" / "ddp" / run).glob("*.json")),
            key=lambda r: r["seed"])
        accs = [r["accuracy_mean"] for r in results]
        assert [r["seed"] for r in results] == [0, 1, 2], run
        quoted = " / ".join(f"{a:.4f}" for a in accs)
        mean = f"{sum(accs) / len(accs):.4f}"
        assert re.search(rf"{re.escape(quoted)} \((mean )?{mean}\)", text), \
            (run, quoted, mean)
