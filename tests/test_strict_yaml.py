"""Strict YAML: duplicate keys and alias bombs are refused in one short line, plain YAML still reads."""

import pytest

from lrctl.cli import main
from lrctl.config import ConfigError, load_config, parse_override
from lrctl.strict_yaml import MAX_EXPANDED_NODES, StrictYAMLError, excerpt, load_yaml

BOMB = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"]
                 + [f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in zip("abcdefg", "bcdefgh")])


def test_plain_yaml_and_anchors_within_bounds_read_as_safe_load():
    assert load_yaml("env: &e {child_steps: 20}\nother: *e\nlist: [1, 2.5, x]") == {
        "env": {"child_steps": 20}, "other": {"child_steps": 20}, "list": [1, 2.5, "x"]}
    assert load_yaml("") is None


@pytest.mark.parametrize("text", ["a: 1\na: 2", "env:\n  x: 1\nenv:\n  y: 2", "{a: 1, a: 2}",
                                  "env: {child_steps: 1, child_steps: 2}"])
def test_duplicate_keys_are_refused(text):
    with pytest.raises(StrictYAMLError, match="duplicate key"):
        load_yaml(text)


def test_alias_bomb_is_refused_before_it_expands():
    with pytest.raises(StrictYAMLError, match=str(MAX_EXPANDED_NODES)):
        load_yaml(BOMB)


def test_config_file_with_a_duplicated_section_is_a_one_line_error(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("env:\n  child_steps: 20\nppo:\n  n_envs: 1\nenv:\n  child_steps: 40\n")
    with pytest.raises(ConfigError, match=r"duplicate key 'env' on lines 1 and 5"):
        load_config(path)


def test_alias_bomb_in_env_exits_2_with_a_short_message(tmp_path, capsys):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB + "\nenv:\n  initial_lrs: *h\n")
    assert main(["train", "--config", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) < 300 and "aliases" in err
    assert not (tmp_path / "run").exists()


def test_override_values_are_read_strictly():
    with pytest.raises(ConfigError, match="duplicate key"):
        parse_override("env={a: 1, a: 2}")


def test_messages_quote_only_an_excerpt_of_a_huge_value():
    with pytest.raises(ConfigError) as err:
        load_config(None, ["env.child_steps=" + "x" * 100_000])
    assert len(str(err.value)) < 200 and "..." in str(err.value)
    assert len(excerpt(list(range(10_000)))) <= 60
