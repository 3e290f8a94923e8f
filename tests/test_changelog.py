"""CHANGELOG.md keeps Keep a Changelog's shape, and the version pyproject.toml builds (and
the package reports) has a section of its own."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from stompbox._version import __version__

ROOT = Path(__file__).resolve().parents[1]
CHANGELOG = (ROOT / "CHANGELOG.md").read_text()
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
RELEASE = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$")
KINDS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def headings(level: str) -> list[str]:
    return [line for line in CHANGELOG.splitlines() if line.startswith(level + " ")]


def test_the_projects_version_has_a_section() -> None:
    assert __version__ == VERSION, "src/stompbox/_version.py and pyproject.toml disagree"
    releases = [m.group(1) for h in headings("##") if (m := RELEASE.match(h))]
    assert VERSION in releases, f"CHANGELOG.md has no '## [{VERSION}] - YYYY-MM-DD' section"


def test_sections_are_keep_a_changelogs() -> None:
    assert CHANGELOG.startswith("# Changelog\n")
    sections = headings("##")
    assert sections[0] == "## [Unreleased]"
    releases = [RELEASE.match(section) for section in sections[1:]]
    assert all(releases), sections
    versions = [tuple(map(int, m.group(1).split("."))) for m in releases if m]
    assert versions == sorted(versions, reverse=True), "newest release first"
    kinds = [heading.removeprefix("### ") for heading in headings("###")]
    assert set(kinds) <= KINDS, set(kinds) - KINDS
