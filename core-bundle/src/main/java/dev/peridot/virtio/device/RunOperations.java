package dev.peridot.virtio.device;

/**
 * 'Run Operations' (VD01 §4.2, {@code virtio_device_run_ops}): the driver's events as a
 * transport's 'Device Config Space' delivers them. Queue selection is register-file state of
 * the transport (MMIO QueueSel), so every queue event names its queue.
 *
 * <p>The driver is untrusted: every method validates its arguments and the device state, and
 * answers a bad request the spec's way (ignored, refused, or DEVICE_NEEDS_RESET). None of them
 * throws into the caller, blocks on a backend, or waits longer than a short bounded time.
 */
public interface RunOperations {

    /**
     * A write to the device status field. 0 resets the device; other values add status bits
     * when the transition is valid (see {@link DeviceState}).
     */
    void writeStatus(int value);

    /** The driver chose the size of a queue (MMIO QueueNum). */
    void setQueueSize(int queue, int size);

    /** The guest address of the queue's Descriptor Area (MMIO QueueDescLow/High). */
    void setQueueDescriptorArea(int queue, long address);

    /** The guest address of the queue's Driver Area (MMIO QueueDriverLow/High). */
    void setQueueDriverArea(int queue, long address);

    /** The guest address of the queue's Device Area (MMIO QueueDeviceLow/High). */
    void setQueueDeviceArea(int queue, long address);

    /**
     * Enables ({@code true}) or disables a queue (MMIO QueueReady). Enabling validates the
     * layout and is refused (the queue stays not ready) when it is invalid.
     */
    void setQueueReady(int queue, boolean ready);

    /** Resets one queue (spec 2.6.1, MMIO QueueReset=1); only with VIRTIO_F_RING_RESET. */
    void resetQueue(int queue);

    /** An available buffer notification for {@code queue} (MMIO QueueNotify). */
    void notifyQueue(int queue);

    /**
     * Reads {@code width} (1, 2 or 4) bytes of the device-specific configuration at
     * {@code offset}, little-endian; 0 outside the configuration space.
     */
    int readConfig(int offset, int width);

    /** Writes {@code width} bytes of the device-specific configuration at {@code offset}. */
    void writeConfig(int offset, int width, int value);

    /**
     * Sets where the device resumes reading the available ring of a disabled queue (vhost-user
     * SET_VRING_BASE). Transports without such a message never call it: queues start at 0.
     */
    void setQueueNextAvail(int queue, int nextAvail);

    /**
     * Stops a queue without resetting its ring position and returns the index of the next
     * available entry the device would read (vhost-user GET_VRING_BASE).
     */
    int stopQueue(int queue);
}
