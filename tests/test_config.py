import os
import tomllib
from pathlib import Path

import pytest

from nexus_desktop.config import Settings, load_specs, render_toml
from nexus_desktop.errors import ConfigError
from nexus_desktop.paths import AppPaths, app_paths


def test_every_declared_setting_has_type_default_and_description():
    specs = load_specs()
    assert "model.source" in specs and "generation.temperature" in specs
    for spec in specs.values():
        assert spec.description, spec.key
        assert spec.coerce(spec.default) == spec.default
        if spec.type in ("int", "float"):
            assert spec.minimum is not None and spec.maximum is not None, spec.key
        if spec.type == "choice":
            assert spec.default in spec.choices


def test_defaults_apply_without_a_user_file(settings: Settings):
    assert settings.get("model.source") == "bundled"
    assert settings.is_default("model.source")
    assert not settings.user_file.exists()


def test_set_saves_and_a_new_instance_reads_it_back(settings: Settings):
    settings.set("generation.temperature", "0.7")
    settings.set("model.dtype", "float32")
    settings.set("chat.persona", 'Say "hi"\\ and\nwave\x01')
    again = Settings(settings.user_file)
    assert again.get("generation.temperature") == 0.7
    assert again.get("model.dtype") == "float32"
    assert again.get("chat.persona") == 'Say "hi"\\ and\nwave\x01'
    assert not again.is_default("generation.temperature")


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("generation.temperature", "5", "a number from 0.0 to 2.0"),
        ("generation.temperature", "warm", "a number from 0.0 to 2.0"),
        ("generation.max_new_tokens", "1.5", "a whole number from 16 to 4096"),
        ("model.dtype", "int4", "one of 'auto', 'float32', 'bfloat16', 'float16'"),
        ("generation.temperature", "nan", "a number from 0.0 to 2.0"),
    ],
)
def test_invalid_values_name_key_value_and_what_is_allowed(settings, key, value, allowed):
    with pytest.raises(ConfigError) as caught:
        settings.set(key, value)
    message = str(caught.value)
    assert key in message and repr(value) in message and allowed in message
    assert settings.is_default(key)


def test_unknown_key_is_refused_with_a_pointer_to_the_list(settings):
    with pytest.raises(ConfigError, match="config list"):
        settings.set("model.colour", "blue")


def test_invalid_value_in_the_user_file_names_file_key_and_fix(paths: AppPaths):
    paths.user_config.write_text("[generation]\ntemperature = 9.5\n")
    with pytest.raises(ConfigError) as caught:
        Settings(paths.user_config)
    message = str(caught.value)
    assert str(paths.user_config) in message
    assert "generation.temperature = 9.5" in message
    assert "config set generation.temperature" in message


def test_broken_toml_is_reported_not_crashed(paths: AppPaths):
    paths.user_config.write_text("[generation\ntemperature = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings(paths.user_config)


def test_unknown_keys_in_the_user_file_are_kept_on_save(paths: AppPaths):
    paths.user_config.write_text('[future]\nfeature = "x"\n')
    settings = Settings(paths.user_config)
    settings.set("generation.top_p", 0.5)
    saved = tomllib.loads(paths.user_config.read_text())
    assert saved["future"]["feature"] == "x"
    assert saved["generation"]["top_p"] == 0.5


def test_reset_returns_to_the_default(settings):
    settings.set("generation.top_p", "0.5")
    settings.reset("generation.top_p")
    assert settings.get("generation.top_p") == 0.9
    assert Settings(settings.user_file).is_default("generation.top_p")


def test_bool_words_are_understood():
    from nexus_desktop.config import SettingSpec

    spec = SettingSpec("x.flag", "bool", False, "a flag")
    assert spec.parse("yes") is True and spec.parse("Off") is False
    with pytest.raises(ConfigError, match="true or false"):
        spec.parse("maybe")


def test_render_toml_round_trips_awkward_strings():
    values = {"a.b": 'quote " backslash \\ tab \t nul \x00 é', "a.n": 3, "a.f": 0.25, "top": True}
    parsed = tomllib.loads(render_toml(values))
    assert parsed["a"]["b"] == values["a.b"]
    assert parsed["a"]["n"] == 3 and parsed["a"]["f"] == 0.25 and parsed["top"] is True


def test_nexus_home_puts_every_folder_under_one_root(isolated_home: Path):
    paths = app_paths()
    for folder in (paths.data_dir, paths.config_dir, paths.cache_dir, paths.log_dir):
        assert folder.is_relative_to(isolated_home.resolve())
    assert paths.database == paths.data_dir / "nexus.db"


def test_without_nexus_home_platformdirs_folders_are_used(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("NEXUS_HOME")
    paths = app_paths()
    # The autouse fixture points XDG_* at the test's temp dir.
    assert paths.data_dir == tmp_path / "user-home" / ".local" / "share" / "Nexus Desktop"
    assert paths.config_dir == tmp_path / "user-home" / ".config" / "Nexus Desktop"


def test_hugging_face_is_kept_in_our_cache_and_quiet(monkeypatch, paths: AppPaths):
    from nexus_desktop.paths import point_huggingface_at

    monkeypatch.delenv("HF_HOME")
    monkeypatch.delenv("HF_HUB_DISABLE_TELEMETRY")
    point_huggingface_at(paths)
    assert os.environ["HF_HOME"] == str(paths.huggingface_dir)
    assert os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1"
    monkeypatch.setenv("HF_HOME", "/somewhere/the/user/chose")
    point_huggingface_at(paths)
    assert os.environ["HF_HOME"] == "/somewhere/the/user/chose"
