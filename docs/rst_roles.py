"""A Griffe extension for the documentation site: hngraph's docstrings use
reStructuredText roles (as PyG's and scikit-learn's do); the site renders
Markdown. Before mkdocstrings renders a docstring, this turns

- ``:math:`x``` and ``.. math::`` blocks into MathML (rendered by the
  browser itself, no script, no network);
- ``:func:`~hngraph.a.b``` (and ``:class:``, ``:meth:``, ...) into a link
  to the page of ``hngraph.a.b`` (an unknown ``hngraph`` name is a broken
  link, which ``mkdocs build --strict`` refuses), other names into code.
"""
from __future__ import annotations

import re
import textwrap

import griffe
from latex2mathml.converter import convert

ROLE = re.compile(r":(?:func|class|meth|data|mod|attr|exc|obj):`(~?)([^`]+)`")
MATH = re.compile(r":math:`([^`]+)`")


def _role(match: re.Match) -> str:
    short, target = match.group(1), match.group(2).strip()
    shown = target.rsplit(".", 1)[-1] if short else target
    if target.startswith("hngraph."):
        return f"[`{shown}`][{target}]"
    return f"`{shown}`"


def _math_blocks(text: str) -> str:
    """``.. math::`` and its indented lines, as display MathML."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        if lines[i].strip() != ".. math::":
            out.append(lines[i])
            i += 1
            continue
        indent = len(lines[i]) - len(lines[i].lstrip())
        i += 1
        body = []
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(
                lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        latex = textwrap.dedent("\n".join(body)).strip()
        if "&" in latex or "\\\\" in latex:  # aligned lines, as Sphinx
            latex = f"\\begin{{align*}}{latex}\\end{{align*}}"
        out += ["", convert(latex, display="block").replace("\n", " "), ""]
    return "\n".join(out)


def to_markdown(text: str) -> str:
    """A docstring's reStructuredText roles and math as Markdown."""
    text = _math_blocks(text)
    text = MATH.sub(lambda m: f"<span>{convert(m.group(1))}</span>", text)
    return ROLE.sub(_role, text)


class RSTRoles(griffe.Extension):
    """Rewrites every docstring with :func:`to_markdown`."""

    def on_object(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
