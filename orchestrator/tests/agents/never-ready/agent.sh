#!/bin/sh
# Reads init and never answers: it waits for more input that only comes when the match ends. No helper
# processes: the sandbox allows none.
echo $$ >> "$HOME/pids"
IFS= read -r line
echo "never-ready: got init, not answering" >&2
while IFS= read -r line; do :; done
