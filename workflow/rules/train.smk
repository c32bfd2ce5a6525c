# Stage 3-4: train ParT with the weaver CLI, then evaluate it on the test split.
# `jetprof weaver` seeds every generator weaver uses, then runs weaver's own main().

TRAIN = jw.config_section(config, "train")


rule train_model:
    input:
        validated="results/validate/report.json",
        data_config=config["weaver"]["data_config"],
        network_config=config["weaver"]["network_config"],
        # weaver reads them through the globs below (--data-train/--data-val)
        train=jw.split_files_input(config, ("train",), checkpoints),
        val=jw.split_files_input(config, ("val",), checkpoints),
    output:
        checkpoint="results/train/net_best_epoch_state.pt",
        weaver_log="results/train/weaver.log",
        data_config="results/train/data_config.yaml",
        tensorboard=directory("results/train/tensorboard"),
        # every epoch's state and optimizer, the best epoch's optimizer
        epochs=jw.weaver_checkpoints("results/train/net", TRAIN["num_epochs"]),
    log:
        "results/logs/train/train_model.log",
    benchmark:
        "results/benchmarks/train_model.tsv"
    conda:
        "../../envs/train.yaml"
    threads: TRAIN["threads"]
    resources:
        gpu=1 if TRAIN["device"] == "cuda" else 0,
        measure_slot=1,
        mem_mb=8000,
        runtime=12 * 60,
    params:
        seed=TRAIN["seed"],
        device=TRAIN["device"],
        weaver=jw.weaver_config_json(config),
        data_train=jw.split_glob("train"),
        data_val=jw.split_glob("val"),
        prefix=lambda wc, output: output.checkpoint.removesuffix("_best_epoch_state.pt"),
    shell:
        # weaver writes <data config>.<hash>.auto.yaml beside its data config: give it a copy
        "cp {input.data_config:q} {output.data_config:q} && "
        "jetprof --log {log:q} weaver --seed {params.seed} --threads {threads} --mode train"
        " --config-json {params.weaver:q} --data-train {params.data_train:q}"
        " --data-val {params.data_val:q} --data-config {output.data_config:q}"
        " --network-config {input.network_config:q} --model-prefix {params.prefix:q}"
        " --log {output.weaver_log:q} --tensorboard-dir {output.tensorboard:q}"
        " --device {params.device}"


rule predict_test:
    input:
        checkpoint="results/train/net_best_epoch_state.pt",
        data_config="results/train/data_config.yaml",
        network_config=config["weaver"]["network_config"],
        # weaver reads them through the glob below (--data-test)
        test=jw.split_files_input(config, ("test",), checkpoints),
    output:
        pred="results/evaluate/pred.root",
        weaver_log="results/evaluate/predict.log",
    log:
        "results/logs/evaluate/predict_test.log",
    benchmark:
        "results/benchmarks/predict_test.tsv"
    conda:
        "../../envs/train.yaml"
    threads: TRAIN["threads"]
    resources:
        gpu=1 if TRAIN["device"] == "cuda" else 0,
        measure_slot=1,
        mem_mb=4000,
        runtime=60,
    params:
        seed=TRAIN["seed"],
        device=TRAIN["device"],
        weaver=jw.weaver_config_json(config),
        data_test=jw.split_glob("test"),
    shell:
        "jetprof --log {log:q} weaver --seed {params.seed} --threads {threads} --mode predict"
        " --config-json {params.weaver:q} --data-test {params.data_test:q}"
        " --data-config {input.data_config:q} --network-config {input.network_config:q}"
        " --checkpoint {input.checkpoint:q} --predict-output {output.pred:q}"
        " --log {output.weaver_log:q} --device {params.device}"


rule evaluate_model:
    input:
        pred="results/evaluate/pred.root",
        weaver_log="results/train/weaver.log",
        tensorboard="results/train/tensorboard",
    output:
        metrics="results/evaluate/metrics.json",
    log:
        "results/logs/evaluate/evaluate_model.log",
    conda:
        "../../envs/train.yaml"
    shell:
        "jetprof --log {log:q} evaluate --pred {input.pred:q} --weaver-log {input.weaver_log:q}"
        " --tensorboard {input.tensorboard:q} --out {output.metrics:q}"


rule train:
    input:
        "results/train/net_best_epoch_state.pt",
        "results/evaluate/metrics.json",
