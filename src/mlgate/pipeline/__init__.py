"""Reusable DVC stages for tabular classification: ingest, prepare, train, evaluate.

Each stage is a small program run as ``python -m mlgate.pipeline.<stage>`` whose inputs and
outputs are explicit path arguments, so it maps one to one onto ``deps``/``outs`` in dvc.yaml.
Stages talk to each other and to the rest of mlgate only through files.
"""
