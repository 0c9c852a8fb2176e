"""The raw polls the catalogue harvests: every saved response, in the order of their paths
(the order the harvest applies them in), and only those the catalogue state has not seen."""

from __future__ import annotations

from pathlib import Path

from pipeline.enrich import candidates, runs
from pipeline.paths import lake


def _save(root: Path, account: str, day: str, name: str) -> Path:
    path = root / f"account={account}" / f"date={day}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}", encoding="utf-8")
    return path


def test_raw_polls_are_listed_in_path_order_across_accounts_and_days(data_dir: Path) -> None:
    root = lake().raw_recently_played_root
    saved = [
        _save(root, "me", "2026-03-02", "20260302T000000000Z-me.json"),
        _save(root, "me", "2026-03-01", "20260301T233000000Z-me.json"),
        _save(root, "me", "2026-03-01", "20260301T000000000Z-me.json"),
        # "me-2/" sorts before "me/" as a string, after it as a path.
        _save(root, "me-2", "2026-03-01", "20260301T000000000Z-me-2.json"),
    ]
    (root / "account=me" / "date=2026-03-01" / "notes.txt").write_text("x", encoding="utf-8")
    (root / "account=me" / "stray.json").write_text("{}", encoding="utf-8")

    assert candidates.raw_poll_files(lake()) == sorted(saved)
    assert candidates.raw_poll_names(lake()) == [str(p) for p in sorted(saved)]


def test_no_raw_polls_folder_lists_nothing(data_dir: Path) -> None:
    assert candidates.raw_poll_files(lake()) == []
    assert runs.unharvested_poll_files(lake()) == []
