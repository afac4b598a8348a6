#!/bin/sh
# A Pong agent in POSIX sh speaking the orchestrator's JSON-lines protocol directly.
# It learns its seat from "init" (player 0 is paddle1, player 1 is paddle2) and moves its paddle towards the
# ball's height. Observation: [ball_x, ball_y, ball_vx, ball_vy, paddle1_y, paddle2_y, score1, score2];
# actions: 0 up (y decreases), 1 stay, 2 down. `read` takes one line at a time from the pipe, numbers are
# compared in ten-thousandths with shell arithmetic, and debug output goes to stderr, never to stdout.
# Only shell builtins are used: the sandbox lets agents start no helper processes.

paddle=5

# tenk VALUE: sets m to the decimal VALUE in ten-thousandths, truncated (tiny values with exponents are 0).
tenk() {
    v=$1
    sign=
    case $v in -*) sign=- v=${v#-} ;; esac
    case $v in *[eE]*) m=0; return ;; esac
    int=${v%%.*}
    case $v in *.*) frac=${v#*.}0000 ;; *) frac=0000 ;; esac
    frac=${frac%"${frac#????}"}
    m=$((${int:-0} * 10000 + 1$frac - 10000))
    if [ "$sign" = - ]; then m=$((-m)); fi
}
while IFS= read -r line; do
    case $line in
    *'"type":"init"'*)
        player=${line#*\"player\":}
        player=${player%%[!0-9]*}
        paddle=$((5 + player))
        echo "pong-shell: I am player $player" >&2
        printf '{"type":"ready"}\n'
        ;;
    *'"type":"step"'*)
        step=${line#*\"step\":}
        step=${step%%[!0-9]*}
        observation=${line#*\"observation\":[}
        observation=${observation%%]*}
        saved_ifs=$IFS
        IFS=,
        set -- $observation
        IFS=$saved_ifs
        tenk "$2"
        ball=$m
        eval "tenk \"\${$paddle}\""
        d=$((ball - m))
        if [ $d -gt 200 ]; then action=2; elif [ $d -lt -200 ]; then action=0; else action=1; fi
        printf '{"action":%s,"step":%s}\n' "$action" "$step"
        ;;
    *'"type":"end"'*)
        exit 0
        ;;
    esac
done
