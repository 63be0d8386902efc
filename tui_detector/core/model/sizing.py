"""Size-aware defaults: batch size, epochs, and how many rows are fitted and scored at a time.

Read at call time (``sizing.FIT_ROWS``), so a test can shrink them to exercise the big-table
paths on a small table.
"""

from __future__ import annotations

import math

#: "auto": optimiser steps per half of training (epochs follow from the table's size).
AUTO_STEPS = 1000
#: "auto": the most rows the models are fitted on; a larger table is fitted on a random sample
#: of this size and every row is then scored. Training takes a fixed number of optimiser steps
#: and the forest and neighbours use small subsamples anyway, so more rows add time (and memory)
#: without teaching the models more; scoring stays linear in the rows.
FIT_ROWS = 20_000
#: "auto" scores this many rows at a time: the temporaries of a full-size sheet stay small
#: (rows x features each), and no single NumPy call holds the interpreter for long, so the
#: app's screen keeps repainting while a large table is scored. It is the network's own restore
#: chunk, so the table is cut where the network cuts it whatever the number of threads that
#: score it: the scores are the same bits on one core as on four (see chunks.py).
SCORE_CHUNK = 16_384


def auto_batch_size(rows: int) -> int:
    """The design note's advice, smoothed: small batches for small tables, 256 above 10k rows."""
    if rows < 1_000:
        return 32
    if rows < 10_000:
        return 128
    return 256


def auto_epochs(rows: int, batch_size: int) -> int:
    """Enough optimiser steps to converge (~4,000), 10–100 epochs; early stopping ends sooner."""
    steps = max(1, math.ceil(rows / batch_size))
    return int(min(100, max(10, math.ceil(4_000 / steps))))


def auto_ensemble_epochs(rows: int, batch_size: int) -> int:
    """"auto": ~AUTO_STEPS optimiser steps per half of training, 4–200 epochs in all.

    Epochs are counted over the rows the models are fitted on (at most FIT_ROWS).
    """
    steps = max(1, math.ceil(min(rows, FIT_ROWS) * 0.8 / batch_size))
    return int(min(200, max(4, 2 * math.ceil(AUTO_STEPS / steps))))
