"""The folder hierarchy as a tree, and its plain-text drawing with a line limit.

The tree is built once from the flat LIST reply, in time proportional to the
number of folders. A level that the server did not list (a parent implied by
``Team/Cases`` when only that is listed) becomes a node without a folder.
Children are sorted with INBOX first, then without letter case.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from toolkit.folders.model import Folder

ROOT = ""
DEFAULT_MAX_LINES = 200


@dataclass
class TreeNode:
    """One level of the hierarchy: its full name, its label, and the folder if listed."""

    name: str
    label: str
    folder: Folder | None
    children: list[str] = field(default_factory=list)

    @property
    def listed(self) -> bool:
        """Whether the server listed this level as a folder of its own."""
        return self.folder is not None


class FolderTree:
    """The folders of one account as a tree of `TreeNode` objects, keyed by full name."""

    def __init__(self, folders: Iterable[Folder]) -> None:
        self.nodes: dict[str, TreeNode] = {ROOT: TreeNode(ROOT, "", None)}
        self.folder_count = 0
        for folder in folders:
            self._add(folder)
            self.folder_count += 1
        for node in self.nodes.values():
            node.children.sort(key=self._sort_key)

    @property
    def roots(self) -> list[str]:
        """The full names of the top-level nodes, sorted."""
        return self.nodes[ROOT].children

    def node(self, name: str) -> TreeNode:
        """Return the node with this full name. Raises KeyError if there is none."""
        return self.nodes[name]

    def children(self, name: str) -> list[str]:
        """Return the full names of a node's children, sorted; ``""`` names the root."""
        return self.nodes[name].children

    def descendant_count(self, name: str) -> int:
        """Return the number of nodes below a node, at every depth."""
        count = 0
        pending = list(self.nodes[name].children)
        while pending:
            count += 1
            pending.extend(self.nodes[pending.pop()].children)
        return count

    def walk(self, name: str = ROOT) -> Iterator[tuple[TreeNode, int, tuple[bool, ...]]]:
        """Yield each node below `name` depth first, with its depth and its ancestors' lastness.

        The tuple holds, for each level from the top, whether that ancestor (or the
        node itself, last) is the last child of its parent, which is what a drawing needs.
        """
        top = self.children(name)
        stack: list[tuple[str, tuple[bool, ...]]] = [
            (child, (index == len(top) - 1,)) for index, child in reversed(list(enumerate(top)))
        ]
        while stack:
            child, lastness = stack.pop()
            node = self.nodes[child]
            yield node, len(lastness), lastness
            children = node.children
            for index in range(len(children) - 1, -1, -1):
                stack.append((children[index], (*lastness, index == len(children) - 1)))

    def _add(self, folder: Folder) -> None:
        existing = self.nodes.get(folder.name)
        if existing is not None:
            existing.folder = folder
            return
        parts = folder.parts
        delimiter = folder.delimiter or ""
        parent = ROOT
        # Create the implied levels above the folder that the server did not list.
        for depth in range(1, len(parts)):
            name = delimiter.join(parts[:depth])
            if name not in self.nodes:
                self.nodes[name] = TreeNode(name, parts[depth - 1], None)
                self.nodes[parent].children.append(name)
            parent = name
        self.nodes[folder.name] = TreeNode(folder.name, parts[-1], folder)
        self.nodes[parent].children.append(folder.name)

    def _sort_key(self, name: str) -> tuple[bool, str, str]:
        return (name.upper() != "INBOX", self.nodes[name].label.casefold(), name)


def describe_node(node: TreeNode, highlight: str | None = None) -> str:
    """Return the notes shown after a node's label: special use, no mail, not listed."""
    notes = []
    folder = node.folder
    if folder is None:
        notes.append("not listed")
    else:
        if folder.special_use:
            notes.append(folder.special_use)
        if not folder.selectable:
            notes.append("cannot hold mail")
    text = f"  [{', '.join(notes)}]" if notes else ""
    if highlight is not None and node.name == highlight:
        text += "  <- storage folder"
    return text


def render_text(
    tree: FolderTree, *, max_lines: int = DEFAULT_MAX_LINES, highlight: str | None = None
) -> str:
    """Draw the tree with box-drawing characters, one line per node, at most `max_lines` lines.

    When the tree is longer, a last line gives the number of nodes left out.
    `highlight` marks the node with that full name as the storage folder.
    """
    lines: list[str] = []
    total = len(tree.nodes) - 1
    for node, _depth, lastness in tree.walk():
        if len(lines) >= max_lines:
            break
        indent = "".join("    " if last else "│   " for last in lastness[:-1])
        branch = "└── " if lastness[-1] else "├── "
        lines.append(f"{indent}{branch}{node.label}{describe_node(node, highlight)}")
    if total > len(lines):
        lines.append(
            f"... {total - len(lines):,} more not shown ({total:,} in all; "
            f"{tree.folder_count:,} folders listed)"
        )
    if not lines:
        lines.append("(no folders)")
    return "\n".join(lines)
