"""The price catalog: seeded from data/prices.csv (every row with a source and a date), editable, audited;
and hosted-API list prices from the `genai-prices` package (its bundled data snapshot, dated).

Which price applies to a hosted model (`api_price`): the catalog row for that model name (data/prices.csv plus
the user's edits: the override a user edits) wins over the genai-prices list price; a model neither knows has
no price (Compare flags it and says how to add one). Every price says where it comes from (`ApiPrice.origin`,
`source`, `as_of`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd

from analytics.compute.costs import check_positive
from analytics.db import PROJECT_ROOT, Workspace, quote_ident, register_app_tables
from analytics.errors import CostInputError

SEED_FILE = PROJECT_ROOT / "data" / "prices.csv"
EDITABLE = ("hourly_usd", "input_per_m_usd", "output_per_m_usd", "peak_tflops", "memory_gb",
            "bandwidth_gbps", "as_of", "source")
register_app_tables("prices", "price_edits")


def seed_prices(ws: Workspace, path: Path = SEED_FILE) -> int:
    """Load the seed file into an empty price catalog; returns rows added (0 when already seeded)."""
    if ws.scalar("select count(*) from prices"):
        return 0
    frame = pd.read_csv(path, dtype={"as_of": "string"})
    frame["as_of"] = pd.to_datetime(frame["as_of"], errors="coerce").dt.date
    frame.insert(0, "price_id", range(1, len(frame) + 1))
    with ws.transaction() as tx:
        if tx.scalar("select count(*) from prices", label="counting prices"):
            return 0  # another session seeded it since the check above (pages call this concurrently)
        tx.insert_frame("prices", frame)
    return len(frame)


def price_table(ws: Workspace, kind: str | None = None) -> pd.DataFrame:
    """The catalog (optionally one kind), with a `label` column for pickers."""
    seed_prices(ws)
    frame = ws.sql(
        "select * from prices where ($kind is null or kind = $kind) "
        "order by kind, name, hourly_usd, input_per_m_usd",
        {"kind": kind},
    )
    frame["label"] = frame["name"] + " · " + frame["provider"]
    return frame


def update_price(ws: Workspace, price_id: int, field: str, value: object, note: str) -> None:
    """Change one field of one price, refusing zero, negative, missing or absurd values; the edit is
    recorded."""
    if field not in EDITABLE:
        raise CostInputError(f"{field!r} cannot be edited; editable fields: {', '.join(EDITABLE)}")
    if not note or not str(note).strip():
        raise CostInputError("say where the new figure comes from (a source or a reason) before saving")
    if field in ("hourly_usd", "input_per_m_usd"):
        value = check_positive(field, value, upper=1000)
    elif field == "output_per_m_usd":
        value = check_positive(field, value, allow_zero=True, upper=1000)
    elif field in ("peak_tflops", "memory_gb", "bandwidth_gbps"):
        blank = value is None or (isinstance(value, float) and math.isnan(value))
        value = None if blank else check_positive(field, value)
    old = ws.scalar(f"select {quote_ident(field)}::varchar from prices where price_id = ?", [price_id])
    if old is None and not ws.scalar("select count(*) from prices where price_id = ?", [price_id]):
        raise CostInputError(f"no price with id {price_id}")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with ws.transaction() as tx:
        tx.execute(f"update prices set {quote_ident(field)} = ? where price_id = ?", [value, price_id],
                   label=f"updating {field} of price {price_id}")
        next_id = tx.scalar("select coalesce(max(edit_id), 0) + 1 from price_edits",
                            label="numbering the edit")
        tx.execute(
            "insert into price_edits values (?, ?, ?, ?, ?, ?, ?)",
            [next_id, price_id, field, old, None if value is None else str(value), str(note).strip(), now],
            label="recording the price edit",
        )


def price_edits(ws: Workspace) -> pd.DataFrame:
    """Every edit, newest first, with the price's name."""
    return ws.sql(
        "select e.edited_at, p.name, p.provider, e.field, e.old_value, e.new_value, e.note "
        "from price_edits e join prices p using (price_id) order by e.edited_at desc, e.edit_id desc"
    )


# -------------------------------------------------------------------------------------- hosted list prices

CATALOG = "catalog"
"""ApiPrice.origin of a price from the workspace's catalog (data/prices.csv and the user's edits)."""
GENAI_PRICES = "genai-prices"
"""ApiPrice.origin of a list price from the genai-prices package's bundled data."""
OVERRIDE = "override"
"""ApiPrice.origin of a price given with the run (config.json "price" not from genai-prices: the user's)."""
LIST_PRICE_PROVIDERS = ("openai", "anthropic", "google", "mistral", "deepseek", "groq")
"""Providers whose current chat models the Prices tab lists from genai-prices."""


@dataclass(frozen=True)
class ApiPrice:
    """The price of a hosted model's tokens and where it comes from."""

    input_per_m_usd: float
    """Dollars per million prompt tokens."""
    output_per_m_usd: float
    """Dollars per million completion tokens."""
    source: str
    """Where the figure was read: the catalog row's source, 'genai-prices 0.2.3 (bundled data)', or the
    user's note."""
    as_of: date | None
    """Date the price applies from or was checked (None: undated)."""
    origin: str
    """CATALOG, GENAI_PRICES or OVERRIDE: which kept source priced it."""
    provider: str | None = None
    """Provider name as that source spells it."""
    model: str | None = None
    """Model name as that source spells it."""
    price_id: int | None = None
    """The catalog row (origin CATALOG), else None."""

    @property
    def label(self) -> str:
        """'catalog: pydantic/genai-prices prices/providers/openai.yml, as of 2025-07-04' and the like."""
        dated = f", as of {self.as_of:%Y-%m-%d}" if self.as_of else ""
        return f"{self.origin}: {self.source}{dated}"


def genai_prices_version() -> str:
    """The installed genai-prices version ('0.2.3')."""
    import genai_prices

    return str(genai_prices.__version__)


@cache
def genai_snapshot_date() -> date | None:
    """The newest price start date in genai-prices' bundled data that is not in the future: the data is at
    least this recent (the package records no snapshot date of its own)."""
    from genai_prices import data_snapshot, types

    today = datetime.now(timezone.utc).date()
    dates = [c.constraint.start_date for p in data_snapshot.get_snapshot().providers for m in p.models
             if isinstance(m.prices, list) for c in m.prices
             if isinstance(c.constraint, types.StartDateConstraint) and c.constraint.start_date <= today]
    return max(dates) if dates else None


def _genai_source() -> str:
    return f"genai-prices {genai_prices_version()} (bundled data)"


def _decimal(value: object) -> float | None:
    """A genai-prices price (Decimal, or TieredPrices: its base) as float dollars per million tokens."""
    base = getattr(value, "base", value)
    try:
        number = float(base)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def genai_list_price(model: str, base_url: str | None = None) -> ApiPrice | None:
    """The genai-prices list price of `model` (at the endpoint `base_url` when genai-prices knows that host,
    else the provider it matches by the model name), or None when it does not know the model.

    as_of is the start date of the price in force today when the data dates it, else the snapshot date
    (`genai_snapshot_date`)."""
    from genai_prices import data_snapshot, types

    snapshot = data_snapshot.get_snapshot()
    found = None
    for url in ([base_url] if base_url else []) + [None]:
        try:
            found = snapshot.find_provider_model(str(model), None, None, url)
            break
        except LookupError:
            continue
    if found is None:
        return None
    provider, info = found
    now = datetime.now(timezone.utc)
    prices = info.get_prices(now)
    tokens_in, tokens_out = _decimal(getattr(prices, "input_mtok", None)), \
        _decimal(getattr(prices, "output_mtok", None))
    if tokens_in is None or tokens_in <= 0:
        return None
    as_of = genai_snapshot_date()
    if isinstance(info.prices, list):
        started = [c.constraint.start_date for c in info.prices
                   if isinstance(c.constraint, types.StartDateConstraint)
                   and c.constraint.start_date <= now.date()]
        as_of = max(started) if started else as_of
    return ApiPrice(tokens_in, tokens_out or 0.0, _genai_source(), as_of, GENAI_PRICES, provider.name,
                    info.id)


def genai_price_table(models: list[str] | tuple[str, ...] = (),
                      providers: tuple[str, ...] = LIST_PRICE_PROVIDERS) -> pd.DataFrame:
    """List prices from genai-prices: every model in `models` it knows, then the current (not deprecated)
    token-priced models of `providers`. Columns: model, provider, input_per_m_usd, output_per_m_usd, as_of,
    source."""
    from genai_prices import data_snapshot

    rows: dict[tuple[str, str], dict[str, object]] = {}
    for name in models:
        price = genai_list_price(name)
        if price is not None:
            rows[(str(price.provider), str(name).lower())] = _list_row(str(name), price)
    for provider in data_snapshot.get_snapshot().providers:
        if provider.id not in providers:
            continue
        for info in provider.models:
            if info.deprecated or (provider.name, info.id.lower()) in rows:
                continue
            price = genai_list_price(info.id, None)
            if price is not None and price.provider == provider.name:
                rows[(provider.name, info.id.lower())] = _list_row(info.id, price)
    return pd.DataFrame(list(rows.values()), columns=["model", "provider", "input_per_m_usd",
                                                      "output_per_m_usd", "as_of", "source"])


def _list_row(model: str, price: ApiPrice) -> dict[str, object]:
    return {"model": model, "provider": price.provider, "input_per_m_usd": price.input_per_m_usd,
            "output_per_m_usd": price.output_per_m_usd, "as_of": price.as_of, "source": price.source}


def catalog_api_price(catalog: pd.DataFrame, model: str, base_url: str | None = None) -> ApiPrice | None:
    """The catalog's API row for `model` (same name, case and a leading 'provider/' ignored); with several
    providers, the one named in the endpoint's host ('openai' in api.openai.com), else the first."""
    wanted = str(model).split("/")[-1].strip().lower()
    apis = catalog[(catalog["kind"] == "api") & (catalog["name"].str.lower().str.strip() == wanted)]
    if apis.empty:
        return None
    host = (urlsplit(base_url).hostname or "").lower() if base_url else ""
    hosted = apis[[str(p).split()[0].lower() in host for p in apis["provider"]]] if host else apis.iloc[:0]
    row = (hosted if len(hosted) else apis).iloc[0]
    as_of = row["as_of"]
    as_of = None if as_of is None or pd.isna(as_of) else pd.Timestamp(as_of).date()
    return ApiPrice(float(row["input_per_m_usd"]), float(row["output_per_m_usd"]), str(row["source"]), as_of,
                    CATALOG, str(row["provider"]), str(row["name"]), int(row["price_id"]))


def api_price(catalog: pd.DataFrame, model: str, base_url: str | None = None) -> ApiPrice | None:
    """The price of a hosted model: the catalog row (the user's override) first, else genai-prices' list
    price, else None."""
    return catalog_api_price(catalog, model, base_url) or genai_list_price(model, base_url)
