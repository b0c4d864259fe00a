"""Griffe extension: prose that follows a numpy-style ``Parameters`` list becomes ``Notes``.

It also shows Sphinx cross-reference roles (``:class:`~biosig.x.Y` ``) as plain code (``Y``),
since MkDocs renders Markdown, not reStructuredText.

biosig's docstrings often end their Parameters section with a paragraph (what the object logs,
what a step returns). numpydoc would read that paragraph as more parameters; this extension
inserts a ``Notes`` heading before the first line at the section's margin that is not a
``name : description`` entry, so the API reference shows it as prose. Docstrings in the source
are not changed.
"""

from __future__ import annotations

import re

import griffe

PARAM = re.compile(r"^\*{0,2}[A-Za-z_]\w*(?:\s*,\s*\*{0,2}[A-Za-z_]\w*)*\s+:(?:\s|$)")
NAMES_GO_ON = re.compile(r"^[\w*, ]+,\s*$")  # a list of names continued on the next line
UNDERLINE = re.compile(r"^-{3,}\s*$")
SECTIONS = ("Parameters", "Other Parameters")
ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|obj|exc|py:\w+):`(~?)([^`<]+)`")


def plain_roles(text: str) -> str:
    """``:class:`~a.b.C` `` -> ``C`` in backticks; without ``~`` the full dotted name."""
    return ROLE.sub(lambda m: f"`{m.group(2).split('.')[-1] if m.group(1) else m.group(2)}`",
                    text)


def with_notes(text: str) -> str:
    """``text`` with a Notes heading before the prose that ends its Parameters section."""
    lines = text.split("\n")
    i = 0
    while i + 1 < len(lines):
        if lines[i].strip() in SECTIONS and UNDERLINE.match(lines[i + 1]):
            j = i + 2
            while j < len(lines):
                line = lines[j]
                if j + 1 < len(lines) and UNDERLINE.match(lines[j + 1]):
                    break  # the next section starts
                entry = PARAM.match(line) or NAMES_GO_ON.match(line)
                if line and not line[0].isspace() and not entry:
                    lines[j:j] = (["", "Notes", "-----"] if lines[j - 1].strip()
                                  else ["Notes", "-----"])
                    return "\n".join(lines)
                j += 1
            i = j
        else:
            i += 1
    return text


class ParametersProseAsNotes(griffe.Extension):
    """Applies :func:`with_notes` and :func:`plain_roles` to every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain_roles(with_notes(obj.docstring.value))
