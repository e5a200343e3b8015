#!/usr/bin/env bash
# Mutation testing (Stryker.NET, a local dotnet tool): how many deliberate small bugs the tests catch.
#   scripts/mutation.sh [--full] [--since REF] [PROJECT...]
#     (default)    unit tests only: minutes per project; a lower bound for code the integration tests cover
#                  (Infrastructure, Auth and Gateway have unit tests; the other services only integration tests)
#     --full       unit + integration tests against a real PostgreSQL and Redis started here (.local/mutation):
#                  hours on 2 cores for every project
#     --since REF  only mutants in code changed since REF (git), for a quick check of a change
#     --mutate GLOB      only these files (e.g. "**/Gateway/Authentication/*.cs")
#     --filter EXPR      only these tests (dotnet test --filter syntax), to bound a --full run
#   PROJECT: Infrastructure Auth Gateway, and with --full also Permissions Users Workspaces Analytics (default: all of them;
#            Analytics also runs alone on unit tests, which cover its histogram math only)
# Prints, per project, the mutation score and the surviving mutants (file:line mutator → replacement);
# reports in .local/mutation/<project>/reports (html and json). Not part of ./test.sh or CI (too slow).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state="$root/.local/mutation"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

full=0; since=""; glob=""; filter=""; projects=()
while [ $# -gt 0 ]; do
  case "$1" in
    --full) full=1 ;;
    --since) since=${2:?--since needs a git ref}; shift ;;
    --mutate) glob=${2:?--mutate needs a glob}; shift ;;
    --filter) filter=${2:?--filter needs an expression}; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) projects+=("$1") ;;
  esac
  shift
done
if [ ${#projects[@]} -eq 0 ]; then
  projects=(Infrastructure Auth Gateway)
  [ $full = 1 ] && projects+=(Permissions Users Workspaces Analytics)
fi

dotnet tool restore >/dev/null
tests=(--test-project "$root/tests/PyAirtable.UnitTests/PyAirtable.UnitTests.csproj")
if [ $full = 1 ]; then
  bash scripts/ensure-deps.sh
  PYAIRTABLE_TEST_POSTGRES=$(scripts/pg.sh start "$state/pg" 55533 --fast | tail -n 1)
  PYAIRTABLE_TEST_REDIS=$(scripts/redis.sh start "$state/redis" 56480 | tail -n 1)
  export PYAIRTABLE_TEST_POSTGRES PYAIRTABLE_TEST_REDIS
  trap 'scripts/redis.sh stop "$state/redis" >/dev/null 2>&1 || true; scripts/pg.sh stop "$state/pg" >/dev/null 2>&1 || true' EXIT
  tests+=(--test-project "$root/tests/PyAirtable.IntegrationTests/PyAirtable.IntegrationTests.csproj")
fi

summary=()
for name in "${projects[@]}"; do
  mutate=()
  case "$name" in
    Infrastructure|Auth|Analytics) project="PyAirtable.Services.$name.csproj" ;;
    Permissions|Users|Workspaces)
      [ $full = 1 ] || { echo "$name has integration tests only: use --full" >&2; exit 2; }
      project="PyAirtable.Services.$name.csproj" ;;
    Gateway) project="PyAirtable.Host.csproj"; mutate=(--mutate "**/Gateway/**/*.cs") ;;
    *) echo "unknown project $name (Infrastructure Auth Permissions Users Workspaces Analytics Gateway)" >&2; exit 2 ;;
  esac
  [ -n "$glob" ] && mutate=(--mutate "$glob")
  [ -n "$filter" ] && mutate+=(--test-case-filter "$filter")
  out="$state/$name"
  rm -rf "$out"
  echo "== mutating $name ($project), tests: $([ $full = 1 ] && echo unit+integration || echo unit)"
  (cd tests/PyAirtable.UnitTests && dotnet stryker --project "$project" "${tests[@]}" "${mutate[@]}" \
      --configuration Release --concurrency "$(nproc)" \
      --reporter json --reporter html --reporter progress --output "$out" ${since:+"--since:$since"}) >"$state-$name.log" 2>&1 \
    || { tail -n 30 "$state-$name.log" >&2; exit 1; }
  summary+=("$(python3 - "$out/reports/mutation-report.json" "$name" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
counts, survivors = {}, []
for path, f in report["files"].items():
    for m in f["mutants"]:
        counts[m["status"]] = counts.get(m["status"], 0) + 1
        if m["status"] in ("Survived", "NoCoverage"):
            survivors.append(f'{path.split("/Services/")[-1].split("/Host/")[-1]}:{m["location"]["start"]["line"]} {m["mutatorName"]} → {m.get("replacement", "")[:70]}')
killed = counts.get("Killed", 0) + counts.get("Timeout", 0)
valid = killed + counts.get("Survived", 0) + counts.get("NoCoverage", 0)
score = 100.0 * killed / valid if valid else 0.0
print(f'{sys.argv[2]:<15} {score:6.2f} %  killed {killed}, survived {counts.get("Survived", 0)}, no coverage {counts.get("NoCoverage", 0)}, '
      f'compile errors {counts.get("CompileError", 0)}, ignored {counts.get("Ignored", 0)}')
with open(sys.argv[1].replace("mutation-report.json", "survivors.txt"), "w") as out:
    out.write("\n".join(sorted(survivors)) + "\n")
PY
)")
  echo "   survivors: $out/reports/survivors.txt"
done

echo
echo "mutation score (killed + timeout) / (killed + timeout + survived + no coverage):"
printf '%s\n' "${summary[@]}"
