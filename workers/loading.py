"""One lock for building torch models in a process. ``hybridlens analyze`` builds them on
several threads (the classifier while the film decodes, the segmenter on the inference
thread, TransNetV2 on the decoding one); their first calls import torch's submodules
(``torch._dynamo``, ``torch._inductor``...), whose circular imports, run by two threads at
once, can meet a half-initialised module and fail."""

from __future__ import annotations

import threading

MODEL_LOADING = threading.RLock()
