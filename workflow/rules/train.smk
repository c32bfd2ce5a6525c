# Stage 3-4: train ParT with the weaver CLI, then evaluate it on the test split.


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
        mem_mb=8000,
        runtime=12 * 60,
    params:
        train=config["train"],
        data_train=jw.split_glob("train"),
        data_val=jw.split_glob("val"),
        prefix=lambda wc, output: output.checkpoint.removesuffix("_best_epoch_state.pt"),
        tensorboard="results/train/tensorboard",
    script:
        "../../scripts/train_model.py"


rule predict_test:
    input:
        checkpoint="results/train/net_best_epoch_state.pt",
        data_config="results/train/data_config.yaml",
        network_config=config["weaver"]["network_config"],
    output:
        pred="results/evaluate/pred.root",
    log:
        "results/logs/evaluate/predict_test.log",
    benchmark:
        "results/benchmarks/predict_test.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=1 if config["train"]["device"] == "cuda" else 0,
        mem_mb=4000,
        runtime=60,
    params:
        train=config["train"],
        data_test=jw.split_glob("test"),
    script:
        "../../scripts/predict_test.py"


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
    shell:
        "jetprof evaluate --pred {input.pred} --weaver-log {input.weaver_log}"
        " --out {output.metrics} > {log} 2>&1"


rule train:
    input:
        "results/train/net_best_epoch_state.pt",
        "results/evaluate/metrics.json",
