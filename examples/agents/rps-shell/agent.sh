#!/bin/sh
# Rock-paper-scissors starter agent in POSIX sh, speaking the orchestrator's JSON-lines protocol directly.
# Only shell builtins are used (read, case, printf, arithmetic): no helper processes are started.
#
# Messages arrive one JSON object per line on stdin; answers go to stdout, one per line; logs go to stderr.
# Observation: {"step": rounds played, "reward": our total, "lastOpponentAction": the opponent's last sign}.
# Action: 0 rock, 1 paper, 2 scissors; sign (s + 1) % 3 beats sign s.
# Strategy: play what beats the opponent's previous sign; cycle through the signs in the first round.

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

while IFS= read -r line; do
    case $line in
    *'"type":"init"'*)
        number player "$line"
        echo "rps-shell: I am player $n" >&2
        printf '{"type":"ready"}\n'
        ;;
    *'"type":"step"'*)
        number step "${line%%\"observation\":*}${line#*\"observation\":\{*\}}"
        step=${n:-0}
        number lastOpponentAction "$line"
        if [ -n "$n" ]; then
            action=$(((n + 1) % 3))
        else
            action=$((step % 3))
        fi
        printf '{"action":%s,"step":%s}\n' "$action" "$step"
        ;;
    *'"type":"end"'*)
        exit 0
        ;;
    esac
done
