"""The scene language benchmark's definitions: predicates on hand-made state sequences, feasible chains
checked against hand-written preconditions, held-out phrasings kept out of training, and reset to each of
the 32 symbolic start states in the real environment."""
import itertools

import numpy as np
import pytest

from anypolicy.data import scene_lang as sl


def state_seq(steps):
    """Abstract states from (drawer q, window q, buttons, cube xyz) tuples via real qpos vectors."""
    out = []
    for drawer, window, buttons, cube in steps:
        qpos = np.zeros(25)
        qpos[23], qpos[24], qpos[14:17] = drawer, window, cube
        out.append(sl.abstract_state(qpos, buttons))
    return out


CLOSED, OPEN, AJAR = 0.0, -0.16, -0.08  # drawer joint values
W_CLOSED, W_OPEN, W_AJAR = 0.0, 0.2, 0.1
RIGHT, LEFT, MIDDLE, AIR = (0.35, 0.15, 0.02), (0.35, -0.03, 0.02), (0.35, 0.055, 0.02), (0.35, 0.05, 0.1)


def test_predicates_on_hand_made_sequences():
    s = state_seq([(CLOSED, W_CLOSED, (1, 1), RIGHT)])[0]
    assert s == {"drawer": "closed", "window": "closed", "lock_drawer": 1, "lock_window": 1, "cube": "right"}
    # drawer: closed -> ajar -> open is one event, at the step it becomes open
    seq = state_seq([(CLOSED, 0, (1, 1), RIGHT), (AJAR, 0, (1, 1), RIGHT), (OPEN, 0, (1, 1), RIGHT)])
    assert sl.events(seq) == [(2, "open_drawer")]
    # an excursion to ajar and back is no event; starting ajar, closing is one
    assert sl.events(state_seq([(OPEN, 0, (1, 1), RIGHT), (AJAR, 0, (1, 1), RIGHT), (OPEN, 0, (1, 1), RIGHT)])) == []
    assert sl.events(state_seq([(AJAR, 0, (1, 1), RIGHT), (CLOSED, 0, (1, 1), RIGHT)])) == [(1, "close_drawer")]
    # a button pressed twice: locked, then unlocked again (the endpoints alone would show nothing)
    seq = state_seq([(CLOSED, 0, (1, 1), RIGHT), (CLOSED, 0, (0, 1), RIGHT), (CLOSED, 0, (1, 1), RIGHT)])
    assert sl.events(seq) == [(1, "lock_drawer"), (2, "unlock_drawer")]
    assert not sl.achieved("lock_drawer", seq[0], seq[2])
    # window, and the other button
    seq = state_seq([(CLOSED, W_CLOSED, (1, 0), RIGHT), (CLOSED, W_CLOSED, (1, 1), RIGHT),
                     (CLOSED, W_AJAR, (1, 1), RIGHT), (CLOSED, W_OPEN, (1, 1), RIGHT)])
    assert sl.events(seq) == [(1, "unlock_window"), (3, "open_window")]
    # cube: lifted over the middle and put down on the left; to the middle and back is nothing
    seq = state_seq([(CLOSED, 0, (1, 1), RIGHT), (CLOSED, 0, (1, 1), AIR), (CLOSED, 0, (1, 1), LEFT)])
    assert sl.events(seq) == [(2, "move_cube_left")]
    assert sl.events(state_seq([(CLOSED, 0, (1, 1), RIGHT), (CLOSED, 0, (1, 1), MIDDLE),
                                (CLOSED, 0, (1, 1), RIGHT)])) == []
    # into the open drawer: its box moves with the drawer (y in [-0.35, -0.15] when fully open)
    in_drawer = (0.3, -0.25, 0.05)
    seq = state_seq([(OPEN, 0, (1, 1), LEFT), (OPEN, 0, (1, 1), AIR), (OPEN, 0, (1, 1), in_drawer)])
    assert seq[2]["cube"] == "drawer" and sl.events(seq) == [(2, "put_cube_in_drawer")]
    assert state_seq([(CLOSED, 0, (1, 1), in_drawer)])[0]["cube"] == "air"  # the same point, drawer shut
    # the ajar bands' edges
    assert [s["drawer"] for s in state_seq([(q, 0, (1, 1), RIGHT) for q in (-0.04, -0.041, -0.119, -0.12)])] == \
        ["closed", "ajar", "ajar", "open"]


def preconditions_hold(task, s):
    """The domain written out by hand, independently of scene_lang.feasible."""
    free = {"drawer": s["lock_drawer"] == 1, "window": s["lock_window"] == 1}
    return {
        "open_drawer": s["drawer"] == "closed" and free["drawer"], "close_drawer": s["drawer"] == "open" and free["drawer"],
        "open_window": s["window"] == "closed" and free["window"], "close_window": s["window"] == "open" and free["window"],
        "unlock_drawer": s["lock_drawer"] == 0, "lock_drawer": s["lock_drawer"] == 1,
        "unlock_window": s["lock_window"] == 0, "lock_window": s["lock_window"] == 1,
        "move_cube_left": s["cube"] == "right", "move_cube_right": s["cube"] == "left",
        "put_cube_in_drawer": s["cube"] in ("left", "right") and s["drawer"] == "open",
    }[task]


def test_sampled_chains_are_feasible_distinct_and_spread_over_the_start_states():
    chains = sl.sample_chains(320, seed=3)
    assert len(chains) == 320
    per_state = {}
    for start, chain in chains:
        assert len(chain) == len(set(chain)) == 5
        assert len({sl.SUBTASKS[t][3] for t in chain}) == 5  # no category twice
        state = dict(start)
        for task in chain:
            assert preconditions_hold(task, state), (start, chain, task)
            state = sl.apply(task, state)
        per_state.setdefault(str(start), set()).add(tuple(chain))
    assert len(per_state) == 32 and all(len(v) == 10 for v in per_state.values())  # 320 / 32, none repeated


def test_the_number_of_strict_chains_matches_the_design_note():
    # 2,880 distinct strict chains over the 32 states (55-120 per state), counted by brute force
    tasks = sorted(sl.SUBTASKS)
    counts = [sum(sl.chain_ok(s, c) for c in itertools.permutations(tasks, 5)) for s in sl.symbolic_states()]
    assert sum(counts) == 2880 and min(counts) == 55 and max(counts) == 120


def test_held_out_phrasings_never_reach_training_data():
    train = {p for t, (tr, _) in sl.TEMPLATES.items() for p in tr}
    held = {p for t, (_, ho) in sl.TEMPLATES.items() for p in ho}
    assert set(sl.TEMPLATES) == set(sl.SUBTASKS)
    assert all(len(tr) == 4 and len(ho) == 2 for tr, ho in sl.TEMPLATES.values())
    assert not train & held
    rng = np.random.default_rng(0)
    drawn = {sl.instruction(t, rng) for t in sl.SUBTASKS for _ in range(50)}
    assert drawn == train  # every training phrasing is used, and nothing else
    assert {sl.instruction(t, rng, held_out=True) for t in sl.SUBTASKS for _ in range(50)} == held


def test_reset_reproduces_each_symbolic_state():
    pytest.importorskip("ogbench")
    env = sl.make_scene_env()
    try:
        for i, state in enumerate(sl.symbolic_states()):
            _, _, reached = sl.reset_to(env, state, seed=i)
            assert reached == state, (i, state, reached)
    finally:
        env.close()


def test_annotation_windows_hold_exactly_one_event_and_a_training_phrasing():
    class Play:  # two 100-step episodes: a button press at 70 in the first, two presses 10 apart in the second
        extras = {"qpos": np.zeros((200, 25)), "button_states": np.ones((200, 2), np.int64)}

        @staticmethod
        def episode_slices():
            return [slice(0, 100), slice(100, 200)]

    Play.extras["qpos"][:, 14:17] = RIGHT
    Play.extras["button_states"][70:100, 0] = 0  # lock_drawer at 70
    Play.extras["button_states"][150:160, 1] = 0  # lock_window at 150, unlock_window at 160
    w = sl.annotate(Play, window=64, offsets=(0, 8, 16))
    train = {p for tr, _ in sl.TEMPLATES.values() for p in tr}
    # episode 1: windows ending at 70, 78 and 86; episode 2: every window that fits in the episode holds both
    # presses, so none is kept
    spans = list(zip(w["start"].tolist(), w["end"].tolist(), w["task"].tolist()))
    assert spans[:3] == [(6, 70, "lock_drawer"), (14, 78, "lock_drawer"), (22, 86, "lock_drawer")]
    assert len(spans) == 3
    for s, e, task in spans:
        inside = sl.events([sl.abstract_state(Play.extras["qpos"][i], Play.extras["button_states"][i])
                            for i in range(s, e + 1)])
        assert [t for _, t in inside] == [task]  # exactly the labelled event inside the window
    assert set(w["instruction"]) <= train
    for task, phrase in zip(w["task"], w["instruction"]):
        assert phrase in sl.TEMPLATES[task][0]
