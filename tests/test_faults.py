"""Faults: SIGKILL at random moments, a kernel killed mid-notebook, writes that fail.

Tiny stand-in notebooks (as in ``test_runner.py``) keep each run to a few seconds.
After every fault, ``outputs/<team>/latest`` must be a complete successful run and the
next run must complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import psutil
import pytest
from support.cli import cli
from support.notebooks import use_stand_ins

from helpers import paths
from helpers.data.demo import DemoSpec, generate

pytestmark = pytest.mark.slow

TEAM = "analytics"
TRIALS = 12
SEED = 20261031


@pytest.fixture(scope="module")
def tiny_warehouse(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faults-warehouse") / "demo.duckdb"
    generate(DemoSpec(events=30_000, accounts=150, areas=2), out)
    return out


@pytest.fixture
def root(tmp_path, tiny_warehouse, monkeypatch) -> Path:
    """A workbook root with stand-in notebooks, the repo's params and a tiny warehouse."""
    root = tmp_path / "wb"
    shutil.copytree(paths.ROOT / "params", root / "params")
    (root / "data").mkdir()
    (root / "data" / "demo.duckdb").symlink_to(tiny_warehouse)
    (root / "outputs").mkdir()
    monkeypatch.setenv("WORKBOOK_ROOT", str(root))
    monkeypatch.delenv("WORKBOOK_OUTPUTS", raising=False)
    use_stand_ins(root / "notebooks", monkeypatch)
    yield root
    _stop_leftovers(root)


def _stop_leftovers(root: Path) -> None:
    """Kill, by pid, any process still running with this test's workbook root."""
    marker = f"WORKBOOK_ROOT={root}"
    # this process and its own children (e.g. multiprocessing's resource tracker) stay
    ours = {os.getpid(), *(c.pid for c in psutil.Process().children(recursive=True))}
    for p in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error, OSError):
            if p.pid not in ours and marker in "\n".join(
                f"{k}={v}" for k, v in p.environ().items()
            ):
                p.kill()


RUN = ["run", "--team", TEAM, "--notebook", "metric_trends", "--jobs", "1"]


def _cli(*args, env=None, timeout=180):
    return cli(*args, env=env, timeout=timeout)


def _latest(root: Path, team: str = TEAM) -> Path | None:
    link = root / "outputs" / team / "latest"
    return link.resolve() if link.exists() else None


def _assert_complete(run_dir: Path, team: str = TEAM) -> None:
    """A run a PM may read: manifest says succeeded, every notebook it lists is there."""
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["status"] == "succeeded", m
    assert m["notebooks"], m
    for entry in m["notebooks"]:
        assert entry["status"] in ("succeeded", "up to date"), entry
        nb = nbformat.read(run_dir / entry["output"], as_version=4)
        assert nb.cells
        assert (run_dir / entry["html"]).stat().st_size > 0
        answer = json.loads((run_dir / "answers" / f"{entry['notebook']}.json").read_text())
        assert answer["answer"] == [f"answer for {team}"]


def _assert_every_latest_complete(root: Path) -> None:
    for link in (root / "outputs").glob("*/latest"):
        _assert_complete(link.resolve(), link.parent.name)


def _trials(team: str, seed: int, n: int, full: float, root: Path) -> dict[str, int]:
    """``n`` runs of ``team``, each SIGKILLed at a seeded random moment; checks after each."""
    rng = random.Random(seed)
    args = [sys.executable, "-m", "helpers", "run", "--team", team, *RUN[3:], "--force"]
    outcomes = {"killed": 0, "finished first": 0}
    for trial in range(n):
        # odd trials aim at the end of a run, where the manifest is written and links switch
        low = 0.0 if trial % 2 == 0 else 0.6 * full
        delay = rng.uniform(low, full * 0.95)
        group = rng.random() < 0.5  # the whole process group (an OOM kill of the job)
        started = time.monotonic()
        proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=delay)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if group:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    os.kill(proc.pid, signal.SIGKILL)
            outcomes["killed"] += 1
        else:  # runs got faster than measured (the machine got quieter): aim within them
            outcomes["finished first"] += 1
            full = min(full, time.monotonic() - started)
        proc.wait()
        with contextlib.suppress(ProcessLookupError):  # workers orphaned by a runner-only kill
            os.killpg(proc.pid, signal.SIGKILL)
        latest = _latest(root, team)
        assert latest is not None, f"{team} trial {trial}: no latest after a kill at {delay:.2f}s"
        _assert_complete(latest, team)
        _assert_every_latest_complete(root)
    return outcomes


def test_sigkill_at_random_moments_never_breaks_latest_and_the_next_run_completes(root, capsys):
    teams = ["analytics", "collaboration"]  # two lanes at once: different teams never share a lock
    for team in teams:
        first = _cli(*RUN[:2], team, *RUN[3:])
        assert first.returncode == 0, first.stdout + first.stderr
    # the length of a warm run, measured with both lanes running at once as in the trials
    t0 = time.monotonic()
    with ThreadPoolExecutor(len(teams)) as pool:
        warm = list(pool.map(lambda t: _cli(*RUN[:2], t, *RUN[3:], "--force"), teams))
    assert all(w.returncode == 0 for w in warm)
    full = time.monotonic() - t0
    with ThreadPoolExecutor(len(teams)) as pool:
        lanes = [
            pool.submit(_trials, team, SEED + i, TRIALS // len(teams), full, root)
            for i, team in enumerate(teams)
        ]
        outcomes = [lane.result() for lane in lanes]
    killed = sum(o["killed"] for o in outcomes)
    for team in teams:  # after all the kills, the next run completes
        after = _cli(*RUN[:2], team, *RUN[3:], "--force")
        assert after.returncode == 0, after.stdout + after.stderr
        _assert_complete(_latest(root, team), team)
    with capsys.disabled():
        print(f"\n[faults] {TRIALS} SIGKILL trials (a run takes {full:.1f}s): {killed} killed")
    assert killed >= TRIALS // 2


def test_a_kernel_killed_mid_notebook_is_reported_and_latest_kept(root, tmp_path):
    assert _cli(*RUN).returncode == 0
    good = _latest(root)
    pidfile = tmp_path / "kernel.pid"
    proc = subprocess.Popen(
        [sys.executable, "-m", "helpers", *RUN, "--force"],
        env={**os.environ, "WB_SLEEP": "30", "WB_PIDFILE": str(pidfile)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(600):
        if pidfile.exists() and pidfile.read_text():
            break
        time.sleep(0.1)
    os.kill(int(pidfile.read_text()), signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in out + err
    attempt = (root / "outputs" / TEAM / "2026-10-31").resolve()
    m = json.loads((attempt / "manifest.json").read_text())
    assert m["status"] == "failed"
    assert m["notebooks"][0]["error"] == "the kernel died while running the notebook"
    assert _latest(root) == good


# --------------------------------------------------------------------------- failed writes


def _run_in_process(capsys) -> tuple[int, str]:
    from helpers.cli import main

    capsys.readouterr()
    code = main(RUN[:] + ["--force"])
    out, err = capsys.readouterr()
    return code, out + err


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"dir"
        for p in sorted(folder.rglob("*"))
    }


@contextlib.contextmanager
def _read_only(folder: Path):
    """Make ``folder`` read-only for root too.

    ``chmod`` does not stop root (CAP_DAC_OVERRIDE), so use a read-only bind mount
    (needs CAP_SYS_ADMIN) or, failing that, the immutable attribute ``chattr +i``
    (needs CAP_LINUX_IMMUTABLE and a file system that has it); skip if neither works.
    """
    mounted = subprocess.run(
        ["mount", "--bind", str(folder), str(folder)], capture_output=True, check=False
    )
    if mounted.returncode == 0:
        ro = subprocess.run(
            ["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True, check=False
        )
        if ro.returncode == 0:
            try:
                yield "read-only bind mount"
            finally:
                subprocess.run(["umount", "-l", str(folder)], check=False)
            return
        subprocess.run(["umount", "-l", str(folder)], check=False)
    dirs = [folder, *(p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink())]
    locked = subprocess.run(["chattr", "+i", *map(str, dirs)], capture_output=True, check=False)
    if locked.returncode != 0:
        subprocess.run(["chattr", "-i", *map(str, dirs)], capture_output=True, check=False)
        pytest.skip("cannot make a folder read-only for root here (no mount, no chattr +i)")
    try:
        yield "chattr +i"
    finally:
        subprocess.run(["chattr", "-i", *map(str, dirs)], check=False)


def test_a_read_only_outputs_folder_gives_a_clean_error_and_keeps_the_previous_run(root, capsys):
    assert _run_in_process(capsys)[0] == 0
    good = _latest(root)
    before = _tree(root / "outputs")
    with _read_only(root / "outputs") as how:
        code, text = _run_in_process(capsys)
    assert code == 1
    assert "Traceback" not in text
    reason = "Read-only file system" if how.startswith("read-only") else "Operation not permitted"
    lines = [ln for ln in text.splitlines() if reason in ln and str(root / "outputs") in ln]
    assert len(lines) == 1, text
    assert _latest(root) == good
    assert _tree(root / "outputs") == before


@pytest.fixture
def tiny_disk(tmp_path):
    """A 3 MiB tmpfs to fill up (needs CAP_SYS_ADMIN; skipped where mounts are refused)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(folder: Path) -> None:
    with open(folder / "filler", "wb", buffering=0) as f:
        for size in (65536, 512, 1):
            with contextlib.suppress(OSError):
                while f.write(b"\0" * size):
                    pass


def test_a_full_disk_gives_a_clean_error_and_keeps_the_previous_run(
    root, tiny_disk, capsys, monkeypatch
):
    monkeypatch.setenv("WORKBOOK_OUTPUTS", str(tiny_disk / "outputs"))
    (tiny_disk / "outputs").mkdir()
    assert _run_in_process(capsys)[0] == 0
    link = tiny_disk / "outputs" / TEAM / "latest"
    good = link.resolve()
    _fill(tiny_disk)
    code, text = _run_in_process(capsys)
    assert code == 1
    assert "Traceback" not in text
    assert "No space left on device" in text
    assert link.resolve() == good
    _assert_complete(good)
    (tiny_disk / "filler").unlink()
    assert _run_in_process(capsys)[0] == 0  # once there is room, the next run completes
