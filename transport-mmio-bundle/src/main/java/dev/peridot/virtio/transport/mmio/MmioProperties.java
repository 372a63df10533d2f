package dev.peridot.virtio.transport.mmio;

/** Service properties of {@link MmioDeviceAccess} services, also used to target {@link DriverNotificationSink}s. */
public final class MmioProperties {

    /** The slot number, an Integer. */
    public static final String SLOT = "virtio.mmio.slot";
    /** The guest-physical base address of the window, a Long. */
    public static final String BASE = "virtio.mmio.base";
    /** The window size in bytes, an Integer. */
    public static final String SIZE = "virtio.mmio.size";
    /** The interrupt number, an Integer. */
    public static final String IRQ = "virtio.mmio.irq";
    /** The device ID, an Integer (same key as the device's own service). */
    public static final String DEVICE_ID = "virtio.device.id";
    /** The device name, a String (same key as the device's own service). */
    public static final String DEVICE_NAME = "virtio.device.name";

    private MmioProperties() {
    }
}
