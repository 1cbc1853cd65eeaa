"""Cambodia's 25 provinces, and which one a site belongs to.

Directors think in provinces and donors ask where the programs work, but workbooks name
sites as the field team writes them: a province (`Siem Reap`, `សៀមរាប`, `Kg. Cham`), a
province and a district (`Siem Reap - Pouk`), or a town alone (`Poipet`). A site is placed
by, in order: the site table an M&E officer edits (`site_provinces.csv`: site, province, one
line per site; a town, district or whole site name), then the province names, Khmer names
and aliases of the boundaries file (`cambodia-provinces.geojson`, ODbL, see
`cambodia-provinces.md`), first for the whole name, then for each of its parts (split on
` - `, `/`, `,`, brackets). A site whose parts name two provinces, or none, is not placed:
the Data page lists it, so one line in the table fixes it.
"""
from __future__ import annotations

import csv
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from impact.contract.aliases import compact

GEOJSON_FILE = Path(__file__).with_name("cambodia-provinces.geojson")
SITE_TABLE = Path(__file__).with_name("site_provinces.csv")
ATTRIBUTION = "© OpenStreetMap contributors · geoBoundaries"

# "Province" / "Khet" / "capital" written around a name: `ខេត្តសៀមរាប`, `Kampot Province`.
_TITLES = re.compile(r"^(ខេត្ត|រាជធានី|khet|province)|(province|khet)$")
_PARTS = re.compile(r"\s+-\s+|\s*[/,;–—()\[\]]\s*")


@dataclass(frozen=True)
class Province:
    name: str        # English, as the boundaries file and the dashboard write it
    name_km: str
    iso: str         # ISO 3166-2, e.g. KH-17: the map's feature id


@lru_cache(maxsize=1)
def boundaries() -> dict:
    """The boundaries file as loaded once: every figure of the map reuses it."""
    with GEOJSON_FILE.open(encoding="utf-8") as f:
        return json.load(f)


@lru_cache(maxsize=1)
def provinces() -> tuple[Province, ...]:
    return tuple(Province(f["properties"]["name"], f["properties"]["name_km"], f["properties"]["iso"])
                 for f in boundaries()["features"])


def province_key(name: object) -> str:
    """The comparison key of a place name: `compact`'s (case, spaces, punctuation, Khmer
    subscripts), without Latin accents (`Bătdâmbâng`) and without a "province" title."""
    decomposed = unicodedata.normalize("NFKD", str(name))
    latin = "".join(ch for ch in decomposed if not "\u0300" <= ch <= "\u036f")
    key = compact(unicodedata.normalize("NFC", latin))
    return _TITLES.sub("", key) or key


@lru_cache(maxsize=1)
def _province_names() -> dict[str, str]:
    """key -> province, for every name, Khmer name and alias in the boundaries file."""
    names = {}
    for feature in boundaries()["features"]:
        p = feature["properties"]
        for written in (p["name"], p["name_km"], *p["aliases"]):
            names[province_key(written)] = p["name"]
    return names


def read_site_table(path: Path = SITE_TABLE) -> dict[str, str]:
    """key of a site (or town, district) -> province, from the table an M&E officer edits.
    Its province may be written any way the boundaries file knows; a line naming no province
    places nothing."""
    with path.open(encoding="utf-8") as f:
        rows = [(row["site"], _province_names().get(province_key(row["province"]))) for row in csv.DictReader(f)]
    return {province_key(site): province for site, province in rows if province}


@lru_cache(maxsize=1)
def _site_table() -> dict[str, str]:
    return read_site_table()


def province_of(site: object, table: dict[str, str] | None = None) -> str | None:
    """The province a site belongs to (see the module docstring), or None."""
    table = _site_table() if table is None else table
    if site is None or site != site or not str(site).strip():
        return None
    whole = province_key(site)
    found = table.get(whole) or _province_names().get(whole)
    if found:
        return found
    parts = {province_key(part) for part in _PARTS.split(str(site)) if part.strip()}
    named = {table.get(part) or _province_names().get(part) for part in parts} - {None}
    return named.pop() if len(named) == 1 else None


def place(sites, table: dict[str, str] | None = None) -> dict[str, str | None]:
    """site -> its province (None where it cannot be placed), for every distinct site."""
    return {site: province_of(site, table) for site in dict.fromkeys(sites)}


def unplaced(sites, table: dict[str, str] | None = None) -> list[str]:
    """The sites no province can be found for, sorted: what the Data page asks to fix."""
    return sorted(site for site, province in place(sites, table).items() if province is None)
