# Stage 5: the trained checkpoint as ONNX with a model card; the official checkpoint.


rule export_model:
    input:
        checkpoint="results/train/net_best_epoch_state.pt",
        data_config="results/train/data_config.yaml",
        network_config=config["weaver"]["network_config"],
        validated="results/validate/report.json",
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
        data=jw.split_glob("val"),
        training=json.dumps(config["train"]),
    shell:
        "jetprof export --checkpoint {input.checkpoint} --data-config {input.data_config}"
        " --network-config {input.network_config} --data '{params.data}'"
        " --onnx {output.onnx} --card {output.card} --card-md {output.card_md}"
        " --training-config '{params.training}' > {log} 2>&1"


rule fetch_pretrained:
    output:
        state=f"results/pretrained/{MODEL}.pt",
        record=f"results/pretrained/{MODEL}.json",
    log:
        f"results/logs/pretrained/{MODEL}.log",
    conda:
        "../../envs/profile.yaml"
    params:
        url=config["pretrained"]["url"],
        sha256=(
            f"--sha256 {config['pretrained']['sha256']}"
            if config["pretrained"]["sha256"]
            else ""
        ),
        layout=config["pretrained"]["layout"],
        data_config=config["weaver"]["data_config"],
    shell:
        "jetprof fetch-weights --url '{params.url}' {params.sha256}"
        " --layout {params.layout} --data-config {params.data_config}"
        " --out {output.state} --record {output.record} > {log} 2>&1"


rule export:
    input:
        f"results/export/{MODEL}.onnx",
        f"results/export/{MODEL}_card.json",
