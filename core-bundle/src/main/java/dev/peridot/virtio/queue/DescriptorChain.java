package dev.peridot.virtio.queue;

import java.nio.ByteBuffer;

/**
 * A buffer the driver made available: the device-readable segments followed by the
 * device-writable segments of one descriptor chain (spec 2.7.4, 2.7.5), already validated
 * against guest memory when it was popped. Zero-length descriptors are left out.
 *
 * <p>The copy methods address the readable part and the writable part each as one contiguous
 * byte range starting at offset 0. They return the number of bytes copied, which is less than
 * asked where the part ends, or -1 if guest memory failed (for example a region was unmapped);
 * the queue then reports the fault and the device goes to DEVICE_NEEDS_RESET.
 *
 * <p>A chain object belongs to its queue and is reused after it has been pushed: a device must
 * not keep a reference to it after {@link VirtqueueAccess#addUsed}.
 */
public interface DescriptorChain {

    /** The index of the chain's head descriptor: the id the used ring reports (2.7.8). */
    int head();

    /** The index of the queue the chain came from. */
    int queueIndex();

    /** Total bytes of the device-readable segments. */
    long readableLength();

    /** Total bytes of the device-writable segments. */
    long writableLength();

    /** The number of non-empty segments, readable first. */
    int segmentCount();

    /** The number of non-empty readable segments; segments from this index on are writable. */
    int readableSegmentCount();

    /** Guest address of segment {@code i}. */
    long segmentAddress(int i);

    /** Length of segment {@code i}. */
    int segmentLength(int i);

    /** Copies readable bytes from {@code offset} into {@code dst[dstOffset..dstOffset+length)}. */
    int read(long offset, byte[] dst, int dstOffset, int length);

    /** Copies readable bytes from {@code offset} into the remaining space of {@code dst}, advancing its position. */
    int read(long offset, ByteBuffer dst);

    /** Copies {@code src[srcOffset..srcOffset+length)} into the writable part at {@code offset}. */
    int write(long offset, byte[] src, int srcOffset, int length);

    /** Copies the remaining bytes of {@code src} into the writable part at {@code offset}, advancing its position. */
    int write(long offset, ByteBuffer src);
}
