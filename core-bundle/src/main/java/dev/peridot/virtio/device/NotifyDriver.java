package dev.peridot.virtio.device;

/**
 * 'Notify Driver' (VD01 §4.5): the callback through which a device notifies the driver (spec
 * 2.3). The transport implements it — MMIO sets InterruptStatus bits and asserts the interrupt
 * line, vhost-user signals the queue's call eventfd.
 *
 * <p>Called by 'Virtqueue Access' and by the device, on the device's worker thread; an
 * implementation must not block.
 */
public interface NotifyDriver {

    /** A used buffer notification for {@code queue}. */
    void usedBuffer(int queue);

    /** A configuration change notification (also sent after DEVICE_NEEDS_RESET, spec 2.1.2). */
    void configurationChanged();
}
