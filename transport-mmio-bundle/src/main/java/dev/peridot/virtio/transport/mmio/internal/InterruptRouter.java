package dev.peridot.virtio.transport.mmio.internal;

/** Delivers interrupt level changes of a slot to the sinks that want them. Must not block. */
@FunctionalInterface
public interface InterruptRouter {

    void deliver(MmioDeviceConfigSpace source, int slot, int irq, boolean asserted, int interruptStatus);
}
