# Stage 6: one isolated measurement per grid point, one record each.
# Each job measures in a fresh child process; `measure_slot` (see the Snakefile)
# keeps measurements from sharing the CPU with each other or with training.


rule profile_point:
    input:
        checkpoint=get_checkpoint,
        data=get_real_data,
        data_config=config["weaver"]["data_config"],
        network_config=config["weaver"]["network_config"],
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
        measure_slot=1,
        mem_mb=8000,
        runtime=30,
    params:
        checkpoint=lambda wc, input: (
            f"--checkpoint {input.checkpoint}" if input.checkpoint else ""
        ),
        data=lambda wc: (
            f"--data '{jw.split_glob('val')}'" if wc.particles == "real" else ""
        ),
        outdir=lambda wc, output: os.path.dirname(output[0]),
        prof=config["profile"],
        profiler_pass=lambda wc: (
            "" if config["profile"]["profiler_pass"] else "--no-profiler-pass"
        ),
        config_hash=CONFIG_HASH,
    shell:
        "jetprof profile --device {wildcards.device} --weights {wildcards.weights}"
        " {params.checkpoint} --backend {wildcards.backend} --precision {wildcards.precision}"
        " --batch-sizes {wildcards.bs} --particles {wildcards.particles} {params.data}"
        " --threads {threads} --warmup {params.prof[warmup]} --repeats {params.prof[repeats]}"
        " {params.profiler_pass} --model-name {wildcards.model}"
        " --network-config {input.network_config} --data-config {input.data_config}"
        " --config-hash {params.config_hash} --out {params.outdir} > {log} 2>&1"


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
        measure_slot=1,
        runtime=10,
    shell:
        "jetprof profile --peak --device {wildcards.device} --threads {threads}"
        " --out {output} > {log} 2>&1"


rule profile:
    input:
        get_profile_records(),
        get_peak_records(),
