# Stage 7-8: records -> one table -> figures, every one wrapped for the report.
# With `--config regenerate=true` these rules read the records already on disk
# and nothing upstream runs.


rule summarize_records:
    input:
        records=get_profile_records(),
        # regenerating: the evaluations found on disk (accuracy beside the cost)
        metrics=(
            sorted(glob.glob("results/evaluate/*/metrics.json"))
            if REGENERATE
            else jw.metrics_files(config)
        ),
    output:
        csv=report(
            "results/summary/points.csv",
            caption="../report/summary_table.rst",
            category="3. Profile",
            subcategory="Table",
        ),
        md="results/summary/points.md",
        models=report(
            "results/summary/models.csv",
            caption="../report/models_table.rst",
            category="3. Profile",
            subcategory="Table",
        ),
        models_md=report(
            "results/summary/models.md",
            caption="../report/models_page.rst",
            category="3. Profile",
            subcategory="Table",
        ),
    log:
        "results/logs/summary/summarize_records.log",
    conda:
        "../../envs/plot.yaml"
    resources:
        measure_slot=contract.HALF_SLOT,
    params:
        metrics=lambda wildcards, input: jw.metrics_flags(input.metrics),
    shell:
        "jetprof --log {log:q} summarize --out-csv {output.csv:q} --out-md {output.md:q}"
        " --models-md {output.models_md:q}"
        " --models-csv {output.models:q} {params.metrics} {input.records:q}"


rule compare_variants:
    input:
        groups=get_group_files(),
        points="results/summary/points.csv",
        peaks=get_peak_records(),
    output:
        csv=report(
            "results/summary/comparisons.csv",
            caption="../report/comparisons_table.rst",
            category="3. Profile",
            subcategory="Paired comparisons",
        ),
        json="results/summary/weights_answer.json",
        md=report(
            "results/summary/weights_answer.md",
            caption="../report/weights_answer.rst",
            category="3. Profile",
            subcategory="Does the weight state matter?",
        ),
        deployment_json="results/summary/deployment.json",
        deployment_md=report(
            "results/summary/deployment.md",
            caption="../report/deployment_answer.rst",
            category="3. Profile",
            subcategory="Deployment ladder",
        ),
    log:
        "results/logs/summary/compare_variants.log",
    conda:
        "../../envs/plot.yaml"
    resources:
        measure_slot=contract.HALF_SLOT,
    params:
        # the schema's defaults, filled in by jw.config_section: no second copy of them here
        threshold=jw.config_section(config, "profile", "compare")["threshold"],
        auc_loss=jw.config_section(config, "profile", "compare")["auc_loss"],
        model=MODEL,
    shell:
        "jetprof --log {log:q} compare --threshold {params.threshold} --main-model {params.model:q}"
        " --out-csv {output.csv:q} --answer-json {output.json:q} --answer-md {output.md:q}"
        " --points {input.points:q} --auc-loss {params.auc_loss}"
        " --deployment-json {output.deployment_json:q} --deployment-md {output.deployment_md:q}"
        " --peak {input.peaks:q} -- {input.groups:q}"


for _figure in jw.FIGURES:
    _inputs = jw.figure_inputs(
        config, _figure, get_profile_records(), get_peak_records()
    )

    rule:
        name:
            f"plot_{_figure}"
        input:
            **_inputs,
        output:
            report(
                f"results/figures/{_figure}.png",
                caption=f"../report/{_figure}.rst",
                category=jw.FIGURE_CATEGORY[_figure],
                subcategory="Figures",
            ),
        log:
            f"results/logs/figures/{_figure}.log",
        conda:
            "../../envs/plot.yaml"
        resources:
            measure_slot=contract.HALF_SLOT,
        params:
            command=jw.figure_command(
                config, _figure, _inputs, f"results/logs/figures/{_figure}.log"
            ),
        shell:
            "{params.command}"


rule figures:
    input:
        get_figures(),
        jw.summary_files(),
        jw.serving_summary(config),


# The report's opening page: what the study found, one line per question, each naming its figure.
rule findings:
    input:
        answer="results/summary/weights_answer.json",
        deployment="results/summary/deployment.json",
        models="results/summary/models.csv",
        node="results/summary/node.csv",
        cost="results/summary/cost.csv",
        serving=jw.serving_summary(config),
    output:
        md=report(
            "results/summary/findings.md",
            caption="../report/findings.rst",
            category="0. What the study found",
        ),
    log:
        "results/logs/summary/findings.log",
    conda:
        "../../envs/plot.yaml"
    resources:
        measure_slot=contract.HALF_SLOT,
    params:
        serving=lambda wildcards, input: (
            f"--serving {input.serving[0]}" if input.serving else ""
        ),
    shell:
        "jetprof --log {log:q} findings --answer {input.answer:q} --deployment {input.deployment:q}"
        " --models {input.models:q} --node {input.node:q} --cost {input.cost:q} {params.serving}"
        " --out-md {output.md:q}"
