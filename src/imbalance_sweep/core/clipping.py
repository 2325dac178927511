"""Keras's float32 clip of probabilities, the one definition the losses and every score model's
expectations use.

Keras clips a predicted probability to ``[EPSILON, ONE_MINUS_EPSILON]`` (``keras.backend.epsilon()``
= 1e-7) in float32 before taking a log. What a loss term sees is the clipped probability given to the
*true* class: ``clip(p)`` for a positive, ``1 - clip(p)`` for a negative, so its range depends on the
label. The expectations integrate over that range, in float64.
"""

from __future__ import annotations

import numpy as np

EPSILON = np.float32(1e-7)  # keras.backend.epsilon(), as float32 holds it: 1.0000000117e-7
ONE_MINUS_EPSILON = np.float32(1.0) - EPSILON  # 1 - 2**-23 once rounded to float32

# The probability given to the true class, ``(low, high)`` per label, as the float32 pipeline (the
# numpy backend, Keras) computes it: a positive's ``clip(p)``; a negative's ``1 - clip(p)``,
# rounded to float32, whose top is therefore 1 - 2**-23.
TRUE_CLASS_RANGE = {
    0: (float(np.float32(1.0) - ONE_MINUS_EPSILON), float(np.float32(1.0) - EPSILON)),
    1: (float(EPSILON), float(ONE_MINUS_EPSILON)),
}
# The same with a negative's top left unrounded: 1 - EPSILON in float64, 1 - 1.0000000117e-7 instead
# of 1 - 1.1920929e-7. Only the uniform score model uses it: its exact expectations have always been
# integrated to this bound, and the rounded one moves a negative's expected bce by about 1e-14
# relative, which would change logged values in their last bits. Beta, whose classes can sit
# entirely on the clip, uses the rounded range.
TRUE_CLASS_RANGE_UNROUNDED_NEGATIVE_TOP = {
    0: (TRUE_CLASS_RANGE[0][0], 1.0 - float(EPSILON)),
    1: TRUE_CLASS_RANGE[1],
}
