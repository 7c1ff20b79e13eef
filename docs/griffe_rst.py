"""A griffe extension (registered in mkdocs.yml) that renders lossmatch's reST habits as Markdown.

The docstrings in ``src/`` use two pieces of reStructuredText that Markdown does not know:
cross-reference roles (``:class:`~lossmatch.errors.InputError```) and literal blocks introduced
by a trailing ``::``. Rewriting every docstring would touch every module; this converts them
when the API reference is built, so the source stays as it is and renders cleanly:

- ``:class:`~a.b.C``` -> ```C```, ``:func:`a.b.f``` -> ```a.b.f```;
- ``Text::`` + blank line + indented block -> ``Text:`` + a fenced code block;
- an argument described as ``> 0`` or ``>= 0`` keeps its sign (Markdown would start a quote).
"""

from __future__ import annotations

import re

import griffe

# "name: > 0, default 1.0" in an Args section: the description would start with ">".
_ARG_COMPARISON = re.compile(r"^(\s*[\w*][\w, *]*:\s+)([<>])", re.MULTILINE)
_ROLE = re.compile(r":(?:class|func|meth|mod|attr|exc|data|obj):`(~?)([^`]+)`")


def _role(match: re.Match) -> str:
    target = match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def rst_to_markdown(text: str) -> str:
    """The docstring ``text`` with roles as code spans and ``::`` blocks as fenced code."""
    text = _ROLE.sub(_role, text)
    text = _ARG_COMPARISON.sub(r"\1\\\2", text)
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.rstrip().endswith("::") or line.strip().startswith(">>>"):
            out.append(line)
            i += 1
            continue
        # A literal block: the lines after the blank line(s) that are indented deeper.
        base = _indent(line)
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        block_start = j
        while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > base):
            j += 1
        if block_start == i + 1 or block_start >= j:
            out.append(line)  # not followed by a blank line and an indented block: leave it
            i += 1
            continue
        while j > block_start and not lines[j - 1].strip():
            j -= 1
        head = line.rstrip()[:-2].rstrip()
        if head.strip():
            out.append(head + ":")
        block = lines[block_start:j]
        depth = min(_indent(b) for b in block if b.strip())
        pad = " " * base
        out += ["", pad + "```"] + [pad + b[depth:] if b.strip() else "" for b in block] + [pad + "```", ""]
        i = j
    return "\n".join(out)


class RstToMarkdown(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
