"""MkDocs hooks. docs/*.md link to the repository's files outside docs/ (examples, the
README) as GitHub shows them; the site has no such pages, so there such a link becomes
the file's path in plain text. A link to a file that does not exist is still reported,
and fails ``mkdocs build --strict``. The docstrings name code with Sphinx's roles
(``:class:`Frame```), which Markdown leaves as text before the code: the API reference
drops the role and keeps the code."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.plugins.stompbox")

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"(?<!!)\[([^\]]+)\]\((\.\./[^)\s#]+)(#[^)\s]*)?\)")
ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|data|exc|obj|const):(?=<code>)")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace each link that leaves docs_dir for a repository file with that file's path."""
    docs = Path(config["docs_dir"]).resolve()
    here = (docs / page.file.src_path).parent

    def outside(match: re.Match[str]) -> str:
        text, target = match.group(1), match.group(2)
        path = (here / target).resolve()
        if path.is_relative_to(docs):
            return match.group(0)  # MkDocs checks links inside the docs itself
        if not path.is_relative_to(ROOT) or not path.exists():
            log.warning(
                "%s links to %s, which is not in the repository", page.file.src_path, target
            )
            return match.group(0)
        name = path.relative_to(ROOT).as_posix()
        return text if name in text else f"{text} (`{name}`)"

    return LINK.sub(outside, markdown)


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    """``:class:<code>Frame</code>`` (a Sphinx role, rendered) -> ``<code>Frame</code>``."""
    return ROLE.sub("", html)
