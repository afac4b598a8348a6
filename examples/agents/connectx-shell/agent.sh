#!/bin/sh
# ConnectX starter agent in POSIX sh, speaking the orchestrator's JSON-lines protocol directly.
# Only shell builtins are used (read, case, printf, eval, arithmetic): no helper processes are started.
#
# The board size and line length come from the "config" of the init message. Observation:
# {"board": rows * columns cells row by row from the top (0 empty, 1 and 2 the players' checkers),
#  "mark": our checker, "step": moves made so far}. Action: a column that is not full.
# Strategy: win at once if possible, else block the opponent's winning drop, else take the open column
# nearest the centre that does not hand the opponent a win in the cell just above.

rows=6
cols=7
inarow=4

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

# load_board TEXT: sets cell0, cell1, ... from the "board" list of TEXT.
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

# at ROW COL: sets v to the cell's content.
at() {
    eval "v=\$cell$(($1 * cols + $2))"
}

# open_row COL: sets r to the lowest empty row of COL, -1 when the column is full.
open_row() {
    r=$((rows - 1))
    while [ "$r" -ge 0 ]; do
        at "$r" "$1"
        [ "$v" = 0 ] && return 0
        r=$((r - 1))
    done
}

# run ROW COL DR DC MARK: sets k to the number of MARK's checkers after (ROW, COL) in direction (DR, DC).
run() {
    k=0
    rr=$(($1 + $3))
    cc=$(($2 + $4))
    while [ "$rr" -ge 0 ] && [ "$rr" -lt "$rows" ] && [ "$cc" -ge 0 ] && [ "$cc" -lt "$cols" ]; do
        at "$rr" "$cc"
        [ "$v" = "$5" ] || return 0
        k=$((k + 1))
        rr=$((rr + $3))
        cc=$((cc + $4))
    done
}

# wins ROW COL MARK: succeeds when a checker of MARK at (ROW, COL) completes a line.
wins() {
    for d in 0,1 1,0 1,1 1,-1; do
        dr=${d%,*}
        dc=${d#*,}
        run "$1" "$2" "$dr" "$dc" "$3"
        line=$((k + 1))
        run "$1" "$2" $((-dr)) $((-dc)) "$3"
        line=$((line + k))
        [ "$line" -ge "$inarow" ] && return 0
    done
    return 1
}

# choose MARK: sets move.
choose() {
    for who in "$1" $((3 - $1)); do
        c=0
        while [ "$c" -lt "$cols" ]; do
            open_row "$c"
            if [ "$r" -ge 0 ] && wins "$r" "$c" "$who"; then
                move=$c
                return 0
            fi
            c=$((c + 1))
        done
    done
    move=-1
    j=0
    while [ "$j" -lt "$cols" ]; do
        # Centre first, then alternately left and right of it.
        if [ $((j % 2)) -eq 0 ]; then c=$((cols / 2 + j / 2)); else c=$((cols / 2 - (j + 1) / 2)); fi
        open_row "$c"
        if [ "$r" -ge 0 ]; then
            [ "$move" -lt 0 ] && move=$c
            if [ "$r" -eq 0 ] || ! wins $((r - 1)) "$c" $((3 - $1)); then
                move=$c
                return 0
            fi
        fi
        j=$((j + 1))
    done
}

while IFS= read -r line; do
    case $line in
    *'"type":"init"'*)
        number rows "$line" && rows=${n:-$rows}
        number columns "$line" && cols=${n:-$cols}
        number inarow "$line" && inarow=${n:-$inarow}
        number player "$line"
        echo "connectx-shell: player $n on a ${rows}x${cols} board, $inarow in a row wins" >&2
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
