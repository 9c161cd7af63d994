"""Apply EQ curves to audio. numpy, scipy and soundfile only: no torch."""

from lightning_eq.audio.apply import ApplyReport, apply_curve, apply_file
from lightning_eq.audio.filters import GraphicEqDesign, design_graphic_eq

__all__ = ["ApplyReport", "GraphicEqDesign", "apply_curve", "apply_file", "design_graphic_eq"]
