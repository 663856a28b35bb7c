"""Generated malformed team params: one clear line naming the file and key, nothing touched.

Each case writes a broken ``params/analytics.yaml`` (or ``_defaults.yaml``) and runs
``workbook run --team analytics`` in-process through :func:`helpers.cli.main`. Params are
validated before any kernel starts, so every case is fast. The expected file and key of
each case come from how the case was built, never from the validator. Cases that plant a
password (a connection string pasted into ``source``) also check it is printed nowhere.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.cli import main

TEAM = "analytics"
TEAM_FILE = f"params/{TEAM}.yaml"
DEFAULTS_FILE = "params/_defaults.yaml"
# the team's own valid keys, kept so that only the planted fault is wrong
BASE = {"title": "Analytics", "product_area": "analytics"}
FEATURES = ["ai_insights", "custom_metrics"]

settings.register_profile(
    "bad_params",
    derandomize=True,
    max_examples=260,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Case:
    """A broken params file: its bytes, which file it replaces, what the message must name."""

    family: str
    content: bytes
    file: str = TEAM_FILE
    key: str | None = None  # dotted key the message must name (None: the file is the problem)
    secret: str | None = None  # a password that must be printed nowhere


def _dump(data: object) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode("utf-8")


def _team(**sections: object) -> dict:
    return {**BASE, "feature_demand": {"features": FEATURES}} | sections


# keys whose type is a number or a choice, by section ("" = top level)
INT_KEYS = {
    "customer_segmentation": ["lookback_days", "previous_period_days", "k_min", "stability_runs"],
    "feature_demand": ["window_days", "bootstrap_runs", "seed"],
    "metric_trends": ["window_days", "horizon", "seed"],
}
CHOICE_KEYS = {
    "customer_segmentation": ["method", "monetary"],
    "feature_demand": ["weighting", "segment_by"],
    "metric_trends": ["grain", "compare_by"],
}
LIST_KEYS = {
    "": ["notebooks"],
    "customer_segmentation": ["cluster_features"],
    "feature_demand": ["sources"],
}
KNOWN = {
    "": {
        "team",
        "title",
        "product_area",
        "source",
        "as_of",
        "notebooks",
        "timeout_minutes",
        "customer_segmentation",
        "feature_demand",
        "metric_trends",
    },
    "customer_segmentation": {
        "lookback_days",
        "previous_period_days",
        "method",
        "monetary",
        "cluster_features",
        "k",
        "k_min",
        "k_max",
        "stability_runs",
        "rfm_rules",
        "seed",
    },
    "feature_demand": {
        "features",
        "window_days",
        "weighting",
        "sources",
        "segment_by",
        "bootstrap_runs",
        "alpha",
        "seed",
    },
    "metric_trends": {
        "metric",
        "feature",
        "grain",
        "window_days",
        "segment_column",
        "segment_value",
        "compare_by",
        "horizon",
        "seed",
    },
}


def _place(section: str, key: str, value: object) -> tuple[dict, str]:
    if not section:
        return _team() | {key: value}, key
    data = _team()
    data[section] = {**data.get(section, {}), key: value}
    return data, f"{section}.{key}"


def _pairs(table: dict[str, list[str]]):
    return st.sampled_from([(s, k) for s, keys in table.items() for k in keys])


# text that no lax parser turns into a number, a bool or a date
WORDS = st.text(alphabet=string.ascii_letters + " -_", min_size=1, max_size=30).filter(
    lambda s: s.strip() and s.strip().lower() not in {"y", "n", "yes", "no", "on", "off"}
)
ODD_UNICODE = st.text(
    alphabet=st.characters(
        codec="utf-8",
        categories=["Lu", "Ll", "Lo", "Mn", "Sk", "So", "Cf", "Zs", "Nd"],
        exclude_characters="\ufeff",
    ),
    min_size=1,
    max_size=40,
)


@st.composite
def wrong_types(draw) -> Case:
    section, key = draw(_pairs(INT_KEYS))
    value = draw(
        st.one_of(
            WORDS,
            st.lists(st.integers(0, 9), min_size=1, max_size=3),
            st.dictionaries(WORDS, st.integers(), min_size=1, max_size=2),
        )
    )
    data, dotted = _place(section, key, value)
    return Case("wrong type", _dump(data), key=dotted)


@st.composite
def unknown_keys(draw) -> Case:
    section = draw(st.sampled_from(list(KNOWN)))
    key = draw(st.one_of(WORDS, ODD_UNICODE).filter(lambda k: k not in KNOWN[section]))
    data, dotted = _place(section, key, draw(st.integers(0, 5)))
    return Case("unknown key", _dump(data), key=dotted)


@st.composite
def impossible_dates(draw) -> Case:
    year = draw(st.integers(1990, 2100))
    month, day = draw(
        st.one_of(
            st.tuples(st.integers(13, 99), st.integers(1, 28)),
            st.tuples(st.sampled_from([2, 4, 6, 9, 11]), st.integers(31, 31)),
            st.tuples(st.just(2), st.integers(30, 31)),
            st.tuples(st.integers(1, 12), st.integers(32, 99)),
        )
    )
    text = f"{year:04d}-{month:02d}-{day:02d}"
    if draw(st.booleans()):  # quoted: a string the schema must refuse
        return Case("impossible date", _dump(_team(as_of=text)), key="as_of")
    # unquoted: YAML itself tries to build the date; the message must still name the key
    return Case("impossible date", _dump(_team()) + f"as_of: {text}\n".encode(), key="as_of")


@st.composite
def empty_lists(draw) -> Case:
    section, key = draw(_pairs(LIST_KEYS))
    data, dotted = _place(section, key, [])
    return Case("empty list", _dump(data), key=dotted)


@st.composite
def huge_numbers(draw) -> Case:
    section, key = draw(_pairs(INT_KEYS))
    value = draw(
        st.one_of(
            st.integers(min_value=10**7, max_value=10**400),
            st.integers(min_value=-(10**400), max_value=-1),
            st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308]),
        )
    )
    data, dotted = _place(section, key, value)
    return Case("huge number", _dump(data), key=dotted)


@st.composite
def odd_unicode_choices(draw) -> Case:
    section, key = draw(_pairs(CHOICE_KEYS))
    data, dotted = _place(section, key, draw(ODD_UNICODE))
    return Case("odd unicode", _dump(data), key=dotted)


@st.composite
def not_mappings(draw) -> Case:
    top = draw(
        st.one_of(
            st.lists(st.integers(), min_size=1, max_size=4),
            st.integers(),
            WORDS,
            st.floats(allow_nan=False),
        )
    )
    if draw(st.booleans()):
        return Case("not a mapping", _dump(top))
    section = draw(st.sampled_from(["customer_segmentation", "feature_demand", "metric_trends"]))
    return Case("not a mapping", _dump(_team() | {section: top}), key=section)


@st.composite
def binary_junk(draw) -> Case:
    # 0xff never occurs in UTF-8: the file cannot be text
    return Case("binary junk", b"\xff" + draw(st.binary(min_size=0, max_size=200)))


@st.composite
def bad_defaults(draw) -> Case:
    # feature_demand is also set by the team file: the default must still be blamed
    section, key = draw(_pairs(INT_KEYS))
    defaults = {section: {key: draw(WORDS)}}
    return Case("bad defaults", _dump(defaults), file=DEFAULTS_FILE, key=f"{section}.{key}")


@st.composite
def yaml_aliases(draw) -> Case:
    # anchors and aliases are refused whatever they do, from a plain alias to a bomb
    kind = draw(st.sampled_from(["alias", "bomb", "merge", "section"]))
    if kind == "alias":
        text = "title: &t Analytics\nproduct_area: *t\n"
    elif kind == "section":
        text = "customer_segmentation: &cs {k_min: 2}\nfeature_demand: {features: [a, b]}\n"
    elif kind == "merge":
        text = "base: &b {grain: day}\nmetric_trends:\n  <<: *b\n"
    else:
        width, depth = draw(st.integers(2, 9)), draw(st.integers(2, 9))
        lines = [
            "customer_segmentation:",
            "  rfm_rules:",
            "    - &l0 [" + ",".join(["x"] * width) + "]",
        ]
        for i in range(1, depth):
            lines.append(f"    - &l{i} [" + ",".join([f"*l{i - 1}"] * width) + "]")
        text = "\n".join(lines) + "\n"
    file = draw(st.sampled_from([TEAM_FILE, DEFAULTS_FILE]))
    return Case("yaml alias", text.encode(), file=file)


@st.composite
def oversized(draw) -> Case:
    size = draw(st.integers(64 * 1024 + 1, 256 * 1024))
    if draw(st.booleans()):  # a long comment
        body = b"title: Analytics\n" + b"#" * size + b"\n"
    else:  # a long value
        body = b"title: '" + b"A" * size + b"'\n"
    return Case("oversized", body)


@st.composite
def deep_nesting(draw) -> Case:
    depth = draw(st.integers(16, 400))
    opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}")]))
    text = "title: " + opener * depth + "1" + closer * depth + "\n"
    return Case("deep nesting", text.encode())


# a valid RFM rule, rebuilt for each case (one dict object per rule: no YAML anchors)
def _rule(**changes) -> dict:
    rule = {"segment": "Best", "r_min": 4, "r_max": 5, "fm_min": 4, "fm_max": 5}
    rule.update(changes)
    return {k: v for k, v in rule.items() if v is not _DROP}


_DROP = object()
SCORES = ["r_min", "r_max", "fm_min", "fm_max"]


@st.composite
def bad_rfm_rules(draw) -> Case:
    key = "customer_segmentation.rfm_rules"
    kind = draw(st.sampled_from(["range", "score", "type", "unknown", "missing", "rule", "count"]))
    if kind == "range":  # a minimum above its maximum
        lo, hi = draw(st.sampled_from([("r_min", "r_max"), ("fm_min", "fm_max")]))
        a = draw(st.integers(2, 5))
        bad, dotted = _rule(**{lo: a, hi: draw(st.integers(1, a - 1))}), key
    elif kind == "score":  # outside 1..5
        field = draw(st.sampled_from(SCORES))
        value = draw(st.one_of(st.integers(-100, 0), st.integers(6, 10**6)))
        bad, dotted = _rule(**{field: value}), f"{key}.{field}"
    elif kind == "type":  # text, a fraction or a bool is no score
        field = draw(st.sampled_from(SCORES))
        value = draw(st.one_of(WORDS, st.sampled_from([2.5, 4.0, True, False, [3]])))
        bad, dotted = _rule(**{field: value}), f"{key}.{field}"
    elif kind == "unknown":
        name = draw(WORDS.filter(lambda k: k not in {"segment", "at_risk", "meaning", *SCORES}))
        bad, dotted = _rule(**{name: 1}), f"{key}.{name}"
    elif kind == "missing":
        field = draw(st.sampled_from(["segment", *SCORES]))
        bad, dotted = _rule(**{field: _DROP}), f"{key}.{field}"
    elif kind == "rule":  # a rule that is not a mapping
        bad, dotted = (
            draw(st.one_of(WORDS, st.integers(), st.lists(st.integers(), max_size=3))),
            key,
        )
    else:  # too many rules
        n = draw(st.integers(51, 120))
        rules = [_rule(segment=f"S{i}") for i in range(n)]
        return Case(
            "bad rfm rule", _dump(_team(customer_segmentation={"rfm_rules": rules})), key=key
        )
    rules = [_rule(segment="Rest", r_min=1, fm_min=1) for _ in range(draw(st.integers(0, 3)))]
    rules.insert(draw(st.integers(0, len(rules))), bad)
    return Case(
        "bad rfm rule", _dump(_team(customer_segmentation={"rfm_rules": rules})), key=dotted
    )


@st.composite
def secrets_in_source(draw) -> Case:
    # a connection string pasted into `source` by mistake: refused, and never echoed
    password = (
        "Pw"
        + draw(
            st.text(
                alphabet=string.ascii_letters + string.digits + "/@ !$*-_.~",
                min_size=4,
                max_size=20,
            )
        )
        + "/9"
    )
    form = draw(st.sampled_from(["userinfo", "encoded", "query", "keyword", "env"]))
    source = {
        "userinfo": f"postgres://bob:{password}@db:5432/w",
        "encoded": f"postgresql://bob:{quote(password, safe='')}@db/w",
        "query": f"postgresql://bob@db/w?sslmode=require&password={quote_plus(password)}",
        "keyword": f"host=db user=bob password='{password}' dbname=w",
        "env": f"env:host=db password='{password}'",
    }[form]
    file = draw(st.sampled_from([TEAM_FILE, DEFAULTS_FILE]))
    data = {"source": source} if file == DEFAULTS_FILE else _team(source=source)
    return Case("secret in source", _dump(data), file=file, key="source", secret=password)


CASES = st.one_of(
    wrong_types(),
    unknown_keys(),
    impossible_dates(),
    empty_lists(),
    huge_numbers(),
    odd_unicode_choices(),
    not_mappings(),
    binary_junk(),
    bad_defaults(),
    yaml_aliases(),
    oversized(),
    deep_nesting(),
    bad_rfm_rules(),
    secrets_in_source(),
)


def _tree_hash(folder: Path) -> str:
    """A hash of every path, link target and file's bytes under ``folder``."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        h.update(str(p.relative_to(folder)).encode())
        if p.is_symlink():
            h.update(b"->" + str(p.readlink()).encode())
        elif p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def previous_outputs(workbook_root) -> Path:
    """An earlier successful run of the team that a bad params file must not touch."""
    run = workbook_root / "outputs" / TEAM / "runs" / "2026-10-30T000000-abcd"
    (run / "tables" / "metric_trends").mkdir(parents=True)
    (run / "manifest.json").write_text('{"status": "succeeded", "notebooks": []}')
    (run / "tables" / "metric_trends" / "trend.parquet").write_bytes(b"PAR1 stand-in")
    (workbook_root / "outputs" / TEAM / "latest").symlink_to("runs/2026-10-30T000000-abcd")
    return workbook_root / "outputs"


@pytest.mark.slow  # 260 generated files through the CLI: the full suite, not the edit loop
def test_every_malformed_params_file_fails_with_one_line_naming_file_and_key(
    workbook_root, previous_outputs, capsys
):
    defaults = (workbook_root / DEFAULTS_FILE).read_bytes()
    before = _tree_hash(previous_outputs)
    tried: dict[str, int] = {}

    @settings(settings.get_profile("bad_params"))
    @given(case=CASES)
    def check(case: Case) -> None:
        tried[case.family] = tried.get(case.family, 0) + 1
        (workbook_root / DEFAULTS_FILE).write_bytes(defaults)
        (workbook_root / TEAM_FILE).write_bytes(_dump(_team()))
        (workbook_root / case.file).write_bytes(case.content)
        capsys.readouterr()
        code = main(["run", "--team", TEAM])
        out, err = capsys.readouterr()
        text = out + err
        assert code == 3, (case, text)  # invalid params (README: exit codes)
        assert "Traceback" not in text, (case, text)
        # one line carries the whole message: the file, then (when there is one) the key
        lines = [ln for ln in text.splitlines() if case.file + ":" in ln]
        full = [ln for ln in lines if case.key is None or f"`{case.key}`" in ln]
        assert len(full) == 1, (case, text)
        if case.secret:
            assert case.secret not in text and quote(case.secret, safe="") not in text, case
            assert quote_plus(case.secret) not in text, case
        assert _tree_hash(previous_outputs) == before, case

    check()
    total = sum(tried.values())
    with capsys.disabled():
        detail = ", ".join(f"{k} {v}" for k, v in sorted(tried.items()))
        print(f"\n[bad params] {total} generated cases tried ({detail})")
    assert total >= 200
    assert set(tried) == {
        "wrong type",
        "unknown key",
        "impossible date",
        "empty list",
        "huge number",
        "odd unicode",
        "not a mapping",
        "binary junk",
        "bad defaults",
        "yaml alias",
        "oversized",
        "deep nesting",
        "bad rfm rule",
        "secret in source",
    }


def test_a_bad_default_is_blamed_on_defaults_when_the_team_sets_the_same_section(
    workbook_root, capsys
):
    (workbook_root / TEAM_FILE).write_bytes(_dump(_team()))  # sets feature_demand.features
    (workbook_root / DEFAULTS_FILE).write_bytes(_dump({"feature_demand": {"window_days": "A"}}))
    assert main(["run", "--team", TEAM]) == 3  # invalid params (README: exit codes)
    out, err = capsys.readouterr()
    assert f"{DEFAULTS_FILE}: key `feature_demand.window_days`" in out + err


def test_an_unquoted_impossible_date_names_its_key(workbook_root, capsys):
    (workbook_root / TEAM_FILE).write_bytes(_dump(_team()) + b"as_of: 2026-02-30\n")
    assert main(["run", "--team", TEAM]) == 3  # invalid params
    out, err = capsys.readouterr()
    assert f"{TEAM_FILE}: key `as_of`" in out + err
