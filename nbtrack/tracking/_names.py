"""Run ids (time-sortable) and readable generated run names."""

from __future__ import annotations

import os
import random
import time

_ADJECTIVES = (
    "amber agile bold brave bright calm clever cosmic crisp daring eager fancy fast fierce "
    "gentle glad golden grand happy hidden honest jolly keen kind lively lucky merry mighty "
    "neat noble polite proud quick quiet rapid royal rustic shiny silent silver smart snappy "
    "solid spry steady sunny swift tidy vivid warm wise witty zesty"
).split()
_NOUNS = (
    "ant badger bat bear bee bison cat crane crow deer dolphin dove eagle falcon finch fox "
    "frog gecko goat hawk heron horse ibis jaguar koala lark lemur lion lynx moose moth newt "
    "otter owl panda puma quail rabbit raven robin seal shark sloth snail swan tiger toad "
    "trout wasp whale wolf wren yak zebra"
).split()

_rng = random.Random()


def new_run_id() -> str:
    """32 hex characters: 12 of milliseconds since the epoch, then 20 random."""
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"


def new_run_name() -> str:
    """A readable name such as ``swift-otter-42``."""
    return f"{_rng.choice(_ADJECTIVES)}-{_rng.choice(_NOUNS)}-{_rng.randint(1, 99)}"
