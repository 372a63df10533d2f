package dev.peridot.virtio.memory;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Guest-physical memory as a device sees it. Every access is bounds-checked against the
 * regions; multi-byte values are little-endian (the non-legacy virtio byte order, spec 1.4).
 *
 * <p>Implementations are thread-safe for concurrent access; ordering between a device thread
 * and a driver is the business of the virtqueue code, which uses {@link #segment} and the
 * acquire/release accessors of {@link MemorySegment} for ring indices.
 */
public interface GuestMemory {

    /** The regions, sorted by guest address, not overlapping. */
    List<MemoryRegion> regions();

    /**
     * Whether {@code [address, address + length)} is backed by guest memory; a range may span
     * regions only where they are adjacent. A zero length is valid at any address inside a
     * region or at its end.
     */
    boolean isValid(long address, long length);

    /**
     * The host memory behind {@code [address, address + length)}, which must lie inside one
     * region. Used for structures the device reads repeatedly, such as rings.
     */
    MemorySegment segment(long address, long length) throws GuestMemoryException;

    byte readByte(long address) throws GuestMemoryException;

    short readShort(long address) throws GuestMemoryException;

    int readInt(long address) throws GuestMemoryException;

    long readLong(long address) throws GuestMemoryException;

    void writeByte(long address, byte value) throws GuestMemoryException;

    void writeShort(long address, short value) throws GuestMemoryException;

    void writeInt(long address, int value) throws GuestMemoryException;

    void writeLong(long address, long value) throws GuestMemoryException;

    /** Copies {@code length} bytes from guest memory into {@code dst[offset..]}. */
    void read(long address, byte[] dst, int offset, int length) throws GuestMemoryException;

    /** Copies {@code length} bytes from {@code src[offset..]} into guest memory. */
    void write(long address, byte[] src, int offset, int length) throws GuestMemoryException;

    /** Fills the remaining bytes of {@code dst} from guest memory and advances its position. */
    void read(long address, ByteBuffer dst) throws GuestMemoryException;

    /** Copies the remaining bytes of {@code src} into guest memory and advances its position. */
    void write(long address, ByteBuffer src) throws GuestMemoryException;

    /** Copies {@code length} bytes from guest memory into {@code dst} at {@code dstOffset}. */
    void read(long address, MemorySegment dst, long dstOffset, long length) throws GuestMemoryException;

    /** Copies {@code length} bytes from {@code src} at {@code srcOffset} into guest memory. */
    void write(long address, MemorySegment src, long srcOffset, long length) throws GuestMemoryException;

    /** The total number of bytes in all regions. */
    default long totalSize() {
        long total = 0;
        for (MemoryRegion r : regions()) {
            total += r.size();
        }
        return total;
    }
}
