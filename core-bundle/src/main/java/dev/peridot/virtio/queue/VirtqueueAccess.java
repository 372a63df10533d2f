package dev.peridot.virtio.queue;

import org.osgi.annotation.versioning.ProviderType;

/**
 * The device side of one virtqueue ('Virtqueue Access', VD01 §4.5): pop the chains the driver
 * made available, push them to the used ring with the number of bytes written, and let the
 * queue decide, from the driver's suppression settings, whether to notify the driver.
 *
 * <p>Every value read from guest memory is validated; driver-induced corruption never throws:
 * the queue stops, the device is put into DEVICE_NEEDS_RESET and {@link #pop()} returns
 * {@code null} until the device is reset.
 *
 * <p>Thread model: a queue is used only by its device's worker thread, which holds the device's
 * processing lock; no method allocates in steady state.
 */
@ProviderType
public interface VirtqueueAccess {

    /** The queue index. */
    int index();

    /** The queue size the driver configured. */
    int size();

    /**
     * The next available chain, or {@code null} if there is none, the queue has stopped, or the
     * chain was malformed (the device is then in DEVICE_NEEDS_RESET).
     */
    DescriptorChain pop();

    /** Whether {@link #pop()} would find a chain now. */
    boolean hasAvailable();

    /**
     * Puts {@code chain} into the used ring with {@code writtenLength} bytes written into its
     * writable part (spec 2.7.8: the length is clamped to the writable length). The driver sees
     * it only after {@link #flushUsed()}. A chain from before a reset of its queue is ignored.
     */
    void addUsed(DescriptorChain chain, int writtenLength);

    /**
     * Publishes the used entries added since the last flush (used idx, release order, spec
     * 2.7.13) and sends a used buffer notification if the driver asked for one (2.7.7.2,
     * including VIRTIO_F_EVENT_IDX with 16-bit wrap-around).
     *
     * @return whether the driver can see every entry added so far; false once the queue has
     *         stopped (a reset, a queue reset or DEVICE_NEEDS_RESET came first), in which case
     *         the entries were not published and a device should treat the data as not delivered
     */
    boolean flushUsed();

    /** {@link #addUsed} and {@link #flushUsed} of one chain; returns what {@link #flushUsed} returns. */
    default boolean push(DescriptorChain chain, int writtenLength) {
        addUsed(chain, writtenLength);
        return flushUsed();
    }

    /** The number of chains popped and not yet pushed. */
    int inFlight();

    /** Whether the queue has stopped because the driver corrupted it. */
    boolean isBroken();

    /**
     * Forgets the avail.idx the device read last, so that the next {@link #pop()} or
     * {@link #hasAvailable()} reads it from the ring again. For a device protocol in which the
     * driver takes back buffers the device has not popped while the device leaves the queue
     * alone: Linux's virtio_console does so when a port is unplugged (virtqueue_detach_unused_buf
     * moves avail.idx back), and the port's queues are used again when a port with the same id
     * comes back. Without this the device would pop ring entries the driver no longer owns.
     */
    void rereadAvailIndex();
}
