"""Objects that tests plug into configs by ``_target_`` (importable as ``helpers.*``)."""
