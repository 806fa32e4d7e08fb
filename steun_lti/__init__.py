"""Steun LTI 1.3 questionnaire tool."""

__version__ = "0.1.0"
