/**
 * The driver test kit: a virtio driver written in Java that speaks to a device through its MMIO
 * register window ({@link dev.peridot.virtio.transport.mmio.MmioDeviceAccess}), so device
 * authors can test devices without a VM.
 *
 * <p>{@link VirtioMmioDriver} initializes a device exactly as Linux's virtio_mmio driver does
 * (the register sequence of the reference trace), negotiates features, sets up split queues in
 * guest memory ({@link DriverQueue}), receives interrupts as a
 * {@link dev.peridot.virtio.transport.mmio.DriverNotificationSink}, acknowledges them, harvests
 * used buffers, resets and rebinds. For hostile-driver tests it also pokes raw registers and
 * builds broken rings on request.
 */
@Export
@Version("1.0.0")
package dev.peridot.virtio.testkit;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
