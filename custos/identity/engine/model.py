"""The Fellegi–Sunter model of a person, for Splink 5 on DuckDB or Spark.

The comparisons are written for Chinese customer data (docs/identity.md): names compared exactly
(with term-frequency adjustment, so that 王伟 or 李娜 weigh less than a rare name), by pinyin
(homophones such as 张/章 and traditional/simplified forms) and by Jaro-Winkler on pinyin; birth
dates exactly, day and month swapped, or one part off; ID numbers exactly, in their 15- and
18-digit forms, or one digit off or two adjacent digits transposed (Damerau-Levenshtein 1); mobile,
e-mail, address (the same address, or most of its parts: road, number, building…), gender.

Training is unsupervised: u from random pairs (fixed seed), m and λ by expectation maximisation on
three blocking rules, each leaving the comparisons it blocks on to the other sessions.

Engine-agnostic: Splink's database API comes from ``db_api(engine, con)`` (DuckDB in the features'
own connection, or ``custos.identity.engine.spark.db_api()``), and the records reach it through
``register``. Term-frequency adjustments (exact name, mobile, address) use the frequencies of the
book the model was trained on: ``tf_tables`` keeps them with the run, and ``predict_incremental``
registers them again to score a later book's new records against the stored ones
(``predict_between``) and among themselves (``predict_within``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb

NAME = "name"
BLOCKING_RULES = (
    ("id18",),
    ("mobile_n",),
    ("name_n", "birth_date"),
    ("name_py", "birth_year"),
)
EM_RULES = (("id18",), ("name_n", "birth_date"), ("mobile_n",))


@dataclass(frozen=True)
class Params:
    match_probability: float = 0.99
    review_probability: float = 0.5
    u_max_pairs: float = 2e6
    seed: int = 20261207
    prior_recall: float = 0.7


# One substituted digit, or two adjacent digits transposed, between strings of length n. Hamming
# first: it is cheap, and almost every pair scored differs in many places, so Damerau-Levenshtein
# (slow in DuckDB) runs only on the few pairs at Hamming distance 2; nested CASE, because DuckDB
# evaluates both sides of an OR.
ONE_TYPO = (
    "CASE WHEN length({a}) = {n} AND length({b}) = {n} THEN (CASE hamming({a}, {b}) WHEN 1 THEN true"
    " WHEN 2 THEN damerau_levenshtein({a}, {b}) = 1 ELSE false END) ELSE false END"
)
# Spark has no hamming(); Splink's Scala UDFs give damerau_levenshtein and jaro_winkler
ONE_TYPO_SPARK = "length({a}) = {n} AND length({b}) = {n} AND damerau_levenshtein({a}, {b}) = 1"
ENGINES = ("duckdb", "spark")
# columns whose exact level is adjusted by term frequency: a common name, a mobile or an address
# many records share (an agent's own phone, a bank outlet's address) weighs less than a rare one
TF_COLUMNS = ("name_n", "mobile_n", "addr_n")


def db_api(engine: str, con=None):
    """Splink's database API for an engine: DuckDB on the features' connection ``con``, or the
    Spark session of ``custos.identity.engine.spark`` (imported only when asked for)."""
    if engine == "duckdb":
        from splink import DuckDBAPI

        return DuckDBAPI(connection=con)
    if engine == "spark":
        from custos.identity.engine import spark

        return spark.db_api()
    raise ValueError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")


def dialect(api) -> str:
    """The SQL dialect of a Splink database API ("duckdb", "spark")."""
    return api.sql_dialect.sql_dialect_str


def register(api, con: duckdb.DuckDBPyConnection, table: str):
    """A SplinkDataFrame of the DuckDB table ``table``: the table itself on DuckDB, its Arrow copy
    on another engine."""
    from splink import DuckDBAPI

    if isinstance(api, DuckDBAPI):
        return api.register(table)
    return api.register(con.table(table).fetch_arrow_table())


def _level(sql: str, label: str, **kw) -> dict:
    return {"sql_condition": sql, "label_for_charts": label, **kw}


def _null(col: str) -> dict:
    return _level(f'"{col}_l" IS NULL OR "{col}_r" IS NULL', "null", is_null_level=True)


ELSE = _level("ELSE", "else")


def comparisons(sql_dialect: str = "duckdb") -> list[dict]:
    spark = sql_dialect == "spark"
    jw = f"{'jaro_winkler' if spark else 'jaro_winkler_similarity'}(name_py_l, name_py_r)"
    one_typo = ONE_TYPO_SPARK if spark else ONE_TYPO
    ymd = ("year", "month", "day")
    same = [f"{p}(birth_date_l) = {p}(birth_date_r)" for p in ymd]
    two_of_three = " OR ".join(
        f"({a} AND {b})" for a, b in ((same[0], same[1]), (same[0], same[2]), (same[1], same[2]))
    )
    return [
        {
            "output_column_name": NAME,
            "comparison_description": "name: exact, same pinyin, similar pinyin",
            "comparison_levels": [
                _null("name_n"),
                _level(
                    "name_n_l = name_n_r", "exact", tf_adjustment_column="name_n", tf_adjustment_weight=1.0
                ),
                _level("name_py_l = name_py_r", "same pinyin"),
                _level(f"{jw} >= 0.92", "pinyin Jaro-Winkler >= 0.92"),
                _level(f"{jw} >= 0.8", "pinyin Jaro-Winkler >= 0.8"),
                ELSE,
            ],
        },
        {
            "output_column_name": "birth_date",
            "comparison_description": "birth date: exact, day/month swapped, one part off",
            "comparison_levels": [
                _null("birth_date"),
                _level("birth_date_l = birth_date_r", "exact"),
                _level(
                    "year(birth_date_l) = year(birth_date_r) AND month(birth_date_l) = day(birth_date_r)"
                    " AND day(birth_date_l) = month(birth_date_r)",
                    "day and month swapped",
                ),
                _level(two_of_three, "one part off"),
                ELSE,
            ],
        },
        {
            "output_column_name": "id_no",
            "comparison_description": "ID number: exact, 15/18-digit forms, one typo",
            "comparison_levels": [
                _null("id18"),
                _level("id18_l = id18_r AND id_raw_l = id_raw_r", "exact"),
                _level("id18_l = id18_r", "15- and 18-digit forms"),
                _level(one_typo.format(a="id18_l", b="id18_r", n=18), "one digit off or transposed"),
                ELSE,
            ],
        },
        {
            "output_column_name": "mobile",
            "comparison_description": "mobile: exact, one digit off",
            "comparison_levels": [
                _null("mobile_n"),
                _level(
                    "mobile_n_l = mobile_n_r",
                    "exact",
                    tf_adjustment_column="mobile_n",
                    tf_adjustment_weight=1.0,
                ),
                _level(one_typo.format(a="mobile_n_l", b="mobile_n_r", n=11), "one digit off or transposed"),
                ELSE,
            ],
        },
        {
            "output_column_name": "address",
            "comparison_description": "address: exact, most parts shared",
            "comparison_levels": [
                _null("addr_n"),
                _level(
                    "addr_n_l = addr_n_r", "exact", tf_adjustment_column="addr_n", tf_adjustment_weight=1.0
                ),
                _level("addr_street_l = addr_street_r", "same road and number"),
                _level("addr_estate_l = addr_estate_r", "same estate or village"),
                ELSE,
            ],
        },
        {
            "output_column_name": "gender",
            "comparison_description": "gender",
            "comparison_levels": [_null("gender"), _level("gender_l = gender_r", "exact"), ELSE],
        },
        {
            "output_column_name": "email",
            "comparison_description": "e-mail",
            "comparison_levels": [_null("email_n"), _level("email_n_l = email_n_r", "exact"), ELSE],
        },
    ]


def settings_dict(prior: float = 1e-4, sql_dialect: str = "duckdb") -> dict:
    from splink import block_on

    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": prior,
        "blocking_rules_to_generate_predictions": [block_on(*cols) for cols in BLOCKING_RULES],
        "comparisons": comparisons(sql_dialect),
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
        "additional_columns_to_retain": [],
    }


def _linker(sdf, settings):
    from splink import Linker, SettingsCreator

    if isinstance(settings, dict):
        settings = SettingsCreator.from_path_or_dict(settings)
    return Linker(sdf, settings, log_level=logging.ERROR)


def train(sdf, params: Params, sql_dialect: str = "duckdb"):
    """A trained linker over the registered records ``sdf``."""
    from splink import block_on

    linker = _linker(sdf, settings_dict(sql_dialect=sql_dialect))
    linker.training.estimate_probability_two_random_records_match(
        ["l.id18 = r.id18 AND l.name_n = r.name_n", "l.mobile_n = r.mobile_n AND l.name_n = r.name_n"],
        recall=params.prior_recall,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=params.u_max_pairs, seed=params.seed)
    for cols in EM_RULES:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*cols))
    return _linker(sdf, with_floors(linker.misc.save_model_to_json()))


# A level no training pair reached (a homophone, a 15-digit number, a swapped day and month in a
# small book) gets m or u 0 from EM: a weight of minus or plus infinity. These floors keep every
# level's evidence finite: m ≥ 0.1 %, u ≥ one in a million.
M_FLOOR = 1e-3
U_FLOOR = 1e-6
# People change phones, homes and e-mail: a book whose customers never did (a synthetic one, or a
# young one) teaches EM that a match never differs there, and a customer who moved would then not
# link even by the same ID number, name and birth date. Contact fields differ for at least 5 % of
# a person's pairs of records.
CHANGEABLE = ("mobile", "address", "email")
CHANGE_FLOOR = 0.05


def with_floors(model: dict) -> dict:
    for comparison in model["comparisons"]:
        changeable = comparison["output_column_name"] in CHANGEABLE
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            floor = CHANGE_FLOOR if changeable and level.get("label_for_charts") == "else" else M_FLOOR
            level["m_probability"] = max(level.get("m_probability") or 0.0, floor)
            level["u_probability"] = max(level.get("u_probability") or 0.0, U_FLOOR)
    return model


def loaded(sdf, model: dict):
    """A linker over the registered records ``sdf`` with a saved model (no training)."""
    return _linker(sdf, model)


def predict(linker, params: Params):
    """Scored pairs at or above the review probability: an Arrow table of
    ``unique_id_l, unique_id_r, match_weight, match_probability`` and the comparison levels."""
    df = linker.inference.predict(threshold_match_probability=params.review_probability)
    return df.as_pyarrow_table()


def tf_tables(linker) -> dict:
    """column -> Arrow table (value, tf_<column>) of the term frequencies the linker's data gives."""
    return {c: linker.table_management.compute_tf_table(c).as_pyarrow_table() for c in TF_COLUMNS}


def predict_incremental(api, existing, fresh, model: dict, tf: dict, params: Params):
    """Pairs between the stored records ``existing`` and the ``fresh`` ones (new or changed), and
    among the fresh ones, scored by a saved model with the term frequencies it was trained with
    (``tf``: column -> Arrow table, registered before predicting). Arrow table as ``predict``."""
    import pyarrow as pa

    linker = _linker(fresh, model)
    for col, table in tf.items():
        linker.table_management.register_term_frequency_lookup(api.register(table), col)
    between = linker.inference.predict_between(
        existing, fresh, threshold_match_probability=params.review_probability, warning_mode="never"
    ).as_pyarrow_table()
    within = linker.inference.predict_within(
        fresh, threshold_match_probability=params.review_probability, warning_mode="never"
    ).as_pyarrow_table()
    if within.num_rows == 0:
        return between
    if between.num_rows == 0:
        return within
    return pa.concat_tables([between, within.select(between.column_names)], promote_options="permissive")


def model_json(linker) -> dict:
    return linker.misc.save_model_to_json()
