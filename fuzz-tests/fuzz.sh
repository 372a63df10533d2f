#!/usr/bin/env bash
# Real (coverage-guided) fuzzing of one target for a time budget, with Jazzer through JUnit.
#
#   fuzz-tests/fuzz.sh TARGET [SECONDS] [--no-build]
#
# TARGET: mmio | ring | console | vhost-user (or a Class#method of dev.peridot.virtio.fuzz).
# SECONDS: the budget (default 600). The run ends earlier at the first finding: the input is then
# in fuzz-tests/src/test/resources/dev/peridot/virtio/fuzz/<Class>Inputs/<method>/crash-*; rename
# it after what it is and it becomes a regression test of the normal build.
# The generated corpus goes to fuzz-tests/.cifuzz-corpus/ (not committed).
# Without --no-build the module and what it needs are built first (./mvnw -pl fuzz-tests -am install).
# Prints the executions and executions per second libFuzzer reported; the whole log is in
# fuzz-tests/target/fuzz-TARGET.log.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/find-jdk25.sh
peridot_find_jdk25

target=${1:?usage: fuzz-tests/fuzz.sh mmio|ring|console|vhost-user [SECONDS] [--no-build]}
seconds=${2:-600}
build=1
[ "${3:-}" = "--no-build" ] && build=0

case "$target" in
  mmio) test='MmioRegisterFuzzTest#registerSequences' ;;
  ring) test='SplitRingFuzzTest#rings' ;;
  console) test='ConsoleFuzzTest#console' ;;
  vhost-user) test='VhostUserMessageFuzzTest#messageStreams' ;;
  *#*) test=$target ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac

if [ "$build" = 1 ]; then
  ./mvnw -B -q -pl fuzz-tests -am install -DskipTests
fi

mkdir -p fuzz-tests/target
log="fuzz-tests/target/fuzz-${target//[#\/]/_}.log"
echo "Fuzzing $test for $seconds s (log: $log)"
# JAZZER_FUZZ switches @FuzzTest from regression to fuzzing mode. jazzer.internal.arg.N are
# libFuzzer's command line (argument 0 is a program name); max_total_time is the budget.
# Only the project's classes are instrumented for coverage.
set +e
JAZZER_FUZZ=1 ./mvnw -B -pl fuzz-tests test \
  -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false \
  -Djazzer.internal.arg.0=fuzz -Djazzer.internal.arg.1=-max_total_time="$seconds" \
  -Djazzer.internal.arg.2=-print_final_stats=1 \
  -Djazzer.instrumentation_includes='dev.peridot.**' -Djazzer.custom_hook_includes='dev.peridot.**' \
  > "$log" 2>&1
status=$?
set -e
grep -E '^#[0-9]+.*(pulse|DONE|NEW|REDUCE)' "$log" | tail -3 || true
grep -E 'Done [0-9]+ runs|stat::number_of_executed_units|stat::average_exec_per_sec|== Java Exception|FuzzTestFindingException|crash-|Tests run:' "$log" | head -20 || true
exit $status
