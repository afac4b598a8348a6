#!/bin/sh
# A Pong agent in POSIX sh speaking the orchestrator's JSON-lines protocol directly.
# It learns its seat from "init" (player 0 is paddle1, player 1 is paddle2) and moves its paddle towards the
# ball's height. Observation: [ball_x, ball_y, ball_vx, ball_vy, paddle1_y, paddle2_y, score1, score2];
# actions: 0 up (y decreases), 1 stay, 2 down. `read` takes one line at a time from the pipe, awk does the
# floating-point comparison, and debug output goes to stderr, never to stdout.

paddle=5
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
        action=$(echo "$observation" | awk -F, -v p="$paddle" '{
            d = $2 - $p
            if (d > 0.02) print 2; else if (d < -0.02) print 0; else print 1
        }')
        printf '{"action":%s,"step":%s}\n' "${action:-1}" "$step"
        ;;
    *'"type":"end"'*)
        exit 0
        ;;
    esac
done
