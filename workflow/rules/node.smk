# Deployment, part 1: a full node, and its cost per event and per billion jets (issue 23).
# One job per rung of node.backends (the main model with its trained weights) runs every plan
# of node.plans in turn: P fresh measuring processes x T threads, started together behind a
# barrier (jetprof.profiling.node). `measure_slot` keeps it off the CPU of every other
# measurement; its threads are the largest plan's cores. Then `jetprof cost` turns the
# records into results/summary/node.csv, cost.csv and the report's cost page.
import shlex

from jetprof import node_record as jn

NODE = jw.config_section(config, "node")
COST = jw.config_section(config, "cost")
NODE_PLANS = jn.config_plans(config)


if not REGENERATE:
    for _model, _backend, _precision in jn.study_node_runs(config):

        rule:
            name:
                f"node_{_model}_{_backend}_{_precision}"
            input:
                network_config=MODELS[_model][0],
                data_config=MODELS[_model][1],
                checkpoint=(
                    [jw.checkpoint_of(config, "trained", _model)]
                    if _model in contract.trained_models(config)
                    else []
                ),
                validated="results/validate/report.json",
                data=jw.split_files_input(config, ("val",), checkpoints),
            output:
                [
                    jn.node_path(_model, "cpu", _backend, _precision, p)
                    for p in NODE_PLANS
                ],
            log:
                f"results/logs/node/{_model}/{_backend}-{_precision}.log",
            benchmark:
                f"results/benchmarks/node/{_model}/{_backend}-{_precision}.tsv"
            conda:
                "../../envs/profile.yaml"
            threads: max(p.cores for p in NODE_PLANS)
            resources:
                measure_slot=contract.WHOLE_SLOT,
                runtime=max(10, len(NODE_PLANS) * int(NODE["duration_s"] + 60) // 60),
            params:
                model=_model,
                pair=f"{_backend}-{_precision}",
                weights=(
                    "--weights trained --checkpoint "
                    + shlex.quote(jw.checkpoint_of(config, "trained", _model))
                    if _model in contract.trained_models(config)
                    else "--weights random"
                ),
                plans=" ".join(f"--plan {p.name}" for p in NODE_PLANS),
                batch=NODE["batch_size"],
                duration=NODE["duration_s"],
                calls=NODE["calls"],
                warmup=NODE["warmup"],
                memory=NODE["memory_per_core_gb"],
            shell:
                "jetprof --log {log:q} node --model {params.model:q} {params.weights}"
                " --network-config {input.network_config:q} --data-config {input.data_config:q}"
                " --backend {params.pair:q} {params.plans}"
                " --batch-size {params.batch} --duration-s {params.duration} --calls {params.calls}"
                " --warmup {params.warmup} --memory-per-core-gb {params.memory}"
                " --data {input.data:q} --out results"


rule summarize_node:
    input:
        records=get_node_records(),
        points="results/summary/points.csv",
    output:
        node=report(
            "results/summary/node.csv",
            caption="../report/node_throughput.rst",
            category="4. Deployment",
            subcategory="A full node",
        ),
        csv="results/summary/cost.csv",
        md=report(
            "results/summary/cost.md",
            caption="../report/cost_table.rst",
            category="4. Deployment",
            subcategory="Cost per event",
        ),
    log:
        "results/logs/summary/summarize_node.log",
    conda:
        "../../envs/plot.yaml"
    resources:
        measure_slot=contract.HALF_SLOT,
    params:
        jets=COST["jets_per_event"],
        budget=COST["budget_ms_per_event"],
    shell:
        "jetprof --log {log:q} cost --out-node {output.node:q} --out-csv {output.csv:q}"
        " --out-md {output.md:q} --points {input.points:q} --jets-per-event {params.jets}"
        " --budget-ms-per-event {params.budget} {input.records:q}"
