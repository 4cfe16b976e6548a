"""Run ids (time-sortable) and readable generated run names."""

from __future__ import annotations

import itertools
import os
import random
import threading
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

# Private generators only: nbtrack never draws from the user's global random state
# (DESIGN.md §2.9), so a seeded script gives the same numbers with tracking on.
_rng = random.Random(os.urandom(16))
_seq = itertools.count(int.from_bytes(os.urandom(3), "little") & 0xFFFFF)
_seq_lock = threading.Lock()


def new_run_id() -> str:
    """32 hex characters: 12 of ms since the epoch, 6 of a per-process counter, 14 random.

    Ids sort by start time; within one process also by start order in the same millisecond.
    """
    with _seq_lock:
        n = next(_seq) & 0xFFFFFF
    return f"{time.time_ns() // 1_000_000:012x}{n:06x}{os.urandom(7).hex()}"


def new_run_name() -> str:
    """A readable name such as ``swift-otter-42``."""
    return f"{_rng.choice(_ADJECTIVES)}-{_rng.choice(_NOUNS)}-{_rng.randint(1, 99)}"
