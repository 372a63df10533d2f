#!/usr/bin/env bash
# Prepares the small Linux guest the vhost-user end-to-end test boots under QEMU:
#   * Debian's cloud kernel (its virtio drivers are modules): the linux-image-cloud-amd64
#     metapackage is resolved to the real linux-image-6.1.*-cloud-amd64 package;
#   * busybox-static as the guest's userland;
#   * an initramfs with busybox, the modules virtio_ring, virtio, virtio_mmio, virtio-rng (and
#     whatever they depend on per modules.dep, in load order) and scripts/guest/init.
# Packages come from the configured apt sources with `apt-get download` (no root needed) into
# the cache folder, which is git-ignored. Idempotent: downloads and extraction are skipped when
# their results exist; the initramfs is rebuilt each time (it takes about a second).
#
# Usage: scripts/guest/prepare-guest.sh [cache-dir]     (default: .cache/guest in the repository)
# Prints the paths of the kernel and initramfs as KERNEL=... and INITRD=... on its last lines.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${1:-${PERIDOT_GUEST_CACHE:-$repo/.cache/guest}}
mkdir -p "$cache/debs"
cache=$(cd "$cache" && pwd)

download() { # package name -> the .deb in $cache/debs
  local pkg=$1 deb
  deb=$(ls "$cache/debs/${pkg}"_*.deb 2>/dev/null | head -n 1 || true)
  if [ -z "$deb" ]; then
    (cd "$cache/debs" && apt-get download -q "$pkg" >&2)
    deb=$(ls "$cache/debs/${pkg}"_*.deb | head -n 1)
  fi
  echo "$deb"
}

meta=$(download linux-image-cloud-amd64)
kernel_pkg=$(dpkg-deb -f "$meta" Depends | tr ',|' '\n\n' | sed 's/(.*//; s/ //g' \
  | grep -E '^linux-image-[0-9].*-cloud-amd64$' | head -n 1)
[ -n "$kernel_pkg" ] || { echo "cannot find the kernel package in the Depends of $meta" >&2; exit 1; }
kernel_deb=$(download "$kernel_pkg")
busybox_deb=$(download busybox-static)
kver=${kernel_pkg#linux-image-}

root="$cache/kernel"
if [ ! -d "$root/lib/modules/$kver" ]; then
  rm -rf "$root"
  dpkg-deb -x "$kernel_deb" "$root"
fi
if [ ! -x "$cache/busybox/bin/busybox" ]; then
  rm -rf "$cache/busybox"
  dpkg-deb -x "$busybox_deb" "$cache/busybox"
fi
busybox="$cache/busybox/bin/busybox"
cp "$root/boot/vmlinuz-$kver" "$cache/vmlinuz"

moddir="$root/lib/modules/$kver"
[ -s "$moddir/modules.dep" ] || "$busybox" depmod -b "$root" "$kver"

# The wanted modules and their dependencies, dependencies first (modules.dep lists each module's
# dependencies, which are themselves listed in load order).
declare -A seen=()
order=()
add_module() { # path relative to $moddir
  local m=$1 deps d
  [ -n "${seen[$m]:-}" ] && return 0
  seen[$m]=1
  deps=$(grep -E "^${m}:" "$moddir/modules.dep" | cut -d: -f2 || true)
  for d in $deps; do add_module "$d"; done
  order+=("$m")
}
for name in virtio_ring virtio virtio_mmio virtio-rng; do
  path=$(cut -d: -f1 "$moddir/modules.dep" | grep -E "/${name}\.ko(\.xz|\.zst)?$" | head -n 1)
  [ -n "$path" ] || { echo "module $name not found in $moddir/modules.dep" >&2; exit 1; }
  add_module "$path"
done

staging="$cache/initramfs"
rm -rf "$staging"
mkdir -p "$staging"/{bin,dev,proc,sys,tmp,lib/modules}
cp "$busybox" "$staging/bin/busybox"
for applet in sh mount insmod cat dd sha256sum poweroff echo sleep usleep ls grep sed dmesg tr cut; do
  ln -s busybox "$staging/bin/$applet"
done
: > "$staging/modules.list"
for m in "${order[@]}"; do
  base=$(basename "$m")
  case "$base" in
    *.ko.xz) xz -dc "$moddir/$m" > "$staging/lib/modules/${base%.xz}"; base=${base%.xz} ;;
    *.ko.zst) zstd -qdc "$moddir/$m" > "$staging/lib/modules/${base%.zst}"; base=${base%.zst} ;;
    *) cp "$moddir/$m" "$staging/lib/modules/$base" ;;
  esac
  echo "$base" >> "$staging/modules.list"
done
cp "$here/init" "$staging/init"
chmod 755 "$staging/init"
(cd "$staging" && find . | LC_ALL=C sort | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -1 > "$cache/initrd.cpio.gz.tmp"
mv "$cache/initrd.cpio.gz.tmp" "$cache/initrd.cpio.gz"

echo "kernel package: $kernel_pkg; modules: $(tr '\n' ' ' < "$staging/modules.list")" >&2
echo "KERNEL=$cache/vmlinuz"
echo "INITRD=$cache/initrd.cpio.gz"
