"""User-facing errors of the training package: the CLI turns each into one message on stderr and exit code 2."""


class TrainingError(Exception):
    """Base of the errors a user can fix (bad input, unknown model or run, tampered artifact)."""


class InvalidModelDir(TrainingError, ValueError):
    """A path is not a usable model directory (docs/model-directory.md)."""


class ModelNotFound(TrainingError, LookupError):
    """No registered model with that name or version."""


class TamperedModel(TrainingError):
    """A registered artifact no longer matches the sha256 recorded at registration."""


class RunNotFound(TrainingError, LookupError):
    """No recorded run with that id."""


class InvalidArgument(TrainingError, ValueError):
    """A name, tag, property or option value the registry or run history cannot accept."""


class WorkspaceUnavailable(TrainingError, OSError):
    """The workspace directory or its database cannot be created or opened."""
