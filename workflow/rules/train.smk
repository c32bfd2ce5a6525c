# Stage 3-4: train ParT with the weaver CLI, then evaluate it on the test split.
# `jetprof weaver` seeds every generator weaver uses, then runs weaver's own main().


rule train_model:
    input:
        validated="results/validate/report.json",
        data_config=config["weaver"]["data_config"],
        network_config=config["weaver"]["network_config"],
    output:
        checkpoint="results/train/net_best_epoch_state.pt",
        weaver_log="results/train/weaver.log",
        data_config="results/train/data_config.yaml",
    log:
        "results/logs/train/train_model.log",
    benchmark:
        "results/benchmarks/train_model.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=1 if config["train"]["device"] == "cuda" else 0,
        measure_slot=1,
        mem_mb=8000,
        runtime=12 * 60,
    params:
        seed=config["train"]["seed"],
        device=config["train"]["device"],
        weaver=json.dumps(jw.weaver_config(config)),
        data_train=jw.split_glob("train"),
        data_val=jw.split_glob("val"),
        prefix=lambda wc, output: output.checkpoint.removesuffix("_best_epoch_state.pt"),
        tensorboard="results/train/tensorboard",
    shell:
        # weaver writes <data config>.<hash>.auto.yaml beside its data config: give it a copy
        "cp {input.data_config} {output.data_config} && "
        "jetprof weaver --seed {params.seed} --threads {threads} --mode train"
        " --config-json '{params.weaver}' --data-train '{params.data_train}'"
        " --data-val '{params.data_val}' --data-config {output.data_config}"
        " --network-config {input.network_config} --model-prefix {params.prefix}"
        " --log {output.weaver_log} --tensorboard-dir {params.tensorboard}"
        " --device {params.device} > {log} 2>&1"


rule predict_test:
    input:
        checkpoint="results/train/net_best_epoch_state.pt",
        data_config="results/train/data_config.yaml",
        network_config=config["weaver"]["network_config"],
    output:
        pred="results/evaluate/pred.root",
        weaver_log="results/evaluate/predict.log",
    log:
        "results/logs/evaluate/predict_test.log",
    benchmark:
        "results/benchmarks/predict_test.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=1 if config["train"]["device"] == "cuda" else 0,
        measure_slot=1,
        mem_mb=4000,
        runtime=60,
    params:
        seed=config["train"]["seed"],
        device=config["train"]["device"],
        weaver=json.dumps(jw.weaver_config(config)),
        data_test=jw.split_glob("test"),
    shell:
        "jetprof weaver --seed {params.seed} --threads {threads} --mode predict"
        " --config-json '{params.weaver}' --data-test '{params.data_test}'"
        " --data-config {input.data_config} --network-config {input.network_config}"
        " --checkpoint {input.checkpoint} --predict-output {output.pred}"
        " --log {output.weaver_log} --device {params.device} > {log} 2>&1"


rule evaluate_model:
    input:
        pred="results/evaluate/pred.root",
        weaver_log="results/train/weaver.log",
    output:
        metrics="results/evaluate/metrics.json",
    log:
        "results/logs/evaluate/evaluate_model.log",
    conda:
        "../../envs/train.yaml"
    params:
        tensorboard="results/train/tensorboard",
    shell:
        "jetprof evaluate --pred {input.pred} --weaver-log {input.weaver_log}"
        " --tensorboard {params.tensorboard} --out {output.metrics} > {log} 2>&1"


rule train:
    input:
        "results/train/net_best_epoch_state.pt",
        "results/evaluate/metrics.json",
