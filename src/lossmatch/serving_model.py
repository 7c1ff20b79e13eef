"""The file MLflow runs to build the pyfunc matcher ("models from code": nothing is pickled).

``lossmatch.serving.log_matcher`` logs this file as the model and lossmatch's own package
as its code, so loading it needs lossmatch's dependencies, not lossmatch itself.
"""

import mlflow

from lossmatch.serving import Matcher

mlflow.models.set_model(Matcher())
