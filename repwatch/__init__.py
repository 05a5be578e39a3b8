"""repwatch: hear complaints on the public web before they spread, and act on them.

This package is the one place that wires the stages (collectors, sentiment, alerts, storage)
together: config, pipeline, CLI, scheduler, tasks and web."""

__version__ = "0.1.0"
