"""Names shared by the whole course: the seed, the scales, datasets and columns.

Define a name once here and use it as a default everywhere else, so a lesson,
a generator and a test cannot drift apart.

Examples
--------
>>> from coursekit.constants import SEED, SCALES, DATASETS
>>> SEED
42
>>> SCALES
('ci', 'aula', 'grande')
>>> "transactions" in DATASETS
True
"""

from __future__ import annotations

#: The course-wide random seed (notebooks expose it as the ``SEED`` parameter).
SEED: int = 42

#: Data sizes: "ci" for the test suite (seconds), "aula" for a live lesson on a
#: 2-core laptop (about a minute per notebook), "grande" for a real cluster.
SCALES: tuple[str, ...] = ("ci", "aula", "grande")
DEFAULT_SCALE: str = "ci"

#: Every dataset ``coursekit.datasets.generate`` knows.
DATASETS: tuple[str, ...] = (
    "transactions",
    "ratings",
    "customers",
    "sales",
    "reviews",
    "anomalies",
)

#: Where ``python -m coursekit.datasets generate`` writes by default (git-ignored).
GENERATED_DIR: str = "data/generated"
#: Small committed CSV samples (a first look without Spark).
SAMPLES_DIR: str = "data/samples"

# Shared column names -------------------------------------------------------
COL_TRANSACTION_ID = "transaction_id"
COL_CUSTOMER_ID = "customer_id"
COL_TIMESTAMP = "timestamp"
COL_AMOUNT = "amount"
COL_CATEGORY = "merchant_category"
COL_CHANNEL = "channel"
COL_FRAUD = "is_fraud"
COL_P_FRAUD = "p_fraud"

COL_USER = "user_id"
COL_ITEM = "item_id"
COL_RATING = "rating"
COL_PREDICTION = "prediction"

COL_SEGMENT = "segment"

COL_DATE = "date"
COL_STORE = "store_id"
COL_PRODUCT = "product_id"
COL_UNITS = "units"
COL_EXPECTED_UNITS = "expected_units"

COL_REVIEW_ID = "review_id"
COL_TEXT = "text"
COL_SENTIMENT = "sentiment"

COL_IS_ANOMALY = "is_anomaly"
COL_ANOMALY_TYPE = "anomaly_type"
ANOMALY_TYPES: tuple[str, ...] = ("amount_spike", "impossible_travel", "burst")
