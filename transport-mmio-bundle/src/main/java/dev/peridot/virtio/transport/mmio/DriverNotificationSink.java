package dev.peridot.virtio.transport.mmio;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A receiver of a device's interrupts (whiteboard pattern): a VMM's interrupt controller, a test
 * driver, a monitor. Register it as a service; the MMIO transport calls every sink whose
 * service properties match the slot: {@link MmioProperties#SLOT} (an Integer) or
 * {@link MmioProperties#DEVICE_NAME} (a String); a sink with neither receives every slot.
 *
 * <p>Level semantics (spec 4.2.3.4): the line is asserted while InterruptStatus is non-zero.
 * The sink is called when the level changes, on the thread that changed it (the device's worker
 * when raising, the driver's thread when acknowledging); it must return quickly and must not
 * block. Exceptions are logged and ignored.
 */
@ConsumerType
@FunctionalInterface
public interface DriverNotificationSink {

    /**
     * The interrupt line of a slot changed level.
     *
     * @param slot            the slot
     * @param irq             the slot's interrupt number
     * @param asserted        the new level
     * @param interruptStatus InterruptStatus at the change (bit 0 used buffer, bit 1 configuration change)
     */
    void interruptChanged(int slot, int irq, boolean asserted, int interruptStatus);
}
