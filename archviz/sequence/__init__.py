"""Observations -> the sequence diagram: who asked what of whom, in which command, because of which request.

Pure and deterministic; it imports nothing of Django, the store or the sources. Modules, in the order data
flows through them:
- `rules`: the one table of endpoints: what each request asks, and which daemon events and registry
  notifications it can cause;
- `spans`: requests as spans, and which span caused each effect;
- `commands`: the spans of one client process as the command a person typed;
- `inference`: boxes guessed from daemon events alone, where no request explains them (drawn as inferred);
- `labels`: what each observation draws, in Docker's words;
- `sequencer`: the fold of all of that into Messages; `mermaid`: a diagram as Mermaid text;
- `collector`: the garbage collector paused while a whole answer is built.
"""

from __future__ import annotations

from archviz.sequence.labels import ARROWS
from archviz.sequence.model import (
    IMAGE_NOT_FOUND,
    INFERRED,
    NOTE,
    REPLY,
    REQUEST,
    ROLES,
    SELF,
    Delta,
    Diagram,
    Interaction,
    Message,
    Participant,
)
from archviz.sequence.names import normalize_reference, registry_host, repository_of
from archviz.sequence.sequencer import Sequencer, sequence

__all__ = [
    "ARROWS", "IMAGE_NOT_FOUND", "INFERRED", "NOTE", "REPLY", "REQUEST", "ROLES", "SELF", "Delta", "Diagram",
    "Interaction", "Message", "Participant", "Sequencer", "normalize_reference", "registry_host", "repository_of",
    "sequence",
]
