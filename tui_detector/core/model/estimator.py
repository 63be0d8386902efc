"""scikit-learn's estimator protocol, without importing scikit-learn (it costs ~1 s at start-up).

``get_params``/``set_params`` read the parameters off ``__init__``'s signature, as
``sklearn.base.BaseEstimator`` does, so ``sklearn.base.clone`` and the estimator checks work;
the tags are built only when scikit-learn asks for them.
"""

from __future__ import annotations

import inspect
from typing import Any, Self


class EstimatorParams:
    @classmethod
    def _get_param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(p.name for p in signature.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> Self:
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid: {valid}")
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self):  # noqa: ANN204 - sklearn.utils.Tags, imported only when asked
        from sklearn.utils import InputTags, Tags, TargetTags  # noqa: PLC0415 - keeps import cheap

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=False),
            transformer_tags=None,
            regressor_tags=None,
            classifier_tags=None,
            # Tables come as DataFrames; blanks are imputed (with a missing-indicator).
            input_tags=InputTags(two_d_array=True, allow_nan=True),
            non_deterministic=False,
        )

    def __repr__(self) -> str:
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) != v]
        return f"{type(self).__name__}({', '.join(changed)})"
