# Stage 1-2: jets in (generated offline or downloaded), then checked.


if config["dataset"]["source"] == "generate":

    rule generate_dataset:
        output:
            "results/dataset/{split}/{prefix}_{index}.root",
        log:
            "results/logs/dataset/{split}/{prefix}_{index}.log",
        benchmark:
            "results/benchmarks/generate_dataset/{split}/{prefix}_{index}.tsv"
        conda:
            "../../envs/data.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=60,
        params:
            jets=lambda wc: config["dataset"]["generate"]["jets"][wc.split],
            seed=config["dataset"]["generate"]["seed"],
            chunk=config["dataset"]["generate"]["chunk_size"],
            mpi="--mpi" if config["dataset"]["generate"]["mpi"] else "--no-mpi",
            index=lambda wc: int(wc.index),
        shell:
            "jetprof generate --process {wildcards.prefix} --split {wildcards.split}"
            " --index {params.index} --jets {params.jets} --seed {params.seed}"
            " --chunk-size {params.chunk} {params.mpi} --out {output} > {log} 2>&1"

    rule write_manifest:
        input:
            get_dataset_files(),
        output:
            "results/dataset/manifest.json",
        log:
            "results/logs/dataset/manifest.log",
        conda:
            "../../envs/data.yaml"
        params:
            settings=json.dumps(config["dataset"]["generate"]),
        shell:
            "jetprof manifest --out {output} --settings-json '{params.settings}' {input} > {log} 2>&1"

else:

    rule download_dataset:
        output:
            "results/dataset/download.json",
        log:
            "results/logs/dataset/download.log",
        conda:
            "../../envs/data.yaml"
        resources:
            runtime=24 * 60,
        params:
            source=config["dataset"]["source"],
            base_url=(
                f"--base-url {config['dataset']['download']['base_url']}"
                if config["dataset"]["download"]["base_url"]
                else ""
            ),
            sha256=" ".join(
                f"--sha256 {part}={digest}"
                for part, digest in config["dataset"]["download"]["sha256"].items()
            ),
            parts=",".join(config["dataset"]["download"]["parts"]),
            cache=config["dataset"]["download"]["cache"],
            processes=",".join(
                jw_process.file_prefix
                for jw_process in PROCESSES
                if jw_process.short in config["dataset"]["processes"]
            ),
        shell:
            "jetprof download --source {params.source} {params.base_url} {params.sha256}"
            " --parts {params.parts} --processes {params.processes}"
            " --dest results/dataset --cache {params.cache} > {log} 2>&1"


rule validate_dataset:
    input:
        ready=get_dataset_ready(),
        data_config=config["weaver"]["data_config"],
    output:
        report="results/validate/report.json",
        plots=report(
            "results/validate/features.png",
            caption="../report/validation.rst",
            category="1. Data",
        ),
    log:
        "results/logs/validate/validate_dataset.log",
    benchmark:
        "results/benchmarks/validate_dataset.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=4000,
    shell:
        "jetprof validate --data-config {input.data_config} --report {output.report}"
        " --plots {output.plots} results/dataset/train/*.root results/dataset/val/*.root"
        " results/dataset/test/*.root > {log} 2>&1"


rule dataset:
    input:
        "results/validate/report.json",
