"""Profiling ParT's forward pass: one isolated, schema-validated record per point.

``jetprof profile`` (:mod:`jetprof.profiling.cli`) runs one fresh child process
(:mod:`jetprof.profiling.child`) per batch size, so memory figures, thread
settings and crashes of one point never leak into the next. This package's
top level imports nothing heavy: the child pins its threads before torch loads.
"""
