#!/bin/sh
# Answers step N with action N mod 3, so that a late answer taken for a later step would show in the replay.
# Step 3 is answered only once the next message has arrived, which the orchestrator sends only after giving
# up on step 3: that answer is late by construction, and must be discarded.
echo $$ >> "$HOME/pids"
answer() {
    step=${1#*\"step\":}
    step=${step%%[!0-9]*}
    printf '{"action":%d}\n' $((step % 3))
}
while IFS= read -r line; do
    case $line in
    *'"type":"init"'*) printf '{"type":"ready"}\n' ;;
    *'"step":3,'*)
        IFS= read -r next
        answer "$line"
        answer "$next"
        ;;
    *'"type":"step"'*) answer "$line" ;;
    *'"type":"end"'*) exit 0 ;;
    esac
done
