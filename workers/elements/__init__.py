"""The elements job of a collection: extract, track, refine (``workers.ml.element_refine``),
cluster."""
