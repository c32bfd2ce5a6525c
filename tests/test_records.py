"""The typed records (jetprof.records) against their JSON schema and the records written before them.

``tests/data/records_v1/`` holds a point record (eager fp32, ONNX Runtime fp32) and its
group's rounds file as jetprof wrote them before the records were typed (main d8a671b);
``results/reference/`` holds committed records from an H100 run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jetprof.contract import RECORD_SCHEMA
from jetprof.errors import JetprofError
from jetprof.records import (
    ComparisonRow,
    GroupDocument,
    OnnxBlock,
    Paired,
    PointRecord,
    WeightsAnswer,
    field_names,
    load_record,
    validate_record,
)

REPO = Path(__file__).resolve().parents[1]
OLD = REPO / "tests" / "data" / "records_v1"
SCHEMA = json.loads(RECORD_SCHEMA.read_text())
OLD_POINTS = sorted(OLD.glob("*-bs2.json"))
OLD_POINTS = [p for p in OLD_POINTS if not p.name.startswith("group")]
REFERENCE_POINTS = sorted(p for p in (REPO / "results" / "reference").rglob("bs*.json"))


@pytest.mark.parametrize(("cls", "where"), [(PointRecord, ()), (Paired, ("paired",)), (OnnxBlock, ("onnx",))],
                         ids=["point", "paired", "onnx"])
def test_each_typed_level_of_the_schema_has_the_type_s_fields_and_no_others(cls, where):
    level = SCHEMA
    for key in where:
        level = level["properties"][key]
    assert set(field_names(cls)) == set(level["properties"]), (
        f"{cls.__name__} against record.schema.json {'/'.join(where) or '(top level)'}")
    assert level.get("additionalProperties") is False  # a misspelt key fails validation
    # what the schema requires, the type writes whenever it is set
    assert set(level.get("required", [])) <= set(field_names(cls))


def _blank() -> PointRecord:
    return PointRecord.blank(model="ParT_full", weights="random", device="cpu", backend="eager", precision="fp32",
                             batch_size=2, particles=32, seed=0, threads=1, warmup_calls=1)


def test_a_blank_record_writes_no_unset_optional_field():
    doc = _blank().to_json()
    with pytest.raises(JetprofError, match=r"blank\.json: invalid profile record at env: 'host'"):
        validate_record(doc, "blank.json")  # no environment yet: not a record to write
    assert next(iter(doc)) == "schema_version" and doc["status"] == "error" and doc["error"] == "not measured"
    assert "paired" not in doc and "onnx" not in doc and "compile_s" not in doc
    assert doc["quality"] is None and doc["checkpoint"] is None  # always written, null while unmeasured


@pytest.mark.parametrize("path", OLD_POINTS + REFERENCE_POINTS, ids=lambda p: str(p.relative_to(REPO)))
def test_records_written_before_the_types_load_and_round_trip(path):
    doc = json.loads(path.read_text())
    rec = load_record(doc, str(path))
    again = rec.to_json()
    assert {k: again[k] for k in doc} == doc  # every field kept as it was
    added = {k: v for k, v in again.items() if k not in doc}
    assert added in ({}, {"quality": None})  # the H100 records predate the quality block: null now
    validate_record(again, str(path))
    if "paired" in doc:
        assert isinstance(rec.paired, Paired) and rec.paired.rounds == len(doc["paired"]["round_latency_ms"])


def test_the_old_onnx_record_types_its_onnx_block():
    rec = load_record(json.loads((OLD / "onnxruntime-fp32-bs2.json").read_text()))
    assert isinstance(rec.onnx, OnnxBlock) and rec.onnx.exported_by_this_point is True
    assert rec.onnx.max_abs_diff_vs_eager is not None and rec.onnx.max_abs_diff_vs_eager < 1e-4
    assert rec.paired is not None and rec.paired.position == 1 and rec.paired.calls_per_round


@pytest.mark.parametrize(("where", "key"), [((), "latency_ms_p05"), ((), "peak_memory_byte"),
                                            (("paired",), "round"), (("onnx",), "trimed")])
def test_a_misspelt_key_fails_validation_and_loading_in_one_line(where, key):
    doc = json.loads((OLD / "onnxruntime-fp32-bs2.json").read_text())
    level = doc
    for w in where:
        level = level[w]
    level[key] = 1
    with pytest.raises(JetprofError, match="invalid profile record") as err:
        validate_record(doc, "bad.json")
    assert str(err.value).startswith("bad.json:") and "\n" not in str(err.value)
    assert key in str(err.value)
    with pytest.raises(JetprofError, match=f"unknown field\\(s\\) {key}"):
        PointRecord.from_json(doc, "bad.json")


def test_the_old_group_rounds_file_loads_and_round_trips():
    doc = json.loads((OLD / "group-bs2.json").read_text())
    group = GroupDocument.from_json(doc, "group-bs2.json")
    assert group.to_json() == doc and list(group.to_json()) == list(doc)
    assert [v.backend for v in group.variants] == ["eager", "onnxruntime"]
    doc["variants"][0]["roundlatency_ms"] = []
    with pytest.raises(JetprofError, match="group variant has unknown field"):
        GroupDocument.from_json(doc, "group-bs2.json")


def test_comparison_rows_and_answers_refuse_unknown_and_missing_keys():
    row = dict.fromkeys(field_names(ComparisonRow), 0)
    assert ComparisonRow.from_json(row).to_json() == row
    with pytest.raises(JetprofError, match="comparison row has unknown field"):
        ComparisonRow.from_json({**row, "verdikt": "same"})
    answer = dict.fromkeys(field_names(WeightsAnswer), None)
    del answer["verdict"]
    with pytest.raises(JetprofError, match="weights answer lacks field\\(s\\) verdict"):
        WeightsAnswer.from_json(answer)


def test_a_record_that_is_not_an_object_is_refused_in_one_line():
    with pytest.raises(JetprofError, match=r"x\.json: a profile record must be a JSON object, not list"):
        PointRecord.from_json([], "x.json")


def test_the_comparisons_table_has_the_row_type_s_columns():
    from jetprof.report.compare import COLUMNS

    assert sorted(COLUMNS) == sorted(field_names(ComparisonRow))
