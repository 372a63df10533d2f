#!/usr/bin/env bash
# Refreshes a target's committed seed corpus from the corpus a real fuzzing run grew
# (fuzz-tests/.cifuzz-corpus/): the largest inputs (they drive the most operations) up to a
# size budget, as seed-NN files in the target's regression inputs directory. Findings
# (inputs named after what they found) are left alone.
#
#   fuzz-tests/seeds.sh TARGET [KIB]     (TARGET: mmio | ring | console | vhost-user; KIB default 24)
set -euo pipefail
cd "$(dirname "$0")"

case "${1:?usage: fuzz-tests/seeds.sh mmio|ring|console|vhost-user [KIB]}" in
  mmio) class=MmioRegisterFuzzTest method=registerSequences ;;
  ring) class=SplitRingFuzzTest method=rings ;;
  console) class=ConsoleFuzzTest method=console ;;
  vhost-user) class=VhostUserMessageFuzzTest method=messageStreams ;;
  *) echo "unknown target $1" >&2; exit 2 ;;
esac
budget=$(( ${2:-24} * 1024 ))
corpus=".cifuzz-corpus/dev.peridot.virtio.fuzz.$class/$method"
inputs="src/test/resources/dev/peridot/virtio/fuzz/${class}Inputs/$method"
[ -d "$corpus" ] || { echo "no corpus in $corpus: run fuzz.sh $1 first" >&2; exit 1; }
mkdir -p "$inputs"
rm -f "$inputs"/seed-*
total=0
n=0
while read -r size file; do
  [ $((total + size)) -le "$budget" ] || continue
  cp "$file" "$inputs/seed-$(printf '%02d' "$n")"
  total=$((total + size))
  n=$((n + 1))
  [ "$n" -lt 60 ] || break
done < <(find "$corpus" -type f -printf '%s %p\n' | sort -rn)
echo "$n seeds, $total bytes in $inputs"
