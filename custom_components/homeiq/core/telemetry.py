"""Running counts of the entity events a home produces.

Callers hand over one event at a time from Home Assistant's event bus (or a
dataset being replayed); every method is O(1) and never raises on odd input,
because a malformed event must cost the home nothing but a tally.
"""

from collections import Counter
from dataclasses import dataclass, field
import re

# Home Assistant's own rule for entity ids (homeassistant.core.valid_entity_id).
_ENTITY_ID = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")


@dataclass(slots=True)
class EventTally:
    """How many entity events were seen, and from which domains."""

    seen: int = 0
    rejected: int = 0
    by_domain: Counter[str] = field(default_factory=Counter)

    def record(self, entity_id: object) -> bool:
        """Count one event for `entity_id`; return False when it is malformed."""
        domain = entity_domain(entity_id)
        if domain is None:
            self.rejected += 1
            return False
        self.seen += 1
        self.by_domain[domain] += 1
        return True

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-ready summary, largest domains first."""
        return {
            "seen": self.seen,
            "rejected": self.rejected,
            "by_domain": dict(self.by_domain.most_common()),
        }


def entity_domain(entity_id: object) -> str | None:
    """Return the domain of a well-formed `domain.object_id`, else None."""
    if not isinstance(entity_id, str) or not _ENTITY_ID.fullmatch(entity_id):
        return None
    return entity_id.partition(".")[0]


# Entities of these domains are actions or one-shot outputs: their state (often
# "unknown" for ever) says nothing about whether the device behind them is alive.
# A device is watched for health through its other entities, and a device that has
# none is not watched; the integration and the recorder import apply the same rule.
ACTION_DOMAINS = frozenset(
    {
        "ai_task",
        "button",
        "conversation",
        "input_button",
        "notify",
        "scene",
        "script",
        "stt",
        "tts",
        "wake_word",
    }
)


def shows_liveness(entity_id: object) -> bool:
    """Return True when `entity_id`'s state can tell whether its device is alive."""
    domain = entity_domain(entity_id)
    return domain is not None and domain not in ACTION_DOMAINS
