#!/usr/bin/env bash
# Adds up the records FaultLedger wrote (one TSV line per file: kind, name, hosts, survived,
# bytes lost) into the table the README shows. Exits 1 when a host did not survive or a byte
# was lost, and 2 when there is nothing to add up (the suite did not run).
set -euo pipefail
dir=${1:-.build/faults}
shopt -s nullglob
files=("$dir"/*.tsv)
if [ ${#files[@]} -eq 0 ]; then echo "faults: no records in $dir" >&2; exit 2; fi
cat "${files[@]}" | awk -F'\t' '
  { n[$1]++; h[$1]+=$3; s[$1]+=$4; b[$1]+=$5; H+=$3; S+=$4; B+=$5 }
  END {
    printf "| %-40s | %7s | %6s | %14s | %10s |\n", "fault-injection suite", "cases", "hosts", "hosts survived", "bytes lost"
    printf "|%s|%s|%s|%s|%s|\n", "------------------------------------------", "--------:", "-------:", "---------------:", "-----------:"
    split("fault input property", order, " ")
    label["fault"]="faults injected (crash, host, network)"
    label["input"]="bad inputs tried"
    label["property"]="property cases (apply/rollback)"
    for (i = 1; i <= 3; i++) { k = order[i]; if (!(k in n)) continue
      printf "| %-40s | %7d | %6d | %14d | %10d |\n", label[k], n[k], h[k], s[k], b[k] }
    printf "| %-40s | %7d | %6d | %14d | %10d |\n", "total", NR, H, S, B
    exit (B > 0 || S < H) ? 1 : 0
  }'
