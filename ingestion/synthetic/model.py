"""The generator's model: one batch per entity and day, with its deliberately bad records tagged.

Every (entity, day) draws from its own `random.Random` seeded with ``"<seed>:<entity>:<day>"``, so a batch
depends only on the configuration and on the customers and products of the days up to it, never on which
other batches were generated in the same process. Time is integer seconds since the Unix epoch (UTC),
anchored at the configured start date: nothing reads the wall clock.

Volumes (rounded): day 0 holds ``sf`` x (100k customers, 5k products, 300k orders, 200k reviews, 1M app
events) spread over the year before the start date (customers and products over the three years before);
each later day holds ``sf`` x (2k new customers + 1k customer updates, 100 products, 6k orders, 4k reviews,
20k events) within that day. Order lines follow the orders (1-6 each, about 3.3 on average). Finance
ledger entries (``sf`` x 12k on day 0, 400 a day later) are independent of the orders: revenue and expense
bookings with a category, an amount and a note.

``Config.anomaly_date`` makes one day a known revenue spike: every order line of an order placed on that
UTC date has its quantity multiplied by ``anomaly_factor``. Only quantities change (no random draw is added
or skipped), so every other value of every file stays as it would be without the option.
"""

from __future__ import annotations

import bisect
import functools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ingestion.synthetic.pools import Pools, build_pools
from transforms import contract as c

DAY_SECONDS = 86_400
_YEAR_SECONDS = 365 * DAY_SECONDS
_EPOCH = date(1970, 1, 1)

INITIAL_ROWS_PER_SF: dict[str, int] = {
    c.CUSTOMERS: 100_000,
    c.PRODUCTS: 5_000,
    c.ORDERS: 300_000,
    c.REVIEWS: 200_000,
    c.APP_EVENTS: 1_000_000,
    c.FINANCE_ENTRIES: 12_000,
}
"""Rows of day 0 at SF1 (order lines follow the orders)."""

DAILY_ROWS_PER_SF: dict[str, int] = {
    c.CUSTOMERS: 2_000,
    c.PRODUCTS: 100,
    c.ORDERS: 6_000,
    c.REVIEWS: 4_000,
    c.APP_EVENTS: 20_000,
    c.FINANCE_ENTRIES: 400,
}
"""New rows of each later day at SF1 (customers: new customers; updates come on top)."""

DAILY_CUSTOMER_UPDATES_PER_SF = 1_000
MIN_ROWS_FOR_EVERY_DEFECT = 50
"""A batch with at least this many rows carries every defect kind of its entity (when bad_fraction > 0)."""

# Orphan foreign keys point into id ranges the generator never hands out.
ORPHAN_CUSTOMER_FROM = 9_900_000
ORPHAN_PRODUCT_FROM = 99_000

_BAD_NUMBERS = ("n/a", "12,50", "1.2.3", "abc", "--", "9.99 EUR")
_BAD_DATES = ("2025-02-30T10:00:00Z", "31/12/2025 10:00", "not-a-date", "2025-13-01T00:00:00Z", "yesterday")
_OUT_OF_RANGE_RATINGS = (0, 6, 7, 10, -1)
# (mean, standard deviation) of a ledger entry's amount in EUR, per category.
_FINANCE_AMOUNTS: dict[str, tuple[float, float]] = {
    "sales": (2_500.0, 900.0),
    "services": (1_200.0, 500.0),
    "licensing": (800.0, 300.0),
    "payroll": (3_000.0, 800.0),
    "marketing": (600.0, 250.0),
    "hosting": (400.0, 120.0),
    "logistics": (350.0, 150.0),
    "office": (150.0, 80.0),
}

Row = tuple[Any, ...]
Mutator = Callable[[Row, random.Random], Row]


@dataclass(frozen=True)
class Config:
    """What determines the output: scale factor, seed, number of days, bad fraction and start date."""

    sf: float = 0.01
    seed: int = 7
    days: int = 1
    bad_fraction: float = 0.02
    start: date = date(2026, 1, 1)
    anomaly_date: date | None = None
    anomaly_factor: int = 10

    def __post_init__(self) -> None:
        if not self.sf > 0:
            raise ValueError(f"sf must be positive, got {self.sf}")
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")
        if not 0 <= self.bad_fraction <= 0.5:
            raise ValueError(f"bad_fraction must be within [0, 0.5], got {self.bad_fraction}")
        if self.anomaly_factor < 2:
            raise ValueError(f"anomaly_factor must be at least 2 (a spike), got {self.anomaly_factor}")
        customers = planned_rows(c.CUSTOMERS, self.sf, 0) + (self.days - 1) * planned_rows(
            c.CUSTOMERS, self.sf, 1
        )
        products = planned_rows(c.PRODUCTS, self.sf, 0) + (self.days - 1) * planned_rows(
            c.PRODUCTS, self.sf, 1
        )
        if customers >= ORPHAN_CUSTOMER_FROM or products >= ORPHAN_PRODUCT_FROM:
            raise ValueError(f"sf={self.sf} with days={self.days} overflows the customer or product id space")

    def batch_date(self, day: int) -> date:
        """The batch date (folder name) of ``day``: the start date plus ``day`` days."""
        return self.start + timedelta(days=day)


def planned_rows(entity: str, sf: float, day: int) -> int:
    """Rows in the file of ``entity`` on ``day`` (duplicates included); not defined for order lines."""
    if entity == c.ORDER_LINES:
        raise ValueError("order lines follow the orders; their count is in the summary")
    if day == 0:
        return max(1, round(INITIAL_ROWS_PER_SF[entity] * sf))
    rows = round(DAILY_ROWS_PER_SF[entity] * sf)
    if entity == c.CUSTOMERS:
        rows += round(DAILY_CUSTOMER_UPDATES_PER_SF * sf)
    return rows


def defect_plan(entity: str, rows: int, bad_fraction: float, day: int) -> dict[str, int]:
    """How many records of each defect kind a batch of ``rows`` rows carries.

    ``round(rows * bad_fraction)`` in all, at least one of each kind when the batch has 50 rows or more,
    spread evenly over the kinds (late events only after day 0, as day 0 has no earlier day).
    """
    kinds = [kind for kind, _ in c.DEFECTS[entity] if not (kind == c.LATE_EVENT and day == 0)]
    if bad_fraction <= 0 or rows <= 0:
        return {}
    total = round(rows * bad_fraction)
    if rows >= MIN_ROWS_FOR_EVERY_DEFECT:
        total = max(total, len(kinds))
    total = min(total, rows // 2)
    shift = day % len(kinds)  # small batches: rotate which kinds get the remainder
    base, extra = divmod(total, len(kinds))
    counts = {kind: base + (1 if (i - shift) % len(kinds) < extra else 0) for i, kind in enumerate(kinds)}
    return {kind: count for kind, count in counts.items() if count}


@dataclass
class Batch:
    """The rows of one entity's file on one day, in file order, with each row's defect (None if clean)."""

    entity: str
    day: int
    rows: list[Row]
    defects: list[str | None]

    @property
    def bad(self) -> int:
        """Rows that carry a defect (all are listed in the manifest)."""
        return sum(1 for defect in self.defects if defect is not None)


@functools.cache
def _times_of_day() -> tuple[str, ...]:
    return tuple(f"{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60))


class _Clock:
    """Formats epoch seconds as ``YYYY-MM-DDTHH:MM:SSZ`` with two lookups instead of a datetime per row."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}
        self._tod = _times_of_day()

    def iso(self, seconds: int) -> str:
        day, rest = divmod(seconds, DAY_SECONDS)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = (_EPOCH + timedelta(days=day)).isoformat() + "T"
        return prefix + self._tod[rest]


def _set(row: Row, index: int, value: object) -> Row:
    return (*row[:index], value, *row[index + 1 :])


def _in_2099(timestamp: str) -> str:
    month_day = timestamp[5:10]
    return "2099" + (timestamp[4:] if month_day != "02-29" else "-02-28" + timestamp[10:])


def _days_earlier(timestamp: str, days: int) -> str:
    return (date.fromisoformat(timestamp[:10]) - timedelta(days=days)).isoformat() + timestamp[10:]


def _inject(
    base_rows: list[Row], plan: dict[str, int], rng: random.Random, mutators: dict[str, Mutator]
) -> tuple[list[Row], list[str | None], list[str | None]]:
    """Apply ``plan`` to ``base_rows``: mutate some rows, insert exact copies of clean ones.

    Returns the file's rows, their defects, and the defect of each base row (to know which stayed clean).
    Each copy lands after its original, at a random later position.
    """
    n = len(base_rows)
    kinds = [kind for kind, count in plan.items() if kind != c.EXACT_DUPLICATE for _ in range(count)]
    duplicates = plan.get(c.EXACT_DUPLICATE, 0)
    picked = rng.sample(range(n), min(n, len(kinds) + duplicates))
    base_defects: list[str | None] = [None] * n
    for index, kind in zip(picked, kinds, strict=False):
        base_rows[index] = mutators[kind](base_rows[index], rng)
        base_defects[index] = kind
    sources = sorted(picked[len(kinds) :])
    if not sources:
        return base_rows, list(base_defects), base_defects
    inserts = sorted((rng.randrange(source, n), source) for source in sources)
    rows: list[Row] = []
    defects: list[str | None] = []
    previous = 0
    for after, source in inserts:
        rows.extend(base_rows[previous : after + 1])
        defects.extend(base_defects[previous : after + 1])
        rows.append(base_rows[source])
        defects.append(c.EXACT_DUPLICATE)
        previous = after + 1
    rows.extend(base_rows[previous:])
    defects.extend(base_defects[previous:])
    return rows, defects, base_defects


@dataclass
class OrderFacts:
    """What later batches of the same day need to know about the day's orders (for lines and reviews)."""

    order_ids: list[str]
    customer_ids: list[str]
    ordered_at: list[int]
    line_counts: list[int]
    is_clean: list[bool]


class World:
    """Generates the batches day by day; holds the customers and products that clean records may reference.

    Customers and products must be generated in day order (``customers(0)``, ``products(0)``,
    ``customers(1)``, ...); orders, order lines, reviews and events of a day may then be generated in any
    order and any number of times.
    """

    def __init__(self, config: Config, pools: Pools | None = None) -> None:
        self.config = config
        self.pools = pools or build_pools(config.seed)
        self._clock = _Clock()
        self._start = (config.start - _EPOCH).days * DAY_SECONDS
        # Valid customers (their first row was clean), ascending by signup time, and their current state.
        self._customer_ids: list[str] = []
        self._customer_signups: list[int] = []
        self._customer_regions: list[str] = []
        self._customer_position: dict[str, int] = {}
        self._customer_latest: dict[str, Row] = {}
        self._next_customer = 1
        self._customers_day = -1
        # Valid products, ascending by launch time.
        self._product_ids: list[str] = []
        self._product_launches: list[int] = []
        self._product_prices: list[str] = []
        self._next_product = 1
        self._products_day = -1

    # -- helpers -------------------------------------------------------------------------------------------
    def _rng(self, entity: str, day: int) -> random.Random:
        return random.Random(f"{self.config.seed}:{entity}:{day}")

    def _window(self, day: int) -> tuple[int, int]:
        """Seconds [low, high) in which the records of ``day`` happen."""
        if day == 0:
            return self._start - _YEAR_SECONDS, self._start
        low = self._start + day * DAY_SECONDS
        return low, low + DAY_SECONDS

    def _master_window(self, day: int) -> tuple[int, int]:
        """Like `_window`, but day 0 customers and products go three years back."""
        if day == 0:
            return self._start - 3 * _YEAR_SECONDS, self._start
        return self._window(day)

    def _anomaly_window(self) -> tuple[int, int]:
        """Seconds [low, high) of the configured anomalous day (an empty range without one)."""
        if self.config.anomaly_date is None:
            return 0, 0
        low = (self.config.anomaly_date - _EPOCH).days * DAY_SECONDS
        return low, low + DAY_SECONDS

    def _plan(self, entity: str, rows: int, day: int) -> dict[str, int]:
        return defect_plan(entity, rows, self.config.bad_fraction, day)

    def _first_number(self, entity: str, day: int) -> int:
        """First sequence number of ``entity`` on ``day``: ids run on over the days without gaps."""
        number = 1
        for earlier in range(day):
            rows = planned_rows(entity, self.config.sf, earlier)
            number += rows - self._plan(entity, rows, earlier).get(c.EXACT_DUPLICATE, 0)
        return number

    # -- customers -----------------------------------------------------------------------------------------
    def customers(self, day: int) -> Batch:
        """New customers of ``day`` and (after day 0) changed customers re-sent in full."""
        if day != self._customers_day + 1:
            raise ValueError(f"customers must be generated day by day; next is day {self._customers_day + 1}")
        rng = self._rng(c.CUSTOMERS, day)
        rows_total = planned_rows(c.CUSTOMERS, self.config.sf, day)
        plan = self._plan(c.CUSTOMERS, rows_total, day)
        base_total = rows_total - plan.get(c.EXACT_DUPLICATE, 0)
        updates_wanted = 0 if day == 0 else round(DAILY_CUSTOMER_UPDATES_PER_SF * self.config.sf)
        updates = min(max(0, updates_wanted - plan.get(c.EXACT_DUPLICATE, 0)), len(self._customer_ids))
        low, high = self._master_window(day)
        signups = sorted(rng.randrange(low, high) for _ in range(base_total - updates))
        new_rows = self._new_customers(rng, signups, high)
        update_rows = self._customer_updates(rng, updates, day)
        mutators: dict[str, Mutator] = {
            c.NULL_KEY: lambda row, _rng: _set(row, 0, None),
            c.UNPARSEABLE_DATE: lambda row, r: _set(row, 6, r.choice(_BAD_DATES)),
        }
        rows, defects, base_defects = _inject(new_rows + update_rows, plan, rng, mutators)
        for index, (row, signup) in enumerate(zip(new_rows, signups, strict=True)):
            if base_defects[index] is None:
                self._add_customer(row, signup)
        for index, row in enumerate(update_rows, start=len(new_rows)):
            if base_defects[index] is None:
                customer_id = row[0]
                self._customer_latest[customer_id] = row
                self._customer_regions[self._customer_position[customer_id]] = row[4].upper()
        self._next_customer += len(new_rows)
        self._customers_day = day
        return Batch(c.CUSTOMERS, day, rows, defects)

    def _new_customers(self, rng: random.Random, signups: list[int], high: int) -> list[Row]:
        pools, iso, rand, randrange = self.pools, self._clock.iso, rng.random, rng.randrange
        count = len(signups)
        countries = rng.choices(pools.country_codes, cum_weights=pools.country_cum_weights, k=count)
        segments = rng.choices(c.SEGMENTS, cum_weights=(0.70, 0.92, 1.0), k=count)
        domains = pools.email_domains
        rows: list[Row] = []
        for i in range(count):
            number = self._next_customer + i
            country = countries[i]
            names = pools.names_by_country[country]
            first_index, last_index = randrange(len(names.first)), randrange(len(names.last))
            first_ascii, last_ascii = names.first_ascii[first_index], names.last_ascii[last_index]
            domain = domains[randrange(len(domains))]
            noise = rand()
            if noise < 0.04:  # raw e-mails come with upper case or stray spaces; silver cleans them
                email = f"{first_ascii}.{last_ascii}{number}@{domain}"
            elif noise < 0.07:
                email = f" {first_ascii.lower()}.{last_ascii.lower()}{number}@{domain} "
            else:
                email = f"{first_ascii.lower()}.{last_ascii.lower()}{number}@{domain}"
            signup = signups[i]
            updated = signup if rand() < 0.75 else randrange(signup, high)
            rows.append(
                (
                    f"C{number:07d}",
                    f"{names.first[first_index]} {names.last[last_index]}",
                    email,
                    _noisy_country(country, rand()),
                    _noisy_region(pools.region_by_country[country], rand()),
                    segments[i],
                    iso(signup),
                    "true" if rand() < 0.93 else "false",
                    iso(updated),
                )
            )
        return rows

    def _customer_updates(self, rng: random.Random, count: int, day: int) -> list[Row]:
        """Re-sent customers with exactly one of segment, country or e-mail changed, later updated_at."""
        if count == 0:
            return []
        low, high = self._window(day)
        pools = self.pools
        picked = rng.sample(range(len(self._customer_ids)), count)
        times = sorted(rng.randrange(low, high) for _ in range(count))
        rows: list[Row] = []
        for position, updated in zip(picked, times, strict=True):
            customer_id = self._customer_ids[position]
            row = self._customer_latest[customer_id]
            change = rng.random()
            if change < 0.4:
                segment = rng.choice([s for s in c.SEGMENTS if s != row[5]])
                row = _set(row, 5, segment)
            elif change < 0.7:
                current = row[3].strip().upper()
                country = rng.choice([code for code in pools.country_codes if code != current])
                row = _set(row, 3, _noisy_country(country, rng.random()))
                row = _set(row, 4, _noisy_region(pools.region_by_country[country], rng.random()))
            else:
                local, _, old_domain = row[2].strip().lower().partition("@")
                domain = rng.choice([d for d in pools.email_domains if d != old_domain])
                row = _set(row, 2, f"{local}.{day}@{domain}")
            rows.append(_set(row, 8, self._clock.iso(updated)))
        return rows

    def _add_customer(self, row: Row, signup: int) -> None:
        customer_id = row[0]
        self._customer_position[customer_id] = len(self._customer_ids)
        self._customer_ids.append(customer_id)
        self._customer_signups.append(signup)
        self._customer_regions.append(row[4].upper())
        self._customer_latest[customer_id] = row

    # -- products ------------------------------------------------------------------------------------------
    def products(self, day: int) -> Batch:
        """Products launched on ``day`` (day 0: the catalogue launched over the three years before)."""
        if day != self._products_day + 1:
            raise ValueError(f"products must be generated day by day; next is day {self._products_day + 1}")
        rng = self._rng(c.PRODUCTS, day)
        rows_total = planned_rows(c.PRODUCTS, self.config.sf, day)
        plan = self._plan(c.PRODUCTS, rows_total, day)
        count = rows_total - plan.get(c.EXACT_DUPLICATE, 0)
        low, high = self._master_window(day)
        pools, iso, rand, randrange = self.pools, self._clock.iso, rng.random, rng.randrange
        launches = sorted(randrange(low, high) for _ in range(count))
        categories = rng.choices(c.CATEGORIES, cum_weights=(0.25, 0.50, 0.65, 0.80, 1.0), k=count)
        words = pools.product_words
        base_rows: list[Row] = []
        for i in range(count):
            category = categories[i]
            noun, suffix = rng.choice(pools.nouns[category]), rng.choice(pools.suffixes)
            name = f"{words[randrange(len(words))]} {noun}{suffix}"
            price = max(5.0, rng.gauss(120.0, 60.0))
            launched = launches[i]
            updated = launched if rand() < 0.8 else randrange(launched, high)
            base_rows.append(
                (
                    f"P{self._next_product + i:05d}",
                    name,
                    category,
                    f"{price:.2f}",
                    iso(launched),
                    iso(updated),
                )
            )
        mutators: dict[str, Mutator] = {
            c.NULL_KEY: lambda row, _rng: _set(row, 0, None),
            c.UNPARSEABLE_NUMBER: lambda row, r: _set(row, 3, r.choice(_BAD_NUMBERS)),
        }
        product_rows = list(base_rows)
        rows, defects, base_defects = _inject(base_rows, plan, rng, mutators)
        for row, launched, defect in zip(product_rows, launches, base_defects, strict=True):
            if defect is None:
                self._product_ids.append(row[0])
                self._product_launches.append(launched)
                self._product_prices.append(row[3])
        self._next_product += count
        self._products_day = day
        return Batch(c.PRODUCTS, day, rows, defects)

    def _require_masters(self, day: int) -> None:
        if self._customers_day < day or self._products_day < day:
            raise ValueError(f"generate customers and products up to day {day} first")

    # -- orders and lines ----------------------------------------------------------------------------------
    def orders(self, day: int) -> tuple[Batch, OrderFacts]:
        """Orders placed on ``day``, by customers who had signed up by then."""
        self._require_masters(day)
        rng = self._rng(c.ORDERS, day)
        rows_total = planned_rows(c.ORDERS, self.config.sf, day)
        plan = self._plan(c.ORDERS, rows_total, day)
        count = rows_total - plan.get(c.EXACT_DUPLICATE, 0)
        low, high = self._window(day)
        iso, rand, randrange = self._clock.iso, rng.random, rng.randrange
        first = self._first_number(c.ORDERS, day)
        times = sorted(randrange(low, high) for _ in range(count))
        channels = rng.choices(c.CHANNELS, cum_weights=(0.55, 0.90, 1.0), k=count)
        line_counts = rng.choices(range(1, 7), cum_weights=(0.14, 0.34, 0.56, 0.76, 0.90, 1.0), k=count)
        signups, ids, regions = self._customer_signups, self._customer_ids, self._customer_regions
        facts = OrderFacts([], [], [], line_counts, [])
        base_rows: list[Row] = []
        for i in range(count):
            ordered = times[i]
            position = randrange(max(1, bisect.bisect_right(signups, ordered)))
            status, updated = _status(high - ordered, ordered, rand, randrange)
            region = regions[position]
            order_id = f"O{first + i:08d}"
            base_rows.append(
                (
                    order_id,
                    ids[position],
                    iso(ordered),
                    status,
                    region.lower() if rand() < 0.05 else region,
                    channels[i],
                    iso(min(updated, high - 1)),
                )
            )
            facts.order_ids.append(order_id)
            facts.customer_ids.append(ids[position])
            facts.ordered_at.append(ordered)
        mutators: dict[str, Mutator] = {
            c.NULL_KEY: lambda row, _rng: _set(row, 0, None),
            c.UNPARSEABLE_DATE: lambda row, r: _set(row, 2, r.choice(_BAD_DATES)),
            c.ORPHAN_FK: lambda row, r: _set(row, 1, f"C{r.randrange(ORPHAN_CUSTOMER_FROM, 10**7):07d}"),
        }
        rows, defects, base_defects = _inject(base_rows, plan, rng, mutators)
        facts.is_clean = [defect is None for defect in base_defects]
        return Batch(c.ORDERS, day, rows, defects), facts

    def order_lines(self, day: int, facts: OrderFacts) -> tuple[Batch, list[tuple[str, str, int]]]:
        """Lines of the day's orders, and (customer, product, ordered_at) of clean lines of clean orders."""
        rng = self._rng(c.ORDER_LINES, day)
        rand, randrange = rng.random, rng.randrange
        launches, product_ids, prices = self._product_launches, self._product_ids, self._product_prices
        quantities = (1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5)
        discounts = ("0.05", "0.10", "0.15", "0.20", "0.25", "0.30")
        spike = self._anomaly_window()
        base_rows: list[Row] = []
        purchases: list[tuple[str, str, int]] = []
        for i, order_id in enumerate(facts.order_ids):
            available = max(1, bisect.bisect_right(launches, facts.ordered_at[i]))
            wanted = min(facts.line_counts[i], available)
            chosen: list[int] = []
            while len(chosen) < wanted:
                candidate = randrange(available)
                if candidate not in chosen:
                    chosen.append(candidate)
            factor = self.config.anomaly_factor if spike[0] <= facts.ordered_at[i] < spike[1] else 1
            for line_number, product in enumerate(chosen, start=1):
                base_rows.append(
                    (
                        order_id,
                        line_number,
                        product_ids[product],
                        quantities[randrange(len(quantities))] * factor,
                        prices[product],
                        "0.00" if rand() < 0.8 else discounts[randrange(len(discounts))],
                    )
                )
                purchases.append((facts.customer_ids[i], product_ids[product], facts.ordered_at[i]))
        plan = self._plan(c.ORDER_LINES, len(base_rows), day)
        mutators: dict[str, Mutator] = {
            c.UNPARSEABLE_NUMBER: lambda row, r: _set(row, 4, r.choice(_BAD_NUMBERS)),
            c.NEGATIVE_QUANTITY: lambda row, r: _set(row, 3, -r.randint(1, 5)),
            c.ORPHAN_FK: lambda row, r: _set(row, 2, f"P{r.randrange(ORPHAN_PRODUCT_FROM, 10**5):05d}"),
        }
        line_orders = _line_orders(base_rows, facts)
        rows, defects, base_defects = _inject(base_rows, plan, rng, mutators)
        clean_purchases = [
            purchase
            for purchase, defect, order in zip(purchases, base_defects, line_orders, strict=True)
            if defect is None and facts.is_clean[order]
        ]
        return Batch(c.ORDER_LINES, day, rows, defects), clean_purchases

    # -- reviews -------------------------------------------------------------------------------------------
    def reviews(self, day: int, purchases: Sequence[tuple[str, str, int]]) -> Batch:
        """Reviews written on ``day``: mostly by buyers of the day's clean order lines, rating skewed high."""
        self._require_masters(day)
        rng = self._rng(c.REVIEWS, day)
        rows_total = planned_rows(c.REVIEWS, self.config.sf, day)
        plan = self._plan(c.REVIEWS, rows_total, day)
        count = rows_total - plan.get(c.EXACT_DUPLICATE, 0)
        low, high = self._window(day)
        rand, randrange = rng.random, rng.randrange
        ratings = rng.choices((1, 2, 3, 4, 5), cum_weights=(0.08, 0.15, 0.27, 0.55, 1.0), k=count)
        drafts: list[tuple[int, str, str, int]] = []
        for i in range(count):
            if purchases and rand() < 0.85:
                customer_id, product_id, ordered = purchases[randrange(len(purchases))]
                if day == 0:
                    reviewed = ordered + randrange(3_600, 30 * DAY_SECONDS)
                    if reviewed >= high:
                        reviewed = randrange(ordered, high)
                else:
                    reviewed = randrange(ordered, high)
            else:  # reviews by customers who did not buy (gifts, other shops)
                reviewed = randrange(low, high)
                customer_id = self._customer_ids[randrange(_available(self._customer_signups, reviewed))]
                product_id = self._product_ids[randrange(_available(self._product_launches, reviewed))]
            drafts.append((reviewed, product_id, customer_id, ratings[i]))
        drafts.sort(key=lambda draft: draft[0])
        first = self._first_number(c.REVIEWS, day)
        pools, iso = self.pools, self._clock.iso
        sentences = pools.sentences
        base_rows: list[Row] = []
        for i, (reviewed, product_id, customer_id, rating) in enumerate(drafts):
            extra = " ".join(sentences[randrange(len(sentences))] for _ in range(randrange(1, 4)))
            base_rows.append(
                (
                    f"R{first + i:08d}",
                    product_id,
                    customer_id,
                    rating,
                    rng.choice(pools.titles[rating]),
                    f"{rng.choice(pools.openers[rating])} {extra}",
                    iso(reviewed),
                )
            )
        mutators: dict[str, Mutator] = {
            c.NULL_KEY: lambda row, _rng: _set(row, 0, None),
            c.RATING_OUT_OF_RANGE: lambda row, r: _set(row, 3, r.choice(_OUT_OF_RANGE_RATINGS)),
            c.ORPHAN_FK: lambda row, r: _set(row, 1, f"P{r.randrange(ORPHAN_PRODUCT_FROM, 10**5):05d}"),
            c.FUTURE_EVENT: lambda row, _rng: _set(row, 6, _in_2099(row[6])),
        }
        rows, defects, _ = _inject(base_rows, plan, rng, mutators)
        return Batch(c.REVIEWS, day, rows, defects)

    # -- app events ----------------------------------------------------------------------------------------
    def app_events(self, day: int) -> Batch:
        """Click-stream sessions of ``day`` along the funnel page_view -> ... -> purchase, with drop-off."""
        self._require_masters(day)
        rng = self._rng(c.APP_EVENTS, day)
        rows_total = planned_rows(c.APP_EVENTS, self.config.sf, day)
        plan = self._plan(c.APP_EVENTS, rows_total, day)
        count = rows_total - plan.get(c.EXACT_DUPLICATE, 0)
        low, high = self._window(day)
        iso, rand, randrange, bits = self._clock.iso, rng.random, rng.randrange, rng.getrandbits
        signups, customer_ids = self._customer_signups, self._customer_ids
        launches, product_ids = self._product_launches, self._product_ids
        devices = c.DEVICES
        timed: list[tuple[int, Row]] = []
        while len(timed) < count:
            t = randrange(low, high - 3_600)  # a session lasts well under an hour: it stays inside the window
            customer_id = None
            if rand() < 0.7:
                customer_id = customer_ids[randrange(_available(signups, t))]
            device = devices[0] if (d := rand()) < 0.5 else devices[1] if d < 0.9 else devices[2]
            session_id = f"{bits(128):032x}"
            products = _available(launches, t)
            viewed = None
            steps: list[tuple[str, str | None]] = []
            for _ in range(1 + (randrange(10) // 4)):
                product = product_ids[randrange(products)] if rand() < 0.65 else None
                viewed = product or viewed
                steps.append(("page_view", product))
            if rand() < 0.55:
                steps.append(("search", None))
                viewed = product_ids[randrange(products)]
                steps.append(("page_view", viewed))
            if rand() < 0.35:
                cart = viewed or product_ids[randrange(products)]
                steps.append(("add_to_cart", cart))
                if rand() < 0.55:
                    steps.append(("checkout", cart))
                    if customer_id is not None and rand() < 0.8:  # anonymous sessions drop at checkout
                        steps.append(("purchase", cart))
            for event_type, product in steps:
                t += randrange(5, 180)
                timed.append(
                    (t, (f"{bits(128):032x}", session_id, customer_id, event_type, product, device, iso(t)))
                )
        del timed[count:]
        timed.sort(key=lambda item: item[0])
        base_rows = [row for _, row in timed]
        mutators: dict[str, Mutator] = {
            c.NULL_KEY: lambda row, _rng: _set(row, 0, None),
            c.FUTURE_EVENT: lambda row, _rng: _set(row, 6, _in_2099(row[6])),
            c.LATE_EVENT: lambda row, r: _set(row, 6, _days_earlier(row[6], r.randint(1, min(day, 3)))),
        }
        rows, defects, _ = _inject(base_rows, plan, rng, mutators)
        return Batch(c.APP_EVENTS, day, rows, defects)

    # -- finance -------------------------------------------------------------------------------------------
    def finance_entries(self, day: int) -> Batch:
        """Ledger entries booked on ``day``: about 40 % revenue (sales, services, licensing), 60 % costs."""
        rng = self._rng(c.FINANCE_ENTRIES, day)
        rows_total = planned_rows(c.FINANCE_ENTRIES, self.config.sf, day)
        plan = self._plan(c.FINANCE_ENTRIES, rows_total, day)
        count = rows_total - plan.get(c.EXACT_DUPLICATE, 0)
        low, high = self._window(day)
        iso, first = self._clock.iso, self._first_number(c.FINANCE_ENTRIES, day)
        times = sorted(rng.randrange(low, high) for _ in range(count))
        base_rows: list[Row] = []
        for i, booked in enumerate(times):
            kind = "revenue" if rng.random() < 0.4 else "expense"
            category = rng.choice(c.FINANCE_CATEGORIES[kind])
            amount = max(10.0, rng.gauss(*_FINANCE_AMOUNTS[category]))
            note = f"{category} {iso(booked)[:7]}, ref {rng.randrange(10_000, 100_000)}"
            base_rows.append((f"F{first + i:08d}", kind, category, f"{amount:.2f}", note, iso(booked)))
        mutators: dict[str, Mutator] = {
            c.NULL_KEY: lambda row, _rng: _set(row, 0, None),
            c.UNPARSEABLE_NUMBER: lambda row, r: _set(row, 3, r.choice(_BAD_NUMBERS)),
            c.UNPARSEABLE_DATE: lambda row, r: _set(row, 5, r.choice(_BAD_DATES)),
        }
        rows, defects, _ = _inject(base_rows, plan, rng, mutators)
        return Batch(c.FINANCE_ENTRIES, day, rows, defects)


def _line_orders(base_rows: list[Row], facts: OrderFacts) -> list[int]:
    """The order (index into ``facts``) of each base line."""
    position = {order_id: i for i, order_id in enumerate(facts.order_ids)}
    return [position[row[0]] for row in base_rows]


def _available(sorted_times: list[int], at: int) -> int:
    """How many entries of ``sorted_times`` are at or before ``at`` (at least one: the oldest)."""
    return max(1, bisect.bisect_right(sorted_times, at))


def _noisy_country(code: str, draw: float) -> str:
    """Raw country codes mix case and carry stray spaces (silver upper-cases and trims)."""
    if draw < 0.05:
        return code.lower()
    if draw < 0.08:
        return f" {code.lower()}"
    if draw < 0.10:
        return f"{code} "
    return code


def _noisy_region(region: str, draw: float) -> str:
    return region.lower() if draw < 0.08 else region


def _status(
    age: int, ordered: int, rand: Callable[[], float], randrange: Callable[..., int]
) -> tuple[str, int]:
    """Status of an order ``age`` seconds before the end of its batch, and when it last changed."""
    draw = rand()
    if age < 3 * DAY_SECONDS:
        status = "placed" if draw < 0.6 else "shipped" if draw < 0.9 else "cancelled"
    elif age < 10 * DAY_SECONDS:
        status = "shipped" if draw < 0.5 else "delivered" if draw < 0.9 else "cancelled"
    else:
        status = "delivered" if draw < 0.84 else "cancelled" if draw < 0.92 else "returned"
    if status == "placed":
        return status, ordered
    return status, ordered + randrange(600, max(601, min(age, 10 * DAY_SECONDS)))
