"""Networks: the backbones (one registered :class:`~bench.nets.arch.Architecture` each), their
cross-task mappings and the building blocks shared by the methods.

The architecture registry (:data:`bench.registry.ARCHITECTURES`) imports every module of the
package on its first lookup: a new backbone is one new module.
"""
