"""The researchers' export: statements in, analysis-ready tables out (see ``writers``)."""

from xapi.export.dataset import Dataset, collect
from xapi.export.spec import InstrumentSpec, ItemSpec, ScaleSpec, ScoringSpec, score_scale
from xapi.export.writers import FORMATS, Exporter, export_all

__all__ = [
    "FORMATS",
    "Dataset",
    "Exporter",
    "InstrumentSpec",
    "ItemSpec",
    "ScaleSpec",
    "ScoringSpec",
    "collect",
    "export_all",
    "score_scale",
]
