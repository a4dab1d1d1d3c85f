"""The one exception the evaluator raises for a model or an input it refuses."""


class ModelError(ValueError):
    """A model file, or an input to a model, that HomeIQ refuses to evaluate.

    The message names the problem in words a user can act on, such as
    "unsupported op 'LSTM' (domain ''), node 3" or "file truncated at byte 1234".
    """
