"""Daily price data from a source URI: `fred:SERIES`, `csv:PATH_OR_URL`, `synthetic:SEED`.

Every loader returns a `Dataset` whose frame has a sorted `DatetimeIndex` named
`Date` and Title-case price columns: `Open, High, Low, Close, Volume` (OHLCV
sources) or `Close` alone (single-price sources such as FRED series). Loaders
make one attempt; retrying with backoff is the Prefect task's job, and no
loader ever falls back from real to synthetic data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mlcadence.pipeline.errors import DataUnavailable, InvalidSource
from mlcadence.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

OHLCV = ("Open", "High", "Low", "Close", "Volume")
OFFLINE_HINT = "To train without a network, use --source synthetic:42 or --source csv:PATH."


@dataclass
class Dataset:
    """Prices from one source, plus what is needed to say where they came from."""

    source: str
    frame: pd.DataFrame
    dropped_missing: int = 0  # rows the source marked as missing (FRED holidays)

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def start(self) -> str | None:
        return self.frame.index.min().date().isoformat() if self.rows else None

    @property
    def end(self) -> str | None:
        return self.frame.index.max().date().isoformat() if self.rows else None

    @property
    def digest(self) -> str:
        """sha256 of a canonical CSV rendering: same data → same digest, any loader."""
        text = self.frame.to_csv(date_format="%Y-%m-%d", float_format="%.10g", lineterminator="\n")
        return hashlib.sha256(text.encode()).hexdigest()

    def describe(self) -> dict[str, str]:
        return {
            "source": self.source,
            "start": self.start or "",
            "end": self.end or "",
            "rows": str(self.rows),
            "digest": self.digest,
        }


DateLike = str | date | None


def load(uri: str, start: DateLike = None, end: DateLike = None) -> Dataset:
    """Load `uri` restricted to [start, end] (inclusive, either may be open)."""
    scheme, sep, rest = uri.partition(":")
    loader = LOADERS.get(scheme.lower()) if sep else None
    if loader is None or not rest:
        raise InvalidSource(
            f"unknown source {uri!r}: use one of "
            + ", ".join(f"{name}:{arg}" for name, arg in SOURCE_FORMS.items())
        )
    return loader(uri, rest, _parse_date(start, "start"), _parse_date(end, "end"))


def _parse_date(value: DateLike, what: str) -> pd.Timestamp | None:
    import pandas as pd

    if value in (None, ""):
        return None
    try:
        return pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InvalidSource(f"{what} date {value!r} is not a date: use YYYY-MM-DD") from exc


def _restrict(frame: pd.DataFrame, start, end) -> pd.DataFrame:
    if start is not None:
        frame = frame[frame.index >= start]
    if end is not None:
        frame = frame[frame.index <= end]
    return frame


# -- synthetic ----------------------------------------------------------------
SYNTHETIC_START = "2019-01-01"
SYNTHETIC_DAYS = 1500


def load_synthetic(uri: str, seed_text: str, start, end) -> Dataset:
    """A deterministic random walk with a little momentum in the daily moves, so
    a model has something to find but not much (like real prices)."""
    import numpy as np
    import pandas as pd

    try:
        seed = int(seed_text)
    except ValueError as exc:
        raise InvalidSource(
            f"synthetic source needs an integer seed, e.g. synthetic:42, got {uri!r}"
        ) from exc
    rng = np.random.default_rng(seed)
    n = SYNTHETIC_DAYS
    # Intraday log-returns follow AR(1): today's move leans on yesterday's.
    shocks = rng.normal(0.0, 0.02, n)
    intraday = np.empty(n)
    intraday[0] = shocks[0]
    for i in range(1, n):
        intraday[i] = 0.25 * intraday[i - 1] + shocks[i]
    overnight = rng.normal(0.0, 0.005, n)
    opens = np.empty(n)
    closes = np.empty(n)
    price = 100.0
    for i in range(n):
        opens[i] = price * np.exp(overnight[i])
        closes[i] = opens[i] * np.exp(intraday[i])
        price = closes[i]
    spread = np.abs(rng.normal(0.0, 0.01, (2, n)))
    frame = pd.DataFrame(
        {
            "Open": opens,
            "High": np.maximum(opens, closes) * (1 + spread[0]),
            "Low": np.minimum(opens, closes) * (1 - spread[1]),
            "Close": closes,
            "Volume": rng.lognormal(12.0, 0.5, n).round(),
        },
        index=pd.date_range(SYNTHETIC_START, periods=n, freq="D", name="Date"),
    )
    return Dataset(source=uri, frame=_restrict(frame, start, end))


# -- csv ----------------------------------------------------------------------
DATE_COLUMNS = ("date", "observation_date", "datetime", "timestamp")


def load_csv(uri: str, location: str, start, end) -> Dataset:
    """A CSV (path or http(s) URL) with a Date column and OHLCV columns, or a
    Date column and exactly one price column (taken as Close)."""
    import pandas as pd

    is_url = location.startswith(("http://", "https://"))
    if not is_url and not Path(location).expanduser().exists():
        raise InvalidSource(f"csv source {location!r} does not exist: give a file path or URL")
    try:
        raw = pd.read_csv(location if is_url else Path(location).expanduser(), na_values=[".", ""])
    except (OSError, ValueError) as exc:
        if is_url:
            raise DataUnavailable(
                f"could not read {location} ({_first_line(exc)}). {OFFLINE_HINT}"
            ) from exc
        raise InvalidSource(f"could not read csv {location!r}: {exc}") from exc
    return Dataset(source=uri, frame=_restrict(_normalise_columns(raw, location), start, end))


def _normalise_columns(raw: pd.DataFrame, where: str) -> pd.DataFrame:
    import pandas as pd

    by_lower = {str(c).strip().lower(): c for c in raw.columns}
    date_col = next((by_lower[d] for d in DATE_COLUMNS if d in by_lower), None)
    if date_col is None:
        raise InvalidSource(f"{where}: no Date column (looked for {', '.join(DATE_COLUMNS)})")
    try:
        index = pd.DatetimeIndex(pd.to_datetime(raw[date_col]), name="Date")
    except (ValueError, TypeError) as exc:
        raise InvalidSource(f"{where}: column {date_col!r} does not hold dates: {exc}") from exc
    prices = raw.drop(columns=[date_col])
    present = {name: by_lower[name.lower()] for name in OHLCV if name.lower() in by_lower}
    if "Close" in present and "Open" in present:
        frame = prices[list(present.values())].rename(columns={v: k for k, v in present.items()})
    elif prices.shape[1] == 1:
        frame = prices.set_axis(["Close"], axis=1)
    elif "Close" in present:
        frame = prices[[present["Close"]]].set_axis(["Close"], axis=1)
    else:
        raise InvalidSource(
            f"{where}: need Open and Close columns, or a single price column; "
            f"found {', '.join(map(str, prices.columns))}"
        )
    frame = frame.apply(pd.to_numeric, errors="coerce").astype(float)
    frame.index = index
    return frame


# -- FRED ---------------------------------------------------------------------
def fred_url() -> str | None:
    """Where pandas-datareader's FRED reader fetches `fredgraph.csv`, when not
    FRED itself: a mirror, or a test server speaking FRED's CSV format. Read per
    call, not cached, so a test can repoint it."""
    return Settings().fred_url


def _fred_reader_class(url: str | None):
    from pandas_datareader.fred import FredReader

    if url is None:
        return FredReader
    # The reader builds `<url>?id=<SERIES>` from its `url` property; pointing
    # that property elsewhere is all a mirror needs.
    return type("MirroredFredReader", (FredReader,), {"url": property(lambda self: url)})


def load_fred(uri: str, series: str, start, end) -> Dataset:
    """One FRED series through pandas-datareader's FRED reader, one attempt."""
    import pandas as pd
    import requests
    from pandas_datareader._utils import RemoteDataError

    reader_class = _fred_reader_class(fred_url())
    reader = reader_class(series, start=start, end=end, retry_count=0, timeout=15)
    try:
        raw = reader.read()
    except (RemoteDataError, requests.RequestException, OSError) as exc:
        raise DataUnavailable(
            f"could not fetch the FRED series {series} from {reader.url} ({_first_line(exc)}). "
            f"Check the network and the series id. {OFFLINE_HINT}"
        ) from exc
    column = raw.iloc[:, 0] if raw.shape[1] else pd.Series(dtype=float)
    missing = int(column.isna().sum())
    # FRED writes "." for days without an observation (holidays); they are gaps,
    # not errors, so they are dropped here and counted.
    frame = column.dropna().astype(float).to_frame("Close")
    frame.index = pd.DatetimeIndex(frame.index, name="Date")
    if frame.empty:
        raise InvalidSource(f"FRED series {series!r} has no observations between {start} and {end}")
    return Dataset(source=uri, frame=frame, dropped_missing=missing)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().rstrip(".")
    return text.splitlines()[0] if text else type(exc).__name__


Loader = Callable[[str, str, "pd.Timestamp | None", "pd.Timestamp | None"], Dataset]
LOADERS: dict[str, Loader] = {"fred": load_fred, "csv": load_csv, "synthetic": load_synthetic}
SOURCE_FORMS = {"fred": "SERIES", "csv": "PATH_OR_URL", "synthetic": "SEED"}
SOURCE_PATTERN = r"^(fred|csv|synthetic):.+$"


# -- content keys -------------------------------------------------------------
# What a cached copy of `load(uri, start, end)` must match to be reused: a key
# that changes whenever the data the source would return may have changed, or
# None when that cannot be known without fetching it (then nothing is cached).
URL_VALIDATOR_TIMEOUT = 10  # seconds for the HEAD request that reads a URL's validators


def content_key(uri: str, start: DateLike = None, end: DateLike = None, today=None) -> str | None:
    """The cache key of `load(uri, start, end)` (see above); `today` (UTC by
    default) decides whether an open-ended FRED range may have new days."""
    scheme, sep, rest = uri.partition(":")
    keyer = CONTENT_KEYS.get(scheme.lower()) if sep else None
    if keyer is None or not rest:
        return None
    dates = f"{start or ''}..{end or ''}"
    key = keyer(rest, _parse_date(end, "end"), today or datetime.now(UTC).date())
    return None if key is None else f"{uri}|{dates}|{key}"


def file_fingerprint(path: Path) -> str | None:
    """Absolute path, size, mtime and sha256 of a local file (None if missing).
    The digest catches an edit that kept size and mtime (a copy with -p, a
    coarse clock); path and mtime make two same-content files distinct sources."""
    try:
        resolved = path.expanduser().resolve()
        stat = resolved.stat()
        digest = hashlib.sha256(resolved.read_bytes()).hexdigest()
    except OSError:
        return None
    return f"file:{resolved}:{stat.st_size}:{stat.st_mtime_ns}:{digest}"


def url_validators(url: str) -> str | None:
    """The URL's ETag and Last-Modified from a HEAD request; None when the
    server gives neither (or no answer): such a URL is fetched every time."""
    import requests

    try:
        response = requests.head(url, timeout=URL_VALIDATOR_TIMEOUT, allow_redirects=True)
    except requests.RequestException:
        return None
    etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
    if response.status_code != 200 or not (etag or modified):
        return None
    return f"url:{response.url}:etag={etag or ''}:last-modified={modified or ''}"


def _csv_key(location: str, end, today: date) -> str | None:
    if location.startswith(("http://", "https://")):
        return url_validators(location)
    return file_fingerprint(Path(location))


def _fred_key(series: str, end, today: date) -> str:
    # FRED publishes daily series once a day (crypto series on weekends too):
    # a range that is open, or ends today or later, may gain a day at the next
    # publication, so its key carries today's date and expires with it. A
    # closed past range is history and keeps its key.
    mirror = fred_url() or "fred"
    if end is None or end.date() >= today:
        return f"fred:{mirror}:{series}:as-of={today.isoformat()}"
    return f"fred:{mirror}:{series}"


def _synthetic_key(seed: str, end, today: date) -> str:
    return f"synthetic:{seed}"  # deterministic: the seed is the content


ContentKey = Callable[[str, "pd.Timestamp | None", date], "str | None"]
CONTENT_KEYS: dict[str, ContentKey] = {
    "csv": _csv_key,
    "fred": _fred_key,
    "synthetic": _synthetic_key,
}
