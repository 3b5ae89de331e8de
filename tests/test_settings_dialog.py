"""The settings dialog, offscreen: real widgets, the real config file, a loopback Ollama
server and a loopback Hugging Face Hub. Only start-at-login is a fake (it would change the
login items of the machine running the tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_hub import FakeHub
from ollama_server import OllamaServer, closed_port_url
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox

from nexus_desktop.config import Settings
from nexus_desktop.paths import AppPaths
from nexus_desktop.ui.settings_dialog import SettingsDialog

LAUNCH = ["/opt/nexus/nexus-desktop", "--tray"]
REPO = "test-org/small-model"


class FakeAutostart:
    """Records what the dialog asks of the login items."""

    def __init__(self, enabled: bool = False, refuse: bool = False) -> None:
        self.enabled = enabled
        self.refuse = refuse
        self.calls: list[tuple[str, list[str] | None]] = []

    def is_enabled(self) -> bool:
        return self.enabled

    def enable(self, command: list[str]) -> None:
        self.calls.append(("enable", command))
        if self.refuse:
            raise OSError("access to the login items was denied")
        self.enabled = True

    def disable(self) -> None:
        self.calls.append(("disable", None))
        self.enabled = False

    def describe(self) -> str:
        return "Starts at login." if self.enabled else "Does not start at login."


@pytest.fixture
def autostart() -> FakeAutostart:
    return FakeAutostart()


@pytest.fixture
def make_dialog(qtbot, settings: Settings, paths: AppPaths, autostart: FakeAutostart):
    def make() -> SettingsDialog:
        dialog = SettingsDialog(settings, paths, autostart, LAUNCH)
        qtbot.addWidget(dialog)
        return dialog
    return make


@pytest.fixture
def dialog(make_dialog) -> SettingsDialog:
    return make_dialog()


def saved(paths: AppPaths, key: str):
    """The value as a fresh start would read it from the config file."""
    return Settings(paths.user_config).get(key)


# --- showing and checking ----------------------------------------------------------------


def test_fields_show_the_current_values(make_dialog, settings, tmp_path):
    model_folder = tmp_path / "my-model"
    model_folder.mkdir()
    settings.set("model.source", str(model_folder))
    settings.set("teacher.url", "http://127.0.0.1:9999")
    settings.set("teacher.model", "qwen2.5")
    settings.set("teacher.enabled", True)
    settings.set("learning.enabled", False)
    settings.set("learning.focus_topics", "organic chemistry, Rust")
    settings.set("resources.ram_mb", 3000)
    settings.set("resources.idle_minutes", 7.5)

    dialog = make_dialog()

    assert dialog.model_page.folder.isChecked()
    assert dialog.model_page.folder_edit.text() == str(model_folder)
    assert dialog.teacher_page.url_edit.text() == "http://127.0.0.1:9999"
    assert dialog.teacher_page.model_edit.text() == "qwen2.5"
    assert dialog.teacher_page.enabled.isChecked()
    assert not dialog.learning_enabled.isChecked()
    assert dialog.topics.topics() == ["organic chemistry", "Rust"]
    assert dialog.limit_boxes["resources.ram_mb"].value() == 3000
    assert dialog.limit_boxes["resources.idle_minutes"].value() == 7.5
    assert dialog.data_folder.text() == str(dialog.paths.data_dir)
    assert dialog.apply_button.isEnabled() and dialog.changed_keys() == []


def test_limit_ranges_come_from_the_settings_spec(dialog, settings):
    for key, box in dialog.limit_boxes.items():
        spec = settings.spec(key)
        assert (box.minimum(), box.maximum()) == (spec.minimum, spec.maximum), key


@pytest.mark.parametrize(("field", "text", "message"), [
    ("teacher.model", "   ", "must not be empty"),
    ("teacher.url", "localhost without a scheme", "is not a web address"),
    ("model.source", "not a model id at all", "is not a Hugging Face model id"),
])
def test_an_invalid_field_shows_why_and_blocks_apply(dialog, paths, field, text, message):
    edits = {"teacher.model": dialog.teacher_page.model_edit,
             "teacher.url": dialog.teacher_page.url_edit,
             "model.source": dialog.model_page.hub_edit}
    if field == "model.source":
        dialog.model_page.hub.setChecked(True)
    before = saved(paths, field)

    edits[field].setText(text)

    problem = dialog._fields[field][1]
    assert message in problem.text() and not problem.isHidden()
    assert message in dialog.problems[field]
    assert not dialog.apply_button.isEnabled() and not dialog.ok_button.isEnabled()
    assert dialog.apply() is False
    assert saved(paths, field) == before

    edits[field].setText({"teacher.model": "mistral", "teacher.url": "http://10.0.0.2:11434",
                          "model.source": "HuggingFaceTB/SmolLM2-360M-Instruct"}[field])
    assert problem.isHidden() and dialog.apply_button.isEnabled()


def test_a_missing_model_folder_is_refused(dialog, tmp_path):
    dialog.model_page._folder_chosen(str(tmp_path / "gone"))
    assert "does not exist" in dialog.problems["model.source"]
    (tmp_path / "gone").mkdir()
    dialog.model_page._folder_chosen(str(tmp_path))
    dialog.model_page._folder_chosen(str(tmp_path / "gone"))
    assert "model.source" not in dialog.problems


# --- saving --------------------------------------------------------------------------------


def test_apply_saves_the_changed_fields_to_the_config_file(qtbot, dialog, paths, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    dialog.model_page._folder_chosen(str(folder))
    dialog.teacher_page.url_edit.setText("http://192.168.1.20:11434")
    dialog.teacher_page.enabled.setChecked(True)
    dialog.learning_enabled.setChecked(False)
    dialog.limit_boxes["resources.active_cpu_percent"].setValue(33.5)
    dialog.limit_boxes["resources.vram_mb"].setValue(1024)

    with qtbot.waitSignal(dialog.settings_applied) as applied:
        qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)

    assert sorted(applied.args[0]) == sorted([
        "model.source", "teacher.url", "teacher.enabled", "learning.enabled",
        "resources.active_cpu_percent", "resources.vram_mb"])
    assert saved(paths, "model.source") == str(folder)
    assert saved(paths, "teacher.url") == "http://192.168.1.20:11434"
    assert saved(paths, "teacher.enabled") is True
    assert saved(paths, "learning.enabled") is False
    assert saved(paths, "resources.active_cpu_percent") == 33.5
    assert saved(paths, "resources.vram_mb") == 1024
    assert Settings(paths.user_config).is_default("teacher.model")
    assert dialog.changed_keys() == []


def test_ok_saves_and_closes_cancel_does_not_save(qtbot, make_dialog, paths):
    first = make_dialog()
    first.show()
    first.limit_boxes["resources.ram_mb"].setValue(5000)
    first.buttons.button(first.buttons.StandardButton.Ok).click()
    assert not first.isVisible()
    assert saved(paths, "resources.ram_mb") == 5000

    second = make_dialog()
    second.show()
    second.limit_boxes["resources.ram_mb"].setValue(6000)
    second.buttons.button(second.buttons.StandardButton.Cancel).click()
    assert not second.isVisible()
    assert saved(paths, "resources.ram_mb") == 5000


def test_topics_are_added_removed_and_reordered(dialog, paths):
    topics = dialog.topics
    for text in ("Rust", "organic chemistry", "rust", "a, b", "  "):
        topics.new_topic.setText(text)
        topics.add_button.click()
    assert topics.topics() == ["Rust", "organic chemistry"]
    assert not topics.error.isHidden() and "must not be empty" in topics.error.text()
    topics.new_topic.setText("music theory")
    topics.add_button.click()
    assert topics.error.isHidden()

    topics.list.setCurrentRow(2)
    topics.up_button.click()
    topics.up_button.click()
    topics.up_button.click()  # already first: stays
    assert topics.topics() == ["music theory", "Rust", "organic chemistry"]
    topics.list.setCurrentRow(1)
    topics.remove_button.click()
    topics.list.setCurrentRow(0)
    topics.down_button.click()
    assert dialog.apply()
    assert saved(paths, "learning.focus_topics") == "organic chemistry, music theory"

    for _ in range(2):
        topics.list.setCurrentRow(0)
        topics.remove_button.click()
    assert dialog.apply()
    assert saved(paths, "learning.focus_topics") == "-"  # the built-in subjects


def test_start_at_login_goes_through_autostart(make_dialog, autostart):
    dialog = make_dialog()
    assert not dialog.start_at_login.isChecked()
    assert dialog.autostart_info.text() == "Does not start at login."

    dialog.start_at_login.setChecked(True)
    assert autostart.calls == []  # only on Apply
    assert dialog.apply()
    assert autostart.calls == [("enable", LAUNCH)]
    assert dialog.autostart_info.text() == "Starts at login."

    dialog.start_at_login.setChecked(False)
    assert dialog.apply()
    assert autostart.calls[-1] == ("disable", None)
    assert not autostart.enabled


def test_a_refused_start_at_login_is_shown(make_dialog, autostart):
    autostart.refuse = True
    dialog = make_dialog()
    dialog.start_at_login.setChecked(True)

    assert dialog.apply() is False

    assert "access to the login items was denied" in dialog.autostart_error.text()
    assert not dialog.autostart_error.isHidden()


# --- the Ollama connection test ---------------------------------------------------------------


@pytest.fixture
def ollama() -> Iterator[OllamaServer]:
    with OllamaServer(models=("llama3.2:latest", "qwen2.5:latest")) as server:
        yield server


def run_connection_test(qtbot, dialog: SettingsDialog, url: str, model: str) -> str:
    page = dialog.teacher_page
    page.url_edit.setText(url)
    page.model_edit.setText(model)
    page.test_button.click()
    assert not page.test_button.isEnabled()
    qtbot.waitUntil(page.test_button.isEnabled, timeout=15000)
    return page.test_result.text()


def test_connection_test_reports_the_models(qtbot, dialog, ollama):
    text = run_connection_test(qtbot, dialog, ollama.url, "llama3.2")
    assert text.startswith("Connected: 2 models, llama3.2 pulled")
    assert [r.path for r in ollama.requests] == ["/api/tags"]


def test_connection_test_says_how_to_pull_a_missing_model(qtbot, dialog, ollama):
    text = run_connection_test(qtbot, dialog, ollama.url, "mistral")
    assert "Connected: 2 models" in text
    assert "mistral is not pulled" in text and "ollama pull mistral" in text


def test_connection_test_against_a_closed_port(qtbot, dialog):
    url = closed_port_url()
    text = run_connection_test(qtbot, dialog, url, "llama3.2")
    assert f"Cannot reach Ollama at {url}" in text
    assert "ollama serve" in text and "correct the address" in text


def test_closing_during_a_connection_test_leaves_no_thread(qtbot, dialog):
    with OllamaServer(mode="good") as server:
        dialog.teacher_page.url_edit.setText(server.url)
        dialog.teacher_page.test_button.click()
        dialog.close()
    # The autouse guard fails the test if the worker thread outlives it.


# --- export, import, reset -----------------------------------------------------------------


def test_export_emits_the_chosen_file(qtbot, dialog, tmp_path):
    with qtbot.waitSignal(dialog.export_requested) as requested:
        dialog._export_chosen(str(tmp_path / "memory.zip"))
    assert requested.args == [tmp_path / "memory.zip"]


def answer(dialog: SettingsDialog, confirm: bool) -> str:
    box = dialog.confirmation
    assert box is not None and box.isVisible()
    text = box.text()
    if confirm:
        button = next(b for b in box.buttons()
                      if box.buttonRole(b) == QMessageBox.ButtonRole.AcceptRole)
    else:
        button = box.button(QMessageBox.StandardButton.Cancel)
    button.click()
    assert not box.isVisible() and dialog.confirmation is None
    return text


def test_import_asks_first_and_says_where_the_old_memory_goes(qtbot, dialog, tmp_path):
    dialog.show()
    archive = tmp_path / "memory.zip"
    emitted: list[Path] = []
    dialog.import_requested.connect(emitted.append)

    dialog._import_chosen(str(archive))
    text = answer(dialog, confirm=False)
    assert emitted == []
    assert str(dialog.paths.data_dir / "replaced") in text and "restored" in text

    dialog._import_chosen(str(archive))
    answer(dialog, confirm=True)
    assert emitted == [archive]


def test_reset_asks_first(qtbot, dialog):
    dialog.show()
    emitted: list[bool] = []
    dialog.reset_requested.connect(lambda: emitted.append(True))

    dialog.reset_button.click()
    text = answer(dialog, confirm=False)
    assert emitted == []
    assert "Nothing is deleted" in text and str(dialog.paths.data_dir / "replaced") in text

    dialog.reset_button.click()
    answer(dialog, confirm=True)
    assert emitted == [True]


class UrlCatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def test_open_shows_the_data_folder(dialog):
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        dialog.open_folder_button.click()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [Path(url.toLocalFile()) for url in catcher.urls] == [dialog.paths.data_dir]


# --- downloading a model -----------------------------------------------------------------------


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    from test_hub_download import sync_hub_constants

    weights = bytes(range(256)) * 4096  # 1 MiB
    with FakeHub() as fake:
        fake.add_repo(REPO, extra_files={"config.json": b'{"model_type": "llama"}',
                                         "model.safetensors": weights})
        monkeypatch.setenv("HF_ENDPOINT", fake.endpoint)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        sync_hub_constants(monkeypatch)
        yield fake
    assert not fake.errors


def test_download_shows_progress_and_where_the_model_went(qtbot, dialog, hub):
    page = dialog.model_page
    page.hub.setChecked(True)
    page.hub_edit.setText(REPO)
    values: list[int] = []
    page.progress.valueChanged.connect(values.append)

    page.download_button.click()
    assert not page.download_button.isEnabled() and not page.cancel_button.isHidden()
    qtbot.waitUntil(lambda: page.download_button.isEnabled(), timeout=30000)

    assert page.download_status.text().startswith("Downloaded to ")
    folder = Path(page.download_status.text().removeprefix("Downloaded to ").split(". ")[0])
    assert (folder / "model.safetensors").stat().st_size == 1 << 20
    assert values and values[-1] == 1000
    assert page.progress.isHidden() and page.cancel_button.isHidden()
    assert "model.safetensors" in hub.downloaded_names()


def test_download_can_be_cancelled(qtbot, dialog, hub):
    page = dialog.model_page
    page.hub.setChecked(True)
    page.hub_edit.setText(REPO)

    page.download_button.click()
    page.cancel_button.click()
    qtbot.waitUntil(lambda: page.download_button.isEnabled(), timeout=30000)

    assert page.download_status.text().startswith("Download cancelled")
    assert "model.safetensors" not in hub.downloaded_names()


def test_the_skill_library_settings_are_shown_and_saved(qtbot, dialog, paths):
    assert dialog.skills_enabled.isChecked()
    assert dialog.skill_boxes["skills.replay_similarity"].value() == 0.9
    assert dialog.skill_boxes["skills.min_confidence"].value() == 0.5
    assert dialog.changed_keys() == []
    dialog.skill_boxes["skills.replay_similarity"].setValue(0.95)
    dialog.skill_boxes["skills.prune_after_days"].setValue(60)
    dialog.skills_enabled.setChecked(False)

    with qtbot.waitSignal(dialog.settings_applied) as applied:
        qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)

    assert sorted(applied.args[0]) == sorted([
        "skills.replay_similarity", "skills.prune_after_days", "skills.enabled"])
    assert saved(paths, "skills.replay_similarity") == 0.95
    assert saved(paths, "skills.prune_after_days") == 60
    assert saved(paths, "skills.enabled") is False
