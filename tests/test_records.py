"""The typed records (jetprof.records) against their JSON schema and the records written before them.

``tests/data/records_v1/`` holds a point record (eager fp32, ONNX Runtime fp32) and its
group's rounds file as jetprof wrote them before the records were typed (main d8a671b);
``tests/data/records_v2/`` holds records of a real CPU group (eager int8, ONNX Runtime int8,
eager bucketed) and its rounds file as jetprof writes them since every block is typed;
``results/reference/`` holds committed records from an H100 run.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, fields
from pathlib import Path

import pytest

from jetprof.contract import RECORD_SCHEMA
from jetprof.errors import JetprofError
from jetprof.node_record import NodeProcess, NodeRecord, load_node_record
from jetprof.records import (
    POINT_BLOCKS,
    SCHEMA_FILES,
    Bucketing,
    ComparisonRow,
    EnergyBlock,
    GroupDocument,
    GroupVariant,
    Identity,
    InputsBlock,
    JetSource,
    OnnxBlock,
    OutputCheck,
    Paired,
    PointRecord,
    ProfilerBlock,
    Quality,
    Quantization,
    Subnormal,
    WeightsAnswer,
    field_names,
    load_group,
    load_record,
    validate_document,
    validate_record,
)
from jetprof.serving_records import ServedAccuracy, ServerProbe, ServingRecord, ServingSettings

REPO = Path(__file__).resolve().parents[1]
OLD = REPO / "tests" / "data" / "records_v1"
SCHEMA = json.loads(RECORD_SCHEMA.read_text())
OLD_POINTS = sorted(OLD.glob("*-bs2.json"))
OLD_POINTS = [p for p in OLD_POINTS if not p.name.startswith("group")]
NEW = REPO / "tests" / "data" / "records_v2"
NEW_POINTS = sorted(p for p in NEW.glob("*-bs3.json") if not p.name.startswith("group"))
REFERENCE_POINTS = sorted(p for p in (REPO / "results" / "reference").rglob("bs*.json"))


def _schema(kind: str) -> dict:
    return json.loads((RECORD_SCHEMA.parent / SCHEMA_FILES[kind]).read_text())


def _level(kind: str, where: tuple[str, ...]) -> dict:
    """The schema level at ``where`` (property names; ``$defs/x`` a definition; ``[]`` the items),
    its ``$ref`` followed (into record.schema.json too)."""
    level, schema = _schema(kind), _schema(kind)
    for key in where:
        if key.startswith("$defs/"):
            level = schema["$defs"][key[len("$defs/"):]]
        elif key == "[]":
            level = level["items"]
        else:
            level = level["properties"][key]
        while "$ref" in level:
            file, _, pointer = level["$ref"].partition("#")
            if file:
                schema = _schema(next(k for k, f in SCHEMA_FILES.items() if f == file))
            target = schema
            for part in [p for p in pointer.split("/") if p]:
                target = target[part]
            level = {**{k: v for k, v in level.items() if k != "$ref"}, **target}
    return level


#: every typed level of every record kind: (class, schema, path in it)
TYPED_LEVELS = [
    (PointRecord, "profile record", ()), (Paired, "profile record", ("paired",)),
    (OnnxBlock, "profile record", ("onnx",)), (InputsBlock, "profile record", ("inputs",)),
    (Quality, "profile record", ("quality",)), (JetSource, "profile record", ("quality", "source")),
    (OutputCheck, "profile record", ("output_check",)), (EnergyBlock, "profile record", ("energy",)),
    (Bucketing, "profile record", ("bucketing",)), (Subnormal, "profile record", ("subnormal",)),
    (Quantization, "profile record", ("quantization",)), (ProfilerBlock, "profile record", ("profiler",)),
    (GroupDocument, "group rounds file", ()), (GroupVariant, "group rounds file", ("variants", "[]")),
    (JetSource, "group rounds file", ("jets",)), (Subnormal, "group rounds file", ("variants", "[]", "subnormal")),
    (ComparisonRow, "comparison row", ()), (WeightsAnswer, "weights answer", ()),
    (NodeRecord, "node record", ()), (NodeProcess, "node record", ("per_process", "[]")),
    (ServingRecord, "serving record", ()), (ServedAccuracy, "serving record", ("accuracy",)),
    (ServingSettings, "serving record", ("settings",)), (ServerProbe, "serving record", ("server_search", "[]")),
]


@pytest.mark.parametrize(("cls", "kind", "where"), TYPED_LEVELS,
                         ids=[f"{k}:{'/'.join(w) or 'top'}" for _, k, w in TYPED_LEVELS])
def test_each_typed_level_of_a_schema_has_the_type_s_fields_and_no_others(cls, kind, where):
    level = _level(kind, where)
    what = f"{cls.__name__} against {SCHEMA_FILES[kind]} {'/'.join(where) or '(top level)'}"
    assert set(field_names(cls)) == set(level["properties"]), what
    assert level.get("additionalProperties") is False, what  # a misspelt key fails validation
    optional = getattr(cls, "OPTIONAL", frozenset())
    needed = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
    required = set(level.get("required", []))
    if cls is InputsBlock:  # required once the block is not {} (a point that failed before its batch)
        required = set(level["then"]["required"])
    # what the loader demands, the schema requires; what it requires, the type always writes
    assert needed <= required <= set(field_names(cls)) - optional, what


def test_every_point_record_block_is_typed_or_named_an_open_map():
    open_maps = {"openvino", "checkpoint"}  # keys not jetprof's: records.py and the schema say so
    for name in field_names(PointRecord):
        level = _level("profile record", (name,))
        if "object" not in [level.get("type"), *list(level.get("type", []))]:
            continue
        if name in open_maps:
            assert level.get("additionalProperties") is not False and "open map" in level["description"], name
        elif name == "env":  # jetprof.profiling.env's dict, closed by the schema
            for where in ((), ("cpu",), ("lock",)):
                assert _level("profile record", ("env", *where))["additionalProperties"] is False, where
        else:
            assert name in POINT_BLOCKS, f"{name}: an object block with no type"
            assert level["additionalProperties"] is False, name
    assert _level("profile record", ("top_ops", "[]"))["additionalProperties"] is False


def _blank() -> PointRecord:
    return PointRecord.blank(model="ParT_full", weights="random", device="cpu", backend="eager", precision="fp32",
                             batch_size=2, particles=32, seed=0, threads=1, warmup_calls=1)


def test_the_kinds_of_one_rung_share_one_identity_and_write_it_first_and_flat():
    names = field_names(Identity)
    assert names == ["model", "weights", "device", "backend", "precision"]
    node = _node()
    for cls, doc in ((PointRecord, _blank().to_json()), (NodeRecord, node)):
        assert issubclass(cls, Identity) and field_names(cls)[:5] == names, cls
        assert [k for k in doc if k != "schema_version"][:5] == names, cls
    assert issubclass(ServingRecord, Identity) and field_names(ServingRecord)[:5] == names
    assert _blank().rung == "eager-fp32" and load_node_record(node, "n").rung == "eager-fp32"
    # a list of blocks is typed on the way in and written back as it was read
    rec = NodeRecord.from_json(node, "n")
    assert all(isinstance(p, NodeProcess) for p in rec.per_process) and rec.to_json() == node


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


def _point() -> dict:
    """A hand-made record holding every typed block: a real ONNX Runtime int8 record (onnx,
    quantization, energy, inputs, output_check, profiler, subnormal, paired) given the bucketed
    record's bucketing and a quality block made by its type."""
    doc = json.loads((NEW / "onnxruntime-int8-bs3.json").read_text())
    doc["bucketing"] = json.loads((NEW / "eager_bucketed-fp32-bs3.json").read_text())["bucketing"]
    doc["quality"] = Quality(
        jets=8, top1_agreement=1.0, max_abs_diff=1e-3, auc_macro=None, auc_macro_reference=None,
        auc_note="random weights", tolerance=0.05, classes=2, batch_size=3, reference="eager fp32, same weights",
        source=JetSource(kind="real", files=["a.root:0-8"], repeated=False, distinct_jets=8)).to_json()
    return doc


def _group() -> dict:
    return json.loads((NEW / "group-bs3.json").read_text())


def _row() -> dict:
    from jetprof.report.compare import group_comparisons

    return group_comparisons(NEW / "group-bs3.json", _group(), 0.05)[0]


def _answer() -> dict:
    from jetprof.report.answers import weights_answer
    from jetprof.report.compare import comparisons, pooled, subnormal_by_state

    groups = [(NEW / "group-bs3.json", _group())]
    doc = weights_answer(comparisons(groups, 0.05), subnormal_by_state(groups), False, 0.05, pooled(groups, 0.05))
    doc["by_model"].append({"model": "ParT_full", "verdict": "same", "reasons": ["hand-made"]})
    return doc


def _node() -> dict:
    """A hand-made node run (two processes, one thread each) with a real record's env block."""
    env = json.loads((NEW / "eager-int8-bs3.json").read_text())["env"]
    procs = [NodeProcess(index=i, pid=100 + i, calls=50, jets_in_window=1590.5, jets_per_s=795.25,
                         latency_ms_p50=40.0, cpu_s=1.98, wall_s=2.01, rss_peak_bytes=400_000_000 + i,
                         particles_mean=30.5, first_jet=32 * i) for i in range(2)]
    return NodeRecord(model="ParT_full", weights="trained", device="cpu", backend="eager", precision="fp32",
                      batch_size=32, processes=2, threads=1, cores=2, cores_available=2, process_mode="fork",
                      duration_s=2.0, calls_target=0, warmup_calls=7, window_s=2.0, jets_per_s=1590.5,
                      jets_per_s_per_core=795.25, rss_peak_bytes=400_000_001, rss_method="proc_status_vmhwm",
                      memory_per_core_gb=2.0, slot_bytes=2_000_000_000, fits_slot=True, jets_source="hand-made",
                      distinct_jets=64, per_process=procs, env=env, started_utc="2026-12-03T11:00:00Z",
                      elapsed_s=9.5).to_json()


def _load_point(doc, source):
    return load_record(doc, source)


def _load_row(doc, source):
    validate_document("comparison row", doc, source)
    return ComparisonRow.from_json(doc, source)


def _load_answer(doc, source):
    validate_document("weights answer", doc, source)
    return WeightsAnswer.from_json(doc, source)


#: per record kind: a valid hand-made document, its loader, and every nested level jetprof writes
KINDS = {
    "profile record": (_point, _load_point, [
        ("paired",), ("onnx",), ("inputs",), ("quality",), ("quality", "source"), ("output_check",),
        ("energy",), ("bucketing",), ("subnormal",), ("quantization",), ("profiler",), ("top_ops", 0),
        ("env",), ("env", "cpu"), ("env", "lock")]),
    "group rounds file": (_group, load_group, [("variants", 0), ("variants", 0, "subnormal"), ("jets",), ("env",)]),
    "comparison row": (_row, _load_row, []),
    "weights answer": (_answer, _load_answer, [("control", 0), ("pooled", 0), ("by_model", 0), ("cpu",)]),
    "node record": (_node, load_node_record, [("per_process", 0), ("env",)]),
}
CASES = [(kind, where) for kind, (_, _, levels) in KINDS.items() for where in [(), *levels]]
IDS = [f"{kind}:{'/'.join(map(str, w)) or 'top'}" for kind, w in CASES]


def _at(doc, where):
    for key in where:
        doc = doc[key]
    return doc


def _refused(kind: str, doc: dict, where: tuple) -> str:
    """The loader's one-line refusal of ``doc``, naming the source and the key path."""
    loader = KINDS[kind][1]
    with pytest.raises(JetprofError) as err:
        loader(doc, "bad.json")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"bad.json: invalid {kind} at {'/'.join(map(str, where)) or '(top level)'}: "), message
    return message


@pytest.mark.parametrize("kind", KINDS)
def test_the_hand_made_documents_are_valid(kind):
    make, load, levels = KINDS[kind]
    doc = make()
    loaded = load(doc, "good.json")
    assert loaded.to_json() == doc
    for where in levels:
        assert _at(doc, where), f"{kind}: {where} is empty, so its refusals would test nothing"


@pytest.mark.parametrize(("kind", "where"), CASES, ids=IDS)
def test_an_unknown_key_is_refused_in_one_line_naming_its_path(kind, where):
    doc = KINDS[kind][0]()
    _at(doc, where)["colour"] = "blue"
    assert "'colour' was unexpected" in _refused(kind, doc, where)


@pytest.mark.parametrize(("kind", "where"), CASES, ids=IDS)
def test_a_misspelt_key_is_refused_in_one_line_naming_its_path(kind, where):
    doc = KINDS[kind][0]()
    level = _at(doc, where)
    key = sorted(level)[-1]
    typo = key[:-2] + key[-1] + key[-2] if len(key) > 2 else key + "s"
    level[typo] = level.pop(key)
    message = _refused(kind, doc, where)
    assert typo in message or f"'{key}' is a required property" in message, message


def _required(kind: str, where: tuple) -> list[str]:
    level = _level(kind, tuple("[]" if isinstance(k, int) else k for k in where))
    return [k for k in level.get("required") or level.get("then", {}).get("required", [])
            if k not in ("schema_version", "kind")]


REQUIRING = [(kind, where) for kind, where in CASES if _required(kind, where)]  # onnx requires nothing
REQUIRING_IDS = [f"{k}:{'/'.join(map(str, w)) or 'top'}" for k, w in REQUIRING]


@pytest.mark.parametrize(("kind", "where"), REQUIRING, ids=REQUIRING_IDS)
def test_a_missing_required_key_is_refused_in_one_line_naming_its_path(kind, where):
    doc = KINDS[kind][0]()
    key = _required(kind, where)[-1]
    del _at(doc, where)[key]
    assert f"'{key}' is a required property" in _refused(kind, doc, where)


@pytest.mark.parametrize(("cls", "where", "key"), [
    (PointRecord, (), "colour"), (PointRecord, ("quality",), "auc_macr"),
    (PointRecord, ("quality", "source"), "sed"), (PointRecord, ("energy",), "j_per_jets"),
    (PointRecord, ("inputs",), "shape"), (PointRecord, ("bucketing",), "slot"),
    (PointRecord, ("subnormal",), "weigths"), (PointRecord, ("quantization",), "tools"),
    (PointRecord, ("output_check",), "pased"), (PointRecord, ("profiler",), "call"),
    (GroupDocument, ("variants", 0, "subnormal"), "activation"), (GroupDocument, ("jets",), "sed"),
])
def test_the_types_refuse_a_misspelt_key_without_the_schema(cls, where, key):
    doc = _point() if cls is PointRecord else _group()
    _at(doc, where)[key] = 1
    kind = r"(.*block.*|profile record|group rounds file)"
    with pytest.raises(JetprofError, match=rf"^bad\.json: {kind} has unknown field\(s\) {key} "):
        cls.from_json(doc, "bad.json")


def test_the_report_refuses_a_broken_group_file_naming_it_and_the_key(tmp_path):
    from jetprof.report.compare import load_groups

    doc = _group()
    doc["variants"][1]["round_latency"] = doc["variants"][1].pop("round_latency_ms")
    bad = tmp_path / "bs3.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(JetprofError, match=rf"^{bad}: invalid group rounds file at variants/1: "):
        load_groups([tmp_path])
    names = [p.name for p, _ in load_groups([OLD / "group-bs2.json", NEW / "group-bs3.json"])]
    assert names == ["group-bs2.json", "group-bs3.json"]


@pytest.mark.parametrize("path", NEW_POINTS, ids=lambda p: p.name)
def test_records_of_a_real_group_load_and_round_trip_with_their_blocks_typed(path):
    doc = json.loads(path.read_text())
    rec = load_record(doc, str(path))
    assert rec.to_json() == doc and list(rec.to_json()) == list(doc)
    assert isinstance(rec.inputs, InputsBlock) and isinstance(rec.energy, EnergyBlock)
    assert isinstance(rec.subnormal, Subnormal) and isinstance(rec.output_check, OutputCheck)
    assert isinstance(rec.quantization if "int8" in path.name else rec.bucketing, (Quantization, Bucketing))


def test_a_node_record_refuses_a_misspelt_process_key_without_the_schema():
    doc = _node()
    doc["per_process"][0]["rss_peak"] = doc["per_process"][0].pop("rss_peak_bytes")
    with pytest.raises(JetprofError, match=r"^bad\.json: node process has unknown field\(s\) rss_peak "):
        NodeRecord.from_json(doc, "bad.json")

