"""PVP Relais: the staff app for Points Visio Public."""

__version__ = "0.1.0"
