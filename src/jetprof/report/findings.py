"""The report's opening page: what the study found, in a few lines, each naming its figure.

``jetprof findings`` reads what the summary rules wrote (never measuring or deciding anything
itself) and states, one line each:

* the weights verdict (``weights_answer.json``);
* the fastest rung within the AUC budget at each batch size (``deployment.json``);
* the zoo's Pareto front, macro AUC against batch-1 latency (``models.csv``);
* node throughput and core-hours per billion jets (``node.csv``, ``cost.csv``);
* the highest served QPS under the latency bound, and the other scenarios (``serving.csv``).

A part the study did not run says so in its line, and names the key that turns it on.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd

from jetprof.errors import JetprofError

HEADER = "# What the study found"


def _read_json(path: str | None) -> dict[str, object] | None:
    if not path:
        return None
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise JetprofError(f"{path}: not readable ({exc})") from None
    if not isinstance(doc, dict):
        raise JetprofError(f"{path}: not a JSON object")
    return doc


def _read_csv(path: str | None) -> pd.DataFrame | None:
    if not path:
        return None
    try:
        return pd.read_csv(path)
    except (OSError, pd.errors.ParserError) as exc:
        raise JetprofError(f"{path}: not a readable table ({exc})") from None
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def weights_line(answer: dict[str, object] | None) -> str:
    if answer is None:
        return "- **Weights**: not compared (no weights answer). Figure: `weights_comparison.png`."
    reasons = answer.get("reasons")
    first = reasons[0] if isinstance(reasons, list) and reasons else ""
    headline = {"same": "no", "different": "yes", "inconclusive": "not decided"}.get(str(answer.get("verdict")), "?")
    return (f"- **Does the weight state change the cost?** {headline} (`{answer.get('verdict')}`): {first}. "
            "Figure: `weights_comparison.png`; page: `weights_answer.md`.")


def deployment_line(deployment: dict[str, object] | None) -> str:
    best = deployment.get("fastest") if deployment else None
    if not isinstance(best, list) or not best:
        return ("- **Fastest rung within the AUC budget**: no rung was scored on the test jets (a trained model and "
                "profile.backends beyond eager-fp32 are needed). Figure: `deployment.png`.")
    parts = []
    for b in best:
        if not isinstance(b, dict):
            continue
        where = f"{b.get('model')} {b.get('device')} batch {b.get('batch_size')}"
        if b.get("note"):
            parts.append(f"{where}: eager-fp32 ({b['note']})")
            continue
        ci = b.get("speedup_ci95") or [math.nan, math.nan]
        parts.append(f"{where}: `{b.get('variant')}`, {float(b.get('speedup') or math.nan):.2f}× "
                     f"[{float(ci[0]):.2f}, {float(ci[1]):.2f}] faster, ΔAUC {float(b.get('delta_auc') or 0):+.4f}")
    budget = deployment.get("auc_loss") if deployment else None
    return (f"- **Fastest rung within the AUC budget** (macro-AUC loss ≤ {budget}): " + "; ".join(parts)
            + ". Figure: `deployment.png`; page: `deployment.md`.")


def pareto_line(models: pd.DataFrame | None) -> str:
    from jetprof.report.pareto import pareto_front

    if models is None or models.empty or "auc_macro" not in models:
        return "- **The zoo's Pareto front**: no models table. Figure: `accuracy_vs_cost.png`."
    scored = models.dropna(subset=["auc_macro", "latency_ms_p50_bs1"])
    if scored.empty:
        return ("- **The zoo's Pareto front**: no model both trained and timed here (profile.models with "
                "`train: true` trains them; config/zoo.yaml does). Figure: `accuracy_vs_cost.png`.")
    lines = []
    for device, rows in scored.groupby("device", sort=True):
        rows = rows.reset_index(drop=True)
        on = rows[pareto_front(rows["latency_ms_p50_bs1"].to_numpy(float), rows["auc_macro"].to_numpy(float))]
        lines.append(f"{device}: " + ", ".join(f"{r.model} (AUC {r.auc_macro:.3f}, {r.latency_ms_p50_bs1:.2f} ms)"
                                               for r in on.itertuples())
                     + f" of {len(rows)} trained model(s)")
    return ("- **The zoo's Pareto front** (macro AUC against batch-1 latency, trained here): " + "; ".join(lines)
            + ". Figure: `accuracy_vs_cost.png`; table: `models.md`.")


def node_line(node: pd.DataFrame | None, cost: pd.DataFrame | None) -> str:
    if node is None or node.empty:
        return "- **A full node**: not run (node.plans is empty). Figure: `node_throughput.png`."
    best = node.loc[node["jets_per_s"].idxmax()]
    text = (f"- **A full node**: at most {best['jets_per_s']:.0f} jets/s ({best['processes']}×{best['threads']}, "
            f"{best['jets_per_s_per_core']:.0f} jets/s per core, {best['model']} "
            f"{best['backend']}-{best['precision']}; "
            f"largest process {best['rss_peak_bytes'] / 2**20:.0f} MiB resident)")
    if cost is not None and not cost.empty:
        c = cost.loc[cost["core_hours_per_1e9_jets"].idxmin()]
        text += (f"; a billion jets cost {c['core_hours_per_1e9_jets']:.0f} core-hours ({c['model']} {c['backend']}-"
                 f"{c['precision']}), {c['ms_per_event']:.1f} ms per event, {100 * c['budget_share']:.1f} % of the "
                 "budget")
    return text + ". Figure: `node_throughput.png`; table: `cost.md`."


def serving_line(serving: pd.DataFrame | None) -> str:
    if serving is None or serving.empty:
        return ("- **Served through MLPerf LoadGen**: not run (serving.scenarios is empty, or results/serving/ "
                "was not copied). Figure: `served_latency.png`.")
    parts = []
    server = serving[serving["scenario"] == "Server"]
    if not server.empty:
        s = server.loc[server["max_qps"].fillna(0).idxmax()]
        if not s["max_qps"] > 0:
            parts.append(f"Server: no rate met the {s['latency_bound_ms']:g} ms p99 bound (max QPS 0: {s['reason']})")
        else:
            parts.append(f"Server: at most {s['max_qps']:.0f} QPS with p99 within {s['latency_bound_ms']:g} ms "
                         f"({s['backend']}-{s['precision']})")
    else:
        parts.append("Server: not run (add Server to serving.scenarios)")
    for scenario, what in (("SingleStream", "p90"), ("Offline", "jets/s")):
        rows = serving[serving["scenario"] == scenario]
        for r in rows.itertuples():
            figure = f"p90 {r.p90_ms:.2f} ms per jet" if what == "p90" else f"{r.achieved_qps:.0f} jets/s"
            parts.append(f"{scenario}: {figure} ({r.backend}-{r.precision})")
    return "- **Served through MLPerf LoadGen**: " + "; ".join(parts) + ". Figure: `served_latency.png`."


def findings_markdown(answer: dict[str, object] | None, deployment: dict[str, object] | None,
                      models: pd.DataFrame | None, node: pd.DataFrame | None, cost: pd.DataFrame | None,
                      serving: pd.DataFrame | None) -> str:
    lines = [HEADER, "", weights_line(answer), deployment_line(deployment), pareto_line(models),
             node_line(node, cost), serving_line(serving), "",
             "Every figure above is measured in this study's run; each comparison is paired (interleaved in one "
             "group's fresh processes, with its 95 % interval).", ""]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``jetprof findings``."""
    parser.add_argument("--answer", help="results/summary/weights_answer.json")
    parser.add_argument("--deployment", help="results/summary/deployment.json")
    parser.add_argument("--models", help="results/summary/models.csv")
    parser.add_argument("--node", help="results/summary/node.csv")
    parser.add_argument("--cost", help="results/summary/cost.csv")
    parser.add_argument("--serving", help="results/summary/serving.csv (where serving ran)")
    parser.add_argument("--out-md", required=True, help="the opening page (Markdown)")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``jetprof findings``."""
    from jetprof.io import atomic_write_text

    text = findings_markdown(_read_json(args.answer), _read_json(args.deployment), _read_csv(args.models),
                             _read_csv(args.node), _read_csv(args.cost), _read_csv(args.serving))
    atomic_write_text(args.out_md, text)
    print(f"jetprof findings: -> {args.out_md}")
    return 0
