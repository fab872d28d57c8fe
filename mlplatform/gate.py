"""Step 4 - Evaluation gate: promote a candidate to ``champion`` only with evidence.

A candidate model version is promoted (registry alias ``champion``) when BOTH:

1. the data it was trained on passes its checks (``data_checks``): few rows
   quarantined, enough rows, a plausible fraud rate, no point-in-time leakage,
   the expected feature version;
2. on the SAME holdout, its AUC beats the current champion's by at least
   ``cfg.gate_margin`` (or, with no champion yet, reaches ``cfg.min_auc``).

``decide`` holds the rule and nothing else (a pure function: easy to test).
``run_gate`` gathers the evidence, applies the rule, moves the alias and logs
the decision with its reasons to MLflow (tags and a JSON on the candidate's
run, tags on the model version) and to the decisions table
(``gate/decisions.jsonl``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import pandas as pd
from pyspark.sql import SparkSession

from mlplatform import features
from mlplatform.config import PlatformConfig, read_report
from mlplatform.tracking import load_version, mlflow_setup, with_score
from mlplatform.train import evaluator, load_split


@dataclass
class Check:
    """One data check: its value, the rule and whether it passed."""

    value: float | int | str
    rule: str
    ok: bool


@dataclass
class Decision:
    """What the gate decided, and why (reasons in the students' language)."""

    candidate_version: str
    champion_version: str | None
    candidate_auc: float
    champion_auc: float | None
    margin: float
    promoted: bool
    reasons: list[str]
    checks: dict[str, dict] = field(default_factory=dict)
    decided_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


def data_checks(cfg: PlatformConfig, etl_report: dict, train_report: dict) -> dict[str, Check]:
    """The checks the training data must pass, from the ETL and training reports."""
    low, high = cfg.label_rate_range
    rate = train_report["train_fraud_rate"]
    return {
        "quarantine_rate": Check(
            etl_report["quarantine_rate"],
            f"<= {cfg.max_quarantine_rate}",
            etl_report["quarantine_rate"] <= cfg.max_quarantine_rate,
        ),
        "etl_balanced": Check(str(etl_report["balanced"]), "== True", bool(etl_report["balanced"])),
        "training_rows": Check(
            train_report["n_train"],
            f">= {cfg.min_training_rows}",
            train_report["n_train"] >= cfg.min_training_rows,
        ),
        "fraud_rate": Check(rate, f"in [{low}, {high}]", low <= rate <= high),
        "leakage_violations": Check(
            train_report["leakage_violations"], "== 0", train_report["leakage_violations"] == 0
        ),
        "feature_version": Check(
            train_report["feature_version"],
            f"== {features.FEATURE_VERSION}",
            train_report["feature_version"] == features.FEATURE_VERSION,
        ),
    }


def decide(
    candidate_auc: float,
    champion_auc: float | None,
    checks: dict[str, Check],
    *,
    margin: float,
    min_auc: float,
) -> tuple[bool, list[str]]:
    """The promotion rule. Returns ``(promoted, reasons)``.

    Examples
    --------
    >>> from mlplatform.gate import Check, decide
    >>> ok = {"fraud_rate": Check(0.02, "in [0.002, 0.1]", True)}
    >>> decide(0.90, 0.85, ok, margin=0.005, min_auc=0.75)[0]
    True
    >>> decide(0.851, 0.85, ok, margin=0.005, min_auc=0.75)[0]
    False
    """
    reasons = [
        f"verificação de dados '{name}' falhou: {c.value} (regra {c.rule})"
        for name, c in checks.items()
        if not c.ok
    ]
    if champion_auc is None:
        if candidate_auc < min_auc:
            reasons.append(f"sem campeão, mas AUC {candidate_auc:.4f} < mínimo {min_auc}")
        promoted = not reasons
        if promoted:
            reasons.append(f"sem campeão; AUC {candidate_auc:.4f} >= mínimo {min_auc}; dados OK")
        return promoted, reasons
    gain = candidate_auc - champion_auc
    if gain < margin:
        reasons.append(
            f"AUC {candidate_auc:.4f} não supera o campeão ({champion_auc:.4f}) pela margem "
            f"{margin} (ganho {gain:+.4f})"
        )
    promoted = not reasons
    if promoted:
        reasons.append(
            f"AUC {candidate_auc:.4f} supera o campeão ({champion_auc:.4f}) em {gain:+.4f} >= {margin}; dados OK"
        )
    return promoted, reasons


def holdout_auc(spark: SparkSession, cfg: PlatformConfig, version: str) -> float:
    """AUC of a registered model version on the current holdout."""

    model = load_version(cfg, version)
    return evaluator().evaluate(with_score(model.transform(load_split(spark, cfg, "holdout"))))


def decisions_path(cfg: PlatformConfig):
    return cfg.root / "gate" / "decisions.jsonl"


def read_decisions(cfg: PlatformConfig) -> pd.DataFrame:
    """The decisions table (one row per gate run)."""
    path = decisions_path(cfg)
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return pd.DataFrame(rows)


def run_gate(
    spark: SparkSession,
    cfg: PlatformConfig,
    *,
    candidate_version: str | None = None,
    checks: dict[str, Check] | None = None,
) -> Decision:
    """Evaluate the candidate against the champion and promote it if the rule says so.

    Parameters
    ----------
    candidate_version : str, optional
        Registry version to judge; default: the last trained (``reports/train.json``).
    checks : dict, optional
        Data checks to use instead of ``data_checks`` (to simulate bad data).
    """
    from mlflow.exceptions import MlflowException

    client = mlflow_setup(cfg)
    train_report = read_report(cfg, "train")
    version = str(candidate_version or train_report["model_version"])
    if checks is None:
        checks = data_checks(cfg, read_report(cfg, "etl"), train_report)
    try:
        champion = str(client.get_model_version_by_alias(cfg.model_name, "champion").version)
    except MlflowException:
        champion = None

    candidate_auc = holdout_auc(spark, cfg, version)
    if champion == version:
        champion_auc = candidate_auc
        promoted, reasons = False, [f"a versão {version} já é a campeã"]
    else:
        champion_auc = holdout_auc(spark, cfg, champion) if champion else None
        promoted, reasons = decide(
            candidate_auc, champion_auc, checks, margin=cfg.gate_margin, min_auc=cfg.min_auc
        )
    if promoted:
        client.set_registered_model_alias(cfg.model_name, "champion", version)

    decision = Decision(
        candidate_version=version,
        champion_version=champion,
        candidate_auc=candidate_auc,
        champion_auc=champion_auc,
        margin=cfg.gate_margin,
        promoted=promoted,
        reasons=reasons,
        checks={name: asdict(c) for name, c in checks.items()},
    )
    record_decision(client, cfg, decision)
    return decision


def record_decision(client, cfg: PlatformConfig, decision: Decision) -> None:
    """Log the decision to MLflow (run + model version) and append it to the decisions table."""
    run_id = client.get_model_version(cfg.model_name, decision.candidate_version).run_id
    stamp = decision.decided_at.replace(":", "").replace("-", "")[:15]
    client.log_dict(run_id, asdict(decision), f"gate/decision_{stamp}.json")
    client.set_tag(run_id, "gate.promoted", str(decision.promoted))
    client.set_tag(run_id, "gate.reasons", " | ".join(decision.reasons)[:5000])
    client.set_model_version_tag(
        cfg.model_name,
        decision.candidate_version,
        "gate",
        "promoted" if decision.promoted else "rejected",
    )
    path = decisions_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as table:
        table.write(json.dumps(asdict(decision), ensure_ascii=False) + "\n")
