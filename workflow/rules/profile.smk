# Stage 6: one isolated measurement per grid point, one record each.
# `measure_slot` (see the Snakefile) keeps measurements from sharing the CPU with
# each other or with training.
#
# The study's points run as series (jw.profile_series): one job per product of
# particle counts x batch sizes with the same weights, device, backend and
# precision. A series' `jetprof profile` imports torch and weaver once and makes
# a fresh process per point (forked on CPU), so a point costs its measurement,
# not seconds of imports. These rules have no wildcards, so Snakemake prefers
# them over `profile_point`, which measures any other single point asked for by
# its path (e.g. `snakemake results/profile/ParT_full/random/cpu/eager-fp32/p64/bs4.json`).

for _series in jw.profile_series(config):

    rule:
        name:
            _series.rule_name
        input:
            **model_configs(_series),
            checkpoint=get_checkpoint(_series),
            data=get_real_data(_series),
        output:
            _series.records,
        log:
            f"results/logs/profile/{_series.folder}/{_series.tag}.log",
        benchmark:
            f"results/benchmarks/profile/{_series.folder}/{_series.tag}.tsv"
        conda:
            "../../envs/profile.yaml"
        threads: config["profile"]["threads"]
        resources:
            gpu=1 if _series.device.startswith("cuda") else 0,
            gpu_model=gpu_model(_series.device),
            measure_slot=1,
            mem_mb=8000,
            runtime=max(30, 10 * len(_series.records)),
        params:
            point=vars(_series),
            checkpoint=checkpoint_flag(_series),
            data=data_flag(_series),
            particles=",".join(_series.particles),
            batch_sizes=",".join(str(bs) for bs in _series.batch_sizes),
            # a function: Snakemake would read {particles} in a plain string as a wildcard
            out=lambda wildcards, pattern=_series.out_pattern: pattern,
            prof=config["profile"],
            profiler_pass=PROFILER_PASS_FLAG,
            config_hash=CONFIG_HASH,
        shell:
            PROFILE_COMMAND


rule profile_point:
    input:
        unpack(model_configs),
        checkpoint=get_checkpoint,
        data=get_real_data,
    output:
        "results/profile/{model}/{weights}/{device}/{backend}-{precision}/p{particles}/bs{bs}.json",
    log:
        "results/logs/profile/{model}/{weights}/{device}/{backend}-{precision}/p{particles}/bs{bs}.log",
    benchmark:
        "results/benchmarks/profile/{model}/{weights}/{device}/{backend}-{precision}/p{particles}/bs{bs}.tsv"
    conda:
        "../../envs/profile.yaml"
    threads: config["profile"]["threads"]
    resources:
        gpu=lambda wc: 1 if wc.device.startswith("cuda") else 0,
        gpu_model=lambda wc: gpu_model(wc.device),
        measure_slot=1,
        mem_mb=8000,
        runtime=30,
    params:
        point=lambda wc: dict(wc.items()),
        checkpoint=checkpoint_flag,
        data=data_flag,
        particles=lambda wc: wc.particles,
        batch_sizes=lambda wc: wc.bs,
        out=lambda wc, output: os.path.dirname(output[0]),
        prof=config["profile"],
        profiler_pass=PROFILER_PASS_FLAG,
        config_hash=CONFIG_HASH,
    shell:
        PROFILE_COMMAND


rule measure_peak:
    output:
        "results/profile/peak/{device}.json",
    log:
        "results/logs/profile/peak/{device}.log",
    conda:
        "../../envs/profile.yaml"
    threads: config["profile"]["threads"]
    resources:
        gpu=lambda wc: 1 if wc.device.startswith("cuda") else 0,
        gpu_model=lambda wc: gpu_model(wc.device),
        measure_slot=1,
        runtime=10,
    shell:
        "jetprof profile --peak --device {wildcards.device} --threads {threads}"
        " --out {output} > {log} 2>&1"


rule profile:
    input:
        get_profile_records(),
        get_peak_records(),
