# Stage 6: the forward pass, measured in comparison groups.
# A group is every variant compared at one device, particle count and batch size
# (weights, backends, precisions, models, and an A/A control), timed interleaved in
# one fresh process on the same jets (jetprof.contract.study_groups). One job per
# product of particle counts x batch sizes with the same variants (study_jobs): the
# default study's 7 groups make 2 jobs. A job is data: its document (every variant
# with its files, the inputs, the settings; jw.profile_job) is a param, so a job reruns
# only when what it measures changes, and is written beside the log for
# `jetprof profile --job FILE`. `measure_slot` (see the Snakefile) keeps
# measurements from sharing the CPU with each other or with training.

for _job in contract.study_jobs(config):

    rule:
        name:
            f"profile_{_job.name}"
        input:
            **jw.job_inputs(config, _job, checkpoints),
        output:
            jw.job_outputs(_job),
            jw.job_side_files(_job, config["profile"]["profiler_pass"]),
        log:
            log=f"results/logs/profile/{_job.name}.log",
            job=jw.profile_job_file(_job),
        benchmark:
            f"results/benchmarks/profile/{_job.name}.tsv"
        conda:
            "../../envs/profile.yaml"
        threads: config["profile"]["threads"]
        resources:
            gpu=1 if _job.device.startswith("cuda") else 0,
            gpu_model=jw.gpu_model(config, _job.device),
            measure_slot=contract.WHOLE_SLOT,
            mem_mb=8000,
            runtime=max(30, 5 * len(_job.records)),
        params:
            job=jw.profile_job_json(config, _job),
        shell:
            "printf '%s' {params.job:q} > {log.job:q}"
            " && jetprof --log {log.log:q} profile --job {log.job:q}"


rule measure_peak:
    input:
        # not a file it reads: generating the jets takes no measure_slot, so without this the
        # CPU's ceiling would be timed beside Pythia on every core (a GPU's waits for nothing)
        validated=lambda wc: (
            ["results/validate/report.json"] if wc.device == "cpu" else []
        ),
    output:
        "results/profile/peak/{device}.json",
    log:
        "results/logs/profile/peak/{device}.log",
    conda:
        "../../envs/profile.yaml"
    threads: config["profile"]["threads"]
    resources:
        gpu=lambda wc: 1 if wc.device.startswith("cuda") else 0,
        gpu_model=lambda wc: jw.gpu_model(config, wc.device),
        measure_slot=contract.WHOLE_SLOT,
        runtime=10,
    shell:
        "jetprof --log {log:q} profile --peak --device {wildcards.device} --threads {threads}"
        " --out {output:q}"


rule profile:
    input:
        get_profile_records(),
        get_group_files(),
        get_peak_records(),
