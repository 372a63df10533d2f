/**
 * Virtio over MMIO, version 2 (spec 4.2): the register map ({@link MmioRegisters}), the
 * per-device register access a VMM or a test driver uses ({@link MmioDeviceAccess}), the bus
 * that dispatches by address ({@link MmioBus}), the driver-notification whiteboard
 * ({@link DriverNotificationSink}), and {@link MmioMachine}, the same transport without OSGi.
 */
@Export
@Version("1.0.0")
package dev.peridot.virtio.transport.mmio;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
