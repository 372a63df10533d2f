package dev.peridot.virtio.core.internal;

import dev.peridot.virtio.memory.GuestMemoryException;
import dev.peridot.virtio.queue.DescriptorChain;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * A validated descriptor chain of a split queue: private copies of every segment, taken once
 * when the chain was popped (no double fetch, hostile-driver HD-30). Reused by its queue.
 */
final class SplitDescriptorChain implements DescriptorChain {

    final SplitVirtqueue queue;
    int head;
    int epoch;
    private long[] addresses = new long[4];
    private long[] lengths = new long[4];
    private int count;
    private int readableCount;
    private long readableLength;
    private long writableLength;

    SplitDescriptorChain(SplitVirtqueue queue) {
        this.queue = queue;
    }

    void reset(int head, int epoch) {
        this.head = head;
        this.epoch = epoch;
        this.count = 0;
        this.readableCount = 0;
        this.readableLength = 0;
        this.writableLength = 0;
    }

    /** Whether the chain already has a writable segment (readable ones may no longer follow). */
    boolean hasWritable() {
        return writableLength > 0;
    }

    long totalLength() {
        return readableLength + writableLength;
    }

    void add(long address, long length, boolean writable) {
        if (count == addresses.length) {
            addresses = Arrays.copyOf(addresses, count * 2);
            lengths = Arrays.copyOf(lengths, count * 2);
        }
        addresses[count] = address;
        lengths[count] = length;
        count++;
        if (writable) {
            writableLength += length;
        } else {
            readableCount++;
            readableLength += length;
        }
    }

    @Override
    public int head() {
        return head;
    }

    @Override
    public int queueIndex() {
        return queue.index();
    }

    @Override
    public long readableLength() {
        return readableLength;
    }

    @Override
    public long writableLength() {
        return writableLength;
    }

    @Override
    public int segmentCount() {
        return count;
    }

    @Override
    public int readableSegmentCount() {
        return readableCount;
    }

    @Override
    public long segmentAddress(int i) {
        Objects.checkIndex(i, count);
        return addresses[i];
    }

    @Override
    public int segmentLength(int i) {
        Objects.checkIndex(i, count);
        return (int) Math.min(lengths[i], Integer.MAX_VALUE);
    }

    @Override
    public int read(long offset, byte[] dst, int dstOffset, int length) {
        Objects.checkFromIndexSize(dstOffset, length, dst.length);
        if (readableCount == 1 && offset >= 0 && offset < lengths[0]) {
            // The common case, one readable buffer: no segment walk.
            int n = (int) Math.min(lengths[0] - offset, length);
            try {
                queue.memory().read(addresses[0] + offset, dst, dstOffset, n);
            } catch (GuestMemoryException e) {
                queue.memoryFault(e);
                return -1;
            }
            return n;
        }
        return transfer(offset, dst, dstOffset, length, null, false);
    }

    @Override
    public int read(long offset, ByteBuffer dst) {
        if (dst.hasArray() && !dst.isReadOnly()) {
            int n = transfer(offset, dst.array(), dst.arrayOffset() + dst.position(), dst.remaining(), null, false);
            if (n > 0) {
                dst.position(dst.position() + n);
            }
            return n;
        }
        return transfer(offset, null, 0, dst.remaining(), dst, false);
    }

    @Override
    public int write(long offset, byte[] src, int srcOffset, int length) {
        Objects.checkFromIndexSize(srcOffset, length, src.length);
        return transfer(offset, src, srcOffset, length, null, true);
    }

    @Override
    public int write(long offset, ByteBuffer src) {
        if (src.hasArray()) {
            int n = transfer(offset, src.array(), src.arrayOffset() + src.position(), src.remaining(), null, true);
            if (n > 0) {
                src.position(src.position() + n);
            }
            return n;
        }
        return transfer(offset, null, 0, src.remaining(), src, true);
    }

    /**
     * Copies between the readable part ({@code toGuest} false) or the writable part and a host
     * array or buffer. Returns bytes copied, or -1 after reporting a memory fault.
     */
    private int transfer(long offset, byte[] array, int arrayOffset, int length, ByteBuffer buffer, boolean toGuest) {
        if (offset < 0) {
            throw new IllegalArgumentException("negative offset " + offset);
        }
        int first = toGuest ? readableCount : 0;
        int end = toGuest ? count : readableCount;
        long skip = offset;
        int done = 0;
        try {
            for (int i = first; i < end && done < length; i++) {
                long segLength = lengths[i];
                if (skip >= segLength) {
                    skip -= segLength;
                    continue;
                }
                int n = (int) Math.min(segLength - skip, length - done);
                long address = addresses[i] + skip;
                skip = 0;
                if (buffer == null) {
                    if (toGuest) {
                        queue.memory().write(address, array, arrayOffset + done, n);
                    } else {
                        queue.memory().read(address, array, arrayOffset + done, n);
                    }
                } else {
                    int limit = buffer.limit();
                    buffer.limit(buffer.position() + n);
                    try {
                        if (toGuest) {
                            queue.memory().write(address, buffer);
                        } else {
                            queue.memory().read(address, buffer);
                        }
                    } finally {
                        buffer.limit(limit);
                    }
                }
                done += n;
            }
        } catch (GuestMemoryException e) {
            queue.memoryFault(e);
            return -1;
        }
        return done;
    }

    @Override
    public String toString() {
        return "DescriptorChain[queue " + queue.index() + ", head " + head + ", readable " + readableLength
                + ", writable " + writableLength + "]";
    }
}
