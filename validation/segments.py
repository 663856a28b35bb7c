"""Customer segmentation on simulated shops and seeded demo warehouses: equal accounts
scored equally, recency that fits the product, no movement where nothing moved, clusters
that recover the planted personas, without invented data, and keep their names.

Tables (each written between markers in docs/segmentation.md):

* ``segments_ties``: simulated shops full of ties (most accounts seen 0–1 days ago, most
  buyers bought once): how many groups of equal accounts get one score, by the
  workbook's cut-offs and, for contrast, by the former quintiles of a rank whose ties
  were broken by account id.
* ``segments_recency``: demo warehouses, every team, ``as_of`` on each weekday: accounts
  seen in the last 3 days that land in an at-risk or sleeping segment.
* ``segments_movement``: warehouses where every account does the same every week:
  accounts reported as moving, four weeks apart (and, for contrast, 30 days apart with
  each date's own quintiles, the former method).
* ``segments_clusters``: demo warehouses, every team: k, agreement with the planted
  personas (adjusted Rand), the largest share of a cluster missing a feature, the
  weakest cluster's stability, and the names kept when rerun a week later.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from helpers.customer_segmentation import account_features, rfm_segments, segment
from helpers.customer_segmentation.rfm import _apply_rules
from helpers.data import connect
from helpers.data.demo import AREAS, DemoSpec, create_tables, generate, truth_path

DOC = "docs/segmentation.md"
AS_OF = dt.date(2026, 10, 31)
SLEEPING = {"About to Sleep", "Can't Lose", "At Risk", "Hibernating", "Lost"}


# ---------------------------------------------------------------------------- the former way


def former_scores(values: pd.Series, ids: pd.Series, *, higher_is_better: bool) -> np.ndarray:
    """The former RFM score: quintile of the rank, ties broken by account id (for contrast)."""
    frame = pd.DataFrame({"v": values.to_numpy(), "id": ids.to_numpy()})
    order = frame.sort_values(["v", "id"], ascending=[higher_is_better, True]).index.to_numpy()
    n = len(frame)
    r = np.arange(1, n + 1)
    out = np.empty(n, dtype=np.int64)
    out[order] = np.maximum(1, -(-5 * (r - 1) // max(n - 1, 1)))
    return out


def _former_rfm(feats: pd.DataFrame, rules: pd.DataFrame) -> pd.DataFrame:
    cur = feats[feats.status != "churned"]
    out = cur[["account_id", "recency", "frequency", "monetary"]].copy()
    out["r"] = former_scores(cur.recency, cur.account_id, higher_is_better=False)
    out["f"] = former_scores(cur.frequency, cur.account_id, higher_is_better=True)
    out["m"] = former_scores(cur.monetary, cur.account_id, higher_is_better=True)
    out["rfm_segment"] = _apply_rules(out.r, (out.f + out.m) / 2, rules)
    return out


# ---------------------------------------------------------------------------- ties


def _shop(rng: np.random.Generator) -> pd.DataFrame:
    """Accounts of a daily product with a shop's money: heavy ties on every dimension."""
    n = int(rng.integers(50, 1500))
    recency = rng.choice(
        [0, 1, 2, 3, 5, 8, 13, 21, 40, 70],
        n,
        p=[0.3, 0.3, 0.1, 0.05, 0.05, 0.05, 0.05, 0.04, 0.03, 0.03],
    )
    frequency = np.where(rng.random(n) < 0.6, 1, rng.integers(2, 60, n))
    monetary = np.where(frequency == 1, 49.0, np.round(rng.lognormal(5, 1, n)))
    last = pd.Timestamp(AS_OF) - pd.to_timedelta(recency, unit="D")
    first = last - pd.to_timedelta((frequency - 1) * 2, unit="D")
    out = pd.DataFrame(
        {
            "account_id": [f"acc-{i:05d}" for i in rng.permutation(n)],
            "status": "active",
            "recency": recency.astype(float),
            "frequency": frequency,
            "monetary": monetary,
            "first_active": first,
            "last_active": last,
        }
    )
    out.attrs.update(lookback_days=90)
    return out


def ties(shops: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    groups = split_now = split_former = relabel_same = 0
    for _ in range(shops):
        f = _shop(rng)
        res = rfm_segments(f)
        t = res.table
        key = ["recency", "frequency", "monetary"]
        tied = t.groupby(key).filter(lambda g: len(g) > 1)
        n_groups = tied.groupby(key).ngroups
        groups += n_groups
        split_now += int((tied.groupby(key)[["r", "f", "m"]].nunique().max(axis=1) > 1).sum())
        old = _former_rfm(f, res.rules)
        old_tied = old.groupby(key).filter(lambda g: len(g) > 1)
        split_former += int(
            (old_tied.groupby(key)[["r", "f", "m"]].nunique().max(axis=1) > 1).sum()
        )
        g = f.copy()
        g["account_id"] = rng.permutation(g["account_id"].to_numpy())
        again = rfm_segments(g).table.set_index(key)[["r", "f", "m"]]
        first = t.set_index(key)[["r", "f", "m"]]
        relabel_same += int(
            first.groupby(level=[0, 1, 2]).first().equals(again.groupby(level=[0, 1, 2]).first())
        )
    return pd.DataFrame(
        [
            ("groups of equal accounts", shops, groups, "—", "—"),
            (
                "split across scores, cut-offs (now)",
                shops,
                split_now,
                "0",
                "yes" if split_now == 0 else "no",
            ),
            ("split across scores, rank by id (former)", shops, split_former, "—", "—"),
            (
                "shops whose scores survive new account ids",
                shops,
                relabel_same,
                f"{shops}",
                "yes" if relabel_same == shops else "no",
            ),
        ],
        columns=["measure", "shops", "count", "target", "met"],
    )


# ---------------------------------------------------------------------------- demo warehouses


#: The demo warehouses of the suite: `workbook demo-data`'s default, then three seeds at
#: the test suite's size (tests/conftest.py SMALL)
DEMOS = [
    ("default, seed 7", DemoSpec(seed=7)),
    *(
        (f"small, seed {s}", DemoSpec(events=400_000, accounts=1200, areas=4, seed=s))
        for s in (7, 8, 9)
    ),
]
SMOKE_DEMOS = [("tiny, seed 7", DemoSpec(events=60_000, accounts=300, areas=1, seed=7))]


def _demo(folder: Path, spec: DemoSpec) -> Path:
    path = folder / f"demo-{spec.seed}-{spec.events}.duckdb"
    if not path.exists():
        generate(spec, path)
    return path


def recency(
    folder: Path, demos: list[tuple[str, DemoSpec]], days: int, areas: list[str]
) -> pd.DataFrame:
    rows = []
    for label, spec in demos:
        with connect(str(_demo(folder, spec))) as wh:
            tables = [wh.table(t) for t in ("events", "accounts", "features")]
            for area in areas:
                recent = now = former = 0
                for back in range(days):
                    f = account_features(
                        *tables, product_area=area, as_of=AS_OF - dt.timedelta(days=back)
                    )
                    res = rfm_segments(f)
                    t = res.table
                    near = t.recency <= 3
                    recent += int(near.sum())
                    now += int((near & t.rfm_segment.isin(SLEEPING)).sum())
                    old = _former_rfm(f, res.rules)
                    former += int(((old.recency <= 3) & old.rfm_segment.isin(SLEEPING)).sum())
                rows.append((label, area, days, recent, now, former))
    out = pd.DataFrame(
        rows,
        columns=[
            "demo",
            "team",
            "as_of days",
            "seen ≤ 3 days",
            "at risk or asleep (now)",
            "(former)",
        ],
    )
    out["target"] = "0"
    out["met"] = np.where(out["at risk or asleep (now)"] == 0, "yes", "no")
    return out


def weekly_warehouse(path: Path, *, accounts: int = 60, weeks: int = 30, seed: int = 0) -> Path:
    """A warehouse where every account does exactly the same every week.

    Each account has its own weekdays, events per day, features and event value, and
    some are active only every other week; weeks do not differ, so any movement between
    two dates whole weeks apart is an artefact of the method.
    """
    rng = np.random.default_rng(seed)
    con = duckdb.connect(str(path))
    create_tables(con)
    area = "analytics"
    con.executemany(
        "INSERT INTO features VALUES (?, ?, ?, 'released', DATE '2024-01-01')",
        [(f"f{i}", area, f"F{i}") for i in range(5)],
    )
    rows, acc = [], []
    start = AS_OF - dt.timedelta(weeks=weeks)  # the pattern runs through AS_OF itself
    for i in range(accounts):
        aid = f"acc-{i:03d}"
        acc.append((aid, aid, "pro", "EMEA", "software", dt.date(2024, 1, 1), 10, 1000.0 * (i + 1)))
        days = sorted(rng.choice(7, size=int(rng.integers(1, 8)), replace=False))
        every = 2 if i % 7 == 0 else 1
        n_events = int(rng.integers(1, 6))
        feats = [f"f{j}" for j in range(int(rng.integers(1, 6)))]
        value = float(rng.integers(1, 20))
        for w in range(0, weeks + 1, every):
            for d in days:
                day = start + dt.timedelta(weeks=w, days=int(d))
                if day > AS_OF:
                    continue
                for e in range(n_events):
                    ts = dt.datetime.combine(day, dt.time(9)) + dt.timedelta(minutes=e)
                    rows.append((aid, f"{aid}-u1", ts, area, feats[e % len(feats)], value))
    con.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)", acc)
    frame = pd.DataFrame(rows, columns=["account_id", "user_id", "ts", "area", "feature", "value"])
    con.register("frame", frame)
    con.execute("INSERT INTO events SELECT * FROM frame")
    con.close()
    return path


def movement(folder: Path, seeds: list[int]) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        path = weekly_warehouse(folder / f"weekly-{seed}.duckdb", seed=seed)
        with connect(str(path)) as wh:
            seg = segment(
                wh,
                product_area="analytics",
                as_of=AS_OF,
                previous_period_days=28,
                k=3,
                stability_runs=5,
            )
            moved = {
                by: int(mv.moves.accounts.sum()) if len(mv.moves) else 0
                for by, mv in seg.movements.items()
            }
            tables = [wh.table(t) for t in ("events", "accounts", "features")]
            then = account_features(
                *tables, product_area="analytics", as_of=AS_OF - dt.timedelta(days=30)
            )
        res = seg.rfm
        now_old = _former_rfm(seg.features, res.rules).set_index("account_id").rfm_segment
        then_old = _former_rfm(then, res.rules).set_index("account_id").rfm_segment
        both = now_old.index.intersection(then_old.index)
        former = int((now_old[both] != then_old[both]).sum())
        rows.append(
            (
                seed,
                len(seg.rfm.table),
                moved.get("rfm_segment", 0),
                moved.get("cluster_name", 0),
                former,
            )
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "seed",
            "accounts",
            "RFM moves (4 weeks)",
            "cluster moves (4 weeks)",
            "RFM moves (former: 30 days, own quintiles)",
        ],
    )
    out["target"] = "0"
    out["met"] = np.where(
        (out["RFM moves (4 weeks)"] == 0) & (out["cluster moves (4 weeks)"] == 0), "yes", "no"
    )
    return out


def clusters(
    folder: Path, demos: list[tuple[str, DemoSpec]], areas: list[str], runs: int = 20
) -> pd.DataFrame:
    rows = []
    for label, spec in demos:
        path = _demo(folder, spec)
        truth = json.loads(truth_path(path).read_text())["account_persona"]
        with connect(str(path)) as wh:
            for area in areas:
                week1 = segment(
                    wh, product_area=area, as_of=AS_OF - dt.timedelta(days=7), stability_runs=runs
                )
                seg = segment(
                    wh,
                    product_area=area,
                    as_of=AS_OF,
                    previous=week1.assignments,
                    stability_runs=runs,
                )
                c = seg.clusters
                lab = c.labels[c.labels.cluster >= 0]
                ari = adjusted_rand_score(lab.account_id.map(truth), lab.cluster)
                merged = c.labels.merge(seg.features, on="account_id")
                miss = merged.groupby("cluster")[c.features].agg(lambda s: s.isna().mean())
                kept = set(c.profile.cluster_name) == set(week1.clusters.profile.cluster_name)
                rows.append(
                    (
                        label,
                        area,
                        c.k,
                        round(ari, 3),
                        f"{miss.to_numpy().max():.0%}",
                        round(float(c.profile.stability.min()), 2),
                        f"{(c.profile.named == 'kept').sum()} of {c.k}",
                        "yes" if ari >= 0.85 and miss.to_numpy().max() <= 0.5 and kept else "no",
                    )
                )
    return pd.DataFrame(
        rows,
        columns=[
            "demo",
            "team",
            "k",
            "ARI vs personas",
            "most missing in a cluster",
            "weakest stability",
            "names kept a week later",
            "met (ARI ≥ 0.85, missing ≤ 50%, names kept)",
        ],
    )


def run(smoke: bool = False) -> dict[str, pd.DataFrame]:
    """Every table of this suite; ``smoke``: a few cases each (for the unit tests)."""
    with tempfile.TemporaryDirectory(prefix="validation-segments-") as tmp:
        folder = Path(tmp)
        demos = SMOKE_DEMOS if smoke else DEMOS
        areas = AREAS[:1] if smoke else AREAS[:4]
        return {
            "segments_ties": ties(5 if smoke else 200, seed=21),
            "segments_recency": recency(folder, demos, 2 if smoke else 7, areas),
            "segments_movement": movement(folder, [0] if smoke else [0, 1, 2, 3, 4]),
            "segments_clusters": clusters(folder, demos, areas, 3 if smoke else 20),
        }
