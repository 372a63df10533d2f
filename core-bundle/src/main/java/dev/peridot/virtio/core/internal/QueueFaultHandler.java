package dev.peridot.virtio.core.internal;

/** Receives the driver-induced corruption a queue detects; the device answers with DEVICE_NEEDS_RESET. */
@FunctionalInterface
public interface QueueFaultHandler {

    /** Queue {@code queue} found {@code problem}; it has stopped itself. */
    void queueFault(int queue, String problem);
}
