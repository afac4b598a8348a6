#!/bin/sh
sleep 1000 &
echo $$ $! >> pids
IFS= read -r line
echo "never-ready: got init, not answering" >&2
sleep 1000
