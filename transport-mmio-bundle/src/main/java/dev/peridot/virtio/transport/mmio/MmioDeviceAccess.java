package dev.peridot.virtio.transport.mmio;

import dev.peridot.virtio.memory.GuestMemory;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The register window of one MMIO slot, as a VMM, an emulator or a test driver reaches it. The
 * transport registers one per bound device, with the {@link MmioProperties}.
 *
 * <p>Never throws for anything the driver does: an invalid access (bad width or alignment, an
 * undefined offset, a write to a read-only or a read of a write-only register, a config access
 * beyond its size) reads 0 or is ignored, and is counted in {@link #statistics()}. After the
 * device has gone away the window reads as an empty slot (DeviceID 0).
 */
@ProviderType
public interface MmioDeviceAccess {

    /** Reads {@code width} (1, 2 or 4) bytes at {@code offset} in the window. */
    int read(int offset, int width);

    /** Writes {@code width} (1, 2 or 4) bytes at {@code offset} in the window. */
    void write(int offset, int width, int value);

    /** The guest memory the driver's rings and buffers must live in. */
    GuestMemory guestMemory();

    /** The slot number. */
    int slot();

    /** The guest-physical base address of the window. */
    long baseAddress();

    /** The size of the window in bytes. */
    int windowSize();

    /** The interrupt number of the slot. */
    int irq();

    /** The name of the bound device, or empty after it went away. */
    String deviceName();

    /** Whether a device is still bound to the window. */
    boolean isBound();

    /** Whether the interrupt line is asserted (InterruptStatus != 0, spec 4.2.3.4). */
    boolean interruptAsserted();

    /** Counters of accesses and interrupts. */
    MmioStatistics statistics();
}
