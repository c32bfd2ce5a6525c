# Stage 7-8: records -> one table -> figures, every one wrapped for the report.
# With `--config regenerate=true` these rules read the records already on disk
# and nothing upstream runs.

FIGURE_INPUTS = {
    "training_curves": ["results/evaluate/metrics.json"],
    "roc": ["results/evaluate/metrics.json"],
    "confusion_matrix": ["results/evaluate/metrics.json"],
    "roofline": get_peak_records(),
}
FIGURE_CATEGORY = {
    "training_curves": "2. Training",
    "roc": "2. Training",
    "confusion_matrix": "2. Training",
}


rule summarize_records:
    input:
        get_profile_records(),
    output:
        csv=report(
            "results/summary/points.csv",
            caption="../report/summary_table.rst",
            category="3. Profile",
            subcategory="Table",
        ),
        md="results/summary/points.md",
    log:
        "results/logs/summary/summarize_records.log",
    conda:
        "../../envs/plot.yaml"
    shell:
        "jetprof --log {log:q} summarize --out-csv {output.csv:q} --out-md {output.md:q} {input:q}"


rule compare_variants:
    input:
        get_group_files(),
    output:
        csv=report(
            "results/summary/comparisons.csv",
            caption="../report/comparisons.rst",
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
    log:
        "results/logs/summary/compare_variants.log",
    conda:
        "../../envs/plot.yaml"
    params:
        threshold=config["profile"].get("compare", {}).get("threshold", 0.05),
        model=MODEL,
    shell:
        "jetprof --log {log:q} compare --threshold {params.threshold} --main-model {params.model:q}"
        " --out-csv {output.csv:q} --answer-json {output.json:q} --answer-md {output.md:q}"
        " {input:q}"


for _figure in jw.FIGURES:

    rule:
        name:
            f"plot_{_figure}"
        input:
            table="results/summary/points.csv",
            extra=FIGURE_INPUTS.get(_figure, []),
        output:
            report(
                f"results/figures/{_figure}.png",
                caption=f"../report/{_figure}.rst",
                category=FIGURE_CATEGORY.get(_figure, "3. Profile"),
                subcategory="Figures",
            ),
        log:
            f"results/logs/figures/{_figure}.log",
        conda:
            "../../envs/plot.yaml"
        params:
            figure=_figure,
            metrics=(
                "--metrics results/evaluate/metrics.json"
                if _figure in ("training_curves", "roc", "confusion_matrix")
                else ""
            ),
            peak=(
                " ".join(f"--peak {p}" for p in get_peak_records())
                if _figure == "roofline"
                else ""
            ),
            # one-model figures show the trained model (with stored records only:
            # the model that has trained weights, picked by jetprof plot)
            model=(
                f"--model {MODEL}"
                if not REGENERATE and _figure != "models_comparison"
                else ""
            ),
        shell:
            "jetprof plot {params.figure} --table {input.table} --records-dir results/profile"
            " {params.metrics} {params.peak} {params.model} --out {output} > {log} 2>&1"


rule figures:
    input:
        get_figures(),
        "results/summary/points.md",
        "results/summary/comparisons.csv",
        "results/summary/weights_answer.json",
        "results/summary/weights_answer.md",
