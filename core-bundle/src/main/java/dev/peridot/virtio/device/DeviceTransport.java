package dev.peridot.virtio.device;

import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.memory.GuestMemory;

/**
 * What a transport gives a device when it binds it ({@link LifeCycleOperations#attach}): the
 * guest memory the driver's rings and buffers live in, the {@link NotifyDriver} callback, and
 * the device-independent features the transport can carry.
 */
public interface DeviceTransport {

    /** A short name of the transport, for example {@code mmio} or {@code vhost-user}. */
    String name();

    /** The guest memory; asked again each time a queue is enabled, so it may change between enables. */
    GuestMemory guestMemory();

    /** The callback the device notifies the driver through. */
    NotifyDriver notifyDriver();

    /**
     * The reserved feature bits (24-49) this transport supports; the device's offer is masked
     * with them. Device-type bits are never masked.
     */
    FeatureSet supportedFeatures();

    /**
     * Whether the driver side may configure and enable queues after DRIVER_OK without
     * VIRTIO_F_RING_RESET. MMIO says no (a driver sets queues up before DRIVER_OK, HD-08);
     * vhost-user says yes, because its front-end stops and restarts rings of a live device.
     */
    default boolean allowsQueueSetupWhileLive() {
        return false;
    }

    /**
     * The device finished a reset: the transport clears its interrupt state. Called before
     * Status reads 0 (spec 4.2.2.1: a reset clears InterruptStatus).
     */
    default void resetCompleted() {
    }
}
