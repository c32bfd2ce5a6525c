# Stage 5: every trained checkpoint as ONNX with a model card; the official checkpoint.


rule export_model:
    input:
        checkpoint="results/train/{model}/net_best_epoch_state.pt",
        data_config="results/train/{model}/data_config.yaml",
        network_config=trained_network_config,
        validated="results/validate/report.json",
        # real jets for the ONNX-vs-eager parity check
        data=jw.split_files_input(config, ("val",), checkpoints),
    output:
        onnx="results/export/{model}.onnx",
        card="results/export/{model}_card.json",
        card_md=report(
            "results/export/{model}_card.md",
            caption="../report/model_card.rst",
            category="2. Training",
            subcategory="Model card",
        ),
    log:
        "results/logs/export/{model}.log",
    benchmark:
        "results/benchmarks/export/{model}.tsv"
    conda:
        "../../envs/profile.yaml"
    resources:
        measure_slot=contract.HALF_SLOT,
    params:
        training=jw.training_config_json(config),
    shell:
        "jetprof --log {log:q} export --checkpoint {input.checkpoint:q}"
        " --data-config {input.data_config:q} --network-config {input.network_config:q}"
        " --data {input.data:q} --onnx {output.onnx:q} --card {output.card:q}"
        " --card-md {output.card_md:q} --training-config {params.training:q}"


rule fetch_pretrained:
    input:
        data_config=config["weaver"]["data_config"],
        network_config=config["weaver"]["network_config"],
        # a local checkpoint (pretrained.url as a path); none for a URL
        local=jw.pretrained_inputs(config),
    output:
        state=f"results/pretrained/{MODEL}.pt",
        record=f"results/pretrained/{MODEL}.json",
    log:
        f"results/logs/pretrained/{MODEL}.log",
    conda:
        "../../envs/profile.yaml"
    params:
        flags=jw.pretrained_flags(config),
    shell:
        "jetprof --log {log:q} fetch-weights {params.flags}"
        " --data-config {input.data_config:q} --network-config {input.network_config:q}"
        " --out {output.state:q} --record {output.record:q}"


rule export:
    input:
        expand("results/export/{model}.onnx", model=TRAINED),
        expand("results/export/{model}_card.json", model=TRAINED),
