"""Seeded, realistic B2B SaaS demo warehouse with a documented, planted ground truth.

The generator is vectorised with NumPy and writes events to DuckDB in chunks of
accounts, so memory stays flat whatever the number of events. What it plants
(personas, demand differences, a level shift) is written to a separate
``<name>.truth.json`` that tests read; analysts never see it in the tables.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from ..errors import WorkbookError
from . import demo_feedback as fb

__all__ = ["AREAS", "PERSONAS", "DemoSpec", "create_tables", "generate", "truth_path"]

#: Product areas in the order they are used; ``--areas N`` takes the first N.
AREAS = [
    "analytics",
    "collaboration",
    "integrations",
    "admin",
    "billing",
    "mobile",
    "search",
    "reporting",
    "automation",
    "security",
    "api",
    "onboarding",
]

# Per area: five core features (released before the window), one released inside
# the window (adoption curve), one in beta, then the two planted demand pairs:
# (A, B) with a real difference that reverses for starter accounts, (C, D) equal.
_FEATURES = {
    "analytics": [
        "dashboards",
        "reports",
        "funnels",
        "cohorts",
        "data_export",
        "alerts",
        "ai_insights",
        "custom_metrics",
        "dark_mode",
        "pdf_reports",
    ],
    "collaboration": [
        "comments",
        "mentions",
        "shared_views",
        "notifications",
        "file_upload",
        "threads",
        "whiteboard",
        "guest_access",
        "reactions",
        "read_receipts",
    ],
    "integrations": [
        "slack",
        "webhooks",
        "salesforce",
        "zapier",
        "api_sync",
        "jira",
        "hubspot",
        "snowflake_sync",
        "teams",
        "github",
    ],
    "admin": [
        "user_management",
        "roles",
        "audit_log",
        "billing_portal",
        "usage_reports",
        "scim",
        "data_residency",
        "sso",
        "custom_domains",
        "ip_allowlist",
    ],
}
_GENERIC = [
    "home",
    "search",
    "lists",
    "settings",
    "export",
    "templates",
    "assistant",
    "bulk_edit",
    "offline_mode",
    "keyboard_shortcuts",
]
_STATUS = ["released"] * 6 + ["beta", "planned", "idea", "idea"]
_VALUE_FEATURE = 4  # events of this core feature carry a quantity in `value`


@dataclass(frozen=True)
class Persona:
    """A planted behavioural persona: how an account of it uses every area."""

    name: str
    share: float
    p_active: float  # daily chance of activity in an area on a weekday
    intensity: float  # mean events on an active day (before scaling to --events)
    breadth: float  # share of an area's core features the account uses
    users_share: float  # share of seats that are active users
    seat_factor: float
    nps_mean: float
    churn: float  # chance of churning within the window
    fading: bool = False  # activity decays over the window (slipping accounts)


PERSONAS = [
    Persona("power", 0.20, 0.85, 14.0, 1.0, 0.8, 2.0, 9.0, 0.02),
    Persona("steady", 0.30, 0.40, 4.0, 0.6, 0.5, 1.2, 7.5, 0.06),
    Persona("casual", 0.30, 0.10, 1.6, 0.2, 0.25, 0.8, 6.0, 0.15),
    Persona("fading", 0.20, 0.55, 9.0, 0.6, 0.4, 1.4, 3.5, 0.45, fading=True),
]

_PLANS = ["starter", "pro", "enterprise"]
_PLAN_MIX = [0.5, 0.35, 0.15]
_SEAT_PRICE = {"starter": 240.0, "pro": 540.0, "enterprise": 960.0}
_REGIONS = ["North America", "EMEA", "APAC", "LATAM"]
_REGION_MIX = [0.45, 0.3, 0.17, 0.08]
_INDUSTRIES = ["software", "finance", "healthcare", "retail", "education", "manufacturing"]
_SOURCES = ["support", "sales", "interview", "survey", "community", "other"]
_SOURCE_MIX = [0.3, 0.25, 0.1, 0.15, 0.15, 0.05]

# Demand over the window, per plan (starter, pro, enterprise): A beats B overall,
# B beats A for starter accounts; C and D are equal everywhere.
_DEMAND = {
    "A": (0.06, 0.22, 0.40),
    "B": (0.12, 0.08, 0.05),
    "C": (0.10, 0.10, 0.10),
    "D": (0.10, 0.10, 0.10),
}
_BACKGROUND_DEMAND = 0.01

SHIFT_DATE = dt.date(2026, 3, 2)
SHIFT_FACTOR = 1.35
TREND_GAIN = 0.25  # activity rises 25 % from the first to the last day (before churn)
_HOLIDAYS = [(1, 1), (5, 1), (12, 24), (12, 25), (12, 26), (12, 31)]
_US = 1_000_000


@dataclass(frozen=True)
class DemoSpec:
    """Sizes and dates of a demo warehouse."""

    accounts: int | None = None  # None: scale with events (at least 1,500)
    events: int = 5_000_000
    areas: int = 4
    seed: int = 7
    end: dt.date = dt.date(2026, 10, 31)
    days: int = 548  # about 18 months

    def n_accounts(self) -> int:
        if self.accounts is not None:
            return self.accounts
        return int(np.clip(self.events // 3300, 1500, 200_000))


def truth_path(warehouse: Path) -> Path:
    """Where the planted truth of ``warehouse`` is written: ``<stem>.truth.json`` beside it."""
    return warehouse.with_name(warehouse.stem + ".truth.json")


def _area_features(area: str) -> list[str]:
    stems = _FEATURES.get(area, _GENERIC)
    return [s if area in _FEATURES else f"{area}_{s}" for s in stems]


def _validate(spec: DemoSpec) -> None:
    if not 1 <= spec.areas <= len(AREAS):
        raise WorkbookError(f"--areas must be between 1 and {len(AREAS)}, not {spec.areas}")
    if spec.events < 1000:
        raise WorkbookError(f"--events must be at least 1000, not {spec.events}")
    if spec.n_accounts() < 20:
        raise WorkbookError(f"--accounts must be at least 20, not {spec.n_accounts()}")
    if spec.days < 120:
        raise WorkbookError(f"the demo needs at least 120 days of history, not {spec.days}")


def generate(spec: DemoSpec, out: Path, progress=None) -> dict:
    """Write the demo warehouse to ``out`` (atomically) and its truth beside it.

    Parameters
    ----------
    spec
        Sizes, seed and dates.
    out
        The DuckDB file to create; an existing file is replaced only when the new
        one is complete.
    progress
        Optional callable ``progress(done_events, total_events)``.

    Returns
    -------
    dict
        A summary: row counts per table and the truth file's path.
    """
    _validate(spec)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        truth, counts = _build(spec, tmp, progress)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
    tpath = truth_path(out)
    tpath.write_text(json.dumps(truth, indent=1, default=str))
    return {"warehouse": str(out), "truth": str(tpath), "rows": counts}


def _build(spec: DemoSpec, path: Path, progress) -> tuple[dict, dict]:
    rng = np.random.default_rng(spec.seed)
    n = spec.n_accounts()
    areas = AREAS[: spec.areas]
    start = spec.end - dt.timedelta(days=spec.days - 1)
    days = np.arange(np.datetime64(start), np.datetime64(spec.end) + 1)
    T = len(days)

    acc = _accounts(rng, n, start, spec.end)
    catalogue = _catalogue(rng, areas, start, spec.end)

    con = duckdb.connect(str(path))
    con.execute("SET enable_progress_bar = false")
    try:
        create_tables(con)
        con.register("acc_df", pa.table(acc["table"]))
        con.execute("INSERT INTO accounts SELECT * FROM acc_df")
        con.unregister("acc_df")
        con.register("feat_df", pa.table(catalogue["table"]))
        con.execute("INSERT INTO features SELECT * FROM feat_df")
        con.unregister("feat_df")

        day_factor = _day_factor(days, start)
        shift = {a: SHIFT_DATE for a in areas}
        scale = _solve_scale(spec, acc, day_factor, days, areas, shift)
        total = 0
        # blocks of accounts small enough that a block holds about a million events
        per_account = spec.events / n
        block = int(max(20, min(4_000_000 // (T * len(areas)), 1_000_000 // per_account)))
        for lo in range(0, n, block):
            hi = min(n, lo + block)
            total += _events_block(
                con, rng, acc, catalogue, lo, hi, days, day_factor, areas, shift, scale
            )
            if progress:
                progress(total, spec.events)
        # comment text has its own stream: the main stream's draws stay where they were
        text = fb.text_stream(spec.seed)
        emerge = spec.end - dt.timedelta(days=fb.EMERGE_DAYS)
        planted = _requests(con, rng, acc, catalogue, areas, start, spec.end, text, emerge)
        planted |= _nps(con, rng, acc, start, spec.end, text, emerge)
        _metrics(con, rng, areas, days)
        counts = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in [
                "accounts",
                "events",
                "features",
                "feature_requests",
                "nps_responses",
                "metrics",
            ]
        }
        con.execute("CHECKPOINT")
    finally:
        con.close()

    truth = {
        "seed": spec.seed,
        "spec": {k: str(v) for k, v in asdict(spec).items()},
        "start": str(start),
        "end": str(spec.end),
        "areas": areas,
        "personas": {p.name: asdict(p) for p in PERSONAS},
        "account_persona": dict(
            zip(acc["table"]["account_id"], [PERSONAS[i].name for i in acc["persona"]], strict=True)
        ),
        "level_shift": {
            a: {"date": str(d), "factor": SHIFT_FACTOR, "metric": "active_accounts"}
            for a, d in shift.items()
        },
        "trend": {"gain_over_window": TREND_GAIN, "direction": "up"},
        "weekly_seasonality": {"saturday": 0.25, "sunday": 0.2},
        "demand": catalogue["truth"],
        "events_scale": scale,
        "feedback": {
            **fb.truth(
                emerge, {a: catalogue["keys"][a][fb.LINKED_FEATURE["feature_index"]] for a in areas}
            ),
            "comment_theme": planted,
        },
    }
    return truth, counts


_SQL_TYPES = {
    "string": "VARCHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "integer": "INTEGER",
    "float": "DOUBLE",
}


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the contract's empty tables in a DuckDB database (types from the contract)."""
    from .contract import CONTRACT

    for table, columns in CONTRACT.items():
        cols = ", ".join(f"{c.name} {_SQL_TYPES[c.kind]}" for c in columns)
        con.execute(f"CREATE TABLE {table} ({cols})")


_NAME_A = [
    "Blue",
    "North",
    "Bright",
    "Silver",
    "Red",
    "Green",
    "Swift",
    "Iron",
    "Clear",
    "Open",
    "Prime",
    "True",
    "Bold",
    "Quiet",
    "High",
    "Deep",
]
_NAME_B = [
    "Harbor",
    "Peak",
    "Field",
    "Stone",
    "River",
    "Forge",
    "Works",
    "Labs",
    "Systems",
    "Logic",
    "Cloud",
    "Point",
    "Bridge",
    "Wave",
    "Grid",
    "Path",
]


def _accounts(rng: np.random.Generator, n: int, start: dt.date, end: dt.date) -> dict:
    persona = rng.choice(len(PERSONAS), size=n, p=[p.share for p in PERSONAS])
    plan = rng.choice(len(_PLANS), size=n, p=_PLAN_MIX)
    region = rng.choice(len(_REGIONS), size=n, p=_REGION_MIX)
    industry = rng.integers(0, len(_INDUSTRIES), size=n)
    base_seats = np.array([6.0, 25.0, 150.0])[plan]
    seat_factor = np.array([p.seat_factor for p in PERSONAS])[persona]
    seats = np.maximum(1, np.round(base_seats * seat_factor * rng.lognormal(0, 0.35, n)))
    price = np.array([_SEAT_PRICE[p] for p in _PLANS])[plan]
    arr = np.round(seats * price * rng.lognormal(0, 0.15, n), 2)

    span = (end - start).days
    # A third of the accounts predate the window; the rest arrive at a growing rate.
    old = rng.random(n) < 0.35
    created_off = np.where(
        old,
        -rng.integers(30, 900, n),
        (span - 30) * np.sqrt(rng.random(n)),
    ).astype(int)
    created = np.datetime64(start) + created_off.astype("timedelta64[D]")
    churn_p = np.array([p.churn for p in PERSONAS])[persona]
    churns = rng.random(n) < churn_p
    lo = np.maximum(created_off + 30, 0)
    churn_off = lo + (rng.random(n) * np.maximum(span - lo, 1)).astype(int)
    churns &= churn_off < span
    churned = np.where(
        churns, np.datetime64(start) + churn_off.astype("timedelta64[D]"), np.datetime64("NaT")
    )
    users_share = np.array([p.users_share for p in PERSONAS])[persona]
    n_users = np.maximum(1, np.round(seats * users_share)).astype(np.int32)
    ids = np.char.add("acc-", np.char.zfill(np.arange(1, n + 1).astype(str), 6))
    names = np.char.add(
        np.char.add(np.array(_NAME_A)[rng.integers(0, 16, n)], " "),
        np.array(_NAME_B)[rng.integers(0, 16, n)],
    )
    names = np.char.add(np.char.add(names, " "), np.arange(1, n + 1).astype(str))
    table = {
        "account_id": ids.tolist(),
        "name": names.tolist(),
        "plan": np.array(_PLANS)[plan].tolist(),
        "region": np.array(_REGIONS)[region].tolist(),
        "industry": np.array(_INDUSTRIES)[industry].tolist(),
        "created_at": pa.array(created.astype("datetime64[D]"), type=pa.date32()),
        "seats": seats.astype(np.int32),
        "arr": arr,
        "churned_at": pa.array(churned.astype("datetime64[D]"), type=pa.date32(), mask=~churns),
    }
    return {
        "table": table,
        "persona": persona,
        "plan": plan,
        "created_off": created_off,
        "churn_off": np.where(churns, churn_off, span + 1),
        "n_users": n_users,
        "ids": ids,
    }


def _catalogue(rng: np.random.Generator, areas: list[str], start: dt.date, end: dt.date) -> dict:
    rows = {"feature": [], "product_area": [], "name": [], "status": [], "released_at": []}
    mid = start + (end - start) / 2
    truth = {}
    keys = {}
    for area in areas:
        feats = _area_features(area)
        keys[area] = feats
        for i, f in enumerate(feats):
            status = _STATUS[i]
            if i < 5:
                released = start - dt.timedelta(days=int(rng.integers(60, 700)))
            elif i == 5:
                released = mid  # adoption curve inside the window
            else:
                released = None
            rows["feature"].append(f)
            rows["product_area"].append(area)
            rows["name"].append(_display_name(f.removeprefix(f"{area}_")))
            rows["status"].append(status)
            rows["released_at"].append(released)
        truth[area] = {
            "differ": {
                "a": feats[6],
                "b": feats[7],
                "winner": feats[6],
                "p_by_plan": {
                    "a": dict(zip(_PLANS, _DEMAND["A"], strict=True)),
                    "b": dict(zip(_PLANS, _DEMAND["B"], strict=True)),
                },
                "reversal": {"dimension": "plan", "segment": "starter", "winner": feats[7]},
            },
            "equal": {"a": feats[8], "b": feats[9], "p": _DEMAND["C"][0]},
            "released_in_window": {"feature": feats[5], "released_at": str(mid)},
            "value_feature": feats[_VALUE_FEATURE],
        }
    rows["released_at"] = pa.array(rows["released_at"], type=pa.date32())
    return {"table": rows, "keys": keys, "truth": truth, "mid": mid}


# words a catalogue writes its own way (acronyms, brands): the `name` column is for people
_DISPLAY = {
    "ai": "AI",
    "api": "API",
    "github": "GitHub",
    "hubspot": "HubSpot",
    "ip": "IP",
    "pdf": "PDF",
    "scim": "SCIM",
    "sso": "SSO",
}


def _display_name(stem: str) -> str:
    """The catalogue's display name of a feature key: ``pdf_reports`` → ``PDF reports``."""
    words = [_DISPLAY.get(w, w) for w in stem.split("_")]
    if words[0] == stem.split("_")[0]:
        words[0] = words[0].capitalize()
    return " ".join(words)


def _day_factor(days: np.ndarray, start: dt.date) -> np.ndarray:
    """Weekly seasonality, holidays and a gentle upward trend, per day."""
    weekday = (days.astype("datetime64[D]").view("int64") - 4) % 7  # 0 = Monday
    f = np.where(weekday == 5, 0.25, np.where(weekday == 6, 0.2, 1.0))
    md = [(d.month, d.day) for d in days.astype(dt.date)]
    hol = np.array([x in _HOLIDAYS for x in md])
    f = np.where(hol, f * 0.3, f)
    t = np.arange(len(days)) / max(len(days) - 1, 1)
    return (f * (1 + TREND_GAIN * t)).astype(np.float32)


def _p_matrix(acc, lo, hi, days, day_factor, areas, shift):
    """Daily activity probability per (account, area, day) for accounts lo..hi."""
    persona = acc["persona"][lo:hi]
    p0 = np.array([p.p_active for p in PERSONAS], dtype=np.float32)[persona]
    t = np.arange(len(days), dtype=np.float32) / max(len(days) - 1, 1)
    fading = np.array([p.fading for p in PERSONAS])[persona]
    decay = np.where(fading[:, None], np.exp(-3.0 * t)[None, :], 1.0).astype(np.float32)
    alive = (np.arange(len(days))[None, :] >= acc["created_off"][lo:hi, None]) & (
        np.arange(len(days))[None, :] < acc["churn_off"][lo:hi, None]
    )
    base = p0[:, None] * decay * day_factor[None, :] * alive  # (acc, day)
    out = np.empty((hi - lo, len(areas), len(days)), dtype=np.float32)
    for j, area in enumerate(areas):
        after = days >= np.datetime64(shift[area])
        # each area has its own popularity so teams differ
        out[:, j, :] = base * np.where(after, SHIFT_FACTOR, 1.0) * (1.0 - 0.08 * j)
    return np.clip(out, 0, 0.98)


def _solve_scale(spec, acc, day_factor, days, areas, shift) -> float:
    """Scale of the per-day intensity so the expected total is ``spec.events``."""
    n = len(acc["persona"])
    sample = np.arange(0, n, max(1, n // 3000))
    p = _p_matrix(acc, 0, n, days, day_factor, areas, shift) if n <= 3000 else None
    if p is None:
        p = np.concatenate(
            [_p_matrix(acc, i, i + 1, days, day_factor, areas, shift) for i in sample]
        )
        weight = n / len(sample)
        personas = acc["persona"][sample]
    else:
        weight = 1.0
        personas = acc["persona"]
    intensity = np.array([p_.intensity for p_ in PERSONAS])[personas]
    active = p.sum(axis=(1, 2))  # expected active cells per account

    def expected(s: float) -> float:
        return float(weight * (active * (1 + np.maximum(intensity * s - 1, 0))).sum())

    lo_s, hi_s = 0.0, 1.0
    while expected(hi_s) < spec.events and hi_s < 1e6:
        hi_s *= 2
    for _ in range(60):
        mid = (lo_s + hi_s) / 2
        lo_s, hi_s = (mid, hi_s) if expected(mid) < spec.events else (lo_s, mid)
    return hi_s


def _events_block(con, rng, acc, catalogue, lo, hi, days, day_factor, areas, shift, scale):
    p = _p_matrix(acc, lo, hi, days, day_factor, areas, shift)
    active = rng.random(p.shape, dtype=np.float32) < p
    persona = acc["persona"][lo:hi]
    intensity = np.array([x.intensity for x in PERSONAS])[persona]
    lam = np.maximum(intensity * scale - 1, 0)  # extra events beyond the first
    a_idx, r_idx, d_idx = np.nonzero(active)
    counts = 1 + rng.poisson(lam[a_idx])
    n_ev = int(counts.sum())
    if n_ev == 0:
        return 0
    rep = np.repeat(np.arange(len(a_idx)), counts)
    ea, er, ed = a_idx[rep], r_idx[rep], d_idx[rep]
    gacc = ea + lo  # global account index

    # time of day: business hours around 14:00 UTC
    secs = np.clip(rng.normal(14 * 3600, 3 * 3600, n_ev), 0, 86399).astype(np.int64)
    day0 = days[0].astype("datetime64[D]").astype("datetime64[us]").astype(np.int64)
    ts = day0 + (ed.astype(np.int64) * 86400 + secs) * _US

    # users: the account's active users
    n_users = acc["n_users"][gacc]
    user = (rng.random(n_ev) * n_users).astype(np.int32) + 1

    # features: each account uses its first k core features of a personal order
    breadth = np.array([x.breadth for x in PERSONAS])[acc["persona"][gacc]]
    k = np.maximum(1, np.round(breadth * 5)).astype(np.int64)
    order = _feature_order(acc, gacc, er)
    pick = order[np.arange(n_ev), (rng.random(n_ev) * k).astype(np.int64)]
    # the feature released mid-window: adopted gradually, more by heavy personas
    rel = int((np.datetime64(catalogue["mid"]) - days[0]).astype(int))
    adopt_rate = np.array([0.35, 0.2, 0.06, 0.1])[acc["persona"][gacc]]
    ramp = np.where(ed >= rel, 1 - np.exp(-(ed - rel) / 30.0), 0.0)
    new_feat = rng.random(n_ev) < adopt_rate * ramp
    pick = np.where(new_feat, 5, pick).astype(np.int16)

    value = np.where(pick == _VALUE_FEATURE, np.round(rng.lognormal(2.5, 0.8, n_ev), 2), np.nan)
    tbl = pa.table(
        {
            "acc": gacc.astype(np.int32),
            "usr": user,
            "ts": pa.array(ts, type=pa.timestamp("us")),
            "area": er.astype(np.int8),
            "feat": pick,
            "value": pa.array(value, mask=np.isnan(value)),
        }
    )
    con.register("ev_chunk", tbl)
    area_list = "[" + ", ".join(f"'{a}'" for a in areas) + "]"
    feat_lists = (
        "["
        + ", ".join("[" + ", ".join(f"'{f}'" for f in catalogue["keys"][a]) + "]" for a in areas)
        + "]"
    )
    con.execute(f"""
        INSERT INTO events
        SELECT 'acc-' || lpad(CAST(acc + 1 AS VARCHAR), 6, '0') AS account_id,
               'acc-' || lpad(CAST(acc + 1 AS VARCHAR), 6, '0') || '-u' || CAST(usr AS VARCHAR),
               ts,
               {area_list}[area + 1],
               {feat_lists}[area + 1][feat + 1],
               value
        FROM ev_chunk
        ORDER BY ts
    """)
    con.unregister("ev_chunk")
    return n_ev


def _feature_order(acc, gacc, area_idx):
    """A fixed random order of the 5 core features per (account, area), by hashing."""
    # derive the order from a hash so it is the same for an account in every chunk
    key = (
        gacc.astype(np.uint64) * np.uint64(2654435761)
        + area_idx.astype(np.uint64) * np.uint64(40503)
    ) % np.uint64(120)
    perms = np.array(_PERMS5, dtype=np.int16)
    return perms[key.astype(np.int64)]


def _perms(n):
    from itertools import permutations

    return [list(p) for p in permutations(range(n))]


_PERMS5 = _perms(5)


def _requests(con, rng, acc, catalogue, areas, start, end, text_rng, emerge) -> dict:
    n = len(acc["persona"])
    plan = acc["plan"]
    span = (end - start).days
    rows = {"account_id": [], "feature": [], "created_off": [], "source": [], "importance": []}
    for area in areas:
        feats = catalogue["keys"][area]
        planted = {feats[6]: "A", feats[7]: "B", feats[8]: "C", feats[9]: "D"}
        for f in feats:
            if f in planted:
                prob = np.array(_DEMAND[planted[f]])[plan]
            else:
                prob = np.full(n, _BACKGROUND_DEMAND)
            # accounts that churned before the window or were not yet created cannot ask
            lo = np.maximum(acc["created_off"], 0)
            hi = np.minimum(acc["churn_off"], span)
            can = hi > lo
            hit = np.nonzero(can & (rng.random(n) < prob))[0]
            reps = rng.choice([1, 2, 3], size=len(hit), p=[0.6, 0.3, 0.1])
            who = np.repeat(hit, reps)
            off = lo[who] + rng.random(len(who)) * (hi[who] - lo[who])
            rows["account_id"].append(acc["ids"][who])
            rows["feature"].append(np.full(len(who), f))
            rows["created_off"].append(off)
            rows["source"].append(rng.choice(len(_SOURCES), size=len(who), p=_SOURCE_MIX))
            imp_p = np.where(plan[who] == 2, 1, 0)  # enterprise asks more urgently
            imp = np.where(
                imp_p == 1,
                rng.choice(4, len(who), p=[0.05, 0.2, 0.4, 0.35]),
                rng.choice(4, len(who), p=[0.15, 0.4, 0.33, 0.12]),
            )
            rows["importance"].append(imp)
    cat = {k: np.concatenate(v) for k, v in rows.items()}
    m = len(cat["account_id"])
    ts = np.datetime64(start).astype("datetime64[us]").astype(np.int64) + (
        cat["created_off"] * 86400 * _US
    ).astype(np.int64)
    # the draw that once chose a fixed comment stays, so later draws are unchanged
    rng.choice(5, m, p=[0.8, 0.05, 0.05, 0.05, 0.05])
    linked_idx = fb.LINKED_FEATURE["feature_index"]
    linked = np.isin(cat["feature"], [catalogue["keys"][a][linked_idx] for a in areas])
    days = np.datetime64(start) + cat["created_off"].astype(int).astype("timedelta64[D]")
    c = fb.comments(
        text_rng,
        np.full(m, "request"),
        days,
        emerge_start=emerge,
        rate=fb.REQUEST_COMMENT_RATE,
        linked=linked,
    )
    ids = np.char.add("fr-", np.char.zfill(np.arange(1, m + 1).astype(str), 7))
    tbl = pa.table(
        {
            "request_id": ids,
            "account_id": cat["account_id"],
            "feature": cat["feature"],
            "created_at": pa.array(ts, type=pa.timestamp("us")),
            "source": np.array(_SOURCES)[cat["source"]],
            "importance": cat["importance"].astype(np.int32),
            "comment": pa.array(c.text.tolist(), type=pa.string()),
        }
    )
    con.register("fr_df", tbl)
    con.execute("INSERT INTO feature_requests SELECT * FROM fr_df ORDER BY created_at")
    con.unregister("fr_df")
    keep = c.planted != ""
    return dict(zip(ids[keep].tolist(), c.planted[keep].tolist(), strict=True))


def _nps(con, rng, acc, start, end, text_rng, emerge) -> dict:
    """Quarterly NPS waves; scores follow the persona, fading accounts sour over time."""
    span = (end - start).days
    waves = [
        d
        for d in (np.datetime64(start) + np.arange(span + 1))
        if d.astype(dt.date).day == 15 and d.astype(dt.date).month in (1, 4, 7, 10)
    ]
    persona = acc["persona"]
    mean = np.array([p.nps_mean for p in PERSONAS])[persona]
    fading = np.array([p.fading for p in PERSONAS])[persona]
    parts = []
    for w in waves:
        off = int((w - np.datetime64(start)).astype(int))
        alive = (acc["created_off"] <= off) & (acc["churn_off"] > off)
        answer = np.nonzero(alive & (rng.random(len(persona)) < 0.35))[0]
        k = rng.choice([1, 2, 3], len(answer), p=[0.6, 0.3, 0.1])
        who = np.repeat(answer, k)
        mu = mean[who] - np.where(fading[who], 3.0 * off / span, 0.0)
        score = np.clip(np.round(rng.normal(mu, 1.4)), 0, 10).astype(np.int32)
        user = (rng.random(len(who)) * acc["n_users"][who]).astype(np.int32) + 1
        secs = rng.integers(0, 5 * 86400, len(who))
        ts = np.datetime64(w).astype("datetime64[us]").astype(np.int64) + secs * _US
        parts.append((who, user, ts, score))
    who = np.concatenate([p[0] for p in parts])
    m = len(who)
    # the draw that once chose a fixed comment stays, so later draws are unchanged
    rng.choice(5, m, p=[0.75, 0.07, 0.06, 0.06, 0.06])
    scores = np.concatenate([p[3] for p in parts])
    stamps = np.concatenate([p[2] for p in parts])
    c = fb.comments(
        text_rng,
        fb.categories(scores),
        stamps.astype("datetime64[us]").astype("datetime64[D]"),
        emerge_start=emerge,
        rate=fb.NPS_COMMENT_RATE,
    )
    response_ids = np.char.add("nps-", np.char.zfill(np.arange(1, m + 1).astype(str), 7))
    ids = acc["ids"][who]
    tbl = pa.table(
        {
            "response_id": response_ids,
            "account_id": ids,
            "user_id": np.char.add(
                np.char.add(ids, "-u"), np.concatenate([p[1] for p in parts]).astype(str)
            ),
            "submitted_at": pa.array(stamps, type=pa.timestamp("us")),
            "score": scores,
            "comment": pa.array(c.text.tolist(), type=pa.string()),
        }
    )
    con.register("nps_df", tbl)
    con.execute("INSERT INTO nps_responses SELECT * FROM nps_df ORDER BY submitted_at")
    con.unregister("nps_df")
    keep = c.planted != ""
    return dict(zip(response_ids[keep].tolist(), c.planted[keep].tolist(), strict=True))


def _metrics(con, rng, areas, days) -> None:
    """A series computed 'elsewhere': daily support tickets per area, overall and per plan."""
    rows = []
    t = np.arange(len(days))
    weekday = (days.astype("datetime64[D]").view("int64") - 4) % 7
    for j, area in enumerate(areas):
        for seg, base in [(None, 40.0), ("starter", 22.0), ("pro", 12.0), ("enterprise", 6.0)]:
            lam = (
                base
                * (1 - 0.1 * min(j, 7))
                * np.where(weekday >= 5, 0.3, 1.0)
                * (1 + 0.2 * t / len(t))
            )
            vals = rng.poisson(lam).astype(float)
            rows.append(
                {
                    "date": days.astype("datetime64[D]"),
                    "product_area": area,
                    "metric": "support_tickets",
                    "segment": seg,
                    "value": vals,
                }
            )
    tbl = pa.concat_tables(
        [
            pa.table(
                {
                    "date": pa.array(r["date"], type=pa.date32()),
                    "product_area": [r["product_area"]] * len(days),
                    "metric": [r["metric"]] * len(days),
                    "segment": pa.array([r["segment"]] * len(days), type=pa.string()),
                    "value": r["value"],
                }
            )
            for r in rows
        ]
    )
    con.register("m_df", tbl)
    con.execute("INSERT INTO metrics SELECT * FROM m_df")
    con.unregister("m_df")
