package dev.peridot.virtio.memory;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One contiguous range of guest-physical memory and the host memory that backs it.
 *
 * @param guestAddress the guest-physical address of the first byte
 * @param segment      the host memory; its size is the size of the region
 * @param name         a label for logs and the shell
 */
public record MemoryRegion(long guestAddress, MemorySegment segment, String name) {

    public MemoryRegion {
        Objects.requireNonNull(segment, "segment");
        Objects.requireNonNull(name, "name");
        if (guestAddress < 0 || segment.byteSize() <= 0 || guestAddress > Long.MAX_VALUE - segment.byteSize()) {
            throw new IllegalArgumentException(String.format(
                    "region %s at 0x%x of %d bytes does not fit the address space", name, guestAddress, segment.byteSize()));
        }
    }

    /** The size in bytes. */
    public long size() {
        return segment.byteSize();
    }

    /** The first guest-physical address after the region. */
    public long end() {
        return guestAddress + segment.byteSize();
    }

    /** Whether {@code [address, address + length)} lies inside this region. */
    public boolean contains(long address, long length) {
        return address >= guestAddress && length >= 0 && address - guestAddress <= segment.byteSize() - length;
    }
}
