"""Pools of names, words and sentences drawn once per seed with seeded Faker instances.

Rows then pick from these pools with a `random.Random`, which is far faster than a Faker call per row and
keeps the output a pure function of the seed (and of the Faker version, which pyproject pins).
"""

from __future__ import annotations

import functools
import itertools
import unicodedata
from dataclasses import dataclass

from faker import Faker

# (country, region, Faker locale for names, weight): where the customers live.
COUNTRIES: tuple[tuple[str, str, str, float], ...] = (
    ("US", "AMER", "en_US", 0.25),
    ("DE", "EMEA", "de_DE", 0.10),
    ("GB", "EMEA", "en_GB", 0.09),
    ("FR", "EMEA", "fr_FR", 0.07),
    ("IN", "APAC", "en_IN", 0.06),
    ("CA", "AMER", "en_CA", 0.05),
    ("BR", "AMER", "pt_BR", 0.05),
    ("JP", "APAC", "ja_JP", 0.05),
    ("NL", "EMEA", "nl_NL", 0.04),
    ("ES", "EMEA", "es_ES", 0.04),
    ("IT", "EMEA", "it_IT", 0.04),
    ("AU", "APAC", "en_AU", 0.04),
    ("MX", "AMER", "es_MX", 0.03),
    ("PL", "EMEA", "pl_PL", 0.03),
    ("SE", "EMEA", "sv_SE", 0.02),
    ("SG", "APAC", "en_US", 0.02),
    ("ZA", "EMEA", "en_GB", 0.02),
)

_NAMES_PER_LOCALE = 300
_MAIL_DOMAINS = frozenset(
    {"outlook.com", "icloud.com", "proton.me", "gmx.de", "web.de", "orange.fr", "mail.com"}
)
_NOUNS: dict[str, tuple[str, ...]] = {
    "software": ("Suite", "Studio", "Toolkit", "Engine", "Manager", "Analytics"),
    "hardware": ("Laptop", "Router", "Monitor", "Server", "Tablet", "Printer"),
    "subscription": ("Cloud Plan", "Membership", "Storage Plan", "License", "Pass"),
    "service": ("Setup", "Support", "Training", "Consulting", "Migration"),
    "accessory": ("Cable", "Dock", "Keyboard", "Mouse", "Headset", "Sleeve"),
}
_SUFFIXES = ("", "", " Pro", " Lite", " Max", " Plus", " X", " 2", " 3")
_TITLES: dict[int, tuple[str, ...]] = {
    1: ("Terrible", "Do not buy", "Broke after a week", "Waste of money", "Very disappointed"),
    2: ("Not great", "Below expectations", "Has issues", "Could be better", "Meh"),
    3: ("It's okay", "Average", "Does the job", "Mixed feelings", "Fine for the price"),
    4: ("Very good", "Works well", "Happy with it", "Good value", "Solid choice"),
    5: ("Excellent", "Love it", "Highly recommended", "Perfect", "Best purchase this year"),
}
_OPENERS: dict[int, tuple[str, ...]] = {
    1: ("Stopped working almost immediately.", "Support never answered."),
    2: ("Setup was painful.", "Quality is not what was advertised."),
    3: ("Nothing special, nothing wrong.", "Does what it says."),
    4: ("Arrived quickly and works well.", "Good quality for the price."),
    5: ("Exceeded my expectations.", "Fantastic, would buy again."),
}


@dataclass(frozen=True)
class NamePool:
    """First and last names of one locale, with ASCII forms for e-mail addresses."""

    first: tuple[str, ...]
    last: tuple[str, ...]
    first_ascii: tuple[str, ...]
    last_ascii: tuple[str, ...]


@dataclass(frozen=True)
class Pools:
    """Everything the generator picks from: names per country, mail domains, product and review words."""

    names_by_country: dict[str, NamePool]
    country_codes: tuple[str, ...]
    country_cum_weights: tuple[float, ...]
    region_by_country: dict[str, str]
    email_domains: tuple[str, ...]
    product_words: tuple[str, ...]
    nouns: dict[str, tuple[str, ...]]
    suffixes: tuple[str, ...]
    sentences: tuple[str, ...]
    titles: dict[int, tuple[str, ...]]
    openers: dict[int, tuple[str, ...]]


def ascii_fold(text: str) -> str:
    """Lower-case ASCII letters and digits of ``text`` (accents dropped), for the local part of an e-mail."""
    decomposed = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in decomposed if ch.isalnum())


def _faker(locale: str, seed: int, purpose: str) -> Faker:
    fake = Faker(locale)
    fake.seed_instance(f"{seed}:{purpose}:{locale}")
    return fake


def _name_pool(locale: str, seed: int) -> NamePool:
    fake = _faker(locale, seed, "names")
    if locale == "ja_JP":  # romanized, so that names and e-mail addresses stay readable
        first_fn, last_fn = fake.first_romanized_name, fake.last_romanized_name
    else:
        first_fn, last_fn = fake.first_name, fake.last_name
    first = tuple(dict.fromkeys(first_fn() for _ in range(_NAMES_PER_LOCALE)))
    last = tuple(dict.fromkeys(last_fn() for _ in range(_NAMES_PER_LOCALE)))
    return NamePool(
        first=first,
        last=last,
        first_ascii=tuple(ascii_fold(name) or "user" for name in first),
        last_ascii=tuple(ascii_fold(name) or "user" for name in last),
    )


@functools.lru_cache(maxsize=8)
def build_pools(seed: int) -> Pools:
    """The pools of one seed (cached: building them costs a few hundred milliseconds of Faker calls)."""
    by_locale = {locale: _name_pool(locale, seed) for locale in dict.fromkeys(c[2] for c in COUNTRIES)}
    fake = _faker("en_US", seed, "words")
    company_domains = {fake.domain_name() for _ in range(12)}
    domains = tuple(sorted({fake.free_email_domain() for _ in range(50)} | _MAIL_DOMAINS | company_domains))
    words = tuple(dict.fromkeys(w.title() for w in fake.words(nb=400, unique=True) if len(w) > 2))
    sentences = tuple(fake.sentence(nb_words=10) for _ in range(600))
    return Pools(
        names_by_country={code: by_locale[locale] for code, _, locale, _ in COUNTRIES},
        country_codes=tuple(c[0] for c in COUNTRIES),
        country_cum_weights=tuple(itertools.accumulate(c[3] for c in COUNTRIES)),
        region_by_country={code: region for code, region, _, _ in COUNTRIES},
        email_domains=domains,
        product_words=words,
        nouns=_NOUNS,
        suffixes=_SUFFIXES,
        sentences=sentences,
        titles=_TITLES,
        openers=_OPENERS,
    )
