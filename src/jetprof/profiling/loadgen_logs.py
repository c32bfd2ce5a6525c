"""Reading MLPerf LoadGen's own logs: the summary (``mlperf_log_summary.txt``: the result,
LoadGen's reason, the rates and latency percentiles) and the accuracy log
(``mlperf_log_accuracy.json``: every served response's bytes), scored against the labels.

Nothing here reruns or second-guesses LoadGen: VALID/INVALID and the reason are the
summary's own words.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jetprof.errors import JetprofError
from jetprof.serving_records import ServedAccuracy

SUMMARY = "mlperf_log_summary.txt"
DETAIL = "mlperf_log_detail.txt"
ACCURACY = "mlperf_log_accuracy.json"
#: the logs a run keeps (its trace is not written)
LOGS = (SUMMARY, DETAIL, ACCURACY)

_LINE = re.compile(r"^\s*(?P<key>[^:]+?)\s*:\s*(?P<value>.*?)\s*$")
_PERCENTILE = re.compile(r"^(?P<p>\d+(?:\.\d+)?) percentile latency \(ns\)$")
#: the summary's rate line of each scenario (SingleStream: with LoadGen's overhead)
_RATE_KEYS = ("Samples per second", "Completed samples per second", "QPS w/ loadgen overhead")


@dataclass
class Summary:
    """What a LoadGen summary says: the result and why, rates, latencies (ms)."""

    scenario: str
    mode: str
    result: str
    reason: str | None
    achieved_qps: float | None
    target_qps: float | None
    latency_ms: dict[str, float]

    @property
    def valid(self) -> bool:
        return self.result == "VALID"


def _number(text: str, source: str, key: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise JetprofError(f"{source}: {key!r} is not a number ({text!r})") from None


def parse_summary(path: Path) -> Summary:
    """The summary LoadGen wrote; JetprofError naming the file where it is not one."""
    source = str(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise JetprofError(f"{source}: cannot read LoadGen's summary ({exc.strerror})") from None
    fields: dict[str, str] = {}
    latency: dict[str, float] = {}
    unmet: list[str] = []
    notes: list[tuple[str, str]] = []
    section = ""
    for line in lines:
        if line.startswith("Recommendations:") or line.startswith("Early Stopping Result:"):
            section = line.rstrip(":")
            continue
        if line.startswith("=") or not line.strip():
            section = ""
            continue
        if line.startswith(" *") and section:
            notes.append((section, line.strip(" *")))
            continue
        if line.startswith("  ") and section == "Early Stopping Result" and notes:
            notes[-1] = (section, notes[-1][1] + " " + line.strip())
            continue
        m = _LINE.match(line)
        if not m:
            continue
        key, value = m["key"], m["value"]
        fields.setdefault(key, value)
        if value == "NO" and key.endswith("satisfied"):
            unmet.append(f"{key}: NO")
        pm = _PERCENTILE.match(key)
        if pm:
            label = "p" + pm["p"].rstrip("0").rstrip(".").replace(".", "_")
            latency[label] = _number(value, source, key) / 1e6
        elif key in ("Mean latency (ns)", "Min latency (ns)", "Max latency (ns)"):
            latency[key.split()[0].lower()] = _number(value, source, key) / 1e6
    if fields.get("Scenario") is None or "Mode" not in fields:
        raise JetprofError(f"{source}: not a LoadGen summary (no Scenario/Mode lines)")
    result = fields.get("Result is", "NONE")
    reason = None
    if result != "VALID":
        # the unmet constraints, then what LoadGen recommends / its early-stopping verdict
        # (early stopping's notes only where it was not satisfied)
        stopping = any(u.startswith("Early stopping") for u in unmet)
        kept = unmet + [n for sec, n in notes if sec == "Recommendations" or stopping]
        reason = "; ".join(kept) or ("accuracy mode: no performance result" if result == "NONE" else None)
    rate = next((fields[k] for k in _RATE_KEYS if k in fields), None)
    target = fields.get("target_qps") if fields["Scenario"] in ("Server", "Offline") else None
    return Summary(scenario=fields["Scenario"], mode=fields["Mode"], result=result, reason=reason,
                   achieved_qps=_number(rate, source, "rate") if rate is not None else None,
                   target_qps=_number(target, source, "target_qps") if target is not None else None,
                   latency_ms=latency)


def read_accuracy_log(path: Path, classes: int) -> dict[int, np.ndarray]:
    """Sample index -> the probabilities the SUT returned for it (float32 per class), from
    LoadGen's accuracy log; JetprofError naming the file where an entry is not such a vector."""
    source = str(path)
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise JetprofError(f"{source}: cannot read LoadGen's accuracy log ({exc})") from None
    if not isinstance(entries, list):
        raise JetprofError(f"{source}: LoadGen's accuracy log is not a list")
    out: dict[int, np.ndarray] = {}
    for i, entry in enumerate(entries):
        try:
            raw = bytes.fromhex(entry["data"])
            index = int(entry["qsl_idx"])
        except (KeyError, TypeError, ValueError):
            raise JetprofError(f"{source}: entry {i} lacks qsl_idx or hex data") from None
        probs = np.frombuffer(raw, dtype=np.float32)
        if probs.size != classes:
            raise JetprofError(f"{source}: entry {i} (sample {index}) holds {probs.size} numbers, "
                               f"not the {classes} class probabilities")
        out[index] = probs.astype(np.float64)
    return out


def score(served: dict[int, np.ndarray], labels: np.ndarray, reference: np.ndarray, source: str,
          tolerance: float) -> ServedAccuracy:
    """Accuracy and macro AUC of every served jet, and its largest |Δ softmax| from ``reference``,
    which passes within ``tolerance``.

    Raises:
        JetprofError: a jet of the library was not served (LoadGen's accuracy mode serves
            each once), naming the log.
    """
    from jetprof.metrics import macro_auc

    n = len(labels)
    missing = sorted(set(range(n)) - set(served))
    if missing:
        raise JetprofError(f"{source}: {len(missing)} of the {n} jets were not served (first: {missing[0]})")
    probs = np.stack([served[i] for i in range(n)])
    classes = len(np.unique(labels))
    auc = macro_auc(labels, probs) if classes > 1 else None
    ref_auc = macro_auc(labels, reference) if classes > 1 else None
    diff = float(np.max(np.abs(probs - reference)))
    return ServedAccuracy(jets=n, classes=classes, accuracy=float(np.mean(probs.argmax(axis=1) == labels)),
                          auc_macro=auc, auc_macro_reference=ref_auc, max_abs_diff=diff, tolerance=tolerance,
                          passed=bool(diff <= tolerance))
