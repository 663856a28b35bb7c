"""Hardening (issue #19): credentials in every URL form, private files and folders, safe
prune and history, CSV formula cells, locks that are never judged stale, small plain YAML.

The command line runs in-process through :func:`helpers.cli.main`, as in
``test_bad_params.py``; the tests marked slow run the real runner on stand-in notebooks.
Every expected value is written here by hand or planted by the test, never computed by
the code under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import os
import stat
import tempfile
from pathlib import Path
from urllib.parse import quote, quote_plus

import nbformat
import pandas as pd
import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from support.notebooks import use_stand_ins

from helpers import secrets
from helpers.cli import main
from helpers.data import connect, describe
from helpers.errors import WorkbookError
from helpers.params import load_team, notebook_parameters
from helpers.paths import RunFolder
from helpers.results import Recorder
from helpers.run import execute, kernels
from helpers.run.history import prune
from helpers.run.lock import TeamLock

TEAM = "analytics"
TEAM_FILE = f"params/{TEAM}.yaml"
AS_OF = dt.date(2026, 10, 31)

# the three forms of the issue; each password is what must never be printed or written
FORMS = {
    "query string": ("postgresql://bob@db/w?password=Hunter2", ["Hunter2"]),
    "slash in password": ("postgres://bob:Hun/ter2@db/w", ["Hun/ter2", "ter2"]),
    "keyword string": ("host=db user=bob password=Hunter2 dbname=w", ["Hunter2"]),
}


def _files(folder: Path):
    return [p for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()]


def _team_yaml(root: Path, **keys) -> None:
    base = {"title": "Analytics", "product_area": TEAM}
    base["feature_demand"] = {"features": ["ai_insights", "custom_metrics"]}
    (root / TEAM_FILE).write_text(yaml.safe_dump(base | keys, sort_keys=False))


# ----------------------------------------------------------------- credentials, every form


@pytest.mark.parametrize("placement", ["pasted into source", "in WAREHOUSE_URL"])
@pytest.mark.parametrize("form", list(FORMS))
def test_a_password_in_any_form_is_printed_logged_and_written_nowhere(
    workbook_root, monkeypatch, capsys, caplog, form, placement
):
    url, passwords = FORMS[form]
    caplog.set_level(logging.DEBUG)
    if placement == "pasted into source":
        _team_yaml(workbook_root, source=url)
    else:
        _team_yaml(workbook_root, source="env:WAREHOUSE_URL")
        monkeypatch.setenv("WAREHOUSE_URL", url)  # db is no host here: the connection fails
    codes = {
        "run": main(["run", "--team", TEAM]),
        "check-data --team": main(["check-data", "--team", TEAM]),
        "check-data --source": main(
            [
                "check-data",
                "--source",
                url if placement == "pasted into source" else "env:WAREHOUSE_URL",
            ]
        ),
        "teams": main(["teams"]),
        "history": main(["history"]),
    }
    out, err = capsys.readouterr()
    printed = out + err + caplog.text
    for password in passwords:
        assert password not in printed, (form, placement, printed)
    for path in _files(workbook_root / "outputs"):
        data = path.read_bytes()
        assert not any(p.encode() in data for p in passwords), path
    assert codes["run"] == 3 and codes["check-data --team"] == 1  # 3: refused before a kernel
    assert codes["check-data --source"] == 1
    if placement == "pasted into source":
        assert codes["teams"] == 1  # the team's params are invalid
        # one line names the file and the key, and shows nothing of the value
        assert sum(f"{TEAM_FILE}: key `source`" in ln for ln in printed.splitlines()) >= 1
        assert "env:VARIABLE" in printed
    else:
        assert "$WAREHOUSE_URL" in printed and "cannot connect" in printed


def test_describe_never_shows_a_connection_string():
    for url, passwords in FORMS.values():
        shown = describe(url)
        assert not any(p in shown for p in passwords), shown
    assert describe("env:WAREHOUSE_URL") == "the warehouse in $WAREHOUSE_URL"
    assert describe("env:host=db password=Hunter2") == "an invalid env: source"
    assert describe("data/demo.duckdb") == "data/demo.duckdb"


@pytest.mark.parametrize(
    "text, password, kept",
    [
        # user information, with '/', '@', spaces and ':' in the password
        ("connect postgres://bob:Hun/ter2@db/w failed", "Hun/ter2", ["connect ", "@db/w failed"]),
        ("connect postgres://bob:p@ss:w0rd@db/w failed", "p@ss:w0rd", ["@db/w failed"]),
        ("connect postgres://bob:Hun ter2@db/w failed", "Hun ter2", ["@db/w failed"]),
        # query string and libpq keyword strings, quoted or not
        ("postgresql://bob@db/w?password=Hunter2", "Hunter2", ["postgresql://bob@db/w?password="]),
        ("host=db user=bob password=Hunter2 dbname=w", "Hunter2", ["host=db user=bob", "dbname=w"]),
        ("host=db password='Hun ter2' dbname=w", "Hun ter2", ["host=db", "dbname=w"]),
        ("PASSWORD = Hunter2", "Hunter2", []),
        # a dict's repr and JSON
        ("{'password': 'Hunter2', 'user': 'bob'}", "Hunter2", ["'user': 'bob'"]),
        ('{"password": "Hunter2"}', "Hunter2", ['{"password": ']),
    ],
)
def test_scrub_hides_the_password_of_every_form_and_keeps_the_rest(text, password, kept):
    shown = secrets.scrub(text)
    assert password not in shown
    for part in kept:
        assert part in shown, (part, shown)


def test_a_known_connection_strings_password_is_hidden_wherever_it_appears(monkeypatch):
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    url = "postgres://bob:Hun%2Fter2@db/w"  # percent-encoded '/' in the password
    message = "auth failed for 'Hun/ter2' (as written: Hun%2Fter2)"
    assert secrets.scrub(message) == message  # not a URL form: only a known secret helps
    shown = secrets.scrub(message, url)
    assert "Hun/ter2" not in shown and "Hun%2Fter2" not in shown
    monkeypatch.setenv("WAREHOUSE_URL", url)  # the environment is known without being named
    assert "Hun/ter2" not in secrets.scrub(message)


def test_a_connection_error_shows_no_piece_of_the_password(monkeypatch):
    # ibis reads 'Hun' as the port of postgres://bob:Hun/ter2@db/w and says so
    monkeypatch.setenv("WB_HARDEN_URL", "postgres://bob:Hun/ter2@db/w")
    with pytest.raises(WorkbookError) as err:
        connect("env:WB_HARDEN_URL")
    assert "Hun" not in str(err.value) and "ter2" not in str(err.value)
    assert "$WB_HARDEN_URL" in str(err.value)


_PASSWORD = st.text(
    alphabet=st.characters(
        codec="ascii", min_codepoint=33, max_codepoint=126, exclude_characters="'\"\\<>"
    ),
    min_size=6,
    max_size=24,
).map(lambda s: s + " /@")  # always a space, a slash and an at sign


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(password=_PASSWORD, form=st.sampled_from(["userinfo", "encoded", "query", "keyword"]))
def test_generated_passwords_are_hidden_in_every_url_form(password, form):
    if form == "userinfo":
        url = f"postgres://bob:{password}@db/w"
    elif form == "encoded":
        url = f"postgres://bob:{quote(password, safe='')}@db/w"
    elif form == "query":
        url = f"postgresql://bob@db/w?password={quote_plus(password)}&sslmode=require"
    else:
        url = "host=db user=bob password='" + password.replace("'", "\\'") + "' dbname=w"
    text = f"cannot connect to {url} (timeout)"
    skeleton = text.replace(password, "").replace(quote(password, safe=""), "")
    assume(password.strip() not in skeleton)
    for shown in (secrets.scrub(text), secrets.scrub(f"bad password {password!r}", url)):
        assert password not in shown and quote(password, safe="") not in shown, shown
        assert quote_plus(password) not in shown, shown
    assert secrets.scrub(text).startswith("cannot connect to ")
    assert secrets.scrub(text).endswith(" (timeout)")


# ----------------------------------------------------------------- private temp folders


@pytest.fixture
def own_tmp(tmp_path, monkeypatch):
    """A fresh system temp folder for this test (as TMPDIR would give), cache cleared."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setattr(secrets, "_private", {})
    return folder


def _plant_links(tmp: Path, name: str, target: Path) -> None:
    """What another local user could do first: the shared name and the per-user name as links."""
    for planted in (tmp / name, tmp / f"{name}-{os.geteuid()}"):
        planted.symlink_to(target, target_is_directory=True)


def _assert_private(path: Path, attacker: Path) -> None:
    st_ = os.lstat(path)
    assert stat.S_ISDIR(st_.st_mode), path
    assert st_.st_uid == os.geteuid()
    assert stat.S_IMODE(st_.st_mode) & 0o077 == 0, oct(st_.st_mode)
    assert attacker.resolve() not in (path.resolve(), *path.resolve().parents)


def _spill_dir(demo_path) -> Path:
    with connect(demo_path) as wh:
        rows = wh.con.raw_sql("SELECT current_setting('temp_directory')").fetchall()
    return Path(rows[0][0])


def test_a_planted_link_is_never_the_engines_spill_folder(own_tmp, tmp_path, demo_path):
    attacker = tmp_path / "attacker"
    attacker.mkdir(mode=0o777)
    _plant_links(own_tmp, "workbook-duckdb", attacker)
    _assert_private(_spill_dir(demo_path), attacker)


def test_a_wide_spill_folder_of_ours_is_narrowed_to_0700(own_tmp, tmp_path, demo_path):
    ours = own_tmp / f"workbook-duckdb-{os.geteuid()}"
    ours.mkdir()
    ours.chmod(0o777)
    assert _spill_dir(demo_path) == ours
    assert stat.S_IMODE(os.lstat(ours).st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="planting a folder of another user needs root")
def test_a_spill_folder_of_another_user_is_not_used(own_tmp, tmp_path, demo_path):
    theirs = own_tmp / f"workbook-duckdb-{os.geteuid()}"
    theirs.mkdir(mode=0o777)
    os.chown(theirs, 65534, 65534)
    spill = _spill_dir(demo_path)
    assert spill != theirs
    _assert_private(spill, theirs)


def test_a_planted_link_is_never_the_kernels_socket_folder(own_tmp, tmp_path):
    attacker = tmp_path / "attacker"
    attacker.mkdir(mode=0o777)
    _plant_links(own_tmp, "workbook-kernels", attacker)
    _assert_private(kernels._socket_dir(), attacker)


# ----------------------------------------------------------------- locks


def _lock_file(root: Path) -> Path:
    return root / "outputs" / TEAM / f".lock-{AS_OF.isoformat()}"


def test_a_held_lock_whose_file_says_nothing_yet_is_not_taken_over(workbook_root):
    first = TeamLock(TEAM, AS_OF)
    first.acquire()
    try:
        path = _lock_file(workbook_root)
        inode = path.stat().st_ino
        path.write_text("")  # as a fresh lock looks before its holder writes its pid
        second = TeamLock(TEAM, AS_OF)
        with pytest.raises(WorkbookError, match="already being run"):
            second.acquire()
        assert path.stat().st_ino == inode  # the holder's lock was not deleted
    finally:
        first.release()
    assert not _lock_file(workbook_root).exists()
    third = TeamLock(TEAM, AS_OF)
    third.acquire()  # released: the next run takes it
    third.release()


def test_a_leftover_lock_file_naming_a_live_pid_does_not_block_a_run(workbook_root):
    path = _lock_file(workbook_root)
    path.parent.mkdir(parents=True)
    # a killed run's file; pid 1 is alive (as a reused pid would be), but holds no lock
    path.write_text(json.dumps({"pid": 1, "started": "2026-10-31T06:00:00+00:00"}))
    lock = TeamLock(TEAM, AS_OF)
    lock.acquire()
    assert json.loads(path.read_text())["pid"] == os.getpid()
    lock.release()


# ----------------------------------------------------------------- prune and history


def _fake_run(runs: Path, run_id: str) -> Path:
    run = runs / run_id
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"status": "succeeded", "notebooks": []}))
    return run


RUN_IDS = ["2026-10-01T000000-aaaa", "2026-10-02T000000-bbbb", "2026-10-03T000000-cccc"]


@pytest.mark.parametrize(
    "team", ["../x", "../../x", "x/../../x", "/tmp/x", "..", ".", "Analytics", "a" * 65, ""]
)
def test_prune_refuses_a_team_that_is_not_a_team_name_and_deletes_nothing(
    workbook_root, capsys, team
):
    outside = [_fake_run(workbook_root / "x" / "runs", r) for r in RUN_IDS]
    inside = [_fake_run(workbook_root / "outputs" / TEAM / "runs", r) for r in RUN_IDS]
    assert main(["prune", "--keep", "1", "--team", team]) == 1
    out, err = capsys.readouterr()
    assert err.startswith("error: --team must be a team name") and err.count("\n") == 1
    assert "Traceback" not in out + err
    assert all(p.is_dir() for p in outside + inside)


@pytest.mark.parametrize("team", ["../x", "Analytics"])
def test_history_refuses_a_team_that_is_not_a_team_name(workbook_root, capsys, team):
    _fake_run(workbook_root / "x" / "runs", RUN_IDS[0])
    assert main(["history", "--team", team]) == 1
    out, err = capsys.readouterr()
    assert err.startswith("error: --team must be a team name") and RUN_IDS[0] not in out


def test_prune_of_a_team_folder_that_is_a_link_out_of_outputs_deletes_nothing(
    workbook_root, capsys
):
    elsewhere = workbook_root / "elsewhere"
    kept = [_fake_run(elsewhere / "runs", r) for r in RUN_IDS]
    (workbook_root / "outputs" / "linked").symlink_to(elsewhere, target_is_directory=True)
    assert main(["prune", "--keep", "1", "--team", "linked"]) == 1
    assert "outputs/linked is not a folder" in capsys.readouterr().err
    assert main(["prune", "--keep", "1"]) == 0  # every team: the link is passed over
    assert main(["history", "--team", "linked"]) == 1
    assert all(p.is_dir() for p in kept)


def test_prune_removes_only_folders_named_like_a_run_id(workbook_root, tmp_path):
    runs = workbook_root / "outputs" / TEAM / "runs"
    made = [_fake_run(runs, r) for r in RUN_IDS]
    notes = runs / "notes"
    notes.mkdir()
    outside = _fake_run(tmp_path / "outside", "2026-09-01T000000-dddd")
    (runs / "2026-09-01T000000-dddd").symlink_to(outside, target_is_directory=True)
    removed = prune(1, TEAM)
    assert sorted(p.name for p in removed) == RUN_IDS[:2]
    assert made[2].is_dir() and notes.is_dir() and outside.is_dir()
    assert (runs / "2026-09-01T000000-dddd").is_symlink()


def test_prune_leaves_a_team_that_is_being_run(workbook_root, capsys):
    made = [_fake_run(workbook_root / "outputs" / TEAM / "runs", r) for r in RUN_IDS]
    lock = TeamLock(TEAM, AS_OF)
    lock.acquire()
    try:
        assert main(["prune", "--keep", "1", "--team", TEAM]) == 1
        assert "being run" in capsys.readouterr().err
        assert all(p.is_dir() for p in made)
    finally:
        lock.release()
    assert main(["prune", "--keep", "1", "--team", TEAM]) == 0
    assert [p.is_dir() for p in made] == [False, False, True]


# ----------------------------------------------------------------- files and exports


def test_csv_cells_a_spreadsheet_would_run_get_a_leading_quote(tmp_path):
    names = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "Acme"]
    frame = pd.DataFrame({"name": names, "arr": [-5.0, 1, 2, 3, 4, 5], "=col": ["a"] * 6})
    rec = Recorder(tmp_path / "run", "customer_segmentation")
    path = rec.table("accounts", frame, csv=True)
    with path.with_suffix(".csv").open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["name", "arr", "'=col"]
    assert [r[0] for r in rows[1:]] == [
        '\'=HYPERLINK("http://x","y")',
        "'+1+1",
        "'-2+3",
        "'@SUM(A1)",
        "'\t=1",
        "Acme",
    ]
    assert rows[1][1] == "-5.0"  # a number stays a number
    assert pd.read_parquet(path)["name"].tolist() == names  # Parquet keeps the values
    cr = rec.table("cr", pd.DataFrame({"name": ["\r=1+1"]}), csv=True)
    assert cr.with_suffix(".csv").read_bytes() == b"name\n'\r=1+1\n"


def test_reuse_never_turns_a_link_in_an_old_run_into_a_file(tmp_path):
    secret_dir = tmp_path / "secret"
    secret_dir.mkdir()
    (secret_dir / "secret.parquet").write_bytes(b"SECRET-TABLE")
    (secret_dir / "metric_trends.json").write_bytes(b"SECRET-ANSWER")
    old = RunFolder(tmp_path / "runs" / "2026-10-30T000000-aaaa")
    (old.path / "tables" / "metric_trends").mkdir(parents=True)
    old.notebook("metric_trends").write_text("{}")
    (old.path / "tables" / "metric_trends" / "rows.parquet").write_bytes(b"PAR1")
    (old.path / "tables" / "metric_trends" / "secret.parquet").symlink_to(
        secret_dir / "secret.parquet"
    )
    (old.path / "answers").symlink_to(secret_dir, target_is_directory=True)
    os.chmod(old.path / "tables" / "metric_trends" / "rows.parquet", 0o644)
    new = RunFolder(tmp_path / "runs" / "2026-10-31T000000-bbbb")
    new.path.mkdir()
    previous = os.umask(0o027)
    try:
        execute._reuse(old, new, "metric_trends")
    finally:
        os.umask(previous)
    files = {str(p.relative_to(new.path)) for p in new.path.rglob("*")}
    assert "tables/metric_trends/rows.parquet" in files
    assert "tables/metric_trends/secret.parquet" not in files
    assert not (new.path / "answers").exists()
    for p in new.path.rglob("*"):
        assert not p.is_file() or b"SECRET" not in p.read_bytes(), p
    mode = stat.S_IMODE((new.path / "tables" / "metric_trends" / "rows.parquet").stat().st_mode)
    assert mode & 0o007 == 0


def test_workbook_umask_widens_the_default_or_is_refused_in_one_line(
    workbook_root, monkeypatch, capsys
):
    monkeypatch.delenv("WORKBOOK_UMASK", raising=False)
    assert execute.run_umask() == 0o027
    monkeypatch.setenv("WORKBOOK_UMASK", "022")
    assert execute.run_umask() == 0o022
    monkeypatch.setenv("WORKBOOK_UMASK", "world")
    assert main(["run", "--team", TEAM]) == 3  # a setting refused before any kernel
    err = capsys.readouterr().err
    assert err.startswith("error: WORKBOOK_UMASK must be an octal mask") and err.count("\n") == 1


# ----------------------------------------------------------------- params files


def test_an_alias_bomb_of_a_few_hundred_bytes_is_refused_naming_the_file(workbook_root, capsys):
    lines = [
        "title: Analytics",
        "customer_segmentation:",
        "  rfm_rules:",
        '    - &a ["x","x","x","x","x","x","x","x","x"]',
    ]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"    - &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    bomb = "\n".join(lines) + "\n"
    assert len(bomb.encode()) < 600  # 9**9 strings once expanded
    (workbook_root / TEAM_FILE).write_text(bomb)
    assert main(["run", "--team", TEAM]) == 3
    out, err = capsys.readouterr()
    line = next(ln for ln in (out + err).splitlines() if TEAM_FILE in ln)
    assert "line 4" in line and "anchors" in line


def test_a_plain_alias_is_refused_too(workbook_root):
    (workbook_root / TEAM_FILE).write_text("title: &t Analytics\nproduct_area: *t\n")
    with pytest.raises(WorkbookError, match=rf"^{TEAM_FILE}: line 1: YAML anchors"):
        load_team(TEAM)


def test_a_params_file_over_64_kb_is_refused_naming_the_file(workbook_root):
    (workbook_root / TEAM_FILE).write_text("title: Analytics\n" + "# padding\n" * 7000)
    with pytest.raises(WorkbookError, match=rf"^{TEAM_FILE}: is larger than 64 KB"):
        load_team(TEAM)


def test_values_nested_deeper_than_16_levels_are_refused(workbook_root):
    (workbook_root / TEAM_FILE).write_text("title: " + "[" * 500 + "]" * 500 + "\n")
    with pytest.raises(WorkbookError, match=rf"^{TEAM_FILE}: line 1: values nest deeper"):
        load_team(TEAM)


RULES = [
    {"segment": "Best", "r_min": 4, "r_max": 5, "fm_min": 4, "fm_max": 5, "at_risk": False},
    {"segment": "Rest", "r_min": 1, "r_max": 5, "fm_min": 1, "fm_max": 5},
]


def test_rfm_rules_reach_the_notebook_as_complete_plain_rules(workbook_root):
    _team_yaml(workbook_root, customer_segmentation={"rfm_rules": RULES})
    params = notebook_parameters(load_team(TEAM), "customer_segmentation", as_of=AS_OF, run_dir="")
    assert params["rfm_rules"] == [
        {"segment": "Best", "r_min": 4, "r_max": 5, "fm_min": 4, "fm_max": 5,
         "at_risk": False, "meaning": ""},
        {"segment": "Rest", "r_min": 1, "r_max": 5, "fm_min": 1, "fm_max": 5,
         "at_risk": False, "meaning": ""},
    ]  # fmt: skip
    from helpers.customer_segmentation import rfm_rules_table

    assert rfm_rules_table(params["rfm_rules"])["segment"].tolist() == ["Best", "Rest"]


@pytest.mark.parametrize(
    "rules, key, words",
    [
        ([RULES[0] | {"r_min": 5, "r_max": 2}], "customer_segmentation.rfm_rules", "above"),
        ([RULES[0] | {"fm_max": 6}], "customer_segmentation.rfm_rules.fm_max", "at most 5"),
        ([RULES[0] | {"r_min": True}], "customer_segmentation.rfm_rules.r_min", "whole number"),
        ([RULES[0] | {"colour": "red"}], "customer_segmentation.rfm_rules.colour", "unknown key"),
        (
            [{"r_min": 1, "r_max": 5, "fm_min": 1, "fm_max": 5}],
            "customer_segmentation.rfm_rules.segment",
            "",
        ),
        (["Champions"], "customer_segmentation.rfm_rules", "mapping"),
        ([], "customer_segmentation.rfm_rules", "at least 1"),
        ([dict(RULES[1]) for _ in range(51)], "customer_segmentation.rfm_rules", ""),
    ],
)
def test_a_bad_rfm_rule_names_its_key_in_the_team_file(workbook_root, rules, key, words):
    _team_yaml(workbook_root, customer_segmentation={"rfm_rules": rules})
    with pytest.raises(WorkbookError) as err:
        load_team(TEAM)
    msg = str(err.value)
    assert msg.startswith(f"{TEAM_FILE}: ") and f"`{key}`" in msg and words in msg, msg
    assert "\n" not in msg


# ----------------------------------------------------------------- the real runner (slow)

_LEAKY_CELL = """
import os
print("connecting to", os.environ["WB_HARDEN_DSN"])
raise ValueError("cannot reach " + os.environ["WB_HARDEN_URL"])
"""


@pytest.mark.slow
def test_a_notebook_error_quoting_a_url_is_scrubbed_from_log_manifest_notebook_and_html(
    workbook_root, tmp_path, monkeypatch, capsys
):
    folder = use_stand_ins(tmp_path / "notebooks", monkeypatch)
    nb_path = folder / "metric_trends.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_code_cell(_LEAKY_CELL))
    nbformat.write(nb, nb_path)
    monkeypatch.setenv("WB_HARDEN_URL", "postgres://bob:Hun/ter2@db/w")
    monkeypatch.setenv("WB_HARDEN_DSN", "host=db user=bob password=Hunter2 dbname=w")
    assert main(["run", "--team", TEAM, "--notebook", "metric_trends"]) == 1
    out, err = capsys.readouterr()
    assert "ValueError: cannot reach" in out
    for text in (out + err,):
        assert "Hun/ter2" not in text and "Hunter2" not in text
    run_dir = (workbook_root / "outputs" / TEAM / AS_OF.isoformat()).resolve()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "[redacted]" in manifest["notebooks"][0]["error"]
    written = {p.suffix for p in _files(run_dir)}
    assert {".ipynb", ".html", ".json"} <= written
    for path in _files(workbook_root / "outputs"):
        data = path.read_bytes()
        assert b"Hun/ter2" not in data and b"Hunter2" not in data, path


@pytest.mark.slow
def test_every_file_and_folder_a_run_writes_is_closed_to_others(
    workbook_root, tmp_path, monkeypatch
):
    use_stand_ins(tmp_path / "notebooks", monkeypatch)
    monkeypatch.delenv("WORKBOOK_UMASK", raising=False)
    previous = os.umask(0o022)  # the usual login umask: 0644 files, 0755 folders
    try:
        (result,) = execute.run([TEAM], notebooks=["metric_trends"], jobs=1)
    finally:
        os.umask(previous)
    assert result.status == "succeeded", result.error
    team = workbook_root / "outputs" / TEAM
    checked = 0
    for path in [team, *team.rglob("*")]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        assert mode & 0o007 == 0, (path, oct(mode))
        checked += 1
    assert checked >= 8  # team, runs, run, notebook, HTML, table, answer, manifest...


def test_a_secret_variable_of_the_environment_is_hidden_wherever_it_appears(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "Hunter2-pg")
    shown = secrets.scrub("FATAL: password Hunter2-pg rejected for bob")
    assert shown == "FATAL: password [redacted] rejected for bob"


def test_a_variable_merely_named_like_a_token_hides_nothing(monkeypatch):
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.setenv("WB_TOKEN", "12")
    assert secrets.scrub("fit: converged=false after 12 steps") == (
        "fit: converged=false after 12 steps"
    )
