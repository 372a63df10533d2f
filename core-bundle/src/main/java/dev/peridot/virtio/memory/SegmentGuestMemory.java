package dev.peridot.virtio.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * {@link GuestMemory} over {@link MemorySegment}s: off-heap memory allocated here, or segments
 * a transport maps (for example a vhost-user front-end's memory file descriptors).
 *
 * <p>A region whose segment has been closed (unmapped) answers every access with a
 * {@link GuestMemoryException}, never with an unchecked exception.
 */
public final class SegmentGuestMemory implements GuestMemory, AutoCloseable {

    static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final List<MemoryRegion> regions;
    private final long[] starts;
    private final long[] sizes;
    private final MemorySegment[] segments;
    private final Arena ownedArena;
    /** One region (the common case): the lookups below skip the loop. */
    private final boolean single;
    private final long start0;
    private final long size0;

    private SegmentGuestMemory(List<MemoryRegion> regions, Arena ownedArena) {
        List<MemoryRegion> sorted = new ArrayList<>(regions);
        sorted.sort(Comparator.comparingLong(MemoryRegion::guestAddress));
        for (int i = 1; i < sorted.size(); i++) {
            if (sorted.get(i).guestAddress() < sorted.get(i - 1).end()) {
                throw new IllegalArgumentException("guest memory regions overlap: " + sorted.get(i - 1) + " and " + sorted.get(i));
            }
        }
        if (sorted.isEmpty()) {
            throw new IllegalArgumentException("guest memory needs at least one region");
        }
        this.regions = List.copyOf(sorted);
        this.starts = new long[sorted.size()];
        this.sizes = new long[sorted.size()];
        this.segments = new MemorySegment[sorted.size()];
        for (int i = 0; i < sorted.size(); i++) {
            starts[i] = sorted.get(i).guestAddress();
            sizes[i] = sorted.get(i).size();
            segments[i] = sorted.get(i).segment();
        }
        this.ownedArena = ownedArena;
        this.single = starts.length == 1;
        this.start0 = starts[0];
        this.size0 = sizes[0];
    }

    /**
     * Allocates zeroed, page-aligned off-heap memory of {@code size} bytes at guest address
     * {@code guestAddress}. {@link #close()} frees it; accesses after that fail cleanly.
     */
    public static SegmentGuestMemory allocate(long guestAddress, long size) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment segment = arena.allocate(size, 4096);
            return new SegmentGuestMemory(List.of(new MemoryRegion(guestAddress, segment, "ram")), arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Guest memory over regions whose segments the caller owns (and closes). */
    public static SegmentGuestMemory of(List<MemoryRegion> regions) {
        return new SegmentGuestMemory(regions, null);
    }

    /** Frees the memory this instance allocated; does nothing for caller-owned segments. */
    @Override
    public void close() {
        if (ownedArena != null && ownedArena.scope().isAlive()) {
            ownedArena.close();
        }
    }

    @Override
    public List<MemoryRegion> regions() {
        return regions;
    }

    /** Index of the region holding {@code address}, or -1. */
    private int regionOf(long address) {
        if (single) {
            return address >= start0 && address - start0 < size0 ? 0 : -1;
        }
        long[] s = starts;
        for (int i = 0; i < s.length; i++) {
            long rel = address - s[i];
            if (address >= s[i] && rel < sizes[i]) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Region index for an access of {@code length} bytes that must lie inside one region.
     * Overflow-safe: {@code address - start} cannot overflow because both are non-negative.
     */
    private int regionFor(long address, long length) throws GuestMemoryException {
        if (length < 0) {
            throw new GuestMemoryException("negative length", address, length);
        }
        if (single) {
            if (address >= start0 && address - start0 <= size0 - length) {
                return 0;
            }
            throw new GuestMemoryException("outside guest memory", address, length);
        }
        long[] s = starts;
        for (int i = 0; i < s.length; i++) {
            if (address >= s[i] && address - s[i] <= sizes[i] - length) {
                return i;
            }
        }
        throw new GuestMemoryException("outside guest memory", address, length);
    }

    @Override
    public boolean isValid(long address, long length) {
        if (length < 0 || address < 0) {
            return false;
        }
        if (single) {
            return address >= start0 && address - start0 <= size0 - length;
        }
        if (length == 0) {
            for (int i = 0; i < starts.length; i++) {
                if (address >= starts[i] && address - starts[i] <= sizes[i]) {
                    return true;
                }
            }
            return false;
        }
        long cursor = address;
        long remaining = length;
        while (remaining > 0) {
            int r = regionOf(cursor);
            if (r < 0) {
                return false;
            }
            long available = sizes[r] - (cursor - starts[r]);
            if (available >= remaining) {
                return true;
            }
            remaining -= available;
            cursor += available;
        }
        return true;
    }

    @Override
    public MemorySegment segment(long address, long length) throws GuestMemoryException {
        int r = regionFor(address, length);
        try {
            return segments[r].asSlice(address - starts[r], length);
        } catch (IllegalStateException e) {
            throw new GuestMemoryException("guest memory region unmapped", address, length);
        }
    }

    @Override
    public byte readByte(long address) throws GuestMemoryException {
        int r = regionFor(address, 1);
        try {
            return segments[r].get(ValueLayout.JAVA_BYTE, address - starts[r]);
        } catch (IllegalStateException e) {
            throw unmapped(address, 1);
        }
    }

    @Override
    public short readShort(long address) throws GuestMemoryException {
        int r = regionFor(address, 2);
        try {
            return segments[r].get(LE_SHORT, address - starts[r]);
        } catch (IllegalStateException e) {
            throw unmapped(address, 2);
        }
    }

    @Override
    public int readInt(long address) throws GuestMemoryException {
        int r = regionFor(address, 4);
        try {
            return segments[r].get(LE_INT, address - starts[r]);
        } catch (IllegalStateException e) {
            throw unmapped(address, 4);
        }
    }

    @Override
    public long readLong(long address) throws GuestMemoryException {
        int r = regionFor(address, 8);
        try {
            return segments[r].get(LE_LONG, address - starts[r]);
        } catch (IllegalStateException e) {
            throw unmapped(address, 8);
        }
    }

    @Override
    public void writeByte(long address, byte value) throws GuestMemoryException {
        int r = regionFor(address, 1);
        try {
            segments[r].set(ValueLayout.JAVA_BYTE, address - starts[r], value);
        } catch (IllegalStateException e) {
            throw unmapped(address, 1);
        }
    }

    @Override
    public void writeShort(long address, short value) throws GuestMemoryException {
        int r = regionFor(address, 2);
        try {
            segments[r].set(LE_SHORT, address - starts[r], value);
        } catch (IllegalStateException e) {
            throw unmapped(address, 2);
        }
    }

    @Override
    public void writeInt(long address, int value) throws GuestMemoryException {
        int r = regionFor(address, 4);
        try {
            segments[r].set(LE_INT, address - starts[r], value);
        } catch (IllegalStateException e) {
            throw unmapped(address, 4);
        }
    }

    @Override
    public void writeLong(long address, long value) throws GuestMemoryException {
        int r = regionFor(address, 8);
        try {
            segments[r].set(LE_LONG, address - starts[r], value);
        } catch (IllegalStateException e) {
            throw unmapped(address, 8);
        }
    }

    @Override
    public void read(long address, byte[] dst, int offset, int length) throws GuestMemoryException {
        java.util.Objects.checkFromIndexSize(offset, length, dst.length);
        int r = length == 0 ? -1 : regionOf(address);
        if (r >= 0 && address - starts[r] <= sizes[r] - length) {
            // The common case, one region: copy straight into the array without a wrapper segment.
            try {
                MemorySegment.copy(segments[r], ValueLayout.JAVA_BYTE, address - starts[r], dst, offset, length);
            } catch (IllegalStateException e) {
                throw unmapped(address, length);
            }
            return;
        }
        copy(address, MemorySegment.ofArray(dst), offset, length, false);
    }

    @Override
    public void write(long address, byte[] src, int offset, int length) throws GuestMemoryException {
        java.util.Objects.checkFromIndexSize(offset, length, src.length);
        int r = length == 0 ? -1 : regionOf(address);
        if (r >= 0 && address - starts[r] <= sizes[r] - length) {
            try {
                MemorySegment.copy(src, offset, segments[r], ValueLayout.JAVA_BYTE, address - starts[r], length);
            } catch (IllegalStateException e) {
                throw unmapped(address, length);
            }
            return;
        }
        copy(address, MemorySegment.ofArray(src), offset, length, true);
    }

    @Override
    public void read(long address, ByteBuffer dst) throws GuestMemoryException {
        int length = dst.remaining();
        copy(address, MemorySegment.ofBuffer(dst), 0, length, false);
        dst.position(dst.position() + length);
    }

    @Override
    public void write(long address, ByteBuffer src) throws GuestMemoryException {
        int length = src.remaining();
        copy(address, MemorySegment.ofBuffer(src), 0, length, true);
        src.position(src.position() + length);
    }

    @Override
    public void read(long address, MemorySegment dst, long dstOffset, long length) throws GuestMemoryException {
        copy(address, dst, dstOffset, length, false);
    }

    @Override
    public void write(long address, MemorySegment src, long srcOffset, long length) throws GuestMemoryException {
        copy(address, src, srcOffset, length, true);
    }

    /**
     * Copies between guest memory and {@code host}, across adjacent regions if needed. The
     * whole range is checked before the first byte moves, so a refused access has no partial
     * effect (hostile-driver HD-23).
     */
    private void copy(long address, MemorySegment host, long hostOffset, long length, boolean toGuest)
            throws GuestMemoryException {
        if (length == 0) {
            return;
        }
        if (length < 0) {
            throw new GuestMemoryException("negative length", address, length);
        }
        int r = regionOf(address);
        if (r >= 0 && address - starts[r] <= sizes[r] - length) {
            copyWithin(r, address, host, hostOffset, length, toGuest);
            return;
        }
        if (!isValid(address, length)) {
            throw new GuestMemoryException("outside guest memory", address, length);
        }
        long cursor = address;
        long done = 0;
        while (done < length) {
            int region = regionOf(cursor);
            long chunk = Math.min(length - done, sizes[region] - (cursor - starts[region]));
            copyWithin(region, cursor, host, hostOffset + done, chunk, toGuest);
            cursor += chunk;
            done += chunk;
        }
    }

    private void copyWithin(int r, long address, MemorySegment host, long hostOffset, long length, boolean toGuest)
            throws GuestMemoryException {
        try {
            if (toGuest) {
                MemorySegment.copy(host, hostOffset, segments[r], address - starts[r], length);
            } else {
                MemorySegment.copy(segments[r], address - starts[r], host, hostOffset, length);
            }
        } catch (IllegalStateException e) {
            throw unmapped(address, length);
        }
    }

    private static GuestMemoryException unmapped(long address, long length) {
        return new GuestMemoryException("guest memory region unmapped", address, length);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("GuestMemory[");
        for (int i = 0; i < starts.length; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            sb.append(String.format("0x%x+0x%x", starts[i], sizes[i]));
        }
        return sb.append(']').toString();
    }
}
