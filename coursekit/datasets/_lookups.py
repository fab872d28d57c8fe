"""Small literal lookup tables shared by the generators (cities, holidays).

These are the only data kept in the driver: a few dozen values each, turned
into literal arrays/maps inside column expressions (no join, no collect).
"""

from __future__ import annotations

import datetime as dt
import math

#: (city, UF, latitude, longitude, population in millions — used as a weight)
CITIES: tuple[tuple[str, str, float, float, float], ...] = (
    ("São Paulo", "SP", -23.55, -46.63, 11.45),
    ("Rio de Janeiro", "RJ", -22.91, -43.17, 6.21),
    ("Brasília", "DF", -15.78, -47.93, 2.82),
    ("Salvador", "BA", -12.97, -38.50, 2.42),
    ("Fortaleza", "CE", -3.73, -38.53, 2.43),
    ("Belo Horizonte", "MG", -19.92, -43.94, 2.32),
    ("Manaus", "AM", -3.12, -60.02, 2.06),
    ("Curitiba", "PR", -25.43, -49.27, 1.77),
    ("Recife", "PE", -8.05, -34.88, 1.49),
    ("Goiânia", "GO", -16.68, -49.25, 1.44),
    ("Porto Alegre", "RS", -30.03, -51.23, 1.33),
    ("Belém", "PA", -1.46, -48.50, 1.30),
    ("Guarulhos", "SP", -23.45, -46.53, 1.29),
    ("Campinas", "SP", -22.91, -47.06, 1.14),
    ("São Luís", "MA", -2.53, -44.30, 1.04),
    ("Maceió", "AL", -9.67, -35.74, 0.96),
    ("Campo Grande", "MS", -20.47, -54.62, 0.90),
    ("Teresina", "PI", -5.09, -42.80, 0.87),
    ("João Pessoa", "PB", -7.12, -34.86, 0.83),
    ("Natal", "RN", -5.79, -35.21, 0.75),
    ("Ribeirão Preto", "SP", -21.18, -47.81, 0.70),
    ("Uberlândia", "MG", -18.92, -48.28, 0.71),
    ("Cuiabá", "MT", -15.60, -56.10, 0.65),
    ("Aracaju", "SE", -10.91, -37.07, 0.60),
    ("Joinville", "SC", -26.30, -48.85, 0.62),
    ("Florianópolis", "SC", -27.60, -48.55, 0.54),
    ("Londrina", "PR", -23.31, -51.16, 0.56),
    ("Porto Velho", "RO", -8.76, -63.90, 0.46),
    ("Macapá", "AP", 0.03, -51.07, 0.44),
    ("Boa Vista", "RR", 2.82, -60.67, 0.41),
    ("Rio Branco", "AC", -9.97, -67.81, 0.36),
    ("Vitória", "ES", -20.32, -40.34, 0.32),
    ("Palmas", "TO", -10.18, -48.33, 0.31),
)

CITY_NAMES = tuple(c[0] for c in CITIES)
CITY_UF = tuple(c[1] for c in CITIES)
CITY_LAT = tuple(c[2] for c in CITIES)
CITY_LON = tuple(c[3] for c in CITIES)
CITY_WEIGHTS = tuple(c[4] for c in CITIES)


def easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm).

    >>> easter(2025)
    datetime.date(2025, 4, 20)
    """
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


_FIXED_HOLIDAYS = (
    (1, 1, "Confraternização Universal"),
    (4, 21, "Tiradentes"),
    (5, 1, "Dia do Trabalho"),
    (9, 7, "Independência do Brasil"),
    (10, 12, "Nossa Senhora Aparecida"),
    (11, 2, "Finados"),
    (11, 15, "Proclamação da República"),
    (12, 25, "Natal"),
)


def brazilian_holidays(first_year: int = 2022, last_year: int = 2026) -> dict[dt.date, str]:
    """Brazilian national holidays (and Carnaval, a national 'ponto facultativo').

    Fixed dates plus the Easter-based ones: Carnaval (Monday and Tuesday, 48 and
    47 days before Easter), Sexta-feira Santa (2 days before) and Corpus Christi
    (60 days after). Consciência Negra (20 Nov) is national from 2024 on.

    >>> h = brazilian_holidays(2025, 2025)
    >>> h[dt.date(2025, 3, 4)], h[dt.date(2025, 6, 19)]
    ('Carnaval', 'Corpus Christi')
    """
    days: dict[dt.date, str] = {}
    for year in range(first_year, last_year + 1):
        for month, day, name in _FIXED_HOLIDAYS:
            days[dt.date(year, month, day)] = name
        if year >= 2024:
            days[dt.date(year, 11, 20)] = "Consciência Negra"
        sunday = easter(year)
        days[sunday - dt.timedelta(days=48)] = "Carnaval"
        days[sunday - dt.timedelta(days=47)] = "Carnaval"
        days[sunday - dt.timedelta(days=2)] = "Sexta-feira Santa"
        days[sunday + dt.timedelta(days=60)] = "Corpus Christi"
    return dict(sorted(days.items()))


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km (Python twin of ``_random.haversine_km``).

    >>> round(haversine_km(-23.55, -46.63, -22.91, -43.17))
    361
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, a)))


#: Distances between cities, flattened: ``CITY_DISTANCE_KM[a * len(CITIES) + b]``.
CITY_DISTANCE_KM = tuple(
    round(haversine_km(a[2], a[3], b[2], b[3]), 1) for a in CITIES for b in CITIES
)
