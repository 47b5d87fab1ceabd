"""The row map: every RELIABILITY.md matrix row (1-48) and the test(s) that prove it here.
Rows whose test is skipped on this machine say why in that test's skip reason."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent

ROWS: dict[int, str] = {
    1: "test_crash.py::test_row01_kill_before_blob_publish",
    2: "test_crash.py::test_row02_kill_before_prefix_rename_reuses_blobs",
    3: "test_crash.py::test_row03_kill_after_rename_before_root",
    4: "test_crash.py::test_row04_kill_mid_switch",
    5: "test_crash.py::test_row05_kill_mid_gc_sweep",
    6: "test_crash.py::test_row06_crash_fuzz",
    7: "test_crash.py::test_row07_write_order_fsync_before_publish",
    8: "test_crash.py::test_row08_lock_write_hits_file_size_limit",
    9: "test_concurrency.py::test_row09_same_env_concurrently",
    10: "test_concurrency.py::test_row10_different_envs_sharing_blobs",
    11: "test_concurrency.py::test_row11_gc_races_a_realize_before_rename",
    12: "test_concurrency.py::test_row12_gc_races_blob_about_to_be_linked",
    13: "test_concurrency.py::test_row13_gc_during_a_switch_keeps_both_generations",
    14: "test_concurrency.py::test_row14_two_gcs_at_once",
    15: "test_concurrency.py::test_row15_two_switches_at_once",
    16: "test_crash.py::test_row16_stale_lock_of_a_killed_holder",
    17: "test_crash.py::test_row17_live_versus_dead_staging",
    18: "test_resources.py::test_row18_disk_full_while_writing_blobs",
    19: "test_resources.py::test_row19_inodes_exhausted (and test_row19_write_limit_efbig)",
    20: "test_resources.py::test_row20_gc_on_a_full_disk",
    21: "test_resources.py::test_row21_exdev",
    22: "test_resources.py::test_row22_filesystem_without_hardlinks",
    23: "test_resources.py::test_row23_link_limit_emlink",
    24: "test_resources.py::test_row24_read_only_store (and test_row24_read_only_bind_mount)",
    25: "test_resources.py::test_row25_another_users_store",
    26: "test_integrity.py::test_row26_edit_through_a_hardlink",
    27: "test_integrity.py::test_row27_same_size_edit_and_chmod",
    28: "test_integrity.py::test_row28_editor_style_save",
    29: "test_integrity.py::test_row29_blob_missing_or_truncated",
    30: "test_integrity.py::test_row30_junk_and_symlinks_in_the_blob_dir",
    **{r: "test_inputs.py::test_rows31_38_hostile_wheels_through_realize" for r in (31, 32, 33, 34, 35, 37, 38)},
    36: "test_inputs.py::test_row36_two_packages_same_path",
    39: "test_inputs.py::test_row39_env_file_errors",
    **{r: "test_inputs.py::test_rows40_46_index_and_lock_errors" for r in (40, 41, 43, 44, 45, 46)},
    42: "test_inputs.py::test_rows_also_covered_elsewhere (tests/test_resolve_local.py yanked)",
    47: "../test_index_stalls.py::test_many_packages_with_find_links_lock_without_deadlock",
    48: "../test_index_stalls.py::test_wheel_download_stalled_mid_body_fails_naming_the_url"
        " (and test_silent_index_fails_within_pip_timeout_naming_the_url)",
    # conda packages (issue 15)
    49: "../test_conda_ingest.py::test_row49_path_and_symlink_escapes_are_refused",
    50: "../test_conda_ingest.py::test_row50_paths_json_mismatches_are_refused",
    51: "../test_conda_ingest.py::test_row51_bombs_are_refused_while_decompressing"
        " (and test_row51_member_count_and_total_size_limits)",
    52: "../test_conda_realize.py::test_row52_store_path_longer_than_the_binary_placeholder",
    53: "../test_conda_realize.py::test_row53_repodata_that_lies_is_refused_then_fixed",
    # the binary cache (issue 18)
    56: "../test_cache.py::test_a_record_signed_by_an_untrusted_key_is_refused"
        " (and test_unsigned_records_are_taken_only_when_allowed, the unsigned/tampered-record cases of"
        " test_a_damaged_cache_is_refused_with_one_line_and_nothing_published)",
    57: "../test_cache.py::test_a_damaged_cache_is_refused_with_one_line_and_nothing_published"
        " (and test_a_tampered_s3_object_is_refused)",
    58: "../test_cache.py::test_a_pull_killed_at_a_random_moment_resumes (and test_a_pull_killed_at_a_step_resumes)",
    59: "../test_cache.py::test_two_pushers_at_once_leave_a_consistent_cache"
        " (and test_two_pushers_at_once_into_s3, test_cache_gc_keeps_roots_and_young_objects)",
}
CONDA_ROWS = [49, 50, 51, 52, 53]  # 54 and 55 are source builds (issue 16), not built yet
CACHE_ROWS = [56, 57, 58, 59]


def test_every_row_has_a_test() -> None:
    assert sorted(ROWS) == list(range(1, 49)) + CONDA_ROWS + CACHE_ROWS
    for row, where in ROWS.items():
        file, _, name = where.partition("::")
        assert f"def {name.split()[0]}(" in (HERE / file).read_text(), (row, where)
