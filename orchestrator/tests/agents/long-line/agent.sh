#!/bin/sh
echo $$ >> "$HOME/pids"
padding=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
padding=$padding$padding$padding$padding$padding$padding$padding$padding$padding$padding
padding=$padding$padding$padding$padding
while IFS= read -r line; do
    case $line in
    *'"type":"init"'*) printf '{"type":"ready"}\n' ;;
    *'"type":"step"'*) printf '{"action":1,"padding":"%s"}\n' "$padding" ;;
    *'"type":"end"'*) exit 0 ;;
    esac
done
