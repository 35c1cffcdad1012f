"""The overlay edit of a promotion: pin an image by digest (pure: text in, text out).

Promotion to staging or prod is a reviewed commit that changes one line of
the environment's ``kustomization.yaml``: the ``images:`` entry of the
service gets ``digest: sha256:...`` and loses any ``newTag``. Argo CD then
deploys exactly that digest when a release engineer syncs; nothing else
deploys. The edit is made on the text, line by line, so the comments and the
layout of the file survive and the review shows a one-line diff.

Only block-style ``images:`` lists are understood (the style ``kustomize edit
set image`` writes); anything else is refused with an error saying so,
rather than guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.errors import ConfigError, InputError, did_you_mean
from pipelines.values import Digest

# Environments promoted by digest, and the overlay each one deploys.
OVERLAYS = {
    "staging": "deploy/overlays/staging/kustomization.yaml",
    "prod": "deploy/overlays/prod/kustomization.yaml",
}
# DEV is not promoted: Argo CD Image Updater follows release candidates there.
FOLLOWED_ENVIRONMENTS = ("dev",)

_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")
_TOP_LEVEL_KEY = re.compile(r"(?P<key>[A-Za-z_][\w.-]*)\s*:(?P<rest>.*)")
_ITEM_START = re.compile(r"(?P<indent>[ ]*)-[ ]+(?P<content>\S.*)")
_KEY_VALUE = re.compile(r"(?P<key>[A-Za-z_][\w.-]*)\s*:(?:[ \t]+(?P<value>[^#]*?))?[ \t]*(?:#.*)?")


def overlay_path(environment: str) -> str:
    """The repository path of the kustomization that ``environment`` deploys."""
    if environment in OVERLAYS:
        return OVERLAYS[environment]
    if environment in FOLLOWED_ENVIRONMENTS:
        raise InputError(
            argument="environment",
            problem=(
                f"{environment!r} is not promoted: Argo CD Image Updater deploys every new "
                "release candidate there on its own"
            ),
            fix="promote to " + " or ".join(OVERLAYS),
        )
    raise InputError(
        argument="environment",
        problem=f"unknown environment {environment!r}{did_you_mean(environment, OVERLAYS)}",
        fix="use one of " + ", ".join(OVERLAYS),
    )


@dataclass(frozen=True, kw_only=True)
class _Entry:
    """One key of an images item: its key line and the lines continuing its value.

    ``lines`` hold the text after the item's indentation (the ``- `` of the
    first key included in that indentation), so the item can be reassembled
    in any order; comment lines are entries without a key and stay put.
    """

    key: str | None
    value: str | None
    lines: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class _Item:
    start: int
    end: int  # exclusive
    column: int  # where the keys start, after "- " on the first line
    entries: tuple[_Entry, ...]

    @property
    def name(self) -> str | None:
        return next((e.value for e in self.entries if e.key == "name"), None)


def set_overlay_image(kustomization_text: str, *, image: str, digest: Digest, file: str) -> str:
    """``kustomization_text`` with the ``images:`` entry named ``image`` pinned to ``digest``.

    The entry's ``digest`` is set (where its ``newTag`` or old digest was,
    else after its last key) and any ``newTag`` removed; every other line is
    kept as it is. ``file`` names the file in errors.
    """
    ends_with_newline = kustomization_text.endswith("\n")
    # Split on \n only: str.splitlines would also split on form feeds and the like.
    lines = _LINE.findall(kustomization_text)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    if lines and not ends_with_newline:
        lines[-1] += newline
    items = _items(lines, *_images_block(lines, file=file), file=file)
    matching = [item for item in items if item.name == image]
    if len(matching) != 1:
        names = [item.name for item in items if item.name is not None]
        if matching:
            problem = f"{len(matching)} entries are named {image!r}"
            fix = "keep one entry per image name"
        else:
            problem = f"no entry named {image!r}{did_you_mean(image, names)} (entries: {names})"
            fix = f"add an entry `- name: {image}` with its `newName: <repository>`"
        raise ConfigError(file=file, key="images", problem=problem, fix=fix)
    item = matching[0]
    pinned = _pin(item, digest=digest, newline=newline, dash_prefix=lines[item.start])
    text = "".join(lines[: item.start] + pinned + lines[item.end :])
    return text if ends_with_newline else text.removesuffix(newline)


def _is_blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _images_block(lines: list[str], *, file: str) -> tuple[int, int]:
    """The line range of the top-level ``images:`` list."""
    for number, line in enumerate(lines):
        match = _TOP_LEVEL_KEY.fullmatch(line.rstrip("\r\n"))
        if not match or match.group("key") != "images":
            continue
        inline = match.group("rest").split("#", 1)[0].strip()
        if inline:
            raise ConfigError(
                file=file,
                key="images",
                problem=f"the list is written inline ({inline!r}), which promote does not edit",
                fix="write it as a block list, one `- name:` entry per image",
            )
        end = number + 1
        while end < len(lines) and (_is_blank_or_comment(lines[end]) or lines[end][0] in " -"):
            end += 1
        return number + 1, end
    raise ConfigError(
        file=file,
        key="images",
        problem="there is no top-level images: list",
        fix="add `images:` with an entry `- name: <image>` and its `newName: <repository>`",
    )


def _items(lines: list[str], start: int, end: int, *, file: str) -> list[_Item]:
    """The list items of an ``images:`` block."""
    starts: list[int] = []
    dash_indent: int | None = None
    for number in range(start, end):
        line = lines[number]
        if _is_blank_or_comment(line):
            continue
        is_item = _ITEM_START.fullmatch(line.rstrip("\r\n")) is not None
        if dash_indent is None and is_item:
            dash_indent = _indent(line)
        if (
            dash_indent is None
            or _indent(line) < dash_indent
            or (_indent(line) == dash_indent and not is_item)
        ):
            raise ConfigError(
                file=file,
                key="images",
                problem=f"line {number + 1} ({line.strip()!r}) is not part of a `- name:` item",
                fix="write images: as a block list of mappings, keys indented under each `- `",
            )
        if is_item and _indent(line) == dash_indent:
            starts.append(number)
    items = []
    for index, item_start in enumerate(starts):
        item_end = starts[index + 1] if index + 1 < len(starts) else end
        # Blank and comment lines after an item belong to what follows it.
        while _is_blank_or_comment(lines[item_end - 1]):
            item_end -= 1
        items.append(_parse_item(lines, item_start, item_end, file=file))
    return items


def _parse_item(lines: list[str], start: int, end: int, *, file: str) -> _Item:
    first = _ITEM_START.fullmatch(lines[start].rstrip("\r\n"))
    if first is None:  # pragma: no cover - _items starts items on such lines only
        raise AssertionError(lines[start])
    column = len(lines[start].rstrip("\r\n")) - len(first.group("content"))
    entries: list[_Entry] = []
    for number in range(start, end):
        line = lines[number]
        if number > start and _is_blank_or_comment(line):
            entries.append(_Entry(key=None, value=None, lines=(line,)))
            continue
        if number > start and _indent(line) > column and entries:
            previous = entries[-1]  # a value continued on the next line
            entries[-1] = _Entry(key=previous.key, value=None, lines=(*previous.lines, line))
            continue
        content = line[column:]
        match = _KEY_VALUE.fullmatch(content.rstrip("\r\n"))
        if (number > start and _indent(line) < column) or match is None:
            raise ConfigError(
                file=file,
                key="images",
                problem=f"line {number + 1} ({line.strip()!r}) is not a `key: value` of its entry",
                fix=f"indent the keys of each entry by {column} spaces, one per line",
            )
        value = match.group("value")
        entries.append(_Entry(key=match.group("key"), value=_unquote(value), lines=(content,)))
    return _Item(start=start, end=end, column=column, entries=tuple(entries))


def _unquote(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _pin(item: _Item, *, digest: Digest, newline: str, dash_prefix: str) -> list[str]:
    """The lines of ``item`` with ``digest`` set and ``newTag`` gone."""
    pinned = _Entry(key="digest", value=str(digest), lines=(f"digest: {digest}{newline}",))
    entries: list[_Entry] = []
    for entry in item.entries:
        if entry.key not in ("newTag", "digest"):
            entries.append(entry)
        elif pinned not in entries:
            entries.append(pinned)
    if pinned not in entries:
        last_key = max(i for i, e in enumerate(entries) if e.key is not None)
        entries.insert(last_key + 1, pinned)
    # Only key lines get the item's indentation back: comment lines and
    # continued values were kept whole. The first key line gets the "- ".
    result = []
    for index, entry in enumerate(entries):
        head, *rest = entry.lines
        if entry.key is not None:
            prefix = dash_prefix[: item.column] if index == 0 else " " * item.column
            head = prefix + head
        result += [head, *rest]
    return result
