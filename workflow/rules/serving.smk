# Stage 9: rungs of the ladder served through MLPerf LoadGen (serving.scenarios; off when
# empty). One job per (model, device, rung, scenario); what is served is decided in
# jetprof.serving_plan. The jobs take the measure_slot like every measurement.

import shlex

from jetprof import serving_plan as sp
from jetprof.config import schema_defaults

SERVING = sp.section(config, schema_defaults("serving"))

# regenerating serves nothing (no LoadGen needed): summarize_serving reads the records on disk
_serving_problems = [] if REGENERATE else sp.problems(config, SERVING)
if _serving_problems:  # one line each, before any job
    print(
        "jetprof: invalid config (serving):\n  " + "\n  ".join(_serving_problems),
        file=sys.stderr,
    )
    sys.exit(1)


wildcard_constraints:
    scenario="SingleStream|Offline|Server",


if not REGENERATE:

    rule serve_rung:
        input:
            unpack(serve_inputs),
            # the test split (known after the download for downloaded data)
            data=jw.split_files_input(config, ("test",), checkpoints),
        output:
            record="results/serving/{model}/{device}/{backend}-{precision}/{scenario}/record.json",
            summary="results/serving/{model}/{device}/{backend}-{precision}/{scenario}/mlperf_log_summary.txt",
            detail="results/serving/{model}/{device}/{backend}-{precision}/{scenario}/mlperf_log_detail.txt",
            accuracy="results/serving/{model}/{device}/{backend}-{precision}/{scenario}/mlperf_log_accuracy.json",
        log:
            "results/logs/serving/{model}/{device}/{backend}-{precision}/{scenario}.log",
        benchmark:
            "results/benchmarks/serving/{model}/{device}/{backend}-{precision}/{scenario}.tsv"
        conda:
            "../../envs/profile.yaml"
        threads: config["profile"]["threads"]
        resources:
            gpu=lambda wc: 1 if wc.device.startswith("cuda") else 0,
            gpu_model=lambda wc: jw.gpu_model(config, wc.device),
            measure_slot=contract.WHOLE_SLOT,
            runtime=60,
        params:
            flags=lambda wc: sp.flags(
                config,
                SERVING,
                wc.model,
                wc.backend,
                wc.precision,
                wc.device,
                wc.scenario,
            ),
            onnx=lambda wc, input: (
                f"--onnx {shlex.quote(input.onnx)}" if "onnx" in input.keys() else ""
            ),
            data=jw.split_glob("test"),
        shell:
            "jetprof --log {log:q} serve {params.flags} --network-config {input.network_config:q}"
            " --data-config {input.data_config:q} --checkpoint {input.checkpoint:q} {params.onnx}"
            " --data {params.data:q} --out $(dirname {output.record:q})"


rule summarize_serving:
    input:
        records=sp.serving_records(config, SERVING),
    output:
        csv=report(
            "results/summary/serving.csv",
            caption="../report/serving_table.rst",
            category="4. Serving",
            subcategory="Table",
        ),
    log:
        "results/logs/summary/summarize_serving.log",
    conda:
        "../../envs/plot.yaml"
    resources:
        measure_slot=contract.HALF_SLOT,
    shell:
        "jetprof --log {log:q} serving-summary --out-csv {output.csv:q} {input.records:q}"


rule serving:
    input:
        "results/summary/serving.csv",
