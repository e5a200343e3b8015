#!/usr/bin/env bash
# Mutation testing (Stryker.NET 5.1.0, a local dotnet tool): how many deliberate small bugs the tests catch.
#   scripts/mutation.sh [--fast] [--since REF] [--concurrency N] [--mutate GLOB] [--filter EXPR] [TARGET...]
#     (default)        unit + integration tests against a real PostgreSQL and Redis: the ones in PYAIRTABLE_TEST_POSTGRES
#                      and PYAIRTABLE_TEST_REDIS when set, else started here (.local/mutation); each target runs only the
#                      tests that concern it (its filter below), and Stryker runs, per mutant, only the tests covering it
#     --fast           unit tests only, for the targets they cover (cursors errors shared-state gateway-auth): minutes
#     --since REF      only mutants in code changed since REF (git), e.g. --since main before a merge
#     --concurrency N  Stryker's parallel test sessions (default 1: the box is shared, and integration tests start hosts)
#     --mutate GLOB    only these files instead of the target's own (e.g. "**/Pagination/CursorCodec.cs"); repeat it,
#                      or separate globs with ';', for several
#     --filter EXPR    only these tests (dotnet test --filter syntax) instead of the target's own
#   TARGET (default: all, one after the other; with --fast the four above):
#     cursors  errors  shared-state  outbox        the shared infrastructure (Services.Infrastructure)
#     gateway-auth                                 the gateway's authentication (Host/Gateway/Authentication)
#     auth  permissions  workspaces  users         the services' security- and data-critical files
# Prints, per target, the mutation score, its run time and the surviving mutants (file:line mutator → replacement);
# reports in .local/mutation/<target>/reports (html, json, survivors.txt). Not part of ./test.sh or CI (too slow).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state="$root/.local/mutation"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

fast=0; since=""; glob=""; filter=""; concurrency=1; targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --fast) fast=1 ;;
    --full) ;; # the default; kept for old command lines
    --since) since=${2:?--since needs a git ref}; shift ;;
    --concurrency) concurrency=${2:?--concurrency needs a number}; shift ;;
    --mutate) glob=${glob:+$glob;}${2:?--mutate needs a glob}; shift ;; # repeatable: the globs add up
    --filter) filter=${2:?--filter needs an expression}; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
if [ ${#targets[@]} -eq 0 ]; then
  if [ $fast = 1 ]; then
    targets=(cursors errors shared-state gateway-auth)
  else
    targets=(cursors errors shared-state outbox gateway-auth auth permissions workspaces users)
  fi
fi

# Per target: the project under test, the files to mutate (';'-separated globs) and the tests that concern it.
# A partial class's main file needs its own glob: "**/X.*.cs" does not match X.cs.
unit="FullyQualifiedName~PyAirtable.UnitTests."
integration="FullyQualifiedName~PyAirtable.IntegrationTests."
target_of() {
  case "$1" in
    cursors) project=Infrastructure; files="**/Pagination/*.cs"
      tests="FullyQualifiedName~CursorCodecTests|FullyQualifiedName~PaginationTests" ;;
    errors) project=Infrastructure; files="**/Errors/*.cs"
      tests="FullyQualifiedName~RpcErrorsTests|FullyQualifiedName~HostileInput|FullyQualifiedName~ErrorModelTests|FullyQualifiedName~RequestMetadataTests"
      tests+="|FullyQualifiedName~ValidationRulesTests|FullyQualifiedName~PublicAddressTests" ;;
    shared-state) project=Infrastructure; files="**/SharedState/*.cs"
      tests="FullyQualifiedName~IdentityUnitTests|FullyQualifiedName~ChangeFeedTests|FullyQualifiedName~RedisOutageTests"
      tests+="|FullyQualifiedName~CacheTests|FullyQualifiedName~InProcessMirrorTests|FullyQualifiedName~TokenLifetimeTests"
      tests+="|FullyQualifiedName~ChangeFeedRecoveryTests|FullyQualifiedName~LocalRevocationsTests|FullyQualifiedName~MemorySharedStateTests"
      tests+="|FullyQualifiedName~RedisSharedStateTests|FullyQualifiedName~RedisBreakerTests|FullyQualifiedName~RevocationRecordTests" ;;
    outbox) project=Infrastructure; files="**/Events/Outbox.cs;**/Events/EventRelay.cs;**/Events/EventConsumers.cs"
      tests="(FullyQualifiedName~IntegrationTests.Events.&FullyQualifiedName!~EventStreamScaleTests)" ;;
    gateway-auth) project=Host; files="**/Gateway/Authentication/*.cs"
      tests="FullyQualifiedName~IdentityUnitTests|FullyQualifiedName~GatewayProtectionTests|FullyQualifiedName~IntegrationTests.Identity."
      tests+="|FullyQualifiedName~CredentialAbuseTests|FullyQualifiedName~ScopeTests|FullyQualifiedName~RedisOutageTests"
      tests+="|FullyQualifiedName~VerifiedCredentialTests|FullyQualifiedName~AuthenticationPathTests|FullyQualifiedName~ApiKeyIdentityTests"
      tests+="|FullyQualifiedName~DuplicateCredentialHeaderTests" ;;
    auth) project=Auth; files="**/Tokens.cs;**/AuthService.cs;**/AuthService.Tokens.cs;**/AuthService.ApiKeys.cs;**/AuthService.Sessions.cs;**/LoginThrottle.cs;**/SigningKeys.cs"
      tests="FullyQualifiedName~IdentityUnitTests|FullyQualifiedName~IntegrationTests.Identity.|FullyQualifiedName~LoginLockoutTests"
      tests+="|FullyQualifiedName~CredentialAbuseTests|FullyQualifiedName~MembershipConsentTests|FullyQualifiedName~LoginThrottleTests" ;;
    permissions) project=Permissions; files="**/PermissionService.Rules.cs;**/Stores/CheckStore.cs;**/PermissionDecisionCache.cs;**/PermissionService.Grants.cs"
      tests="FullyQualifiedName~IntegrationTests.Access.|FullyQualifiedName~PermissionDecisionCacheTests" ;;
    workspaces) project=Workspaces; files="**/WorkspaceService.cs;**/WorkspaceService.*.cs;**/WorkspaceMemory.cs"
      tests="FullyQualifiedName~IntegrationTests.Access.|FullyQualifiedName~MembershipConsentTests|FullyQualifiedName~InProcessMirrorTests" ;;
    users) project=Users; files="**/UserService.cs;**/UserService.*.cs;**/ProfileCache.cs;**/ProfileMemory.cs"
      tests="FullyQualifiedName~UserAndApiKeyTests|FullyQualifiedName~ProfileCacheTests|FullyQualifiedName~CacheTests"
      tests+="|FullyQualifiedName~HostileInputTests|FullyQualifiedName~InProcessMirrorTests|FullyQualifiedName~RedisOutageTests" ;;
    *) echo "unknown target $1 (cursors errors shared-state outbox gateway-auth auth permissions workspaces users)" >&2; exit 2 ;;
  esac
  case "$project" in
    Host) project=PyAirtable.Host.csproj ;;
    *) project="PyAirtable.Services.$project.csproj" ;;
  esac
}

dotnet tool restore >/dev/null
test_projects=(--test-project "$root/tests/PyAirtable.UnitTests/PyAirtable.UnitTests.csproj")
if [ $fast = 0 ]; then
  test_projects+=(--test-project "$root/tests/PyAirtable.IntegrationTests/PyAirtable.IntegrationTests.csproj")
  if [ -z "${PYAIRTABLE_TEST_POSTGRES:-}" ] || [ -z "${PYAIRTABLE_TEST_REDIS:-}" ]; then
    bash scripts/ensure-deps.sh
    PYAIRTABLE_TEST_POSTGRES=$(scripts/pg.sh start "$state/pg" 55533 --fast | tail -n 1)
    PYAIRTABLE_TEST_REDIS=$(scripts/redis.sh start "$state/redis" 56480 | tail -n 1)
    trap 'scripts/redis.sh stop "$state/redis" >/dev/null 2>&1 || true; scripts/pg.sh stop "$state/pg" >/dev/null 2>&1 || true' EXIT
  fi
  export PYAIRTABLE_TEST_POSTGRES PYAIRTABLE_TEST_REDIS
fi
export PYAIRTABLE_BUF="${PYAIRTABLE_BUF:-$root/node_modules/.bin/buf}"

summary=()
for name in "${targets[@]}"; do
  target_of "$name"
  [ -n "$glob" ] && files=$glob
  [ $fast = 1 ] && tests=$unit
  [ $fast = 0 ] && tests="($unit|$integration)&($tests)"
  [ -n "$filter" ] && tests=$filter
  mutate=()
  IFS=';' read -ra globs <<<"$files"
  for g in "${globs[@]}"; do mutate+=(--mutate "$g"); done
  out="$state/$name"
  rm -rf "$out"
  mkdir -p "$out"
  echo "== $name: $project, mutating ${files//;/ }, tests: $([ $fast = 1 ] && echo unit || echo "unit+integration ($tests)")"
  started=$(date +%s)
  (cd tests/PyAirtable.UnitTests && dotnet stryker --project "$project" "${test_projects[@]}" "${mutate[@]}" \
      --test-case-filter "$tests" --configuration Release --concurrency "$concurrency" --skip-version-check \
      --reporter json --reporter html --reporter progress --output "$out" ${since:+"--since:$since"}) >"$out/stryker.log" 2>&1 \
    || { tail -n 30 "$out/stryker.log" >&2; exit 1; }
  elapsed=$(( $(date +%s) - started ))
  report="$out/reports/mutation-report.json"
  if [ ! -f "$report" ]; then
    summary+=("$(printf '%-13s no mutants (nothing changed, or nothing to mutate)' "$name")")
    continue
  fi
  summary+=("$(python3 - "$report" "$name" "$elapsed" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
counts, survivors = {}, []
for path, f in report["files"].items():
    short = path.split("/Services/")[-1].split("/Host/")[-1]
    for m in f["mutants"]:
        counts[m["status"]] = counts.get(m["status"], 0) + 1
        if m["status"] in ("Survived", "NoCoverage"):
            where = f'{short}:{m["location"]["start"]["line"]}'
            survivors.append(f'{where} [{m["status"]}] {m["mutatorName"]} → {m.get("replacement", "")[:90]}')
killed = counts.get("Killed", 0) + counts.get("Timeout", 0)
valid = killed + counts.get("Survived", 0) + counts.get("NoCoverage", 0)
score = 100.0 * killed / valid if valid else 0.0
minutes = int(sys.argv[3]) / 60
print(f'{sys.argv[2]:<13} {score:6.2f} %  killed {killed}, survived {counts.get("Survived", 0)}, '
      f'no coverage {counts.get("NoCoverage", 0)}, compile errors {counts.get("CompileError", 0)}, '
      f'ignored {counts.get("Ignored", 0)}  ({minutes:.0f} min)')
with open(sys.argv[1].replace("mutation-report.json", "survivors.txt"), "w") as out:
    out.write("\n".join(sorted(survivors)) + "\n")
PY
)")
  echo "   ${summary[-1]}"
  echo "   survivors: $out/reports/survivors.txt"
  sed 's/^/     /' "$out/reports/survivors.txt"
done

echo
echo "mutation score = (killed + timeout) / (killed + timeout + survived + no coverage):"
printf '%s\n' "${summary[@]}"
