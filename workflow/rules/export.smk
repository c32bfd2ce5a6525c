# Stage 5: the trained checkpoint as ONNX with a model card; the official checkpoint.


rule export_model:
    input:
        checkpoint="results/train/net_best_epoch_state.pt",
        data_config="results/train/data_config.yaml",
        network_config=config["weaver"]["network_config"],
        validated="results/validate/report.json",
        # real jets for the ONNX-vs-eager parity check
        data=jw.split_files_input(config, ("val",), checkpoints),
    output:
        onnx=f"results/export/{MODEL}.onnx",
        card=f"results/export/{MODEL}_card.json",
        card_md=report(
            f"results/export/{MODEL}_card.md",
            caption="../report/model_card.rst",
            category="2. Training",
            subcategory="Model card",
        ),
    log:
        f"results/logs/export/{MODEL}.log",
    benchmark:
        "results/benchmarks/export_model.tsv"
    conda:
        "../../envs/profile.yaml"
    resources:
        measure_slot=1,
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
        f"results/export/{MODEL}.onnx",
        f"results/export/{MODEL}_card.json",
