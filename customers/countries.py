"""ISO 3166-1 alpha-2 codes, from pycountry (which tracks the ISO standard)."""

import pycountry

COUNTRY_CODES: frozenset[str] = frozenset(country.alpha_2 for country in pycountry.countries)
