"""A form for one server entry, with the findings shown live as the user edits.

`SettingsForm` has the fields the product's admins fill in: short name, protocol,
host, port, the TLS tick, the authentication type, user, storage folder (IMAP
only), password and an optional CA file. A preset drop-down fills host, port,
TLS tick and authentication type from the provider data for the chosen protocol.
Every change rebuilds the settings with `build_settings`. Unusable input shows
as a table of field errors, and usable input shows the findings of
`check_server` as a table coloured by severity.

The password stays on the Python side as a `Secret`:

- The password input sends what the user typed to the kernel on Enter or when
  the field loses focus, not on each key press. The form then moves the value
  into a `Secret` and clears the input. The placeholder and a status line then
  show that a password is kept in the kernel, and a button removes it.
- The kernel never sends a password value to the browser. The input's ``value``
  always serializes as an empty string, and the kernel does not echo the
  browser's update back (``echo_update=False``). `set_values` stores a password
  without touching the input at all. So a notebook executed with nbclient or
  nbconvert, which store the widget state the kernel sends, contains no password.

NOTE: the browser's widget model contains a typed password from Enter (or
leaving the field) until the kernel handles that update and clears it. That is
quick on an idle kernel, but on a busy one it waits for the running cell to end.
If JupyterLab's "Save Jupyter widget state in notebooks" setting is on (it
is off by default in jupyterlab_widgets 3.0.17) and the notebook is saved in
that window, the password is written into the notebook's widget state, and it
stays there until the next save. Seen in JupyterLab 4.6.6 with a cell sleeping
25 s. Characters typed before Enter are only in the page's input element and
were not in an autosaved widget state. The kernel process keeps the password in
memory while the form exists, and any code run in the kernel can read it through
``form.settings.password.reveal()``.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ipywidgets
import traitlets

from toolkit.checks import check_server
from toolkit.findings import Finding, ranked
from toolkit.providers import providers
from toolkit.secret import Secret
from toolkit.settings import (
    AuthType,
    FieldError,
    Protocol,
    ServerSettings,
    SettingsError,
    build_settings,
    parse_auth,
    parse_protocol,
)
from toolkit.tables import field_errors_styler, findings_styler

logger = logging.getLogger(__name__)

CUSTOM_PRESET = "custom"
TLS_LABEL = "TLS (ticked = implicit TLS, unticked = STARTTLS)"
PLACEHOLDER_NOT_ENTERED = "Type the password or app password, then press Enter"
PLACEHOLDER_KEPT = "Password kept in the kernel. Type a new one to replace it"

_DESCRIPTION_STYLE = {"description_width": "10em"}
_INPUT_LAYOUT = {"width": "42em"}
# Indents the password status under the input, past the description column.
_PASSWORD_STATUS_LAYOUT = {"margin": "0 0 0.5em 10.5em", "align_items": "center"}


def _empty_json(value: object, widget: object) -> str:
    """Serialize the password input's value as an empty string, whatever it contains."""
    return ""


class _KernelSidePassword(ipywidgets.Password):  # type: ignore[misc]
    """A password input whose value the kernel never sends to the browser.

    The front end is the standard ipywidgets Password view and model.
    """

    value = traitlets.Unicode("", help="The typed password until the form moves it.").tag(
        sync=True, echo_update=False, to_json=_empty_json
    )


class SettingsForm:
    """A form for one IMAP or SMTP server entry that shows its findings as the user edits.

    Display the form by leaving it as the last expression of a notebook cell, or
    display `widget`, the box with every input and the findings view. Read
    `settings` for a `ServerSettings` and `findings` for the findings of the
    current input.
    """

    def __init__(self) -> None:
        self._password: Secret | None = None
        self._findings: list[Finding] = []
        self._errors: tuple[FieldError, ...] = ()
        self._callbacks: list[Callable[[SettingsForm], None]] = []
        self._batch_depth = 0

        known = providers()
        preset_options = [(provider.label, key) for key, provider in known.items()]
        self._preset = ipywidgets.Dropdown(
            options=[*preset_options, ("Custom", CUSTOM_PRESET)],
            value=CUSTOM_PRESET,
            description="Preset",
            style=_DESCRIPTION_STYLE,
            layout=_INPUT_LAYOUT,
        )
        self._protocol = ipywidgets.Dropdown(
            options=[("IMAP", Protocol.IMAP), ("SMTP", Protocol.SMTP)],
            value=Protocol.IMAP,
            description="Protocol",
            style=_DESCRIPTION_STYLE,
            layout=_INPUT_LAYOUT,
        )
        self._name = self._text("Short name", "support-imap")
        self._host = self._text("Host", "imap.example.com, or a URL such as imaps://host:993/")
        # Text, not IntText: a typed "abc" must reach build_settings to be reported.
        self._port = self._text("Port", "993")
        self._tls = ipywidgets.Checkbox(
            value=True,
            description=TLS_LABEL,
            indent=True,
            style=_DESCRIPTION_STYLE,
            layout=_INPUT_LAYOUT,
        )
        self._auth = ipywidgets.Dropdown(
            options=[
                ("Basic (password or app password)", AuthType.BASIC),
                ("OAuth2", AuthType.OAUTH2),
            ],
            value=AuthType.BASIC,
            description="Authentication",
            style=_DESCRIPTION_STYLE,
            layout=_INPUT_LAYOUT,
        )
        self._user = self._text("User", "support@example.com")
        self._storage_folder = self._text("Storage folder", "Support")
        self._password_input = _KernelSidePassword(
            description="Password",
            placeholder=PLACEHOLDER_NOT_ENTERED,
            continuous_update=False,
            style=_DESCRIPTION_STYLE,
            layout=_INPUT_LAYOUT,
        )
        self._password_status = ipywidgets.HTML()
        self._forget_button = ipywidgets.Button(
            description="Forget password", tooltip="Remove the password kept in the kernel"
        )
        self._ca_file = self._text("CA file", "Optional: path of a PEM file with the server's CA")
        self._result = ipywidgets.HTML()

        self._password_row = ipywidgets.VBox(
            [
                self._password_input,
                ipywidgets.HBox(
                    [self._password_status, self._forget_button], layout=_PASSWORD_STATUS_LAYOUT
                ),
            ]
        )
        self.widget = ipywidgets.VBox(
            [
                self._preset,
                self._protocol,
                self._name,
                self._host,
                self._port,
                self._tls,
                self._auth,
                self._user,
                self._storage_folder,
                self._password_row,
                self._ca_file,
                ipywidgets.HTML("<b>Findings</b>"),
                self._result,
            ]
        )

        self._preset.observe(self._on_preset_change, names="value")
        self._protocol.observe(self._on_protocol_change, names="value")
        self._auth.observe(self._on_auth_change, names="value")
        self._password_input.observe(self._on_password_typed, names="value")
        self._forget_button.on_click(self._on_forget_click)
        for widget in (
            self._name,
            self._host,
            self._port,
            self._tls,
            self._user,
            self._storage_folder,
            self._ca_file,
        ):
            widget.observe(self._on_input_change, names="value")

        self._show_password_state()
        self._show_rows()
        self._refresh()

    @staticmethod
    def _text(description: str, placeholder: str) -> ipywidgets.Text:
        return ipywidgets.Text(
            description=description,
            placeholder=placeholder,
            style=_DESCRIPTION_STYLE,
            layout=_INPUT_LAYOUT,
        )

    # Public interface

    @property
    def inputs(self) -> Mapping[str, ipywidgets.DOMWidget]:
        """The input widgets by their settings-file field names, plus ``preset``."""
        return {
            "preset": self._preset,
            "name": self._name,
            "protocol": self._protocol,
            "host": self._host,
            "port": self._port,
            "tls": self._tls,
            "auth": self._auth,
            "user": self._user,
            "storage_folder": self._storage_folder,
            "password": self._password_input,
            "ca_file": self._ca_file,
        }

    @property
    def settings(self) -> ServerSettings:
        """The entry as `ServerSettings`, with the password as a `Secret` for Basic auth.

        Raises `SettingsError` listing every field that cannot be used.
        """
        password = self._password if self._auth.value is AuthType.BASIC else None
        return build_settings(self._raw_values(), password=password, source="settings form")

    @property
    def findings(self) -> list[Finding]:
        """The findings of the current input, errors first; empty while a field is unusable."""
        return list(self._findings)

    @property
    def errors(self) -> tuple[FieldError, ...]:
        """The unusable fields of the current input; empty when the settings can be built."""
        return self._errors

    @property
    def has_password(self) -> bool:
        """Whether a password is kept for this form."""
        return bool(self._password)

    def set_values(
        self,
        *,
        preset: str | None = None,
        name: str | None = None,
        protocol: Protocol | str | None = None,
        host: str | None = None,
        port: int | str | None = None,
        tls: bool | None = None,
        auth: AuthType | str | None = None,
        user: str | None = None,
        storage_folder: str | None = None,
        password: Secret | str | None = None,
        ca_file: str | Path | None = None,
    ) -> None:
        """Fill fields as if typed, then show the findings once.

        The preset and the protocol apply first, so the other arguments override
        what the preset fills. A field left as None keeps its value. An empty
        password removes the kept one. Raises `ValueError` for an unknown preset
        and `SettingsError` for an unknown protocol or authentication type.
        """
        with self._batch():
            if preset is not None:
                self._preset.value = self._preset_key(preset)
            if protocol is not None:
                self._protocol.value = parse_protocol(protocol)
            if auth is not None:
                self._auth.value = parse_auth(auth)
            if tls is not None:
                self._tls.value = bool(tls)
            text_values = {
                "name": name,
                "host": host,
                "port": port,
                "user": user,
                "storage_folder": storage_folder,
                "ca_file": ca_file,
            }
            for field_name, value in text_values.items():
                if value is not None:
                    self.inputs[field_name].value = str(value)
            if password is not None:
                self._keep_password(password)

    def load(self, settings: ServerSettings) -> None:
        """Fill every field from an entry, such as one read from a settings file.

        The entry's provider selects the preset, and its password, if it carries
        one, is kept in the kernel as with a typed password.
        """
        preset = settings.provider if settings.provider in providers() else CUSTOM_PRESET
        self.set_values(
            preset=preset,
            name=settings.name,
            protocol=settings.protocol,
            host=settings.host,
            port=settings.port,
            tls=settings.tls,
            auth=settings.auth,
            user=settings.user,
            storage_folder=settings.storage_folder or "",
            password=settings.password,
            ca_file=str(settings.ca_file) if settings.ca_file else "",
        )

    def on_change(self, callback: Callable[[SettingsForm], None]) -> None:
        """Call `callback` with the form each time its findings or field errors are recomputed."""
        self._callbacks.append(callback)

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value!r}" for key, value in self._raw_values().items())
        return (
            f"SettingsForm(preset={self._preset.value!r}, {fields}, "
            f"password={'set' if self.has_password else 'not set'})"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        return bundle

    # Building and checking

    def _raw_values(self) -> dict[str, Any]:
        """Collect the input as `build_settings` expects it, leaving out empty optional fields."""
        protocol: Protocol = self._protocol.value
        raw: dict[str, Any] = {
            "name": self._name.value,
            "protocol": protocol.value,
            "host": self._host.value,
            "port": self._port.value,
            "tls": self._tls.value,
            "auth": self._auth.value.value,
            "user": self._user.value,
        }
        if protocol is Protocol.IMAP:
            raw["storage_folder"] = self._storage_folder.value
        if self._ca_file.value.strip():
            raw["ca_file"] = self._ca_file.value
        if self._preset.value != CUSTOM_PRESET:
            raw["provider"] = self._preset.value
        # build_settings reports an empty required field as missing; empty optional ones go.
        required = ("name", "protocol", "host", "port", "tls", "auth", "user")
        return {
            key: value
            for key, value in raw.items()
            if key in required or (isinstance(value, str) and value.strip())
        }

    def _refresh(self) -> None:
        """Rebuild the settings, recompute the findings and redraw the findings view."""
        try:
            settings = self.settings
        except SettingsError as error:
            self._errors = error.errors
            self._findings = []
            self._result.value = field_errors_styler(self._errors).to_html()
        else:
            self._errors = ()
            self._findings = ranked(check_server(settings))
            self._result.value = findings_styler(self._findings).to_html()
        logger.debug(
            "Settings form rechecked: %d findings, %d field errors",
            len(self._findings),
            len(self._errors),
        )
        for callback in self._callbacks:
            callback(self)

    @contextmanager
    def _batch(self) -> Iterator[None]:
        """Hold the recheck until the outermost batch ends, then recheck once."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                self._refresh()

    # Presets and visibility

    def _preset_key(self, preset: str) -> str:
        requested = preset.strip().casefold()
        for label, key in self._preset.options:
            if requested in (label.casefold(), key.casefold()):
                return str(key)
        choices = ", ".join(repr(key) for _label, key in self._preset.options)
        raise ValueError(f"Preset {preset!r} is not known. Use one of: {choices}.")

    def _apply_preset(self) -> None:
        """Fill host, port, TLS tick and authentication type from the chosen provider."""
        key = self._preset.value
        if key == CUSTOM_PRESET:
            return
        provider = providers()[key]
        recommendation = provider.recommended.get(self._protocol.value)
        if recommendation is not None:
            self._host.value = recommendation.host
            self._port.value = str(recommendation.port)
            self._tls.value = recommendation.tls
        if provider.auth:
            self._auth.value = provider.auth[0]

    def _show_rows(self) -> None:
        """Show the storage folder for IMAP only and the password for Basic auth only."""
        imap = self._protocol.value is Protocol.IMAP
        basic = self._auth.value is AuthType.BASIC
        self._storage_folder.layout.display = None if imap else "none"
        self._password_row.layout.display = None if basic else "none"

    def _show_password_state(self) -> None:
        if self._password:
            status = "Password: entered, kept in the kernel only."
            self._password_input.placeholder = PLACEHOLDER_KEPT
        else:
            status = "Password: not entered."
            self._password_input.placeholder = PLACEHOLDER_NOT_ENTERED
        self._password_status.value = html.escape(status)
        self._forget_button.disabled = not self._password

    def _keep_password(self, password: Secret | str) -> None:
        secret = password if isinstance(password, Secret) else Secret(password)
        with self._batch():
            self._password = secret if secret else None
            self._show_password_state()

    # Observers

    def _on_input_change(self, change: Mapping[str, Any]) -> None:
        if self._batch_depth == 0:
            self._refresh()

    def _on_preset_change(self, change: Mapping[str, Any]) -> None:
        with self._batch():
            self._apply_preset()

    def _on_protocol_change(self, change: Mapping[str, Any]) -> None:
        with self._batch():
            self._show_rows()
            self._apply_preset()

    def _on_auth_change(self, change: Mapping[str, Any]) -> None:
        with self._batch():
            self._show_rows()

    def _on_password_typed(self, change: Mapping[str, Any]) -> None:
        typed = change["new"]
        if not typed:
            return
        # Move the typed value into a Secret and clear the input, so the browser's
        # widget model (and any saved widget state) contains an empty string again.
        self._password_input.value = ""
        self._keep_password(typed)

    def _on_forget_click(self, button: ipywidgets.Button) -> None:
        self._keep_password("")
