"""Atomic writes: a write that dies half-way leaves the old file and no stray temporary file."""

import os

import pytest

from lrctl.atomic import (
    NAME_MAX,
    output_name_problem,
    remove_leftovers,
    write_atomic,
    write_text_atomic,
)


def test_write_replaces_the_target(tmp_path):
    target = tmp_path / "report.md"
    write_text_atomic(target, "old")
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_failed_write_keeps_the_old_file_and_cleans_up(tmp_path):
    target = tmp_path / "policy.pt"
    target.write_bytes(b"complete")

    def dies_half_way(tmp):
        tmp.write_bytes(b"compl")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, dies_half_way)
    assert target.read_bytes() == b"complete"
    assert [p.name for p in tmp_path.iterdir()] == ["policy.pt"]


def test_suffix_is_kept_for_writers_that_want_one(tmp_path):
    seen = []
    write_atomic(tmp_path / "model.zip", lambda tmp: (seen.append(tmp.suffix), tmp.write_bytes(b"x")), suffix=".zip")
    assert seen == [".zip"] and (tmp_path / "model.zip").read_bytes() == b"x"


def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    mask = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "summary.md", "x")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_leftovers_of_killed_writes_are_removed_and_nothing_else(tmp_path):
    keep = [tmp_path / "policy.pt", tmp_path / ".hidden", tmp_path / "notes.tmp"]
    gone = [tmp_path / ".policy.pt.abc123.tmp", tmp_path / ".model.zip.k9.tmp.zip"]
    for path in keep + gone:
        path.write_text("x")
    assert sorted(remove_leftovers(tmp_path)) == sorted(gone)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in gone)
    assert remove_leftovers(tmp_path / "missing") == []


def test_a_legal_long_name_is_written_though_its_temporary_name_would_not_fit(tmp_path):
    target = tmp_path / ("p" * 250 + ".pt")
    write_text_atomic(target, "whole")
    assert target.read_text() == "whole"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    remove_leftovers(tmp_path)  # and what a killed write of it would leave is still recognised
    assert target.exists()


@pytest.mark.parametrize("name,fragment", [("p" * (NAME_MAX + 1), "above the limit"),
                                           (os.fsdecode(b"out\xff"), "not valid UTF-8")])
def test_names_no_file_system_or_report_can_hold_are_named(tmp_path, name, fragment):
    assert fragment in output_name_problem(tmp_path / name)
    assert output_name_problem(tmp_path / ("p" * NAME_MAX)) is None
