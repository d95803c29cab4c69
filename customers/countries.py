"""ISO 3166-1 alpha-2 codes, from pycountry (which tracks the ISO standard)."""

import pycountry

COUNTRY_CODES: frozenset[str] = frozenset(country.alpha_2 for country in pycountry.countries)
COUNTRY_CHOICES: list[tuple[str, str]] = sorted((c.alpha_2, c.name) for c in pycountry.countries)
