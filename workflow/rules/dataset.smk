# Stage 1-2: jets in (generated offline or downloaded), then checked.
# Every rule runs `jetprof --log {log} <command>`: the output goes to the log, and a
# failure's one-line error to the terminal as well. Paths are quoted ({x:q}) and the
# flags built from the config come quoted and canonical from jetprof.workflow.

from snakemake.settings.types import DeploymentMethod

GENERATE = jw.config_section(config, "dataset", "generate")


_no_generator = jw.generator_problem(
    config, DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
)
if _no_generator:  # one line, before any job
    print(f"jetprof: cannot generate the jets here: {_no_generator}", file=sys.stderr)
    sys.exit(1)


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
            jets=lambda wc: GENERATE["jets"][wc.split],
            seed=GENERATE["seed"],
            chunk=GENERATE["chunk_size"],
            mpi="--mpi" if GENERATE["mpi"] else "--no-mpi",
            index=lambda wc: int(wc.index),
        shell:
            "jetprof --log {log:q} generate --process {wildcards.prefix}"
            " --split {wildcards.split} --index {params.index} --jets {params.jets}"
            " --seed {params.seed} --chunk-size {params.chunk} {params.mpi} --out {output:q}"

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
            settings=jw.generate_settings_json(config),
        shell:
            "jetprof --log {log:q} manifest --out {output:q}"
            " --settings-json {params.settings:q} {input:q}"

else:

    # A checkpoint: the ROOT files it unpacks are named by the tarballs, and listed in
    # download.json for the rules that read them. Those files and the download cache
    # (dataset.download.cache: verified tarballs, .part files resumed across runs) are
    # not declared outputs on purpose: Snakemake deletes a job's outputs before it
    # reruns it, and a changed part list must not throw away 190 GB of verified data.
    checkpoint download_dataset:
        output:
            "results/dataset/download.json",
        log:
            "results/logs/dataset/download.log",
        conda:
            "../../envs/data.yaml"
        resources:
            runtime=24 * 60,
        params:
            flags=jw.download_flags(config),
        shell:
            "jetprof --log {log:q} download {params.flags}"


rule validate_dataset:
    input:
        ready=get_dataset_ready(),
        data_config=config["weaver"]["data_config"],
        files=jw.split_files_input(config, ("train", "val", "test"), checkpoints),
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
        "jetprof --log {log:q} validate --data-config {input.data_config:q}"
        " --report {output.report:q} --plots {output.plots:q} {input.files:q}"


rule dataset:
    input:
        "results/validate/report.json",
