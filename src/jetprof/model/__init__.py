"""The model and its checkpoints: build ParT from weaver configs, load and convert
weights, make inputs, count FLOPs, export to ONNX (stage 5).

The shipped weaver network and data configs live in ``jetprof/model/weaver/``.
"""
