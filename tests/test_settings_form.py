"""The settings form: presets, live findings, field errors and keeping the password secret."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import ipywidgets
import pytest
from ipywidgets.embed import embed_minimal_html

from toolkit.findings import Finding
from toolkit.providers import providers
from toolkit.settings import AuthType, Protocol, ServerSettings, SettingsError
from toolkit.widgets import SettingsForm
from toolkit.widgets.settings_form import TLS_LABEL

CANARY = "canary-Pa55word-7f3e"


def gmail_smtp_ticket() -> SettingsForm:
    """Build the form of a typical ticket: Gmail SMTP with TLS ticked on port 587."""
    form = SettingsForm()
    form.set_values(
        preset="gmail", protocol="smtp", name="gmail-replies", user="support@gmail.com",
        port=587, tls=True,
    )
    return form


def custom_imap() -> SettingsForm:
    form = SettingsForm()
    form.set_values(
        protocol="imap", name="support-imap", host="imap.example.com", port=993, tls=True,
        auth="basic", user="support@example.com", storage_folder="Support",
    )
    return form


def finding_ids(form: SettingsForm) -> list[str]:
    return [finding.id for finding in form.findings]


def error_fields(form: SettingsForm) -> list[str]:
    return [error.field for error in form.errors]


def result_html(form: SettingsForm) -> str:
    """Return the HTML of the findings view below the inputs."""
    children = form.widget.children
    return str(children[-1].value)


def all_widgets(widget: ipywidgets.Widget) -> list[ipywidgets.Widget]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found += all_widgets(child)
    return found


def find_button(form: SettingsForm, description: str) -> ipywidgets.Button:
    for widget in all_widgets(form.widget):
        if isinstance(widget, ipywidgets.Button) and widget.description == description:
            return widget
    raise AssertionError(f"no button {description!r} in the form")


def encodings(secret: str) -> list[str]:
    raw = secret.encode()
    return [secret, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]


def assert_no_canary(text: str) -> None:
    for form_of_secret in encodings(CANARY):
        assert form_of_secret not in text


@pytest.mark.parametrize("protocol", [Protocol.IMAP, Protocol.SMTP])
@pytest.mark.parametrize("key", sorted(providers()))
def test_preset_fills_recommendation(key: str, protocol: Protocol) -> None:
    provider = providers()[key]
    recommendation = provider.recommended[protocol]
    form = SettingsForm()

    form.set_values(preset=key, protocol=protocol)

    inputs = form.inputs
    assert inputs["host"].value == recommendation.host
    assert inputs["port"].value == str(recommendation.port)
    assert inputs["tls"].value is recommendation.tls
    assert inputs["auth"].value is provider.auth[0]


def test_preset_by_label_and_protocol_switch() -> None:
    form = SettingsForm()
    form.set_values(preset="Microsoft 365")
    assert form.inputs["host"].value == "outlook.office365.com"
    assert form.inputs["auth"].value is AuthType.OAUTH2

    # The user switches the protocol in the form: the preset refills for SMTP.
    form.inputs["protocol"].value = Protocol.SMTP
    assert form.inputs["host"].value == "smtp.office365.com"
    assert form.inputs["port"].value == "587"


def test_custom_preset_keeps_typed_values() -> None:
    form = custom_imap()
    form.inputs["protocol"].value = Protocol.SMTP
    assert form.inputs["host"].value == "imap.example.com"
    assert form.inputs["port"].value == "993"


def test_unknown_preset_raises() -> None:
    form = SettingsForm()
    with pytest.raises(ValueError, match="'yahoo' is not known"):
        form.set_values(preset="yahoo")


def test_unknown_protocol_raises() -> None:
    form = SettingsForm()
    with pytest.raises(SettingsError, match="protocol"):
        form.set_values(protocol="pop3")


def test_gmail_smtp_tls_on_587_reports_mismatch() -> None:
    form = gmail_smtp_ticket()
    assert finding_ids(form) == ["tls-tick-port-mismatch"]
    assert form.findings[0].severity == "error"
    assert "tls-tick-port-mismatch" in result_html(form)
    assert "Untick TLS for port 587" in result_html(form)


def test_findings_update_after_tls_change() -> None:
    form = gmail_smtp_ticket()
    form.set_values(tls=False)
    assert finding_ids(form) == []
    assert "No findings" in result_html(form)


def test_findings_update_after_port_change() -> None:
    form = gmail_smtp_ticket()
    form.set_values(port=465)
    assert finding_ids(form) == ["not-recommended-port"]
    assert form.findings[0].severity == "warning"


def test_findings_update_when_user_edits_input() -> None:
    form = gmail_smtp_ticket()
    form.inputs["tls"].value = False
    assert finding_ids(form) == []
    form.inputs["port"].value = "25"
    assert "relay-port" in finding_ids(form)


def test_on_change_called_once_per_set_values() -> None:
    form = gmail_smtp_ticket()
    seen: list[list[Finding]] = []
    form.on_change(lambda changed: seen.append(changed.findings))

    form.set_values(port=465, tls=True)
    assert len(seen) == 1
    assert [finding.id for finding in seen[0]] == ["not-recommended-port"]

    form.inputs["port"].value = "587"
    assert len(seen) == 2
    assert [finding.id for finding in seen[1]] == ["tls-tick-port-mismatch"]


def test_bad_port_shows_field_error() -> None:
    form = custom_imap()
    form.set_values(port="abc")
    assert error_fields(form) == ["port"]
    assert form.errors[0].problem == "is not a number"
    assert form.findings == []
    html = result_html(form)
    assert ">port<" in html
    assert "is not a number" in html
    assert "enter a whole number from 1 to 65535" in html


def test_host_with_space_shows_field_error() -> None:
    form = custom_imap()
    form.set_values(host="imap example.com")
    assert error_fields(form) == ["host"]
    html = result_html(form)
    assert ">host<" in html
    assert "contains a space" in html
    assert "remove the space" in html


def test_every_bad_field_listed_at_once() -> None:
    form = custom_imap()
    form.set_values(port="abc", host="imap example.com")
    assert sorted(error_fields(form)) == ["host", "port"]


def test_settings_raises_while_input_unusable() -> None:
    form = custom_imap()
    form.set_values(port="abc")
    with pytest.raises(SettingsError) as raised:
        _ = form.settings
    assert [error.field for error in raised.value.errors] == ["port"]


def test_empty_form_names_missing_fields() -> None:
    form = SettingsForm()
    assert {"host", "name", "user"} <= set(error_fields(form))


def test_pasted_url_in_host_works() -> None:
    form = custom_imap()
    form.set_values(host=" imaps://Imap.Example.com:993/ ", port="")
    settings = form.settings
    assert settings.host == "imap.example.com"
    assert settings.port == 993
    assert settings.tls is True
    assert form.errors == ()


def test_settings_returns_server_settings() -> None:
    form = custom_imap()
    settings = form.settings
    assert isinstance(settings, ServerSettings)
    assert settings.protocol is Protocol.IMAP
    assert settings.tls is True
    assert settings.storage_folder == "Support"
    assert settings.port == 993
    assert settings.auth is AuthType.BASIC
    assert settings.provider is None


def test_preset_sets_provider() -> None:
    settings = gmail_smtp_ticket().settings
    assert settings.provider == "gmail"
    assert settings.protocol is Protocol.SMTP
    assert settings.tls is True
    assert settings.port == 587


def test_storage_folder_only_for_imap() -> None:
    form = custom_imap()
    assert form.inputs["storage_folder"].layout.display is None

    form.set_values(protocol="smtp", port=465)
    assert form.inputs["storage_folder"].layout.display == "none"
    assert form.settings.storage_folder is None
    assert "storage-folder-ignored" not in finding_ids(form)


def test_imap_without_storage_folder_reports_missing() -> None:
    form = custom_imap()
    form.set_values(storage_folder="")
    assert finding_ids(form) == ["storage-folder-missing"]


def test_ca_file_optional() -> None:
    form = custom_imap()
    assert form.settings.ca_file is None
    form.set_values(ca_file="/etc/ssl/sandbox-ca.pem")
    assert str(form.settings.ca_file) == "/etc/ssl/sandbox-ca.pem"


def test_tls_checkbox_label() -> None:
    form = SettingsForm()
    assert form.inputs["tls"].description == TLS_LABEL
    assert TLS_LABEL == "TLS (ticked = implicit TLS, unticked = STARTTLS)"


def test_set_values_password_goes_to_settings() -> None:
    form = custom_imap()
    form.set_values(password=CANARY)
    settings = form.settings
    assert settings.password is not None
    assert settings.password.reveal() == CANARY
    assert form.has_password


def test_typed_password_moves_into_secret() -> None:
    form = custom_imap()
    password_input = form.inputs["password"]

    # set_state is the call ipywidgets makes when the browser sends a value.
    password_input.set_state({"value": CANARY})

    assert password_input.value == ""
    assert password_input.placeholder.startswith("Password kept in the kernel")
    assert form.settings.password is not None
    assert form.settings.password.reveal() == CANARY


def test_forget_button_clears_password() -> None:
    form = custom_imap()
    form.set_values(password=CANARY)
    button = find_button(form, "Forget password")
    assert not button.disabled

    button.click()

    assert not form.has_password
    assert form.settings.password is None
    assert button.disabled


def test_empty_password_forgets() -> None:
    form = custom_imap()
    form.set_values(password=CANARY)
    form.set_values(password="")
    assert form.settings.password is None


def test_oauth2_hides_password() -> None:
    form = custom_imap()
    form.set_values(password=CANARY, auth="oauth2")
    assert form.settings.password is None
    assert form.settings.auth is AuthType.OAUTH2
    password_row = [w for w in all_widgets(form.widget) if form.inputs["password"] in
                    getattr(w, "children", ())]
    assert password_row[0].layout.display == "none"


def test_gmail_password_shape_checked_without_revealing() -> None:
    form = gmail_smtp_ticket()
    form.set_values(tls=False, password=CANARY)
    assert finding_ids(form) == ["app-password-format"]
    assert_no_canary(repr(form.findings))
    assert_no_canary(result_html(form))


def test_canary_not_in_repr_findings_or_html() -> None:
    form = gmail_smtp_ticket()
    form.set_values(password=CANARY)
    form.inputs["password"].set_state({"value": CANARY})

    assert_no_canary(repr(form))
    assert_no_canary(str(form._repr_mimebundle_()))
    assert_no_canary(repr(form.settings))
    assert_no_canary(str(form.settings))
    assert_no_canary(repr(form.findings))
    assert_no_canary(json.dumps([finding.to_dict() for finding in form.findings]))
    assert_no_canary(result_html(form))
    assert_no_canary(repr(form.inputs["password"]))


def test_canary_not_in_widget_state_or_embedded_html() -> None:
    form = gmail_smtp_ticket()
    form.set_values(password=CANARY)
    form.inputs["password"].set_state({"value": CANARY})

    states = [widget.get_state() for widget in all_widgets(form.widget)]
    assert_no_canary(json.dumps(states, default=str))

    page = io.StringIO()
    embed_minimal_html(page, views=[form.widget], title="settings form")
    assert "PasswordModel" in page.getvalue()
    assert_no_canary(page.getvalue())


def test_password_never_sent_to_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[dict[str, Any]] = []

    def record(widget: ipywidgets.Widget, msg: dict[str, Any], buffers: Any = None) -> None:
        sent.append(msg)

    monkeypatch.setattr(ipywidgets.Widget, "_send", record)
    form = gmail_smtp_ticket()
    form.set_values(password=CANARY)
    form.inputs["password"].set_state({"value": CANARY})
    form.inputs["password"].value = CANARY

    # The kernel sent updates (the cleared input, the placeholder), but never the password.
    assert any(msg.get("method") == "update" for msg in sent)
    assert_no_canary(json.dumps(sent, default=str))
    assert not [msg for msg in sent if msg.get("method") == "echo_update"]
