"""Run the suite as on a machine without TensorFlow wheels, TensorFlow still installed here.

    PYTHONPATH=tests/without_tensorflow python3 -m pytest -n 2

Python imports ``sitecustomize`` at start-up from the path, so every interpreter of the run
(xdist workers, the CLI and reader subprocesses) finds neither TensorFlow nor Keras: what needs
them must skip with a reason, and ``model="auto"`` must still train its ensemble.
"""

import sys

_HIDDEN = ("tensorflow", "keras", "tf_keras")


class _WithoutTensorFlow:
    def find_spec(self, name, path=None, target=None):  # noqa: ANN001, ANN201 - importlib's protocol
        if name.split(".")[0] in _HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _WithoutTensorFlow())
