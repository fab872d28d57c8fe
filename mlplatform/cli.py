"""Command line: ``python -m mlplatform <step> [--root DIR] [--scale ci|aula|grande] [--seed N]``.

Steps: land, etl, features, train, gate, score, stream, monitor, all.

Examples
--------
Run everything at the smallest scale, into ``build/platform``::

    python -m mlplatform all --scale ci

Then one step at a time, e.g. a new stream of drifted traffic and the monitor::

    python -m mlplatform stream --traffic drifted
    python -m mlplatform monitor
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from mlplatform.config import SCALES, PlatformConfig

STEPS = ("land", "etl", "features", "train", "gate", "score", "stream", "monitor", "all")
#: New traffic for the stream: label -> (seed offset, drift).
TRAFFIC = {"clean": (1, 0.0), "drifted": (2, 0.8)}


def _show(title: str, payload) -> None:
    print(f"== {title}")
    print(json.dumps(payload, indent=2, ensure_ascii=False, default=str))


def step_land(spark, cfg, args) -> None:
    from mlplatform import etl

    _show("land: arquivos brutos gerados", etl.write_landing(spark, cfg))


def step_etl(spark, cfg, args) -> None:
    from mlplatform import etl

    _show("etl", etl.run_etl(spark, cfg))


def step_features(spark, cfg, args) -> None:
    from mlplatform import features

    _show("features", features.materialize(spark, cfg))


def step_train(spark, cfg, args) -> None:
    from mlplatform import train

    report = train.train(spark, cfg)
    _show(
        "train",
        {k: report[k] for k in ("run_id", "model_version", "holdout_auc", "best", "fit_seconds")},
    )


def step_gate(spark, cfg, args) -> None:
    from mlplatform import gate

    decision = gate.run_gate(spark, cfg)
    _show("gate", {"promovido": decision.promoted, "motivos": decision.reasons})


def step_score(spark, cfg, args) -> None:
    from mlplatform import serve

    _show("score (lote)", serve.score_recent_lake(spark, cfg))


def step_stream(spark, cfg, args) -> None:
    from mlplatform import serve

    offset, drift = TRAFFIC[args.traffic]
    files = serve.write_traffic(
        spark,
        cfg,
        args.traffic,
        seed=cfg.seed + offset,
        drift=drift,
        n=cfg.traffic_rows,
        files=cfg.traffic_files,
    )
    print(f"== stream: {len(files)} arquivos novos ({args.traffic}, drift={drift})")
    _show("stream: micro-batches", serve.run_stream(spark, cfg, args.traffic))


def step_monitor(spark, cfg, args) -> None:
    from mlplatform import monitor

    table = monitor.run_monitor(spark, cfg)
    columns = [
        "batch_id",
        "traffic",
        "rows",
        "rows_per_second",
        "psi_max",
        "drift_alert",
        "drift_columns",
    ]
    print("== monitor")
    print(table[columns].to_string(index=False))
    print(f"gráfico: {cfg.monitoring / 'drift.png'}")


def step_all(spark, cfg, args) -> None:
    started: dict[str, float] = {}
    for name in (
        "land",
        "etl",
        "features",
        "train",
        "gate",
        "score",
        "stream",
        "stream",
        "monitor",
    ):
        if name == "stream":
            args.traffic = (
                "drifted" if args.traffic == "clean" and started.get("stream") else "clean"
            )
        started[name] = time.perf_counter()
        STEP_FUNCTIONS[name](spark, cfg, args)
        print(f"-- {name}: {time.perf_counter() - started[name]:.1f} s")


STEP_FUNCTIONS: dict[str, Callable] = {
    "land": step_land,
    "etl": step_etl,
    "features": step_features,
    "train": step_train,
    "gate": step_gate,
    "score": step_score,
    "stream": step_stream,
    "monitor": step_monitor,
    "all": step_all,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m mlplatform",
        description="Plataforma de ML de referência (detecção de fraude): uma etapa por comando.",
    )
    parser.add_argument("step", choices=STEPS, help="etapa a executar ('all' roda todas em ordem)")
    parser.add_argument(
        "--root", default="build/platform", help="pasta da plataforma (padrão: build/platform)"
    )
    parser.add_argument(
        "--scale", default="ci", choices=SCALES, help="tamanho dos dados (padrão: ci)"
    )
    parser.add_argument("--seed", type=int, default=42, help="semente (padrão: 42)")
    parser.add_argument(
        "--traffic",
        default="clean",
        choices=tuple(TRAFFIC),
        help="stream: tráfego limpo ou com drift",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = PlatformConfig(root=args.root, scale=args.scale, seed=args.seed)

    from coursekit.session import get_spark

    spark = get_spark("mlplatform")
    started = time.perf_counter()
    try:
        STEP_FUNCTIONS[args.step](spark, cfg, args)
    finally:
        print(f"== {args.step}: {time.perf_counter() - started:.1f} s")
        spark.stop()
    return 0
