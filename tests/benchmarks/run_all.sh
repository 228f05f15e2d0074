#!/usr/bin/env bash
# The engine benchmark in one command (issue 11), from the repository root:
#
#     bash tests/benchmarks/run_all.sh [--size-mb N] [--repeats N] [--runs N] [--no-drop-caches]
#                                      [--borg-compression zstd,1] [--with-console]
#
# 1. installs restic, borg and GNU time from the Debian packages if missing (needs root);
# 2. bench_backup.py: builds the data set deterministically and runs full, unchanged,
#    1 % changed, shifted, restore, verify and the repository sizes for ours, restic
#    and borg, plus the peak RSS of our backup server (default: the issue's ~540 MB,
#    20,000-file set, 3 repetitions);
# 3. bench_server.py: immediate stop to Stopped, 1 computer and 50 computers on 8 slots
#    (--runs, default 30);
# 3b. with --with-console: bench_console.py (the console probe) into results-console.json;
# 4. engine_report.py: writes tests/benchmarks/results-engine.json, prints it, and
#    rewrites the engine section of tests/benchmarks/RESULTS.md from it.
#
# About 6 to 8 minutes on the 2-core development machine when it is otherwise quiet
# (estimated from 50 and 150 MB validation runs; the JSON has "elapsed_seconds").
# Run it on a quiet machine: `uptime` before and after is recorded in the results.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
[ -x "$PY" ] || { echo "No .venv: run 'bash .ci/setup' first." >&2; exit 2; }

backup_args=()
server_args=()
with_console=0
while [ $# -gt 0 ]; do
    case "$1" in
        --size-mb|--repeats|--borg-compression) backup_args+=("$1" "$2"); shift 2 ;;
        --no-drop-caches) backup_args+=("$1"); shift ;;
        --runs) server_args+=("$1" "$2"); shift 2 ;;
        --with-console) with_console=1; shift ;;
        *) echo "Unknown option '$1'. Options: --size-mb N, --repeats N, --runs N," \
                "--borg-compression C, --no-drop-caches, --with-console." >&2; exit 2 ;;
    esac
done

missing=()
command -v restic >/dev/null || missing+=(restic)
command -v borg >/dev/null || missing+=(borgbackup)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing ${missing[*]} (apt-get)..." >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "Not root: install ${missing[*]} yourself (apt-get install -y ${missing[*]});" \
             "the benchmark measures what it finds and says what is missing." >&2
    else
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            "${missing[@]}" >&2 || echo "apt-get failed: measuring what is installed." >&2
    fi
fi

out=$(mktemp -d /tmp/abc-engine-results-XXXXXX)
trap 'rm -rf "$out"' EXIT
echo "uptime before: $(uptime)" >&2
"$PY" tests/benchmarks/bench_backup.py ${backup_args[@]+"${backup_args[@]}"} \
    --json-out "$out/backup.json" >/dev/null
"$PY" tests/benchmarks/bench_server.py ${server_args[@]+"${server_args[@]}"} \
    --json-out "$out/server.json" >/dev/null
if [ "$with_console" = 1 ]; then
    # The console probe (helper-owned bench_console.py); its JSON is kept beside ours.
    "$PY" tests/benchmarks/bench_console.py > tests/benchmarks/results-console.json
fi
echo "uptime after: $(uptime)" >&2
shown="bash tests/benchmarks/run_all.sh"
for a in ${backup_args[@]+"${backup_args[@]}"} ${server_args[@]+"${server_args[@]}"}; do
    shown+=" $a"
done
"$PY" tests/benchmarks/engine_report.py --backup "$out/backup.json" --server "$out/server.json" \
    --json-out tests/benchmarks/results-engine.json --results-md tests/benchmarks/RESULTS.md \
    --command "$shown"
