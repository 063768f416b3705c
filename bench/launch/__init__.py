"""Launchers: where a planned grid's runs execute, behind one interface (:mod:`.base`).

``local`` (this machine, ``--jobs`` workers), ``torchrun`` (each run over ``--nproc``
processes), ``gpus`` (packed onto this node's GPUs), ``slurm`` and ``submitit-local`` (submitit
jobs). Beside them: run claiming under the run lock (:mod:`.claim`), workers that exit with their
launcher (:mod:`.orphan`), the progress display and its event pump (:mod:`.progress`), what a
run ended as (:mod:`.outcomes`) and the state of every run of a grid (:mod:`.status`).

The launcher registry (:data:`bench.registry.LAUNCHERS`) imports every module of the package on
its first lookup.
"""
