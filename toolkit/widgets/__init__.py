"""Jupyter widgets of the toolkit, built with ipywidgets 8."""

from toolkit.widgets.settings_form import SettingsForm

__all__ = ["SettingsForm"]
