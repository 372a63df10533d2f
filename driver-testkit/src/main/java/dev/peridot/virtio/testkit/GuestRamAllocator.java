package dev.peridot.virtio.testkit;

import java.util.Map;
import java.util.TreeMap;

/**
 * A first-fit allocator over a range of guest RAM, for the driver's rings and buffers. Several
 * drivers on one machine share one allocator (or use disjoint ranges). Thread-safe.
 */
public final class GuestRamAllocator {

    private final long start;
    private final long end;
    /** Free ranges: start to end (exclusive), merged on free. */
    private final TreeMap<Long, Long> free = new TreeMap<>();
    /** Allocated blocks: start to end (exclusive). */
    private final TreeMap<Long, Long> allocated = new TreeMap<>();

    /** An allocator for {@code [start, start + size)}. */
    public GuestRamAllocator(long start, long size) {
        if (size <= 0 || start < 0) {
            throw new IllegalArgumentException("empty or negative range");
        }
        this.start = start;
        this.end = start + size;
        free.put(start, end);
    }

    /**
     * Allocates {@code size} bytes aligned to {@code align} (a power of 2).
     *
     * @throws IllegalStateException if no free range is large enough
     */
    public synchronized long allocate(long size, long align) {
        if (size <= 0 || align <= 0 || Long.bitCount(align) != 1) {
            throw new IllegalArgumentException("size " + size + ", align " + align);
        }
        for (Map.Entry<Long, Long> range : free.entrySet()) {
            long address = (range.getKey() + align - 1) & -align;
            if (address + size <= range.getValue()) {
                long rangeStart = range.getKey();
                long rangeEnd = range.getValue();
                free.remove(rangeStart);
                if (address > rangeStart) {
                    free.put(rangeStart, address);
                }
                if (address + size < rangeEnd) {
                    free.put(address + size, rangeEnd);
                }
                allocated.put(address, address + size);
                return address;
            }
        }
        throw new IllegalStateException("guest RAM exhausted: " + size + " bytes wanted, " + freeBytes() + " free");
    }

    /** Frees a block returned by {@link #allocate}. */
    public synchronized void free(long address) {
        Long blockEnd = allocated.remove(address);
        if (blockEnd == null) {
            throw new IllegalArgumentException(String.format("0x%x was not allocated", address));
        }
        long s = address;
        long e = blockEnd;
        Map.Entry<Long, Long> before = free.floorEntry(s);
        if (before != null && before.getValue() == s) {
            s = before.getKey();
            free.remove(before.getKey());
        }
        Long after = free.get(e);
        if (after != null) {
            free.remove(e);
            e = after;
        }
        free.put(s, e);
    }

    /** Bytes currently allocated. */
    public synchronized long allocatedBytes() {
        long total = 0;
        for (Map.Entry<Long, Long> block : allocated.entrySet()) {
            total += block.getValue() - block.getKey();
        }
        return total;
    }

    /** Bytes currently free. */
    public synchronized long freeBytes() {
        return (end - start) - allocatedBytes();
    }

    /** The first address of the range. */
    public long start() {
        return start;
    }

    /** The first address after the range. */
    public long end() {
        return end;
    }
}
