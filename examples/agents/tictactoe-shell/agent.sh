#!/bin/sh
# Tic-tac-toe starter agent in POSIX sh, speaking the orchestrator's JSON-lines protocol directly.
# Only shell builtins are used (read, case, printf, eval, arithmetic): no helper processes are started.
#
# Observation: {"board": 9 cells row by row from the top left (0 empty, 1 X, 2 O), "mark": our mark,
# "step": moves made so far}. Action: an empty cell 0..8.
# Strategy: complete our own line, else block the opponent's, else take the centre, then a corner, then a
# side (a side first when the opponent holds two opposite corners around our centre).

lines="0,1,2 3,4,5 6,7,8 0,3,6 1,4,7 2,5,8 0,4,8 2,4,6"

# number KEY TEXT: sets n to the non-negative integer after "KEY": in TEXT, or to nothing when KEY is absent.
number() {
    case $2 in
    *\"$1\":*)
        n=${2#*\"$1\":}
        n=${n%%[!0-9]*}
        ;;
    *) n= ;;
    esac
}

# load_board TEXT: sets cell0 .. cell8 from the "board" list of TEXT.
load_board() {
    list=${1#*\"board\":\[}
    list=${list%%\]*}
    i=0
    saved_ifs=$IFS
    IFS=,
    for value in $list; do
        case $value in *[!0-9]* | '') value=0 ;; esac
        eval "cell$i=$value"
        i=$((i + 1))
    done
    IFS=$saved_ifs
}

# completes MARK: sets move to an empty cell that gives MARK three in a line; fails when there is none.
completes() {
    for l in $lines; do
        a=${l%%,*}
        b=${l#*,}
        b=${b%,*}
        c=${l##*,}
        eval "x=\$cell$a y=\$cell$b z=\$cell$c"
        if [ "$x$y$z" = "$1${1}0" ]; then move=$c; return 0; fi
        if [ "$x$y$z" = "${1}0$1" ]; then move=$b; return 0; fi
        if [ "$x$y$z" = "0$1$1" ]; then move=$a; return 0; fi
    done
    return 1
}

# first_empty CELL...: sets move to the first empty cell listed; fails when all are taken.
first_empty() {
    for cell in "$@"; do
        eval "x=\$cell$cell"
        if [ "$x" = 0 ]; then move=$cell; return 0; fi
    done
    return 1
}

# choose MARK: sets move.
choose() {
    other=$((3 - $1))
    completes "$1" && return 0
    completes "$other" && return 0
    first_empty 4 && return 0
    if [ "$cell4" = "$1" ] && { [ "$cell0$cell8" = "$other$other" ] || [ "$cell2$cell6" = "$other$other" ]; }; then
        first_empty 1 3 5 7 && return 0
    fi
    first_empty 0 2 6 8 1 3 5 7
}

while IFS= read -r line; do
    case $line in
    *'"type":"init"'*)
        number player "$line"
        echo "tictactoe-shell: I am player $n" >&2
        printf '{"type":"ready"}\n'
        ;;
    *'"type":"step"'*)
        number step "${line%%\"observation\":*}${line#*\"observation\":\{*\}}"
        step=${n:-0}
        load_board "$line"
        number mark "$line"
        choose "${n:-1}"
        printf '{"action":%s,"step":%s}\n' "$move" "$step"
        ;;
    *'"type":"end"'*)
        exit 0
        ;;
    esac
done
