"""ConnectX starter agent in the original RL Arena module format: get_action(observation).

The observation is a dict: {"board": rows * columns cells row by row from the top (0 empty, 1 and 2 the
players' checkers), "mark": our checker (1 or 2), "step": moves made so far}. The action is the column to
drop a checker into; it must not be full.

A one-argument get_action sees only the observation, so this one assumes kaggle's default board of
7 columns and 4 in a row (the rows follow from the board's length). For other configurations, declare
get_action(observation, configuration) (the adapter then passes the game's configuration, with
configuration.columns and configuration.inarow) or write a protocol agent such as connectx-shell.

Strategy: win at once if possible, else block the opponent's winning drop, else take the open column
nearest the centre that does not hand the opponent a win in the cell just above.
"""

COLUMNS = 7
INAROW = 4
DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))


def _open_row(board, rows, column):
    """The lowest empty row of a column, or None when it is full."""
    for row in range(rows - 1, -1, -1):
        if board[row * COLUMNS + column] == 0:
            return row
    return None


def _run(board, rows, row, column, dr, dc, mark):
    """How many of mark's checkers follow (row, column) in one direction."""
    count = 0
    row, column = row + dr, column + dc
    while 0 <= row < rows and 0 <= column < COLUMNS and board[row * COLUMNS + column] == mark:
        count += 1
        row, column = row + dr, column + dc
    return count


def _wins(board, rows, row, column, mark):
    """Whether a checker of mark at (row, column) completes a line."""
    for dr, dc in DIRECTIONS:
        line = 1 + _run(board, rows, row, column, dr, dc, mark) + _run(board, rows, row, column, -dr, -dc, mark)
        if line >= INAROW:
            return True
    return False


def get_action(observation):
    board = [int(cell) for cell in observation["board"]]
    mark = int(observation["mark"])
    other = 3 - mark
    rows = len(board) // COLUMNS
    open_columns = [c for c in range(COLUMNS) if _open_row(board, rows, c) is not None]

    for who in (mark, other):
        for column in open_columns:
            if _wins(board, rows, _open_row(board, rows, column), column, who):
                return column

    by_centre = sorted(open_columns, key=lambda c: abs(c - COLUMNS // 2))
    for column in by_centre:
        row = _open_row(board, rows, column)
        if row == 0 or not _wins(board, rows, row - 1, column, other):
            return column
    return by_centre[0]
