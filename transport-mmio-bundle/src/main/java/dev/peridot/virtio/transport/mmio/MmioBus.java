package dev.peridot.virtio.transport.mmio;

import dev.peridot.virtio.memory.GuestMemory;
import java.util.List;
import java.util.Optional;
import org.osgi.annotation.versioning.ProviderType;

/**
 * All MMIO slots of a machine and its guest RAM: a VMM dispatches a guest's MMIO exits by
 * address here. Slots without a device answer as placeholders (MagicValue, Version 2,
 * DeviceID 0; spec 4.2.2.2 / MMIO-38).
 */
@ProviderType
public interface MmioBus {

    /** Reads at a guest-physical address inside some slot's window; 0 (counted) elsewhere. */
    int read(long address, int width);

    /** Writes at a guest-physical address inside some slot's window; ignored elsewhere. */
    void write(long address, int width, int value);

    /** The guest RAM every device on the bus uses. */
    GuestMemory guestMemory();

    /** The slot layout. */
    MmioLayout layout();

    /** The window of slot {@code slot}, bound or not. */
    MmioDeviceAccess slot(int slot);

    /** The window of the device named {@code name}, if it is bound. */
    Optional<MmioDeviceAccess> device(String name);

    /** The windows that currently have a device, by slot. */
    List<MmioDeviceAccess> boundSlots();

    /** Accesses to addresses outside every window (ignored). */
    long strayAccesses();
}
