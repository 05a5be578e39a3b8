"""Sentiment and complaint signals: is a post negative, is it a complaint against the company,
what is it about, and how serious is it. Models load once per process, lazily."""
from sentiment.analyzer import Analyzer, Result, TextIn

__all__ = ["Analyzer", "Result", "TextIn"]
