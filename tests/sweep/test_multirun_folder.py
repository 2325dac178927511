"""sweep/multirun_folder.py: a multirun removes only the folder this project created for it, and only
what Hydra wrote there, never through a symlink (the doors' side of it: test_cli_careless_use.py)."""

from imbalance_sweep.sweep import multirun_folder


def hydras_record(folder):
    """What Hydra writes into a multirun's folder: its record, job folders, a job's config files."""
    (folder / "multirun.yaml").write_text("hydra: {}\n")
    (folder / "0" / ".hydra").mkdir(parents=True)
    (folder / "0" / ".hydra" / "config.yaml").write_text("seed: 0\n")
    (folder / "1").mkdir()


def test_only_a_marked_folder_is_removed_and_only_what_hydra_wrote(tmp_path):
    own = tmp_path / "own"
    assert multirun_folder.claim(own)
    hydras_record(own)
    assert multirun_folder.remove_if_own(own) and not own.exists()

    users = tmp_path / "users"
    users.mkdir()
    assert not multirun_folder.claim(users)  # exists: not this project's
    hydras_record(users)
    assert not multirun_folder.remove_if_own(users)
    assert (users / "multirun.yaml").exists() and (users / "0" / ".hydra" / "config.yaml").exists()

    kept = tmp_path / "kept"
    assert multirun_folder.claim(kept)
    hydras_record(kept)
    (kept / "1" / "results.csv").write_text("a user's file\n")
    assert not multirun_folder.remove_if_own(kept)
    assert (kept / "1" / "results.csv").exists() and (kept / multirun_folder.MARKER).exists()
    assert not (kept / "multirun.yaml").exists()  # Hydra's record goes, the marker stays with the file
    (kept / "1" / "results.csv").unlink()
    assert multirun_folder.remove_if_own(kept) and not kept.exists()  # a later run can still tell


def test_a_symlink_is_never_followed(tmp_path):
    own = tmp_path / "own"
    assert multirun_folder.claim(own)
    hydras_record(own)
    link = tmp_path / "link"
    link.symlink_to(own, target_is_directory=True)
    assert not multirun_folder.remove_if_own(link)
    assert (own / "multirun.yaml").exists() and link.is_symlink()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config.yaml").write_text("a user's\n")
    (own / "2").symlink_to(elsewhere, target_is_directory=True)
    assert not multirun_folder.remove_if_own(own)
    assert (elsewhere / "config.yaml").exists() and (own / "2").is_symlink()
