package dev.peridot.virtio.device;

/**
 * Service properties a device registers its operation services with, and transports filter on.
 */
public final class VirtioDeviceProperties {

    /** The device's name ({@link LifeCycleOperations#deviceName()}), a String. */
    public static final String DEVICE_NAME = "virtio.device.name";
    /** The device ID (spec 5), an Integer. */
    public static final String DEVICE_ID = "virtio.device.id";
    /**
     * Which transport should bind the device: {@code mmio} (the default when absent) or
     * {@code vhost-user}.
     */
    public static final String TRANSPORT = "virtio.transport";

    private VirtioDeviceProperties() {
    }
}
