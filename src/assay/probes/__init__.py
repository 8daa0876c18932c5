"""Prompt-injection and leak probes for generative endpoints (docs/probes.md).

The probe library is data (``library.yaml``, versioned); :func:`run_probes` sends it to an
OpenAI-compatible chat completions endpoint and judges every answer with deterministic
detectors; the ``security.prompt_injection``, ``security.prompt_leakage`` and
``security.jailbreak`` checks grade the results per category.
"""

from assay.probes.audit import Attempt, Session, make_canary, run_probes
from assay.probes.client import ChatClient, resolve_key
from assay.probes.detectors import Detectors
from assay.probes.library import Detector, Library, Probe, load_library
from assay.probes.masking import mask

__all__ = [
    "Attempt",
    "ChatClient",
    "Detector",
    "Detectors",
    "Library",
    "Probe",
    "Session",
    "load_library",
    "make_canary",
    "mask",
    "resolve_key",
    "run_probes",
]
