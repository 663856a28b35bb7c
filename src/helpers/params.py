"""Team parameters: ``params/_defaults.yaml`` layered under ``params/<team>.yaml``, validated.

Each notebook has its own section of flat keys; the runner hands a notebook the
shared keys plus its section, so papermill's shallow merge cannot surprise anyone.
Every mistake becomes one :class:`~helpers.errors.WorkbookError` line naming the
file and the key, with the nearest valid key where there is one. A params file is small
plain YAML: at most 64 KB, nested at most 16 levels, and without anchors or aliases
(``&name``, ``*name``: a few hundred bytes of aliases can expand to megabytes).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from . import paths
from .errors import ParamsError, did_you_mean
from .secrets import ENV_NAME, looks_like_connection, scrub

__all__ = [
    "NOTEBOOKS",
    "CustomerFeedback",
    "CustomerSegmentation",
    "FeatureDemand",
    "MetricTrends",
    "RFMRule",
    "TeamParams",
    "known_teams",
    "load_team",
    "SEGMENTATION",
    "notebook_parameters",
]

#: The notebooks every team can run, in run order (segmentation first: others may reuse it).
NOTEBOOKS = ["customer_segmentation", "feature_demand", "metric_trends", "customer_feedback"]
#: The notebook whose recorded segments others may break down by (``segment``).
SEGMENTATION = "customer_segmentation"

_TEAM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PosInt = Annotated[int, Field(ge=1, le=100_000)]
#: The largest params file read, in bytes, and the deepest nesting of its values.
MAX_BYTES = 64 * 1024
MAX_DEPTH = 16


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# an RFM score: a whole number 1 to 5 (strict: a bool or 4.5 is no score)
_Score = Annotated[int, Field(strict=True, ge=1, le=5)]


class RFMRule(_Section):
    """One rule of the ``rfm_rules`` table: accounts whose recency score R lies in
    ``r_min..r_max`` and whose frequency-monetary score FM in ``fm_min..fm_max`` are named
    ``segment`` (the first matching rule wins)."""

    segment: Annotated[str, Field(min_length=1, max_length=64)]
    r_min: _Score
    r_max: _Score
    fm_min: _Score
    fm_max: _Score
    at_risk: bool = False
    meaning: Annotated[str, Field(max_length=200)] = ""

    @model_validator(mode="after")
    def _ranges(self) -> RFMRule:
        for lo, hi in (("r_min", "r_max"), ("fm_min", "fm_max")):
            if getattr(self, lo) > getattr(self, hi):
                raise ValueError(
                    f"rule {self.segment!r}: `{lo}` ({getattr(self, lo)}) is above "
                    f"`{hi}` ({getattr(self, hi)})"
                )
        return self


class CustomerSegmentation(_Section):
    """Keys of the ``customer_segmentation:`` section."""

    lookback_days: Annotated[int, Field(ge=7, le=1095)] = 90
    # whole weeks, so movement compares the same weekday with the same cut-offs
    previous_period_days: Annotated[int, Field(ge=7, le=364, multiple_of=7)] = 28
    method: Literal["rfm", "clusters", "both"] = "both"
    monetary: Literal["arr", "event_value"] = "arr"
    cluster_features: list[
        Literal[
            "recency",
            "frequency",
            "intensity",
            "breadth",
            "seats",
            "monetary",
            "tenure",
            "nps",
            "requests",
        ]
    ] = Field(default=["frequency", "intensity", "breadth", "nps"], min_length=1)
    k: Annotated[int, Field(ge=2, le=20)] | None = None
    k_min: Annotated[int, Field(ge=2, le=20)] = 2
    k_max: Annotated[int, Field(ge=2, le=20)] = 8
    stability_runs: Annotated[int, Field(ge=2, le=500)] = 20
    rfm_rules: Annotated[list[RFMRule], Field(min_length=1, max_length=50)] | None = None
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 42


class FeatureDemand(_Section):
    """Keys of the ``feature_demand:`` section."""

    features: list[str] = Field(default_factory=list)
    window_days: Annotated[int, Field(ge=7, le=1095)] = 365
    weighting: Literal["accounts", "arr", "seats", "importance"] = "accounts"
    sources: list[Literal["support", "sales", "interview", "survey", "community", "other"]] = Field(
        default=["support", "sales", "interview", "survey", "community", "other"],
        min_length=1,
    )
    segment_by: Literal["plan", "region", "industry", "segment"] = "plan"
    bootstrap_runs: Annotated[int, Field(ge=100, le=100_000)] = 2000
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 42

    @field_validator("features")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("lists a feature twice")
        return v


class MetricTrends(_Section):
    """Keys of the ``metric_trends:`` section."""

    metric: str = "active_accounts"
    metrics: Annotated[list[str], Field(max_length=8)] = []
    feature: str | None = None
    grain: Literal["day", "week", "month"] = "week"
    window_days: Annotated[int, Field(ge=28, le=3650)] = 540
    segment_column: Literal["plan", "region", "industry", "segment"] | None = None
    segment_value: str | None = None
    compare_by: Literal["plan", "region", "industry", "segment"] | None = "plan"
    horizon: Annotated[int, Field(ge=1, le=104)] = 8
    holidays_country: str | None = "US"
    min_coverage: Annotated[float, Field(gt=0, le=1)] = 0.5
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 42

    @field_validator("metrics")
    @classmethod
    def _more_metrics(cls, v: list[str], info) -> list[str]:
        lead = info.data.get("metric")
        for i, name in enumerate(v):
            if name == lead:
                raise ValueError(f"[{i}] {name!r} is already `metric`, the lead section")
            if name in v[:i]:
                raise ValueError(f"[{i}] {name!r} is listed twice")
        return v

    @field_validator("holidays_country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        if v is None:
            return v
        import holidays

        known = sorted(holidays.list_supported_countries())
        if str(v).upper() not in known:
            raise ValueError(
                f"is not a country code of the `holidays` package: {v!r}"
                + did_you_mean(str(v).upper(), known)
                + " (ISO 3166 alpha-2 such as US, GB, DE; null for no holiday calendar)"
            )
        return str(v).upper()


class CustomerFeedback(_Section):
    """Keys of the ``customer_feedback:`` section."""

    window_days: Annotated[int, Field(ge=30, le=1095)] = 365
    recent_days: Annotated[int, Field(ge=7, le=365)] = 45
    segment_by: Literal["plan", "region", "industry", "segment"] = "plan"
    k: Annotated[int, Field(ge=2, le=30)] | None = None
    k_min: Annotated[int, Field(ge=2, le=30)] = 3
    k_max: Annotated[int, Field(ge=2, le=30)] = 10
    stability_runs: Annotated[int, Field(ge=2, le=50)] = 5
    min_responses: Annotated[int, Field(ge=5, le=10_000)] = 30
    min_rise: Annotated[float, Field(ge=0, lt=1)] = 0.10
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    bootstrap_runs: Annotated[int, Field(ge=100, le=100_000)] = 1000
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 42

    @field_validator("recent_days")
    @classmethod
    def _recent_inside_window(cls, v: int, info) -> int:
        window = info.data.get("window_days")
        if window is not None and v >= window:
            raise ValueError(f"must be shorter than window_days ({window})")
        return v

    @field_validator("k_max")
    @classmethod
    def _k_range(cls, v: int, info) -> int:
        k_min = info.data.get("k_min")
        if k_min is not None and v < k_min:
            raise ValueError(f"must be at least k_min ({k_min})")
        return v


class TeamParams(BaseModel):
    """A team's parameters after defaults: what the runner validates before any kernel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team: str
    title: str = ""
    product_area: str = ""
    source: str = "data/demo.duckdb"
    as_of: dt.date | None = None
    notebooks: list[
        Literal["customer_segmentation", "feature_demand", "metric_trends", "customer_feedback"]
    ] = Field(default_factory=lambda: list(NOTEBOOKS), min_length=1)
    timeout_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 30
    customer_segmentation: CustomerSegmentation = CustomerSegmentation()
    feature_demand: FeatureDemand = FeatureDemand()
    metric_trends: MetricTrends = MetricTrends()
    customer_feedback: CustomerFeedback = CustomerFeedback()

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        # the value is never echoed (see _explain): it may be a pasted connection string
        if not v.strip():
            raise ValueError("must not be empty")
        if looks_like_connection(v):
            raise ValueError(
                "must not hold a connection string, a URL or `host=… password=…` "
                "(credentials would be shown and written to outputs); put it in an "
                "environment variable and write `source: env:VARIABLE`"
            )
        if v.startswith("env:") and not ENV_NAME.match(v[4:]):
            raise ValueError(
                "must name an environment variable after `env:` (letters, digits and underscores)"
            )
        return v

    def section(self, notebook: str) -> _Section:
        return getattr(self, notebook)

    def uses_segments(self, notebook: str) -> bool:
        """Whether ``notebook`` breaks down or filters by the team's recorded segments."""
        if notebook == "feature_demand":
            return self.feature_demand.segment_by == "segment"
        if notebook == "metric_trends":
            mt = self.metric_trends
            return "segment" in (mt.compare_by, mt.segment_column)
        if notebook == "customer_feedback":
            return self.customer_feedback.segment_by == "segment"
        return False


def known_teams(params_dir: Path | None = None) -> list[str]:
    """Team names: every ``params/<team>.yaml`` except ``_defaults.yaml`` and the project's
    own metric definitions, ``metrics.yaml``."""
    folder = params_dir or paths.params_dir()
    return sorted(
        p.stem
        for p in folder.glob("*.yaml")
        if not p.name.startswith("_") and p.name not in NOT_TEAMS
    )


#: files in params/ that are not teams
NOT_TEAMS = ("metrics.yaml",)


class _Refused(yaml.YAMLError):
    """A YAML feature a params file may not use (anchors, aliases, deep nesting)."""

    def __init__(self, problem: str, mark: Any):
        super().__init__(problem)
        self.problem, self.problem_mark = problem, mark


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps an impossible date (2026-02-30) as text, so the schema names its
    key, and refuses anchors, aliases and deep nesting (a few hundred bytes of aliases can
    expand to megabytes of parameters)."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Refused("YAML aliases (*name) are not allowed", event.start_mark)
        if getattr(event, "anchor", None) is not None:
            raise _Refused("YAML anchors (&name) are not allowed", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"values nest deeper than {MAX_DEPTH} levels", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _timestamp_or_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


def _read_yaml(path: Path) -> dict[str, Any]:
    rel = _rel(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)  # never more: the file may be huge, or endless
        if len(raw) > MAX_BYTES:
            raise ParamsError(
                f"{rel}: is larger than {MAX_BYTES // 1024} KB; a params file holds a few keys"
            )
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{rel}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamsError(f"{rel}: cannot be read ({exc.__class__.__name__})") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except _Refused as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise ParamsError(
            f"{rel}: line {line}: {exc.problem}; write every value out in full"
        ) from None
    except RecursionError:
        raise ParamsError(f"{rel}: values nest too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ParamsError(f"{rel}: not valid YAML{where}: {problem}") from None
    except (ValueError, TypeError) as exc:  # e.g. a date like 2026-02-30
        raise ParamsError(f"{rel}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamsError(
            f"{rel}: must be a mapping of keys to values, not a {type(data).__name__}"
        )
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ParamsError(f"{rel}: key {bad[0]!r} must be text")
    return data


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(paths.root()))
    except ValueError:
        return str(path)


def _merge(defaults: dict[str, Any], team: dict[str, Any]) -> dict[str, Any]:
    """Team keys over defaults; notebook sections are merged key by key, one level deep."""
    out = dict(defaults)
    for key, value in team.items():
        if key in NOTEBOOKS and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def load_team(team: str, params_dir: Path | None = None) -> TeamParams:
    """Read, merge and validate one team's parameters.

    Raises
    ------
    WorkbookError
        For an unknown team (naming the known ones), unreadable YAML, an unknown
        key (with "did you mean") or a value of the wrong type or range.
    """
    folder = params_dir or paths.params_dir()
    teams = known_teams(folder)
    if not _TEAM_NAME.match(team or "") or team not in teams:
        raise ParamsError(
            f"unknown team {team!r}{did_you_mean(team, teams)}; known teams: "
            + (", ".join(teams) if teams else f"none (no team files in {_rel(folder)})")
        )
    defaults_path = folder / "_defaults.yaml"
    defaults = _read_yaml(defaults_path) if defaults_path.exists() else {}
    team_path = folder / f"{team}.yaml"
    own = _read_yaml(team_path)
    for key in ("team",):
        if key in own or key in defaults:
            raise ParamsError(
                f"{_rel(team_path if key in own else defaults_path)}: key `{key}` is set by the "
                "file name and must not be written"
            )
    merged = _merge(defaults, own)
    merged["team"] = team
    merged.setdefault("product_area", team)
    if not merged.get("product_area"):
        merged["product_area"] = team
    merged.setdefault("title", team.replace("_", " ").replace("-", " ").title())
    try:
        return TeamParams.model_validate(merged)
    except ValidationError as exc:
        raise ParamsError(_explain(exc, own, team_path, defaults_path)) from None


def _explain(exc: ValidationError, own: dict, team_path: Path, defaults_path: Path) -> str:
    """One line for the first problem: file, dotted key, what is wrong."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"] if not isinstance(p, int)]
    key = ".".join(loc)
    # which file set the key: the team file wins over defaults; a list (rfm_rules) is
    # replaced whole, so the file that set the list is blamed for what is inside it
    in_team = own
    for part in err["loc"]:
        if isinstance(part, int):
            break
        in_team = in_team.get(part) if isinstance(in_team, dict) else None
    src = _rel(team_path) if in_team is not None else _rel(defaults_path)
    if err["type"] == "extra_forbidden":
        model: type[BaseModel] = TeamParams
        for part in loc[:-1]:
            field = model.model_fields.get(part)
            model = _model_in(field.annotation) or model if field else model
        valid = list(model.model_fields)
        hint = did_you_mean(loc[-1], valid) or f"; valid keys: {', '.join(valid)}"
        return f"{src}: unknown key `{key}`{hint}"
    msg = err["msg"]
    msg = msg.removeprefix("Value error, ")
    if loc and loc[0] == "source":
        # a source may be a connection string pasted by mistake: its value is never shown
        return f"{src}: key `{key}` {_expected(err, msg)}"
    # never echo credentials: every URL and keyword form is scrubbed wherever it appears
    shown = scrub(repr(err.get("input")))
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{src}: key `{key}` {_expected(err, msg)}, not {shown}"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model inside an annotation (``RFMRule`` in ``list[RFMRule] | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _expected(err: dict, msg: str) -> str:
    kind = err["type"]
    names = {
        "int_type": "must be a whole number",
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_type": "must be a number",
        "float_parsing": "must be a number",
        "string_type": "must be text",
        "list_type": "must be a list",
        "bool_type": "must be true or false",
        "date_type": "must be a date (YYYY-MM-DD)",
        "date_parsing": "must be a date (YYYY-MM-DD)",
        "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
        "model_type": "must be a mapping of keys to values",
        "dict_type": "must be a mapping of keys to values",
    }
    if kind in names:
        return names[kind]
    ctx = err.get("ctx") or {}
    bounds = {
        "too_short": ("must list at least {min_length} item(s)", "min_length"),
        "greater_than_equal": ("must be at least {ge}", "ge"),
        "greater_than": ("must be more than {gt}", "gt"),
        "less_than_equal": ("must be at most {le}", "le"),
        "less_than": ("must be less than {lt}", "lt"),
    }
    if kind in bounds and bounds[kind][1] in ctx:
        return bounds[kind][0].format(**ctx)
    if kind == "literal_error":
        return "must be " + msg.removeprefix("Input should be ")
    return "is invalid: " + msg[:1].lower() + msg[1:]


def notebook_parameters(
    params: TeamParams, notebook: str, *, as_of: dt.date, run_dir: Path | str
) -> dict[str, Any]:
    """The flat parameters papermill injects into ``notebook`` for this team."""
    if notebook not in NOTEBOOKS:
        raise ParamsError(f"unknown notebook {notebook!r}{did_you_mean(notebook, NOTEBOOKS)}")
    shared = {
        "team": params.team,
        "product_area": params.product_area,
        "source": params.source,
        "as_of": as_of.isoformat(),
        "run_dir": str(run_dir),
    }
    section = params.section(notebook).model_dump(mode="json")
    return {**shared, **section}
