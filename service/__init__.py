"""Scoring web service: a drop-in for azureml-inference-server-http 1.5.1 serving scikit-learn model directories.

Importing this package has no side effects (no Flask import): the no-code entry script imports ``service.conversion``
even when it runs under the reference server.
"""

__version__ = "0.1.0"
