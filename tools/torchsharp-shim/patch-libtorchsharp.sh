#!/usr/bin/env bash
# Makes TorchSharp's libLibTorchSharp.so loadable where the system libstdc++ lacks
# GLIBCXX_3.4.32 (e.g. Debian 12). See shim.cpp for why. Usage: patch-libtorchsharp.sh <dir>
# Looks for <dir>/libLibTorchSharp.so (RID build) or <dir>/runtimes/linux-x64/native/ (no RID).
# Only touches the copy in <dir>, never the NuGet cache. Idempotent.
set -euo pipefail

NEEDED_VER=GLIBCXX_3.4.32
SYMBOL=_ZSt21ios_base_library_initv
SHIM=libiosinit_shim.so
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tag="torchsharp-shim:"

die() { echo "$tag error: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 <output-dir>"
[ -d "$1" ] || die "no such directory: $1"
dir=$(cd "$1" && pwd)

lib=""
for cand in "$dir/libLibTorchSharp.so" "$dir/runtimes/linux-x64/native/libLibTorchSharp.so"; do
  if [ -f "$cand" ]; then lib=$cand; break; fi
done
if [ -z "$lib" ]; then echo "$tag no libLibTorchSharp.so in $dir, nothing to do"; exit 0; fi
libdir=$(dirname "$lib")

# Does the library ask for the version at all? (grep -a: binary-safe, no binutils needed yet)
if ! grep -qaF "$NEEDED_VER" "$lib"; then
  echo "$tag $lib does not need $NEEDED_VER, nothing to do"; exit 0
fi

# Which libstdc++ would the loader use for it? Ask the loader (ldd), fall back to ldconfig.
stdcxx=$(ldd "$lib" 2>/dev/null | awk '$1 == "libstdc++.so.6" && $3 ~ /^\// {print $3; exit}' || true)
[ -n "$stdcxx" ] || stdcxx=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 / {print $NF; exit}' || true)
[ -n "$stdcxx" ] && [ -f "$stdcxx" ] || die "cannot locate the libstdc++.so.6 the loader would use"
if grep -qaF "$NEEDED_VER" "$stdcxx"; then
  echo "$tag $stdcxx has $NEEDED_VER, no patch needed"; exit 0
fi

# Serialise: parallel project builds may run this at the same time (apt, same output dir).
exec 9>"${TMPDIR:-/tmp}/torchsharp-shim.lock"
flock 9

# Tools: patchelf, g++ (shim), readelf (binutils). Install via apt-get if missing.
missing=()
command -v patchelf >/dev/null || missing+=(patchelf)
command -v g++ >/dev/null || missing+=(g++)
command -v readelf >/dev/null || missing+=(binutils)
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get; install them manually"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null && sudo="sudo -n" \
      || die "missing ${missing[*]}; not root and no passwordless sudo: run 'apt-get install -y ${missing[*]}'"
  fi
  echo "$tag installing ${missing[*]} via apt-get"
  { $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"; } >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi

# 1. Build the shim next to the library ($ORIGIN is in its runpath).
if [ ! -f "$libdir/$SHIM" ] || [ "$here/shim.cpp" -nt "$libdir/$SHIM" ]; then
  g++ -shared -fPIC -O2 -Wl,--as-needed -o "$libdir/$SHIM" "$here/shim.cpp" || die "compiling shim failed"
fi

# 2. Drop the symbol's version, depend on the shim, make sure $ORIGIN is searched.
changed=0
# (Outputs are captured first: `cmd | grep -q` can fail spuriously under pipefail.)
needed=$(patchelf --print-needed "$lib") || die "patchelf cannot read $lib"
if ! grep -qx "$SHIM" <<<"$needed"; then
  patchelf --clear-symbol-version "$SYMBOL" --add-needed "$SHIM" "$lib" || die "patchelf failed on $lib"
  changed=1
fi
rpath=$(patchelf --print-rpath "$lib") || die "patchelf cannot read $lib"
if ! tr ':' '\n' <<<"$rpath" | grep -qE '^\$ORIGIN/?$'; then
  patchelf --add-rpath '$ORIGIN' "$lib" || die "patchelf --add-rpath failed on $lib"
  changed=1
fi

# 3. The loader still rejects the library because its .gnu.version_r lists GLIBCXX_3.4.32 as
#    required. Mark that entry weak (VER_FLG_WEAK = 0x2 in vna_flags, at +4 of the Vernaux
#    entry), so a missing version is tolerated. Offsets come from readelf, after patchelf.
verinfo=$(readelf -W -V "$lib")
if ! grep -qE "Name: $NEEDED_VER +Flags: WEAK" <<<"$verinfo"; then
  sec=$(awk '/^Version needs section/ {getline; print $4; exit}' <<<"$verinfo")
  ent=$(awk -v v="$NEEDED_VER" '$2 == "Name:" && $3 == v {sub(":", "", $1); print $1; exit}' <<<"$verinfo")
  [[ "$sec" =~ ^0x[0-9a-fA-F]+$ && "$ent" =~ ^0x[0-9a-fA-F]+$ ]] || die "cannot find $NEEDED_VER in .gnu.version_r of $lib"
  off=$((sec + ent + 4))
  cur=$(od -An -tu1 -j "$off" -N1 "$lib" | tr -d ' ')
  printf "\\x$(printf %02x $((cur | 2)))" | dd of="$lib" bs=1 seek="$off" conv=notrunc status=none
  verinfo=$(readelf -W -V "$lib")
  grep -qE "Name: $NEEDED_VER +Flags: WEAK" <<<"$verinfo" || die "setting weak flag failed on $lib"
  changed=1
fi

if [ $changed -eq 1 ]; then
  echo "$tag patched $lib ($stdcxx lacks $NEEDED_VER)"
else
  echo "$tag $lib already patched"
fi
