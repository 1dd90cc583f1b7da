#!/usr/bin/env bash
# The CUDA check kit: proves the ILGPU kernels on a lent GPU machine (which has python3 with
# torch on CUDA and no .NET) within a few minutes of its time.
#   tools/gpu-check.sh bundle   build the self-contained check program into artifacts/gpu-bundle (here)
#   tools/gpu-check.sh run      run the check and the torch peer (there, on the GPU machine)
#   tools/gpu-check.sh help     the whole procedure, with the device-tool call to make
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bundle_dir="$root/artifacts/gpu-bundle"
build_dir="$root/artifacts/gpu-bundle-build"
smoke_dir="$root/artifacts/gpu-check-smoke"
exe=engine-gpu-check
limit_mib=60

# Time limits of the run verb, in seconds: together they stay under 8 minutes.
torch_budget=100
torch_timeout=150
check_budget=210
check_timeout=300

usage() {
  cat <<EOF
CUDA check kit: every ILGPU kernel on the GPU against the SIMD backend, timed next to the
device's measured ceilings (device-to-device copy, cuBLAS SGEMM) and torch on the same shapes.

Here (no GPU needed):
  ./build.sh gpu-bundle          (= tools/gpu-check.sh bundle [--no-smoke])
    publishes tools/Engine.GpuCheck self-contained for linux-x64 as one compressed file into
    artifacts/gpu-bundle/ (with tools/gpu-check/torch_reference.py), checks it is under
    ${limit_mib} MiB, and runs it once here, where it falls back to ILGPU's CPU accelerator at
    tiny sizes and must pass.

On the GPU machine, with the device tool (artifacts/ is git-ignored, so it must be carried):
  run(command="bash tools/gpu-check.sh run", carry=["artifacts/gpu-bundle"], timeout_s=540)
    Finishes within 8 minutes: torch's timings (at most ${torch_timeout} s), then the check
    (at most ${check_timeout} s; it stops starting cases after ${check_budget} s and writes its
    table after every case). Results land in \$OUT (the device tool brings them back):
      gpu-check.md     the table: op, shape, rel. error vs SIMD, tolerance, result, ms,
                       GFLOP/s or GB/s, fraction of the measured ceiling, cuBLAS ms, torch ms, ours/torch
      gpu-check.json   the same, machine-readable
      gpu-check.log    everything printed, including the machine's nvidia-smi line
      torch-plan.json, torch.json   the torch peer's input and output
    Without \$OUT they go to artifacts/gpu-check-results. Extra arguments go to the check
    program, e.g. "bash tools/gpu-check.sh run --only matmul" to rerun only the matmul cases.

Exit status of run: the check program's (0 when no case failed).
EOF
}

die() {
  echo "gpu-check.sh: $*" >&2
  exit 1
}

cmd_bundle() {
  local smoke=1
  for arg in "$@"; do
    case "$arg" in
      --no-smoke) smoke=0 ;;
      *) die "bundle: unknown argument '$arg'" ;;
    esac
  done
  command -v dotnet >/dev/null 2>&1 || die "the .NET 10 SDK is required to build the bundle (dotnet not found)."

  # A build folder of its own (--artifacts-path), so publishing for linux-x64 never touches the
  # obj/ and bin/ folders that everyday builds and tests use.
  rm -rf "$build_dir/publish" "$bundle_dir"
  dotnet publish "$root/tools/Engine.GpuCheck/Engine.GpuCheck.csproj" -c Release -r linux-x64 --self-contained true \
    -p:PublishSingleFile=true -p:EnableCompressionInSingleFile=true -p:DebugType=none \
    --artifacts-path "$build_dir" -o "$build_dir/publish" -nologo -v quiet -clp:ErrorsOnly
  mkdir -p "$bundle_dir"
  cp "$build_dir/publish/$exe" "$bundle_dir/"
  cp "$root/tools/gpu-check/torch_reference.py" "$bundle_dir/"

  local bytes
  bytes=$(du -sb "$bundle_dir" | cut -f1)
  echo "bundle: $bundle_dir, $((bytes / 1024 / 1024)) MiB ($bytes bytes)"
  [ "$bytes" -lt $((limit_mib * 1024 * 1024)) ] || die "the bundle is over ${limit_mib} MiB; the device tool cannot carry it."

  if [ "$smoke" -eq 1 ]; then
    echo "smoke run of the bundle here (no GPU: ILGPU CPU accelerator, tiny sizes):"
    rm -rf "$smoke_dir"
    "$bundle_dir/$exe" --out "$smoke_dir" > "$smoke_dir.log" 2>&1 || {
      cat "$smoke_dir.log"
      die "the bundle's smoke run failed (log above, table in $smoke_dir)."
    }
    grep -E '^(device|fallback|result):' "$smoke_dir.log"
  fi
}

loader_cache() {
  { command -v ldconfig >/dev/null 2>&1 && ldconfig -p; } 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true
}

# Every path of the library file $1 in the loader cache, LD_LIBRARY_PATH and the usual driver folders.
find_library() {
  local name=$1 dir
  loader_cache | awk -v name="$name" '$1 == name { print $NF }'
  for dir in ${LD_LIBRARY_PATH//:/ } /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/local/cuda/lib64; do
    if [ -e "$dir/$name" ]; then echo "$dir/$name"; fi
  done
}

# Every libcublas.so.N the machine has: the loader's folders, torch's pip wheels, a CUDA toolkit.
cublas_candidates() {
  loader_cache | awk '$1 ~ /^libcublas\.so\.[0-9]+$/ { print $NF }'
  python3 -c '
import glob, os, site
for root in site.getsitepackages() + [site.getusersitepackages()]:
    for pattern in ("nvidia/cublas/lib/libcublas.so.*", "torch/lib/libcublas.so.*"):
        print("\n".join(glob.glob(os.path.join(root, pattern))))
' 2>/dev/null || true
  ls /usr/local/cuda/lib64/libcublas.so.* 2>/dev/null || true
}

# ILGPU asks the loader for libcuda.so (the driver) and libcublas.so.12 (or .11); a machine with
# only libcuda.so.1 and torch's pip-installed cuBLAS needs both made findable.
prepare_libraries() {
  local lib_dir=$1
  mkdir -p "$lib_dir"
  if [ -z "$(find_library libcuda.so | head -n1)" ]; then
    local driver
    driver=$(find_library libcuda.so.1 | head -n1)
    if [ -n "$driver" ]; then
      ln -sf "$driver" "$lib_dir/libcuda.so"
      echo "libcuda.so -> $driver"
    else
      echo "warning: no libcuda.so.1 found; ILGPU will not find the CUDA driver" >&2
    fi
  fi

  local found cublas=""
  found=$(cublas_candidates | grep -E 'libcublas\.so\.[0-9]+$' || true)
  for version in 12 11; do
    if [ -z "$cublas" ]; then cublas=$(grep -E "libcublas\.so\.$version\$" <<<"$found" | head -n1 || true); fi
  done
  if [ -z "$cublas" ] && [ -n "$found" ]; then
    # ILGPU binds cuBLAS 10 to 12 by file name; the cublas*_v2 entry points it calls are kept in
    # later versions, so a newer one is offered under the name ILGPU asks for.
    cublas=$(head -n1 <<<"$found")
    ln -sf "$cublas" "$lib_dir/libcublas.so.12"
    echo "cuBLAS: offering $(basename "$cublas") as libcublas.so.12"
  fi
  if [ -n "$cublas" ]; then
    echo "cuBLAS: $cublas"
    export LD_LIBRARY_PATH="$(dirname "$cublas")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  else
    echo "cuBLAS: not found; the table will have no cuBLAS bound"
  fi
  export LD_LIBRARY_PATH="$lib_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

cmd_run() {
  local bundle=$bundle_dir out=${OUT:-$root/artifacts/gpu-check-results}
  local extra=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --bundle) bundle=$2; shift 2 ;;
      --out) out=$2; shift 2 ;;
      *) extra+=("$1"); shift ;;
    esac
  done
  [ -f "$bundle/$exe" ] || die "no bundle at $bundle: run ./build.sh gpu-bundle here first and carry artifacts/gpu-bundle."
  mkdir -p "$out"

  # The carried file may have lost its execute bit, and its folder may be read-only.
  local work
  work=$(mktemp -d)
  cp "$bundle/$exe" "$work/$exe"
  chmod +x "$work/$exe"
  export DOTNET_BUNDLE_EXTRACT_BASE_DIR="$work/extract"
  export NVIDIA_TF32_OVERRIDE=0

  local status=0
  {
    echo "== machine"
    if command -v nvidia-smi >/dev/null 2>&1; then
      nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
    else
      echo "nvidia-smi not available"
    fi
    prepare_libraries "$work/lib"

    echo "== torch peer"
    "$work/$exe" --plan "$out/torch-plan.json" --sizes gpu
    timeout "$torch_timeout" python3 "$bundle/torch_reference.py" "$out/torch-plan.json" --out "$out/torch.json" \
      --budget "$torch_budget" || echo "torch peer failed or timed out (exit $?); the table will have no torch columns"

    echo "== check"
    timeout "$check_timeout" "$work/$exe" --device cuda --sizes gpu --budget "$check_budget" --out "$out" \
      --torch "$out/torch.json" ${extra[@]+"${extra[@]}"} || status=$?
    echo "== check exit status $status (124: killed at ${check_timeout} s; the table holds the cases finished by then)"
    [ -f "$out/gpu-check.md" ] && cat "$out/gpu-check.md"
    exit "$status"
  } 2>&1 | tee "$out/gpu-check.log" || status=$?
  rm -rf "$work"
  echo "results: $out (gpu-check.md, gpu-check.json, gpu-check.log)"
  return "$status"
}

verb=${1:-help}
shift || true
case "$verb" in
  bundle) cmd_bundle "$@" ;;
  run) cmd_run "$@" ;;
  help | -h | --help) usage ;;
  *) usage >&2; exit 2 ;;
esac
