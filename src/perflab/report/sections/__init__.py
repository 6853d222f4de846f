"""The report's sections, one per module; ``perflab.report.render.SECTIONS`` orders them."""
