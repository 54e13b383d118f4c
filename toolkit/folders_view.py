"""Tables and widgets for an account's folders, for notebooks.

This is the presentation layer of `toolkit.folders`. The tree widget builds
rows only for what is on screen. It shows the top level a page at a time and
builds a folder's children when the folder is opened, so an account with
10,000 folders shows its first page at once. A search box lists matching names, a
page at a time as well.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import pandas as pd

from toolkit.findings import Finding
from toolkit.folders.model import Folder, FolderListing
from toolkit.folders.storage import (
    StorageFolderReport,
    check_entry_storage_folder,
    create_storage_folder,
)
from toolkit.folders.tree import ROOT, FolderTree, describe_node
from toolkit.probe import Timeouts
from toolkit.settings import ServerSettings
from toolkit.tables import findings_styler

FOLDER_COLUMNS = (
    "name",
    "display_name",
    "depth",
    "parent",
    "flags",
    "special_use",
    "selectable",
)
PAGE_SIZE = 50


def folders_frame(folders: FolderListing | Sequence[Folder]) -> pd.DataFrame:
    """Build a table with one row per folder, in the server's order.

    Columns: the full name, the display name (the last level), the depth (1 at
    the top), the parent's full name, the attributes joined by spaces, the
    special use, and whether the folder can hold mail.
    """
    items = folders.folders if isinstance(folders, FolderListing) else folders
    rows = [
        {
            "name": folder.name,
            "display_name": folder.display_name,
            "depth": folder.depth,
            "parent": folder.parent,
            "flags": " ".join(folder.flags),
            "special_use": folder.special_use or "",
            "selectable": folder.selectable,
        }
        for folder in items
    ]
    return pd.DataFrame(rows, columns=list(FOLDER_COLUMNS))


class FolderTreeWidget:
    """A folding tree of folders that builds rows only when they are shown.

    `page_size` is the number of rows built at a time at each level and in the
    search results; a "Show more" button builds the next page. `highlight`
    marks the storage folder.
    """

    def __init__(
        self,
        folders: FolderListing | Sequence[Folder] | FolderTree,
        *,
        page_size: int = PAGE_SIZE,
        highlight: str | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size {page_size} is invalid: give 1 or more rows per page")
        if isinstance(folders, FolderTree):
            self.tree = folders
        else:
            items = folders.folders if isinstance(folders, FolderListing) else folders
            self.tree = FolderTree(items)
        self.page_size = page_size
        self.highlight = highlight
        self.search = widgets.Text(placeholder="find folders by name", description="Find")
        self.search.observe(self._on_search, names="value")
        self.summary = widgets.HTML(self._summary_text())
        self.results = widgets.VBox()
        self.body = widgets.VBox()
        self._toggles: dict[str, widgets.ToggleButton] = {}
        self._append_page(self.body, ROOT, 0, depth=0)
        self.widget = widgets.VBox([self.summary, self.search, self.results, self.body])

    @property
    def built_rows(self) -> int:
        """The number of folder rows built so far, in the tree and in the search results."""
        return self._count_rows(self.body) + self._count_rows(self.results)

    def expand(self, name: str) -> None:
        """Open a folder's row and build the first page of its children."""
        toggle = self._toggles.get(name)
        if toggle is None:
            raise KeyError(f"no folder row {name!r} is built yet; open its parent first")
        toggle.value = True

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _summary_text(self) -> str:
        tree = self.tree
        return (
            f"<b>{tree.folder_count:,} folders</b>, {len(tree.roots):,} at the top level; "
            f"rows are built {self.page_size} at a time."
        )

    def _row(self, name: str, depth: int) -> widgets.Widget:
        node = self.tree.node(name)
        notes = describe_node(node, self.highlight).strip()
        label = widgets.Label(f"{node.label}  {notes}".rstrip(), tooltip=node.name)
        indent = widgets.Box(layout=widgets.Layout(width=f"{depth * 1.5}em"))
        if not node.children:
            spacer = widgets.Box(layout=widgets.Layout(width="2.2em"))
            return widgets.HBox([indent, spacer, label])
        count = self.tree.descendant_count(name)
        toggle = widgets.ToggleButton(
            value=False,
            description="▸",
            tooltip=f"{count} below",
            layout=widgets.Layout(width="2.2em"),
        )
        children = widgets.VBox(layout=widgets.Layout(display="none"))
        label.value = f"{label.value}  ({count:,} below)"

        def on_toggle(change: dict[str, Any]) -> None:
            opened = bool(change["new"])
            toggle.description = "▾" if opened else "▸"
            children.layout.display = "flex" if opened else "none"
            if opened and not children.children:
                self._append_page(children, name, 0, depth=depth + 1)

        toggle.observe(on_toggle, names="value")
        self._toggles[name] = toggle
        return widgets.VBox([widgets.HBox([indent, toggle, label]), children])

    def _append_page(self, box: widgets.Box, parent: str, start: int, *, depth: int) -> None:
        names = self.tree.children(parent)
        page = names[start : start + self.page_size]
        rows = [self._row(name, depth) for name in page]
        end = start + len(page)
        if end < len(names):
            rows.append(
                self._more_button(
                    len(names) - end, lambda: self._append_page(box, parent, end, depth=depth)
                )
            )
        shown = [child for child in box.children if not _is_more_button(child)]
        box.children = (*shown, *rows)

    def _more_button(self, remaining: int, action: Callable[[], None]) -> widgets.Button:
        button = widgets.Button(description=f"Show more ({remaining:,} left)")
        button.add_class("maildiag-more")
        button.on_click(lambda _button: action())
        return button

    def _on_search(self, change: dict[str, Any]) -> None:
        text = str(change["new"]).strip().casefold()
        if not text:
            self.results.children = ()
            return
        matches = [name for name in self.tree.nodes if name and text in name.casefold()]
        header = widgets.HTML(f"{len(matches):,} folders match")
        self.results.children = (header,)
        self._append_matches(matches, 0)

    def _append_matches(self, matches: list[str], start: int) -> None:
        page = matches[start : start + self.page_size]
        rows: list[widgets.Widget] = [
            widgets.Label(
                f"{name}  {describe_node(self.tree.node(name), self.highlight).strip()}".rstrip()
            )
            for name in page
        ]
        end = start + len(page)
        if end < len(matches):
            rows.append(
                self._more_button(len(matches) - end, lambda: self._append_matches(matches, end))
            )
        shown = [child for child in self.results.children if not _is_more_button(child)]
        self.results.children = (*shown, *rows)

    @staticmethod
    def _count_rows(box: widgets.Box) -> int:
        count = 0
        pending = list(box.children)
        while pending:
            child = pending.pop()
            if isinstance(child, widgets.Label):
                count += 1
            elif isinstance(child, widgets.Box):
                pending.extend(child.children)
        return count


def _is_more_button(widget: widgets.Widget) -> bool:
    return isinstance(widget, widgets.Button) and "maildiag-more" in widget._dom_classes


class StorageFolderPanel:
    """The verdict on an entry's storage folder, with a box to try a name and a create button.

    "Check" lists the folders again and checks the name in the box. "Create
    folder" creates it as a top-level folder, only when clicked, and checks it
    again; `create` does the same from code.
    """

    def __init__(
        self,
        settings: ServerSettings,
        report: StorageFolderReport | None = None,
        *,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.settings = settings
        self.timeouts = timeouts
        self.name = widgets.Text(value=settings.storage_folder or "", description="Folder")
        self.check_button = widgets.Button(description="Check")
        self.create_button = widgets.Button(
            description="Create folder",
            button_style="warning",
            tooltip="CREATE this folder on the server",
        )
        self.status = widgets.HTML()
        self.verdict = widgets.HTML()
        self.check_button.on_click(lambda _button: self.check())
        self.create_button.on_click(self._on_create_click)
        self.report = report
        if report is not None:
            self._show(report)
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.name, self.check_button, self.create_button]),
                self.status,
                self.verdict,
            ]
        )

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The findings on display, empty before the first check."""
        return self.report.findings if self.report is not None else ()

    def check(self) -> StorageFolderReport:
        """List the folders and check the name in the box; read-only."""
        self.status.value = "Listing folders..."
        report = check_entry_storage_folder(
            self.settings, self.name.value.strip() or None, self.timeouts
        )
        self._show(report)
        return report

    def create(self) -> StorageFolderReport:
        """Create the folder in the box as a top-level folder, then show the new verdict.

        Raises ValueError, also shown in the status line, when the name cannot be a
        top-level folder.
        """
        self.status.value = "Creating folder..."
        try:
            report = create_storage_folder(self.settings, self.name.value, self.timeouts)
        except ValueError as error:
            self.status.value = html.escape(f"Not created: {error}")
            raise
        self._show(report)
        return report

    def _on_create_click(self, _button: widgets.Button) -> None:
        # A name that cannot be a top-level folder is shown in the status line by `create`.
        try:
            self.create()
        except ValueError:
            pass

    def _show(self, report: StorageFolderReport) -> None:
        self.report = report
        creation = report.creation
        if creation is None:
            status = f"Checked {report.folder!r}: {report.listing.reason.value}."
        elif creation.created:
            status = f"Created {creation.name!r}; enter it as the entry's storage folder."
        elif creation.existed:
            status = f"{creation.name!r} exists already; nothing was created."
        else:
            status = f"Not created: {creation.reason.value} {creation.server_text}"
        self.status.value = html.escape(status)
        self.verdict.value = findings_styler(report.findings).to_html()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
