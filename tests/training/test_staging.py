"""training/staging.py: a live registration's copy is never swept; an abandoned one is."""

from training.staging import remove_abandoned, staged_copy


def test_live_copy_is_kept_and_removed_on_exit(iris_model_dir, tmp_path):
    tmp_root = tmp_path / "tmp"
    with staged_copy(iris_model_dir, tmp_root) as staging:
        remove_abandoned(tmp_root)  # another registration starting now must leave this copy alone
        assert sorted(p.name for p in staging.iterdir()) == ["model.joblib", "model.json"]
        assert (tmp_root / f"{staging.name}.lock").exists()
    assert list(tmp_root.iterdir()) == []


def test_copy_without_a_held_lock_is_removed(tmp_path):
    tmp_root = tmp_path / "tmp"
    (tmp_root / "reg-dead").mkdir(parents=True)
    (tmp_root / "reg-dead" / "model.joblib").write_bytes(b"partial")
    (tmp_root / "reg-dead.lock").touch()
    (tmp_root / "unrelated").mkdir()
    remove_abandoned(tmp_root)
    assert [p.name for p in tmp_root.iterdir()] == ["unrelated"]
