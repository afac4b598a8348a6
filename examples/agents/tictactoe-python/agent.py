"""Tic-tac-toe starter agent in the original RL Arena module format: get_action(observation).

The observation is a dict: {"board": 9 cells row by row from the top left (0 empty, 1 X, 2 O), "mark": our
mark (1 for the first player, 2 for the second), "step": moves made so far}. The action is an empty cell
0..8.

Strategy: perfect play by minimax over the whole game tree (small enough for tic-tac-toe), preferring
quick wins and slow losses, and the centre and corners among equal moves.
"""

from functools import lru_cache

LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))
PREFERENCE = (4, 0, 2, 6, 8, 1, 3, 5, 7)


def _winner(board):
    for a, b, c in LINES:
        if board[a] != 0 and board[a] == board[b] == board[c]:
            return board[a]
    return 0


@lru_cache(maxsize=None)
def _value(board, to_move, me):
    """The game's value for `me` with `to_move` on move: 10 - depth for a win, depth - 10 for a loss."""
    winner = _winner(board)
    if winner:
        return 10 if winner == me else -10
    empty = [i for i in PREFERENCE if board[i] == 0]
    if not empty:
        return 0
    values = []
    for cell in empty:
        child = board[:cell] + (to_move,) + board[cell + 1:]
        value = _value(child, 3 - to_move, me)
        values.append(value - 1 if value > 0 else value + 1 if value < 0 else 0)
    return max(values) if to_move == me else min(values)


def get_action(observation):
    board = tuple(int(cell) for cell in observation["board"])
    mark = int(observation["mark"])
    empty = [i for i in PREFERENCE if board[i] == 0]
    return max(empty, key=lambda cell: _value(board[:cell] + (mark,) + board[cell + 1:], 3 - mark, mark))
