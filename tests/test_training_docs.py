"""The training guide documents every knob of `TrainConfig`: a new config field without docs fails here."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from agentgym.rl.config import TrainConfig

GUIDE = (Path(__file__).resolve().parents[1] / "docs" / "training.md").read_text(encoding="utf-8")


def _knobs(model: type[BaseModel], prefix: str = "") -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))
        section = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if section is not None:
            names += _knobs(section, f"{prefix}{name}." if name != "envs" else "envs[].")
        else:
            names.append(prefix + name)
    return names


def test_every_train_config_knob_is_in_the_training_guide():
    knobs = _knobs(TrainConfig)
    assert len(knobs) > 40
    missing = []
    for knob in knobs:
        leaf = knob.rsplit(".", 1)[-1]
        # documented either by its full dotted path or, inside the section's own table, by its leaf name
        if f"`{knob}`" not in GUIDE and f"`{leaf}`" not in GUIDE:
            missing.append(knob)
    assert not missing, f"docs/training.md does not document: {missing}"
