# Stage 3-4: train every model of the study (weaver.model_name and the profile.models with
# train: true) with the same weaver command and data, then evaluate each on the test split.
# `jetprof weaver` seeds every generator weaver uses, then runs weaver's own main().

TRAIN = jw.config_section(config, "train")


rule train_model:
    input:
        validated="results/validate/report.json",
        data_config=trained_data_config,
        network_config=trained_network_config,
        # weaver reads them through the globs below (--data-train/--data-val)
        train=jw.split_files_input(config, ("train",), checkpoints),
        val=jw.split_files_input(config, ("val",), checkpoints),
    output:
        checkpoint="results/train/{model}/net_best_epoch_state.pt",
        weaver_log="results/train/{model}/weaver.log",
        data_config="results/train/{model}/data_config.yaml",
        tensorboard=directory("results/train/{model}/tensorboard"),
        # every epoch's state and optimizer, the best epoch's optimizer
        epochs=jw.weaver_checkpoints("results/train/{model}/net", TRAIN["num_epochs"]),
    log:
        "results/logs/train/{model}.log",
    benchmark:
        "results/benchmarks/train/{model}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: TRAIN["threads"]
    resources:
        gpu=1 if TRAIN["device"] == "cuda" else 0,
        measure_slot=contract.WHOLE_SLOT,
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
        checkpoint="results/train/{model}/net_best_epoch_state.pt",
        data_config="results/train/{model}/data_config.yaml",
        network_config=trained_network_config,
        # weaver reads them through the glob below (--data-test)
        test=jw.split_files_input(config, ("test",), checkpoints),
    output:
        pred="results/evaluate/{model}/pred.root",
        weaver_log="results/evaluate/{model}/predict.log",
    log:
        "results/logs/evaluate/predict_{model}.log",
    benchmark:
        "results/benchmarks/predict/{model}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: TRAIN["threads"]
    resources:
        gpu=1 if TRAIN["device"] == "cuda" else 0,
        measure_slot=contract.HALF_SLOT,
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
        pred="results/evaluate/{model}/pred.root",
        weaver_log="results/train/{model}/weaver.log",
        tensorboard="results/train/{model}/tensorboard",
    output:
        metrics="results/evaluate/{model}/metrics.json",
    log:
        "results/logs/evaluate/evaluate_{model}.log",
    conda:
        "../../envs/train.yaml"
    resources:
        measure_slot=contract.HALF_SLOT,
    shell:
        "jetprof --log {log:q} evaluate --pred {input.pred:q} --weaver-log {input.weaver_log:q}"
        " --tensorboard {input.tensorboard:q} --out {output.metrics:q}"


rule train:
    input:
        expand("results/train/{model}/net_best_epoch_state.pt", model=TRAINED),
        expand("results/evaluate/{model}/metrics.json", model=TRAINED),
